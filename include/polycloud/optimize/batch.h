// Batch re-optimisation of a whole job queue against the pools' free capacity
// now: which queued job should start in which pool so that, first, as many
// GPUs as possible start (weighted by priority band) and, second, they cost as
// little as possible. Three solvers share one instance type and one objective,
// so they can be compared on the same instance:
//
//   SolveGreedy      job by job in queue order, cheapest feasible pool
//   SolveBatch       jobs aggregated into equivalence classes, class → pool
//                    min-cost flow (network simplex), disaggregated to whole gangs
//   SolveRelaxation  the exact per-job min-cost flow (no aggregation); gangs may
//                    split across pools that could each host them, so its
//                    objective is a lower bound on every feasible plan's
//
//   optimize::Instance in = ...;             // pools' free GPUs, the queue
//   optimize::BatchResult r = optimize::SolveBatch(in, {});
//   optimize::Evaluation e = optimize::Evaluate(in, r.plan);
//
// The objective (docs/performance.md, "Batch re-optimisation"): the spend of
// every started job — allocated GPUs × run time on the pool's accelerator ×
// the pool's marginal price, exact in micro-dollars — plus, for every job left
// waiting, its gang size × the penalty per GPU of its priority band. The
// penalty per GPU exceeds any job's spend per GPU, so starting a GPU of work
// always beats leaving it waiting, and a higher band outweighs a lower one.
//
// Thread-safety: pure functions of their arguments.
#ifndef POLYCLOUD_OPTIMIZE_BATCH_H_
#define POLYCLOUD_OPTIMIZE_BATCH_H_

#include <cstdint>
#include <vector>

#include "polycloud/base/status.h"
#include "polycloud/base/units.h"
#include "polycloud/world/world.h"

namespace polycloud::optimize {

// One pool as the optimiser sees it now.
struct PoolCapacity {
  world::AcceleratorIndex accelerator = 0;
  int64_t speed_milli = 1000;  // the accelerator's relative speed (H100 = 1000)
  Money price_per_gpu_hour;    // marginal price (placement::MarginalPricePerGpuHour)
  int64_t free_gpus = 0;       // GPUs that may be allocated now
  int64_t gpus_per_node = 8;   // a gang larger than a node takes whole nodes
  int64_t max_gang = 0;        // largest gang the fabric allows (> 0)
};

// One queued job.
struct QueuedJob {
  int64_t gpus = 1;             // gang size: all in one pool or not at all
  int32_t accelerator_set = 0;  // index into Instance::accelerator_sets
  int32_t priority = 0;
  int64_t work_gpu_seconds = 0;  // reference (H100) GPU-seconds
};

struct Instance {
  int32_t accelerator_count = 0;  // accelerator indices are < this
  std::vector<PoolCapacity> pools;
  // Allowed accelerator types of the jobs, shared; an empty set allows every type.
  std::vector<std::vector<world::AcceleratorIndex>> accelerator_sets;
  std::vector<QueuedJob> jobs;  // in queue order (greedy's order, and the tie-break)
};

inline constexpr int32_t kUnplaced = -1;

// Where each job starts: an index into Instance::pools, or kUnplaced.
struct Plan {
  std::vector<int32_t> pool_of_job;
};

// GPUs a gang of `gang` takes in `pool` (as placement::FleetState::AllocationSize).
int64_t AllocationSize(const PoolCapacity& pool, int64_t gang);
// Seconds `job` runs on `pool`'s accelerator (at least 1, rounded up, as the scheduler does).
int64_t RunSeconds(const QueuedJob& job, const PoolCapacity& pool);
// What `job` costs in `pool`: AllocationSize × RunSeconds × marginal price.
Money JobCost(const QueuedJob& job, const PoolCapacity& pool);
// Whether `pool` admits `job` regardless of free GPUs: accelerator and fabric.
bool Admits(const Instance& in, const QueuedJob& job, const PoolCapacity& pool);

// Priority bands, 0 = lowest: the queue's distinct priorities in ascending
// order, split into at most kMaxPriorityBands contiguous groups.
inline constexpr int32_t kMaxPriorityBands = 4;
std::vector<int32_t> PriorityBands(const Instance& in);
// Penalty per GPU of band 0 of `in`: one micro-dollar more than the largest
// spend per allocated GPU any job could have in any pool. Band b pays (b+1)×.
Money PenaltyPerGpu(const Instance& in);

// OK when SolveBatch and SolveRelaxation can solve `in` in their 64-bit flow
// arithmetic: every waiting GPU's penalty summed, and the network simplex's
// artificial cost (the top penalty times the nodes of the largest network),
// stay below 2^61. Otherwise an InvalidInput status that says which figure
// is too large; the solvers must not be called then (they check and abort).
// A queue of thousands of large gangs at a price per instance (e.g.
// $98.32/GPU-h for 20,000 jobs of 512 GPUs running a year) gets there.
Status CheckMagnitudes(const Instance& in);

struct Evaluation {
  Money spend;    // of the started jobs
  Money penalty;  // of the waiting jobs
  Money objective() const { return spend + penalty; }
  int64_t placed_jobs = 0;
  int64_t placed_gpus = 0;  // allocated
  int64_t unplaced_jobs = 0;
  int64_t unplaced_gpus = 0;  // gang sizes
};

// The objective of `plan`. The plan must be feasible (CheckPlan).
Evaluation Evaluate(const Instance& in, const Plan& plan);
// OK when every started job's pool admits it and no pool is over its free
// GPUs; Internal naming the first violation otherwise.
Status CheckPlan(const Instance& in, const Plan& plan);

// Job by job in queue order, the feasible pool where the job costs least now
// (ties: the lower pool index); a job that fits nowhere waits.
Plan SolveGreedy(const Instance& in);

enum class FlowAlgorithm { kNetworkSimplex, kCostScaling };

struct BatchOptions {
  // Classes: the jobs of one accelerator set, gang size and band, in order of
  // work per GPU, are cut into runs whose work W and relative spread of work
  // per GPU s = first / last − 1 keep W · s within this many millionths of
  // the queue's whole work (0: one class per set, gang and band).
  int64_t class_spread_ppm = 50;
  // kNetworkSimplex: the warm-started network simplex of src/optimize;
  // kCostScaling: LEMON's CostScaling, started afresh on every round.
  FlowAlgorithm algorithm = FlowAlgorithm::kNetworkSimplex;
  // Flow solves of the coarse (accelerator set, gang, band) network and of the
  // class network; 0 = until no left-out arc could lower the cost.
  int32_t coarse_rounds = 0;
  int32_t class_rounds = 4;
};

struct SolveStats {
  int64_t sources = 0;  // classes (batch) or jobs (relaxation) in the network
  int64_t nodes = 0;
  int64_t arcs = 0;             // in the last flow network solved
  int32_t rounds = 0;           // flow solves (arc-set growth rounds)
  bool proven_optimal = false;  // no left-out arc had a negative reduced cost
  Money flow_objective;         // the flow's own objective (class averages for the batch)
  int64_t repaired_jobs = 0;    // batch: jobs placed by the repair step
  int64_t moved_jobs = 0;       // batch: jobs moved to a cheaper pool by the refinement
  bool greedy_won = false;      // batch: greedy's plan was better, and is the result
  int64_t split_jobs = 0;  // relaxation: sources (identical jobs merged) sent to > 1 destination
};

struct BatchResult {
  Plan plan;
  SolveStats stats;
};

// Aggregates the queue into classes (accelerator set, gang size, priority
// band, a run of work per GPU), solves the class → pool-group min-cost flow,
// gives each class's flow to its jobs as whole gangs (most work to the
// cheapest groups, the sink's share to the jobs that would cost most), packs
// the gangs into the pools (largest first, best fit), places what did not fit
// job by job by a flow over the capacity left, then greedily; moves started
// jobs to cheaper pools where they fit; starts waiting jobs where moving
// others out lowers the objective; and exchanges the pools of started gangs of
// one size where both admit them. The plan is feasible and deterministic, and
// never worse than SolveGreedy's (which it returns when that is better).
BatchResult SolveBatch(const Instance& in, const BatchOptions& options);

struct RelaxationResult {
  Money objective;  // the exact optimum of the per-job flow: a lower bound
  Money penalty;    // of it, the penalty of the GPUs left waiting
  int64_t unplaced_gpus = 0;
  SolveStats stats;
};

// The exact optimum of the per-job min-cost flow, every job its own source and
// every pool reachable (pools of equal accelerator, price and largest usable
// gang are merged, which does not change the optimum). The arc set is grown
// by reduced cost until no left-out arc could lower the cost, so the result is
// the optimum over all arcs (docs/performance.md).
RelaxationResult SolveRelaxation(const Instance& in, FlowAlgorithm algorithm);

// A seeded random instance for tests and benchmarks (docs/performance.md,
// "The instance generator").
struct GeneratorOptions {
  uint64_t seed = 1;
  int64_t jobs = 10'000;
  int64_t pools = 100;
  // Free GPUs of all pools over the GPUs the queue asks for.
  int64_t capacity_percent = 140;
};
Instance GenerateInstance(const GeneratorOptions& options);

}  // namespace polycloud::optimize

#endif  // POLYCLOUD_OPTIMIZE_BATCH_H_
