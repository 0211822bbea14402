// The command vocabulary, driven by hand as a live driver would: work
// submitted, cancelled and changed at run time, and runs that end when their
// site says so rather than when a model predicts.
#include <gtest/gtest.h>

#include "polycloud/scheduler/command.h"
#include "polycloud/scheduler/scheduler.h"
#include "tests/testing/event_recorder.h"
#include "tests/testing/scenario_fixture.h"

namespace polycloud::scheduler {
namespace {

using polycloud::testing::LoadWorld;
using polycloud::testing::T;

class NoTimer final : public Timer {
 public:
  void AtTime(Time, WakeKind, int32_t) override {}
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

}  // namespace
}  // namespace polycloud::scheduler
