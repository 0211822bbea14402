#include "polycloud/traces/alibaba.h"

#include <algorithm>
#include <unordered_map>
#include <utility>

#include "fields.h"

namespace polycloud::traces {
namespace {

using internal::ColumnError;
using internal::IntField;
using internal::OptionalIntField;
using internal::Quoted;
using internal::TextField;
using internal::TrimField;

constexpr int64_t kMaxQuantity = int64_t{1'000'000'000'000};  // cpu_milli, MiB: generous
constexpr int64_t kMaxGpus = 1'000'000;
constexpr int64_t kMaxSeconds = int64_t{1'000'000'000'000};  // ~31,700 years

enum PodColumn {
  kName,
  kCpuMilli,
  kMemoryMib,
  kNumGpu,
  kGpuMilli,
  kGpuSpec,
  kQos,
  kPodPhase,
  kCreationTime,
  kDeletionTime,
  kScheduledTime,
};
const CsvSchema kPodSchema = {
    {"name", true},           {"cpu_milli", true},       {"memory_mib", true},
    {"num_gpu", true},        {"gpu_milli", false},      {"gpu_spec", false},
    {"qos", false},           {"pod_phase", false},      {"creation_time", false},
    {"deletion_time", false}, {"scheduled_time", false},
};

Result<PodPhase> ParsePhase(std::string_view text) {
  if (text.empty()) return PodPhase::kUnknown;
  if (text == "Succeeded") return PodPhase::kSucceeded;
  if (text == "Running") return PodPhase::kRunning;
  if (text == "Pending") return PodPhase::kPending;
  if (text == "Failed") return PodPhase::kFailed;
  return InvalidInput("expected Succeeded, Running, Pending or Failed, found " + Quoted(text));
}

std::string UnknownModel(std::string_view model) {
  return "unknown GPU model " + Quoted(model) +
         " (not in the accelerator table or its aliases; add it to the table)";
}

struct PodMapper {
  AcceleratorNames accelerators;
  Time trace_start;
  int64_t speed_milli;
  bool keep_cpu_only;

  Result<std::optional<AlibabaPod>> operator()(const CsvReader& csv) const {
    AlibabaPod pod;
    pod.line = csv.line();
    POLYCLOUD_ASSIGN_OR_RETURN(std::string_view name, TextField(csv, kName));
    POLYCLOUD_ASSIGN_OR_RETURN(pod.cpu_milli, IntField(csv, kCpuMilli, 0, kMaxQuantity));
    POLYCLOUD_ASSIGN_OR_RETURN(pod.memory_mib, IntField(csv, kMemoryMib, 0, kMaxQuantity));
    POLYCLOUD_ASSIGN_OR_RETURN(pod.num_gpu, IntField(csv, kNumGpu, 0, kMaxGpus));
    POLYCLOUD_ASSIGN_OR_RETURN(std::optional<int64_t> gpu_milli,
                               OptionalIntField(csv, kGpuMilli, 0, 1000));
    if (!gpu_milli) gpu_milli = pod.num_gpu > 0 ? 1000 : 0;
    if (pod.num_gpu > 0 && *gpu_milli == 0) {
      return ColumnError(csv, kGpuMilli, "expected 1 to 1000 for a pod with GPUs, found \"0\"");
    }
    if (pod.num_gpu == 0 && *gpu_milli != 0) {
      return ColumnError(
          csv, kGpuMilli,
          "expected 0 for a pod with num_gpu 0, found " + Quoted(TrimField(csv.Field(kGpuMilli))));
    }
    pod.gpu_milli = *gpu_milli;

    // gpu_spec: models separated by '|'; pandas writes an empty one as "nan".
    std::string_view spec = TrimField(csv.Field(kGpuSpec));
    if (spec == "nan") spec = {};
    while (!spec.empty()) {
      size_t bar = spec.find('|');
      std::string_view model = TrimField(spec.substr(0, bar));
      spec = bar == std::string_view::npos ? std::string_view() : spec.substr(bar + 1);
      if (model.empty()) continue;
      world::AcceleratorIndex a = accelerators.Resolve(model);
      if (a == world::kNone) return ColumnError(csv, kGpuSpec, UnknownModel(model));
      pod.gpu_spec.emplace_back(model);
      if (std::find(pod.job.accelerators.begin(), pod.job.accelerators.end(), a) ==
          pod.job.accelerators.end()) {
        pod.job.accelerators.push_back(a);
      }
    }

    pod.qos = std::string(TrimField(csv.Field(kQos)));
    Result<PodPhase> phase = ParsePhase(TrimField(csv.Field(kPodPhase)));
    if (!phase.ok()) return ColumnError(csv, kPodPhase, phase.status().message());
    pod.phase = *phase;
    pod.run_time_censored = pod.phase == PodPhase::kRunning;

    POLYCLOUD_ASSIGN_OR_RETURN(pod.creation_time,
                               OptionalIntField(csv, kCreationTime, 0, kMaxSeconds));
    POLYCLOUD_ASSIGN_OR_RETURN(pod.scheduled_time,
                               OptionalIntField(csv, kScheduledTime, 0, kMaxSeconds));
    POLYCLOUD_ASSIGN_OR_RETURN(pod.deletion_time,
                               OptionalIntField(csv, kDeletionTime, 0, kMaxSeconds));
    if (pod.scheduled_time && pod.creation_time && *pod.scheduled_time < *pod.creation_time) {
      return ColumnError(csv, kScheduledTime,
                         "expected a time at or after creation_time " +
                             std::to_string(*pod.creation_time) + ", found " +
                             std::to_string(*pod.scheduled_time));
    }
    std::optional<int64_t> deletion_floor =
        pod.scheduled_time ? pod.scheduled_time : pod.creation_time;
    if (pod.deletion_time && deletion_floor && *pod.deletion_time < *deletion_floor) {
      return ColumnError(
          csv, kDeletionTime,
          "expected a time at or after " +
              std::string(pod.scheduled_time ? "scheduled_time " : "creation_time ") +
              std::to_string(*deletion_floor) + ", found " + std::to_string(*pod.deletion_time));
    }

    if (pod.num_gpu == 0 && !keep_cpu_only) return std::optional<AlibabaPod>();

    world::Job& job = pod.job;
    job.id = std::string(name);
    job.kind = world::WorkloadKind::kTraining;
    job.workload_class = pod.qos;
    job.preemptible = pod.qos == "BE";
    job.stream = "alibaba-gpu";
    job.gpus = pod.num_gpu;
    // A pod on part of one GPU asks for that share (in a pool with sharing);
    // every pod asks for its CPU and memory (in pools that declare them).
    if (pod.num_gpu == 1 && pod.gpu_milli < 1000) job.gpu_milli = pod.gpu_milli;
    job.cpu_milli = pod.cpu_milli;
    job.memory_mib = pod.memory_mib;
    job.arrival = trace_start + Duration::Seconds(pod.creation_time.value_or(0));
    if (std::optional<Duration> run = pod.RecordedRunTime()) {
      job.work_gpu_seconds = MulDivRound(run->seconds() * pod.num_gpu, speed_milli, world::kMilli);
    }
    return std::optional<AlibabaPod>(std::move(pod));
  }
};

struct NodeMapper {
  enum class Layout { kOpenB, kSpot };
  Layout layout;
  AcceleratorNames accelerators;
  std::unordered_map<std::string, int64_t> first_line;

  // Column ids per layout.
  int name_column, cpu_column, memory_column, gpu_column, model_column;

  Result<std::optional<ClusterNode>> operator()(const CsvReader& csv) {
    ClusterNode node;
    node.line = csv.line();
    POLYCLOUD_ASSIGN_OR_RETURN(std::string_view name, TextField(csv, name_column));
    node.name = std::string(name);
    POLYCLOUD_ASSIGN_OR_RETURN(int64_t cpu, IntField(csv, cpu_column, 0, kMaxQuantity));
    node.cpu_milli = layout == Layout::kSpot ? cpu * 1000 : cpu;
    if (memory_column >= 0) {
      POLYCLOUD_ASSIGN_OR_RETURN(node.memory_mib, IntField(csv, memory_column, 0, kMaxQuantity));
    }
    POLYCLOUD_ASSIGN_OR_RETURN(node.gpus, IntField(csv, gpu_column, 0, kMaxGpus));
    node.model = std::string(TrimField(csv.Field(model_column)));
    if (node.gpus > 0 && node.model.empty()) {
      return ColumnError(csv, model_column,
                         "expected the GPU model of a node with GPUs, found \"\"");
    }
    if (!node.model.empty()) {
      node.accelerator = accelerators.Resolve(node.model);
      if (node.accelerator == world::kNone) {
        return ColumnError(csv, model_column, UnknownModel(node.model));
      }
    }
    auto [it, inserted] = first_line.emplace(node.name, node.line);
    if (!inserted) {
      return ColumnError(csv, name_column,
                         "node " + Quoted(node.name) + " is listed twice (first at line " +
                             std::to_string(it->second) + ")");
    }
    return std::optional<ClusterNode>(std::move(node));
  }
};

Result<NodeList> ReadNodes(const TraceInput& input, const NodeListOptions& options,
                           const CsvSchema& schema, NodeMapper mapper) {
  POLYCLOUD_ASSIGN_OR_RETURN(CsvReader csv, CsvReader::Open(input, schema, options.read));
  RecordReader<ClusterNode> reader(std::move(csv), std::move(mapper));
  NodeList list;
  list.accelerators = options.accelerators.table();
  while (true) {
    POLYCLOUD_ASSIGN_OR_RETURN(std::optional<ClusterNode> node, reader.Next());
    if (!node) break;
    list.nodes.push_back(std::move(*node));
  }
  list.stats = reader.stats();
  return list;
}

}  // namespace

const char* PodPhaseName(PodPhase phase) {
  switch (phase) {
    case PodPhase::kUnknown:
      return "";
    case PodPhase::kSucceeded:
      return "Succeeded";
    case PodPhase::kRunning:
      return "Running";
    case PodPhase::kPending:
      return "Pending";
    case PodPhase::kFailed:
      return "Failed";
  }
  return "";
}

std::optional<Duration> AlibabaPod::RecordedQueueingDelay() const {
  if (!creation_time || !scheduled_time) return std::nullopt;
  return Duration::Seconds(*scheduled_time - *creation_time);
}

std::optional<Duration> AlibabaPod::RecordedRunTime() const {
  if (!scheduled_time || !deletion_time) return std::nullopt;
  return Duration::Seconds(*deletion_time - *scheduled_time);
}

Result<RecordReader<AlibabaPod>> OpenAlibabaPods(const TraceInput& input,
                                                 const AlibabaPodOptions& options) {
  world::AcceleratorIndex reference = options.accelerators.Resolve(options.reference_accelerator);
  if (reference == world::kNone) {
    return InvalidArgument("alibaba-gpu: reference accelerator '" + options.reference_accelerator +
                           "' is not in the accelerator table or alias list");
  }
  POLYCLOUD_ASSIGN_OR_RETURN(CsvReader csv, CsvReader::Open(input, kPodSchema, options.read));
  PodMapper mapper{options.accelerators, options.trace_start,
                   options.accelerators.at(reference).speed_milli, options.keep_cpu_only};
  return RecordReader<AlibabaPod>(std::move(csv), std::move(mapper));
}

Result<AlibabaPodTrace> ReadAlibabaPods(const TraceInput& input, const AlibabaPodOptions& options) {
  POLYCLOUD_ASSIGN_OR_RETURN(RecordReader<AlibabaPod> reader, OpenAlibabaPods(input, options));
  AlibabaPodTrace trace;
  trace.accelerators = options.accelerators.table();
  int64_t outside = 0;
  while (true) {
    POLYCLOUD_ASSIGN_OR_RETURN(std::optional<AlibabaPod> pod, reader.Next());
    if (!pod) break;
    if (!options.read.window.Keeps(pod->job.arrival)) {
      ++outside;
      continue;
    }
    trace.pods.push_back(std::move(*pod));
  }
  trace.stats = reader.stats();
  trace.stats.filtered += outside;
  trace.stats.accepted -= outside;
  return trace;
}

Result<NodeList> ReadAlibabaGpuNodes(const TraceInput& input, const NodeListOptions& options) {
  enum { kSn, kCpu, kMemory, kGpu, kModel };
  static const CsvSchema kSchema = {
      {"sn", true}, {"cpu_milli", true}, {"memory_mib", true}, {"gpu", true}, {"model", true}};
  NodeMapper mapper{
      NodeMapper::Layout::kOpenB, options.accelerators, {}, kSn, kCpu, kMemory, kGpu, kModel};
  return ReadNodes(input, options, kSchema, std::move(mapper));
}

Result<NodeList> ReadAlibabaSpotNodes(const TraceInput& input, const NodeListOptions& options) {
  enum { kModel, kCapacity, kCpuNum, kNodeName };
  static const CsvSchema kSchema = {
      {"gpu_model", true}, {"gpu_capacity_num", true}, {"cpu_num", true}, {"node_name", true}};
  NodeMapper mapper{NodeMapper::Layout::kSpot,
                    options.accelerators,
                    {},
                    kNodeName,
                    kCpuNum,
                    -1,
                    kCapacity,
                    kModel};
  return ReadNodes(input, options, kSchema, std::move(mapper));
}

}  // namespace polycloud::traces
