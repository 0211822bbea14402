// GPU fragmentation as the FGD paper defines it (Weng et al., USENIX ATC '23,
// section 3): the share of a node's free GPU that the workload's tasks cannot
// use, measured against the mix of task types the workload is made of.
//
// For a node n and a task type m, F_n(m) (in milli-GPU) is
//   - all of n's free GPU share, if m cannot run on n at all (too little CPU,
//     not enough GPUs with m's per-GPU share free, a model m does not allow),
//     or if m asks for no GPU (a CPU-only task uses none of it);
//   - otherwise the free share on n's GPUs that cannot hold m's per-GPU
//     demand (free < gpu_milli).
// The node's fragmentation is F_n = sum over types of p_m x F_n(m), p_m the
// type's popularity. A task type is (CPU, GPU count, per-GPU share, allowed
// models) -- memory is not part of it, as in the paper's simulator -- and the
// types are the most frequent ones of the pod list covering at least 95 % of
// its pods (ties by the type's fields, descending), renormalised: the
// artifact's "typical pods" (hkust-adsl/kubernetes-scheduler-simulator,
// pkg/utils/frag.go, GetTypicalPods and NodeGpuShareFragAmount).
//
// Popularity is kept as integer pod counts, so F_n is an exact integer in
// units of (pods x milli-GPU); dividing by TaskMix::total_weight gives
// milli-GPU.
//
// Thread-safety: plain values and pure functions.
#ifndef POLYCLOUD_FRAG_FRAGMENTATION_H_
#define POLYCLOUD_FRAG_FRAGMENTATION_H_

#include <cstdint>
#include <vector>

#include "polycloud/frag/cluster.h"

namespace polycloud::frag {

struct TaskType {
  int64_t cpu_milli = 0;
  int num_gpu = 0;
  int64_t gpu_milli = 0;
  ModelMask models = kAnyModel;
  int64_t weight = 0;  // pods of this type in the pod list
};

struct TaskMix {
  std::vector<TaskType> types;  // most popular first
  int64_t total_weight = 0;     // sum of the kept types' weights
  int64_t pods = 0;             // pods counted (all of the list)
  int64_t distinct_types = 0;   // before the popularity cut
};

// The typical task types of `pods`: the most frequent types until their pods
// reach `coverage_percent` of all (1..100; the paper's artifact uses 95).
TaskMix BuildTaskMix(const std::vector<Pod>& pods, int coverage_percent = 95);

// F_n(m) in milli-GPU for a node in `state`.
int64_t TaskFragmentation(const NodeState& state, const TaskType& type);
// F_n = sum of weight x F_n(m), in pod x milli-GPU units.
int64_t NodeFragmentation(const NodeState& state, const TaskMix& mix);

}  // namespace polycloud::frag

#endif  // POLYCLOUD_FRAG_FRAGMENTATION_H_
