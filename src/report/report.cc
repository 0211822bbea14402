#include "polycloud/report/report.h"

#include <algorithm>
#include <iomanip>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "polycloud/base/parse.h"
#include "render.h"

namespace polycloud::report {
namespace {

using scheduler::JobStatus;

std::string JoinAccelerators(const world::World& world,
                             const std::vector<world::AcceleratorIndex>& list) {
  if (list.empty()) return "any type";
  std::string out;
  for (auto a : list) out += (out.empty() ? "" : "|") + world.accelerators[a].name;
  return out;
}

}  // namespace

std::string CapacityClassLabel(const world::World& world, const scheduler::Scheduler& sched,
                               const scheduler::CapacityRequest& q) {
  const world::Job& example = sched.job_spec(sched.ShapeExample(q.shape));
  std::string label = example.workload_class;
  if (!example.model_family.empty()) label += "/" + example.model_family;
  return label + " gangs ≤" + std::to_string(q.gang_bucket) + " on " +
         JoinAccelerators(world, example.accelerators);
}

RequestRow RequestRowOf(const world::World& world, const scheduler::Scheduler& sched, int32_t i) {
  using Q = scheduler::CapacityRequest;
  const Q& q = sched.requests()[i];
  RequestRow row;
  row.id = "req-" + std::to_string(i + 1);
  row.capacity_class = CapacityClassLabel(world, sched, q);
  row.gpus = q.gpus;
  row.waiting_jobs = q.waiting_jobs;
  row.oldest_job = sched.job_spec(q.oldest_job).id;
  row.raised = q.raised;
  if (q.rofr_contract != world::kNone) {
    row.rofr_contract = world.contracts[q.rofr_contract].id;
    row.holder = world.providers[q.holder].id;
    row.window_closes = q.window_closes;
    row.answered = q.answered;
  }
  row.answer = q.answer == Q::Answer::kMatched    ? "matched"
               : q.answer == Q::Answer::kDeclined ? "declined"
               : q.answer == Q::Answer::kExpired  ? "expired"
                                                  : "";
  row.decline_reason = q.decline_reason;
  row.outcome = q.status == Q::Status::kAwaitingAnswer ? "awaiting answer"
                : q.status == Q::Status::kUnavailable  ? "unavailable"
                                                       : "awarded";
  if (q.offer >= 0) {
    row.pool = world.pools[q.pool].id;
    row.provider = world.providers[world.pools[q.pool].provider].id;
    row.via_rofr = q.via_rofr;
    row.awarded_gpus = q.awarded_gpus;
    row.price_per_gpu_hour = q.price_per_gpu_hour;
    row.awarded = q.awarded;
    row.arrives = q.arrives;
    row.ends = q.ends;
    row.arrived = q.status == Q::Status::kArrived || q.status == Q::Status::kEnded;
    row.spend = sched.ledger().AwardSpend(q.account);
  }
  return row;
}

namespace {

void Add(Usage& into, const Usage& u) {
  into.used_gpu_seconds += u.used_gpu_seconds;
  into.capacity_gpu_seconds += u.capacity_gpu_seconds;
  into.spend += u.spend;
}

}  // namespace

Percentiles ComputePercentiles(std::vector<int64_t>& v) {
  Percentiles p;
  p.count = static_cast<int64_t>(v.size());
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  auto rank = [&](int64_t q) {  // nearest rank, q in percent
    size_t k = static_cast<size_t>((q * static_cast<int64_t>(v.size()) + 99) / 100);
    return v[std::max<size_t>(k, 1) - 1];
  };
  p.p50 = rank(50);
  p.p90 = rank(90);
  p.p99 = rank(99);
  p.max = v.back();
  __int128 sum = 0;
  for (int64_t x : v) sum += x;
  p.mean = static_cast<int64_t>(sum / static_cast<__int128>(v.size()));
  return p;
}

namespace {

void AddYears(std::vector<contracts::YearRow>& into, const std::vector<contracts::YearRow>& rows) {
  for (const contracts::YearRow& y : rows) {
    auto it = std::lower_bound(into.begin(), into.end(), y.year,
                               [](const contracts::YearRow& r, int64_t v) { return r.year < v; });
    if (it == into.end() || it->year != y.year) {
      it = into.insert(it, contracts::YearRow{y.year, Money(), Money(), Money()});
    }
    it->spent += y.spent;
    it->projected += y.projected;
    it->shortfall += y.shortfall;
  }
}

void AddProjected(contracts::ProjectedSpend& into, const contracts::ProjectedSpend& p) {
  into.usage += p.usage;
  into.reserved += p.reserved;
  into.procured += p.procured;
}

}  // namespace

HorizonCost HorizonOf(const world::World& world, const scheduler::Scheduler& sched, Time end,
                      const std::vector<ContractRow>& contract_rows) {
  HorizonCost h;
  h.run_end = end;
  h.lifetime_end = sched.ledger().LifetimeEnd(end);
  for (const ContractRow& c : contract_rows) {
    h.in_run_spend += c.spent;
    h.in_run_shortfall += c.shortfall_due;
    h.after_shortfall += c.shortfall_projected;
    AddProjected(h.after_spend, c.projected_after);
    AddYears(h.years, c.years);
  }
  for (size_t p = 0; p < world.providers.size(); ++p) {
    const contracts::ProviderLedgerRow row =
        sched.ledger().SettleProvider(static_cast<world::ProviderIndex>(p), end);
    if (row.spent == Money() && row.projected_after.total() == Money()) continue;
    h.in_run_spend += row.spent;
    AddProjected(h.after_spend, row.projected_after);
    AddYears(h.years, row.years);
    h.uncontracted.push_back({world.providers[p].id, row.spent, row.projected_after, row.years});
  }
  h.in_run_total = h.in_run_spend + h.in_run_shortfall;
  h.after_total = h.after_spend.total() + h.after_shortfall;
  h.lifetime_total = h.in_run_total + h.after_total;
  return h;
}

CostComparison CostOf(const world::World& world, const scheduler::Scheduler& sched, Time end,
                      const std::string& policy) {
  CostComparison c;
  c.policy = policy;
  std::vector<ContractRow> rows;
  for (size_t k = 0; k < world.contracts.size(); ++k) {
    rows.push_back(ContractRowOf(world, sched, static_cast<world::ContractIndex>(k), end));
  }
  const HorizonCost h = HorizonOf(world, sched, end, rows);
  c.spend = h.in_run_spend;
  c.shortfall = h.in_run_shortfall + h.after_shortfall;
  c.total = c.spend + c.shortfall;
  c.in_run_total = h.in_run_total;
  c.projected_spend = h.after_spend.total();
  c.lifetime_total = h.lifetime_total;
  return c;
}

ContractRow ContractRowOf(const world::World& world, const scheduler::Scheduler& sched,
                          world::ContractIndex c, Time end) {
  const world::Contract& contract = world.contracts[c];
  const contracts::ContractLedgerRow settled = sched.ledger().Settle(c, end);
  ContractRow row;
  row.id = contract.id;
  row.provider = world.providers[contract.provider].id;
  row.start = contract.start;
  row.end = contract.end;
  row.committed = contract.committed_spend;
  const bool committed = contract.committed_spend > Money() || !contract.minimums.empty();
  row.kind = !committed ? "none" : contract.take_or_pay ? "take-or-pay" : "discount-only";
  row.discount_milli = contract.discount_milli;
  row.take_or_pay = contract.take_or_pay;
  row.spent = settled.spent;
  row.rate_per_day = settled.rate_per_day;
  row.shortfall_due = settled.shortfall_due;
  row.shortfall_projected = settled.shortfall_projected;
  row.shortfall_not_payable = settled.shortfall_not_payable;
  row.obligations = settled.obligations;
  row.projected_after = settled.projected_after;
  row.years = settled.years;
  row.lifetime_cost = row.spent + row.projected_after.total();
  if (contract.take_or_pay) row.lifetime_cost += row.shortfall_due + row.shortfall_projected;
  row.exclusivity_clauses = static_cast<int32_t>(contract.exclusivity.size());
  row.rofr_clauses = static_cast<int32_t>(contract.rofr.size());
  for (const scheduler::CapacityRequest& q : sched.requests()) {
    if (q.rofr_contract != c) continue;
    ++row.rofr_offers;
    row.rofr_matched += q.answer == scheduler::CapacityRequest::Answer::kMatched;
    row.rofr_declined += q.answer == scheduler::CapacityRequest::Answer::kDeclined;
    row.rofr_expired += q.answer == scheduler::CapacityRequest::Answer::kExpired;
  }
  return row;
}

Report Build(const world::World& world, const scheduler::Scheduler& sched, const sim::Audit& audit,
             const sim::RunStats& stats, const std::string& policy) {
  Report r;
  r.scenario = world.name;
  r.policy = policy;
  r.seed = world.seed;
  r.start = world.start;
  r.end = stats.end;
  r.events = stats.events;
  r.scheduler_events = stats.scheduler_events;
  r.placement_attempts = sched.placement_attempts();
  r.audit = audit.counts();
  r.violations = audit.violations();
  r.reoptimizations = sched.reoptimizations();
  r.reoptimizations_skipped = sched.reoptimizations_skipped();
  r.reoptimize_skip_reason = sched.reoptimize_skip_reason();
  const scheduler::RebalanceOptions& ro = sched.options().rebalance;
  r.rebalance.active =
      ro.enabled && sched.options().cost_model == contracts::CostModel::kContractAware;
  r.rebalance.horizon = ro.horizon;
  r.rebalance.min_saving = ro.min_saving;
  for (const scheduler::Scheduler::Move& m : sched.moves()) {
    ++r.rebalance.moves;
    r.rebalance.to_prepaid += m.price_to == Money();
    r.rebalance.estimated_saving += m.saving;
  }
  const placement::FleetState& fleet = sched.fleet();

  r.providers.resize(world.providers.size());
  for (size_t p = 0; p < world.providers.size(); ++p) r.providers[p].id = world.providers[p].id;
  r.sites.resize(world.sites.size());
  for (size_t s = 0; s < world.sites.size(); ++s) {
    const world::Site& site = world.sites[s];
    SiteRow& row = r.sites[s];
    row.id = site.id;
    row.provider = world.providers[site.provider].id;
    row.region = site.region;
    row.peak_power = fleet.site(static_cast<world::SiteIndex>(s)).peak;
    row.power_limited = site.power_limited;
    row.power_limit_at_end = fleet.site(static_cast<world::SiteIndex>(s)).capacity;
  }
  for (size_t p = 0; p < world.pools.size(); ++p) {
    const world::Pool& pool = world.pools[p];
    const placement::PoolState& s = fleet.pool(static_cast<world::PoolIndex>(p));
    PoolRow row;
    row.id = pool.id;
    row.site = world.sites[pool.site].id;
    row.provider = world.providers[pool.provider].id;
    row.accelerator = world.accelerators[pool.accelerator].name;
    row.pricing = world::PricingKindName(pool.pricing);
    row.contract = pool.contract != world::kNone ? world.contracts[pool.contract].id : "";
    row.usage.used_gpu_seconds = s.used_gpu_seconds;
    row.usage.capacity_gpu_seconds = s.capacity_gpu_seconds;
    row.usage.spend = sched.ledger().PoolSpend(static_cast<world::PoolIndex>(p));
    row.installed_at_end = s.installed;
    row.free_at_end = s.free();
    if (fleet.has_nodes())
      row.stranded_at_end = fleet.StrandedGpus(static_cast<world::PoolIndex>(p));
    row.price_per_gpu_hour = pool.price_per_gpu_hour;
    Add(r.providers[pool.provider].usage, row.usage);
    r.providers[pool.provider].gpus_at_end += s.installed;
    Add(r.sites[pool.site].usage, row.usage);
    Add(r.total, row.usage);
    r.pools.push_back(std::move(row));
  }

  r.total_cost = r.total.spend;
  for (size_t c = 0; c < world.contracts.size(); ++c) {
    ContractRow row = ContractRowOf(world, sched, static_cast<world::ContractIndex>(c), stats.end);
    r.shortfall_due += row.shortfall_due;
    r.total_shortfall += row.shortfall_due + row.shortfall_projected;
    r.contracts.push_back(std::move(row));
  }
  r.total_cost += r.total_shortfall;
  r.horizon = HorizonOf(world, sched, stats.end, r.contracts);
  const int64_t run_days = RunDays(sched.ledger(), stats.end);
  for (size_t c = 0; c < world.contracts.size(); ++c) {
    DailySpend d;
    d.first_day = sched.ledger().DayStart(0);
    for (const DaySpend& day :
         DaysOf(sched.ledger(), sched.ledger().ContractDays(static_cast<world::ContractIndex>(c)),
                run_days)) {
      d.cumulative.push_back(day.cumulative);
    }
    r.contract_days.push_back(std::move(d));
  }
  r.total_cost = r.horizon.in_run_spend + r.total_shortfall;
  r.comparison.push_back({policy, r.horizon.in_run_spend, r.total_shortfall, r.total_cost,
                          r.horizon.in_run_total, r.horizon.after_spend.total(),
                          r.horizon.lifetime_total});
  for (size_t i = 0; i < sched.requests().size(); ++i) {
    r.requests.push_back(RequestRowOf(world, sched, static_cast<int32_t>(i)));
  }

  // Jobs, grouped by workload class in order of first appearance, then "all".
  std::map<std::string, size_t> group_of;
  std::vector<std::vector<int64_t>> waits, completions;
  auto group = [&](const std::string& name) -> size_t {
    auto [it, inserted] = group_of.emplace(name, r.jobs.size());
    if (inserted) {
      r.jobs.push_back(JobGroupRow{});
      r.jobs.back().name = name;
      waits.emplace_back();
      completions.emplace_back();
    }
    return it->second;
  };
  // The scheduler's registry: the World's jobs, then those submitted at run
  // time (the live broker's).
  const auto job_count = static_cast<size_t>(sched.job_count());
  for (size_t j = 0; j < job_count; ++j)
    group(sched.job_spec(static_cast<world::JobIndex>(j)).workload_class);
  const size_t all = job_count == 0 ? 0 : group("all");
  const auto& states = sched.jobs();
  for (size_t j = 0; j < job_count; ++j) {
    const world::Job& job = sched.job_spec(static_cast<world::JobIndex>(j));
    const scheduler::JobState& s = states[j];
    for (size_t g : {group(job.workload_class), all}) {
      JobGroupRow& row = r.jobs[g];
      ++row.total;
      switch (s.status) {
        case JobStatus::kDone:
          ++row.completed;
          completions[g].push_back((s.end - job.arrival).seconds());
          break;
        case JobStatus::kRunning:
          ++row.running;
          break;
        case JobStatus::kQueued:
          ++row.queued;
          break;
        case JobStatus::kNotArrived:
          ++row.not_arrived;
          break;
        case JobStatus::kCancelled:  // only by command (serve); a simulated World has none
          break;
      }
      if (s.first_start != Time::Min()) waits[g].push_back((s.first_start - job.arrival).seconds());
      row.preemptions += s.preemptions;
      row.interruptions += s.interruptions;
      row.lost_work_gpu_seconds += s.lost_work;
      row.gpu_seconds += s.gpu_seconds;
      if (__builtin_popcount(static_cast<unsigned>(s.providers_used_mask)) > 1)
        ++row.moved_provider;
    }
  }
  for (size_t g = 0; g < r.jobs.size(); ++g) {
    r.jobs[g].queue_wait = ComputePercentiles(waits[g]);
    r.jobs[g].completion = ComputePercentiles(completions[g]);
  }

  const auto& failovers_to = audit.failovers_to_provider();
  for (size_t s = 0; s < world.services.size(); ++s) {
    const world::Service& svc = world.services[s];
    const scheduler::ServiceState& st = sched.services()[s];
    ServiceRow row;
    row.id = svc.id;
    row.model = svc.model;
    row.workload_class = svc.workload_class;
    row.demand_token_seconds = st.demand_token_seconds;
    row.served_token_seconds = st.served_token_seconds;
    row.served_milli = st.demand_token_seconds > 0
                           ? MulDivRound(st.served_token_seconds, 1000, st.demand_token_seconds)
                           : 1000;
    if (st.demand_token_seconds > 0 && row.served_milli == 1000 &&
        st.served_token_seconds < st.demand_token_seconds) {
      row.served_milli = 999;  // never round a shortfall up to 100%
    }
    row.short_seconds = st.short_seconds;
    row.peak_replicas = st.peak_replicas;
    row.replicas_at_end = static_cast<int32_t>(st.replicas.size());
    row.replicas_lost = st.replicas_lost;
    row.replaced = st.replaced;
    row.failovers = st.failovers;
    for (const scheduler::Scheduler::Move& m : sched.moves())
      row.moves += m.service == static_cast<world::ServiceIndex>(s);
    for (size_t p = 0; p < world.providers.size(); ++p) {
      if (st.per_provider[p] > 0)
        row.replicas_by_provider_at_end.emplace_back(world.providers[p].id, st.per_provider[p]);
      if (failovers_to[s][p] > 0)
        row.failovers_by_provider.emplace_back(world.providers[p].id, failovers_to[s][p]);
    }
    r.services.push_back(std::move(row));
  }

  for (const world::Fault& f : world.faults) {
    FaultRow row;
    row.id = f.id;
    row.kind = world::FaultKindName(f.kind);
    row.target_kind = world::FaultTargetKindName(f.target_kind);
    switch (f.target_kind) {
      case world::FaultTargetKind::kProvider:
        row.target = world.providers[f.target].id;
        break;
      case world::FaultTargetKind::kSite:
        row.target = world.sites[f.target].id;
        break;
      case world::FaultTargetKind::kPool:
        row.target = world.pools[f.target].id;
        break;
    }
    row.start = f.start;
    row.end = f.end;
    row.cut_milli = f.cut_milli;
    r.faults.push_back(std::move(row));
  }
  return r;
}

namespace {

std::string GpuHours(int64_t gpu_seconds) {
  // Thousands separators for readability.
  std::string digits = std::to_string((gpu_seconds + 1800) / 3600);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string Dur(int64_t s) { return FormatDuration(Duration::Seconds(s)); }

}  // namespace

namespace {

std::string YearsLabel(const HorizonCost& h) {
  return "in the run = to " + FormatTime(h.run_end) + "; lifetime = to " +
         FormatTime(h.lifetime_end) + ", the end of the latest term";
}

// Cost by horizon, by contract and by year: each total the sum of the
// figures beside it (docs/report.md).
void WriteHorizon(const Report& r, std::ostream& out) {
  const HorizonCost& h = r.horizon;
  out << "\nCost by horizon (" << YearsLabel(h) << ")\n";
  Table t({"", "in the run", "after the run (projected)", "lifetime"});
  t.Row({"spend", FormatMoneyShort(h.in_run_spend), FormatMoneyShort(h.after_spend.total()),
         FormatMoneyShort(h.in_run_spend + h.after_spend.total())});
  t.Row({"  on-demand and spot (after: mean of the last " +
             std::to_string(contracts::kProjectionDays) + " days)",
         "", FormatMoneyShort(h.after_spend.usage), ""});
  t.Row({"  reserved (after: installed per schedule)", "", FormatMoneyShort(h.after_spend.reserved),
         ""});
  t.Row({"  procured (after: awards to their ends)", "", FormatMoneyShort(h.after_spend.procured),
         ""});
  t.Row({"take-or-pay shortfall", FormatMoneyShort(h.in_run_shortfall),
         FormatMoneyShort(h.after_shortfall),
         FormatMoneyShort(h.in_run_shortfall + h.after_shortfall)});
  t.Row({"total", FormatMoneyShort(h.in_run_total), FormatMoneyShort(h.after_total),
         FormatMoneyShort(h.lifetime_total)});
  t.Print(out);
  out << "  total = spend + take-or-pay shortfall; lifetime = in the run + after the run\n";
  if (!r.contracts.empty() || !h.uncontracted.empty()) {
    out << "\nLifetime cost by contract (spend to the term's end; without a contract, to "
        << FormatTime(h.lifetime_end) << ")\n";
    Table c({"contract", "term ends", "spent (run)", "projected after", "shortfall (run)",
             "shortfall after", "lifetime", "committed"});
    for (const ContractRow& k : r.contracts) {
      const bool paid = k.take_or_pay;
      c.Row({k.id, FormatTime(k.end), FormatMoneyShort(k.spent),
             FormatMoneyShort(k.projected_after.total()),
             paid ? FormatMoneyShort(k.shortfall_due) : "-",
             paid ? FormatMoneyShort(k.shortfall_projected) : "-",
             FormatMoneyShort(k.lifetime_cost),
             k.committed > Money() ? FormatMoneyShort(k.committed) : "-"});
    }
    for (const UncontractedRow& u : h.uncontracted) {
      const Money total = u.spent + u.projected_after.total();
      c.Row({"(no contract) " + u.provider, "-", FormatMoneyShort(u.spent),
             FormatMoneyShort(u.projected_after.total()), "-", "-", FormatMoneyShort(total), "-"});
    }
    c.Row({"total", FormatTime(h.lifetime_end), FormatMoneyShort(h.in_run_spend),
           FormatMoneyShort(h.after_spend.total()), FormatMoneyShort(h.in_run_shortfall),
           FormatMoneyShort(h.after_shortfall), FormatMoneyShort(h.lifetime_total), ""});
    c.Print(out);
  }
  if (!h.years.empty()) {
    out << "\nLifetime cost by year (shortfall: take-or-pay, in the year its period ends)\n";
    Table y({"year", "spent (run)", "projected", "shortfall", "total"});
    for (const contracts::YearRow& row : h.years) {
      y.Row({std::to_string(row.year), FormatMoneyShort(row.spent), FormatMoneyShort(row.projected),
             FormatMoneyShort(row.shortfall),
             FormatMoneyShort(row.spent + row.projected + row.shortfall)});
    }
    y.Row({"total", FormatMoneyShort(h.in_run_spend), FormatMoneyShort(h.after_spend.total()),
           FormatMoneyShort(h.in_run_shortfall + h.after_shortfall),
           FormatMoneyShort(h.lifetime_total)});
    y.Print(out);
  }
}

}  // namespace

void WriteText(const Report& r, std::ostream& out) {
  out << "polycloud simulate: " << r.scenario << "  (" << FormatTime(r.start) << " to "
      << FormatTime(r.end) << ", policy " << r.policy << ", seed " << r.seed << ")\n";
  out << "  " << r.events << " simulator events, " << r.scheduler_events << " scheduler events, "
      << r.placement_attempts << " placement decisions\n\n";

  if (!r.inputs.empty()) {
    out << "Inputs\n";
    Table inputs({"format", "path", "rows", "used", "left out", "bad rows skipped", "added"});
    for (const InputRow& i : r.inputs) {
      inputs.Row({i.format, i.path, std::to_string(i.records), std::to_string(i.accepted),
                  std::to_string(i.filtered), std::to_string(i.bad_rows), i.added});
    }
    inputs.Print(out);
    for (const InputRow& i : r.inputs) {
      if (i.bad_rows == 0) continue;
      out << "  " << i.path << ": " << i.bad_rows << " bad row" << (i.bad_rows == 1 ? "" : "s")
          << " skipped; first:\n";
      for (const std::string& m : i.bad_row_messages) out << "    " << m << "\n";
    }
    out << "\n";
  }

  if (!r.overrides.empty()) {
    out << "Overrides (a what-if variant of the scenario; docs/whatif.md)\n";
    for (const std::string& o : r.overrides) out << "  " << o << "\n";
    out << "\n";
  }

  out << "Providers\n";
  Table providers({"provider", "GPUs at end", "GPU-hours used", "utilisation", "spend"});
  for (const ProviderRow& p : r.providers) {
    providers.Row({p.id, std::to_string(p.gpus_at_end), GpuHours(p.usage.used_gpu_seconds),
                   Pct(p.usage.utilisation_milli()), FormatMoneyShort(p.usage.spend)});
  }
  providers.Row({"total", "", GpuHours(r.total.used_gpu_seconds), Pct(r.total.utilisation_milli()),
                 FormatMoneyShort(r.total.spend)});
  providers.Print(out);

  out << "\nSites\n";
  Table sites(
      {"site", "provider", "GPU-hours used", "utilisation", "peak power", "power limit at end"});
  for (const SiteRow& s : r.sites) {
    sites.Row({s.id, s.provider, GpuHours(s.usage.used_gpu_seconds),
               Pct(s.usage.utilisation_milli()), FormatPower(s.peak_power),
               s.power_limited ? FormatPower(s.power_limit_at_end) : "unlimited"});
  }
  sites.Print(out);

  out << "\nPools\n";
  Table pools({"pool", "type", "pricing", "$/GPU-h", "GPUs at end", "GPU-hours used", "utilisation",
               "spend"});
  for (const PoolRow& p : r.pools) {
    pools.Row({p.id, p.accelerator, p.pricing, FormatMoney(p.price_per_gpu_hour),
               std::to_string(p.installed_at_end), GpuHours(p.usage.used_gpu_seconds),
               Pct(p.usage.utilisation_milli()), FormatMoneyShort(p.usage.spend)});
  }
  pools.Print(out);

  if (!r.contracts.empty()) {
    out << "\nContracts\n";
    Table contracts({"contract", "provider", "term", "commitment", "committed", "spent (run)",
                     "rate/day at end", "shortfall due", "shortfall projected", "ROFR offers"});
    for (const ContractRow& c : r.contracts) {
      contracts.Row({c.id, c.provider, FormatTime(c.start) + " to " + FormatTime(c.end),
                     CommitmentLabel(c), FormatMoneyShort(c.committed), FormatMoneyShort(c.spent),
                     FormatMoneyShort(c.rate_per_day), FormatMoneyShort(c.shortfall_due),
                     FormatMoneyShort(c.shortfall_projected),
                     c.rofr_clauses == 0 ? "-"
                                         : std::to_string(c.rofr_offers) + " (" +
                                               std::to_string(c.rofr_matched) + " matched)"});
    }
    contracts.Print(out);
    bool any_obligation = false;
    for (const ContractRow& c : r.contracts) any_obligation |= !c.obligations.empty();
    if (any_obligation) {
      out << "\nCommitments (minimums and terms; after the run's end, projected: reserved per "
             "schedule, awards to their ends, on-demand at the last "
          << contracts::kProjectionDays << " days' mean)\n";
      WriteObligations(r.contracts, out);
    }
  }
  if (!r.requests.empty()) {
    out << "\nProcurement (capacity requests)\n";
    Table requests({"request", "raised", "class", "GPUs asked", "first refusal", "answer",
                    "awarded to", "GPUs", "via", "$/GPU-h", "arrives", "spend (run)"});
    for (const RequestRow& q : r.requests) {
      requests.Row({q.id, FormatTime(q.raised), q.capacity_class, std::to_string(q.gpus),
                    q.holder.empty() ? "-" : q.holder + " (" + q.rofr_contract + ")",
                    q.answer.empty() ? "-" : q.answer, q.provider.empty() ? q.outcome : q.provider,
                    q.provider.empty() ? "" : std::to_string(q.awarded_gpus),
                    q.provider.empty() ? ""
                    : q.via_rofr       ? "rofr"
                                       : "market",
                    q.provider.empty() ? "" : FormatMoney(q.price_per_gpu_hour),
                    q.provider.empty() ? "" : FormatTime(q.arrives), FormatMoneyShort(q.spend)});
    }
    requests.Print(out);
    for (const RequestRow& q : r.requests) {
      if (!q.decline_reason.empty())
        out << "  " << q.id << " declined by " << q.holder << ": " << q.decline_reason << "\n";
    }
  }
  WriteHorizon(r, out);
  if (r.comparison.size() > 1) {
    out << "\nCost by policy (same scenario and seed)\n";
    Table cmp({"policy", "spend (run)", "total (run)", "spend after (projected)",
               "take-or-pay shortfall (lifetime)", "total (lifetime)", "vs this run (lifetime)"});
    for (const CostComparison& c : r.comparison) {
      const Money diff = c.lifetime_total - r.comparison.front().lifetime_total;
      cmp.Row({c.policy, FormatMoneyShort(c.spend), FormatMoneyShort(c.in_run_total),
               FormatMoneyShort(c.projected_spend), FormatMoneyShort(c.shortfall),
               FormatMoneyShort(c.lifetime_total),
               &c == &r.comparison.front() ? "-"
               : diff >= Money()           ? "+" + FormatMoneyShort(diff)
                                           : "-" + FormatMoneyShort(Money() - diff)});
    }
    cmp.Print(out);
  }

  if (!r.jobs.empty()) {
    out << "\nJobs\n";
    Table jobs({"class", "jobs", "done", "running", "queued", "wait p50", "wait p90", "wait p99",
                "JCT p50", "JCT p90", "JCT p99", "preempted", "interrupted", "moved"});
    for (const JobGroupRow& g : r.jobs) {
      jobs.Row({g.name, std::to_string(g.total), std::to_string(g.completed),
                std::to_string(g.running), std::to_string(g.queued + g.not_arrived),
                Dur(g.queue_wait.p50), Dur(g.queue_wait.p90), Dur(g.queue_wait.p99),
                Dur(g.completion.p50), Dur(g.completion.p90), Dur(g.completion.p99),
                std::to_string(g.preemptions), std::to_string(g.interruptions),
                std::to_string(g.moved_provider)});
    }
    jobs.Print(out);
  }

  if (!r.services.empty()) {
    out << "\nServices\n";
    Table services({"service", "class", "demand served", "short for", "peak replicas", "lost",
                    "replaced", "failovers", "failed over to", "replicas at end"});
    for (const ServiceRow& s : r.services) {
      std::string to, at_end;
      for (const auto& [p, n] : s.failovers_by_provider)
        to += (to.empty() ? "" : " ") + p + ":" + std::to_string(n);
      for (const auto& [p, n] : s.replicas_by_provider_at_end) {
        at_end += (at_end.empty() ? "" : " ") + p + ":" + std::to_string(n);
      }
      services.Row({s.id, s.workload_class, Pct(s.served_milli), Dur(s.short_seconds),
                    std::to_string(s.peak_replicas), std::to_string(s.replicas_lost),
                    std::to_string(s.replaced), std::to_string(s.failovers), to.empty() ? "-" : to,
                    at_end.empty() ? "-" : at_end});
    }
    services.Print(out);
    if (r.rebalance.moves > 0) {
      int64_t days = r.rebalance.horizon.seconds() / 86400;
      std::string per = days * 86400 == r.rebalance.horizon.seconds()
                            ? std::to_string(days) + " day" + (days == 1 ? "" : "s")
                            : FormatDuration(r.rebalance.horizon);
      out << "  Rebalance: " << r.rebalance.moves << " replica move"
          << (r.rebalance.moves == 1 ? "" : "s") << " to cheaper capacity ("
          << r.rebalance.to_prepaid << " to prepaid), each saving at least "
          << FormatMoneyShort(r.rebalance.min_saving) << " over " << per << "; "
          << FormatMoneyShort(r.rebalance.estimated_saving) << " in all over those horizons";
      for (const ServiceRow& s : r.services) {
        if (s.moves > 0) out << "; " << s.id << ": " << s.moves;
      }
      out << "\n";
    }
  }

  if (!r.faults.empty()) {
    out << "\nFaults\n";
    Table faults({"fault", "kind", "target", "from", "to"});
    for (const FaultRow& f : r.faults) {
      std::string kind = f.kind == "capacity_cut" ? "capacity cut " + Pct(f.cut_milli) : f.kind;
      faults.Row(
          {f.id, kind, f.target_kind + " " + f.target, FormatTime(f.start), FormatTime(f.end)});
    }
    faults.Print(out);
  }

  out << "\nCompliance (counted from the event log)\n";
  out << "  exclusivity violations: " << r.audit.exclusivity_violations << "\n";
  out << "  placements via an outage exception: " << r.audit.exclusivity_exceptions << "\n";
  for (const std::string& v : r.violations) out << "  VIOLATION " << v << "\n";
  out << "  job starts " << r.audit.job_starts << ", preemptions " << r.audit.preemptions
      << ", interruptions " << r.audit.interruptions << " (lost "
      << GpuHours(r.audit.lost_work_gpu_seconds) << " reference GPU-hours)"
      << ", replicas lost " << r.audit.replicas_lost << ", failovers " << r.audit.failovers << "\n";
  if (r.reoptimizations_skipped > 0) {
    out << "\nRe-optimisation: " << r.reoptimizations_skipped << " of " << r.reoptimizations
        << " passes skipped; last: " << r.reoptimize_skip_reason << "\n";
  }
}

namespace {

Json UsageJson(const Usage& u) {
  return Json{{"used_gpu_hours", u.used_gpu_seconds / 3600},
              {"used_gpu_seconds", u.used_gpu_seconds},
              {"capacity_gpu_seconds", u.capacity_gpu_seconds},
              {"utilisation", u.utilisation_milli() / 1000.0},
              {"spend", MoneyJson(u.spend)}};
}

Json HorizonJson(const HorizonCost& h) {
  Json uncontracted = Json::array();
  for (const UncontractedRow& u : h.uncontracted) {
    uncontracted.push_back({{"provider", u.provider},
                            {"spent", MoneyJson(u.spent)},
                            {"projected_after", ProjectedJson(u.projected_after)},
                            {"lifetime", MoneyJson(u.spent + u.projected_after.total())},
                            {"years", YearsJson(u.years)}});
  }
  return Json{{"run_end", FormatTimeFull(h.run_end)},
              {"lifetime_end", FormatTimeFull(h.lifetime_end)},
              {"projection_days", contracts::kProjectionDays},
              {"in_run",
               {{"spend", MoneyJson(h.in_run_spend)},
                {"take_or_pay_shortfall", MoneyJson(h.in_run_shortfall)},
                {"total", MoneyJson(h.in_run_total)}}},
              {"after_run",
               {{"spend", ProjectedJson(h.after_spend)},
                {"take_or_pay_shortfall", MoneyJson(h.after_shortfall)},
                {"total", MoneyJson(h.after_total)}}},
              {"lifetime",
               {{"spend", MoneyJson(h.in_run_spend + h.after_spend.total())},
                {"take_or_pay_shortfall", MoneyJson(h.in_run_shortfall + h.after_shortfall)},
                {"total", MoneyJson(h.lifetime_total)}}},
              {"by_year", YearsJson(h.years)},
              {"uncontracted", std::move(uncontracted)}};
}

Json PercentilesJson(const Percentiles& p) {
  return Json{{"count", p.count}, {"p50_s", p.p50}, {"p90_s", p.p90},
              {"p99_s", p.p99},   {"max_s", p.max}, {"mean_s", p.mean}};
}

}  // namespace

Json ReportJson(const Report& r) {
  Json j;
  j["schema"] = "polycloud.report/1";
  j["scenario"] = r.scenario;
  j["policy"] = r.policy;
  j["seed"] = r.seed;
  j["start"] = FormatTimeFull(r.start);
  j["end"] = FormatTimeFull(r.end);
  j["events"] = {{"simulator", r.events},
                 {"scheduler", r.scheduler_events},
                 {"placement_decisions", r.placement_attempts}};
  j["total"] = UsageJson(r.total);
  j["cost"] = {{"spend", MoneyJson(r.total.spend)},
               {"take_or_pay_shortfall", MoneyJson(r.total_shortfall)},
               {"take_or_pay_shortfall_due_in_run", MoneyJson(r.shortfall_due)},
               {"total", MoneyJson(r.total_cost)}};
  j["horizon"] = HorizonJson(r.horizon);
  Json& cmp = j["cost_by_policy"] = Json::array();
  for (const CostComparison& c : r.comparison) {
    cmp.push_back({{"policy", c.policy},
                   {"spend", MoneyJson(c.spend)},
                   {"take_or_pay_shortfall", MoneyJson(c.shortfall)},
                   {"total", MoneyJson(c.total)},
                   {"in_run_total", MoneyJson(c.in_run_total)},
                   {"projected_spend", MoneyJson(c.projected_spend)},
                   {"lifetime_total", MoneyJson(c.lifetime_total)}});
  }
  Json& providers = j["providers"] = Json::array();
  for (const ProviderRow& p : r.providers) {
    Json x = UsageJson(p.usage);
    x["id"] = p.id;
    x["gpus_at_end"] = p.gpus_at_end;
    providers.push_back(std::move(x));
  }
  Json& sites = j["sites"] = Json::array();
  for (const SiteRow& s : r.sites) {
    Json x = {{"id", s.id}, {"provider", s.provider}, {"region", s.region}};
    x.update(UsageJson(s.usage));
    x["peak_power_watts"] = s.peak_power.watts();
    x["power_limit_at_end_watts"] =
        s.power_limited ? Json(s.power_limit_at_end.watts()) : Json(nullptr);
    sites.push_back(std::move(x));
  }
  Json& pools = j["pools"] = Json::array();
  for (const PoolRow& p : r.pools) {
    Json x = {{"id", p.id},
              {"site", p.site},
              {"provider", p.provider},
              {"accelerator", p.accelerator},
              {"pricing", p.pricing},
              {"contract", p.contract.empty() ? Json(nullptr) : Json(p.contract)},
              {"price_per_gpu_hour", MoneyJson(p.price_per_gpu_hour)},
              {"gpus_at_end", p.installed_at_end},
              {"free_gpus_at_end", p.free_at_end}};
    if (p.stranded_at_end >= 0) x["stranded_gpus_at_end"] = p.stranded_at_end;
    x.update(UsageJson(p.usage));
    pools.push_back(std::move(x));
  }
  Json& contracts = j["contracts"] = Json::array();
  for (const ContractRow& c : r.contracts) {
    Json obligations = Json::array();
    for (const contracts::ObligationRow& o : c.obligations)
      obligations.push_back(ObligationJson(o));
    Json x = ContractTermsJson(c);
    x["obligations"] = std::move(obligations);
    x["exclusivity_clauses"] = c.exclusivity_clauses;
    x["rofr"] = {{"clauses", c.rofr_clauses},
                 {"offers", c.rofr_offers},
                 {"matched", c.rofr_matched},
                 {"declined", c.rofr_declined},
                 {"expired", c.rofr_expired}};
    const size_t k = contracts.size();
    if (k < r.contract_days.size()) {
      const DailySpend& days = r.contract_days[k];
      Json micros = Json::array();
      for (Money m : days.cumulative) micros.push_back(m.micros());
      x["cumulative_spend_by_day"] = {{"first_day", FormatTime(days.first_day)},
                                      {"micros", std::move(micros)}};
    }
    contracts.push_back(std::move(x));
  }
  Json& requests = j["capacity_requests"] = Json::array();
  for (const RequestRow& q : r.requests) requests.push_back(RequestJson(q));
  Json& jobs = j["jobs"] = Json::array();
  for (const JobGroupRow& g : r.jobs) {
    jobs.push_back({{"class", g.name},
                    {"total", g.total},
                    {"completed", g.completed},
                    {"running", g.running},
                    {"queued", g.queued},
                    {"not_arrived", g.not_arrived},
                    {"queue_wait", PercentilesJson(g.queue_wait)},
                    {"completion_time", PercentilesJson(g.completion)},
                    {"preemptions", g.preemptions},
                    {"interruptions", g.interruptions},
                    {"lost_work_gpu_seconds", g.lost_work_gpu_seconds},
                    {"moved_provider", g.moved_provider},
                    {"gpu_seconds", g.gpu_seconds}});
  }
  Json& services = j["services"] = Json::array();
  for (const ServiceRow& s : r.services) {
    Json at_end = Json::object(), to = Json::object();
    for (const auto& [p, n] : s.replicas_by_provider_at_end) at_end[p] = n;
    for (const auto& [p, n] : s.failovers_by_provider) to[p] = n;
    services.push_back({{"id", s.id},
                        {"model", s.model},
                        {"class", s.workload_class},
                        {"demand_served", s.served_milli / 1000.0},
                        {"demand_token_seconds", s.demand_token_seconds},
                        {"served_token_seconds", s.served_token_seconds},
                        {"short_seconds", s.short_seconds},
                        {"peak_replicas", s.peak_replicas},
                        {"replicas_at_end", s.replicas_at_end},
                        {"replicas_lost", s.replicas_lost},
                        {"replaced", s.replaced},
                        {"failovers", s.failovers},
                        {"moves", s.moves},
                        {"failovers_by_provider", to},
                        {"replicas_by_provider_at_end", at_end}});
  }
  Json& faults = j["faults"] = Json::array();
  for (const FaultRow& f : r.faults) {
    faults.push_back({{"id", f.id},
                      {"kind", f.kind},
                      {"target_kind", f.target_kind},
                      {"target", f.target},
                      {"start", FormatTimeFull(f.start)},
                      {"end", FormatTimeFull(f.end)},
                      {"fraction", f.cut_milli / 1000.0}});
  }
  j["compliance"] = {{"exclusivity_violations", r.audit.exclusivity_violations},
                     {"exclusivity_exceptions", r.audit.exclusivity_exceptions},
                     {"violations", r.violations},
                     {"job_starts", r.audit.job_starts},
                     {"job_finishes", r.audit.job_finishes},
                     {"preemptions", r.audit.preemptions},
                     {"interruptions", r.audit.interruptions},
                     {"lost_work_gpu_seconds", r.audit.lost_work_gpu_seconds},
                     {"replica_starts", r.audit.replica_starts},
                     {"replicas_lost", r.audit.replicas_lost},
                     {"failovers", r.audit.failovers},
                     {"faults", r.audit.faults}};
  j["rebalance"] = {{"active", r.rebalance.active},
                    {"moves", r.rebalance.moves},
                    {"to_prepaid", r.rebalance.to_prepaid},
                    {"estimated_saving_usd", MoneyJson(r.rebalance.estimated_saving)},
                    {"horizon_seconds", r.rebalance.horizon.seconds()},
                    {"min_saving_usd", MoneyJson(r.rebalance.min_saving)}};
  j["reoptimization"] = {{"passes", r.reoptimizations},
                         {"skipped", r.reoptimizations_skipped},
                         {"last_skip_reason", r.reoptimize_skip_reason}};
  Json& inputs = j["inputs"] = Json::array();
  for (const InputRow& i : r.inputs) {
    inputs.push_back({{"format", i.format},
                      {"path", i.path},
                      {"records", i.records},
                      {"accepted", i.accepted},
                      {"filtered", i.filtered},
                      {"bad_rows", i.bad_rows},
                      {"bad_row_messages", i.bad_row_messages},
                      {"added", i.added}});
  }
  j["overrides"] = r.overrides;
  if (r.timeseries) j["timeseries"] = TimeSeriesJson(*r.timeseries);
  if (r.workloads) j["workloads"] = WorkloadsJson(*r.workloads);
  return j;
}

void WriteJson(const Report& r, std::ostream& out) {
  WritePretty(ReportJson(r), out);
  out << '\n';
}

}  // namespace polycloud::report
