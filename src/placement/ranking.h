// Ranking: the placer's index of pools for the fast path, so that a decision
// touches a handful of pools instead of every pool with room.
//
// Pools are grouped into classes of equal static score (the part of a pool's
// score that does not change with its free GPUs: cost and speed), accelerator,
// provider and node shape (GPUs per node, GPU sharing, CPU and memory per
// node, so a request's shape fits all of a class or none). Within a class every term of the score
// but fragmentation is equal (diversity goes by provider, consolidation by node size), so the best
// pool of a class for a gang is the one with the fewest free GPUs that still holds it: members are
// kept sorted by (free GPUs, pool). Each accelerator's classes are ordered by static score, best
// first, under a max-tree of their largest free pool, so "the next class that has a pool with room
// for g GPUs" is a walk down a tree of a few levels. A second max-tree per provider (the other
// providers' classes at -1) finds the next class of one provider, for service replicas, whose
// diversity term differs by provider.
//
// The placer builds the ranking from its static scores and calls Sync before
// each decision; Sync follows the fleet's change log.
//
// Thread-safety: not thread-safe; one per Placer.
#ifndef POLYCLOUD_PLACEMENT_RANKING_H_
#define POLYCLOUD_PLACEMENT_RANKING_H_

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "polycloud/placement/fleet_state.h"
#include "polycloud/world/world.h"

namespace polycloud::placement {

class Ranking {
 public:
  struct Member {
    int64_t free;
    world::PoolIndex pool;
    friend bool operator<(const Member& a, const Member& b) {
      return a.free != b.free ? a.free < b.free : a.pool < b.pool;
    }
  };
  struct Class {
    int64_t score = 0;  // the static score its pools share
    world::AcceleratorIndex accelerator = world::kNone;
    world::ProviderIndex provider = world::kNone;
    int32_t gpus_per_node = 0;
    int64_t max_gang = 0;         // the largest gang any member's fabric allows
    std::vector<Member> members;  // ascending
  };

  // Groups the fleet's pools by `static_score` (one per pool) and reads their
  // free GPUs.
  void Build(const FleetState& fleet, const std::vector<int64_t>& static_score);
  // True when built for this fleet (Sync keeps it current).
  bool built_for(const FleetState& fleet) const { return serial_ == fleet.serial(); }
  // Applies the fleet's changes since the last Build or Sync.
  void Sync(const FleetState& fleet);

  // Classes of accelerator `a` are [begin(a), end(a)), best static score first.
  int32_t begin(world::AcceleratorIndex a) const { return first_[a]; }
  int32_t end(world::AcceleratorIndex a) const { return first_[a + 1]; }
  // The first class c in [from, end(a)) with a pool of at least `gpus` free
  // GPUs; end(a) when there is none.
  int32_t Next(world::AcceleratorIndex a, int32_t from, int64_t gpus) const {
    return NextIn(tree_, end(a), from, gpus);
  }
  // The same among the classes of provider `p`.
  int32_t NextOf(world::AcceleratorIndex a, world::ProviderIndex p, int32_t from,
                 int64_t gpus) const {
    return NextIn(provider_tree_[p], end(a), from, gpus);
  }
  const Class& cls(int32_t c) const { return classes_[c]; }

  // Calls visit(member) for the pools of the classes in `ranges` ([begin,
  // end) pairs of class indices) that admit(class) lets through, most free
  // GPUs first (in no particular order among equals), until it returns
  // false: a best-first walk of the max-tree, O(visited · log classes).
  template <typename Admit, typename Visit>
  void ByFreeDescending(const std::vector<std::pair<int32_t, int32_t>>& ranges, Admit admit,
                        Visit visit);

 private:
  struct Pending {  // of ByFreeDescending: a tree node, or a member of a class
    int64_t free;
    int32_t node;    // tree node, or class when member >= 0
    int32_t member;  // -1 for a tree node
    friend bool operator<(const Pending& a, const Pending& b) { return a.free < b.free; }
  };

  void SetFree(world::PoolIndex p, int64_t free);
  void SetLeaf(int32_t c, int64_t value);
  int32_t NextIn(const std::vector<int64_t>& tree, int32_t last, int32_t from, int64_t gpus) const;

  uint64_t serial_ = 0;
  uint64_t epoch_ = 0;
  size_t read_ = 0;  // entries of the fleet's change log applied
  std::vector<Class> classes_;
  std::vector<int32_t> first_;     // per accelerator, and one past the last
  std::vector<int32_t> class_of_;  // per pool
  std::vector<int64_t> free_;      // per pool, as indexed
  // Max-tree over classes: leaves at [leaves_, 2 * leaves_), the largest free
  // GPUs of a class' members (-1 past the last class).
  int32_t leaves_ = 1;
  std::vector<int64_t> tree_;
  std::vector<std::vector<int64_t>> provider_tree_;  // the same, per provider
  std::vector<Pending> pending_;                     // scratch, a max-heap
};

template <typename Admit, typename Visit>
void Ranking::ByFreeDescending(const std::vector<std::pair<int32_t, int32_t>>& ranges, Admit admit,
                               Visit visit) {
  pending_.clear();
  auto push = [&](Pending p) {
    if (p.free < 0) return;
    pending_.push_back(p);
    std::push_heap(pending_.begin(), pending_.end());
  };
  for (auto [b, e] : ranges) {  // the range's canonical nodes
    for (int32_t l = b + leaves_, r = e + leaves_; l < r; l /= 2, r /= 2) {
      if (l & 1) push({tree_[l], l, -1}), ++l;
      if (r & 1) --r, push({tree_[r], r, -1});
    }
  }
  while (!pending_.empty()) {
    std::pop_heap(pending_.begin(), pending_.end());
    const Pending p = pending_.back();
    pending_.pop_back();
    if (p.member < 0 && p.node < leaves_) {
      push({tree_[2 * p.node], 2 * p.node, -1});
      push({tree_[2 * p.node + 1], 2 * p.node + 1, -1});
    } else if (p.member < 0) {
      const Class& c = classes_[p.node - leaves_];
      if (!admit(c)) continue;
      const auto last = static_cast<int32_t>(c.members.size()) - 1;
      push({c.members[last].free, p.node - leaves_, last});
    } else {
      const Class& c = classes_[p.node];
      if (!visit(c.members[p.member])) return;
      if (p.member > 0) push({c.members[p.member - 1].free, p.node, p.member - 1});
    }
  }
}

}  // namespace polycloud::placement

#endif  // POLYCLOUD_PLACEMENT_RANKING_H_
