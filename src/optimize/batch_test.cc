#include "polycloud/optimize/batch.h"

#include <gtest/gtest.h>

#include <functional>

#include "polycloud/base/rng.h"

namespace polycloud::optimize {
namespace {

PoolCapacity MakePool(world::AcceleratorIndex a, int64_t dollars_per_hour, int64_t free,
                      int64_t max_gang = 1 << 20) {
  PoolCapacity p;
  p.accelerator = a;
  p.speed_milli = 1000;
  p.price_per_gpu_hour = Money::FromDollars(dollars_per_hour);
  p.free_gpus = free;
  p.gpus_per_node = 8;
  p.max_gang = max_gang;
  return p;
}

QueuedJob MakeJob(int64_t gpus, int64_t hours_per_gpu, int32_t priority = 0, int32_t set = 0) {
  QueuedJob j;
  j.gpus = gpus;
  j.accelerator_set = set;
  j.priority = priority;
  j.work_gpu_seconds = gpus * hours_per_gpu * 3600;
  return j;
}

Instance TwoPools() {
  Instance in;
  in.accelerator_count = 1;
  in.accelerator_sets = {{}};
  in.pools = {MakePool(0, 1, 8), MakePool(0, 3, 8)};
  return in;
}

// Every plan of a tiny instance, to find its true (integer) optimum.
Money BruteForceOptimum(const Instance& in) {
  Plan plan;
  plan.pool_of_job.assign(in.jobs.size(), kUnplaced);
  Money best = Money::FromMicros(std::numeric_limits<int64_t>::max());
  std::function<void(size_t)> go = [&](size_t j) {
    if (j == in.jobs.size()) {
      if (CheckPlan(in, plan).ok()) best = std::min(best, Evaluate(in, plan).objective());
      return;
    }
    for (int32_t p = kUnplaced; p < static_cast<int32_t>(in.pools.size()); ++p) {
      plan.pool_of_job[j] = p;
      go(j + 1);
    }
    plan.pool_of_job[j] = kUnplaced;
  };
  go(0);
  return best;
}

TEST(CostModelTest, JobCostIsAllocatedGpusTimesRunTimeTimesPrice) {
  PoolCapacity pool = MakePool(0, 2, 64);
  pool.speed_milli = 2000;
  const QueuedJob job = MakeJob(12, 3);  // 12 GPUs take 2 nodes (16 GPUs), run 1.5 h
  EXPECT_EQ(AllocationSize(pool, 12), 16);
  EXPECT_EQ(RunSeconds(job, pool), 5400);
  EXPECT_EQ(JobCost(job, pool), Money::FromDollars(16 * 3));
}

TEST(BatchOptimizerTest, GivesTheCheapPoolToTheLongerJobWhereGreedyDoesNot) {
  Instance in = TwoPools();
  in.jobs = {MakeJob(8, 1), MakeJob(8, 10)};  // the short job is first in the queue
  const Plan greedy = SolveGreedy(in);
  EXPECT_EQ(greedy.pool_of_job, (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(Evaluate(in, greedy).spend, Money::FromDollars(8 * 1 * 1 + 8 * 10 * 3));
  const BatchResult batch = SolveBatch(in, {});
  EXPECT_EQ(batch.plan.pool_of_job, (std::vector<int32_t>{1, 0}));
  EXPECT_EQ(Evaluate(in, batch.plan).spend, Money::FromDollars(8 * 1 * 3 + 8 * 10 * 1));
  EXPECT_EQ(SolveRelaxation(in, FlowAlgorithm::kNetworkSimplex).objective, Money::FromDollars(104));
}

TEST(BatchOptimizerTest, KeepsGangsWholeInWholeNodesWhereTheRelaxationDoesNot) {
  Instance in;
  in.accelerator_count = 1;
  in.accelerator_sets = {{}};
  in.pools = {MakePool(0, 1, 16), MakePool(0, 3, 16)};  // 8-GPU nodes
  in.jobs = {MakeJob(12, 1), MakeJob(4, 1)};
  // The flow counts GPUs of gangs: 12 + 4 fit the cheap pool's 16 GPUs.
  EXPECT_EQ(SolveRelaxation(in, FlowAlgorithm::kNetworkSimplex).objective, Money::FromDollars(16));
  // Whole nodes: the 12-GPU gang takes 16, so the 4-GPU gang goes to the dear pool.
  const BatchResult batch = SolveBatch(in, {});
  ASSERT_TRUE(CheckPlan(in, batch.plan).ok());
  EXPECT_EQ(batch.plan.pool_of_job, (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(Evaluate(in, batch.plan).objective(), Money::FromDollars(16 + 12));
  EXPECT_EQ(Evaluate(in, batch.plan).objective(), BruteForceOptimum(in));
}

TEST(BatchOptimizerTest, LeavesUnplaceableJobsWaitingWithTheirPenalty) {
  Instance in = TwoPools();
  in.pools[0].max_gang = 8;
  in.pools[1].max_gang = 8;
  in.jobs = {MakeJob(16, 1, 5), MakeJob(8, 1)};
  for (const Plan& plan : {SolveGreedy(in), SolveBatch(in, {}).plan}) {
    EXPECT_EQ(plan.pool_of_job[0], kUnplaced);
    EXPECT_EQ(plan.pool_of_job[1], 0);
    const Evaluation e = Evaluate(in, plan);
    EXPECT_EQ(e.unplaced_gpus, 16);
    // Priority 5 is the higher of two bands: twice the base penalty per GPU.
    EXPECT_EQ(e.penalty.micros(), 16 * 2 * PenaltyPerGpu(in).micros());
  }
  const RelaxationResult lb = SolveRelaxation(in, FlowAlgorithm::kNetworkSimplex);
  EXPECT_EQ(lb.objective, Evaluate(in, SolveBatch(in, {}).plan).objective());
}

TEST(BatchOptimizerTest, PrefersHigherPriorityWhenCapacityIsShort) {
  Instance in = TwoPools();
  in.pools = {MakePool(0, 1, 8)};
  in.jobs = {MakeJob(8, 1, 0), MakeJob(8, 1, 10)};
  EXPECT_EQ(SolveGreedy(in).pool_of_job, (std::vector<int32_t>{0, kUnplaced}));
  EXPECT_EQ(SolveBatch(in, {}).plan.pool_of_job, (std::vector<int32_t>{kUnplaced, 0}));
}

// Regression: the class's flow to the sink was laid over its jobs last, so
// the jobs with the least work waited and the ones with the most started.
TEST(BatchOptimizerTest, LeavesTheJobsThatWouldCostMostWaitingWhenCapacityIsShort) {
  Instance in = TwoPools();
  in.pools = {MakePool(0, 2, 8)};
  in.jobs = {MakeJob(8, 10), MakeJob(8, 11)};
  BatchOptions one_class;
  one_class.class_spread_ppm = 0;  // both jobs in one class
  for (const BatchOptions& options : {one_class, BatchOptions{}}) {
    const Plan plan = SolveBatch(in, options).plan;
    EXPECT_EQ(plan.pool_of_job, (std::vector<int32_t>{0, kUnplaced}));
    EXPECT_EQ(Evaluate(in, plan).objective(), BruteForceOptimum(in));
  }
}

// Regression, from the random tiny instances below: the rounding filled the
// H100-class pool (accelerator 1) with two "any" jobs and left the 2-GPU job
// that can only run there waiting, and the greedy repair found no room for it.
// The per-job flow over what is left and the moves now reach the optimum.
TEST(BatchOptimizerTest, FindsTheOptimumWhereTheRoundingLeftAHigherBandJobWaiting) {
  Instance in;
  in.accelerator_count = 2;
  in.accelerator_sets = {{}, {0}, {1}};
  in.pools = {MakePool(1, 4, 12), MakePool(0, 4, 12), MakePool(0, 3, 16)};
  in.jobs = {MakeJob(2, 5, 0, 1), MakeJob(16, 6, 0, 0), MakeJob(4, 5, 1, 0), MakeJob(2, 4, 1, 2),
             MakeJob(8, 2, 1, 0)};
  const Plan plan = SolveBatch(in, {}).plan;
  ASSERT_TRUE(CheckPlan(in, plan).ok());
  EXPECT_EQ(plan.pool_of_job[3], 0);
  EXPECT_EQ(Evaluate(in, plan).unplaced_jobs, 0);
  EXPECT_EQ(Evaluate(in, plan).objective(), BruteForceOptimum(in));
}

// Regression, from random tiny instances: two 8-GPU gangs of one band, one
// that runs anywhere with more work and one that needs accelerator 0, ended
// the wrong way round in the $1 and $4 accelerator-0 pools (exchanges were
// only within one accelerator set), and a 1-GPU job stayed in the dear pool.
TEST(BatchOptimizerTest, ExchangesPoolsAcrossAcceleratorSetsWhereBothAdmitThem) {
  Instance in;
  in.accelerator_count = 2;
  in.accelerator_sets = {{}, {0}, {1}};
  in.pools = {MakePool(0, 1, 8, 8), MakePool(0, 4, 16, 8), MakePool(1, 1, 8)};
  in.jobs = {MakeJob(1, 7, 1, 2), MakeJob(1, 1, 0, 0), MakeJob(8, 2, 1, 0), MakeJob(8, 1, 1, 1)};
  const Plan plan = SolveBatch(in, {}).plan;
  ASSERT_TRUE(CheckPlan(in, plan).ok());
  EXPECT_EQ(plan.pool_of_job[2], 0);  // the longer gang in the $1 pool
  EXPECT_EQ(plan.pool_of_job[3], 1);
  EXPECT_EQ(Evaluate(in, plan).objective(), BruteForceOptimum(in));
}

TEST(BatchOptimizerTest, BreaksTiesByPoolIndexAndIsDeterministic) {
  Instance in = TwoPools();
  in.pools = {MakePool(0, 2, 8), MakePool(0, 2, 8), MakePool(0, 2, 8)};
  in.jobs = {MakeJob(8, 1)};
  EXPECT_EQ(SolveGreedy(in).pool_of_job[0], 0);
  EXPECT_EQ(SolveBatch(in, {}).plan.pool_of_job[0], 0);
  const Instance big = GenerateInstance({7, 2000, 40, 120});
  EXPECT_EQ(SolveBatch(big, {}).plan.pool_of_job, SolveBatch(big, {}).plan.pool_of_job);
}

TEST(BatchOptimizerTest, RespectsAcceleratorSetsAndFabric) {
  Instance in;
  in.accelerator_count = 2;
  in.accelerator_sets = {{1}};
  in.pools = {MakePool(0, 1, 64), MakePool(1, 5, 64, 16), MakePool(1, 9, 64)};
  in.jobs = {MakeJob(32, 1)};
  EXPECT_EQ(SolveBatch(in, {}).plan.pool_of_job[0], 2);
  EXPECT_EQ(SolveGreedy(in).pool_of_job[0], 2);
}

// On random tiny instances: the relaxation never exceeds the true optimum, and
// no solver's feasible plan is below it.
TEST(BatchOptimizerTest, NeverBelowTheTrueOptimumOnRandomTinyInstances) {
  Rng rng(42);
  for (int round = 0; round < 60; ++round) {
    Instance in;
    in.accelerator_count = 2;
    in.accelerator_sets = {{}, {0}, {1}};
    for (int p = 0; p < 3; ++p) {
      in.pools.push_back(
          MakePool(static_cast<int32_t>(rng.Below(2)), 1 + static_cast<int64_t>(rng.Below(4)),
                   4 * static_cast<int64_t>(rng.Below(5)), rng.Below(3) == 0 ? 8 : 1 << 20));
    }
    for (int j = 0; j < 5; ++j) {
      in.jobs.push_back(MakeJob(int64_t{1} << rng.Below(5), 1 + static_cast<int64_t>(rng.Below(9)),
                                static_cast<int32_t>(rng.Below(2)),
                                static_cast<int32_t>(rng.Below(3))));
    }
    const Money optimum = BruteForceOptimum(in);
    const Money lb = SolveRelaxation(in, FlowAlgorithm::kNetworkSimplex).objective;
    EXPECT_LE(lb, optimum) << "round " << round;
    EXPECT_EQ(SolveRelaxation(in, FlowAlgorithm::kCostScaling).objective, lb) << "round " << round;
    for (const Plan& plan : {SolveGreedy(in), SolveBatch(in, {}).plan,
                             SolveBatch(in, {1, FlowAlgorithm::kCostScaling}).plan}) {
      ASSERT_TRUE(CheckPlan(in, plan).ok()) << CheckPlan(in, plan).message();
      EXPECT_GE(Evaluate(in, plan).objective(), optimum) << "round " << round;
    }
  }
}

// Gangs that do not divide one another and whole nodes that round them up:
// the flow's levels only bound the packing there, and the rounding can end
// above greedy; the batch solver then returns greedy's plan.
TEST(BatchOptimizerTest, NeverWorseThanGreedyOnOddGangsAndNodes) {
  Rng rng(5);
  int greedy_won = 0;
  for (int round = 0; round < 400; ++round) {
    Instance in;
    in.accelerator_count = 3;
    in.accelerator_sets = {{}, {0}, {1}, {2}, {0, 1}};
    const int pools = 1 + static_cast<int>(rng.Below(6));
    for (int p = 0; p < pools; ++p) {
      PoolCapacity c =
          MakePool(static_cast<int32_t>(rng.Below(3)), 1 + static_cast<int64_t>(rng.Below(9)), 0);
      c.speed_milli = 500 + static_cast<int64_t>(rng.Below(3000));
      c.gpus_per_node = std::vector<int64_t>{1, 4, 8, 16}[rng.Below(4)];
      c.free_gpus = c.gpus_per_node * static_cast<int64_t>(rng.Below(12));
      if (rng.Below(3) == 0) c.max_gang = 1 + static_cast<int64_t>(rng.Below(32));
      in.pools.push_back(c);
    }
    const int jobs = 1 + static_cast<int>(rng.Below(12));
    for (int j = 0; j < jobs; ++j) {
      QueuedJob q =
          MakeJob(1 + static_cast<int64_t>(rng.Below(30)), 1 + static_cast<int64_t>(rng.Below(40)),
                  10 * static_cast<int32_t>(rng.Below(6)), static_cast<int32_t>(rng.Below(5)));
      in.jobs.push_back(q);
    }
    const BatchResult batch = SolveBatch(in, {});
    ASSERT_TRUE(CheckPlan(in, batch.plan).ok()) << "round " << round;
    EXPECT_LE(Evaluate(in, batch.plan).objective(), Evaluate(in, SolveGreedy(in)).objective())
        << "round " << round;
    greedy_won += batch.stats.greedy_won;
  }
  EXPECT_GT(greedy_won, 0);  // the fallback is exercised
}

TEST(BatchOptimizerTest, BeatsGreedyAndStaysFeasibleOnAGeneratedInstance) {
  const Instance in = GenerateInstance({3, 3000, 60, 140});
  const BatchResult batch = SolveBatch(in, {});
  ASSERT_TRUE(CheckPlan(in, batch.plan).ok());
  const Plan greedy = SolveGreedy(in);
  ASSERT_TRUE(CheckPlan(in, greedy).ok());
  const Money lb = SolveRelaxation(in, FlowAlgorithm::kNetworkSimplex).objective;
  EXPECT_LE(lb, Evaluate(in, batch.plan).objective());
  EXPECT_LT(Evaluate(in, batch.plan).objective(), Evaluate(in, greedy).objective());
}

TEST(InstanceGeneratorTest, SameSeedSameInstance) {
  const Instance a = GenerateInstance({11, 500, 20, 140});
  const Instance b = GenerateInstance({11, 500, 20, 140});
  const Instance c = GenerateInstance({12, 500, 20, 140});
  ASSERT_EQ(a.jobs.size(), 500u);
  ASSERT_EQ(a.pools.size(), 20u);
  bool same = true, differs = false;
  for (size_t j = 0; j < a.jobs.size(); ++j) {
    same = same && a.jobs[j].work_gpu_seconds == b.jobs[j].work_gpu_seconds &&
           a.jobs[j].gpus == b.jobs[j].gpus;
    differs = differs || a.jobs[j].work_gpu_seconds != c.jobs[j].work_gpu_seconds;
  }
  for (size_t p = 0; p < a.pools.size(); ++p) {
    same = same && a.pools[p].free_gpus == b.pools[p].free_gpus &&
           a.pools[p].price_per_gpu_hour == b.pools[p].price_per_gpu_hour;
  }
  EXPECT_TRUE(same);
  EXPECT_TRUE(differs);
}

// The issue-11 queue: 20,000 jobs of 512 GPUs, a year of work each, at a
// price per instance ($98.32/GPU-h). Its penalties do not fit the flow's
// 61-bit costs: CheckMagnitudes says so (SolveBatch would abort).
TEST(CheckMagnitudesTest, RejectsAQueueWhosePenaltiesOverflowTheFlowCosts) {
  Instance in;
  in.accelerator_count = 1;
  in.accelerator_sets = {{}};
  PoolCapacity pool = MakePool(0, 0, 4096);
  pool.price_per_gpu_hour = Money::FromMicros(98'320'000);
  in.pools = {pool, MakePool(0, 2, 2048)};
  for (int i = 0; i < 20'000; ++i) in.jobs.push_back(MakeJob(512, 24 * 365, i % 4));
  const Status s = CheckMagnitudes(in);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("61-bit"), std::string::npos) << s.message();
}

TEST(CheckMagnitudesTest, AcceptsOrdinaryQueues) {
  Instance in = TwoPools();
  EXPECT_TRUE(CheckMagnitudes(in).ok());  // empty
  in.jobs = {MakeJob(8, 10), MakeJob(4, 100, 3), MakeJob(16, 1, 1)};
  EXPECT_TRUE(CheckMagnitudes(in).ok());
  SolveBatch(in, {});  // and the solver runs
}

}  // namespace
}  // namespace polycloud::optimize
