// The fragmentation experiment of the FGD paper (Weng et al., USENIX ATC '23,
// Fig. 9(a)) on the Alibaba openb cluster: pods of a pod list arrive one by
// one in a seeded random order and never leave, until the GPU share they asked
// for reaches `target_percent` of the cluster's GPUs; a pod that fits nowhere
// is counted as failed and the run goes on. The result is the GPU allocation
// ratio (allocated GPU milli / the cluster's) against the arrived workload in
// steps of 1 % of capacity, per node-choice policy, averaged over seeds.
//
// The arrivals follow the paper's simulator: every pod of the list once, in a
// seeded shuffle, then pods drawn at random with replacement from the list
// until the next one would take the requested GPU share past the target (a
// list that already asks for more stops at the first pod that would pass it).
// Point k of a run is the mean allocation ratio over the arrivals after which
// the arrived share rounds (half up) to k %; a step no arrival rounds to takes
// the previous step's value. docs/traces.md, "The fragmentation experiment".
//
//   frag::ExperimentOptions options;
//   options.pods_path = "openb_pod_list_default.csv";
//   POLYCLOUD_ASSIGN_OR_RETURN(frag::ExperimentResult r, frag::RunExperiment(options));
//   frag::WriteText(r, std::cout);
//
// Every figure is an integer or an exact rational rounded once, so the same
// inputs and seeds give the same bytes on every machine.
//
// Thread-safety: plain values and free functions.
#ifndef POLYCLOUD_FRAG_EXPERIMENT_H_
#define POLYCLOUD_FRAG_EXPERIMENT_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "polycloud/base/status.h"
#include "polycloud/frag/cluster.h"
#include "polycloud/frag/fragmentation.h"
#include "polycloud/frag/policy.h"
#include "polycloud/traces/alibaba.h"
#include "polycloud/traces/read_options.h"

namespace polycloud::frag {

inline constexpr char kFragmentationSchema[] = "polycloud.fragmentation/1";
// Allocation ratios are kept in millionths of a percent.
inline constexpr int64_t kMicroPercent = 1'000'000;

struct ExperimentOptions {
  std::string pods_path;                  // openb_pod_list_*.csv
  std::string nodes_path;                 // "" = openb_node_list_gpu_node.csv next to the pods
  std::vector<Policy> policies;           // empty = the paper's six
  int seeds = 10;                         // runs per policy, seeds first_seed, first_seed + 1, ...
  uint64_t first_seed = 42;               // the paper's artifact ran seeds 42..51
  int target_percent = 130;               // arrivals stop at this share of the cluster's GPUs
  int coverage_percent = 95;              // FGD's task mix: the types covering this share of pods
  TieBreak tie_break = TieBreak::kFirst;  // as the paper's simulator (docs/traces.md)
  traces::ReadOptions read;
};

// One run: a policy and a seed.
struct RunResult {
  std::vector<int64_t> alloc_micro_pct;  // step k = 0..target, millionths of a percent
  int64_t arrived_pods = 0;
  int64_t arrived_gpu_milli = 0;
  int64_t failed_pods = 0;
  int64_t failed_gpu_milli = 0;
  int64_t allocated_gpu_milli = 0;  // at the end
};

struct PolicySeries {
  Policy policy = Policy::kRandom;
  std::vector<int64_t> alloc_micro_pct;  // mean over seeds, per step
  std::vector<int64_t> final_micro_pct;  // per seed: the value at the target step
  int64_t unallocated_gpu_milli = 0;     // mean over seeds at the end, rounded
  int64_t failed_pods_centi = 0;         // mean failed pods x 100, rounded
  int64_t arrived_pods_centi = 0;        // mean arrived pods x 100, rounded
};

struct ExperimentResult {
  ExperimentOptions options;  // as run (nodes_path resolved, policies filled in)
  int64_t nodes = 0, gpu_nodes = 0, gpus = 0;
  std::vector<std::string> models;
  int64_t pods = 0, cpu_only_pods = 0, requested_gpu_milli = 0;
  TaskMix mix;
  std::vector<PolicySeries> series;
  std::vector<std::string> bad_row_messages;  // when read.skip_bad_rows skipped rows
  int64_t bad_rows = 0;
};

// Reads the files and runs every policy over every seed. Errors: those of the
// trace readers (InvalidInput with path:line:column, IoError), InvalidInput
// for a node list without GPUs or a pod list without GPU pods,
// InvalidArgument for seeds outside 1..1000 or a target outside 1..1000.
Result<ExperimentResult> RunExperiment(const ExperimentOptions& options);

// The experiment on traces already read (RunExperiment after reading; the
// fuzz target's entry). `options` names the files only for messages and the
// output. Errors: as RunExperiment, except those of reading.
Result<ExperimentResult> RunExperimentOn(const traces::NodeList& nodes,
                                         const traces::AlibabaPodTrace& pods,
                                         const ExperimentOptions& options);

// One run on a fresh copy of `cluster` (the building block of RunExperiment).
RunResult RunOnce(const Cluster& cluster, const std::vector<Pod>& pods, const TaskMix& mix,
                  Policy policy, uint64_t seed, int target_percent,
                  TieBreak tie_break = TieBreak::kFirst);

// The arrival order of a run: indices into `pods` (see the header comment).
std::vector<int> ArrivalOrder(const std::vector<Pod>& pods, int64_t cluster_gpu_milli,
                              uint64_t seed, int target_percent);

// A table with rows every 10 % and the target row, unallocated GPUs and
// failed pods at the target.
void WriteText(const ExperimentResult& result, std::ostream& out);
// The JSON document (schema kFragmentationSchema), docs/traces.md.
void WriteJson(const ExperimentResult& result, std::ostream& out);

}  // namespace polycloud::frag

#endif  // POLYCLOUD_FRAG_EXPERIMENT_H_
