// Trace replays: a public cluster trace replayed by the simulator on a fleet
// built from the trace's own data, with the job statistics the scheduling
// literature reports (job completion time and queueing delay, mean and
// percentiles, in seconds). See docs/traces.md ("Replays").
//
// - ReplayPhilly: each Philly virtual cluster on its own fleet (vc_nodes.csv,
//   8 GPUs per node), under a scheduler policy (fifo, sjf, srtf, ...).
// - CheckAlibabaFidelity: the Alibaba GPU pod trace on a fleet built from its
//   node list (heterogeneous models, gpu_spec constraints, GPU sharing in
//   milli-GPU units) under FIFO, next to the same statistics computed from the
//   trace's recorded timestamps.
//
//   replay::PhillyReplayOptions options;
//   options.trace_path = "philly.csv.gz";
//   options.policy = scheduler::Policy::kSrtf;
//   POLYCLOUD_ASSIGN_OR_RETURN(replay::PhillyReplay r, replay::ReplayPhilly(options));
//   replay::WriteText(r, std::cout);
//
// Thread-safety: plain values and free functions.
#ifndef POLYCLOUD_REPLAY_REPLAY_H_
#define POLYCLOUD_REPLAY_REPLAY_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "polycloud/base/status.h"
#include "polycloud/base/units.h"
#include "polycloud/io/scenario.h"
#include "polycloud/scheduler/scheduler.h"
#include "polycloud/traces/read_options.h"
#include "polycloud/traces/trace_format.h"
#include "polycloud/world/world.h"

namespace polycloud::replay {

// Mean and nearest-rank percentiles of a set of durations, in seconds.
struct DelayStats {
  int64_t count = 0;
  double mean = 0;  // rounded to 0.1 s
  int64_t p50 = 0, p90 = 0, p99 = 0, max = 0;
};
// Sorts `seconds` in place. An empty set gives all zeros.
DelayStats ComputeDelayStats(std::vector<int64_t>& seconds);

// What a read reported about its rows, for the report.
struct RowReport {
  std::string path;
  int64_t records = 0;
  int64_t bad_rows = 0;
  std::vector<std::string> bad_row_messages;  // the first few "path:line: ..."
};
RowReport RowReportOf(const std::string& path, const traces::ReadStats& stats);

// ---- Philly, per virtual cluster ----

struct PhillyReplayOptions {
  std::string trace_path;     // philly.csv[.gz]
  std::string vc_nodes_path;  // "" = vc_nodes.csv next to the trace
  scheduler::Policy policy = scheduler::Policy::kFifo;
  bool consolidate = false;
  // Nodes of 8 GPUs, a job of up to 8 inside one node and a larger gang on
  // whole free nodes, chosen by this policy; kPooled: each cluster one bag of
  // GPUs (the replay before nodes).
  placement::NodePolicy nodes = placement::NodePolicy::kBestFit;
  traces::ReadOptions read;       // skip_bad_rows applies to both files
  std::vector<std::string> only;  // replay only these virtual clusters (empty = all)
  // Arrivals compressed by this factor (>= 1): each submit time moves to the
  // trace's first submit + (submit − first) ÷ compress, whole seconds — the
  // same jobs on a busier cluster, where scheduling matters.
  int64_t compress = 1;
};

struct VirtualClusterResult {
  std::string id;
  int64_t nodes = 0;
  int64_t gpus = 0;
  int64_t jobs = 0;        // replayed
  int64_t unfinished = 0;  // cannot happen with a bounded trace; reported if it does
  int64_t preemptions = 0;
  DelayStats completion;  // JCT: end - submit
  DelayStats queueing;    // JCT - recorded duration: all time not running
};

struct LeftOutCluster {
  std::string id;
  int64_t jobs = 0;
};

struct PhillyReplay {
  std::string policy;
  bool consolidate = false;
  std::string node_choice;                     // placement::NodePolicyName
  std::vector<VirtualClusterResult> clusters;  // in vc_nodes.csv order
  VirtualClusterResult overall;                // every replayed job
  // Jobs of virtual clusters without a node count: not replayed.
  std::vector<LeftOutCluster> missing_clusters;
  int64_t missing_cluster_jobs = 0;
  // Jobs whose gang exceeds their virtual cluster: they could never start; not replayed.
  int64_t oversized_jobs = 0;
  std::vector<std::string> oversized_examples;  // "philly-12 (128 GPUs, vc 0e4a51 of 32)"
  RowReport jobs_read, clusters_read;
};

// Errors: those of the readers (InvalidInput "path:line: ..." at the first bad
// row unless read.skip_bad_rows; IoError for an unreadable file);
// InvalidArgument for an unknown cluster in `only`.
Result<PhillyReplay> ReplayPhilly(const PhillyReplayOptions& options);

void WriteText(const PhillyReplay& replay, std::ostream& out);
void WriteJson(const PhillyReplay& replay, std::ostream& out);

// ---- Alibaba fidelity ----

struct FidelityOptions {
  std::string pods_path;   // openb_pod_list_*.csv with times
  std::string nodes_path;  // "" = openb_node_list_gpu_node.csv next to the pods
  scheduler::Policy policy = scheduler::Policy::kFifo;
  // Pods on the node list's nodes (milli-GPU units, a pod inside one node),
  // or kPooled: each pool one bag of units.
  placement::NodePolicy nodes = placement::NodePolicy::kBestFit;
  traces::ReadOptions read;
  Duration bucket = Duration::Days(7);  // utilisation is reported per bucket
};

struct UtilisationBucket {
  Time start;
  int64_t recorded_milli = 0;   // GPU occupancy / installed GPUs, thousandths
  int64_t simulated_milli = 0;  // same, in the replay
};

struct FidelityReport {
  std::string policy;
  std::string node_choice;
  int64_t pods = 0;              // GPU pods replayed (scheduled in the trace)
  int64_t sharing_pods = 0;      // gpu_milli < 1000
  int64_t constrained_pods = 0;  // with a gpu_spec
  int64_t censored_pods = 0;     // still running when the trace ended
  int64_t never_scheduled = 0;   // Pending in the trace: not replayed
  int64_t unplaceable = 0;       // no pool of the fleet can ever hold them: not replayed
  int64_t unfinished = 0;        // did not finish in the replay
  int64_t fleet_gpus = 0;
  int64_t fleet_pools = 0;
  DelayStats recorded_queueing, simulated_queueing;
  int64_t recorded_mean_utilisation_milli = 0, simulated_mean_utilisation_milli = 0;
  std::vector<UtilisationBucket> buckets;
  RowReport pods_read, nodes_read;
};

// Errors: as ReplayPhilly.
Result<FidelityReport> CheckAlibabaFidelity(const FidelityOptions& options);

void WriteText(const FidelityReport& report, std::ostream& out);
void WriteJson(const FidelityReport& report, std::ostream& out);

// ---- A trace added to a scenario (simulate --trace FORMAT:PATH) ----

// Reads `spec` and adds it to `world`: philly and alibaba-gpu pods become jobs
// (pods that never ran have no work and are left out; a job id already in the
// world is skipped), alibaba-gpu / alibaba-spot node lists and skypilot
// catalogs become sites and pools (AddFleetToWorld). Jobs are re-sorted by
// arrival and the indexes rebuilt. Returns the read's row counts.
// Errors: the reader's; InvalidArgument for contents that need more than a
// path (vc_nodes.csv, azure-llm demand); those of AddFleetToWorld.
Result<traces::ReadStats> AddTraceToWorld(const traces::TraceSpec& spec,
                                          const traces::ReadOptions& read, world::World& world);

// What one trace added to a scenario, for the report's inputs section.
struct AppliedTrace {
  std::string format;  // philly, alibaba-gpu, ...
  std::string path;
  traces::ReadStats stats;  // records, accepted, filtered (out of the window), bad rows
  std::string added;        // "1234 jobs", "52 pools", "demand of service X: ..."
};

// AddTraceToWorld, also saying what was added.
Result<AppliedTrace> AddTraceToWorldReported(const traces::TraceSpec& spec,
                                             const traces::ReadOptions& read, world::World& world);

// Applies a loaded scenario's `traces:` section to its world, in file order
// (docs/scenario.md "traces"): job traces add jobs (only arrivals in
// [from, until), moved by start_at - from), node lists and catalogs add
// pools, an azure-llm entry sets its service's demand. `skip_bad_rows` (the
// CLI's --skip-bad-rows) applies to every entry, in addition to each entry's
// own. Errors: those of the readers and AddFleetToWorld, each message
// prefixed with the entry's "scenario.yaml:line:column: in this trace entry: "
// (so a missing file names both the scenario line and the path, and a bad row
// its "trace-path:line").
Result<std::vector<AppliedTrace>> AddScenarioTraces(io::Scenario& scenario, bool skip_bad_rows);

}  // namespace polycloud::replay

#endif  // POLYCLOUD_REPLAY_REPLAY_H_
