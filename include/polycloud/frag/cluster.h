// A cluster of nodes with shared GPUs and several resources, as in the
// Alibaba GPU 2023 ("openb") trace and the FGD paper (Weng et al., "Beware of
// Fragmentation: Scheduling GPU-Sharing Workloads with Fragmentation Gradient
// Descent", USENIX ATC '23). Each node has a GPU model, CPU (milli-cores),
// memory (MiB) and up to kMaxGpusPerNode GPUs, each with its own free share in
// milli-GPU (0..1000). A pod asks for CPU, memory, a number of GPUs and a share
// per GPU, and may restrict the GPU models it runs on.
//
// Fit rules (docs/traces.md, "The fragmentation experiment"):
//   - a pod with gpu_milli < 1000 (num_gpu 1) shares one GPU that has at least
//     gpu_milli free;
//   - a pod of num_gpu >= 1 at 1000 milli takes that many wholly free GPUs of
//     one node;
//   - CPU and memory must fit on that node; the node's model must be allowed;
//   - a CPU-only pod (num_gpu 0) needs CPU and memory only.
// Pods never leave: the experiment only adds.
//
// Nodes in the same state (model, GPU count, free CPU and memory, the multiset
// of free GPU shares, and which pod kinds they already hold) are given the same
// *state class* id, so a policy scores each class once per pod and memoises
// what depends on the state alone (FGD's fragmentation).
//
//   POLYCLOUD_ASSIGN_OR_RETURN(frag::Cluster cluster, frag::ClusterFromNodeList(nodes));
//   frag::Pod pod{.cpu_milli = 4000, .memory_mib = 8192, .num_gpu = 1, .gpu_milli = 500};
//   if (auto gpus = cluster.FitOnNode(0, pod)) cluster.Place(0, pod, *gpus);
//
// Thread-safety: a Cluster is a plain value; one thread at a time.
#ifndef POLYCLOUD_FRAG_CLUSTER_H_
#define POLYCLOUD_FRAG_CLUSTER_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "polycloud/base/status.h"
#include "polycloud/traces/alibaba.h"
#include "polycloud/traces/fleet.h"

namespace polycloud::frag {

inline constexpr int kMaxGpusPerNode = 16;
inline constexpr int kMaxModels = 64;  // distinct GPU models in one cluster
inline constexpr int64_t kMilliPerGpu = 1000;

// Allowed GPU models, one bit per model id of the cluster; kAnyModel = no
// restriction (the trace's empty gpu_spec).
using ModelMask = uint64_t;
inline constexpr ModelMask kAnyModel = ~ModelMask{0};

struct Pod {
  int64_t cpu_milli = 0;
  int64_t memory_mib = 0;
  int num_gpu = 0;        // 0 = CPU-only
  int64_t gpu_milli = 0;  // per GPU: 1..999 shares one GPU (num_gpu 1), 1000 = whole GPUs
  ModelMask models = kAnyModel;

  bool IsCpuOnly() const { return num_gpu == 0; }
  bool IsSharing() const { return num_gpu == 1 && gpu_milli < kMilliPerGpu; }
  // GPU milli the pod asks for in all: num_gpu x gpu_milli.
  int64_t TotalGpuMilli() const { return num_gpu * gpu_milli; }
};

struct NodeSpec {
  std::string name;
  int model = -1;  // into Cluster::models(); -1 = CPU-only node
  int gpus = 0;
  int64_t cpu_milli = 0;
  int64_t memory_mib = 0;
};

// Which GPUs of a node a placement takes: indices in [0, gpus).
struct GpuChoice {
  std::array<int8_t, kMaxGpusPerNode> index{};
  int count = 0;
};

// The state a class stands for (what every node of the class shares).
struct NodeState {
  int model = -1;
  int gpus = 0;
  int64_t cpu_free = 0;
  int64_t memory_free = 0;
  // Free milli per GPU, sorted in descending order; entries >= gpus are 0.
  std::array<int16_t, kMaxGpusPerNode> gpu_free_sorted{};
  // Bit k (1..kMaxGpusPerNode): a pod of k whole GPUs is on the node; bit 0: a
  // sharing pod. GPU-clustering's "affinity" of the node.
  uint32_t kinds = 0;

  int64_t GpuFreeTotal() const;
  int FullyFreeGpus() const;
  bool operator==(const NodeState&) const = default;
};

class Cluster {
 public:
  // Errors: InvalidInput for a node with more than kMaxGpusPerNode GPUs, a GPU
  // node without a model, negative resources, more than kMaxModels models.
  static Result<Cluster> Create(std::vector<std::string> models, std::vector<NodeSpec> nodes);

  const std::vector<std::string>& models() const { return models_; }
  const std::vector<NodeSpec>& nodes() const { return nodes_; }
  int size() const { return static_cast<int>(nodes_.size()); }
  // The model id of `name`, or -1.
  int ModelId(const std::string& name) const;

  int64_t TotalGpuMilli() const { return total_gpu_milli_; }
  int64_t AllocatedGpuMilli() const { return allocated_gpu_milli_; }

  // Current state of node `n`.
  int64_t CpuFree(int n) const { return cpu_free_[n]; }
  int64_t MemoryFree(int n) const { return memory_free_[n]; }
  int64_t GpuFree(int n, int gpu) const { return gpu_free_[n][gpu]; }

  // The GPUs `pod` would take on node `n` under the default rule (a sharing
  // pod: the fitting GPU with the least free share, lowest index on ties;
  // whole GPUs: the lowest-indexed free ones), or nullopt if it does not fit.
  std::optional<GpuChoice> FitOnNode(int n, const Pod& pod) const;
  // The lowest-indexed GPU of node `n` with exactly `free_milli` free, or -1.
  int GpuWithFree(int n, int64_t free_milli) const;
  // Takes the pod's resources from node `n` on the chosen GPUs. The caller
  // has checked the fit (a violated fit is a programmer error and crashes).
  void Place(int n, const Pod& pod, const GpuChoice& gpus);

  // State classes: nodes in equal states share a class id, stable for the
  // life of the Cluster (ids only grow).
  int ClassOf(int n) const { return class_of_[n]; }
  const NodeState& ClassState(int c) const { return classes_[c]; }
  int ClassCount() const { return static_cast<int>(classes_.size()); }
  // The class id of `state`, interning it when new (a Cluster method so that
  // policies can name a state a placement would lead to).
  int Intern(const NodeState& state);

 private:
  Cluster() = default;
  NodeState StateOf(int n) const;

  std::vector<std::string> models_;
  std::vector<NodeSpec> nodes_;
  std::vector<int64_t> cpu_free_, memory_free_;
  std::vector<std::array<int16_t, kMaxGpusPerNode>> gpu_free_;
  std::vector<uint32_t> kinds_;
  std::vector<int> class_of_;
  std::vector<NodeState> classes_;
  std::unordered_map<uint64_t, std::vector<int>> class_index_;  // hash -> class ids
  int64_t total_gpu_milli_ = 0;
  int64_t allocated_gpu_milli_ = 0;
};

// Whether a node in `state` holds `pod` (CPU, memory, model, GPUs).
bool StateFits(const NodeState& state, const Pod& pod);

// A cluster from a node list (traces::ReadAlibabaGpuNodes) read from `path`:
// models in order of first appearance. Errors: as Cluster::Create, as
// "path:line: column 'gpu': expected ..., found ...".
Result<Cluster> ClusterFromNodeList(const traces::NodeList& nodes, const std::string& path = "");

// One Pod per trace pod, gpu_spec mapped onto the cluster's models (models the
// cluster lacks are dropped: a pod allowing none of the cluster's models fits
// nowhere). A GPU pod without gpu_milli asks for whole GPUs. Errors:
// InvalidInput for a pod of several GPUs at less than 1000 milli each (the
// trace has none: sharing is one GPU at most), as "path:line: column ...".
Result<std::vector<Pod>> PodsFromTrace(const traces::AlibabaPodTrace& trace, const Cluster& cluster,
                                       const std::string& path = "");

}  // namespace polycloud::frag

#endif  // POLYCLOUD_FRAG_CLUSTER_H_
