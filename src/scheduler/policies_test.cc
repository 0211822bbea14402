// The classic queue policies (FIFO, SJF, SRTF) and consolidated placement,
// replayed on tiny hand-built worlds through the simulator.
#include <gtest/gtest.h>

#include "polycloud/io/scenario.h"
#include "polycloud/scheduler/scheduler.h"
#include "polycloud/sim/simulator.h"

namespace polycloud::scheduler {
namespace {

Time At(int64_t s) { return Time::FromUnixSeconds(1'000'000 + s); }

// One H100 pool of `gpus` GPUs in nodes of `per_node`; jobs are added by the test.
world::World OnePool(int64_t gpus, int64_t per_node = 8) {
  world::World w;
  w.name = "policies";
  w.start = At(0);
  w.end = At(100'000);
  w.accelerators = world::BuiltinAccelerators();
  w.providers.push_back({"p", "p"});
  world::Site site;
  site.id = "s";
  site.provider = 0;
  w.sites.push_back(site);
  world::Pool pool;
  pool.id = "pool";
  pool.site = 0;
  pool.provider = 0;
  pool.accelerator = 0;
  pool.pricing = world::PricingKind::kReserved;
  pool.gpus = world::StepSchedule<int64_t>(gpus);
  pool.gpus_per_node = per_node;
  pool.domain_size = per_node;
  w.pools.push_back(pool);
  w.BuildIndexes();
  return w;
}

// A job of `gpus` GPUs running `seconds` on the reference accelerator.
void AddJob(world::World& w, const std::string& id, int64_t arrival, int64_t gpus,
            int64_t seconds) {
  world::Job j;
  j.id = id;
  j.gpus = gpus;
  j.work_gpu_seconds = gpus * seconds;
  j.arrival = At(arrival);
  j.workload_class = "training";
  w.jobs.push_back(j);
  w.BuildIndexes();
}

struct Outcome {
  std::vector<JobState> jobs;
  sim::Audit::Counts counts;
};

Outcome Replay(const world::World& w, Policy policy, bool consolidate = false) {
  sim::Options options;
  options.scheduler.policy = policy;
  options.scheduler.consolidate = consolidate;
  sim::Simulator sim(w, options);
  sim::Audit audit(w);
  sim.AddObserver(&audit);
  sim.Run();
  return {sim.scheduler().jobs(), audit.counts()};
}

int64_t StartOf(const Outcome& r, const world::World& w, const std::string& id) {
  return (r.jobs[w.FindJob(id)].first_start - At(0)).seconds();
}
int64_t EndOf(const Outcome& r, const world::World& w, const std::string& id) {
  return (r.jobs[w.FindJob(id)].end - At(0)).seconds();
}

TEST(PolicyTest, ParsesEveryPolicyNameAndRejectsOthers) {
  for (Policy p : {Policy::kPriority, Policy::kFifo, Policy::kSjf, Policy::kSrtf}) {
    auto parsed = ParsePolicy(PolicyName(p));
    ASSERT_TRUE(parsed.ok()) << PolicyName(p);
    EXPECT_EQ(*parsed, p);
  }
  auto bad = ParsePolicy("lifo");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("priority, fifo, sjf or srtf"), std::string::npos);
}

// A runs; B (long) and C (short) wait for the whole pool.
world::World LongThenShortBehindRunningJob() {
  world::World w = OnePool(4);
  AddJob(w, "a", 0, 4, 100);
  AddJob(w, "b", 1, 4, 1000);
  AddJob(w, "c", 2, 4, 10);
  return w;
}

TEST(PolicyTest, FifoStartsQueuedJobsInArrivalOrder) {
  world::World w = LongThenShortBehindRunningJob();
  Outcome r = Replay(w, Policy::kFifo);
  EXPECT_EQ(StartOf(r, w, "b"), 100);
  EXPECT_EQ(StartOf(r, w, "c"), 1100);
}

TEST(PolicyTest, SjfStartsTheShortestQueuedJobFirst) {
  world::World w = LongThenShortBehindRunningJob();
  Outcome r = Replay(w, Policy::kSjf);
  EXPECT_EQ(StartOf(r, w, "c"), 100);
  EXPECT_EQ(StartOf(r, w, "b"), 110);
  EXPECT_EQ(r.counts.preemptions, 0);
}

TEST(PolicyTest, SjfRanksByWorkPerGpuNotByTotalWork) {
  // b: 4 GPUs x 30 s = 120 GPU-s; c: 1 GPU x 60 s = 60 GPU-s. b is shorter.
  world::World w = OnePool(4);
  AddJob(w, "a", 0, 4, 100);
  AddJob(w, "c", 1, 1, 60);
  AddJob(w, "b", 2, 4, 30);
  Outcome r = Replay(w, Policy::kSjf);
  EXPECT_EQ(StartOf(r, w, "b"), 100);
  EXPECT_EQ(StartOf(r, w, "c"), 130);
}

TEST(PolicyTest, FifoBlocksBehindTheHeadButSjfBackfillsAroundAJobThatDoesNotFit) {
  world::World w = OnePool(4);
  AddJob(w, "a", 0, 2, 100);
  AddJob(w, "big", 1, 4, 5);  // shortest, but does not fit while a runs
  AddJob(w, "small", 2, 2, 50);
  Outcome fifo = Replay(w, Policy::kFifo);
  EXPECT_EQ(StartOf(fifo, w, "small"), 105);
  Outcome sjf = Replay(w, Policy::kSjf);
  EXPECT_EQ(StartOf(sjf, w, "small"), 2);
  EXPECT_EQ(StartOf(sjf, w, "big"), 100);
}

TEST(PolicyTest, SrtfPreemptsALongerRunningJobAndItLosesNoWork) {
  world::World w = OnePool(4);
  AddJob(w, "long", 0, 4, 1000);
  AddJob(w, "short", 100, 4, 10);
  Outcome r = Replay(w, Policy::kSrtf);
  EXPECT_EQ(StartOf(r, w, "short"), 100);
  EXPECT_EQ(EndOf(r, w, "short"), 110);
  EXPECT_EQ(EndOf(r, w, "long"), 1010);  // 100 s done before, 900 s after: nothing redone
  EXPECT_EQ(r.jobs[w.FindJob("long")].preemptions, 1);
  EXPECT_EQ(r.jobs[w.FindJob("long")].lost_work, 0);
  EXPECT_EQ(r.counts.lost_work_gpu_seconds, 0);
  Outcome sjf = Replay(w, Policy::kSjf);  // the same jobs without preemption
  EXPECT_EQ(StartOf(sjf, w, "short"), 1000);
}

TEST(PolicyTest, SrtfComparesRemainingTimeNotTotalDuration) {
  // long has 1000 s, but only 50 s remain when mid (100 s) arrives: no preemption.
  world::World w = OnePool(4);
  AddJob(w, "long", 0, 4, 1000);
  AddJob(w, "mid", 950, 4, 100);
  Outcome r = Replay(w, Policy::kSrtf);
  EXPECT_EQ(r.counts.preemptions, 0);
  EXPECT_EQ(StartOf(r, w, "mid"), 1000);
}

TEST(PolicyTest, SrtfPreemptsOnlyWhatTheShorterJobNeeds) {
  world::World w = OnePool(4);
  AddJob(w, "x", 0, 2, 1000);
  AddJob(w, "y", 1, 2, 500);
  AddJob(w, "short", 10, 2, 10);
  Outcome r = Replay(w, Policy::kSrtf);
  EXPECT_EQ(StartOf(r, w, "short"), 10);
  EXPECT_EQ(r.jobs[w.FindJob("x")].preemptions, 1);  // the longest remaining goes
  EXPECT_EQ(r.jobs[w.FindJob("y")].preemptions, 0);
}

// Issue 10 repro: at t=10 the 4 x 5 s job preempts the 100 s and 50 s jobs
// and leaves 3 GPUs free. The 1-GPU victim must restart in the same pass
// (mean JCT 43.75 s, mean queue 1.25 s), not when its old run's finish
// timer fires at t=15.
TEST(PolicyTest, SrtfRestartsAPreemptedVictimThatFitsInTheSamePass) {
  world::World w = OnePool(8);
  AddJob(w, "a", 0, 1, 100);
  AddJob(w, "b", 0, 4, 50);
  AddJob(w, "c", 0, 1, 15);
  AddJob(w, "d", 10, 4, 5);
  Outcome r = Replay(w, Policy::kSrtf);
  EXPECT_EQ(r.jobs[w.FindJob("a")].preemptions, 1);
  EXPECT_EQ(r.jobs[w.FindJob("b")].preemptions, 1);
  EXPECT_EQ(StartOf(r, w, "d"), 10);
  EXPECT_EQ(EndOf(r, w, "a"), 100);  // restarted at 10: no idle second
  EXPECT_EQ(EndOf(r, w, "b"), 55);   // 40 s left, restarts when c and d end at 15
  int64_t jct = 0;
  for (const char* id : {"a", "b", "c", "d"}) {
    jct += EndOf(r, w, id) - (w.jobs[w.FindJob(id)].arrival - At(0)).seconds();
  }
  EXPECT_EQ(jct, 175);  // mean 43.75 s
}

TEST(PlacementOptionTest, ConsolidatedPlacementPicksThePoolWhereTheGangSpansFewestNodes) {
  world::World w = OnePool(8, /*per_node=*/1);
  world::Pool wide = w.pools[0];
  wide.id = "wide";
  wide.gpus_per_node = 8;
  wide.domain_size = 8;
  w.pools.push_back(wide);
  w.BuildIndexes();
  AddJob(w, "j", 0, 4, 10);
  Outcome spread = Replay(w, Policy::kFifo, false);
  EXPECT_EQ(spread.jobs[0].last_pool, w.FindPool("pool"));  // a tie: the first pool
  Outcome packed = Replay(w, Policy::kFifo, true);
  EXPECT_EQ(packed.jobs[0].last_pool, w.FindPool("wide"));
}

constexpr const char* kScenario = R"(name: s
start: 2026-01-01
end: 2026-02-01
scheduler:
  policy: srtf
  placement: consolidated
providers: [{id: p}]
sites: [{id: s, provider: p}]
pools: [{id: x, site: s, accelerator: H100, pricing: reserved, gpus: 8, price_per_gpu_hour: 0}]
)";

TEST(ScenarioSchedulerTest, LoadsSrtfPolicyAndConsolidatedPlacement) {
  auto s = io::LoadScenarioString(kScenario, "s.yaml");
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->options.policy, "srtf");
  EXPECT_TRUE(s->options.consolidate);
}

TEST(ScenarioSchedulerTest, RejectsAnUnknownPlacementWithItsPosition) {
  std::string text = kScenario;
  text.replace(text.find("consolidated"), 12, "tight");
  auto s = io::LoadScenarioString(text, "s.yaml");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find(
                "s.yaml:6:14: scheduler.placement: expected one of spread, consolidated"),
            std::string::npos)
      << s.status().message();
}

}  // namespace
}  // namespace polycloud::scheduler
