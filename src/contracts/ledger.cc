#include "polycloud/contracts/ledger.h"

#include <algorithm>

#include "polycloud/base/parse.h"
#include "polycloud/base/status.h"

namespace polycloud::contracts {
namespace {

constexpr int64_t kDay = 86400;

int64_t DayOf(Time t) {
  const int64_t s = t.unix_seconds();
  return s >= 0 ? s / kDay : (s - (kDay - 1)) / kDay;
}

// Day d is round(Σ raw[0..d]) − round(Σ raw[0..d−1]): rounded once per
// running sum, so no rounding error accumulates over the days.
std::vector<Money> RoundRunning(const std::vector<Raw>& days) {
  std::vector<Money> out;
  out.reserve(days.size());
  Raw running = 0;
  Money before;
  for (Raw raw : days) {
    running += raw;
    const Money through = RawToMoney(running);
    out.push_back(through - before);
    before = through;
  }
  return out;
}

Raw Overlap(Time a0, Time a1, Time b0, Time b1) {
  const Time lo = std::max(a0, b0), hi = std::min(a1, b1);
  return hi > lo ? static_cast<Raw>((hi - lo).seconds()) : 0;
}

}  // namespace

Money RawToMoney(Raw raw) {
  const Raw q = raw >= 0 ? (raw + 1800) / 3600 : -((-raw + 1800) / 3600);
  return Money::FromMicros(static_cast<int64_t>(q));
}

const char* CostModelName(CostModel model) {
  return model == CostModel::kContractAware ? "contract-aware" : "cheapest-price";
}

CommitmentLedger::CommitmentLedger(const world::World& world, Time start)
    : world_(world),
      start_(start),
      first_day_(DayOf(start)),
      days_(std::max<int64_t>(1, DayOf(world.end) - DayOf(start) + 1)),
      pool_raw_(world.pools.size(), 0),
      contracts_(world.contracts.size()),
      contract_days_(world.contracts.size(), std::vector<Raw>(days_, 0)),
      provider_days_(world.providers.size(), std::vector<Raw>(days_, 0)),
      usage_days_(world.contracts.size(), std::vector<Raw>(days_, 0)),
      usage_provider_days_(world.providers.size(), std::vector<Raw>(days_, 0)),
      job_micros_(world.jobs.size(), 0),
      service_micros_(world.services.size(), 0) {
  accounts_.reserve(world.pools.size());
  for (size_t p = 0; p < world.pools.size(); ++p) {
    const world::Pool& pool = world.pools[p];
    Account a;
    a.pool = static_cast<world::PoolIndex>(p);
    a.contract = pool.contract;
    a.provider = pool.provider;
    a.price = EffectivePrice(a.pool).micros();
    a.since = start;
    a.usage = pool.offer == world::kNone && pool.pricing != world::PricingKind::kReserved;
    accounts_.push_back(a);
  }
  account_raw_.assign(accounts_.size(), 0);
  for (size_t c = 0; c < contracts_.size(); ++c) {
    contracts_[c].since = start;
    contracts_[c].period_raw.assign(world.contracts[c].minimums.size(), 0);
  }
}

Money CommitmentLedger::EffectivePrice(world::PoolIndex pool) const {
  const world::Pool& p = world_.pools[pool];
  // A discount prices use; a reservation's price is its own negotiated price.
  if (p.contract == world::kNone || p.pricing == world::PricingKind::kReserved) {
    return p.price_per_gpu_hour;
  }
  const int64_t keep = 1000 - world_.contracts[p.contract].discount_milli;
  return Money::FromMicros(MulDivRound(p.price_per_gpu_hour.micros(), keep, 1000));
}

int32_t CommitmentLedger::AddAward(world::PoolIndex pool, Money price,
                                   world::ContractIndex contract, int64_t gpus, Time arrives,
                                   Time ends) {
  Account a;
  a.pool = pool;
  a.contract = contract;
  a.provider = world_.pools[pool].provider;
  a.price = price.micros();
  a.since = start_;
  a.award = true;
  a.term_gpus = gpus;
  a.term_from = arrives;
  a.term_until = ends;
  accounts_.push_back(a);
  account_raw_.push_back(0);
  return static_cast<int32_t>(accounts_.size() - 1);
}

void CommitmentLedger::AddDay(const Account& a, int64_t day, Raw raw) {
  int64_t d = day - first_day_;
  if (d < 0) d = 0;
  if (d >= days_) {  // a live owner billing past the world's end: the days grow
    days_ = d + 1;
    for (auto& days : contract_days_) days.resize(days_, 0);
    for (auto& days : provider_days_) days.resize(days_, 0);
    for (auto& days : usage_days_) days.resize(days_, 0);
    for (auto& days : usage_provider_days_) days.resize(days_, 0);
  }
  if (a.contract != world::kNone) {
    contract_days_[a.contract][d] += raw;
    if (a.usage) usage_days_[a.contract][d] += raw;
  } else {
    provider_days_[a.provider][d] += raw;
    if (a.usage) usage_provider_days_[a.provider][d] += raw;
  }
}

void CommitmentLedger::Flush(Account& a, Time now) {
  if (now <= a.since) return;
  if (a.billable != 0 && a.price != 0) {
    const int32_t id = static_cast<int32_t>(&a - accounts_.data());
    const Raw per_second = static_cast<Raw>(a.billable) * a.price;
    Time t = a.since;
    while (t < now) {
      const int64_t day = DayOf(t);
      const Time next = std::min(now, Time::FromUnixSeconds((day + 1) * kDay));
      const Raw raw = per_second * (next - t).seconds();
      account_raw_[id] += raw;
      pool_raw_[a.pool] += raw;
      AddDay(a, day, raw);
      t = next;
    }
  }
  a.since = now;
}

void CommitmentLedger::Advance(world::ContractIndex c, Time now) {
  ContractBook& b = contracts_[c];
  if (now <= b.since) return;
  const auto& mins = world_.contracts[c].minimums;
  if (b.rate != 0) {
    b.total += b.rate * (now - b.since).seconds();
    for (size_t k = b.period; k < mins.size() && mins[k].from < now; ++k) {
      b.period_raw[k] += b.rate * Overlap(b.since, now, mins[k].from, mins[k].until);
    }
  }
  while (b.period < mins.size() && mins[b.period].until <= now) ++b.period;
  b.since = now;
}

void CommitmentLedger::BeforeAmendment(world::ContractIndex c, Time now) {
  for (Account& a : accounts_) {
    if (a.contract == c) Flush(a, now);
  }
  Advance(c, now);
}

void CommitmentLedger::AfterAmendment(world::ContractIndex c, Time now) {
  ContractBook& b = contracts_[c];
  const auto& mins = world_.contracts[c].minimums;
  b.period_raw.resize(mins.size(), 0);  // periods not begun hold nothing yet
  b.period = std::min(b.period, mins.size());
  while (b.period < mins.size() && mins[b.period].until <= now) ++b.period;
  // The contract's own pools take the new discount; awards keep their price.
  for (size_t p = 0; p < world_.pools.size(); ++p) {
    Account& a = accounts_[p];
    if (a.contract != c) continue;
    const int64_t price = EffectivePrice(a.pool).micros();
    b.rate += static_cast<Raw>(a.billable) * (price - a.price);
    a.price = price;
  }
}

void CommitmentLedger::SetBillable(int32_t account, int64_t gpus, Time now) {
  Account& a = accounts_[account];
  if (a.billable == gpus) return;
  Flush(a, now);
  if (a.contract != world::kNone) {
    Advance(a.contract, now);
    contracts_[a.contract].rate += static_cast<Raw>(gpus - a.billable) * a.price;
  }
  a.billable = gpus;
}

void CommitmentLedger::AttributeJob(world::JobIndex job, world::PoolIndex pool,
                                    int64_t gpu_seconds) {
  // Jobs submitted at run time extend the registry past the world's.
  if (static_cast<size_t>(job) >= job_micros_.size()) job_micros_.resize(job + 1, 0);
  job_micros_[job] += MulDivRound(gpu_seconds, accounts_[pool].price, 3600);
}

void CommitmentLedger::AttributeService(world::ServiceIndex s, world::PoolIndex pool,
                                        int64_t gpu_seconds) {
  if (static_cast<size_t>(s) >= service_micros_.size()) service_micros_.resize(s + 1, 0);
  service_micros_[s] += MulDivRound(gpu_seconds, accounts_[pool].price, 3600);
}

Raw CommitmentLedger::Required(Money amount, Time from, Time until) const {
  const Raw full = static_cast<Raw>(amount.micros()) * 3600;
  if (from >= start_ || until <= from) return full;
  // The ledger has no record before its start: the part of the period before
  // it is taken to have met its share.
  const Raw covered = until > start_ ? (until - start_).seconds() : 0;
  return full * covered / (until - from).seconds();
}

Raw CommitmentLedger::SpentBy(world::ContractIndex c, size_t k, Time t) const {
  const ContractBook& b = contracts_[c];
  const auto& mins = world_.contracts[c].minimums;
  const Time later = std::max(t, b.since);
  if (k == mins.size()) return b.total + b.rate * (later - b.since).seconds();
  return b.period_raw[k] + b.rate * Overlap(b.since, later, mins[k].from, mins[k].until);
}

Money CommitmentLedger::ProjectedShortfall(world::ContractIndex c, Time now) const {
  const world::Contract& contract = world_.contracts[c];
  if (!contract.take_or_pay) return Money();
  const ContractBook& b = contracts_[c];
  Raw worst = 0;
  // The open minimum (or the next one, before the term starts).
  for (size_t k = b.period; k < contract.minimums.size(); ++k) {
    const world::CommitmentMinimum& m = contract.minimums[k];
    if (m.until <= now) continue;
    const Raw projected = SpentBy(c, k, now) + b.rate * Overlap(now, m.until, m.from, m.until);
    worst = std::max(worst, Required(m.spend, m.from, m.until) - projected);
    break;
  }
  if (contract.committed_spend > Money() && now < contract.end) {
    const Raw projected = SpentBy(c, contract.minimums.size(), now) +
                          b.rate * Overlap(now, contract.end, contract.start, contract.end);
    worst = std::max(worst,
                     Required(contract.committed_spend, contract.start, contract.end) - projected);
  }
  return RawToMoney(worst);
}

Money CommitmentLedger::MarginalPricePerGpuHour(world::PoolIndex pool, Time now,
                                                CostModel model) const {
  const world::Pool& p = world_.pools[pool];
  if (p.pricing == world::PricingKind::kReserved) return Money();  // prepaid, incl. procured
  if (model == CostModel::kCheapestPrice) return p.price_per_gpu_hour;
  const Money price = EffectivePrice(pool);
  if (p.contract != world::kNone && ProjectedShortfall(p.contract, now) > Money()) {
    return Money::FromMicros(price.micros() / 100);  // would be paid anyway as shortfall
  }
  return price;
}

Raw CommitmentLedger::Pending(const Account& a, Time now) const {
  if (now <= a.since || a.billable == 0 || a.price == 0) return 0;
  return static_cast<Raw>(a.billable) * a.price * (now - a.since).seconds();
}

Money CommitmentLedger::ContractSpendAt(world::ContractIndex c, Time now) const {
  return RawToMoney(SpentBy(c, world_.contracts[c].minimums.size(), now));
}

Money CommitmentLedger::PoolSpendAt(world::PoolIndex pool, Time now) const {
  Raw raw = pool_raw_[pool];
  for (const Account& a : accounts_) {
    if (a.pool == pool) raw += Pending(a, now);
  }
  return RawToMoney(raw);
}

void CommitmentLedger::Close(Time end) {
  for (Account& a : accounts_) Flush(a, end);
  for (size_t c = 0; c < contracts_.size(); ++c) Advance(static_cast<world::ContractIndex>(c), end);
}

Time CommitmentLedger::DayStart(int64_t day) const {
  return Time::FromUnixSeconds((first_day_ + day) * kDay);
}

Money CommitmentLedger::ContractDay(world::ContractIndex c, int64_t day) const {
  return RawToMoney(contract_days_[c][day]);
}

Money CommitmentLedger::ProviderDay(world::ProviderIndex p, int64_t day) const {
  return RawToMoney(provider_days_[p][day]);
}

std::vector<Money> CommitmentLedger::ContractDays(world::ContractIndex c) const {
  return RoundRunning(contract_days_[c]);
}

std::vector<Money> CommitmentLedger::ProviderDays(world::ProviderIndex p) const {
  return RoundRunning(provider_days_[p]);
}

Time CommitmentLedger::LifetimeEnd(Time end) const {
  Time last = end;
  for (const world::Contract& c : world_.contracts) last = std::max(last, c.end);
  for (const Account& a : accounts_) {
    if (a.award) last = std::max(last, a.term_until);
  }
  return last;
}

std::pair<Raw, int64_t> CommitmentLedger::UsageWindow(world::ContractIndex c,
                                                      world::ProviderIndex p, Time end) const {
  Time from = std::max(start_, Time::FromUnixSeconds((DayOf(end) - kProjectionDays) * kDay));
  if (c != world::kNone) from = std::max(from, world_.contracts[c].start);
  if (from >= end) return {0, 0};
  const std::vector<Raw>& days = c != world::kNone ? usage_days_[c] : usage_provider_days_[p];
  Raw raw = 0;
  const int64_t d0 = std::max<int64_t>(0, DayOf(from) - first_day_);
  const int64_t d1 = std::min<int64_t>(days_ - 1, DayOf(end) - first_day_);
  for (int64_t d = d0; d <= d1; ++d) raw += days[d];
  // Accounts not flushed since before `end` still owe their share of the window.
  for (const Account& a : accounts_) {
    if (!a.usage || a.contract != c || (c == world::kNone && a.provider != p)) continue;
    if (a.billable == 0 || a.price == 0) continue;
    raw += static_cast<Raw>(a.billable) * a.price * Overlap(a.since, end, from, end);
  }
  return {raw, (end - from).seconds()};
}

CommitmentLedger::ProjectedRaw CommitmentLedger::Project(world::ContractIndex c,
                                                         world::ProviderIndex p, Time end,
                                                         Time from, Time until) const {
  ProjectedRaw out;
  from = std::max(from, end);
  if (until <= from) return out;
  // The span in which the contract's pools bill (to the lifetime end without one).
  const Time force_from = c != world::kNone ? world_.contracts[c].start : Time::Min();
  const Time force_until = c != world::kNone ? world_.contracts[c].end : LifetimeEnd(end);
  const Raw usage_span = Overlap(from, until, force_from, force_until);
  if (usage_span > 0) {
    const auto [raw, secs] = UsageWindow(c, p, end);
    if (secs > 0) {
      out.usage_num = raw * usage_span;
      out.usage_den = secs;
    }
  }
  for (const Account& a : accounts_) {
    if (a.contract != c || (c == world::kNone && a.provider != p) || a.usage || a.price == 0) {
      continue;
    }
    if (a.award) {
      // Billing at `end` (arrived), or due to arrive later: held to its term's end.
      const Time held_from = a.billable > 0 ? end : std::max(end, a.term_from);
      const int64_t gpus = a.billable > 0 ? a.billable : a.term_gpus;
      out.procured +=
          static_cast<Raw>(gpus) * a.price * Overlap(from, until, held_from, a.term_until);
      continue;
    }
    const world::Pool& pool = world_.pools[a.pool];
    if (pool.offer != world::kNone || pool.pricing != world::PricingKind::kReserved) continue;
    const auto& points = pool.gpus.points();
    for (size_t k = 0; k < points.size(); ++k) {
      if (points[k].value == 0) continue;
      const Time next = k + 1 < points.size() ? points[k + 1].at : Time::Max();
      const Time lo = std::max(points[k].at, force_from), hi = std::min(next, force_until);
      out.reserved += static_cast<Raw>(points[k].value) * a.price * Overlap(from, until, lo, hi);
    }
  }
  return out;
}

std::vector<YearRow> CommitmentLedger::Years(world::ContractIndex c, world::ProviderIndex p,
                                             Time end, Time until,
                                             const std::vector<Raw>& days) const {
  auto year_of = [](Time t) {
    int64_t y;
    unsigned m, d;
    CivilFromDays(DayOf(t), y, m, d);
    return y;
  };
  auto year_start = [](int64_t y) { return Time::FromUnixSeconds(DaysFromCivil(y, 1, 1) * kDay); };
  const int64_t first = year_of(start_);
  const int64_t last = year_of(std::max(end, until) - Duration::Seconds(1));
  std::vector<YearRow> years;
  if (last < first) return years;
  years.resize(last - first + 1);
  for (int64_t y = first; y <= last; ++y) years[y - first].year = y;
  // In the run: the exact daily series, rounded per running sum.
  const std::vector<Money> rounded = RoundRunning(days);
  for (size_t d = 0; d < rounded.size(); ++d) {
    const int64_t y = year_of(DayStart(static_cast<int64_t>(d)));
    if (y >= first && y <= last) years[y - first].spent += rounded[d];
  }
  // After it: each kind rounded per running sum, so the years add up to the
  // kinds' totals (each rounded once).
  Raw usage = 0, usage_num = 0, reserved = 0, procured = 0;
  Money before_usage, before_reserved, before_procured;
  for (int64_t y = first; y <= last; ++y) {
    const ProjectedRaw r = Project(c, p, end, year_start(y), year_start(y + 1));
    usage_num += r.usage_num;
    usage = r.usage_den > 0 ? usage_num / r.usage_den : usage;
    reserved += r.reserved;
    procured += r.procured;
    const Money u = RawToMoney(usage), v = RawToMoney(reserved), w = RawToMoney(procured);
    years[y - first].projected = (u - before_usage) + (v - before_reserved) + (w - before_procured);
    before_usage = u;
    before_reserved = v;
    before_procured = w;
  }
  return years;
}

ProviderLedgerRow CommitmentLedger::SettleProvider(world::ProviderIndex p, Time end) const {
  ProviderLedgerRow row;
  row.provider = p;
  Raw spent = 0;
  for (Raw raw : provider_days_[p]) spent += raw;
  for (const Account& a : accounts_) {
    if (a.contract == world::kNone && a.provider == p) spent += Pending(a, end);
  }
  row.spent = RawToMoney(spent);
  const Time until = LifetimeEnd(end);
  const ProjectedRaw r = Project(world::kNone, p, end, end, until);
  row.projected_after = {RawToMoney(r.usage()), RawToMoney(r.reserved), RawToMoney(r.procured)};
  row.years = Years(world::kNone, p, end, until, provider_days_[p]);
  std::erase_if(row.years, [](const YearRow& y) {
    return y.spent == Money() && y.projected == Money() && y.shortfall == Money();
  });
  return row;
}

namespace {

// ExternalSpend in [from, until): the days read up to `end` whose start lies
// in the window, and the window's part after `end` at the mean of the last
// kProjectionDays days before `end` (rounded once).
Money ExternalIn(const ExternalSpend& external, Time end, Time from, Time until) {
  constexpr int64_t kDaySeconds = 86'400;
  int64_t read = 0;
  __int128 window = 0;  // micro-dollars, the trailing days
  const Time window_start = end - Duration::Seconds(kProjectionDays * kDaySeconds);
  for (const auto& [day, spend] : external.by_day) {
    const Time t = Time::FromUnixSeconds(day * kDaySeconds);
    if (t >= end) continue;
    if (t >= from && t < until) read += spend.micros();
    if (t >= window_start) window += spend.micros();
  }
  const Time after = std::max(from, end);
  if (until <= after) return Money::FromMicros(read);
  const __int128 seconds = (until - after).seconds();
  const __int128 span = kProjectionDays * kDaySeconds;
  return Money::FromMicros(read + static_cast<int64_t>((window * seconds + span / 2) / span));
}

}  // namespace

ContractLedgerRow CommitmentLedger::Settle(world::ContractIndex c, Time end,
                                           const ExternalSpend* external) const {
  const world::Contract& contract = world_.contracts[c];
  const ContractBook& b = contracts_[c];
  ContractLedgerRow row;
  row.contract = c;
  auto external_in = [&](Time from, Time until) {
    return external == nullptr ? Money() : ExternalIn(*external, end, from, until);
  };
  if (external != nullptr) {
    row.external_spent = external_in(Time::Min(), end);
    row.external_projected_after = external_in(end, contract.end);
  }
  row.spent = RawToMoney(SpentBy(c, contract.minimums.size(), end));
  row.rate_per_day = RawToMoney(b.rate * kDay);
  const ProjectedRaw after = Project(c, world::kNone, end, end, contract.end);
  row.projected_after = {RawToMoney(after.usage()), RawToMoney(after.reserved),
                         RawToMoney(after.procured)};
  auto projected_in = [&](Time from, Time until) {
    const ProjectedRaw r = Project(c, world::kNone, end, from, until);
    return r.usage() + r.reserved + r.procured;
  };
  auto book = [&](const ObligationRow& o) {
    if (!contract.take_or_pay) {
      row.shortfall_not_payable += o.shortfall;
    } else if (o.due_in_run) {
      row.shortfall_due += o.shortfall;
    } else {
      row.shortfall_projected += o.shortfall;
    }
    row.obligations.push_back(o);
  };
  Money paid;
  for (size_t k = 0; k < contract.minimums.size(); ++k) {
    const world::CommitmentMinimum& m = contract.minimums[k];
    ObligationRow o;
    o.from = m.from;
    o.until = m.until;
    o.required = RawToMoney(Required(m.spend, m.from, m.until));
    o.prorated = m.from < start_;
    const Raw spent = SpentBy(c, k, end);
    o.spent = RawToMoney(spent) + external_in(m.from, std::min(m.until, end));
    o.due_in_run = m.until <= end;
    o.projected = RawToMoney(spent + projected_in(m.from, m.until)) + external_in(m.from, m.until);
    if (o.required > o.projected) o.shortfall = o.required - o.projected;
    if (contract.take_or_pay) paid += o.shortfall;
    book(o);
  }
  if (contract.committed_spend > Money()) {
    ObligationRow o;
    o.term = true;
    o.from = contract.start;
    o.until = contract.end;
    o.required = RawToMoney(Required(contract.committed_spend, contract.start, contract.end));
    o.prorated = contract.start < start_;
    const Raw spent = SpentBy(c, contract.minimums.size(), end);
    o.spent = RawToMoney(spent) + external_in(contract.start, std::min(contract.end, end));
    o.due_in_run = contract.end <= end;
    o.projected = RawToMoney(spent + projected_in(contract.start, contract.end)) +
                  external_in(contract.start, contract.end);
    const Money counted = o.projected + paid;
    if (o.required > counted) o.shortfall = o.required - counted;
    book(o);
  }
  row.years = Years(c, world::kNone, end, contract.end, contract_days_[c]);
  if (contract.take_or_pay) {
    for (const ObligationRow& o : row.obligations) {
      int64_t y;
      unsigned m, d;
      CivilFromDays(DayOf(o.until - Duration::Seconds(1)), y, m, d);
      auto it = std::find_if(row.years.begin(), row.years.end(),
                             [&](const YearRow& r) { return r.year == y; });
      if (it == row.years.end()) {  // a period ending before the run's first year
        it = row.years.insert(
            std::lower_bound(row.years.begin(), row.years.end(), y,
                             [](const YearRow& r, int64_t v) { return r.year < v; }),
            YearRow{y, Money(), Money(), Money()});
      }
      it->shortfall += o.shortfall;
    }
  }
  std::erase_if(row.years, [](const YearRow& y) {
    return y.spent == Money() && y.projected == Money() && y.shortfall == Money();
  });
  return row;
}

}  // namespace polycloud::contracts
