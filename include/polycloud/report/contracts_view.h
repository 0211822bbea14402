// ContractsView: the commitment ledger of one finished run over time, per
// contract — spend per day and per period (day, ISO week or calendar month),
// cumulative spend, each minimum in the period it falls due with what the
// ledger settled for it, and the ROFR offers made under the contract with
// their answers — plus spend under no contract per provider. Rendered by
// `polycloud contracts` as terminal tables or JSON (schema
// "polycloud.contracts/1", docs/cli.md).
//
// Money is exact: every day is the ledger's running total rounded once
// (CommitmentLedger::ContractDays), so the days and the periods of a contract
// add up to its spend in the run to the micro-dollar. Everything is a pure
// function of the run: the same scenario and seed give the same bytes.
//
//   auto by = report::ParsePeriod("week");                 // InvalidArgument if unknown
//   report::ContractsView v =
//       report::BuildContractsView(world, sim.scheduler(), stats, "priority", *by);
//   report::WriteText(v, std::cout);
//   report::WriteJson(v, file);
//
// Thread-safety: plain data.
#ifndef POLYCLOUD_REPORT_CONTRACTS_VIEW_H_
#define POLYCLOUD_REPORT_CONTRACTS_VIEW_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "polycloud/base/status.h"
#include "polycloud/base/units.h"
#include "polycloud/report/report.h"
#include "polycloud/scheduler/scheduler.h"
#include "polycloud/sim/simulator.h"
#include "polycloud/world/world.h"

namespace polycloud::report {

// How the table over time groups days: one row per UTC day, per ISO week
// (Monday to Sunday) or per calendar month. A period is clipped to the run.
enum class Period : uint8_t { kDay, kWeek, kMonth };

// "day", "week" or "month". Errors: InvalidArgument (exit code 2) naming them.
Result<Period> ParsePeriod(std::string_view name);
const char* PeriodName(Period period);

// One UTC day of spend.
struct DaySpend {
  Time date;         // midnight UTC
  Money spend;       // on the day
  Money cumulative;  // since the run's start, the day included
};

// One row of the table over time.
struct PeriodRow {
  std::string label;  // "2025-11" (month), "2025-11-03" (week: its first day in the run; day)
  Time from, until;   // [from, until), clipped to the run
  Money spend;        // in the period
  Money cumulative;   // since the run's start, to the period's end
  // Indices into ContractTimeline::contract.obligations of the minimums (and
  // term) falling due in (from, until]: measured at the period's end or
  // inside it. Empty for spend under no contract.
  std::vector<int32_t> obligations_due;
  // Indices into ContractTimeline::offers of the ROFR offers raised in
  // [from, until).
  std::vector<int32_t> offers;
};

struct ContractTimeline {
  ContractRow contract;  // header and the ledger's settlement at the run's end
  // The days and periods shown: from the first day of the run in the
  // contract's term (or with spend under it) to the last; a contract whose
  // term misses the run and which has no spend has none. Periods also keep
  // any that hold an obligation falling due or an offer.
  std::vector<DaySpend> days;
  std::vector<PeriodRow> periods;
  std::vector<RequestRow> offers;  // capacity requests offered under its ROFR clauses, in order
};

// Spend at one provider under no contract (on-demand and spot pools, and
// awards of capacity outside any contract).
struct UncontractedTimeline {
  std::string provider;
  Money spent;
  std::vector<DaySpend> days;  // every day of the run
  std::vector<PeriodRow> periods;
};

struct ContractsView {
  std::string scenario;
  std::string policy;
  uint64_t seed = 0;
  Time start, end;  // the simulated window
  Period by = Period::kMonth;
  std::vector<ContractTimeline> contracts;  // in scenario order
  // Providers with any spend under no contract, in scenario order.
  std::vector<UncontractedTimeline> uncontracted;
};

// The view of a finished run (`stats.end` is the run's end; the scheduler's
// ledger is closed there). `policy` is the label printed (PolicyLabel).
ContractsView BuildContractsView(const world::World& world, const scheduler::Scheduler& scheduler,
                                 const sim::RunStats& stats, const std::string& policy, Period by);

void WriteText(const ContractsView& view, std::ostream& out);
void WriteJson(const ContractsView& view, std::ostream& out);

}  // namespace polycloud::report

#endif  // POLYCLOUD_REPORT_CONTRACTS_VIEW_H_
