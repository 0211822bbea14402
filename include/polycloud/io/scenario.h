// Scenario loading: YAML text → a validated world::World.
//
// The format is documented key by key in docs/scenario.md. Loading is strict:
// unknown keys, wrong types, bad units, dangling references and inconsistent
// values are all errors, each reported as "file:line:column: what is wrong
// (expected X, found Y)". All errors found are reported at once (up to a cap),
// and nothing is returned from a file with any error: there is no half-loaded
// world. Job streams are expanded into jobs with the scenario's seed, so the same
// file always yields the same World.
//
//   Result<world::World> w = io::LoadScenarioFile("examples/openai-2025.yaml");
//   if (!w.ok()) { std::cerr << w.status().message() << "\n"; return ExitCodeFor(w.status()); }
//
// Thread-safety: the functions are reentrant.
#ifndef POLYCLOUD_IO_SCENARIO_H_
#define POLYCLOUD_IO_SCENARIO_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "polycloud/base/status.h"
#include "polycloud/io/overlay.h"
#include "polycloud/world/world.h"

namespace polycloud::io {

// One problem found in an input, with its position (1-based; 0 when unknown).
struct Diagnostic {
  std::string file;
  int line = 0;
  int column = 0;
  std::string message;
  std::string ToString() const;  // "file:line:column: message"
};

// Scenario-level settings that are not part of the world itself.
// scheduler.rebalance (docs/scenario.md): each key as given, or nullopt for
// the scheduler's default (scheduler::RebalanceOptions).
struct ScenarioRebalance {
  std::optional<bool> enabled;
  std::optional<Duration> every, horizon, min_dwell;
  std::optional<Money> min_saving;
  std::optional<int32_t> max_moves;
};

struct ScenarioOptions {
  std::string policy =
      "priority";            // scheduler policy name: priority, fifo, sjf, srtf, cheapest-price
  bool consolidate = false;  // scheduler.placement: consolidated
  // scheduler.node_choice: best-fit, spread, random, fragmentation or pooled
  // (placement::ParseNodePolicy); empty = the default (best-fit).
  std::string node_choice;
  Duration reoptimize_every;    // scheduler.reoptimize_every; 0 = never
  ScenarioRebalance rebalance;  // scheduler.rebalance
};

// One entry of the scenario's `traces:` section, parsed and checked but not
// read: io does not depend on the trace readers or the simulator. The apps
// apply the entries to the world after loading (replay::AddScenarioTraces,
// docs/scenario.md "traces"). Times and durations use the world's units; the
// `has_*` flags say whether an optional key was given.
struct ScenarioTrace {
  std::string format;           // philly, alibaba-gpu, alibaba-spot, azure-llm, skypilot
  std::string path;             // resolved against the scenario file's folder
  std::string path_as_written;  // as in the file
  std::string where;            // "scenario.yaml:LINE:COLUMN" of the entry, for messages
  bool skip_bad_rows = false;
  // Job traces (philly, alibaba-gpu pods) and azure-llm: keep records whose
  // time (on the trace's clock) is in [from, until); move `from` to `start_at`.
  bool has_from = false, has_until = false, has_start_at = false;
  Time from, until, start_at;
  std::string
      accelerator;  // philly: the trace's GPU; alibaba-gpu: reference GPU ("" = reader default)
  std::string id_prefix;  // philly job ids ("" = reader default "philly-")
  bool has_trace_start = false;
  Time trace_start;      // alibaba-gpu: the instant the pod times count from
  std::string provider;  // skypilot, alibaba-gpu / alibaba-spot node lists ("" = default)
  // alibaba-gpu: pods ask for their GPU share, CPU and memory, and node lists
  // make pools with GPU sharing and CPU and memory per node; false: whole GPUs.
  bool gpu_sharing = true;
  int64_t gpus_per_pool = 0;  // skypilot
  std::string service;        // azure-llm: the service (with `demand: trace`) it drives
  Duration bucket = Duration::Seconds(60);  // azure-llm
  std::string tokens = "all";               // azure-llm: all, generated or context
};

struct Scenario {
  world::World world;
  ScenarioOptions options;
  std::vector<ScenarioTrace> traces;  // in file order; not yet applied to `world`
  // The file has a `gateway:` section (polycloud gateway's deployments, keys
  // and routing; read by gateway::LoadGatewayConfigSection, not here).
  bool has_gateway_section = false;
  // The overrides applied (LoadOptions::overrides), as Override::ToString:
  // "--with plan.yaml", "--set pools.x.gpus=8". The report lists them.
  std::vector<std::string> overrides;
};

// Bounds on what a scenario may ask for, each with its reason (docs/scenario.md
// "Limits").
//
// The largest scenario file read: yaml-cpp holds ~170 bytes of memory per byte
// of text (16 MiB of explicit jobs, 236,000 of them, peak at 2.8 GB; 50 MB
// took 4.9 GB and more); job_streams describe millions of jobs in a few lines.
inline constexpr int64_t kMaxScenarioBytes = int64_t{16} << 20;
// Job streams generate at most this many jobs in all: the scale benchmark's
// 10M-job year peaks at 4.5 GB (docs/performance.md); 50M did not fit in 24 GB.
inline constexpr int64_t kMaxStreamJobs = 10'000'000;
// A periodic timer (procurement.review_every, scheduler.reoptimize_every,
// --reoptimize-every) fires at most this many times over the run, so an
// interval must be at least (end - start) / kMaxTimerFirings: one second over
// a month is 2.6 million re-optimisations.
inline constexpr int64_t kMaxTimerFirings = 100'000;
// The deepest YAML nesting accepted (mappings and lists inside each other); a
// scenario needs about six levels. yaml-cpp's own recursion guard sits above it.
inline constexpr int kMaxYamlDepth = 64;

// InvalidArgument "WHAT: 1s is too short for a run of 31d00h00m (at most
// 100000 firings per run): use at least 27s" when `every` would fire more than
// kMaxTimerFirings times between `start` and `end`; Ok otherwise.
Status CheckTimerInterval(std::string_view what, Duration every, Time start, Time end);

struct LoadOptions {
  std::optional<uint64_t> seed;  // replaces the scenario's seed (job streams are drawn with it)
  int64_t max_stream_jobs =
      kMaxStreamJobs;  // job streams may generate at most this many jobs in all
  // false: job_streams are checked (and their ids) but generate no jobs; for a
  // quick check of a generated file (`polycloud generate`).
  bool expand_job_streams = true;
  // What-if overrides applied to the scenario's YAML before it is read, in
  // this order (polycloud/io/overlay.h, docs/whatif.md). Their errors are
  // diagnostics like the file's own, naming the fragment or the argument.
  std::vector<Override> overrides;
  // simulate --until-term-end: the run ends at the latest contract end when
  // that is later than the scenario's `end`. Workloads are as the scenario
  // defines them (job streams are drawn over the scenario's own window;
  // services keep their last demand).
  bool until_term_end = false;
};

// Parses and validates `text`; `file_name` is used in messages. On failure the
// status is kInvalidInput and its message lists every diagnostic, one per line.
Result<Scenario> LoadScenarioString(std::string_view text, std::string_view file_name,
                                    const LoadOptions& options = {});
// Reads `path`, a regular file of at most kMaxScenarioBytes, and loads it.
// Errors: kIoError when missing, unreadable, or a directory, FIFO or device
// (never opened for reading, so never blocks); kInvalidInput when too large.
Result<Scenario> LoadScenarioFile(const std::string& path, const LoadOptions& options = {});

// The same, returning every diagnostic instead of a joined message (for tests
// and tools). Empty diagnostics ⇔ success.
Result<Scenario> LoadScenarioString(std::string_view text, std::string_view file_name,
                                    std::vector<Diagnostic>* diagnostics,
                                    const LoadOptions& options = {});

// One contract's terms for an amendment (cmd::AmendContract): a YAML or JSON
// mapping with the scenario's contract keys (docs/scenario.md), read against
// `world`'s providers and accelerators and checked like the scenario's own,
// including the magnitude bounds with the amended contract in place. Errors:
// kInvalidInput, "<name>:<line>:<column>: ..." per problem.
Result<world::Contract> ParseContractTerms(std::string_view text, const world::World& world,
                                           std::string_view name);
// The terms as one line of JSON in the scenario's keys; ParseContractTerms
// reads it back to an equal contract.
std::string ContractTermsToJson(const world::World& world, const world::Contract& contract);

// Stops collecting after this many diagnostics (the message says so).
inline constexpr size_t kMaxDiagnostics = 50;

}  // namespace polycloud::io

#endif  // POLYCLOUD_IO_SCENARIO_H_
