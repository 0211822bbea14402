// AllocationTable: who holds which GPUs. One Allocation per running job and
// per service replica, listed per pool, with the preemption index the placer
// asks (which pools hold preemptible work, how many GPUs, up to which
// priority). Ids are reused after Remove; an id is valid from Add to Remove.
//
//   AllocationTable table(world.pools.size());
//   int32_t id = table.Add(allocation);   // allocation.pool, .gpus, ... set
//   for (int32_t other : table.InPool(pool)) ...
//   table.Remove(id);
//
// It knows nothing of capacity, money or time: the scheduler binds the GPUs
// in the FleetState and bills the ledger around Add and Remove.
//
// Thread-safety: not thread-safe; one owner (the scheduler).
#ifndef POLYCLOUD_SCHEDULER_ALLOCATION_TABLE_H_
#define POLYCLOUD_SCHEDULER_ALLOCATION_TABLE_H_

#include <cstdint>
#include <limits>
#include <set>
#include <utility>
#include <vector>

#include "polycloud/base/units.h"
#include "polycloud/world/world.h"

namespace polycloud::scheduler {

struct Allocation {
  bool live = false;
  bool is_service = false;
  bool preemptible = false;
  int32_t owner = world::kNone;  // job or service index
  world::PoolIndex pool = world::kNone;
  int64_t gpus = 0;  // allocated (whole nodes for large gangs)
  int64_t gang = 0;  // requested
  // Jobs with a share of a GPU, CPU or memory (world::Job), for FleetState::Bind.
  int32_t gpu_milli = 0;
  int64_t cpu_milli = 0;
  int64_t memory_mib = 0;
  int32_t priority = 0;
  int32_t slot = -1;    // position in the pool's list
  int32_t placed = -1;  // FleetState's handle of the nodes it holds (-1 without nodes)
  Time start;           // when the run (or replica) started
  int64_t tokens = 0;   // replicas: throughput
  // Jobs: reference GPU-seconds left when the run started, and the rate the
  // gang works at (gang × the pool's speed, thousandths of reference
  // GPU-seconds per second), so a remaining time costs no lookups.
  int64_t work = 0;
  int64_t rate_milli = 0;
  // Seconds the run takes at that rate (Scheduler::RunSeconds); past them no
  // work is left, and below them elapsed × rate cannot overflow.
  int64_t run_seconds = 0;

  // GPU-seconds it holds over `seconds`: a share counts its fraction of one GPU.
  int64_t GpuSeconds(int64_t seconds) const {
    return gpu_milli > 0 ? seconds * gpu_milli / 1000 : gpus * seconds;
  }

  // Reference GPU-seconds of work left at `now`.
  int64_t WorkLeft(Time now) const {
    const int64_t elapsed = (now - start).seconds();
    if (elapsed >= run_seconds) return 0;
    // elapsed × rate <= work × 1000 + rate here: 64 bits unless the work is
    // beyond what 64 bits count in thousandths (only work past the validator).
    if (work <= kWorkFor64) return work - elapsed * rate_milli / 1000;
    const __int128 done = static_cast<__int128>(elapsed) * rate_milli / 1000;
    return work > done ? static_cast<int64_t>(work - done) : 0;
  }
  static constexpr int64_t kWorkFor64 = (int64_t{1} << 62) / 1000;
  // Reference seconds of work left per GPU at `now` (a job's SRTF key).
  int64_t RemainingSeconds(Time now) const { return WorkLeft(now) / (gang > 0 ? gang : 1); }
  // RemainingSeconds(now) > seconds, without the division (a hot test under SRTF).
  bool RemainsLongerThan(int64_t seconds, Time now) const {
    const int64_t left = WorkLeft(now);
    // A widening multiply (one instruction); no division.
    return left > 0 && static_cast<__int128>(seconds + 1) * gang <= left;
  }
};

class AllocationTable {
 public:
  // With `index_by_finish` (SRTF) each pool's jobs are also kept ordered by
  // FinishKey, so the jobs with the most work left are found without a scan.
  explicit AllocationTable(size_t pools, bool index_by_finish = false);

  // Files `a` (live, with its pool and GPUs set) and returns its id.
  int32_t Add(const Allocation& a);
  // Takes allocation `id` off its pool and the preemption index; the record
  // stays readable (not live) until the id is reused.
  void Remove(int32_t id);
  // Moves the start of job allocation `id` (its site reported the real start).
  void SetStart(int32_t id, Time start);

  const Allocation& operator[](int32_t id) const { return allocs_[id]; }
  Allocation& operator[](int32_t id) { return allocs_[id]; }
  // Ids ever handed out (live or not): iterate 0..size() and test `live`.
  int32_t size() const { return static_cast<int32_t>(allocs_.size()); }
  // The live allocations in `pool`, in no particular order.
  const std::vector<int32_t>& InPool(world::PoolIndex pool) const { return pool_allocs_[pool]; }

  // Preemption index.
  int64_t PreemptibleGpus(world::PoolIndex pool) const { return preemptible_gpus_[pool]; }
  // An upper bound of the priority of preemptible work in `pool`.
  int32_t PreemptibleMaxPriority(world::PoolIndex pool) const { return preemptible_max_[pool]; }
  // The pools with preemptible GPUs, in no particular order.
  const std::vector<world::PoolIndex>& PreemptiblePools() const { return preemptible_pools_; }
  // The pools with at least one job (not a replica), in no particular order.
  const std::vector<world::PoolIndex>& JobPools() const { return job_pools_; }

  // The finish index (index_by_finish only). A job's FinishKey is its
  // reference work left per GPU, in thousandths of a second, as if measured at
  // the Unix epoch: (work × 1000 + start × rate) ÷ gang. In one pool every
  // job's GPUs run at the same speed s (thousandths), so at `now` a job with
  // key K has RemainingSeconds(now) within (w − 1.002, w + 1.002), where
  // w = (K − now × s) ÷ 1000: keys order jobs by remaining time up to a band
  // of a few seconds, which callers close with the exact test.
  using FinishIndex = std::set<std::pair<__int128, int32_t>>;
  static __int128 FinishKey(const Allocation& a);
  const FinishIndex& ByFinish(world::PoolIndex pool) const { return by_finish_[pool]; }

 private:
  // A set of pools with O(1) insert and erase (a list and each pool's slot).
  static void Enter(world::PoolIndex pool, std::vector<world::PoolIndex>& list,
                    std::vector<int32_t>& slot);
  static void Leave(world::PoolIndex pool, std::vector<world::PoolIndex>& list,
                    std::vector<int32_t>& slot);

  std::vector<Allocation> allocs_;
  std::vector<int32_t> free_ids_;
  std::vector<std::vector<int32_t>> pool_allocs_;
  std::vector<int64_t> preemptible_gpus_;
  std::vector<int32_t> preemptible_max_;
  std::vector<world::PoolIndex> preemptible_pools_;
  std::vector<int32_t> preemptible_slot_;  // per pool: its place there, or -1
  std::vector<int32_t> pool_jobs_;         // per pool: live job allocations
  std::vector<world::PoolIndex> job_pools_;
  std::vector<int32_t> job_slot_;
  bool index_by_finish_ = false;
  std::vector<FinishIndex> by_finish_;
};

}  // namespace polycloud::scheduler

#endif  // POLYCLOUD_SCHEDULER_ALLOCATION_TABLE_H_
