// polycloud plan: argument handling and output routing only; the program
// lives in polycloud_plan (src/plan).
#include "plan_command.h"

#include <iostream>
#include <memory>
#include <string>

#include "output.h"
#include "polycloud/base/status.h"
#include "polycloud/base/text.h"
#include "polycloud/io/scenario.h"
#include "polycloud/plan/plan.h"

namespace polycloud {
namespace {

struct PlanArgs {
  std::string scenario;
  std::string json_path;
  std::string fragment_path;
  bool check = false;
  bool integer = false;
  bool quiet = false;
};

int Fail(const Status& status) {
  std::cerr << "polycloud: " << status.message() << "\n";
  return ExitCodeFor(status);
}

int Run(const PlanArgs& a) {
  if (a.json_path == "-" && a.fragment_path == "-")
    return Fail(InvalidArgument(
        "--json - and --write-fragment - would interleave on standard output: send one of them "
        "to a file"));
  Result<std::string> text = ReadRegularFile(a.scenario, io::kMaxScenarioBytes, "scenario");
  if (!text.ok()) return Fail(text.status());
  Result<io::Scenario> scenario = io::LoadScenarioString(*text, a.scenario);
  if (!scenario.ok()) return Fail(scenario.status());
  const world::World& w = scenario->world;
  Result<plan::PlanningInputs> inputs = plan::ParsePlanning(*text, a.scenario, w);
  if (!inputs.ok()) return Fail(inputs.status());
  if (a.integer) inputs->integer = true;
  Result<plan::Plan> p = plan::SolvePlan(w, *inputs);
  if (!p.ok()) return Fail(p.status());
  if (!a.json_path.empty()) {
    Status s = WriteTo(a.json_path,
                       [&](std::ostream& out) { out << plan::RenderPlanJson(w, *inputs, *p); });
    if (!s.ok()) return Fail(s);
  }
  if (!a.fragment_path.empty()) {
    Status s = WriteTo(a.fragment_path,
                       [&](std::ostream& out) { out << plan::WriteFragment(w, *inputs, *p); });
    if (!s.ok()) return Fail(s);
  }
  const bool stdout_taken = a.json_path == "-" || a.fragment_path == "-";
  if (!stdout_taken && !a.quiet) std::cout << plan::RenderPlanText(w, *inputs, *p);
  if (a.check) {
    Result<plan::CheckResult> check = plan::CheckPlan(*text, a.scenario, w, *inputs, *p);
    if (!check.ok()) return Fail(check.status());
    (stdout_taken ? std::cerr : std::cout) << "\n" << plan::RenderCheckText(w, *check);
  }
  return kExitOk;
}

}  // namespace

std::function<int()> AddPlanCommand(CLI::App& app) {
  auto args = std::make_shared<PlanArgs>();
  CLI::App* cmd = app.add_subcommand(
      "plan",
      "Capacity plan: GPUs and site power to bring online where and when, at least lifetime "
      "cost (spend + take-or-pay shortfall + capex), from the scenario's planning: section");
  cmd->add_option("scenario", args->scenario, "Scenario YAML with a planning: section")->required();
  cmd->add_option("--json", args->json_path,
                  "Also write the plan as JSON to FILE ('-' for standard output only)");
  cmd->add_option("--write-fragment", args->fragment_path,
                  "Write the plan as a scenario fragment (overlay for simulate --with) to FILE "
                  "('-' for standard output only)");
  cmd->add_flag("--check", args->check,
                "Simulate the scenario with the plan overlaid, to the horizon's end, and print "
                "predicted against simulated shortfall per contract");
  cmd->add_flag("--integer", args->integer,
                "Solve with CBC, GPUs added in whole nodes (default: CLP, rounded to nodes)");
  cmd->add_flag("--quiet,-q", args->quiet, "Print no plan tables (with --check: the check only)");
  return [args] { return Run(*args); };
}

}  // namespace polycloud
