#include "polycloud/frag/experiment.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <thread>
#include <utility>

#include "polycloud/base/rng.h"
#include "polycloud/traces/alibaba.h"

namespace polycloud::frag {
namespace {

// round(num / den) for num, den >= 0, half up, in 128 bits.
int64_t RoundDiv(__int128 num, __int128 den) {
  return static_cast<int64_t>((2 * num + den) / (2 * den));
}

}  // namespace

std::vector<int> ArrivalOrder(const std::vector<Pod>& pods, int64_t cluster_gpu_milli,
                              uint64_t seed, int target_percent) {
  std::vector<int> order;
  if (pods.empty()) return order;
  Rng rng = Rng::Fork(seed, "arrivals");
  std::vector<int> shuffled(pods.size());
  for (size_t i = 0; i < pods.size(); ++i) shuffled[i] = static_cast<int>(i);
  for (size_t i = shuffled.size() - 1; i > 0; --i) {
    std::swap(shuffled[i], shuffled[rng.Below(i + 1)]);
  }
  // target = cluster x percent / 100; a pod may arrive while arrived x 100 <= cluster x percent.
  const __int128 limit = static_cast<__int128>(cluster_gpu_milli) * target_percent;
  __int128 arrived = 0;
  auto admit = [&](int i) {
    const __int128 next = arrived + pods[i].TotalGpuMilli();
    if (next * 100 > limit) return false;
    arrived = next;
    order.push_back(i);
    return true;
  };
  for (int i : shuffled) {
    if (!admit(i)) return order;
  }
  // Extra arrivals drawn with replacement; stops at the first that would pass
  // the target (the list has a GPU pod, or RunExperiment refused it).
  while (admit(static_cast<int>(rng.Below(pods.size())))) {
  }
  return order;
}

RunResult RunOnce(const Cluster& initial, const std::vector<Pod>& pods, const TaskMix& mix,
                  Policy policy, uint64_t seed, int target_percent, TieBreak tie_break) {
  Cluster cluster = initial;
  NodeChooser chooser(policy, &mix, tie_break);
  Rng ties = Rng::Fork(seed, "ties");
  if (tie_break == TieBreak::kFirst) {
    // A seeded visit order: the first node of a tie is a random one, but the
    // same one while the tie lasts.
    Rng shuffle = Rng::Fork(seed, "node order");
    std::vector<int> order(cluster.size());
    for (int n = 0; n < cluster.size(); ++n) order[n] = n;
    for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[shuffle.Below(i)]);
    chooser.SetNodeOrder(std::move(order));
  }
  const int64_t capacity = cluster.TotalGpuMilli();
  const int steps = target_percent + 1;
  std::vector<int64_t> sum(steps, 0), count(steps, 0);
  RunResult r;
  for (int i : ArrivalOrder(pods, capacity, seed, target_percent)) {
    const Pod& pod = pods[i];
    if (std::optional<Placement> p = chooser.Choose(cluster, pod, ties)) {
      cluster.Place(p->node, pod, p->gpus);
    } else {
      ++r.failed_pods;
      r.failed_gpu_milli += pod.TotalGpuMilli();
    }
    ++r.arrived_pods;
    r.arrived_gpu_milli += pod.TotalGpuMilli();
    // The step the arrived share rounds to, half up: (arrived x 200 + cap) / (2 cap).
    const int64_t k = RoundDiv(static_cast<__int128>(r.arrived_gpu_milli) * 100, capacity);
    if (k < steps) {
      sum[k] += cluster.AllocatedGpuMilli();
      ++count[k];
    }
  }
  r.allocated_gpu_milli = cluster.AllocatedGpuMilli();
  r.alloc_micro_pct.assign(steps, 0);
  int64_t previous = 0;
  for (int k = 0; k < steps; ++k) {
    if (count[k] > 0) {
      previous = RoundDiv(static_cast<__int128>(sum[k]) * 100 * kMicroPercent,
                          static_cast<__int128>(count[k]) * capacity);
    }
    r.alloc_micro_pct[k] = previous;
  }
  return r;
}

namespace {

// The options as run (policies filled in), or why they cannot be.
Result<ExperimentOptions> Completed(const ExperimentOptions& options) {
  if (options.seeds < 1 || options.seeds > 1000) {
    return InvalidArgument("--seeds: expected 1 to 1000, found " + std::to_string(options.seeds));
  }
  if (options.target_percent < 1 || options.target_percent > 1000) {
    return InvalidArgument("target: expected 1 to 1000 percent, found " +
                           std::to_string(options.target_percent));
  }
  ExperimentOptions out = options;
  if (out.policies.empty()) out.policies = PaperPolicies();
  return out;
}

}  // namespace

Result<ExperimentResult> RunExperiment(const ExperimentOptions& given) {
  POLYCLOUD_ASSIGN_OR_RETURN(ExperimentOptions options, Completed(given));
  if (options.nodes_path.empty()) {
    const auto dir = std::filesystem::path(options.pods_path).parent_path();
    options.nodes_path =
        ((dir.empty() ? std::filesystem::path(".") : dir) / "openb_node_list_gpu_node.csv")
            .string();
  }
  traces::AlibabaPodOptions pod_options;
  pod_options.read = options.read;
  pod_options.keep_cpu_only = true;
  POLYCLOUD_ASSIGN_OR_RETURN(
      traces::AlibabaPodTrace trace,
      traces::ReadAlibabaPods(traces::TraceInput::File(options.pods_path), pod_options));
  traces::NodeListOptions node_options;
  node_options.read = options.read;
  POLYCLOUD_ASSIGN_OR_RETURN(
      traces::NodeList nodes,
      traces::ReadAlibabaGpuNodes(traces::TraceInput::File(options.nodes_path), node_options));
  return RunExperimentOn(nodes, trace, options);
}

Result<ExperimentResult> RunExperimentOn(const traces::NodeList& nodes,
                                         const traces::AlibabaPodTrace& trace,
                                         const ExperimentOptions& given) {
  POLYCLOUD_ASSIGN_OR_RETURN(const ExperimentOptions options, Completed(given));
  ExperimentResult out;
  out.options = options;
  for (const traces::ReadStats* stats : {&nodes.stats, &trace.stats}) {
    out.bad_rows += stats->bad_rows;
    out.bad_row_messages.insert(out.bad_row_messages.end(), stats->bad_row_messages.begin(),
                                stats->bad_row_messages.end());
  }

  POLYCLOUD_ASSIGN_OR_RETURN(Cluster cluster, ClusterFromNodeList(nodes, out.options.nodes_path));
  if (cluster.TotalGpuMilli() == 0) {
    return InvalidInput(out.options.nodes_path + ": the node list has no GPU");
  }
  POLYCLOUD_ASSIGN_OR_RETURN(std::vector<Pod> pods,
                             PodsFromTrace(trace, cluster, options.pods_path));
  for (const Pod& p : pods) {
    out.requested_gpu_milli += p.TotalGpuMilli();
    out.cpu_only_pods += p.IsCpuOnly();
  }
  if (out.requested_gpu_milli == 0) {
    return InvalidInput(options.pods_path + ": no pod asks for a GPU");
  }
  out.nodes = cluster.size();
  for (const NodeSpec& n : cluster.nodes()) {
    out.gpu_nodes += n.gpus > 0;
    out.gpus += n.gpus;
  }
  out.models = cluster.models();
  out.pods = static_cast<int64_t>(pods.size());
  out.mix = BuildTaskMix(pods, options.coverage_percent);

  // Every (policy, seed) run is independent: run them on the machine's cores,
  // each into its own slot, and combine in order, so the result does not
  // depend on the number of threads.
  const int steps = options.target_percent + 1;
  const int64_t seeds = options.seeds;
  const size_t policies = out.options.policies.size();
  std::vector<RunResult> runs(policies * static_cast<size_t>(seeds));
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < runs.size(); i = next++) {
      runs[i] = RunOnce(cluster, pods, out.mix, out.options.policies[i / seeds],
                        options.first_seed + i % seeds, options.target_percent, options.tie_break);
    }
  };
  const size_t threads =
      std::min<size_t>(runs.size(), std::max(1u, std::thread::hardware_concurrency()));
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();

  for (size_t pi = 0; pi < policies; ++pi) {
    PolicySeries s;
    s.policy = out.options.policies[pi];
    std::vector<int64_t> total(steps, 0);
    int64_t unallocated = 0, failed = 0, arrived = 0;
    for (int64_t i = 0; i < seeds; ++i) {
      const RunResult& r = runs[pi * seeds + i];
      for (int k = 0; k < steps; ++k) total[k] += r.alloc_micro_pct[k];
      s.final_micro_pct.push_back(r.alloc_micro_pct.back());
      unallocated += cluster.TotalGpuMilli() - r.allocated_gpu_milli;
      failed += r.failed_pods;
      arrived += r.arrived_pods;
    }
    for (int k = 0; k < steps; ++k) s.alloc_micro_pct.push_back(RoundDiv(total[k], seeds));
    s.unallocated_gpu_milli = RoundDiv(unallocated, seeds);
    s.failed_pods_centi = RoundDiv(static_cast<__int128>(failed) * 100, seeds);
    s.arrived_pods_centi = RoundDiv(static_cast<__int128>(arrived) * 100, seeds);
    out.series.push_back(std::move(s));
  }
  return out;
}

}  // namespace polycloud::frag
