// Readers for Alibaba's public GPU-cluster data: the cluster-trace-gpu-v2023
// ("openb") task list and node list, and the cluster-trace-v2026-spot-gpu node
// list. See docs/traces.md for the field mapping and its caveats.
//
// Pod list columns (by header name; the sampled variants such as
// openb_pod_list_multigpu50.csv carry only the first five):
//   name, cpu_milli, memory_mib, num_gpu             required
//   gpu_milli, gpu_spec, qos, pod_phase,
//   creation_time, deletion_time, scheduled_time     optional
// Times are seconds from the trace start (options.trace_start). The recorded
// times, gpu_milli (GPU sharing), gpu_spec (allowed models) and the phase are
// kept on each AlibabaPod so a fidelity check can compare a replay with them.
// Pods in phase Running were still running when the trace ended: their
// deletion_time is the end of observation, so their run time is a lower bound
// (run_time_censored).
//
// Node list columns: sn,cpu_milli,memory_mib,gpu,model (CPU-only nodes have
// gpu 0 and an empty model). Spot node list: gpu_model,gpu_capacity_num,
// cpu_num,node_name. Models resolve through AcceleratorNames (G2/G3 and
// GPU-series-* are undisclosed codes mapped by assumption; see the alias table).
//
//   POLYCLOUD_ASSIGN_OR_RETURN(AlibabaPodTrace pods, ReadAlibabaPods(
//       TraceInput::File(dir + "/openb_pod_list_default.csv"), {}));
//   POLYCLOUD_ASSIGN_OR_RETURN(NodeList nodes, ReadAlibabaGpuNodes(
//       TraceInput::File(dir + "/openb_node_list_gpu_node.csv"), {}));
//
// Thread-safety: plain values and free functions; a RecordReader is used by one
// thread at a time.
#ifndef POLYCLOUD_TRACES_ALIBABA_H_
#define POLYCLOUD_TRACES_ALIBABA_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "polycloud/base/status.h"
#include "polycloud/base/units.h"
#include "polycloud/traces/accelerator_names.h"
#include "polycloud/traces/fleet.h"
#include "polycloud/traces/line_reader.h"
#include "polycloud/traces/read_options.h"
#include "polycloud/traces/record_reader.h"
#include "polycloud/world/world.h"

namespace polycloud::traces {

enum class PodPhase { kUnknown, kSucceeded, kRunning, kPending, kFailed };
const char* PodPhaseName(PodPhase phase);

struct AlibabaPodOptions {
  ReadOptions read;
  AcceleratorNames accelerators;
  // The instant the trace's relative times count from.
  Time trace_start = Time::FromUnixSeconds(0);
  // The GPU the recorded run times are taken to be on (the trace does not say
  // where a pod ran): "G2", the model of 4,392 of the cluster's 6,212 GPUs.
  std::string reference_accelerator = "G2";
  // CPU-only pods (num_gpu 0) are counted as filtered unless this is set.
  bool keep_cpu_only = false;
};

struct AlibabaPod {
  // id = name; kind training; workload_class = qos; preemptible = (qos == "BE");
  // gpus = num_gpu; gpu_milli = the pod's share when it asks for part of one
  // GPU (num_gpu 1, gpu_milli < 1000), else 0; cpu_milli and memory_mib as
  // the pod asks (they count in pools that declare CPU and memory per node;
  // a share runs only in a pool with GPU sharing); arrival = trace_start +
  // creation_time; work_gpu_seconds = recorded run time x num_gpu x the
  // reference accelerator's speed (0 when the pod never ran or times are
  // absent); accelerators = the gpu_spec models resolved (empty = any).
  world::Job job;
  int64_t cpu_milli = 0;
  int64_t memory_mib = 0;
  int64_t num_gpu = 0;
  int64_t gpu_milli = 0;              // per GPU, 1-1000; 0 for CPU-only pods
  std::vector<std::string> gpu_spec;  // allowed models as in the trace; empty = any
  std::string qos;                    // LS, BE, Burstable, Guaranteed ("" if absent)
  PodPhase phase = PodPhase::kUnknown;
  // Seconds from the trace start, as recorded; nullopt when absent or empty.
  std::optional<int64_t> creation_time, scheduled_time, deletion_time;
  bool run_time_censored = false;  // phase Running: deletion_time is the trace end
  int64_t line = 0;

  // scheduled_time - creation_time, when both are known.
  std::optional<Duration> RecordedQueueingDelay() const;
  // deletion_time - scheduled_time, when both are known (a lower bound when censored).
  std::optional<Duration> RecordedRunTime() const;
};

struct AlibabaPodTrace {
  std::vector<AlibabaPod> pods;                  // in file order
  std::vector<world::Accelerator> accelerators;  // what Job::accelerators index
  ReadStats stats;
};

// A streaming reader of a pod list. Errors: InvalidArgument if
// reference_accelerator does not resolve; those of CsvReader::Open.
Result<RecordReader<AlibabaPod>> OpenAlibabaPods(const TraceInput& input,
                                                 const AlibabaPodOptions& options);
Result<AlibabaPodTrace> ReadAlibabaPods(const TraceInput& input, const AlibabaPodOptions& options);

struct NodeListOptions {
  ReadOptions read;
  AcceleratorNames accelerators;
};

// openb_node_list_*.csv. A GPU node whose model does not resolve is a bad row.
Result<NodeList> ReadAlibabaGpuNodes(const TraceInput& input, const NodeListOptions& options);
// node_info_df.csv of the spot trace (cpu_num vCPUs become cpu_milli; no memory).
Result<NodeList> ReadAlibabaSpotNodes(const TraceInput& input, const NodeListOptions& options);

}  // namespace polycloud::traces

#endif  // POLYCLOUD_TRACES_ALIBABA_H_
