#include "polycloud/scheduler/scheduler.h"

#include <gtest/gtest.h>

#include "polycloud/sim/simulator.h"
#include "tests/testing/event_recorder.h"
#include "tests/testing/scenario_fixture.h"

namespace polycloud::scheduler {
namespace {

using polycloud::testing::LoadWorld;
using polycloud::testing::T;

class FakeTimer final : public Timer {
 public:
  void AtTime(Time at, WakeKind kind, int32_t index) override {
    wakes.push_back({kind, index, at});
  }
  struct Wake {
    WakeKind kind;
    int32_t index;
    Time at;
  };
  std::vector<Wake> wakes;
};

// Applies a command that must be accepted.
void Must(Scheduler& s, const Command& c, Time now) {
  const Status status = s.Apply(c, now);
  ASSERT_TRUE(status.ok()) << CommandName(c) << ": " << status.message();
}

using Recorder = polycloud::testing::EventRecorder;

// Runs a scenario through the simulator with a recorder attached.
struct SimRun {
  explicit SimRun(const std::string& yaml, Policy policy = Policy::kPriority)
      : world(LoadWorld(yaml)) {
    sim::Options options;
    options.scheduler.policy = policy;
    sim = std::make_unique<sim::Simulator>(world, options);
    sim->AddObserver(&recorder);
    sim->Run();
  }
  const JobState& Job(const char* id) const { return sim->scheduler().jobs()[world.FindJob(id)]; }
  world::World world;
  Recorder recorder;
  std::unique_ptr<sim::Simulator> sim;
};

const char* kOnePool = R"(
name: one-pool
start: 2026-01-01
end: 2026-03-01
providers: [{id: a}, {id: b}]
sites: [{id: sa, provider: a}, {id: sb, provider: b}]
pools:
  - {id: pa, site: sa, accelerator: GB200, pricing: reserved, gpus: 16, price_per_gpu_hour: 1, gpus_per_node: 4}
  - {id: pb, site: sb, accelerator: GB200, pricing: on-demand, gpus: 16, price_per_gpu_hour: 9, gpus_per_node: 4}
)";

TEST(SchedulerTest, JobRunsForItsWorkDividedByGangAndSpeed) {
  world::World w = LoadWorld(std::string(kOnePool) + R"(
jobs:
  - {id: j, gpus: 8, work_gpu_hours: 80, arrival: 2026-01-02}
)");
  FakeTimer timer;
  Recorder rec;
  Scheduler s(w, {}, w.start, &timer, &rec);
  Must(s, cmd::JobArrived{JobId{0}}, T("2026-01-02"));
  Must(s, cmd::Place{}, T("2026-01-02"));
  const Event* started = rec.First(EventType::kJobStarted);
  ASSERT_NE(started, nullptr);
  // 80 reference GPU-hours on 8 GB200 (2.5× H100) = 4 h, expected.
  EXPECT_EQ(started->value, 4 * 3600);
  EXPECT_EQ(s.jobs()[0].last_pool, w.FindPool("pa"));  // reserved before on-demand
  // The scheduler predicts nothing: the job runs until its site says it ended.
  EXPECT_TRUE(timer.wakes.empty());
  Must(s,
       cmd::JobCompleted{JobId{0}, RunId{static_cast<uint32_t>(started->aux)},
                         T("2026-01-02T04:00:00Z")},
       T("2026-01-02T04:00:00Z"));
  EXPECT_EQ(s.jobs()[0].status, JobStatus::kDone);
  EXPECT_EQ(s.fleet().pool(w.FindPool("pa")).used, 0);
}

TEST(SchedulerTest, IgnoresAStaleCompletionAfterAnInterruption) {
  world::World w = LoadWorld(std::string(kOnePool) + R"(
jobs:
  - {id: j, gpus: 8, work_gpu_hours: 80, arrival: 2026-01-02, checkpoint_every: 1h}
faults:
  - {id: f, target: {pool: pa}, start: 2026-01-02T01:00:00Z, duration: 1h}
)");
  FakeTimer timer;
  Recorder rec;
  Scheduler s(w, {}, w.start, &timer, &rec);
  Must(s, cmd::JobArrived{JobId{0}}, T("2026-01-02"));
  Must(s, cmd::Place{}, T("2026-01-02"));
  const auto first_run = static_cast<uint32_t>(rec.First(EventType::kJobStarted)->aux);
  Must(s, cmd::FaultStarted{0}, T("2026-01-02T01:00:00Z"));
  Must(s, cmd::Place{}, T("2026-01-02T01:00:00Z"));
  ASSERT_EQ(rec.Count(EventType::kJobStarted), 2);
  // The first run's completion, reported late: stale, ignored.
  Must(s, cmd::JobCompleted{JobId{0}, RunId{first_run}, T("2026-01-02T04:00:00Z")},
       T("2026-01-02T04:00:00Z"));
  EXPECT_EQ(s.jobs()[0].status, JobStatus::kRunning);
  EXPECT_EQ(s.jobs()[0].last_pool, w.FindPool("pb"));
}

TEST(SchedulerTest, OutageLosesWorkSinceTheLastCheckpointAndReplacesElsewhere) {
  SimRun run(std::string(kOnePool) + R"(
jobs:
  - {id: j, gpus: 8, work_gpu_hours: 80, arrival: 2026-01-02, checkpoint_every: 1h}
faults:
  - {id: f, target: {provider: a}, start: 2026-01-02T02:30:00Z, duration: 1d}
)");
  const JobState& j = run.Job("j");
  // 2.5 h run: 2 h checkpointed, 0.5 h × 8 GPUs × 2.5 = 10 reference GPU-hours lost.
  EXPECT_EQ(j.lost_work, 10 * 3600);
  EXPECT_EQ(j.interruptions, 1);
  EXPECT_EQ(j.status, JobStatus::kDone);
  EXPECT_EQ(j.last_pool, run.world.FindPool("pb"));
  // The rest (80 - 40 = 40 GPU-hours = 2 h) runs at b from the outage on.
  EXPECT_EQ(j.end, T("2026-01-02T04:30:00Z"));
  const Event* e = run.recorder.First(EventType::kJobInterrupted);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->value, 10 * 3600);
}

TEST(SchedulerTest, WithoutCheckpointsAnInterruptionLosesTheWholeRun) {
  SimRun run(std::string(kOnePool) + R"(
jobs:
  - {id: j, gpus: 8, work_gpu_hours: 80, arrival: 2026-01-02}
faults:
  - {id: f, target: {provider: a}, start: 2026-01-02T02:30:00Z, duration: 1d}
)");
  EXPECT_EQ(run.Job("j").lost_work, 50 * 3600);
  EXPECT_EQ(run.Job("j").end, T("2026-01-02T06:30:00Z"));
}

TEST(SchedulerTest, HigherPriorityPreemptsPreemptibleBatchWork) {
  SimRun run(std::string(kOnePool) + R"(
jobs:
  - {id: batch-1, kind: batch, gpus: 16, work_gpu_hours: 400, arrival: 2026-01-02}
  - {id: batch-2, kind: batch, gpus: 16, work_gpu_hours: 400, arrival: 2026-01-02}
  - {id: train, kind: training, gpus: 8, work_gpu_hours: 20, arrival: 2026-01-02T01:00:00Z}
)");
  EXPECT_EQ(run.Job("train").first_start, T("2026-01-02T01:00:00Z"));
  EXPECT_EQ(run.recorder.Count(EventType::kJobPreempted), 1);
  const Event* e = run.recorder.First(EventType::kJobPreempted);
  EXPECT_EQ(e->aux, run.world.FindJob("train"));
  // The victim is the reserved pool's batch job (the cheapest pool to take).
  EXPECT_EQ(run.Job("batch-1").preemptions + run.Job("batch-2").preemptions, 1);
  EXPECT_EQ(run.Job("train").last_pool, run.world.FindPool("pa"));
}

// Two nodes of 2 GPUs with GPU sharing, 8 CPUs and 64 GiB each.
const char* kSharingPool = R"(
name: shares
start: 2026-01-01
end: 2026-03-01
providers: [{id: a}]
sites: [{id: sa, provider: a}]
pools:
  - {id: ps, site: sa, accelerator: H100, pricing: reserved, gpus: 4, price_per_gpu_hour: 1,
     gpus_per_node: 2, gpu_sharing: true, cpus_per_node: 8, memory_gib_per_node: 64}
)";

TEST(SchedulerTest, APreemptionFreesAShareOrCpuWithTheFewestVictimsOnOneNode) {
  // Four batch shares of 600 milli and 2 CPUs: one on each GPU (two shares
  // of 600 do not fit one GPU), 4 CPUs used on each node.
  const std::string fill = R"(
jobs:
  - {id: b1, kind: batch, gpus: 1, gpu_milli: 600, cpus: 2, work_gpu_hours: 400, arrival: 2026-01-02}
  - {id: b2, kind: batch, gpus: 1, gpu_milli: 600, cpus: 2, work_gpu_hours: 400, arrival: 2026-01-02}
  - {id: b3, kind: batch, gpus: 1, gpu_milli: 600, cpus: 2, work_gpu_hours: 400, arrival: 2026-01-02}
  - {id: b4, kind: batch, gpus: 1, gpu_milli: 600, cpus: 2, work_gpu_hours: 400, arrival: 2026-01-02}
)";
  {
    // A share of 500 fits no GPU (400 free on each): one victim frees a GPU.
    SimRun run(std::string(kSharingPool) + fill + R"(
  - {id: high, gpus: 1, gpu_milli: 500, cpus: 1, work_gpu_hours: 1, arrival: 2026-01-02T01:00:00Z}
)");
    EXPECT_EQ(run.Job("high").first_start, T("2026-01-02T01:00:00Z"));
    EXPECT_EQ(run.recorder.Count(EventType::kJobPreempted), 1);
  }
  {
    // A share of 300 fits every GPU but needs all 8 CPUs of a node: both
    // shares of one node go (two victims, on the same node), none elsewhere.
    SimRun run(std::string(kSharingPool) + fill + R"(
  - {id: high, gpus: 1, gpu_milli: 300, cpus: 8, work_gpu_hours: 1, arrival: 2026-01-02T01:00:00Z}
)");
    EXPECT_EQ(run.Job("high").first_start, T("2026-01-02T01:00:00Z"));
    EXPECT_EQ(run.recorder.Count(EventType::kJobPreempted), 2);
    // b1 and b2 share a node (best fit), b3 and b4 the other.
    EXPECT_EQ(run.Job("b1").preemptions > 0, run.Job("b2").preemptions > 0);
    EXPECT_NE(run.Job("b1").preemptions > 0, run.Job("b3").preemptions > 0);
  }
  {
    // Whole GPUs: 2 on one node need both of its shares gone (two victims).
    SimRun run(std::string(kSharingPool) + fill + R"(
  - {id: high, gpus: 2, cpus: 2, work_gpu_hours: 1, arrival: 2026-01-02T01:00:00Z}
)");
    EXPECT_EQ(run.Job("high").first_start, T("2026-01-02T01:00:00Z"));
    EXPECT_EQ(run.recorder.Count(EventType::kJobPreempted), 2);
  }
  {
    // Non-preemptible shares are never victims: it waits.
    std::string firm = fill;
    for (size_t at = firm.find("kind: batch, "); at != std::string::npos;
         at = firm.find("kind: batch, ")) {
      firm.erase(at, std::string("kind: batch, ").size());
    }
    SimRun run(std::string(kSharingPool) + firm + R"(
  - {id: high, gpus: 1, gpu_milli: 500, priority: 1000, work_gpu_hours: 1, arrival: 2026-01-02T01:00:00Z}
)");
    EXPECT_EQ(run.recorder.Count(EventType::kJobPreempted), 0);
    EXPECT_GT(run.Job("high").first_start, T("2026-01-02T01:00:00Z"));
  }
}

TEST(SchedulerTest, SrtfPreemptsALongerShareForAShorterOne) {
  // Under SRTF a short share preempts one longer share (one victim).
  SimRun run(std::string(kSharingPool) + R"(
jobs:
  - {id: l1, gpus: 1, gpu_milli: 600, work_gpu_hours: 400, arrival: 2026-01-02}
  - {id: l2, gpus: 1, gpu_milli: 600, work_gpu_hours: 400, arrival: 2026-01-02}
  - {id: l3, gpus: 1, gpu_milli: 600, work_gpu_hours: 300, arrival: 2026-01-02}
  - {id: l4, gpus: 1, gpu_milli: 600, work_gpu_hours: 400, arrival: 2026-01-02}
  - {id: short, gpus: 1, gpu_milli: 500, work_gpu_hours: 1, arrival: 2026-01-02T01:00:00Z}
)",
             Policy::kSrtf);
  EXPECT_EQ(run.Job("short").first_start, T("2026-01-02T01:00:00Z"));
  EXPECT_EQ(run.recorder.Count(EventType::kJobPreempted), 1);
  // The longest remaining goes, not l3.
  EXPECT_EQ(run.Job("l3").preemptions, 0);
}

TEST(SchedulerTest, NeverPreemptsNonPreemptibleWork) {
  SimRun run(std::string(kOnePool) + R"(
jobs:
  - {id: low-1, gpus: 16, work_gpu_hours: 400, priority: 1, arrival: 2026-01-02}
  - {id: low-2, gpus: 16, work_gpu_hours: 400, priority: 1, arrival: 2026-01-02}
  - {id: high, gpus: 8, work_gpu_hours: 20, priority: 100, arrival: 2026-01-02T01:00:00Z}
)");
  EXPECT_EQ(run.recorder.Count(EventType::kJobPreempted), 0);
  // It waits for the first low job to finish: 400 / (16 × 2.5) = 10 h after start.
  EXPECT_EQ(run.Job("high").first_start, T("2026-01-02T10:00:00Z"));
}

TEST(SchedulerTest, PriorityPolicyBackfillsAroundABlockedGangButFifoWaits) {
  const std::string yaml = std::string(kOnePool) + R"(
jobs:
  - {id: first, gpus: 12, work_gpu_hours: 300, arrival: 2026-01-02}
  - {id: other, gpus: 12, work_gpu_hours: 300, arrival: 2026-01-02}
  - {id: big, gpus: 16, work_gpu_hours: 40, arrival: 2026-01-02T01:00:00Z}
  - {id: small, gpus: 4, work_gpu_hours: 10, arrival: 2026-01-02T02:00:00Z}
)";
  SimRun priority(yaml, Policy::kPriority);
  EXPECT_EQ(priority.Job("small").first_start, T("2026-01-02T02:00:00Z"));
  SimRun fifo(yaml, Policy::kFifo);
  EXPECT_GT(fifo.Job("small").first_start, fifo.Job("big").first_start - Duration::Seconds(1));
}

TEST(SchedulerTest, AWaitingHighPriorityGangIsNotStarvedByLowerPriorityBackfill) {
  // 4-GPU jobs of 2 h arrive every 30 minutes, enough to keep the 16-GPU pool
  // busy forever; a 16-GPU job of higher priority arrives in the middle.
  std::string yaml = R"(
name: starvation
start: 2026-01-01
end: 2026-01-03
providers: [{id: a}]
sites: [{id: s, provider: a}]
pools: [{id: p, site: s, accelerator: H100, pricing: reserved, gpus: 16, price_per_gpu_hour: 1}]
jobs:
  - {id: big, gpus: 16, work_gpu_hours: 16, priority: 500, arrival: 2026-01-01T03:10:00Z}
)";
  for (int i = 0; i < 48; ++i) {
    char line[160];
    std::snprintf(
        line, sizeof line,
        "  - {id: small-%02d, gpus: 4, work_gpu_hours: 8, arrival: 2026-01-01T%02d:%02d:00Z}\n", i,
        i / 2, (i % 2) * 30);
    yaml += line;
  }
  SimRun run(yaml);
  // It holds the pool from its arrival: the running small jobs drain within 2 h.
  EXPECT_LE(run.Job("big").first_start, T("2026-01-01T05:10:00Z"));
  EXPECT_EQ(run.Job("big").status, JobStatus::kDone);
  // Under fifo the big job also waits only for the drain; smaller jobs queue behind it.
  SimRun fifo(yaml, Policy::kFifo);
  EXPECT_LE(fifo.Job("big").first_start, T("2026-01-01T05:10:00Z"));
}

TEST(SchedulerTest, CapacityCutEvictsLowestPriorityWorkFirst) {
  SimRun run(std::string(kOnePool) + R"(
jobs:
  - {id: keep, gpus: 8, work_gpu_hours: 400, priority: 50, arrival: 2026-01-02, accelerators: [GB200]}
  - {id: lose, gpus: 8, work_gpu_hours: 400, priority: 10, arrival: 2026-01-02}
faults:
  - {id: cut, target: {pool: pa}, kind: capacity_cut, fraction: 0.5, start: 2026-01-02T01:00:00Z, duration: 1h}
)");
  EXPECT_EQ(run.Job("keep").interruptions, 0);
  EXPECT_EQ(run.Job("lose").interruptions, 1);
}

TEST(SchedulerTest, PoolsAreUnusableOutsideTheirContractTerm) {
  SimRun run(R"(
name: contract-window
start: 2026-01-01
end: 2026-03-01
providers: [{id: a}]
contracts: [{id: c, provider: a, start: 2026-02-01, end: 2026-02-10}]
sites: [{id: s, provider: a}]
pools: [{id: p, site: s, accelerator: H100, pricing: reserved, gpus: 8, price_per_gpu_hour: 1, contract: c}]
jobs:
  - {id: early, gpus: 8, work_gpu_hours: 8, arrival: 2026-01-05}
  - {id: long, gpus: 8, work_gpu_hours: 2400, arrival: 2026-01-06, checkpoint_every: 1d}
)");
  EXPECT_EQ(run.Job("early").first_start, T("2026-02-01"));
  // The long job is cut off when the contract ends and never finishes.
  EXPECT_EQ(run.Job("long").interruptions, 1);
  EXPECT_EQ(run.Job("long").status, JobStatus::kQueued);
}

const char* kServiceWorld = R"(
name: services
start: 2026-01-01
end: 2026-01-10
providers: [{id: azure}, {id: aws}]
contracts:
  - id: deal
    provider: azure
    start: 2025-01-01
    end: 2030-01-01
    exclusivity: [{class: api, until: 2030-01-01}]
sites: [{id: az, provider: azure}, {id: aw, provider: aws}]
pools:
  - {id: az-pool, site: az, accelerator: H100, pricing: reserved, gpus: 64, price_per_gpu_hour: 1, contract: deal}
  - {id: aws-pool, site: aw, accelerator: H100, pricing: on-demand, gpus: 64, price_per_gpu_hour: 5}
services:
  - {id: api, model: m, class: api, gpus_per_replica: 8, replica_tokens_per_s: 100, demand: 300}
  - {id: chat, model: m, class: chat, gpus_per_replica: 8, replica_tokens_per_s: 100, demand: 200}
faults:
  - {id: azure-down, target: {provider: azure}, start: 2026-01-03, duration: 1d}
)";

TEST(SchedulerTest, ServicesScaleToDemandAndOnlyTheUnboundOneFailsOver) {
  SimRun run(kServiceWorld);
  const auto& api = run.sim->scheduler().services()[run.world.FindService("api")];
  const auto& chat = run.sim->scheduler().services()[run.world.FindService("chat")];
  // api: 3 replicas, exclusive to azure: short for the whole day of the outage.
  EXPECT_EQ(api.replicas.size(), 3u);
  EXPECT_EQ(api.short_seconds, 86400);
  EXPECT_EQ(api.failovers, 0);
  EXPECT_EQ(api.replicas_lost, 3);
  EXPECT_EQ(api.replaced, 3);  // back home after the outage
  // chat: moved to aws at once, so never short.
  EXPECT_EQ(chat.short_seconds, 0);
  EXPECT_EQ(chat.failovers, 2);
  EXPECT_EQ(chat.served_token_seconds, chat.demand_token_seconds);
}

TEST(SchedulerTest, ServiceKeepsPresenceAtMinProviders) {
  SimRun run(R"(
name: spread
start: 2026-01-01
end: 2026-01-02
providers: [{id: a}, {id: b}]
sites: [{id: sa, provider: a}, {id: sb, provider: b}]
pools:
  - {id: pa, site: sa, accelerator: H100, pricing: reserved, gpus: 64, price_per_gpu_hour: 1}
  - {id: pb, site: sb, accelerator: H100, pricing: on-demand, gpus: 64, price_per_gpu_hour: 5}
services:
  - {id: s, model: m, class: chat, gpus_per_replica: 8, replica_tokens_per_s: 100, demand: 100, min_providers: 2}
)");
  const auto& st = run.sim->scheduler().services()[0];
  EXPECT_EQ(st.replicas.size(), 2u);
  EXPECT_EQ(st.per_provider, (std::vector<int32_t>{1, 1}));
}

TEST(SchedulerTest, ServiceScalesDownWhenDemandFalls) {
  SimRun run(R"(
name: scale-down
start: 2026-01-01
end: 2026-01-03
providers: [{id: a}]
sites: [{id: sa, provider: a}]
pools: [{id: pa, site: sa, accelerator: H100, pricing: reserved, gpus: 64, price_per_gpu_hour: 1}]
services:
  - id: s
    model: m
    class: chat
    gpus_per_replica: 8
    replica_tokens_per_s: 100
    demand: [{at: 2026-01-01, tokens_per_s: 500}, {at: 2026-01-02, tokens_per_s: 150}]
)");
  const auto& st = run.sim->scheduler().services()[0];
  EXPECT_EQ(st.peak_replicas, 5);
  EXPECT_EQ(st.replicas.size(), 2u);
  EXPECT_EQ(run.recorder.Count(EventType::kReplicaStopped), 3);
}

TEST(SchedulerTest, InstalledGpusDrawIdlePowerAndAllocatedOnesBoardPower) {
  SimRun run(R"(
name: power
start: 2026-01-01
end: 2026-01-05
providers: [{id: a}]
sites: [{id: s, provider: a, pue: 1.5, power_mw: 0.0168}]
pools: [{id: p, site: s, accelerator: H100, pricing: reserved, gpus: 16, price_per_gpu_hour: 1}]
jobs:
  - {id: j1, gpus: 8, work_gpu_hours: 8}
)");
  // 16.8 kW runs the 16 H100 at full board power × PUE 1.5 (the validation
  // rule). Idle, they draw 16 × 175 W × 1.5 = 4.2 kW; the job's 8 GPUs add
  // 8 × (700 − 175) W × 1.5 = 6.3 kW while it runs.
  const placement::SiteState& site = run.sim->scheduler().fleet().site(0);
  EXPECT_EQ(site.peak.watts(), 10'500);
  EXPECT_EQ(site.used.watts(), 4'200);  // done: idle again
  EXPECT_EQ(run.Job("j1").status, JobStatus::kDone);
}

TEST(SchedulerTest, ParsePolicyNamesEachPolicyAndRejectsOthers) {
  EXPECT_EQ(*ParsePolicy("fifo"), Policy::kFifo);
  EXPECT_EQ(*ParsePolicy("priority"), Policy::kPriority);
  EXPECT_FALSE(ParsePolicy("random").ok());
}

// Nodes (issue 16): free GPUs spread over nodes do not hold a job that needs
// them on one node; the pooled model (no nodes) would start it at once.
// One pool of two 8-GPU nodes; the tests add their jobs.
const char* kTwoNodes = R"(
name: two-nodes
start: 2026-01-01
end: 2026-03-01
providers: [{id: a}]
sites: [{id: sa, provider: a}]
pools:
  - {id: pa, site: sa, accelerator: H100, pricing: reserved, gpus: 16, price_per_gpu_hour: 1, gpus_per_node: 8}
)";

const std::string kFragmented = std::string(kTwoNodes) + R"(
jobs:
  - {id: a, gpus: 5, work_gpu_hours: 500, arrival: 2026-01-02}
  - {id: b, gpus: 5, work_gpu_hours: 50, arrival: 2026-01-02T00:01:00Z}
  - {id: c, gpus: 4, work_gpu_hours: 8, arrival: 2026-01-02T00:02:00Z}
)";

TEST(SchedulerNodesTest, AJobNeedsItsGpusOnOneNode) {
  // a and b take 5 of each node's 8: 6 GPUs are free, 3 per node, and c (4)
  // waits for b to end (10 h) instead of starting at once.
  world::World w = LoadWorld(kFragmented);
  sim::Options options;
  options.scheduler.policy = Policy::kFifo;
  sim::Simulator nodes(w, options);
  nodes.Watch(world::WorkloadKind::kTraining, w.FindJob("c"));
  nodes.Run();
  const JobState& c = nodes.scheduler().jobs()[w.FindJob("c")];
  EXPECT_EQ(c.first_start, T("2026-01-02T10:01:00Z"));
  ASSERT_FALSE(nodes.scheduler().watched().empty());
  const auto& placed = nodes.scheduler().watched().back();
  EXPECT_TRUE(placed.placed);
  EXPECT_NE(placed.node.find("in pool pa: best fit, the fullest node with room; it had 8 of 8"),
            std::string::npos)
      << placed.node;
  // The blocked attempt says why: 6 free, at most 3 together.
  const auto& blocked = nodes.scheduler().watched().front();
  EXPECT_FALSE(blocked.placed);
  ASSERT_EQ(blocked.explanation.candidates.size(), 1u);
  EXPECT_NE(blocked.explanation.candidates[0].reason.find("needs 4 GPUs on one node, 6 free of 16 "
                                                          "usable but at most 3 together"),
            std::string::npos)
      << blocked.explanation.candidates[0].reason;

  options.scheduler.nodes = placement::NodePolicy::kPooled;
  sim::Simulator pooled(w, options);
  pooled.Run();
  EXPECT_EQ(pooled.scheduler().jobs()[w.FindJob("c")].first_start, T("2026-01-02T00:02:00Z"));
}

TEST(SchedulerNodesTest, SpreadAndBestFitChooseDifferentNodes) {
  // Best fit puts b beside a (5 + 3 on one node) and leaves a whole node for
  // the 8-GPU job d; spread puts b on the empty node, and d waits.
  const std::string yaml = std::string(kTwoNodes) + R"(
jobs:
  - {id: a, gpus: 5, work_gpu_hours: 500, arrival: 2026-01-02}
  - {id: b, gpus: 3, work_gpu_hours: 300, arrival: 2026-01-02T00:01:00Z}
  - {id: d, gpus: 8, work_gpu_hours: 8, arrival: 2026-01-02T00:02:00Z}
)";
  world::World w = LoadWorld(yaml);
  sim::Options options;
  options.scheduler.policy = Policy::kFifo;
  sim::Simulator best(w, options);
  best.Run();
  EXPECT_EQ(best.scheduler().jobs()[w.FindJob("d")].first_start, T("2026-01-02T00:02:00Z"));
  options.scheduler.nodes = placement::NodePolicy::kSpread;
  sim::Simulator spread(w, options);
  spread.Run();
  EXPECT_GT(spread.scheduler().jobs()[w.FindJob("d")].first_start, T("2026-01-02T00:02:00Z"));
  options.scheduler.nodes = placement::NodePolicy::kFragmentation;
  sim::Simulator frag(w, options);
  frag.Run();
  EXPECT_EQ(frag.scheduler().jobs()[w.FindJob("d")].first_start, T("2026-01-02T00:02:00Z"));
}

// One pool of two 2-GPU nodes with sharing, 8 CPUs per node; a pool without
// sharing beside it, cheaper, that shares cannot use.
const char* kSharing = R"(
name: sharing
start: 2026-01-01
end: 2026-03-01
providers: [{id: a}]
sites: [{id: s, provider: a}]
pools:
  - {id: shared, site: s, accelerator: H100, pricing: on-demand, gpus: 4, price_per_gpu_hour: 2,
     gpus_per_node: 2, cpus_per_node: 8, memory_gib_per_node: 64, gpu_sharing: true}
  - {id: whole, site: s, accelerator: H100, pricing: on-demand, gpus: 2, price_per_gpu_hour: 1,
     gpus_per_node: 2}
jobs:
  - {id: s1, gpus: 1, gpu_milli: 600, cpus: 2, work_gpu_hours: 10, arrival: 2026-01-02}
  - {id: s2, gpus: 1, gpu_milli: 400, cpus: 2, work_gpu_hours: 10, arrival: 2026-01-02T00:01:00Z}
  - {id: s3, gpus: 1, gpu_milli: 500, cpus: 2, work_gpu_hours: 10, arrival: 2026-01-02T00:02:00Z}
  - {id: w1, gpus: 2, work_gpu_hours: 20, arrival: 2026-01-02T00:03:00Z}
  - {id: w2, gpus: 2, cpus: 4, work_gpu_hours: 20, arrival: 2026-01-02T00:04:00Z}
  - {id: c1, gpus: 1, gpu_milli: 100, cpus: 7, work_gpu_hours: 1, arrival: 2026-01-02T00:05:00Z}
)";

TEST(SchedulerSharingTest, SharesPackOneGpuAndWholeJobsTakeWholeGpus) {
  world::World w = LoadWorld(kSharing);
  sim::Options options;
  options.scheduler.policy = Policy::kFifo;
  sim::Simulator sim(w, options);
  sim.Watch(world::WorkloadKind::kTraining, w.FindJob("c1"));
  Recorder recorder;
  sim.AddObserver(&recorder);
  sim.Run();
  const auto& jobs = sim.scheduler().jobs();
  auto start = [&](const char* id) { return jobs[w.FindJob(id)].first_start; };
  auto pool = [&](const char* id) { return w.pools[jobs[w.FindJob(id)].last_pool].id; };
  // Shares only in the sharing pool, though the other is cheaper.
  EXPECT_EQ(pool("s1"), "shared");
  EXPECT_EQ(pool("s2"), "shared");
  // s1 + s2 fill one GPU (1000 milli): both start at once; s3 opens a second
  // GPU of the same node (best fit: the fullest node).
  EXPECT_EQ(start("s1"), T("2026-01-02"));
  EXPECT_EQ(start("s2"), T("2026-01-02T00:01:00Z"));
  EXPECT_EQ(start("s3"), T("2026-01-02T00:02:00Z"));
  // w1 takes the cheaper whole pool; w2 (2 GPUs, 4 CPUs) needs the shared
  // pool's other node, wholly free.
  EXPECT_EQ(pool("w1"), "whole");
  EXPECT_EQ(pool("w2"), "shared");
  EXPECT_EQ(start("w2"), T("2026-01-02T00:04:00Z"));
  // c1 (100 milli, 7 CPUs): s3's GPU has room but its node has 2 CPUs left
  // (8 − 3 × 2); the other node's 4 CPUs are short too: it waits for the
  // shares to end (10 h of work on one GPU each).
  EXPECT_GT(start("c1"), T("2026-01-02T09:00:00Z"));
  bool saw_wait = false;
  for (const auto& wd : sim.scheduler().watched()) {
    for (const auto& c : wd.explanation.candidates) {
      if (!wd.placed && c.reason.find("with 7 CPUs on one node") != std::string::npos) {
        saw_wait = true;
      }
    }
  }
  EXPECT_TRUE(saw_wait);
  // explain names the node and the GPU: s2 beside s1 on the same GPU.
  sim::Simulator again(w, options);
  again.Watch(world::WorkloadKind::kTraining, w.FindJob("s2"));
  again.Run();
  ASSERT_FALSE(again.scheduler().watched().empty());
  const std::string& node = again.scheduler().watched().back().node;
  EXPECT_NE(node.find(" GPU "), std::string::npos) << node;
  EXPECT_NE(node.find("the GPU had 400 milli free"), std::string::npos) << node;
  // Every job ends; the GPU-hours of a share count its fraction.
  for (const world::Job& j : w.jobs) {
    EXPECT_EQ(jobs[w.FindJob(j.id)].status, JobStatus::kDone) << j.id;
  }
  EXPECT_EQ(jobs[w.FindJob("s1")].gpu_seconds, 10 * 3600 * 600 / 1000);
  // Without nodes a share takes a whole GPU (pooled model), still only where sharing is allowed.
  options.scheduler.nodes = placement::NodePolicy::kPooled;
  sim::Simulator pooled(w, options);
  pooled.Run();
  EXPECT_EQ(w.pools[pooled.scheduler().jobs()[w.FindJob("s1")].last_pool].id, "shared");
}

}  // namespace
}  // namespace polycloud::scheduler
