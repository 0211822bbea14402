#include "polycloud/scheduler/allocation_table.h"

#include <algorithm>

#include "polycloud/base/status.h"

namespace polycloud::scheduler {

AllocationTable::AllocationTable(size_t pools, bool index_by_finish)
    : pool_allocs_(pools),
      preemptible_gpus_(pools, 0),
      preemptible_max_(pools, std::numeric_limits<int32_t>::min()),
      preemptible_slot_(pools, -1),
      pool_jobs_(pools, 0),
      job_slot_(pools, -1),
      index_by_finish_(index_by_finish),
      by_finish_(index_by_finish ? pools : 0) {}

__int128 AllocationTable::FinishKey(const Allocation& a) {
  const __int128 numerator = static_cast<__int128>(a.work) * 1000 +
                             static_cast<__int128>(a.start.unix_seconds()) * a.rate_milli;
  return numerator / (a.gang > 0 ? a.gang : 1);
}

void AllocationTable::SetStart(int32_t id, Time start) {
  Allocation& a = allocs_[id];
  POLYCLOUD_CHECK(a.live);
  const bool indexed = index_by_finish_ && !a.is_service;
  if (indexed) by_finish_[a.pool].erase({FinishKey(a), id});
  a.start = start;
  if (indexed) by_finish_[a.pool].insert({FinishKey(a), id});
}

void AllocationTable::Enter(world::PoolIndex pool, std::vector<world::PoolIndex>& list,
                            std::vector<int32_t>& slot) {
  slot[pool] = static_cast<int32_t>(list.size());
  list.push_back(pool);
}

void AllocationTable::Leave(world::PoolIndex pool, std::vector<world::PoolIndex>& list,
                            std::vector<int32_t>& slot) {
  const world::PoolIndex moved = list.back();
  list[slot[pool]] = moved;
  slot[moved] = slot[pool];
  list.pop_back();
  slot[pool] = -1;
}

int32_t AllocationTable::Add(const Allocation& allocation) {
  int32_t id;
  if (!free_ids_.empty()) {
    id = free_ids_.back();
    free_ids_.pop_back();
  } else {
    id = static_cast<int32_t>(allocs_.size());
    allocs_.emplace_back();
  }
  Allocation& a = allocs_[id];
  a = allocation;
  a.live = true;
  const world::PoolIndex pool = a.pool;
  a.slot = static_cast<int32_t>(pool_allocs_[pool].size());
  pool_allocs_[pool].push_back(id);
  if (a.preemptible) {
    if (preemptible_gpus_[pool] == 0 && a.gpus > 0)
      Enter(pool, preemptible_pools_, preemptible_slot_);
    preemptible_gpus_[pool] += a.gpus;
    preemptible_max_[pool] = std::max(preemptible_max_[pool], a.priority);
  }
  if (!a.is_service && pool_jobs_[pool]++ == 0) Enter(pool, job_pools_, job_slot_);
  if (index_by_finish_ && !a.is_service) by_finish_[pool].insert({FinishKey(a), id});
  return id;
}

void AllocationTable::Remove(int32_t id) {
  Allocation& a = allocs_[id];
  POLYCLOUD_CHECK(a.live);
  const world::PoolIndex pool = a.pool;
  auto& list = pool_allocs_[pool];
  const int32_t last = list.back();
  list[a.slot] = last;
  allocs_[last].slot = a.slot;
  list.pop_back();
  if (a.preemptible) {
    preemptible_gpus_[pool] -= a.gpus;
    if (preemptible_gpus_[pool] == 0 && preemptible_slot_[pool] >= 0) {
      Leave(pool, preemptible_pools_, preemptible_slot_);
      preemptible_max_[pool] = std::numeric_limits<int32_t>::min();
    }
  }
  if (!a.is_service && --pool_jobs_[pool] == 0) Leave(pool, job_pools_, job_slot_);
  if (index_by_finish_ && !a.is_service) by_finish_[pool].erase({FinishKey(a), id});
  a.live = false;
  free_ids_.push_back(id);
}

}  // namespace polycloud::scheduler
