// Tenant quotas: GPUs in use (charged at a start, released at a stop) and
// spend per UTC calendar month (docs/scenario.md, "tenants").
//
// Spend is counted as an encumbrance, the way a finance team commits a budget
// when it signs a purchase order rather than when the invoice arrives: a run
// that starts commits its expected cost in every month it will run in at once,
// at its pool's effective price (the price after its contract's discount, the
// figure the report bills the job); a run that stops early gives back what it
// did not use, one that runs late (a site's report) adds what it used past its
// expected end. A start is admitted only when, in each month its run reaches,
// what is committed there plus the run's own share fits the limit, so work
// admitted as expected never takes any month past its budget. When a month
// begins, its book opens with the running jobs' shares of it.
#include <algorithm>
#include <optional>

#include "polycloud/base/parse.h"
#include "polycloud/scheduler/scheduler.h"
#include "polycloud/world/magnitudes.h"

namespace polycloud::scheduler {

using world::JobIndex;
using world::PoolIndex;
using world::TenantIndex;

namespace {

constexpr int64_t kSecondsPerDay = 86400;
// Raw spend is milli-GPU-seconds × micro-dollars per GPU-hour.
constexpr int64_t kRawPerMicro = 3600 * 1000;
// Months a start looks ahead at most: the magnitude model's whole span.
constexpr int kSpendMonthsAhead = 1201;

Money RawMoney(SpendRaw raw) {
  const bool negative = raw < 0;
  const SpendRaw magnitude = negative ? -raw : raw;
  SpendRaw micros = (magnitude + kRawPerMicro / 2) / kRawPerMicro;  // half away from zero
  micros = std::min<SpendRaw>(micros, world::kMaxMoneyMicros);
  return Money::FromMicros(static_cast<int64_t>(negative ? -micros : micros));
}

std::string Dollars(SpendRaw raw) { return "$" + FormatMoney(RawMoney(raw)); }
std::string Dollars(Money m) { return "$" + FormatMoney(m); }

}  // namespace

SpendMonth SpendMonthOf(Time t) {
  const int64_t s = t.unix_seconds();
  const int64_t days = s >= 0 ? s / kSecondsPerDay : -((-s + kSecondsPerDay - 1) / kSecondsPerDay);
  int64_t y = 0;
  unsigned m = 0, d = 0;
  CivilFromDays(days, y, m, d);
  SpendMonth month;
  month.year = y;
  month.month = m;
  month.start = Time::FromUnixSeconds(DaysFromCivil(y, m, 1) * kSecondsPerDay);
  month.end = Time::FromUnixSeconds(DaysFromCivil(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1) *
                                    kSecondsPerDay);
  return month;
}

std::string SpendMonth::Label() const {
  std::string mm = std::to_string(month);
  if (mm.size() < 2) mm = "0" + mm;
  return std::to_string(year) + "-" + mm;
}

void Scheduler::ChargeTenant(JobIndex j, int64_t gpus) {
  const world::Job& job = job_spec(j);
  if (job.tenant == world::kNone) return;
  tenant_gpus_[job.tenant] += gpus;
  const auto& limits = world_.tenants[job.tenant].class_max_gpus;
  for (size_t i = 0; i < limits.size(); ++i) {
    if (limits[i].first == job.workload_class) tenant_class_gpus_[job.tenant][i] += gpus;
  }
}

bool Scheduler::OverQuota(JobIndex j) const {
  const world::Job& job = job_spec(j);
  if (job.tenant == world::kNone) return false;
  const world::Tenant& t = world_.tenants[job.tenant];
  if (t.max_gpus > 0 && tenant_gpus_[job.tenant] + job.gpus > t.max_gpus) return true;
  for (size_t i = 0; i < t.class_max_gpus.size(); ++i) {
    const auto& [cls, limit] = t.class_max_gpus[i];
    if (cls == job.workload_class && limit > 0 &&
        tenant_class_gpus_[job.tenant][i] + job.gpus > limit) {
      return true;
    }
  }
  return false;
}

std::string Scheduler::QuotaHold(JobIndex j) const {
  if (!OverQuota(j)) {
    // A spend quota is weighed against the pool the job would start in: the
    // pass that held it left the reason.
    if (jobs_[j].status != JobStatus::kQueued) return "";
    const auto it = spend_held_.find(j);
    return it == spend_held_.end() ? "" : it->second.why;
  }
  const world::Job& job = job_spec(j);
  const world::Tenant& t = world_.tenants[job.tenant];
  const std::string needs = ", this job needs " + std::to_string(job.gpus) + " more";
  if (t.max_gpus > 0 && tenant_gpus_[job.tenant] + job.gpus > t.max_gpus) {
    return "tenant " + t.id + ": " + std::to_string(tenant_gpus_[job.tenant]) + " of its " +
           std::to_string(t.max_gpus) + " GPUs in use" + needs;
  }
  for (size_t i = 0; i < t.class_max_gpus.size(); ++i) {
    const auto& [cls, limit] = t.class_max_gpus[i];
    if (cls == job.workload_class) {
      return "tenant " + t.id + ", class " + cls + ": " +
             std::to_string(tenant_class_gpus_[job.tenant][i]) + " of its " +
             std::to_string(limit) + " GPUs in use" + needs;
    }
  }
  return "";
}

SpendRaw Scheduler::SpendRun::CostIn(Time from, Time until) const {
  if (until <= from) return 0;
  return static_cast<SpendRaw>(milli_gpus) * (until - from).seconds() * price_micros;
}

bool Scheduler::SpendRunCounts(const SpendRun& run, TenantIndex t, int32_t limit) const {
  if (run.tenant != t) return false;
  if (limit < 0) return true;
  return world_.tenants[t].class_spend_per_month[static_cast<size_t>(limit)].first ==
         run.workload_class;
}

void Scheduler::RollSpendMonth(TenantIndex t, Time now) {
  SpendBook& book = spend_[t];
  if (now < book.month.end && now >= book.month.start) return;
  book.month = SpendMonthOf(now);
  // The month begins with what the running jobs are expected to cost in it.
  const world::Tenant& tenant = world_.tenants[t];
  book.total = 0;
  book.by_class.assign(tenant.class_spend_per_month.size(), 0);
  for (const auto& [j, run] : spend_runs_[t]) {
    const SpendRaw in_month = run.CostIn(std::max(run.start, book.month.start),
                                         std::min(run.expected_end, book.month.end));
    book.total += in_month;
    for (size_t i = 0; i < book.by_class.size(); ++i) {
      if (tenant.class_spend_per_month[i].first == run.workload_class) book.by_class[i] += in_month;
    }
  }
}

void Scheduler::AddSpend(TenantIndex t, const std::string& workload_class, SpendRaw raw) {
  SpendBook& book = spend_[t];
  book.total += raw;
  const auto& limits = world_.tenants[t].class_spend_per_month;
  for (size_t i = 0; i < limits.size(); ++i) {
    if (limits[i].first == workload_class) book.by_class[i] += raw;
  }
}

void Scheduler::StartSpend(JobIndex j, const Allocation& a, Time now) {
  const world::Job& job = job_spec(j);
  // Every tenant's spend is kept (GET /v1/tenants shows it), limited or not.
  if (job.tenant == world::kNone) return;
  RollSpendMonth(job.tenant, now);
  SpendRun run;
  run.tenant = job.tenant;
  run.workload_class = job.workload_class;
  run.start = now;
  run.expected_end = now + Duration::Seconds(a.run_seconds);
  run.milli_gpus = a.gpu_milli > 0 ? a.gpu_milli : a.gpus * 1000;
  run.price_micros = ledger_.EffectivePrice(a.pool).micros();
  const SpendBook& book = spend_[job.tenant];
  AddSpend(job.tenant, job.workload_class,
           run.CostIn(now, std::min(run.expected_end, book.month.end)));
  spend_runs_[job.tenant][j] = std::move(run);
  spend_held_.erase(j);
}

void Scheduler::StopSpend(JobIndex j, Time now) {
  const TenantIndex t = job_spec(j).tenant;
  if (t == world::kNone) return;
  const auto it = spend_runs_[t].find(j);
  if (it == spend_runs_[t].end()) return;
  const SpendRun run = std::move(it->second);
  spend_runs_[t].erase(it);
  RollSpendMonth(run.tenant, now);
  const SpendMonth& month = spend_[run.tenant].month;
  if (now < run.expected_end) {
    // Stopped early: the commitment it did not use in this month comes back.
    AddSpend(run.tenant, run.workload_class,
             -run.CostIn(std::max(now, month.start), std::min(run.expected_end, month.end)));
  } else {
    // Ran past its expected end: what it used since counts now.
    AddSpend(run.tenant, run.workload_class,
             run.CostIn(std::max(run.expected_end, month.start), std::min(now, month.end)));
  }
}

std::optional<Scheduler::SpendOver> Scheduler::FirstMonthOver(const SpendRun& candidate,
                                                              int32_t limit, Time now) const {
  const world::Tenant& tenant = world_.tenants[candidate.tenant];
  const Money budget = limit < 0 ? tenant.spend_per_month
                                 : tenant.class_spend_per_month[static_cast<size_t>(limit)].second;
  if (budget.micros() <= 0) return std::nullopt;
  const SpendRaw cap = static_cast<SpendRaw>(budget.micros()) * kRawPerMicro;
  const SpendBook& book = spend_[candidate.tenant];
  // This month: the book; it already holds what the month's runs did.
  SpendOver over;
  over.month = book.month;
  over.limit = limit;
  over.cost = candidate.CostIn(now, std::min(candidate.expected_end, book.month.end));
  const SpendRaw encumbered = limit < 0 ? book.total : book.by_class[static_cast<size_t>(limit)];
  if (encumbered + over.cost > cap) return over;
  // Later months the run reaches: what the running jobs are expected to cost
  // in each, the month's own runs being still to come. At most the magnitude
  // model's span ahead (a run can be no longer).
  const auto& runs = spend_runs_[candidate.tenant];
  SpendMonth m = SpendMonthOf(book.month.end);
  for (int months = 0; m.start < candidate.expected_end && months < kSpendMonthsAhead; ++months) {
    over.month = m;
    over.cost = candidate.CostIn(m.start, std::min(candidate.expected_end, m.end));
    SpendRaw ahead = 0;
    for (const auto& [j, run] : runs) {
      if (SpendRunCounts(run, candidate.tenant, limit)) {
        ahead += run.CostIn(std::max(run.start, m.start), std::min(run.expected_end, m.end));
      }
    }
    if (ahead + over.cost > cap) return over;
    m = SpendMonthOf(m.end);
  }
  return std::nullopt;
}

bool Scheduler::OverSpendQuota(JobIndex j, PoolIndex pool, int64_t alloc_gpus, Time now) {
  const world::Job& job = job_spec(j);
  if (job.tenant == world::kNone) return false;
  const world::Tenant& tenant = world_.tenants[job.tenant];
  if (!tenant.has_spend_quota()) return false;
  RollSpendMonth(job.tenant, now);
  const int64_t speed = world_.accelerators[world_.pools[pool].accelerator].speed_milli;
  SpendRun run;
  run.tenant = job.tenant;
  run.workload_class = job.workload_class;
  run.start = now;
  run.expected_end = now + Duration::Seconds(RunSeconds(jobs_[j].remaining_work, job.gpus, speed));
  run.milli_gpus = job.gpu_milli > 0 ? job.gpu_milli : alloc_gpus * 1000;
  run.price_micros = ledger_.EffectivePrice(pool).micros();
  std::optional<SpendOver> over = FirstMonthOver(run, -1, now);
  std::string who;
  for (size_t i = 0; !over && i < tenant.class_spend_per_month.size(); ++i) {
    if (tenant.class_spend_per_month[i].first != job.workload_class) continue;
    over = FirstMonthOver(run, static_cast<int32_t>(i), now);
    if (over) who = ", class " + job.workload_class;
  }
  if (!over) return false;
  const SpendUsage u = TenantSpend(job.tenant, over->limit, now);
  const std::string needs =
      "this job needs " + Dollars(over->cost) + " more in " + world_.pools[pool].id;
  if (over->month.start == spend_[job.tenant].month.start) {
    spend_held_[j].why = "tenant " + tenant.id + who + ": spent " + Dollars(u.spent) + " of " +
                         Dollars(u.limit) + " this month (" + over->month.Label() + "), " +
                         Dollars(u.committed) + " more committed to its running jobs, " + needs +
                         " by the month's end";
  } else {
    // A later month its run would reach: what the running jobs commit there.
    SpendRaw ahead = 0;
    for (const auto& [k, r] : spend_runs_[job.tenant]) {
      if (SpendRunCounts(r, job.tenant, over->limit)) {
        ahead += r.CostIn(std::max(r.start, over->month.start),
                          std::min(r.expected_end, over->month.end));
      }
    }
    spend_held_[j].why = "tenant " + tenant.id + who + ": " + Dollars(ahead) + " of its " +
                         Dollars(u.limit) + " for " + over->month.Label() +
                         " committed to its running jobs, " + needs + " in that month";
  }
  spend_held_[j].generation = generation_;
  // A new month brings a new budget: ask to look again when it begins.
  const Time month_end = spend_[job.tenant].month.end;
  if (timer_ != nullptr && spend_wake_ < month_end) {
    spend_wake_ = month_end;
    timer_->AtTime(month_end, WakeKind::kSpendMonth, 0);
  }
  return true;
}

void Scheduler::SpendMonthBegins(Time now) {
  for (size_t t = 0; t < world_.tenants.size(); ++t) {
    if (world_.tenants[t].has_spend_quota()) RollSpendMonth(static_cast<TenantIndex>(t), now);
  }
  ++generation_;  // jobs held by a spend quota are weighed again
}

Scheduler::SpendUsage Scheduler::TenantSpend(TenantIndex t, int32_t limit, Time now) const {
  const world::Tenant& tenant = world_.tenants[t];
  SpendUsage u;
  u.month = SpendMonthOf(now);
  u.limit = limit < 0 ? tenant.spend_per_month
                      : tenant.class_spend_per_month[static_cast<size_t>(limit)].second;
  if (t >= static_cast<TenantIndex>(spend_.size())) return u;
  const SpendBook& book = spend_[t];
  const bool same_month = book.month.start == u.month.start;
  SpendRaw encumbered = 0;
  if (same_month) encumbered = limit < 0 ? book.total : book.by_class[static_cast<size_t>(limit)];
  SpendRaw committed = 0, late = 0;
  for (const auto& [j, run] : spend_runs_[t]) {
    if (!SpendRunCounts(run, t, limit)) continue;
    // A month the book has not rolled into yet starts with the running jobs.
    if (!same_month) {
      encumbered +=
          run.CostIn(std::max(run.start, u.month.start), std::min(run.expected_end, u.month.end));
    }
    committed += run.CostIn(std::max(now, u.month.start), std::min(run.expected_end, u.month.end));
    late += run.CostIn(std::max(run.expected_end, u.month.start), std::min(now, u.month.end));
  }
  u.spent = RawMoney(encumbered - committed + late);
  u.committed = RawMoney(committed);
  return u;
}

}  // namespace polycloud::scheduler
