// Node-choice policies for pods on a frag::Cluster: the six of the FGD paper
// (Weng et al., USENIX ATC '23, section 5) and `spread`. Each policy gives
// every node that fits the pod an integer score (higher is better); the pod
// goes to a node of the highest score, ties broken uniformly at random by the
// caller's seeded Rng (reservoir sampling in node order, as kube-scheduler
// picks among equal scores). The exact rules, as in the paper's simulator
// (hkust-adsl/kubernetes-scheduler-simulator, pkg/simulator/plugin/*_score.go),
// are in docs/traces.md, "The fragmentation experiment":
//
//   random      every fitting node scores the same
//   dotprod     DotProd (Tetris): the smallest dot product of the node's free
//               (CPU, GPU) and the pod's demand, normalised by 128 cores and
//               8 GPUs, as 0..100
//   clustering  GpuClustering: nodes already running pods of the same GPU
//               kind first, fuller nodes first within a band
//   packing     GpuPacking: share a used GPU first, then free GPUs of a used
//               node, then an empty node
//   bestfit     BestFit: the least (CPU, GPU) left over, as 0..100
//   fgd         FGD: the node -- and GPU in it -- whose fragmentation against
//               the workload's task mix grows least (fragmentation.h), scored
//               as the artifact does: 100 x sigmoid(decrease in milli-GPU /
//               1000), truncated to an integer
//   fgd-exact   FGD on the exact decrease (no sigmoid, no truncation)
//   spread      the emptiest node: most free GPU share, then most free CPU
//
// Within the chosen node a sharing pod takes the fitting GPU with the least
// free share (fgd: the one whose fragmentation grows least), a whole-GPU pod
// the lowest-indexed free GPUs.
//
//   frag::NodeChooser chooser(frag::Policy::kFgd, &mix);
//   if (auto p = chooser.Choose(cluster, pod, rng)) cluster.Place(p->node, pod, p->gpus);
//
// Thread-safety: a NodeChooser memoises per cluster; one thread, one cluster.
#ifndef POLYCLOUD_FRAG_POLICY_H_
#define POLYCLOUD_FRAG_POLICY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "polycloud/base/rng.h"
#include "polycloud/base/status.h"
#include "polycloud/frag/cluster.h"
#include "polycloud/frag/fragmentation.h"

namespace polycloud::frag {

enum class Policy { kRandom, kDotProd, kClustering, kPacking, kBestFit, kFgd, kFgdExact, kSpread };

// How a choice among nodes of equal score is made.
//   kRandom: uniformly at random (reservoir sampling in visit order), as
//            upstream kube-scheduler's selectHost.
//   kFirst:  the first in visit order. The visit order is a per-run seeded
//            permutation of the nodes (SetNodeOrder), as the paper's simulator
//            renames nodes with a random prefix and lists them sorted.
// The `random` policy always draws at random.
enum class TieBreak { kRandom, kFirst };
const char* TieBreakName(TieBreak tie_break);
Result<TieBreak> ParseTieBreak(std::string_view name);

// The six of the paper, in its order.
std::vector<Policy> PaperPolicies();
const char* PolicyName(Policy policy);
// Errors: InvalidArgument naming the accepted names.
Result<Policy> ParsePolicy(std::string_view name);

struct Placement {
  int node = -1;
  GpuChoice gpus;
};

class NodeChooser {
 public:
  // `mix` is needed by kFgd only and must outlive the chooser.
  NodeChooser(Policy policy, const TaskMix* mix, TieBreak tie_break = TieBreak::kRandom);

  // The order nodes are visited in (a permutation of 0..size-1); empty = by index.
  void SetNodeOrder(std::vector<int> order) { order_ = std::move(order); }

  // The node and GPUs for `pod`, or nullopt when no node fits. Draws from
  // `ties` only to break ties. Use one chooser with one cluster: its memo is
  // keyed by the cluster's state classes.
  std::optional<Placement> Choose(const Cluster& cluster, const Pod& pod, Rng& ties);

  // The score of a node in `state` for `pod` (which must fit), for tests and
  // explanations; for fgd, minus the growth of the node's fragmentation.
  int64_t Score(const NodeState& state, const Pod& pod);

 private:
  bool IsFgd() const { return policy_ == Policy::kFgd || policy_ == Policy::kFgdExact; }
  // FGD's score for taking, from a node in `state`, the pod's share on GPUs
  // with `free` free (sharing and whole-GPU pods; ignored for CPU-only ones).
  int64_t FgdScore(const NodeState& state, const Pod& pod, int64_t before, int64_t free);
  int64_t Fgd(const NodeState& state, const Pod& pod);
  int64_t FgdMemo(const Cluster& cluster, int cls, const Pod& pod);
  // The GPU of node `n` a sharing pod takes under FGD: the lowest index of
  // the best score.
  int FgdGpu(const Cluster& cluster, int n, const Pod& pod);
  int ShapeId(const Pod& pod);

  Policy policy_;
  const TaskMix* mix_;
  TieBreak tie_break_;
  std::vector<int> order_;
  uint32_t epoch_ = 0;
  std::vector<uint32_t> stamp_;  // per class: epoch_ when scored for the current pod
  std::vector<int64_t> score_;   // per class, valid when stamp_ == epoch_ (min = no fit)
  std::unordered_map<uint64_t, int> shapes_;
  std::unordered_map<uint64_t, int64_t> fgd_memo_;  // (class, shape) -> score
};

}  // namespace polycloud::frag

#endif  // POLYCLOUD_FRAG_POLICY_H_
