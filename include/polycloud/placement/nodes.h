// Nodes: the machines a pool is made of, and which of them a gang runs on.
//
// A pool of whole-GPU nodes (gpus_per_node each; the last one smaller when
// the pool's usable GPUs are not a multiple) knows each node's GPUs in use.
// A gang of at most one node's GPUs runs inside one node; a larger gang takes
// whole free nodes (FleetState::AllocationSize rounds it up). Ramps, cuts and
// faults change the usable GPUs, which adds or removes nodes (SetCapacity
// says which): a removed node keeps its work until the scheduler evicts it
// (Overcommitted). GPUs inside a node are interchangeable, so two nodes with
// the same free GPUs are equivalent for every policy: nodes are indexed by
// free GPUs (a list per level), and a choice reads levels, not nodes: O(GPUs
// per node) whatever the pool's size.
//
// The node-choice policies (docs/scenario.md, "node_choice"):
//   best-fit       the fullest node that fits (ties: the most recently filled);
//   spread         the emptiest node;
//   random         a node drawn uniformly among those that fit (seeded);
//   fragmentation  in the spirit of FGD (Weng et al., ATC '23): the node whose
//                  expected fragmentation against the recent mix of requests
//                  grows least; ties go to best fit.
// A node's fragmentation for a request of g GPUs is its free GPUs when the
// request cannot use them (g above its free GPUs, or a gang larger than a
// node on a node that is not wholly free), else 0; against a mix it is the
// mix-weighted sum. The mix is the last kMixWindow requests placed in the
// fleet (gang sizes).
//
// Thread-safety: not thread-safe; one owner (FleetState).
#ifndef POLYCLOUD_PLACEMENT_NODES_H_
#define POLYCLOUD_PLACEMENT_NODES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "polycloud/base/rng.h"

namespace polycloud::placement {

enum class NodePolicy : uint8_t { kPooled, kBestFit, kSpread, kRandom, kFragmentation };
const char* NodePolicyName(NodePolicy policy);
std::optional<NodePolicy> ParseNodePolicy(std::string_view name);
// "best-fit, spread, random, fragmentation, pooled" (for error messages).
const char* NodePolicyNames();

// The recent mix of request sizes the fragmentation policy measures against.
class RequestMix {
 public:
  static constexpr int kMixWindow = 256;
  void Note(int64_t gpus);
  // Requests of each size in the window, as (gpus, count), sizes ascending.
  const std::vector<std::pair<int64_t, int32_t>>& sizes() const { return sizes_; }
  int32_t total() const { return static_cast<int32_t>(ring_.size()); }

 private:
  std::vector<int64_t> ring_;
  size_t next_ = 0;
  std::vector<std::pair<int64_t, int32_t>> sizes_;
};

// Why a node was chosen, for explain.
struct NodePick {
  std::vector<int32_t> nodes;  // the nodes taken (one, or whole nodes for a large gang)
  int64_t free_before = 0;     // the (first) node's free GPUs before
  int64_t node_gpus = 0;       // its GPUs
  int64_t candidates = 0;      // nodes that could hold the request
  int64_t frag_before = 0;     // fragmentation policy: the node's score before and after
  int64_t frag_after = 0;      // (RequestMix-weighted sums; see Fragmentation)
  int64_t mix_total = 0;       // requests in the mix
};

class PoolNodes {
 public:
  explicit PoolNodes(int64_t gpus_per_node = 8);

  int64_t gpus_per_node() const { return gpn_; }
  int64_t capacity() const { return capacity_; }
  // Sets the pool's usable GPUs. Growing fills partial nodes, then brings
  // back removed nodes, then adds nodes. Shrinking takes GPUs off wholly free
  // nodes first, then off the nodes of lowest `keep_rank` (per node, from
  // the scheduler: the work it would evict first; null = all equal), then
  // the emptiest; work left on a node beyond its GPUs is Overcommitted.
  void SetCapacity(int64_t gpus, const std::vector<int64_t>* keep_rank = nullptr);
  // The largest allocation that fits now: whole free nodes × gpn when a node
  // is wholly free, else the most free GPUs of any node. An allocation of
  // `alloc` GPUs (FleetState::AllocationSize) fits iff alloc <= Placeable().
  int64_t Placeable() const;
  // Takes `alloc` GPUs (alloc <= Placeable()) on the node(s) `policy` picks.
  void Take(int64_t alloc, NodePolicy policy, Rng& rng, const RequestMix& mix, NodePick* pick);
  // Gives back what Take took on `nodes`.
  void Give(const std::vector<int32_t>& nodes, int64_t alloc);
  void Give(int32_t node, int64_t gpus);

  int32_t node_count() const { return static_cast<int32_t>(size_.size()); }
  int64_t size(int32_t n) const { return size_[n]; }
  int64_t used(int32_t n) const { return used_[n]; }
  int64_t free(int32_t n) const { return used_[n] < size_[n] ? size_[n] - used_[n] : 0; }
  bool overcommitted(int32_t n) const { return used_[n] > size_[n]; }
  // Nodes holding more work than their GPUs (removed or shrunk with work on them).
  int32_t overcommitted_nodes() const { return overcommitted_; }
  // Nodes with exactly `free` GPUs free (free >= 1).
  int64_t nodes_with_free(int64_t free) const {
    return free >= 1 && free <= gpn_ ? static_cast<int64_t>(level_[free].size()) : 0;
  }

  // Free GPUs the requests of `mix` could not use where they are: Σ over
  // nodes of Fragmentation ÷ mix.total() (0 for an empty mix).
  int64_t Stranded(const RequestMix& mix) const;
  // Expected fragmentation of a node with `free` GPUs free, in a pool of
  // `gpn`-GPU nodes, against `mix`: Σ count × (GPUs the request of that size
  // cannot use), over the window (divide by mix.total() for GPUs).
  static int64_t Fragmentation(int64_t free, int64_t gpn, const RequestMix& mix);

 private:
  void Refile(int32_t n);                       // puts node n on the level of its free GPUs
  int64_t LowestLevelFrom(int64_t from) const;  // first non-empty level >= from, or 0
  int64_t HighestLevel() const;                 // highest non-empty level, or 0
  void TakeOn(int32_t n, int64_t gpus);

  int64_t gpn_;
  std::vector<int32_t> size_, used_;
  std::vector<int32_t> pos_;                 // node's index in its level list, -1 on level 0
  std::vector<int32_t> at_level_;            // node's level (free GPUs as filed)
  std::vector<std::vector<int32_t>> level_;  // [free] -> nodes, for free 1..gpn
  std::vector<uint64_t> nonempty_;           // bit per level
  std::vector<uint8_t> over_;                // per node: overcommitted as last filed
  int64_t capacity_ = 0;                     // Σ size
  int32_t overcommitted_ = 0;
};

}  // namespace polycloud::placement

#endif  // POLYCLOUD_PLACEMENT_NODES_H_
