// polycloud: the command line. Only argument handling and output routing live
// here; everything else is in the libraries. Exit codes: docs/cli.md.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <limits>
#include <optional>
#include <sstream>
#include <type_traits>

#include "fragmentation_command.h"
#include "gateway_command.h"
#include "output.h"
#include "plan_command.h"
#include "polycloud/base/parse.h"
#include "polycloud/base/status.h"
#include "polycloud/base/text.h"
#include "polycloud/gateway/config.h"
#include "polycloud/gen/scale.h"
#include "polycloud/io/scenario.h"
#include "polycloud/report/contracts_view.h"
#include "polycloud/report/explain.h"
#include "polycloud/report/html.h"
#include "polycloud/report/report.h"
#include "polycloud/report/timeseries.h"
#include "polycloud/report/workloads.h"
#include "polycloud/scheduler/command_log.h"
#include "polycloud/scheduler/scheduler.h"
#include "polycloud/sim/simulator.h"
#include "replay_command.h"
#include "scheduler_options.h"
#include "serve_command.h"
#include "whatif_commands.h"

namespace polycloud {
namespace {

int Fail(const Status& status) {
  std::cerr << "polycloud: " << status.message() << "\n";
  return ExitCodeFor(status);
}

// What the command is doing, for the out-of-memory message of main().
std::string& Activity() {
  static std::string activity = "starting";
  return activity;
}

struct Common {
  std::string scenario;
  std::optional<uint64_t> seed;
  std::string policy;
  std::vector<std::string> traces;  // simulate --trace FORMAT:PATH
  bool skip_bad_rows = false;
  std::optional<std::string> reoptimize_every;  // --reoptimize-every DURATION ("" is an error)
  std::string node_choice;                      // --node-choice NAME
  // What-if overrides (docs/whatif.md): fragments first, then the edits.
  std::vector<std::string> with, set, unset;
  bool until_term_end = false;  // simulate --until-term-end
};

// The overrides of --with, --set and --unset, in the order they apply.
std::vector<io::Override> OverridesOf(const Common& c) {
  std::vector<io::Override> out;
  for (const std::string& f : c.with) out.push_back({io::Override::Kind::kWith, f, std::nullopt});
  for (const std::string& s : c.set) out.push_back({io::Override::Kind::kSet, s, std::nullopt});
  for (const std::string& u : c.unset) out.push_back({io::Override::Kind::kUnset, u, std::nullopt});
  return out;
}

void AddCommon(CLI::App* cmd, Common& c) {
  cmd->add_option("scenario", c.scenario, "Scenario YAML file (see docs/scenario.md)")->required();
  cmd->add_option("--seed", c.seed, "Replace the scenario's seed (job streams are drawn with it)")
      ->transform(AnyUint64());
  cmd->add_option(
      "--policy", c.policy,
      "Scheduler policy: priority (default), fifo, sjf, srtf, or cheapest-price (priority queue, "
      "list prices, reservations at $0, commitments ignored); overrides the scenario's");
  cmd->add_option("--reoptimize-every", c.reoptimize_every,
                  "Re-optimise the whole queue as a min-cost flow at this interval (e.g. 1h)");
  cmd->add_option("--node-choice", c.node_choice,
                  "How work is placed on a pool's nodes: best-fit (default), spread, random, "
                  "fragmentation, or pooled (pools as bags of GPUs, no nodes); overrides the "
                  "scenario's");
  cmd->add_option("--with", c.with,
                  "Overlay a scenario fragment (YAML) on the scenario before it is checked; "
                  "repeatable, applied in order, before --set (docs/whatif.md)")
      ->allow_extra_args(false);
  cmd->add_option("--set", c.set,
                  "Change one value: PATH=VALUE, e.g. pools.aws-gb200.price_per_gpu_hour=3.10, "
                  "pools.aws-gb200.gpus.shift=+180d, services.*.demand.scale=1.3; repeatable, "
                  "applied in order after --with (docs/whatif.md)")
      ->allow_extra_args(false);
  cmd->add_option("--unset", c.unset,
                  "Remove a key or list item: PATH, e.g. contracts.azure-2025.exclusivity; "
                  "repeatable, applied after --set")
      ->allow_extra_args(false);
}

// A scenario with its `traces:` section and the --trace files applied, and
// what each of those inputs read.
struct Loaded {
  io::Scenario scenario;
  std::vector<report::InputRow> inputs;
};

report::InputRow InputRowOf(const replay::AppliedTrace& t) {
  report::InputRow row;
  row.format = t.format;
  row.path = t.path;
  row.records = t.stats.records;
  row.accepted = t.stats.accepted;
  row.filtered = t.stats.filtered;
  row.bad_rows = t.stats.bad_rows;
  row.bad_row_messages = t.stats.bad_row_messages;
  row.added = t.added;
  return row;
}

Result<Loaded> Load(const Common& c) {
  io::LoadOptions options;
  options.seed = c.seed;
  options.overrides = OverridesOf(c);
  options.until_term_end = c.until_term_end;
  Loaded out;
  Activity() = "loading the scenario " + c.scenario;
  POLYCLOUD_ASSIGN_OR_RETURN(out.scenario, io::LoadScenarioFile(c.scenario, options));
  Activity() = "reading the traces of " + c.scenario;
  POLYCLOUD_ASSIGN_OR_RETURN(std::vector<replay::AppliedTrace> from_file,
                             replay::AddScenarioTraces(out.scenario, c.skip_bad_rows));
  POLYCLOUD_ASSIGN_OR_RETURN(std::vector<replay::AppliedTrace> from_cli,
                             AddTraces(c.traces, c.skip_bad_rows, out.scenario.world));
  for (const auto* list : {&from_file, &from_cli}) {
    for (const replay::AppliedTrace& t : *list) out.inputs.push_back(InputRowOf(t));
  }
  return out;
}

// One line per input, and the first skipped rows of each.
void PrintInputs(const std::vector<report::InputRow>& inputs, std::ostream& out) {
  for (const report::InputRow& i : inputs) {
    out << "  " << i.format << " " << i.path << ": " << i.records << " rows, " << i.added;
    if (i.bad_rows > 0)
      out << "; " << i.bad_rows << " bad row" << (i.bad_rows == 1 ? "" : "s") << " skipped, first:";
    out << "\n";
    for (const std::string& m : i.bad_row_messages) out << "    " << m << "\n";
  }
}

Result<sim::Options> SimOptions(const io::Scenario& scenario, const Common& c) {
  sim::Options options;
  POLYCLOUD_RETURN_IF_ERROR(scheduler::SetPolicy(
      c.policy.empty() ? scenario.options.policy : c.policy, &options.scheduler));
  options.scheduler.consolidate = scenario.options.consolidate;
  POLYCLOUD_RETURN_IF_ERROR(scheduler::SetNodeChoice(
      c.node_choice.empty() ? scenario.options.node_choice : c.node_choice, &options.scheduler));
  options.scheduler.reoptimize_every = scenario.options.reoptimize_every;
  ApplyRebalanceKeys(scenario.options.rebalance, &options.scheduler.rebalance);
  if (c.reoptimize_every) {  // the command line wins over the scenario
    // A bad value is a usage error (exit 2), like an unknown policy.
    Result<Duration> every = ParseDuration(*c.reoptimize_every);
    if (!every.ok()) return InvalidArgument("--reoptimize-every: " + every.status().message());
    if (*every <= Duration())
      return InvalidArgument("--reoptimize-every: must be a positive duration");
    POLYCLOUD_RETURN_IF_ERROR(io::CheckTimerInterval("--reoptimize-every", *every,
                                                     scenario.world.start, scenario.world.end));
    options.scheduler.reoptimize_every = *every;
  }
  return options;
}

int Validate(const Common& c) {
  auto loaded = Load(c);
  if (!loaded.ok()) return Fail(loaded.status());
  const world::World& w = loaded->scenario.world;
  size_t gateway_endpoints = 0;
  if (loaded->scenario.has_gateway_section) {
    // The gateway's section is checked against the same world.
    Result<gateway::GatewayConfig> config = gateway::LoadGatewayConfigSection(c.scenario, w);
    if (!config.ok()) return Fail(config.status());
    gateway_endpoints = config->deployments.size();
  }
  int64_t peak_gpus = 0;
  for (const auto& p : w.pools) peak_gpus += p.gpus.Max();
  std::cout << c.scenario << ": ok — " << w.providers.size() << " providers, " << w.sites.size()
            << " sites, " << w.pools.size() << " pools (" << peak_gpus << " GPUs at peak), "
            << w.contracts.size() << " contracts, " << w.jobs.size() << " jobs, "
            << w.services.size() << " services, " << w.faults.size() << " faults; "
            << FormatTime(w.start) << " to " << FormatTime(w.end);
  if (loaded->scenario.has_gateway_section) {
    std::cout << "; gateway: " << gateway_endpoints << " endpoints";
  }
  std::cout << "\n";
  PrintInputs(loaded->inputs, std::cout);
  return kExitOk;
}

// The run's command log: where to write it, and a log to restore from first.
struct CommandLogPaths {
  std::string write;
  std::string restore;
};

// Where simulate writes its report and event log.
struct SimulateOutputs {
  std::string json, html, events;
};

int Simulate(const Common& c, const SimulateOutputs& outputs, const CommandLogPaths& command_log,
             bool quiet, bool compare) {
  const std::string& json_path = outputs.json;
  const std::string& events_path = outputs.events;
  const std::string& html_path = outputs.html;
  if ((json_path == "-") + (events_path == "-") + (html_path == "-") > 1) {
    return Fail(InvalidArgument(
        "more than one of --json -, --html - and --events - would interleave on standard output: "
        "send all but one of them to files"));
  }
  auto loaded = Load(c);
  if (!loaded.ok()) return Fail(loaded.status());
  io::Scenario* scenario = &loaded->scenario;
  if (c.until_term_end && scenario->world.contracts.empty()) {
    return Fail(InvalidArgument("--until-term-end: " + c.scenario +
                                " has no contract, so no term to run to"));
  }
  auto options = SimOptions(*scenario, c);
  if (!options.ok()) return Fail(options.status());
  const world::World& w = scenario->world;

  // A progress line on a terminal, for runs longer than a second; piped
  // output stays clean. Wall-clock time never reaches the report.
  const bool tty = isatty(STDERR_FILENO) != 0;
  const auto wall_start = std::chrono::steady_clock::now();
  bool progress_shown = false;
  if (tty && !quiet) {
    options->progress = [&](const sim::Progress& p) {
      const double secs =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
      if (secs < 1.0) return;
      progress_shown = true;
      std::fprintf(stderr, "\r  simulated to %s  %lld events  %.0f events/s   ",
                   FormatTime(p.now).substr(0, 10).c_str(), static_cast<long long>(p.events),
                   static_cast<double>(p.events) / secs);
      std::fflush(stderr);
    };
    options->progress_every = 1 << 14;
  }
  Activity() = "simulating " + c.scenario;
  sim::Simulator sim(w, *options);
  sim::Audit audit(w);
  sim.AddObserver(&audit);
  // The report's time series and listed workloads (JSON and HTML): observers
  // only, so the run's decisions are the same with or without them.
  std::unique_ptr<report::TimeSeriesRecorder> series;
  std::unique_ptr<report::WorkloadRecorder> listed;
  if (!json_path.empty() || !html_path.empty()) {
    series = std::make_unique<report::TimeSeriesRecorder>(w, sim.scheduler());
    listed = std::make_unique<report::WorkloadRecorder>(w, sim.scheduler());
    sim.AddObserver(series.get());
    sim.AddObserver(listed.get());
  }
  std::ofstream events_file;
  std::unique_ptr<sim::EventLogWriter> log;
  if (!events_path.empty()) {
    std::ostream* out = &std::cout;
    if (events_path != "-") {
      events_file.open(events_path, std::ios::binary);
      if (!events_file) return Fail(IoError(events_path + ": cannot open for writing"));
      out = &events_file;
    }
    log = std::make_unique<sim::EventLogWriter>(sim.scheduler(), w, *out);
    sim.AddObserver(log.get());
  }
  // Restore replays a logged run's commands (the observers see its events
  // again, so the report covers the whole run), then the run goes on.
  std::string restored;
  if (!command_log.restore.empty()) {
    // A year of the flagship logs about 45 MB; 1 GiB bounds what is read.
    auto text = ReadRegularFile(command_log.restore, int64_t{1} << 30, "command log");
    if (!text.ok()) return Fail(text.status());
    restored = std::move(*text);
    auto commands = scheduler::ParseCommandLog(restored, w, command_log.restore);
    if (!commands.ok()) return Fail(commands.status());
    // A log may carry contract amendments (as `serve` records them); the
    // report then shows the amended terms.
    sim.AllowAmendments(&scenario->world);
    Status s = sim.Restore(*commands);
    if (!s.ok()) return Fail(InvalidInput(command_log.restore + ": " + s.message()));
  }
  std::ofstream command_file;
  std::unique_ptr<scheduler::JsonCommandLog> command_writer;
  if (!command_log.write.empty()) {
    command_file.open(command_log.write, std::ios::binary);
    if (!command_file) return Fail(IoError(command_log.write + ": cannot open for writing"));
    command_file << restored;  // a restored run's log is the whole run's
    command_writer = std::make_unique<scheduler::JsonCommandLog>(sim.scheduler(), command_file);
    sim.AttachLog(command_writer.get());
  }
  const sim::RunStats stats = sim.Run();
  if (command_file.is_open()) {
    command_file.close();
    if (!command_file) return Fail(IoError(command_log.write + ": write failed"));
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  if (progress_shown) std::fprintf(stderr, "\r%80s\r", "");
  if (tty && !quiet) {
    std::fprintf(stderr, "  %lld events in %.2f s (%.0f events/s)\n",
                 static_cast<long long>(stats.events), secs,
                 secs > 0 ? static_cast<double>(stats.events) / secs : 0.0);
  }
  if (events_file.is_open()) {
    events_file.close();
    if (!events_file) return Fail(IoError(events_path + ": write failed"));
  }
  Activity() = "building the report of " + c.scenario;
  report::Report r =
      report::Build(w, sim.scheduler(), audit, stats, scheduler::PolicyLabel(options->scheduler));
  r.inputs = loaded->inputs;
  r.overrides = scenario->overrides;
  if (series) {
    r.timeseries = series->Finish(stats.end);
    r.workloads = listed->Finish(stats.end);
    report::ExplainWaiting(*r.workloads, sim.scheduler_for_explain(), stats.end);
  }
  // The same scenario under the other cost model, so the report can compare
  // total cost (spend + shortfall) under both.
  bool has_commitments = false;
  for (const auto& contract : w.contracts)
    has_commitments |= contract.committed_spend > Money() || !contract.minimums.empty();
  if (compare && has_commitments) {
    sim::Options other = *options;
    other.progress = nullptr;
    other.scheduler.cost_model =
        options->scheduler.cost_model == contracts::CostModel::kContractAware
            ? contracts::CostModel::kCheapestPrice
            : contracts::CostModel::kContractAware;
    sim::Simulator baseline(w, other);
    const sim::RunStats other_stats = baseline.Run();
    r.comparison.front().policy = contracts::CostModelName(options->scheduler.cost_model);
    r.comparison.push_back(report::CostOf(w, baseline.scheduler(), other_stats.end,
                                          contracts::CostModelName(other.scheduler.cost_model)));
  }
  if (!json_path.empty()) {
    Status s = WriteTo(json_path, [&](std::ostream& out) { report::WriteJson(r, out); });
    if (!s.ok()) return Fail(s);
  }
  if (!html_path.empty()) {
    Status s = WriteTo(html_path, [&](std::ostream& out) { report::WriteHtml(r, out); });
    if (!s.ok()) return Fail(s);
  }
  const bool text = !quiet && json_path != "-" && events_path != "-" && html_path != "-";
  if (text) report::WriteText(r, std::cout);
  // Without the text report, skipped rows still reach a person (and the JSON has them).
  for (const report::InputRow& i : r.inputs) {
    if (!text && i.bad_rows > 0) PrintInputs({i}, std::cerr);
  }
  return kExitOk;
}

int ExplainCommand(const Common& c, const std::string& id, const std::string& at_text) {
  auto loaded = Load(c);
  if (!loaded.ok()) return Fail(loaded.status());
  for (const report::InputRow& i : loaded->inputs) {
    if (i.bad_rows > 0) PrintInputs({i}, std::cerr);
  }
  io::Scenario* scenario = &loaded->scenario;
  auto options = SimOptions(*scenario, c);
  if (!options.ok()) return Fail(options.status());
  std::optional<Time> at;
  if (!at_text.empty()) {
    auto t = ParseTime(at_text);
    if (!t.ok()) return Fail(InvalidArgument("--at: " + t.status().message()));
    at = *t;
  }
  Status s = report::Explain(scenario->world, *options, id, at, std::cout);
  if (!s.ok()) return Fail(s);
  return kExitOk;
}

// `contracts`: the run's commitment ledger over time, per contract.
int ContractsCommand(const Common& c, const std::string& json_path, const std::string& html_path,
                     const std::string& by_text) {
  if (json_path == "-" && html_path == "-") {
    return Fail(InvalidArgument(
        "--json - and --html - would interleave on standard output: send one of them to a file"));
  }
  auto by = report::ParsePeriod(by_text);
  if (!by.ok()) return Fail(by.status());
  auto loaded = Load(c);
  if (!loaded.ok()) return Fail(loaded.status());
  for (const report::InputRow& i : loaded->inputs) {
    if (i.bad_rows > 0) PrintInputs({i}, std::cerr);
  }
  auto options = SimOptions(loaded->scenario, c);
  if (!options.ok()) return Fail(options.status());
  const world::World& w = loaded->scenario.world;
  sim::Simulator sim(w, *options);
  const sim::RunStats stats = sim.Run();
  const report::ContractsView view = report::BuildContractsView(
      w, sim.scheduler(), stats, scheduler::PolicyLabel(options->scheduler), *by);
  if (!json_path.empty()) {
    Status s = WriteTo(json_path, [&](std::ostream& out) { report::WriteJson(view, out); });
    if (!s.ok()) return Fail(s);
  }
  if (!html_path.empty()) {
    Status s = WriteTo(html_path, [&](std::ostream& out) { report::WriteHtml(view, out); });
    if (!s.ok()) return Fail(s);
  }
  if (json_path != "-" && html_path != "-") report::WriteText(view, std::cout);
  return kExitOk;
}

struct GenerateArgs {
  gen::ScaleOptions options;
  std::string start;
  std::string load = "0.6";
  std::string output = "-";
};

int Generate(GenerateArgs& args) {
  if (!args.start.empty()) {
    auto t = ParseTime(args.start);
    if (!t.ok()) return Fail(InvalidArgument("--start: " + t.status().message()));
    args.options.start = *t;
  }
  auto load = ParseScaledDecimal(args.load, 3);
  if (!load.ok()) return Fail(InvalidArgument("--load: " + load.status().message()));
  args.options.load_milli = *load;
  if (Status s = gen::ValidateOptions(args.options); !s.ok()) return Fail(s);
  Activity() = "generating a scenario of " + std::to_string(args.options.gpus) + " GPUs, " +
               std::to_string(args.options.pools) + " pools and " +
               std::to_string(args.options.jobs) + " jobs";
  const std::string yaml = gen::GenerateScenarioYaml(args.options);
  // What generate writes, validate accepts: options that pass their own
  // checks can still make a world the loader rejects (a run past year 9999).
  Activity() = "validating the generated scenario";
  if (static_cast<int64_t>(yaml.size()) > io::kMaxScenarioBytes) {
    return Fail(InvalidArgument("these options generate " + std::to_string(yaml.size()) +
                                " bytes of YAML, more than the loader reads (" +
                                std::to_string(io::kMaxScenarioBytes) + "): use fewer pools"));
  }
  io::LoadOptions check_options;
  check_options.expand_job_streams = false;  // the streams are checked, not drawn
  if (auto check = io::LoadScenarioString(yaml, "<generated>", check_options); !check.ok()) {
    return Fail(InvalidArgument("these options generate a scenario that does not validate:\n" +
                                check.status().message()));
  }
  Status s = WriteTo(args.output, [&](std::ostream& out) { out << yaml; });
  if (!s.ok()) return Fail(s);
  return kExitOk;
}

}  // namespace
}  // namespace polycloud

namespace polycloud {
namespace {

// Exit 4 when standard output could not be written (a full disk, a closed
// pipe, > /dev/full): a report that did not reach its reader is not a success.
int FinishOutput(int code) {
  std::cout.flush();
  bool failed = !std::cout;
  errno = 0;
  failed |= std::fflush(stdout) != 0 || std::ferror(stdout) != 0;
  const int flush_errno = errno;
  failed |= std::fclose(stdout) != 0;
  if (failed && code == kExitOk) {
    const int e = flush_errno != 0 ? flush_errno : errno;
    return Fail(IoError(std::string("standard output: write failed") +
                        (e != 0 ? std::string(" (") + std::strerror(e) + ")" : "")));
  }
  return code;
}

}  // namespace

// The command line, parsed and run; main() adds the checks around it.
int Main(int argc, char** argv);

}  // namespace polycloud

int main(int argc, char** argv) {
  using namespace polycloud;
  int code = kExitInternal;
  try {
    code = Main(argc, argv);
  } catch (const std::bad_alloc&) {
    // Exit 3: the input asks for more than this machine holds (docs/cli.md).
    std::cerr << "polycloud: out of memory while " << Activity()
              << " (the input is too large for the memory available)\n";
    return kExitInvalidInput;
  }
  return FinishOutput(code);
}

int polycloud::Main(int argc, char** argv) {
  CLI::App app{
      "polycloud — a multi-cloud AI compute broker: places training and inference work across "
      "providers "
      "under contract terms, and explains every decision.\nExit codes: 0 ok, 1 internal error, 2 "
      "usage, "
      "3 invalid input, 4 i/o error, 5 not found (docs/cli.md)."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "polycloud 0.1.0");

  Common validate_args;
  CLI::App* validate =
      app.add_subcommand("validate", "Check a scenario; print every error with file:line:column");
  AddCommon(validate, validate_args);
  AddTraceOptions(validate, validate_args.traces, validate_args.skip_bad_rows);

  Common sim_args;
  SimulateOutputs sim_outputs;
  bool quiet = false;
  CLI::App* simulate =
      app.add_subcommand("simulate", "Replay a scenario on a virtual clock and print the report");
  AddCommon(simulate, sim_args);
  AddTraceOptions(simulate, sim_args.traces, sim_args.skip_bad_rows);
  simulate->add_option("--json", sim_outputs.json,
                       "Also write the report as JSON to FILE ('-' for standard output)");
  simulate->add_option("--html", sim_outputs.html,
                       "Also write the report as one self-contained HTML page with charts to FILE "
                       "('-' for standard output)");
  simulate->add_option(
      "--events", sim_outputs.events,
      "Write the event log, stamped with simulated time, to FILE ('-' for standard output)");
  simulate->add_flag("--quiet,-q", quiet, "Print no summary tables and no progress");
  CommandLogPaths command_log;
  simulate->add_option("--command-log", command_log.write,
                       "Write every command the scheduler accepts, one JSON line each, to FILE "
                       "(docs/commands.md)");
  simulate->add_option("--restore", command_log.restore,
                       "Replay a command log of this scenario (cut after any instant's place "
                       "pass) and go on from there; the report is the whole run's");
  simulate->add_flag("--until-term-end", sim_args.until_term_end,
                     "Run to the end of the latest contract term instead of the scenario's end "
                     "(workloads as the scenario defines them)");
  bool no_compare = false;
  simulate->add_flag("--no-compare", no_compare,
                     "Do not re-run the scenario under the other cost model (contract-aware vs "
                     "cheapest-price) to compare total cost");

  Common explain_args;
  std::string explain_id, explain_at;
  CLI::App* explain =
      app.add_subcommand("explain", "Say why a job or service is where it is, or why it waits");
  AddCommon(explain, explain_args);
  AddTraceOptions(explain, explain_args.traces, explain_args.skip_bad_rows);
  explain->add_option("id", explain_id, "Job or service id");
  std::string explain_server;
  explain->add_option("--server", explain_server,
                      "Ask a running broker instead (then the only argument is the job id; the "
                      "token comes from $POLYCLOUD_TOKEN)");
  bool explain_json = false;
  explain->add_flag("--json", explain_json, "With --server: print the server's JSON");
  explain->add_option("--at", explain_at,
                      "Explain the state at this UTC time (default: the end of the run)");

  Common contracts_args;
  std::string contracts_json, contracts_html, contracts_by = "month";
  CLI::App* contracts_cmd = app.add_subcommand(
      "contracts",
      "Show the commitment ledger over time per contract: spend, minimums, ROFR offers");
  AddCommon(contracts_cmd, contracts_args);
  AddTraceOptions(contracts_cmd, contracts_args.traces, contracts_args.skip_bad_rows);
  contracts_cmd->add_option("--json", contracts_json,
                            "Also write the ledger as JSON to FILE ('-' for standard output, "
                            "instead of the tables)");
  contracts_cmd->add_option("--html", contracts_html,
                            "Also write the ledger as one self-contained HTML page with a "
                            "burn-down chart per contract to FILE ('-' for standard output)");
  contracts_cmd->add_option("--by", contracts_by, "One table row per day, week or month")
      ->capture_default_str();

  std::function<int()> replay = AddReplayCommand(app);
  std::function<int()> fragmentation = AddFragmentationCommand(app);
  std::function<int()> plan = AddPlanCommand(app);
  std::function<int()> serve_commands = AddServeCommands(app);
  std::function<int()> gateway_commands = AddGatewayCommands(app);
  std::function<int()> whatif_commands = AddWhatIfCommands(app);

  GenerateArgs gen_args;
  CLI::App* generate = app.add_subcommand(
      "generate", "Write a seeded scenario at scale: N GPUs in P pools, M jobs over a year");
  // A count option: its text is checked (IntegerIn) for the variable's type,
  // then its range by gen::ValidateOptions.
  auto count = [&](const char* name, auto& variable, const char* description) {
    generate->add_option(name, variable, description)
        ->capture_default_str()
        ->transform(
            IntegerIn(0, std::numeric_limits<std::remove_reference_t<decltype(variable)>>::max()));
  };
  count("--gpus", gen_args.options.gpus, "GPUs at peak, over all pools");
  count("--providers", gen_args.options.providers, "Providers");
  count("--sites", gen_args.options.sites, "Sites");
  count("--pools", gen_args.options.pools, "Pools");
  count("--jobs", gen_args.options.jobs, "Jobs arriving over the run");
  count("--services", gen_args.options.services, "Inference services");
  count("--days", gen_args.options.days, "Length of the run in days");
  generate->add_option("--start", gen_args.start, "Start of the run (default 2026-01-01)");
  generate
      ->add_option("--load", gen_args.load,
                   "Offered job load as a share of the fleet at reference speed")
      ->capture_default_str();
  generate->add_option("--seed", gen_args.options.seed, "Seed (same seed, same bytes)")
      ->capture_default_str()
      ->transform(AnyUint64());
  generate->add_option("-o,--output", gen_args.output, "Output file ('-' for standard output)")
      ->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  if (*validate) return Validate(validate_args);
  if (*simulate) {
    return Simulate(sim_args, sim_outputs, command_log, quiet, !no_compare);
  }
  if (*explain) {
    if (!explain_server.empty()) {
      if (!explain_id.empty()) {
        return Fail(InvalidArgument("explain --server takes one argument, the job id"));
      }
      return ExplainOnServer(explain_server, explain_args.scenario, explain_json);
    }
    if (explain_id.empty()) return Fail(InvalidArgument("explain: give the scenario and the id"));
    return ExplainCommand(explain_args, explain_id, explain_at);
  }
  if (const int code = serve_commands(); code >= 0) return code;
  if (const int code = gateway_commands(); code >= 0) return code;
  if (const int code = whatif_commands(); code >= 0) return code;
  if (*contracts_cmd)
    return ContractsCommand(contracts_args, contracts_json, contracts_html, contracts_by);
  if (*app.get_subcommand("replay")) return replay();
  if (*app.get_subcommand("fragmentation")) return fragmentation();
  if (*app.get_subcommand("plan")) return plan();
  if (*generate) return Generate(gen_args);
  return kExitUsage;
}
