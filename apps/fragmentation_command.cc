// polycloud fragmentation: argument handling and output routing only; the
// experiment lives in polycloud_frag.
#include "fragmentation_command.h"

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "output.h"
#include "polycloud/base/status.h"
#include "polycloud/frag/experiment.h"
#include "polycloud/report/html.h"
#include "replay_command.h"

namespace polycloud {
namespace {

struct FragmentationArgs {
  std::string pods;
  std::string nodes;
  std::vector<std::string> policies;
  int64_t seeds = 10;
  uint64_t seed = 42;
  std::string json_path;
  std::string html_path;
  std::string tie_break = "first";
  bool skip_bad_rows = false;
};

int Fail(const Status& status) {
  std::cerr << "polycloud: " << status.message() << "\n";
  return ExitCodeFor(status);
}

int Run(const FragmentationArgs& a) {
  if (a.json_path == "-" && a.html_path == "-") {
    return Fail(InvalidArgument(
        "--json - and --html - would interleave on standard output: send one of them to a file"));
  }
  frag::ExperimentOptions o;
  o.pods_path = a.pods;
  o.nodes_path = a.nodes;
  o.seeds = static_cast<int>(a.seeds);
  o.first_seed = a.seed;
  o.read.skip_bad_rows = a.skip_bad_rows;
  for (const std::string& name : a.policies) {
    auto policy = frag::ParsePolicy(name);
    if (!policy.ok()) return Fail(policy.status());
    o.policies.push_back(*policy);
  }
  auto tie_break = frag::ParseTieBreak(a.tie_break);
  if (!tie_break.ok()) return Fail(tie_break.status());
  o.tie_break = *tie_break;
  const auto start = std::chrono::steady_clock::now();
  auto r = frag::RunExperiment(o);
  if (!r.ok()) return Fail(r.status());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!a.html_path.empty()) {
    std::ostringstream json;
    frag::WriteJson(*r, json);
    Status s = WriteTo(a.html_path, [&](std::ostream& out) {
      report::WriteHtmlPage("polycloud fragmentation: GPU allocation against arrived workload",
                            json.str(), out);
    });
    if (!s.ok()) return Fail(s);
  }
  if (!a.json_path.empty()) {
    Status s = WriteTo(a.json_path, [&](std::ostream& out) { frag::WriteJson(*r, out); });
    if (!s.ok()) return Fail(s);
  }
  if (a.json_path == "-" || a.html_path == "-") return kExitOk;
  frag::WriteText(*r, std::cout);
  std::fprintf(stderr, "%zu policies x %lld seeds in %.2f s\n", r->series.size(),
               static_cast<long long>(a.seeds), seconds);
  return kExitOk;
}

}  // namespace

std::function<int()> AddFragmentationCommand(CLI::App& app) {
  auto args = std::make_shared<FragmentationArgs>();
  CLI::App* cmd = app.add_subcommand(
      "fragmentation",
      "The FGD paper's fragmentation experiment: GPU allocation against arrived workload per "
      "node-choice policy on an Alibaba openb cluster");
  cmd->add_option("--pods", args->pods, "Pod list, openb_pod_list_*.csv")->required();
  cmd->add_option("--nodes", args->nodes,
                  "Node list (default: openb_node_list_gpu_node.csv next to the pods)");
  cmd->add_option("--policy", args->policies,
                  "Node-choice policy, repeatable: random, dotprod, clustering, packing, bestfit, "
                  "fgd, spread (default: the paper's six)");
  cmd->add_option("--seeds", args->seeds, "Runs per policy (default 10)")
      ->transform(IntegerIn(1, 1000));
  cmd->add_option("--seed", args->seed, "First seed (default 42, as the paper's runs)")
      ->transform(AnyUint64());
  cmd->add_option(
      "--tie-break", args->tie_break,
      "Among nodes of equal score: first (default: the first in a seeded node order, as "
      "the paper's simulator) or random (as upstream kube-scheduler)");
  cmd->add_option("--json", args->json_path,
                  "Also write the series as JSON to FILE ('-' for standard output only)");
  cmd->add_option("--html", args->html_path,
                  "Also write one self-contained HTML page with the chart to FILE ('-' for "
                  "standard output only)");
  cmd->add_flag("--skip-bad-rows", args->skip_bad_rows,
                "Skip malformed rows and report them (default: stop at the first, exit code 3)");
  return [args] { return Run(*args); };
}

}  // namespace polycloud
