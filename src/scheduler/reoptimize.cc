// Batch re-optimisation of the queue (Options::reoptimize_every): the one
// place the scheduler meets src/optimize. The optimiser sees each pool's free
// GPUs now, accelerator, marginal price and fabric, and each queued job's gang,
// allowed accelerators, priority and remaining work; it chooses which queued
// jobs start and where. It knows nothing of exclusivity, contracts, power or
// holds, so every start it proposes goes through all the placement filters
// now, exactly as a normal placement would; a job a filter rejects stays
// queued for the policy's pass. No work is preempted for it, and no job starts
// where it would take the room of a job of higher priority that still waits.
#include <algorithm>
#include <limits>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "polycloud/base/parse.h"
#include "polycloud/optimize/batch.h"
#include "polycloud/scheduler/scheduler.h"

namespace polycloud::scheduler {

using world::JobIndex;
using world::PoolIndex;

void Scheduler::ReoptimizeQueue(Time now) {
  ++reoptimizations_;
  optimize::Instance in;
  in.accelerator_count = static_cast<int32_t>(world_.accelerators.size());
  in.pools.reserve(world_.pools.size());
  for (size_t p = 0; p < world_.pools.size(); ++p) {
    const world::Pool& pool = world_.pools[p];
    const placement::PoolState& state = fleet_.pool(static_cast<PoolIndex>(p));
    optimize::PoolCapacity c;
    c.accelerator = pool.accelerator;
    c.speed_milli = world_.accelerators[pool.accelerator].speed_milli;
    // The same price the marginal-cost scorer sees: the ledger's, under this
    // run's cost model.
    c.price_per_gpu_hour =
        ledger_.MarginalPricePerGpuHour(static_cast<PoolIndex>(p), now, options_.cost_model);
    c.free_gpus = state.down() ? 0 : state.free();
    c.gpus_per_node = pool.gpus_per_node;
    c.max_gang = std::max<int64_t>(1, state.max_gang);
    in.pools.push_back(c);
  }
  std::map<std::vector<world::AcceleratorIndex>, int32_t> sets;
  std::vector<JobIndex> queued;
  queued.reserve(queue_.size());
  for (const QueueKey& key : queue_) {  // the policy's order: the optimiser's tie-break
    const world::Job& job = job_spec(key.job);
    auto [it, inserted] = sets.emplace(job.accelerators, static_cast<int32_t>(sets.size()));
    if (inserted) in.accelerator_sets.push_back(job.accelerators);
    optimize::QueuedJob q;
    q.gpus = job.gpus;
    q.accelerator_set = it->second;
    q.priority = job.priority;
    q.work_gpu_seconds = jobs_[key.job].remaining_work;
    in.jobs.push_back(q);
    queued.push_back(key.job);
  }
  // A queue whose figures would overflow the solver's 64-bit flow arithmetic
  // is not re-optimised (it used to abort the run); the policy's pass places
  // it as it would without the optimiser.
  if (Status fits = optimize::CheckMagnitudes(in); !fits.ok()) {
    ++reoptimizations_skipped_;
    reoptimize_skip_reason_ =
        "re-optimisation at " + FormatTime(now) + " skipped: " + fits.message();
    return;
  }
  const optimize::BatchResult result = optimize::SolveBatch(in, {});

  // The plan is applied in queue order, and no job starts where it would take
  // the room of a waiting job of higher priority: one the plan leaves waiting
  // (the optimiser trades spend within a priority band, and merges bands
  // beyond four) or whose planned start a filter refused. The policy's pass,
  // right after, places such a job as it would without the optimiser, so
  // lower-priority work never starts ahead of it, to be preempted by it later.
  std::vector<std::set<int64_t>> waiting_above(in.accelerator_sets.size());  // gangs, per set
  std::vector<std::pair<int32_t, int64_t>> waiting_level;  // (set, gang) at the current priority
  int32_t level_priority = std::numeric_limits<int32_t>::max();
  auto takes_room_of_higher = [&](PoolIndex pool, int64_t alloc) {
    const placement::PoolState& state = fleet_.pool(pool);
    const int64_t free = state.down() ? 0 : state.free();
    const world::AcceleratorIndex a = world_.pools[pool].accelerator;
    for (size_t set = 0; set < waiting_above.size(); ++set) {
      const std::set<int64_t>& gangs = waiting_above[set];
      if (gangs.empty()) continue;
      const auto& allowed = in.accelerator_sets[set];
      if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), a) == allowed.end())
        continue;
      // The largest waiting gang that fits now is the one most likely to be
      // squeezed out (allocation sizes grow with the gang).
      for (auto it = gangs.upper_bound(std::max<int64_t>(1, state.max_gang));
           it != gangs.begin();) {
        const int64_t need = fleet_.AllocationSize(pool, *--it);
        if (need > free) continue;
        if (need > free - alloc) return true;
        break;
      }
    }
    return false;
  };

  const placement::Context ctx = MakeContext(now);  // reads the fleet as jobs start
  for (size_t i = 0; i < queued.size(); ++i) {
    const JobIndex j = queued[i];
    const world::Job& job = job_spec(j);
    if (job.priority < level_priority) {
      for (const auto& [set, gang] : waiting_level) waiting_above[set].insert(gang);
      waiting_level.clear();
      level_priority = job.priority;
    }
    const PoolIndex pool = result.plan.pool_of_job[i];
    auto wait = [&] { waiting_level.emplace_back(in.jobs[i].accelerator_set, job.gpus); };
    if (pool == optimize::kUnplaced || (!world_.tenants.empty() && OverQuota(j))) {
      wait();
      continue;
    }
    const placement::Request req = JobRequest(j);
    ++attempts_;
    const bool admitted = placer_.Admits(ctx, req, pool);
    const int64_t alloc = fleet_.AllocationSize(pool, job.gpus);
    if (!admitted || takes_room_of_higher(pool, alloc)) {
      wait();
      continue;
    }
    // Held by its tenant's spend quota: it waits, and keeps no room from others.
    if (!world_.tenants.empty() && OverSpendQuota(j, pool, alloc, now)) continue;
    placement::Decision d;
    d.pool = pool;
    d.alloc_gpus = alloc;
    Dequeue(j);
    jobs_[j].reserved_pool = world::kNone;
    StartJob(j, d, now);
    ++reoptimized_starts_;
  }
}

}  // namespace polycloud::scheduler
