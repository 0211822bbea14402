// polycloud replay: argument handling and output routing only; the replays
// live in polycloud_replay.
#include "replay_command.h"

#include <charconv>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

#include "polycloud/base/status.h"
#include "polycloud/base/text.h"
#include "polycloud/replay/replay.h"
#include "polycloud/report/html.h"
#include "polycloud/traces/trace_format.h"

namespace polycloud {
namespace {

struct ReplayArgs {
  std::string trace;
  bool per_vc = false;
  bool fidelity = false;
  std::string policy = "fifo";
  bool consolidate = false;
  std::string node_choice;
  std::string vc_nodes;
  std::string nodes;
  std::vector<std::string> only;
  std::string json_path;
  std::string html_path;
  bool skip_bad_rows = false;
  int64_t bucket_days = 7;
  int64_t compress = 1;
};

int Fail(const Status& status) {
  std::cerr << "polycloud: " << status.message() << "\n";
  return ExitCodeFor(status);
}

template <typename R>
int Emit(const R& result, const ReplayArgs& a, double seconds) {
  if (!a.html_path.empty()) {
    // The page reads the replay's JSON (its "schema" names the kind).
    std::ostringstream json;
    replay::WriteJson(result, json);
    const std::string title = std::is_same_v<R, replay::PhillyReplay>
                                  ? "polycloud replay: Philly per virtual cluster"
                                  : "polycloud replay: Alibaba GPU fidelity";
    if (a.html_path == "-") {
      report::WriteHtmlPage(title, json.str(), std::cout);
    } else {
      std::ofstream out(a.html_path, std::ios::binary);
      if (!out) return Fail(IoError(a.html_path + ": cannot open for writing"));
      report::WriteHtmlPage(title, json.str(), out);
      out.close();
      if (!out) return Fail(IoError(a.html_path + ": write failed"));
    }
  }
  if (!a.json_path.empty()) {
    if (a.json_path == "-") {
      replay::WriteJson(result, std::cout);
      return kExitOk;
    }
    std::ofstream out(a.json_path, std::ios::binary);
    if (!out) return Fail(IoError(a.json_path + ": cannot open for writing"));
    replay::WriteJson(result, out);
    out.close();
    if (!out) return Fail(IoError(a.json_path + ": write failed"));
  }
  if (a.html_path == "-") return kExitOk;
  replay::WriteText(result, std::cout);
  std::fprintf(stderr, "replayed in %.2f s\n", seconds);
  return kExitOk;
}

int Run(const ReplayArgs& a) {
  if (a.json_path == "-" && a.html_path == "-") {
    return Fail(InvalidArgument(
        "--json - and --html - would interleave on standard output: send one of them to a file"));
  }
  auto spec = traces::ParseTraceSpec(a.trace);
  if (!spec.ok()) return Fail(spec.status());
  auto policy = scheduler::ParsePolicy(a.policy);
  if (!policy.ok()) return Fail(policy.status());
  scheduler::Options node_options;
  if (Status s = scheduler::SetNodeChoice(a.node_choice, &node_options); !s.ok()) return Fail(s);
  if (a.consolidate && a.node_choice.empty()) node_options.nodes = placement::NodePolicy::kBestFit;
  const placement::NodePolicy nodes = node_options.nodes;
  traces::ReadOptions read;
  read.skip_bad_rows = a.skip_bad_rows;
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  if (spec->format == traces::TraceFormat::kPhilly) {
    if (a.fidelity) return Fail(InvalidArgument("--fidelity needs an alibaba-gpu pod trace"));
    if (!a.per_vc) {
      return Fail(
          InvalidArgument("a philly replay is per virtual cluster: pass --per-vc (or use `simulate "
                          "--trace` for one fleet)"));
    }
    replay::PhillyReplayOptions o;
    o.trace_path = spec->path;
    o.vc_nodes_path = a.vc_nodes;
    o.policy = *policy;
    o.consolidate = a.consolidate;
    o.nodes = nodes;
    o.read = read;
    o.only = a.only;
    o.compress = a.compress;
    auto r = replay::ReplayPhilly(o);
    if (!r.ok()) return Fail(r.status());
    return Emit(*r, a, elapsed());
  }
  if (spec->format == traces::TraceFormat::kAlibabaGpu) {
    if (!a.fidelity)
      return Fail(InvalidArgument("an alibaba-gpu replay is a fidelity check: pass --fidelity"));
    replay::FidelityOptions o;
    o.pods_path = spec->path;
    o.nodes_path = a.nodes;
    o.policy = *policy;
    o.nodes = nodes;
    o.read = read;
    o.bucket = Duration::Days(a.bucket_days);
    auto r = replay::CheckAlibabaFidelity(o);
    if (!r.ok()) return Fail(r.status());
    return Emit(*r, a, elapsed());
  }
  return Fail(
      InvalidArgument("replay reads philly (--per-vc) and alibaba-gpu (--fidelity) traces, not " +
                      std::string(traces::TraceFormatName(spec->format))));
}

}  // namespace

namespace {

// "" when `text` is plain decimal and its value is in [min, max] (as the type
// T reads it), else what is wrong. A valid `text` is rewritten in canonical
// form, so CLI11's base-0 conversion cannot read "010" as octal.
template <typename T>
std::string CheckDecimal(std::string& text, T min, T max) {
  T value{};
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);  // decimal only, no '+'
  if (text.empty() || ec == std::errc::invalid_argument || ptr != end)
    return "expected an integer, found " + QuoteExcerpt(text);
  if (ec == std::errc::result_out_of_range || value < min || value > max)
    return "expected an integer from " + std::to_string(min) + " to " + std::to_string(max) +
           ", found " + text;
  text = std::to_string(value);
  return "";
}

}  // namespace

CLI::Validator IntegerIn(int64_t min, int64_t max) {
  return CLI::Validator([min, max](std::string& text) { return CheckDecimal(text, min, max); },
                        "INT in [" + std::to_string(min) + " - " + std::to_string(max) + "]");
}

CLI::Validator AnyUint64() {
  return CLI::Validator(
      [](std::string& text) {
        return CheckDecimal<uint64_t>(text, 0, std::numeric_limits<uint64_t>::max());
      },
      "UINT64");
}

std::function<int()> AddReplayCommand(CLI::App& app) {
  auto args = std::make_shared<ReplayArgs>();
  CLI::App* cmd = app.add_subcommand(
      "replay",
      "Replay a public trace on a fleet built from its own data and print job statistics");
  cmd->add_option("--trace", args->trace,
                  "FORMAT:PATH: philly:philly.csv.gz or alibaba-gpu:openb_pod_list_*.csv")
      ->required();
  cmd->add_flag("--per-vc", args->per_vc, "Philly: replay each virtual cluster on its own fleet");
  cmd->add_flag("--fidelity", args->fidelity,
                "Alibaba: compare the replay with the trace's recorded queueing and utilisation");
  cmd->add_option("--policy", args->policy,
                  "Scheduler policy: fifo (default), sjf, srtf or priority");
  cmd->add_flag("--consolidate", args->consolidate,
                "Consolidated placement: a job spans as few nodes as possible (with nodes: "
                "best fit)");
  cmd->add_option("--node-choice", args->node_choice,
                  "How jobs are placed on nodes: best-fit (default), spread, random, "
                  "fragmentation, or pooled (each cluster one bag of GPUs, as before nodes)");
  cmd->add_option("--vc-nodes", args->vc_nodes,
                  "Philly virtual-cluster sizes (default: vc_nodes.csv next to the trace)");
  cmd->add_option("--nodes", args->nodes,
                  "Alibaba node list (default: openb_node_list_gpu_node.csv next to the pods)");
  cmd->add_option("--vc", args->only, "Philly: replay only this virtual cluster (repeatable)");
  cmd->add_option("--compress", args->compress,
                  "Philly: compress arrivals by this factor (default 1: as recorded)")
      ->transform(IntegerIn(1, 1000));
  cmd->add_option("--bucket-days", args->bucket_days,
                  "Alibaba: utilisation bucket width in days (default 7, at most 3650)")
      ->transform(IntegerIn(1, 3650));  // Duration::Days would wrap above ~10^14
  cmd->add_option("--json", args->json_path,
                  "Also write the figures as JSON to FILE ('-' for standard output only)");
  cmd->add_option("--html", args->html_path,
                  "Also write the figures as one self-contained HTML page with charts to FILE "
                  "('-' for standard output only)");
  cmd->add_flag("--skip-bad-rows", args->skip_bad_rows,
                "Skip malformed rows and report them (default: stop at the first, exit code 3)");
  return [args] { return Run(*args); };
}

void AddTraceOptions(CLI::App* cmd, std::vector<std::string>& traces, bool& skip_bad_rows) {
  cmd->add_option(
      "--trace", traces,
      "Add a trace to the scenario, FORMAT:PATH (philly or alibaba-gpu pods: jobs; alibaba-gpu or "
      "alibaba-spot nodes, skypilot catalog: pools); repeatable");
  cmd->add_flag(
      "--skip-bad-rows", skip_bad_rows,
      "Skip malformed trace rows and report them (default: stop at the first, exit code 3)");
}

Result<std::vector<replay::AppliedTrace>> AddTraces(const std::vector<std::string>& traces,
                                                    bool skip_bad_rows, world::World& world) {
  traces::ReadOptions read;
  read.skip_bad_rows = skip_bad_rows;
  std::vector<replay::AppliedTrace> out;
  for (const std::string& text : traces) {
    POLYCLOUD_ASSIGN_OR_RETURN(traces::TraceSpec spec, traces::ParseTraceSpec(text));
    POLYCLOUD_ASSIGN_OR_RETURN(replay::AppliedTrace applied,
                               replay::AddTraceToWorldReported(spec, read, world));
    out.push_back(std::move(applied));
  }
  return out;
}

}  // namespace polycloud
