// Report: the figures of one simulation run — per provider, site and pool
// (GPU-hours, utilisation, spend, peak power), per contract (committed,
// spent, projected shortfall), jobs (completion, queue wait and completion
// time percentiles), services (demand served, failovers), faults, and
// contract compliance counted from the event log — and its two renderings:
// terminal tables and JSON (schema: docs/report.md).
//
// Everything in a Report is a pure function of the run, so the same scenario
// gives the same bytes; wall-clock timings are never part of it.
//
//   report::Report r = report::Build(world, sim.scheduler(), audit, stats, policy);
//   report::WriteText(r, std::cout);
//   report::WriteJson(r, file);
//
// Thread-safety: plain data.
#ifndef POLYCLOUD_REPORT_REPORT_H_
#define POLYCLOUD_REPORT_REPORT_H_

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "polycloud/report/timeseries.h"
#include "polycloud/report/workloads.h"
#include "polycloud/scheduler/scheduler.h"
#include "polycloud/sim/simulator.h"
#include "polycloud/world/world.h"

namespace polycloud::report {

struct Usage {
  int64_t used_gpu_seconds = 0;
  int64_t capacity_gpu_seconds = 0;  // usable capacity (after faults, inside contracts)
  Money spend;
  int64_t utilisation_milli() const {
    // 128 bits: GPU-seconds reach 2^58 (docs/scenario.md, Magnitudes), × 1000 does not fit.
    return capacity_gpu_seconds > 0 ? static_cast<int64_t>(static_cast<__int128>(used_gpu_seconds) *
                                                           1000 / capacity_gpu_seconds)
                                    : 0;
  }
};

struct ProviderRow {
  std::string id;
  Usage usage;
  int64_t gpus_at_end = 0;
};

struct SiteRow {
  std::string id, provider, region;
  Usage usage;
  Power peak_power;
  Power power_limit_at_end;
  bool power_limited = false;
};

struct PoolRow {
  std::string id, site, provider, accelerator, pricing, contract;
  Usage usage;
  int64_t installed_at_end = 0;
  int64_t free_at_end = 0;
  int64_t stranded_at_end = -1;  // with nodes: free GPUs the request mix could not use; -1 pooled
  Money price_per_gpu_hour;
};

struct ContractRow {
  std::string id, provider;
  Time start, end;
  Money committed;
  std::string kind;  // "take-or-pay", "discount-only" or "none" (no commitment)
  int64_t discount_milli = 0;
  bool take_or_pay = false;
  Money spent;                  // in the simulated window (pools and procured capacity under it)
  Money rate_per_day;           // spend rate at the run's end (projections use it)
  Money shortfall_due;          // take-or-pay, falling due inside the run
  Money shortfall_projected;    // take-or-pay, falling due after the run
  Money shortfall_not_payable;  // discount-only commitments
  std::vector<contracts::ObligationRow> obligations;  // minimums, then the term
  // After the run, to the term's end (docs/contracts.md, "After the run").
  contracts::ProjectedSpend projected_after;
  // spent + projected_after + take-or-pay shortfall (due in the run and after)
  Money lifetime_cost;
  std::vector<contracts::YearRow> years;  // calendar years; each column adds up to the row
  int32_t exclusivity_clauses = 0;
  int32_t rofr_clauses = 0;
  int32_t rofr_offers = 0, rofr_matched = 0, rofr_declined = 0, rofr_expired = 0;
};

// One capacity request of the procurement planner and what became of it.
struct RequestRow {
  std::string id;              // "req-1"
  std::string capacity_class;  // "research ≤1024 GPUs on H100|GB200"
  int64_t gpus = 0;
  int32_t waiting_jobs = 0;
  std::string oldest_job;
  Time raised;
  std::string rofr_contract, holder;  // empty when no right of first refusal applied
  Time window_closes;
  Time answered = Time::Min();  // when the holder answered (matched, declined); Min: no answer
  std::string answer;           // "matched", "declined", "expired", "" (none asked)
  std::string decline_reason;
  std::string outcome;         // "awarded", "unavailable", "awaiting answer"
  std::string provider, pool;  // the award
  bool via_rofr = false;
  int64_t awarded_gpus = 0;
  Money price_per_gpu_hour;
  Time awarded, arrives, ends;
  bool arrived = false;
  Money spend;  // billed inside the run
};

// Spend under no contract at one provider, in the run and projected after it
// to the lifetime end.
struct UncontractedRow {
  std::string provider;
  Money spent;
  contracts::ProjectedSpend projected_after;
  std::vector<contracts::YearRow> years;
};

// Cost over two horizons (docs/report.md, "Cost by horizon"): in the run
// (to its end) and for the lifetime (to the end of the latest term: every
// contract's and every award's). Each figure is the sum of its parts:
//   in_run_spend    = Σ contracts[].spent + Σ uncontracted[].spent
//   after_spend     = Σ contracts[].projected_after + Σ uncontracted[].projected_after
//   in_run_shortfall (take-or-pay, due in the run), after_shortfall (due after it)
//   in_run_total = in_run_spend + in_run_shortfall
//   after_total = after_spend.total() + after_shortfall
//   lifetime_total = in_run_total + after_total = Σ years[] (spent + projected + shortfall)
struct HorizonCost {
  Time run_end;
  Time lifetime_end;
  Money in_run_spend, in_run_shortfall, in_run_total;
  contracts::ProjectedSpend after_spend;
  Money after_shortfall, after_total;
  Money lifetime_total;
  std::vector<contracts::YearRow> years;  // the whole fleet
  std::vector<UncontractedRow> uncontracted;
};

// Total cost of the same scenario under another placement policy.
struct CostComparison {
  std::string policy;
  Money spend, shortfall, total;  // in-run spend, all take-or-pay shortfall, their sum
  Money in_run_total;             // spend + shortfall due in the run
  Money projected_spend;          // after the run, to the lifetime end
  Money lifetime_total;           // in_run_total + projected spend + shortfall due after the run
};

struct Percentiles {
  int64_t count = 0;
  int64_t p50 = 0, p90 = 0, p99 = 0, max = 0, mean = 0;  // seconds
};

struct JobGroupRow {
  std::string name;  // workload class
  int64_t total = 0, completed = 0, running = 0, queued = 0, not_arrived = 0;
  Percentiles queue_wait;  // first start - arrival, over started jobs
  Percentiles completion;  // finish - arrival, over completed jobs
  int64_t preemptions = 0, interruptions = 0;
  int64_t lost_work_gpu_seconds = 0;
  int64_t moved_provider = 0;  // jobs that ran at more than one provider
  int64_t gpu_seconds = 0;
};

struct ServiceRow {
  std::string id, model, workload_class;
  int64_t served_milli = 0;  // share of demand served, thousandths
  int64_t short_seconds = 0;
  int64_t demand_token_seconds = 0, served_token_seconds = 0;
  int32_t peak_replicas = 0, replicas_at_end = 0;
  int32_t replicas_lost = 0, replaced = 0, failovers = 0;
  int32_t moves = 0;  // replicas moved to cheaper capacity by the rebalance
  std::vector<std::pair<std::string, int32_t>> replicas_by_provider_at_end;
  std::vector<std::pair<std::string, int64_t>> failovers_by_provider;
};

struct FaultRow {
  std::string id, kind, target_kind, target;
  Time start, end;
  int64_t cut_milli = 0;
};

// One trace or catalog read into the scenario (a `traces:` entry or
// simulate --trace), with what its reader reported about the rows.
struct InputRow {
  std::string format, path;
  int64_t records = 0;   // data rows seen
  int64_t accepted = 0;  // turned into jobs, pools or demand
  int64_t filtered = 0;  // left out on purpose (outside the window, CPU-only, ...)
  int64_t bad_rows = 0;  // malformed rows skipped (skip_bad_rows / --skip-bad-rows)
  std::vector<std::string> bad_row_messages;  // the first few "path:line: ..."
  std::string added;                          // "1234 jobs", "52 pools", "demand of service ..."
};

// A contract's spend since the run's start at the end of each UTC day of the
// run (the ledger's exact daily series, CommitmentLedger::ContractDays).
struct DailySpend {
  Time first_day;  // midnight UTC of the run's first day
  std::vector<Money> cumulative;
};

struct Report {
  std::string scenario;
  std::string policy;
  uint64_t seed = 0;
  Time start, end;
  int64_t events = 0;
  int64_t scheduler_events = 0;
  int64_t placement_attempts = 0;
  Usage total;
  Money total_cost;       // spend + take-or-pay shortfall (due in the run and projected)
  Money total_shortfall;  // take-or-pay shortfall: due in the run + projected
  Money shortfall_due;    // of which due inside the run
  HorizonCost horizon;    // in the run and for the lifetime, by contract and year
  std::vector<ProviderRow> providers;
  std::vector<SiteRow> sites;
  std::vector<PoolRow> pools;
  std::vector<ContractRow> contracts;
  std::vector<RequestRow> requests;
  // This run first, then the others (filled by the caller, like inputs).
  std::vector<CostComparison> comparison;
  std::vector<JobGroupRow> jobs;  // one row per workload class, then "all"
  std::vector<ServiceRow> services;
  std::vector<FaultRow> faults;
  sim::Audit::Counts audit;
  std::vector<std::string> violations;
  // Batch re-optimisation (--reoptimize-every): passes run, and passes skipped
  // because the queue's figures do not fit the optimiser's arithmetic.
  int64_t reoptimizations = 0;
  int64_t reoptimizations_skipped = 0;
  std::string reoptimize_skip_reason;  // the last one
  // The rebalance (scheduler::Options::rebalance): whether it ran (on, and the
  // contract-aware cost model), replicas moved, how many of them to capacity
  // free at the margin, and the sum of each move's saving over the horizon.
  struct Rebalance {
    bool active = false;
    int64_t moves = 0, to_prepaid = 0;
    Money estimated_saving;
    Duration horizon;
    Money min_saving;
  } rebalance;
  std::vector<InputRow> inputs;  // filled by the caller (Build does not read inputs)
  // The what-if overrides the scenario was loaded with ("--set PATH=VALUE",
  // "--with FILE"), in the order applied; filled by the caller.
  std::vector<std::string> overrides;
  std::vector<DailySpend> contract_days;  // per contract, as `contracts`
  // Filled by the caller when it recorded them (simulate --json/--html):
  // the run over time, and the workloads listed by name.
  std::optional<TimeSeries> timeseries;
  std::optional<Workloads> workloads;
};

Report Build(const world::World& world, const scheduler::Scheduler& scheduler,
             const sim::Audit& audit, const sim::RunStats& stats, const std::string& policy);

// Spend + take-or-pay shortfall of a finished run (for Report::comparison).
CostComparison CostOf(const world::World& world, const scheduler::Scheduler& scheduler, Time end,
                      const std::string& policy);

// The cost over both horizons of a run ended at `end`, from `contracts`
// (ContractRowOf each) and the ledger's spend under no contract.
HorizonCost HorizonOf(const world::World& world, const scheduler::Scheduler& scheduler, Time end,
                      const std::vector<ContractRow>& contracts);

// Contract `c` as the ledger settles it at `end` (the run's end), with its
// ROFR offer counts.
ContractRow ContractRowOf(const world::World& world, const scheduler::Scheduler& scheduler,
                          world::ContractIndex c, Time end);

// "research gangs ≤1024 on H100|GB200": what a capacity request asks for.
std::string CapacityClassLabel(const world::World& world, const scheduler::Scheduler& scheduler,
                               const scheduler::CapacityRequest& request);
RequestRow RequestRowOf(const world::World& world, const scheduler::Scheduler& scheduler,
                        int32_t request);

// Percentiles of a sample of seconds (nearest rank); sorts `values`.
Percentiles ComputePercentiles(std::vector<int64_t>& values);

void WriteText(const Report& report, std::ostream& out);
void WriteJson(const Report& report, std::ostream& out);

}  // namespace polycloud::report

#endif  // POLYCLOUD_REPORT_REPORT_H_
