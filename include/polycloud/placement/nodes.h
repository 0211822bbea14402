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
// Sharing and multi-resource fit. A pool may declare CPU and memory per node
// and may allow GPU sharing (world::Pool). Such a pool is not "plain": besides
// the levels of whole free GPUs it keeps each node's CPU and memory in use
// and, with sharing, each GPU's share in use (thousandths; a GPU holding any
// share is "in use" for the levels, Placeable and the pool's GPUs in use)
// with the partly used GPUs indexed by free share (a list per free milli,
// 1..999). A request has a NodeShape: whole GPUs, or a share of one GPU, and
// the CPU and memory it needs on each node.
//   - Placeable() stays the whole-GPU key (what the placer's ranking and the
//     capacity filter compare in one step); ShareRoom() is the largest share
//     one GPU can take now (1000 when a GPU is wholly free).
//   - A share goes on one GPU of one node: a partly used GPU with enough free
//     share, or a wholly free GPU. Whole GPUs go on one node as before; a gang
//     larger than a node takes wholly free nodes (no work on them, so their
//     CPU and memory are free too).
//   - Candidates are walked in the policy's order — best fit: partly used
//     GPUs from the fullest that fits, then wholly free GPUs on the fullest
//     node; spread: the reverse — and each is checked for CPU and memory. The
//     walk stops after kFitProbes candidates that do not fit (a bound for the
//     partly used GPUs and another for the nodes with whole free GPUs):
//     Fits() may then say no although a node further down would fit (the request waits for
//     the next change), so a decision costs O(kFitProbes) whatever the pool's
//     size. Without CPU and memory asked for, the first candidate fits and the
//     answer is exact.
//   - random draws uniformly among the candidates (then walks on from there);
//     fragmentation scores up to kFitProbes fitting candidates (FGD: the one
//     whose fragmentation against the recent mix grows least; ties to best
//     fit). A node's fragmentation here counts each GPU (in milli): for a share
//     request r, partly used GPUs with less than r free; for whole GPUs g, all
//     partly used GPUs' free share plus the whole free GPUs when fewer than g;
//     for a gang larger than a node, everything free unless the node is wholly
//     free. On a plain node this is 1000 × the measure above.
// A plain pool (no sharing, no CPU or memory) takes exactly the paths above.
//
// Thread-safety: not thread-safe; one owner (FleetState).
#ifndef POLYCLOUD_PLACEMENT_NODES_H_
#define POLYCLOUD_PLACEMENT_NODES_H_

#include <algorithm>
#include <array>
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
// A note costs O(log 1000) (shares) or O(distinct whole sizes), nothing is
// allocated once the window is full.
class RequestMix {
 public:
  static constexpr int kMixWindow = 256;
  void Note(int64_t gpus) { NoteMilli(gpus * 1000); }
  // A request of `milli` thousandths of GPUs (a share: 1..999; g GPUs: g × 1000).
  void NoteMilli(int64_t milli);
  // Whole-GPU requests of each size in the window, as (milli-GPUs, count),
  // sizes ascending (a few distinct sizes).
  const std::vector<std::pair<int64_t, int32_t>>& whole_sizes() const { return whole_; }
  // Share requests (1..999 milli) in the window asking for more than `free`
  // milli (0 <= free <= 1000): a partly used GPU with `free` milli free is
  // lost to that many of them. O(log 1000).
  int32_t shares_above(int64_t free) const {
    int32_t at_most = 0;
    for (int64_t i = std::min<int64_t>(free, kShareSlots - 1); i > 0; i -= i & -i) {
      at_most += share_count_[i];
    }
    return shares_ - at_most;
  }
  int32_t total() const { return static_cast<int32_t>(ring_.size()); }

 private:
  static constexpr int64_t kShareSlots = 1024;  // Fenwick tree over 1..999 milli
  void Count(int64_t milli, int32_t delta);
  std::vector<int64_t> ring_;
  size_t next_ = 0;
  std::vector<std::pair<int64_t, int32_t>> whole_;
  std::array<int32_t, kShareSlots> share_count_{};
  int32_t shares_ = 0;
};

// What a request takes on nodes.
struct NodeShape {
  int64_t gpus = 1;        // whole GPUs (an allocation size); 1 for a share
  int32_t milli = 0;       // 1..999: a share of one GPU; 0: whole GPUs
  int64_t cpu_milli = 0;   // on each node it runs on
  int64_t memory_mib = 0;  // on each node it runs on
  bool share() const { return milli > 0; }
};

// Why a node was chosen, for explain.
struct NodePick {
  std::vector<int32_t> nodes;     // the nodes taken (one, or whole nodes for a large gang)
  int32_t gpu = -1;               // a share: the GPU of the node (0-based); else -1
  int32_t share_free_before = 0;  // a share: that GPU's free share before (milli)
  bool frag_milli = false;        // frag_before/after in milli-GPUs (non-plain pool)
  int64_t free_before = 0;        // the (first) node's free GPUs before
  int64_t node_gpus = 0;          // its GPUs
  int64_t candidates = 0;         // nodes that could hold the request
  int64_t frag_before = 0;        // fragmentation policy: the node's score before and after
  int64_t frag_after = 0;         // (RequestMix-weighted sums; see Fragmentation)
  int64_t mix_total = 0;          // requests in the mix
};

class PoolNodes {
 public:
  // Candidates that do not fit a request's CPU and memory looked at before a
  // walk gives up (see above).
  static constexpr int kFitProbes = 64;

  explicit PoolNodes(int64_t gpus_per_node = 8, int64_t cpu_milli_per_node = 0,
                     int64_t memory_mib_per_node = 0, bool sharing = false);

  int64_t gpus_per_node() const { return gpn_; }
  int64_t cpu_milli_per_node() const { return cpu_cap_; }
  int64_t memory_mib_per_node() const { return mem_cap_; }
  bool sharing() const { return sharing_; }
  // No sharing, no CPU or memory: only whole GPUs count.
  bool plain() const { return plain_; }
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

  // The largest share (milli) one GPU can take now: 1000 when a GPU is wholly
  // free (Placeable() >= 1), else the most free share of a partly used GPU; 0
  // without sharing.
  int64_t ShareRoom() const;
  // True when `shape` fits now (within kFitProbes candidates, best-fit order).
  // A share needs sharing; CPU and memory count when the pool declares them.
  bool Fits(const NodeShape& shape) const;
  // Takes `shape` (Fits(shape)) where `policy` picks; pick->gpu says the GPU of a share.
  void Take(const NodeShape& shape, NodePolicy policy, Rng& rng, const RequestMix& mix,
            NodePick* pick);
  // Gives back what Take(shape) took: `nodes` and, for a share, GPU `gpu` of nodes[0].
  void Give(const std::vector<int32_t>& nodes, const NodeShape& shape, int32_t gpu);

  // GPUs in use in the pool (Σ used): whole GPUs taken plus GPUs holding a share.
  int64_t used_total() const { return used_total_; }
  // Σ of the shares in use, in milli-GPUs (a whole GPU taken counts 1000).
  int64_t used_milli() const { return used_milli_; }
  int64_t cpu_used(int32_t n) const { return plain_ ? 0 : cpu_used_[n]; }
  int64_t memory_used(int32_t n) const { return plain_ ? 0 : mem_used_[n]; }
  // Share in use on GPU `g` of node `n` (milli; 0 for a GPU free or taken whole).
  int32_t share_used(int32_t n, int32_t g) const { return sharing_ ? slot_[n * gpn_ + g] : 0; }
  // Partly used GPUs with exactly `free` milli free (1..999).
  int64_t gpus_with_free_share(int32_t free) const {
    return sharing_ && free >= 1 && free < 1000 ? static_cast<int64_t>(bucket_[free].size()) : 0;
  }

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
  // nodes of Fragmentation ÷ mix.total() (0 for an empty mix); on a non-plain
  // pool NodeFragmentation ÷ (1000 × mix.total()), rounded down.
  int64_t Stranded(const RequestMix& mix) const;
  // Node `n`'s fragmentation against `mix` in milli-GPUs (Σ count × milli the
  // request of that size cannot use), counting each GPU's free share.
  int64_t NodeFragmentation(int32_t n, const RequestMix& mix) const;
  // Expected fragmentation of a node with `free` GPUs free, in a pool of
  // `gpn`-GPU nodes, against `mix`: Σ count × (GPUs the request of that size
  // cannot use), over the window (divide by mix.total() for GPUs).
  static int64_t Fragmentation(int64_t free, int64_t gpn, const RequestMix& mix);

 private:
  void Refile(int32_t n);                       // puts node n on the level of its free GPUs
  int64_t LowestLevelFrom(int64_t from) const;  // first non-empty level >= from, or 0
  int64_t HighestLevel() const;                 // highest non-empty level, or 0
  void TakeOn(int32_t n, int64_t gpus);

  // Non-plain pools.
  struct Candidate {
    int32_t node = -1;
    int32_t gpu = -1;  // a share on a partly used GPU; -1: a wholly free GPU / whole GPUs
  };
  bool NodeHasRoom(int32_t n, const NodeShape& s) const;  // CPU and memory
  // Visits the candidate lists for `s` in best-fit order (reverse: spread
  // order): visit(list, gpu_list, at) returns true to stop; `at` is the
  // list's free share (milli) for a list of partly used GPUs, else its free
  // GPUs (level). Returns true if stopped.
  template <typename Visit>
  bool WalkLists(const NodeShape& s, bool reverse, Visit visit) const;
  // Candidates for `s` (what WalkLists visits), counted in O(log) (shares)
  // plus O(GPUs per node) (levels).
  int64_t CountCandidates(const NodeShape& s) const;
  // Up to `limit` candidates that fit, in best-fit (or reverse) order, starting
  // after `skip` candidates (wrapping round); stops after kFitProbes misfits.
  void FittingCandidates(const NodeShape& s, bool reverse, int64_t skip, int64_t limit,
                         std::vector<Candidate>* out) const;
  // What the fragmentation measure reads of the mix for this pool's node
  // size. A node's fragmentation (milli) is, with f its whole free GPUs, S
  // the free share of its partly used GPUs (each p_k) and w whether it is
  // wholly free:
  //   Σ_k p_k·shares_above(p_k) + node_whole·S + 1000·f·larger[f]
  //     + gangs·(w ? 0 : S + 1000·f),
  // the per-size sum of the header's measure regrouped, so that it costs
  // O(GPUs per node) and the change a placement makes costs O(1) per list.
  struct MixTerms {
    int64_t node_whole = 0;           // whole-GPU requests of at most a node
    int64_t gangs = 0;                // requests larger than a node
    const int64_t* larger = nullptr;  // [f], f = 0..gpn: node_whole ones asking more than f GPUs
  };
  MixTerms Terms(const RequestMix& mix) const;  // fills larger_scratch_
  // Fragmentation of node `n` (milli) if `s` were placed on `c` (null: as is).
  int64_t FragWith(int32_t n, const MixTerms& t, const RequestMix& mix, const NodeShape* s,
                   const Candidate* c) const;
  // The change in a node's fragmentation when `s` goes on a candidate of the
  // list at `at` (WalkLists): the same for every candidate of a list.
  int64_t ListDelta(const MixTerms& t, const RequestMix& mix, const NodeShape& s, bool gpu_list,
                    int64_t at) const;
  // FGD's choice: the candidate whose node's fragmentation grows least (ties:
  // the first in best-fit order), reading each list once; false if none fits
  // within kFitProbes misfits.
  bool LeastFragmenting(const NodeShape& s, const MixTerms& t, const RequestMix& mix,
                        Candidate* out) const;
  void FileGpu(int32_t gid);  // puts GPU gid on the bucket of its free share
  void AddShare(int32_t n, int32_t g, int32_t milli);  // milli may be negative

  bool sharing_ = false, plain_ = true;
  int64_t cpu_cap_ = 0, mem_cap_ = 0;
  std::vector<int64_t> cpu_used_, mem_used_;  // per node (non-plain)
  std::vector<int16_t> slot_;                 // [node * gpn + gpu] -> share in use (sharing)
  std::vector<int32_t> bpos_;                 // [gid] -> index in its bucket, -1 if none
  std::vector<int16_t> bat_;                  // [gid] -> bucket (free milli) as filed, 0 none
  std::vector<std::vector<int32_t>> bucket_;  // [free milli 1..999] -> GPU ids
  std::array<uint64_t, 16> bnonempty_{};      // bit per bucket
  std::vector<int32_t> bcount_;  // Fenwick tree of the buckets' sizes (1-based; 1024, sharing)
  int64_t partly_used_ = 0;      // GPUs on a bucket
  mutable std::vector<int64_t> larger_scratch_;  // MixTerms::larger
  int64_t used_total_ = 0, used_milli_ = 0;
  mutable std::vector<Candidate> scratch_;

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
