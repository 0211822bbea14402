// Ranking: the placer's index of pools for the fast path, so that a decision
// touches a handful of pools instead of every pool with room.
//
// Pools are grouped into classes of equal static score (the part of a pool's
// score that does not change with its free GPUs: cost and speed), accelerator
// and node size. Within a class every term of a job's score but fragmentation
// is equal, so the best pool of a class for a gang is the one with the fewest
// free GPUs that still holds it: members are kept sorted by (free GPUs, pool).
// (A service replica's diversity term differs by provider, so for a replica
// the placer reads a whole class.) Each accelerator's classes are ordered by static score,
// best first, under a max-tree of their largest free pool, so "the next class
// that has a pool with room for g GPUs" is a walk down a tree of a few levels.
//
// The placer builds the ranking from its static scores and calls Sync before
// each decision; Sync follows the fleet's change log.
//
// Thread-safety: not thread-safe; one per Placer.
#ifndef POLYCLOUD_PLACEMENT_RANKING_H_
#define POLYCLOUD_PLACEMENT_RANKING_H_

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
    int32_t gpus_per_node = 0;
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
  int32_t Next(world::AcceleratorIndex a, int32_t from, int64_t gpus) const;
  const Class& cls(int32_t c) const { return classes_[c]; }

 private:
  void SetFree(world::PoolIndex p, int64_t free);
  void SetLeaf(int32_t c, int64_t value);

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
};

}  // namespace polycloud::placement

#endif  // POLYCLOUD_PLACEMENT_RANKING_H_
