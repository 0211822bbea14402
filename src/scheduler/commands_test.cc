// The command vocabulary, driven by hand as a live driver would: work
// submitted, cancelled and changed at run time, and runs that end when their
// site says so rather than when a model predicts.
#include <gtest/gtest.h>

#include "polycloud/io/scenario.h"
#include "polycloud/scheduler/command.h"
#include "polycloud/scheduler/command_log.h"
#include "polycloud/scheduler/scheduler.h"
#include "tests/testing/event_recorder.h"
#include "tests/testing/scenario_fixture.h"

namespace polycloud::scheduler {
namespace {

using polycloud::testing::LoadWorld;
using polycloud::testing::T;

// Records the wake-ups the core asks for; a test delivers them by hand.
class NoTimer final : public Timer {
 public:
  void AtTime(Time at, WakeKind kind, int32_t index) override {
    wakes.push_back({at, kind, index});
  }
  struct Wake {
    Time at;
    WakeKind kind;
    int32_t index;
  };
  std::vector<Wake> wakes;
};

using Recorder = polycloud::testing::EventRecorder;

class MemoryLog final : public CommandLog {
 public:
  void Append(Time now, const Command& c) override { entries.push_back({now, c}); }
  struct Entry {
    Time at;
    Command command;
  };
  std::vector<Entry> entries;
};

// One on-demand pool of 16 H100 at $2/GPU-h in nodes of 8, no static work.
const char* kFleet = R"(
name: live
start: 2026-01-01
end: 2026-02-01
providers: [{id: a}]
sites: [{id: sa, provider: a, power_mw: 1}]
pools:
  - {id: pa, site: sa, accelerator: H100, pricing: on-demand, gpus: 16, price_per_gpu_hour: 2}
)";

world::Job Training(const std::string& id, int64_t gpus, int64_t hours, int32_t priority = 0) {
  world::Job j;
  j.id = id;
  j.workload_class = "training";
  j.gpus = gpus;
  j.work_gpu_seconds = gpus * hours * 3600;
  j.priority = priority;
  return j;
}

struct Live {
  explicit Live(const std::string& yaml) : world(LoadWorld(yaml)) {
    core = std::make_unique<Scheduler>(world, Options{}, world.start, &timer, &recorder);
    core->AttachLog(&log);
  }
  Status Do(const Command& c, const char* at) { return core->Apply(c, T(at)); }
  void Must(const Command& c, const char* at) {
    const Status s = Do(c, at);
    ASSERT_TRUE(s.ok()) << CommandName(c) << ": " << s.message();
  }
  const JobState& Job(const char* id) const { return core->jobs()[core->FindJob(id)]; }
  JobId Id(const char* id) const { return JobId{core->FindJob(id)}; }
  RunId Run(const char* id) const { return RunId{Job(id).epoch}; }
  int64_t Used() const { return core->fleet().pool(0).used; }

  world::World world;
  NoTimer timer;
  Recorder recorder;
  MemoryLog log;
  std::unique_ptr<Scheduler> core;
};

TEST(CommandTest, SubmitsCancelsAndChangesWorkAtRunTime) {
  Live live(kFleet);
  live.Must(cmd::SubmitJob{Training("small", 8, 1)}, "2026-01-02");
  live.Must(cmd::SubmitJob{Training("big", 16, 1)}, "2026-01-02");
  live.Must(cmd::Place{}, "2026-01-02");
  EXPECT_EQ(live.Job("small").status, JobStatus::kRunning);
  EXPECT_EQ(live.Job("big").status, JobStatus::kQueued);  // 8 of 16 GPUs are taken
  EXPECT_EQ(live.core->job_spec(live.core->FindJob("big")).arrival, T("2026-01-02"));

  // Cancelling the waiting job takes it out of the queue; nothing ran.
  live.Must(cmd::CancelJob{live.Id("big")}, "2026-01-02T00:10:00Z");
  EXPECT_EQ(live.Job("big").status, JobStatus::kCancelled);
  EXPECT_EQ(live.core->queued(), 0u);

  // Cancelling the running job frees its GPUs and bills it up to now.
  live.Must(cmd::CancelJob{live.Id("small")}, "2026-01-02T00:30:00Z");
  EXPECT_EQ(live.Job("small").status, JobStatus::kCancelled);
  EXPECT_EQ(live.Used(), 0);
  EXPECT_EQ(live.core->ledger().JobSpend(live.core->FindJob("small")),
            Money::FromMicros(8'000'000));
  EXPECT_EQ(live.recorder.Count(EventType::kJobCancelled), 2);

  // The pool shrinks to 8 GPUs (a site drained a node): a 16-GPU gang waits,
  // and starts when the node returns.
  live.Must(cmd::SetPoolCapacity{0, 8}, "2026-01-03");
  live.Must(cmd::SubmitJob{Training("gang", 16, 1)}, "2026-01-03");
  live.Must(cmd::Place{}, "2026-01-03");
  EXPECT_EQ(live.Job("gang").status, JobStatus::kQueued);
  live.Must(cmd::SetPoolCapacity{0, 16}, "2026-01-03T01:00:00Z");
  live.Must(cmd::Place{}, "2026-01-03T01:00:00Z");
  EXPECT_EQ(live.Job("gang").status, JobStatus::kRunning);
  EXPECT_EQ(live.Job("gang").first_start, T("2026-01-03T01:00:00Z"));

  // Capacity cut under running work evicts it back to the queue.
  live.Must(cmd::SetPoolCapacity{0, 8}, "2026-01-03T01:30:00Z");
  EXPECT_EQ(live.Job("gang").status, JobStatus::kQueued);
  EXPECT_EQ(live.Job("gang").interruptions, 1);
}

TEST(CommandTest, ServicesAreSubmittedScaledByMeasuredDemandAndCancelled) {
  Live live(kFleet);
  world::Service chat;
  chat.id = "chat";
  chat.workload_class = "consumer";
  chat.gpus_per_replica = 4;
  chat.replica_tokens_per_s = 1000;  // per replica on H100
  chat.min_providers = 1;
  live.Must(cmd::SubmitService{chat, 2500}, "2026-01-02");
  live.Must(cmd::Place{}, "2026-01-02");
  const world::ServiceIndex s = live.core->FindService("chat");
  ASSERT_NE(s, world::kNone);
  EXPECT_EQ(live.core->services()[s].replicas.size(), 3u);  // 2,500 tokens/s
  EXPECT_EQ(live.Used(), 12);

  live.Must(cmd::SetDemand{ServiceId{s}, 900}, "2026-01-02T01:00:00Z");
  live.Must(cmd::Place{}, "2026-01-02T01:00:00Z");
  EXPECT_EQ(live.core->services()[s].replicas.size(), 1u);

  live.Must(cmd::CancelService{ServiceId{s}}, "2026-01-02T02:00:00Z");
  live.Must(cmd::Place{}, "2026-01-02T02:00:00Z");
  EXPECT_TRUE(live.core->services()[s].replicas.empty());
  EXPECT_EQ(live.Used(), 0);
  EXPECT_EQ(live.recorder.Count(EventType::kServiceCancelled), 1);
  // A cancelled service takes no more demand.
  EXPECT_EQ(live.Do(cmd::SetDemand{ServiceId{s}, 10}, "2026-01-02T03:00:00Z").code(),
            StatusCode::kFailedPrecondition);
}

TEST(CommandTest, RunsEndWhenTheSiteReportsNotWhenPredicted) {
  Live live(kFleet);
  live.Must(cmd::SubmitJob{Training("first", 16, 1)}, "2026-01-02");
  live.Must(cmd::SubmitJob{Training("second", 16, 1)}, "2026-01-02");
  live.Must(cmd::Place{}, "2026-01-02");
  const Event* started = live.recorder.Last(EventType::kJobStarted);
  ASSERT_NE(started, nullptr);
  EXPECT_EQ(started->value, 3600);  // expected: one hour
  // An hour passes: nothing ends by itself.
  live.Must(cmd::Place{}, "2026-01-02T01:00:00Z");
  EXPECT_EQ(live.Job("first").status, JobStatus::kRunning);
  EXPECT_EQ(live.Job("second").status, JobStatus::kQueued);
  // The site reports the end at 01:30, half an hour late.
  live.Must(cmd::JobCompleted{live.Id("first"), live.Run("first"), T("2026-01-02T01:30:00Z")},
            "2026-01-02T01:30:00Z");
  live.Must(cmd::Place{}, "2026-01-02T01:30:00Z");
  EXPECT_EQ(live.Job("first").status, JobStatus::kDone);
  EXPECT_EQ(live.Job("first").end, T("2026-01-02T01:30:00Z"));
  EXPECT_EQ(live.Job("first").gpu_seconds, 16 * 5400);
  // 16 GPUs × 1.5 h × $2: the ledger bills the real run time.
  EXPECT_EQ(live.core->ledger().JobSpend(live.core->FindJob("first")),
            Money::FromMicros(48'000'000));
  EXPECT_EQ(live.Job("second").first_start, T("2026-01-02T01:30:00Z"));

  // The second ends early, at 00:20 into its run; the report arrives at 00:25
  // (the GPUs were held until then) and its run time is the reported one.
  live.Must(cmd::JobCompleted{live.Id("second"), live.Run("second"), T("2026-01-02T01:50:00Z")},
            "2026-01-02T01:55:00Z");
  EXPECT_EQ(live.Job("second").end, T("2026-01-02T01:50:00Z"));
  EXPECT_EQ(live.Job("second").gpu_seconds, 16 * 1200);
  EXPECT_EQ(live.Used(), 0);
}

TEST(CommandTest, AFailedRunLosesWorkSinceItsCheckpointAndADispatchFailureLosesNothing) {
  Live live(kFleet);
  world::Job j = Training("ckpt", 16, 10);
  j.checkpoint_interval = Duration::Hours(1);
  live.Must(cmd::SubmitJob{j}, "2026-01-02");
  live.Must(cmd::Place{}, "2026-01-02");
  const RunId first = live.Run("ckpt");
  // The site says the run started 10 minutes after dispatch, and failed 2 h
  // 30 min after that: two hours of work are kept, 30 minutes lost.
  live.Must(cmd::JobStarted{live.Id("ckpt"), first, T("2026-01-02T00:10:00Z")},
            "2026-01-02T00:10:00Z");
  live.Must(cmd::JobFailed{live.Id("ckpt"), first, T("2026-01-02T02:40:00Z")},
            "2026-01-02T02:41:00Z");
  EXPECT_EQ(live.Job("ckpt").status, JobStatus::kQueued);
  EXPECT_EQ(live.Job("ckpt").remaining_work, 16 * 8 * 3600);
  EXPECT_EQ(live.Job("ckpt").lost_work, 16 * 1800);
  live.Must(cmd::Place{}, "2026-01-02T02:41:00Z");
  ASSERT_EQ(live.Job("ckpt").status, JobStatus::kRunning);
  // Its next dispatch fails: requeued with nothing lost.
  live.Must(cmd::DispatchFailed{live.Id("ckpt"), live.Run("ckpt")}, "2026-01-02T02:42:00Z");
  EXPECT_EQ(live.Job("ckpt").status, JobStatus::kQueued);
  EXPECT_EQ(live.Job("ckpt").remaining_work, 16 * 8 * 3600);
  EXPECT_EQ(live.Job("ckpt").lost_work, 16 * 1800);
  EXPECT_EQ(live.recorder.Count(EventType::kDispatchFailed), 1);
}

TEST(CommandTest, RejectsBadCommandsWithoutChangingOrLoggingAnything) {
  Live live(kFleet);
  live.Must(cmd::SubmitJob{Training("j", 8, 1)}, "2026-01-02");
  live.Must(cmd::Place{}, "2026-01-02");
  const size_t logged = live.log.entries.size();
  const size_t events = live.recorder.events.size();

  EXPECT_EQ(live.Do(cmd::SubmitJob{Training("j", 8, 1)}, "2026-01-02").code(),
            StatusCode::kInvalidArgument);  // duplicate id
  EXPECT_EQ(live.Do(cmd::SubmitJob{Training("zero", 0, 1)}, "2026-01-02").code(),
            StatusCode::kInvalidArgument);
  world::Job huge = Training("huge", 1, 1);
  huge.work_gpu_seconds = std::numeric_limits<int64_t>::max() / 100;
  EXPECT_EQ(live.Do(cmd::SubmitJob{huge}, "2026-01-02").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(live.Do(cmd::CancelJob{JobId{42}}, "2026-01-02").code(), StatusCode::kNotFound);
  EXPECT_EQ(live.Do(cmd::SetPoolCapacity{7, 8}, "2026-01-02").code(), StatusCode::kNotFound);
  EXPECT_EQ(live.Do(cmd::SetPoolCapacity{0, -1}, "2026-01-02").code(),
            StatusCode::kInvalidArgument);
  // Reported before the run started, or in the future.
  EXPECT_EQ(
      live.Do(cmd::JobCompleted{live.Id("j"), live.Run("j"), T("2026-01-01")}, "2026-01-02").code(),
      StatusCode::kFailedPrecondition);
  EXPECT_EQ(
      live.Do(cmd::JobCompleted{live.Id("j"), live.Run("j"), T("2026-01-03")}, "2026-01-02").code(),
      StatusCode::kFailedPrecondition);
  // Time never goes backwards.
  EXPECT_EQ(live.Do(cmd::Place{}, "2026-01-01").code(), StatusCode::kFailedPrecondition);

  EXPECT_EQ(live.log.entries.size(), logged);
  EXPECT_EQ(live.recorder.events.size(), events);
  EXPECT_EQ(live.Job("j").status, JobStatus::kRunning);
  EXPECT_EQ(live.Used(), 8);

  // A finished job cannot be cancelled; a stale report is accepted and ignored.
  const RunId run = live.Run("j");
  live.Must(cmd::JobCompleted{live.Id("j"), run, T("2026-01-02T01:00:00Z")},
            "2026-01-02T01:00:00Z");
  EXPECT_EQ(live.Do(cmd::CancelJob{live.Id("j")}, "2026-01-02T01:00:00Z").code(),
            StatusCode::kFailedPrecondition);
  live.Must(cmd::JobCompleted{live.Id("j"), run, T("2026-01-02T01:00:00Z")},
            "2026-01-02T01:00:00Z");
  EXPECT_EQ(live.Job("j").end, T("2026-01-02T01:00:00Z"));
}

TEST(CommandTest, RuntimeSubmissionsMayPreemptLowerPriorityPreemptibleWork) {
  Live live(kFleet);
  world::Job batch = Training("batch", 16, 10);
  batch.kind = world::WorkloadKind::kBatch;
  batch.preemptible = true;
  live.Must(cmd::SubmitJob{batch}, "2026-01-02");
  live.Must(cmd::Place{}, "2026-01-02");
  live.Must(cmd::SubmitJob{Training("urgent", 8, 1, /*priority=*/10)}, "2026-01-02T01:00:00Z");
  live.Must(cmd::Place{}, "2026-01-02T01:00:00Z");
  EXPECT_EQ(live.Job("urgent").status, JobStatus::kRunning);
  EXPECT_EQ(live.Job("batch").preemptions, 1);
}

TEST(ExplainNowTest, SaysWhyAJobWaitsAndWhereItWouldGoFromTheCurrentState) {
  Live live(kFleet);
  live.Must(cmd::SubmitJob{Training("first", 16, 1)}, "2026-01-02");
  live.Must(cmd::SubmitJob{Training("second", 8, 1)}, "2026-01-02");
  live.Must(cmd::Place{}, "2026-01-02");
  const int64_t attempts = live.core->placement_attempts();
  Scheduler::WatchedDecision why = live.core->ExplainNow(
      world::WorkloadKind::kTraining, live.core->FindJob("second"), T("2026-01-02T00:30:00Z"));
  EXPECT_FALSE(why.placed);
  ASSERT_EQ(why.explanation.candidates.size(), 1u);
  ASSERT_NE(why.explanation.candidates[0].rejected_by, nullptr);
  EXPECT_STREQ(why.explanation.candidates[0].rejected_by, "capacity");
  EXPECT_EQ(why.explanation.subject, "job second");
  // Asking changes nothing: no attempt counted, nothing bound.
  EXPECT_EQ(live.core->placement_attempts(), attempts);
  EXPECT_EQ(live.Job("second").status, JobStatus::kQueued);
  EXPECT_EQ(live.Used(), 16);
  live.Must(cmd::JobCompleted{live.Id("first"), live.Run("first"), T("2026-01-02T01:00:00Z")},
            "2026-01-02T01:00:00Z");
  why = live.core->ExplainNow(world::WorkloadKind::kTraining, live.core->FindJob("second"),
                              T("2026-01-02T01:00:00Z"));
  EXPECT_TRUE(why.placed);
  EXPECT_EQ(why.explanation.chosen, 0);
}

TEST(ExplainNowTest, TheDecisionLogKeepsEveryStartWhenAsked) {
  world::World w = LoadWorld(kFleet);
  NoTimer timer;
  Options options;
  options.record_decisions = true;
  Scheduler core(w, options, w.start, &timer, nullptr);
  ASSERT_TRUE(core.Apply(cmd::SubmitJob{Training("a", 8, 1)}, T("2026-01-02")).ok());
  ASSERT_TRUE(core.Apply(cmd::Place{}, T("2026-01-02")).ok());
  const Scheduler::DecisionRecord* d = core.LastDecision(false, core.FindJob("a"));
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->at, T("2026-01-02"));
  EXPECT_EQ(d->pool, 0);
  EXPECT_EQ(d->gpus, 8);
  EXPECT_EQ(core.decisions().size(), 1u);
  EXPECT_EQ(core.LastDecision(true, 0), nullptr);
}

TEST(ExplainNowTest, TheDecisionLogIsARingButEachWorkloadKeepsItsLatestStart) {
  world::World w = LoadWorld(kFleet);
  NoTimer timer;
  Options options;
  options.record_decisions = true;
  options.decision_log_limit = 2;
  Scheduler core(w, options, w.start, &timer, nullptr);
  for (const char* id : {"a", "b", "c"}) {
    ASSERT_TRUE(core.Apply(cmd::SubmitJob{Training(id, 1, 1)}, T("2026-01-02")).ok());
    ASSERT_TRUE(core.Apply(cmd::Place{}, T("2026-01-02")).ok());
  }
  EXPECT_EQ(core.decisions_recorded(), 3);
  ASSERT_EQ(core.decisions().size(), 2u);  // the ring dropped a's start
  EXPECT_EQ(core.decisions().front().index, core.FindJob("b"));
  EXPECT_EQ(core.decisions().back().index, core.FindJob("c"));
  // Explain still finds the start the ring dropped.
  const Scheduler::DecisionRecord* a = core.LastDecision(false, core.FindJob("a"));
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->index, core.FindJob("a"));
  EXPECT_EQ(a->gpus, 1);
  EXPECT_EQ(core.LastDecision(false, 99), nullptr);
}

TEST(PlaceQueueTest, AQuietQueueIsNotWalkedAgainUntilSomethingChanges) {
  world::World w = LoadWorld(kFleet);
  NoTimer timer;
  Options options;
  Scheduler core(w, options, w.start, &timer, nullptr);
  const Time t = T("2026-01-02");
  auto submit = [&](const char* id, int64_t gpus, int32_t priority) {
    ASSERT_TRUE(core.Apply(cmd::SubmitJob{Training(id, gpus, 1, priority)}, t).ok());
    ASSERT_TRUE(core.Apply(cmd::Place{}, t).ok());
  };
  auto status = [&](const char* id) { return core.jobs()[core.FindJob(id)].status; };
  submit("a", 16, 0);  // takes the whole pool
  submit("b", 8, 0);   // blocked; the pass walked the whole queue and nothing moved: quiet
  EXPECT_EQ(core.quiet_passes(), 0);
  submit("c", 8, 0);  // queued after b: only c is looked at
  EXPECT_EQ(core.quiet_passes(), 1);
  submit("d", 8, 0);
  submit("e", 8, 0);
  EXPECT_EQ(core.quiet_passes(), 3);
  submit("urgent", 8, 50);  // queued ahead of them: the whole queue again
  EXPECT_EQ(core.quiet_passes(), 3);
  ASSERT_TRUE(core.Apply(cmd::Place{}, t).ok());  // quiet again: nothing new to look at
  EXPECT_EQ(core.quiet_passes(), 4);
  EXPECT_EQ(core.queued(), 5u);
  // Capacity frees: the next pass walks everything, in priority order.
  ASSERT_TRUE(core.Apply(cmd::CancelJob{JobId{core.FindJob("a")}}, t).ok());
  ASSERT_TRUE(core.Apply(cmd::Place{}, t).ok());
  EXPECT_EQ(status("urgent"), JobStatus::kRunning);
  EXPECT_EQ(status("b"), JobStatus::kRunning);
  EXPECT_EQ(status("c"), JobStatus::kQueued);
  EXPECT_EQ(status("d"), JobStatus::kQueued);
  EXPECT_EQ(status("e"), JobStatus::kQueued);
}

TEST(OpenLedgerTest, SpendIsReadableAtAnyInstantWithoutClosing) {
  Live live(kFleet);
  live.Must(cmd::SubmitJob{Training("a", 16, 10)}, "2026-01-02");
  live.Must(cmd::Place{}, "2026-01-02");
  // 16 GPUs × $2 × 3 h, read three hours into the run: nothing was closed.
  EXPECT_EQ(live.core->ledger().PoolSpendAt(0, T("2026-01-02T03:00:00Z")),
            Money::FromMicros(96'000'000));
  EXPECT_EQ(live.core->ledger().PoolSpendAt(0, T("2026-01-02T05:00:00Z")),
            Money::FromMicros(160'000'000));
}

// Tenant quotas: work over its tenant's quota waits without blocking others,
// and starts when the tenant's GPUs come free.
TEST(QuotaTest, WorkOverItsTenantsQuotaWaitsAndOthersGoOn) {
  Live live(std::string(kFleet) + R"(
tenants:
  - {id: research, max_gpus: 8}
  - {id: product, class_max_gpus: {batch: 4}}
)");
  live.Must(cmd::SubmitJob{Training("r1", 8, 1), "research"}, "2026-01-02");
  live.Must(cmd::SubmitJob{Training("r2", 4, 1), "research"}, "2026-01-02");
  world::Job b = Training("p1", 8, 1);
  b.kind = world::WorkloadKind::kBatch;
  b.workload_class = "batch";
  live.Must(cmd::SubmitJob{b, "product"}, "2026-01-02");
  live.Must(cmd::SubmitJob{Training("p2", 4, 1), "product"}, "2026-01-02");
  live.Must(cmd::Place{}, "2026-01-02");
  EXPECT_EQ(live.Job("r1").status, JobStatus::kRunning);
  EXPECT_EQ(live.Job("r2").status, JobStatus::kQueued);  // research: 8 of 8 in use
  EXPECT_EQ(live.Job("p1").status, JobStatus::kQueued);  // product's batch class: 4 at most
  EXPECT_EQ(live.Job("p2").status,
            JobStatus::kRunning);  // a training job of product is not limited
  EXPECT_EQ(live.core->QuotaHold(live.core->FindJob("r2")),
            "tenant research: 8 of its 8 GPUs in use, this job needs 4 more");
  EXPECT_EQ(live.core->QuotaHold(live.core->FindJob("p1")),
            "tenant product, class batch: 0 of its 4 GPUs in use, this job needs 8 more");
  EXPECT_EQ(live.core->TenantGpus(0), 8);
  // r1 ends: r2 may start.
  live.Must(cmd::JobCompleted{live.Id("r1"), live.Run("r1"), T("2026-01-02T01:00:00Z")},
            "2026-01-02T01:00:00Z");
  live.Must(cmd::Place{}, "2026-01-02T01:00:00Z");
  EXPECT_EQ(live.Job("r2").status, JobStatus::kRunning);
  EXPECT_EQ(live.core->TenantGpus(0), 4);
  EXPECT_EQ(live.core->QuotaHold(live.core->FindJob("r2")), "");
}

TEST(QuotaTest, UnderFifoAQuotaHeldJobDoesNotBlockTheQueue) {
  world::World w = LoadWorld(std::string(kFleet) + "tenants: [{id: t, max_gpus: 4}]\n");
  Options o;
  ASSERT_TRUE(SetPolicy("fifo", &o).ok());
  NoTimer timer;
  Recorder recorder;
  Scheduler core(w, o, w.start, &timer, &recorder);
  ASSERT_TRUE(core.Apply(cmd::SubmitJob{Training("held", 8, 1), "t"}, T("2026-01-02")).ok());
  ASSERT_TRUE(core.Apply(cmd::SubmitJob{Training("free", 8, 1)}, T("2026-01-02")).ok());
  ASSERT_TRUE(core.Apply(cmd::Place{}, T("2026-01-02")).ok());
  EXPECT_EQ(core.jobs()[core.FindJob("held")].status, JobStatus::kQueued);
  EXPECT_EQ(core.jobs()[core.FindJob("free")].status, JobStatus::kRunning);
}

// Spend quotas: a start commits its expected cost to the month's end; work
// that would pass the month's budget waits without blocking anyone.
TEST(QuotaTest, SpendQuotaHoldsAStartThatWouldPassTheMonthsBudget) {
  Live live(std::string(kFleet) + R"(
tenants:
  - {id: research, spend_per_month: 100}
  - {id: product}
)");
  live.Must(cmd::SubmitJob{Training("r1", 8, 5), "research"}, "2026-01-02");  // $80
  live.Must(cmd::SubmitJob{Training("r2", 8, 2), "research"}, "2026-01-02");  // $32
  live.Must(cmd::SubmitJob{Training("p1", 8, 2), "product"}, "2026-01-02");
  live.Must(cmd::Place{}, "2026-01-02");
  EXPECT_EQ(live.Job("r1").status, JobStatus::kRunning);
  EXPECT_EQ(live.Job("r2").status, JobStatus::kQueued);
  EXPECT_EQ(live.Job("p1").status, JobStatus::kRunning);  // another tenant goes on
  EXPECT_EQ(live.core->QuotaHold(live.core->FindJob("r2")),
            "tenant research: spent $0.00 of $100.00 this month (2026-01), $80.00 more "
            "committed to its running jobs, this job needs $32.00 more in pa by the month's end");
  const auto u = live.core->TenantSpend(0, -1, T("2026-01-02T00:30:00Z"));
  EXPECT_EQ(u.month.Label(), "2026-01");
  EXPECT_EQ(u.limit, Money::FromDollars(100));
  EXPECT_EQ(u.spent, Money::FromDollars(8));       // half an hour of 8 GPUs at $2
  EXPECT_EQ(u.committed, Money::FromDollars(72));  // the rest of r1's expected run
  // r1 ends after one hour of its five: the unused $64 comes back and r2 fits.
  live.Must(cmd::JobCompleted{live.Id("r1"), live.Run("r1"), T("2026-01-02T01:00:00Z")},
            "2026-01-02T01:00:00Z");
  live.Must(cmd::Place{}, "2026-01-02T01:00:00Z");
  EXPECT_EQ(live.Job("r2").status, JobStatus::kRunning);
  EXPECT_EQ(live.core->QuotaHold(live.core->FindJob("r2")), "");
  const auto after = live.core->TenantSpend(0, -1, T("2026-01-02T01:00:00Z"));
  EXPECT_EQ(after.spent, Money::FromDollars(16));
  EXPECT_EQ(after.committed, Money::FromDollars(32));
}

TEST(QuotaTest, ASpendHeldJobIsWeighedAgainWhenTheMonthTurns) {
  std::string fleet = kFleet;  // to April: three month turns
  fleet.replace(fleet.find("end: 2026-02-01"), 15, "end: 2026-04-01");
  Live live(fleet + "tenants: [{id: research, spend_per_month: 100}]\n");
  const Scheduler& core = *live.core;
  // r1 runs 10 h across the turn of January: $64 in January, $96 in February.
  live.Must(cmd::SubmitJob{Training("r1", 8, 10), "research"}, "2026-01-31T20:00:00Z");
  live.Must(cmd::SubmitJob{Training("r2", 8, 3), "research"}, "2026-01-31T20:00:00Z");  // $48
  // r3 fits January ($16 more) but not February, where r1 already holds $96.
  live.Must(cmd::SubmitJob{Training("r3", 2, 8), "research"}, "2026-01-31T20:00:00Z");
  live.Must(cmd::Place{}, "2026-01-31T20:00:00Z");
  EXPECT_EQ(live.Job("r1").status, JobStatus::kRunning);  // $64 + $96
  const world::JobIndex r2 = core.FindJob("r2"), r3 = core.FindJob("r3");
  EXPECT_EQ(live.Job("r2").status, JobStatus::kQueued);  // 64 + 48 > 100
  EXPECT_EQ(live.Job("r3").status, JobStatus::kQueued);
  EXPECT_EQ(core.QuotaHold(r3),
            "tenant research: $96.00 of its $100.00 for 2026-02 committed to its running jobs, "
            "this job needs $16.00 more in pa in that month");
  ASSERT_EQ(live.timer.wakes.size(), 1u);
  EXPECT_EQ(live.timer.wakes[0].at, T("2026-02-01"));
  EXPECT_EQ(live.timer.wakes[0].kind, WakeKind::kSpendMonth);
  // February opens with r1's $96 already committed: r2 still does not fit.
  live.Must(cmd::Wake{WakeKind::kSpendMonth, 0}, "2026-02-01");
  live.Must(cmd::Place{}, "2026-02-01");
  EXPECT_EQ(live.Job("r2").status, JobStatus::kQueued);
  EXPECT_EQ(core.QuotaHold(r2),
            "tenant research: spent $0.00 of $100.00 this month (2026-02), $96.00 more "
            "committed to its running jobs, this job needs $48.00 more in pa by the month's end");
  ASSERT_EQ(live.timer.wakes.size(), 2u);
  EXPECT_EQ(live.timer.wakes[1].at, T("2026-03-01"));
  live.Must(cmd::JobCompleted{live.Id("r1"), live.Run("r1"), T("2026-02-01T06:00:00Z")},
            "2026-02-01T06:00:00Z");
  live.Must(cmd::Place{}, "2026-02-01T06:00:00Z");
  EXPECT_EQ(live.Job("r2").status, JobStatus::kQueued);  // r1 spent what it committed
  EXPECT_EQ(core.TenantSpend(0, -1, T("2026-02-01T06:00:00Z")).spent, Money::FromDollars(96));
  live.Must(cmd::Wake{WakeKind::kSpendMonth, 0}, "2026-03-01");
  live.Must(cmd::Place{}, "2026-03-01");
  EXPECT_EQ(live.Job("r2").status, JobStatus::kRunning);
  EXPECT_EQ(live.Job("r3").status, JobStatus::kRunning);
  EXPECT_EQ(core.TenantSpend(0, -1, T("2026-03-01")).committed, Money::FromDollars(48 + 32));
  // The wakes went through the command log like any other command.
  size_t wakes = 0;
  for (const MemoryLog::Entry& e : live.log.entries) {
    if (const auto* w = std::get_if<cmd::Wake>(&e.command)) {
      EXPECT_EQ(w->kind, WakeKind::kSpendMonth);
      ++wakes;
    }
  }
  EXPECT_EQ(wakes, 2u);
}

TEST(QuotaTest, AClassSpendQuotaHoldsOnlyThatClass) {
  Live live(std::string(kFleet) + R"(
tenants:
  - {id: product, spend_per_month: 10K, class_spend_per_month: {batch: 50}}
)");
  world::Job b1 = Training("b1", 4, 4);  // $32
  b1.kind = world::WorkloadKind::kBatch;
  b1.workload_class = "batch";
  world::Job b2 = b1;
  b2.id = "b2";
  live.Must(cmd::SubmitJob{b1, "product"}, "2026-01-02");
  live.Must(cmd::SubmitJob{b2, "product"}, "2026-01-02");
  live.Must(cmd::SubmitJob{Training("t1", 8, 4), "product"}, "2026-01-02");
  live.Must(cmd::Place{}, "2026-01-02");
  EXPECT_EQ(live.Job("b1").status, JobStatus::kRunning);
  EXPECT_EQ(live.Job("b2").status, JobStatus::kQueued);
  EXPECT_EQ(live.Job("t1").status, JobStatus::kRunning);
  EXPECT_EQ(live.core->QuotaHold(live.core->FindJob("b2")),
            "tenant product, class batch: spent $0.00 of $50.00 this month (2026-01), $32.00 "
            "more committed to its running jobs, this job needs $32.00 more in pa by the month's "
            "end");
  EXPECT_EQ(live.world.tenants[0].spend_per_month, Money::FromDollars(10'000));
  const auto batch = live.core->TenantSpend(0, 0, T("2026-01-02"));
  EXPECT_EQ(batch.limit, Money::FromDollars(50));
  EXPECT_EQ(batch.committed, Money::FromDollars(32));
  EXPECT_EQ(live.core->TenantSpend(0, -1, T("2026-01-02")).committed, Money::FromDollars(96));
}

// Contract amendments (a signed change of terms, applied from now on).

world::Job ApiJob(const std::string& id) {
  world::Job j = Training(id, 8, 1);
  j.workload_class = "stateless-api";
  return j;
}

TEST(AmendContractTest, EndingExclusivityEarlyLetsTheClassRunElsewhereFromThatInstant) {
  Live live(polycloud::testing::kTwoProviders);
  live.core->AllowAmendments(&live.world);
  // Azure's pool is drained: the exclusive class has nowhere to go.
  live.Must(cmd::SetPoolCapacity{0, 0}, "2026-01-02");
  live.Must(cmd::SubmitJob{ApiJob("api")}, "2026-01-02");
  live.Must(cmd::Place{}, "2026-01-02");
  EXPECT_EQ(live.Job("api").status, JobStatus::kQueued);

  // The exclusivity now ends on the 10th instead of 2030.
  world::Contract terms = live.world.contracts[0];
  terms.exclusivity[0].until = T("2026-01-10");
  live.Must(cmd::AmendContract{0, terms}, "2026-01-05");
  EXPECT_EQ(live.recorder.Count(EventType::kContractAmended), 1);
  live.Must(cmd::Place{}, "2026-01-05");
  EXPECT_EQ(live.Job("api").status, JobStatus::kQueued);  // still exclusive until the 10th

  // The core asked to be woken when the clause ends, and places there then.
  bool asked = false;
  for (const auto& w : live.timer.wakes) {
    asked |= w.kind == WakeKind::kContractTerms && w.at == T("2026-01-10") && w.index == 0;
  }
  EXPECT_TRUE(asked);
  live.Must(cmd::Wake{WakeKind::kContractTerms, 0}, "2026-01-10");
  live.Must(cmd::Place{}, "2026-01-10");
  EXPECT_EQ(live.Job("api").status, JobStatus::kRunning);
  EXPECT_EQ(live.Job("api").first_start, T("2026-01-10"));
  const world::World& w = live.core->world();
  EXPECT_EQ(w.providers[w.pools[live.Job("api").last_pool].provider].id, "aws");
}

// An on-demand pool under a discount-only commitment.
const char* kDiscounted = R"(
name: discounted
start: 2026-01-01
end: 2026-02-01
providers: [{id: a}]
contracts:
  - {id: deal, provider: a, start: 2025-01-01, end: 2028-01-01, committed_usd: 10M, discount_percent: 10}
sites: [{id: s, provider: a}]
pools: [{id: p, site: s, accelerator: H100, pricing: on-demand, gpus: 64, price_per_gpu_hour: 4, contract: deal}]
)";

TEST(AmendContractTest, ANewDiscountRepricesTheContractsPoolsFromNowOnly) {
  Live plain(kDiscounted);
  Live amended(kDiscounted);
  amended.core->AllowAmendments(&amended.world);
  for (Live* l : {&plain, &amended}) {
    l->Must(cmd::SubmitJob{Training("t", 64, 1000)}, "2026-01-02");
    l->Must(cmd::Place{}, "2026-01-02");
  }
  ASSERT_EQ(amended.Job("t").status, JobStatus::kRunning);
  world::Contract terms = amended.world.contracts[0];
  terms.discount_milli = 325;  // 32.5% off list from the 4th, was 10%
  amended.Must(cmd::AmendContract{0, terms}, "2026-01-04");

  const auto& before = plain.core->ledger();
  const auto& after = amended.core->ledger();
  // Spend up to the amendment stands.
  EXPECT_EQ(after.ContractSpendAt(0, T("2026-01-04")), before.ContractSpendAt(0, T("2026-01-04")));
  // A day after it, the day cost 67.5/90 = three quarters of what it cost before.
  const Money day_before =
      before.ContractSpendAt(0, T("2026-01-05")) - before.ContractSpendAt(0, T("2026-01-04"));
  const Money day_after =
      after.ContractSpendAt(0, T("2026-01-05")) - after.ContractSpendAt(0, T("2026-01-04"));
  ASSERT_GT(day_before.micros(), 0);
  EXPECT_EQ(day_after.micros() * 4, day_before.micros() * 3);
}

TEST(AmendContractTest, RefusedAmendmentsChangeAndLogNothing) {
  Live live(polycloud::testing::kTwoProviders);
  world::Contract terms = live.world.contracts[0];
  terms.discount_milli = 100;
  // A core built without amendable terms refuses.
  EXPECT_EQ(live.Do(cmd::AmendContract{0, terms}, "2026-01-02").code(),
            StatusCode::kFailedPrecondition);
  live.core->AllowAmendments(&live.world);
  const size_t logged = live.log.entries.size();
  EXPECT_EQ(live.Do(cmd::AmendContract{5, terms}, "2026-01-02").code(), StatusCode::kNotFound);
  world::Contract renamed = terms;
  renamed.id = "other";
  EXPECT_EQ(live.Do(cmd::AmendContract{0, renamed}, "2026-01-02").code(),
            StatusCode::kInvalidArgument);
  world::Contract moved = terms;
  moved.provider = 1;
  EXPECT_EQ(live.Do(cmd::AmendContract{0, moved}, "2026-01-02").code(),
            StatusCode::kInvalidArgument);
  world::Contract ended = terms;
  ended.end = T("2026-01-01T12:00:00Z");
  EXPECT_EQ(live.Do(cmd::AmendContract{0, ended}, "2026-01-02").code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(live.log.entries.size(), logged);
  EXPECT_EQ(live.recorder.Count(EventType::kContractAmended), 0);
  EXPECT_EQ(live.world.contracts[0].discount_milli, 0);
}

TEST(AmendContractTest, AMinimumThatHasBegunCannotChange) {
  Live live(R"(
name: minimums
start: 2026-01-01
end: 2026-03-01
providers: [{id: a}]
contracts:
  - id: deal
    provider: a
    start: 2026-01-01
    end: 2027-01-01
    committed_usd: 1M
    minimums:
      - {by: 2026-02-01, spend: 100000}
      - {by: 2026-03-01, spend: 100000}
sites: [{id: s, provider: a}]
pools: [{id: p, site: s, accelerator: H100, pricing: reserved, gpus: 8, price_per_gpu_hour: 2, contract: deal}]
)");
  live.core->AllowAmendments(&live.world);
  world::Contract terms = live.world.contracts[0];
  terms.minimums[0].spend = Money::FromMicros(1);
  EXPECT_EQ(live.Do(cmd::AmendContract{0, terms}, "2026-01-15").code(),
            StatusCode::kInvalidArgument);
  terms = live.world.contracts[0];
  terms.minimums[1].spend = Money::FromMicros(50'000'000'000);  // the one not yet begun
  live.Must(cmd::AmendContract{0, terms}, "2026-01-15");
  EXPECT_EQ(live.world.contracts[0].minimums[1].spend, Money::FromMicros(50'000'000'000));
}

TEST(AmendContractTest, TheLogCarriesTheTermsAndReadsThemBack) {
  Live live(polycloud::testing::kTwoProviders);
  live.core->AllowAmendments(&live.world);
  world::Contract terms = live.world.contracts[0];
  terms.discount_milli = 125;
  terms.exclusivity[0].until = T("2027-06-01");
  terms.end = T("2028-01-01");
  const std::string line = CommandToJson(*live.core, T("2026-01-03"), cmd::AmendContract{0, terms});
  auto parsed = ParseCommandLog(line + "\n", live.world, "amend.log");
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  ASSERT_EQ(parsed->size(), 1u);
  const auto* a = std::get_if<cmd::AmendContract>(&(*parsed)[0].command);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->contract, 0);
  EXPECT_EQ(io::ContractTermsToJson(live.world, a->terms),
            io::ContractTermsToJson(live.world, terms));
  EXPECT_EQ(a->terms.discount_milli, 125);
  EXPECT_EQ(a->terms.end, T("2028-01-01"));

  // Terms the scenario would refuse are refused in a log too, with where.
  std::string bad = line;
  bad.replace(bad.find("\"terms\":{") + 9, 0, "\"colour\":\"red\",");
  auto refused = ParseCommandLog(bad + "\n", live.world, "amend.log");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("amend.log:1:"), std::string::npos);
  EXPECT_NE(refused.status().message().find("colour"), std::string::npos)
      << refused.status().message();
}

// Regression: a number beyond a double's range made nlohmann throw
// out_of_range past the parser (found by command_log_fuzz once it linked).
TEST(CommandLogTest, ANumberTooLargeIsAnErrorWithItsLine) {
  Live live(kFleet);
  for (const char* text : {"5556652e650\n", "{\"at\": 1e999}\n"}) {
    auto parsed = ParseCommandLog(text, live.world, "big.log");
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidInput);
    EXPECT_NE(parsed.status().message().find("big.log:1: not valid JSON: number overflow"),
              std::string::npos)
        << parsed.status().message();
  }
}

}  // namespace
}  // namespace polycloud::scheduler
