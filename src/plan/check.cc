// The plan checked by the simulator: overlay the fragment, simulate to the
// horizon's end, settle every contract, compare with the prediction.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "polycloud/base/parse.h"
#include "polycloud/base/text.h"
#include "polycloud/contracts/ledger.h"
#include "polycloud/io/overlay.h"
#include "polycloud/io/scenario.h"
#include "polycloud/plan/plan.h"
#include "polycloud/sim/simulator.h"

namespace polycloud::plan {

Result<CheckResult> CheckPlan(std::string_view text, std::string_view file_name,
                              const world::World& world, const PlanningInputs& inputs,
                              const Plan& plan) {
  // The fragment goes on as `simulate --with` would put it (io's overlay):
  // one set of merge rules, and errors that point into the fragment.
  io::LoadOptions load;
  load.overrides.push_back(
      {io::Override::Kind::kWith, "plan fragment", WriteFragment(world, inputs, plan)});
  Result<io::Scenario> scenario = io::LoadScenarioString(text, file_name, load);
  if (!scenario.ok())
    return Status(
        scenario.status().code(),
        "the plan's fragment does not load onto the scenario:\n" + scenario.status().message());
  const world::World& w = scenario->world;
  sim::Options options;
  const auto started = std::chrono::steady_clock::now();
  sim::Simulator simulator(w, options);
  const sim::RunStats stats = simulator.Run();
  CheckResult result;
  result.simulate_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  result.simulated_until = stats.end;
  const contracts::CommitmentLedger& ledger = simulator.scheduler().ledger();
  for (const ContractPlan& cp : plan.contracts) {
    const world::Contract& c = world.contracts[cp.contract];
    if (c.committed_spend == Money() && c.minimums.empty()) continue;
    const world::ContractIndex sc = w.FindContract(c.id);
    const contracts::ContractLedgerRow row = ledger.Settle(sc, stats.end);
    ContractCheck check;
    check.contract = cp.contract;
    for (const ObligationPlan& o : cp.obligations)
      if (o.term) check.required = o.required;
    check.predicted_spend = cp.existing_spend + cp.planned_spend;
    check.predicted_shortfall = cp.shortfall;
    check.simulated_spend = row.spent;
    check.simulated_shortfall = c.take_or_pay ? Money(row.shortfall_due + row.shortfall_projected)
                                              : row.shortfall_not_payable;
    result.contracts.push_back(check);
  }
  return result;
}

std::string RenderCheckText(const world::World& w, const CheckResult& check) {
  std::ostringstream out;
  out << "Check: the plan simulated to " << FormatTime(check.simulated_until) << " (";
  char line[320];
  std::snprintf(line, sizeof line, "%.1f s", check.simulate_seconds);
  out << line << ")\n";
  std::snprintf(line, sizeof line, "  %-18s %14s %14s %14s %18s %14s %14s %10s\n", "contract",
                "required", "spend plan", "spend sim", "sim - plan", "short plan", "short sim",
                "gap/req");
  out << line;
  for (const ContractCheck& c : check.contracts) {
    const Money gap = Money::FromMicros(
        std::abs(c.simulated_shortfall.micros() - c.predicted_shortfall.micros()));
    const double pct = c.required > Money()
                           ? 100.0 * static_cast<double>(gap.micros()) / c.required.micros()
                           : 0.0;
    const Money diff = c.simulated_spend - c.predicted_spend;
    const std::string diff_text =
        diff < Money() ? "-" + FormatMoney(Money() - diff) : FormatMoney(diff);
    std::snprintf(line, sizeof line, "  %-18s %14s %14s %14s %18s %14s %14s %9.2f%%\n",
                  w.contracts[c.contract].id.c_str(), FormatMoneyShort(c.required).c_str(),
                  FormatMoneyShort(c.predicted_spend).c_str(),
                  FormatMoneyShort(c.simulated_spend).c_str(), diff_text.c_str(),
                  FormatMoneyShort(c.predicted_shortfall).c_str(),
                  FormatMoneyShort(c.simulated_shortfall).c_str(), pct);
    out << line;
  }
  out << "  sim - plan: spend, exact to the cent; gap/req: |simulated - predicted shortfall| as a\n"
         "  share of the commitment (pro-rated to the horizon)\n";
  return out.str();
}

}  // namespace polycloud::plan
