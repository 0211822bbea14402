#include "polycloud/frag/fragmentation.h"

#include <algorithm>
#include <map>
#include <tuple>

namespace polycloud::frag {

TaskMix BuildTaskMix(const std::vector<Pod>& pods, int coverage_percent) {
  coverage_percent = std::clamp(coverage_percent, 1, 100);
  using Key = std::tuple<int64_t, int64_t, int, ModelMask>;  // cpu, gpu milli, gpus, models
  std::map<Key, int64_t> counts;
  for (const Pod& p : pods) ++counts[Key{p.cpu_milli, p.gpu_milli, p.num_gpu, p.models}];
  std::vector<TaskType> all;
  all.reserve(counts.size());
  for (const auto& [key, count] : counts) {
    all.push_back(
        TaskType{std::get<0>(key), std::get<2>(key), std::get<1>(key), std::get<3>(key), count});
  }
  // Most frequent first; equal counts by (cpu, gpu milli, gpus, models)
  // descending, the artifact's order (sort.Reverse of its Less).
  std::sort(all.begin(), all.end(), [](const TaskType& a, const TaskType& b) {
    if (a.weight != b.weight) return a.weight > b.weight;
    return std::tie(a.cpu_milli, a.gpu_milli, a.num_gpu, a.models) >
           std::tie(b.cpu_milli, b.gpu_milli, b.num_gpu, b.models);
  });
  TaskMix mix;
  mix.pods = static_cast<int64_t>(pods.size());
  mix.distinct_types = static_cast<int64_t>(all.size());
  for (const TaskType& t : all) {
    // Stop once the kept types cover the share: cum * 100 >= coverage * pods.
    if (mix.total_weight * 100 >= coverage_percent * mix.pods) break;
    mix.types.push_back(t);
    mix.total_weight += t.weight;
  }
  return mix;
}

int64_t TaskFragmentation(const NodeState& s, const TaskType& t) {
  const int64_t free_total = s.GpuFreeTotal();
  if (free_total == 0) return 0;
  if (t.num_gpu == 0 || t.gpu_milli == 0) return free_total;  // a CPU task uses no GPU
  if (s.model < 0 || ((t.models >> s.model) & 1) == 0) return free_total;
  if (s.cpu_free < t.cpu_milli) return free_total;
  int fitting = 0;
  int64_t unusable = 0;  // free share on GPUs below the task's per-GPU demand
  for (int g = 0; g < s.gpus; ++g) {
    if (s.gpu_free_sorted[g] >= t.gpu_milli) {
      ++fitting;
    } else {
      unusable += s.gpu_free_sorted[g];
    }
  }
  return fitting >= t.num_gpu ? unusable : free_total;
}

int64_t NodeFragmentation(const NodeState& state, const TaskMix& mix) {
  int64_t total = 0;
  for (const TaskType& t : mix.types) total += t.weight * TaskFragmentation(state, t);
  return total;
}

}  // namespace polycloud::frag
