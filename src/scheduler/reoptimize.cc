// Batch re-optimisation of the queue (Options::reoptimize_every): the one
// place the scheduler meets src/optimize. The optimiser sees each pool's free
// GPUs now, accelerator, marginal price and fabric, and each queued job's gang,
// allowed accelerators, priority and remaining work; it chooses which queued
// jobs start and where. It knows nothing of exclusivity, contracts, power or
// holds, so every start it proposes goes through all the placement filters
// now, exactly as a normal placement would; a job a filter rejects stays
// queued for the policy's pass. No work is preempted for it.
#include <algorithm>
#include <map>
#include <vector>

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
    const world::Job& job = world_.jobs[key.job];
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
  const optimize::BatchResult result = optimize::SolveBatch(in, {});

  const placement::Context ctx = MakeContext(now);  // reads the fleet as jobs start
  for (size_t i = 0; i < queued.size(); ++i) {
    const PoolIndex pool = result.plan.pool_of_job[i];
    if (pool == optimize::kUnplaced) continue;
    const JobIndex j = queued[i];
    const placement::Request req = JobRequest(j);
    ++attempts_;
    bool admitted = true;
    for (const auto& filter : placer_.filters()) {
      if (!filter->Check(ctx, req, pool).pass) {
        admitted = false;
        break;
      }
    }
    if (!admitted) continue;
    placement::Decision d;
    d.pool = pool;
    d.alloc_gpus = fleet_.AllocationSize(pool, world_.jobs[j].gpus);
    queue_.erase(KeyOf(j));
    jobs_[j].reserved_pool = world::kNone;
    StartJob(j, d, now);
    ++reoptimized_starts_;
  }
}

}  // namespace polycloud::scheduler
