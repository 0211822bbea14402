// The broker over an in-memory store and scripted sites (fakes of the layers
// below; the real SQLite/PostgreSQL store and Slurm sites have their own
// tests): durable submissions, idempotency, dispatch and site reports, a
// restart that restores and reconciles, a site that stops answering.
#include "polycloud/serve/broker.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <map>
#include <thread>

#include "polycloud/base/clock.h"
#include "tests/testing/scenario_fixture.h"

namespace polycloud::serve {
namespace {

using polycloud::testing::T;

// A Store in memory: what the broker needs of one, with a switch that makes
// writes fail and a delay that makes group commit visible.
class MemoryStore final : public store::Store {
 public:
  Result<store::AppendOutcome> AppendCommands(const std::vector<std::string>& jsons,
                                              std::string_view key,
                                              std::string_view value) override {
    if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    std::lock_guard<std::mutex> lock(mu);
    if (fail) return IoError("disk full");
    ++appends;
    store::AppendOutcome out;
    out.first_sequence = static_cast<int64_t>(log.size()) + 1;
    if (!key.empty()) {
      auto [it, fresh] = keys.emplace(std::string(key), std::string(value));
      if (!fresh) {
        out.existing_value = it->second;
        return out;
      }
    }
    for (const std::string& j : jsons) log.push_back(j);
    return out;
  }
  Result<int64_t> AppendCommandsAndAudit(const std::vector<std::string>& jsons,
                                         const std::vector<store::AuditEntry>& entries) override {
    if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    std::lock_guard<std::mutex> lock(mu);
    if (fail) return IoError("disk full");
    ++appends;
    const auto first = static_cast<int64_t>(log.size()) + 1;
    for (const std::string& j : jsons) log.push_back(j);
    for (const store::AuditEntry& e : entries) audit.push_back(e);
    return jsons.empty() ? 0 : first;
  }
  Result<std::vector<store::StoredCommand>> ReadCommands(int64_t after) override {
    std::lock_guard<std::mutex> lock(mu);
    std::vector<store::StoredCommand> out;
    for (size_t i = static_cast<size_t>(after); i < log.size(); ++i) {
      out.push_back({static_cast<int64_t>(i) + 1, log[i]});
    }
    return out;
  }
  Status PutSnapshot(int64_t, std::string_view) override { return Status::Ok(); }
  Result<std::optional<Snapshot>> LatestSnapshot() override { return std::optional<Snapshot>(); }
  Status PutDispatch(const store::Dispatch& d) override {
    std::lock_guard<std::mutex> lock(mu);
    if (fail) return IoError("disk full");
    dispatches[{d.job, d.run}] = d;
    return Status::Ok();
  }
  Result<std::vector<store::Dispatch>> ReadDispatches() override {
    std::lock_guard<std::mutex> lock(mu);
    std::vector<store::Dispatch> out;
    for (const auto& [k, d] : dispatches) out.push_back(d);
    return out;
  }
  Status PutToken(const store::Token&) override { return Status::Ok(); }
  Result<std::optional<store::Token>> FindTokenByHash(std::string_view) override {
    return std::optional<store::Token>();
  }
  Status AppendAudit(const store::AuditEntry& e) override {
    std::lock_guard<std::mutex> lock(mu);
    audit.push_back(e);
    return Status::Ok();
  }
  Result<std::vector<store::AuditEntry>> ReadAudit(int64_t) override {
    std::lock_guard<std::mutex> lock(mu);
    return audit;
  }
  Status AddUsage(const std::vector<store::UsageRow>&) override { return Status::Ok(); }
  Result<std::vector<store::UsageRow>> ReadUsage() override {
    return std::vector<store::UsageRow>();
  }
  Result<bool> TryAcquireLeadership() override { return true; }

  std::mutex mu;
  std::vector<std::string> log;
  std::vector<store::AuditEntry> audit;
  std::map<std::string, std::string> keys;
  std::map<std::pair<std::string, uint32_t>, store::Dispatch> dispatches;
  int64_t appends = 0;
  bool fail = false;
  int delay_ms = 0;
};

// A site whose queue the test scripts. Shared state outlives the broker that
// owns the driver, so a test can restart the broker against the same site.
struct SiteState {
  std::map<std::string, sites::SiteJob> jobs;  // by external id
  std::vector<sites::DispatchRequest> submitted;
  std::vector<std::string> cancelled;
  bool answering = true;
  int next_id = 100;
  // Finds our run of `job`.
  sites::SiteJob* Find(const std::string& job, uint32_t run) {
    for (auto& [id, j] : jobs) {
      if (j.job == job && j.run == run) return &j;
    }
    return nullptr;
  }
};

class ScriptedSite final : public sites::SiteDriver {
 public:
  explicit ScriptedSite(SiteState* state) : s_(state) {}
  Result<std::string> Submit(const sites::DispatchRequest& r) override {
    if (!s_->answering) return IoError("slurmctld: connection refused");
    const std::string id = std::to_string(s_->next_id++);
    s_->submitted.push_back(r);
    s_->jobs[id] = {id, r.job, r.run, sites::SiteJobState::kPending, Time(), Time()};
    return id;
  }
  Status Cancel(std::string_view id) override {
    if (!s_->answering) return IoError("slurmctld: connection refused");
    s_->cancelled.emplace_back(id);
    auto it = s_->jobs.find(std::string(id));
    if (it != s_->jobs.end()) it->second.state = sites::SiteJobState::kCancelled;
    return Status::Ok();
  }
  Result<std::vector<sites::SiteJob>> List() override {
    if (!s_->answering) return IoError("slurmctld: connection refused");
    std::vector<sites::SiteJob> out;
    for (const auto& [id, j] : s_->jobs) out.push_back(j);
    return out;
  }

 private:
  SiteState* s_;
};

// Two providers' sites, 16 GPUs each; the azure pool is cheaper.
const char* kFleet = R"(
name: live
start: 2026-01-01
end: 2026-02-01
providers: [{id: azure}, {id: aws}]
sites:
  - {id: az, provider: azure}
  - {id: aw, provider: aws}
pools:
  - {id: az-h100, site: az, accelerator: H100, pricing: on-demand, gpus: 16, price_per_gpu_hour: 2, partition: gpu}
  - {id: aw-h100, site: aw, accelerator: H100, pricing: on-demand, gpus: 16, price_per_gpu_hour: 4}
jobs:
  - {id: from-the-file, gpus: 8, work_gpu_hours: 8, arrival: 2026-01-02}
)";

world::Job Job(const std::string& id, int64_t gpus, int64_t hours) {
  world::Job j;
  j.id = id;
  j.workload_class = "training";
  j.gpus = gpus;
  j.work_gpu_seconds = gpus * hours * 3600;
  return j;
}

struct Harness {
  Harness() : clock(T("2026-01-05")) {}
  std::unique_ptr<Broker> Make(BrokerOptions options = {}) {
    std::vector<std::unique_ptr<sites::SiteDriver>> drivers;
    drivers.push_back(std::make_unique<ScriptedSite>(&az));
    drivers.push_back(std::make_unique<ScriptedSite>(&aw));
    return std::make_unique<Broker>(polycloud::testing::LoadWorld(kFleet), options, &store,
                                    std::move(drivers), &clock);
  }
  void Advance(const char* to) { clock.AdvanceTo(T(to)); }

  VirtualClock clock;
  MemoryStore store;
  SiteState az, aw;
};

TEST(BrokerTest, ASubmissionIsDurableThenDispatchedAndBilledForTheReportedRun) {
  Harness h;
  auto broker = h.Make();
  ASSERT_TRUE(broker->Start().ok());
  EXPECT_EQ(broker->core().job_count(), 0);  // the file's jobs are simulate's, not serve's

  auto id = broker->SubmitJob(Job("train", 8, 2), "research", "");
  ASSERT_TRUE(id.ok()) << id.status().message();
  EXPECT_EQ(id->id, "train");
  // Durable before it returned: the store's last line is the submission.
  ASSERT_FALSE(h.store.log.empty());
  EXPECT_NE(h.store.log.back().find("\"command\":\"submit-job\""), std::string::npos);
  EXPECT_NE(h.store.log.back().find("\"tenant\":\"research\""), std::string::npos);

  ASSERT_TRUE(broker->Tick().ok());  // places and dispatches
  ASSERT_EQ(h.az.submitted.size(), 1u);
  EXPECT_EQ(h.az.submitted[0].job, "train");
  EXPECT_EQ(h.az.submitted[0].gpus, 8);
  EXPECT_EQ(h.az.submitted[0].partition, "gpu");
  EXPECT_EQ(h.az.submitted[0].expected, Duration::Hours(2));
  auto view = broker->GetJob("train");
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->status, "running");
  EXPECT_EQ(view->site, "az");
  EXPECT_EQ(view->site_job, "100");
  EXPECT_EQ(h.store.dispatches.at({"train", view->run}).state, "submitted");

  // The site starts it ten minutes later and it ends after three hours, not
  // the two the core would predict: the ledger bills what really ran.
  sites::SiteJob* run = h.az.Find("train", view->run);
  run->state = sites::SiteJobState::kRunning;
  run->started = T("2026-01-05T00:10:00Z");
  h.Advance("2026-01-05T01:00:00Z");
  ASSERT_TRUE(broker->Tick().ok());
  run->state = sites::SiteJobState::kCompleted;
  run->ended = T("2026-01-05T03:10:00Z");
  h.Advance("2026-01-05T03:11:00Z");
  ASSERT_TRUE(broker->Tick().ok());
  view = broker->GetJob("train");
  EXPECT_EQ(view->status, "done");
  EXPECT_EQ(view->end, T("2026-01-05T03:10:00Z"));
  EXPECT_EQ(view->first_start, T("2026-01-05"));  // placed (and dispatched) then
  // Billed from the site's start until the broker freed the GPUs, at the
  // look that found the run ended (a minute's lag here): 8 × $2 × 3 h 1 min.
  EXPECT_EQ(view->spend, Money::FromMicros((int64_t{8} * 2'000'000 * 181 + 30) / 60));
}

TEST(BrokerTest, TheSameIdempotencyKeyReturnsTheFirstJob) {
  Harness h;
  auto broker = h.Make();
  ASSERT_TRUE(broker->Start().ok());
  auto first = broker->SubmitJob(Job("", 8, 1), "t", "key-1");
  auto again = broker->SubmitJob(Job("", 8, 1), "t", "key-1");
  ASSERT_TRUE(first.ok() && again.ok());
  EXPECT_FALSE(first->existing);
  EXPECT_TRUE(again->existing);
  EXPECT_EQ(first->id, again->id);
  EXPECT_EQ(broker->core().job_count(), 1);
  // Across a restart too: the key is in the log.
  auto restarted = h.Make();
  ASSERT_TRUE(restarted->Start().ok());
  auto third = restarted->SubmitJob(Job("", 8, 1), "t", "key-1");
  ASSERT_TRUE(third.ok());
  EXPECT_TRUE(third->existing);
  EXPECT_EQ(third->id, first->id);
  auto fresh = restarted->SubmitJob(Job("", 8, 1), "t", "key-2");
  ASSERT_TRUE(fresh.ok());
  EXPECT_NE(fresh->id, first->id);
}

TEST(BrokerTest, BadSubmissionsAreRefusedAndNothingIsStored) {
  Harness h;
  auto broker = h.Make();
  ASSERT_TRUE(broker->Start().ok());
  const size_t lines = h.store.log.size();
  EXPECT_EQ(broker->SubmitJob(Job("x", 0, 1), "t", "").status().code(),
            StatusCode::kInvalidArgument);
  ASSERT_TRUE(broker->SubmitJob(Job("x", 8, 1), "t", "").ok());
  EXPECT_EQ(broker->SubmitJob(Job("x", 8, 1), "t", "").status().code(),
            StatusCode::kInvalidArgument);  // duplicate id
  EXPECT_EQ(h.store.log.size(), lines + 1);
  EXPECT_EQ(broker->CancelJob("nope").code(), StatusCode::kNotFound);
  EXPECT_EQ(broker->CancelJob("x", "another-tenant").code(), StatusCode::kNotFound);
}

TEST(BrokerTest, ARestartRestoresTheQueueAndReconcilesWithTheSites) {
  Harness h;
  {
    auto broker = h.Make();
    ASSERT_TRUE(broker->Start().ok());
    ASSERT_TRUE(broker->SubmitJob(Job("a", 16, 10), "t", "").ok());
    ASSERT_TRUE(broker->SubmitJob(Job("b", 16, 10), "t", "").ok());
    ASSERT_TRUE(broker->SubmitJob(Job("c", 16, 10), "t", "").ok());
    ASSERT_TRUE(broker->Tick().ok());
    ASSERT_EQ(h.az.submitted.size() + h.aw.submitted.size(), 2u);
  }  // the broker dies
  // While it was down: the site lost a's run.
  const uint32_t a_run = h.az.submitted[0].run;
  ASSERT_EQ(h.az.submitted[0].job, "a");
  h.az.jobs.clear();
  h.Advance("2026-01-05T00:05:00Z");
  auto broker = h.Make();
  ASSERT_TRUE(broker->Start().ok());
  EXPECT_EQ(broker->GetJob("c")->status, "queued");
  EXPECT_EQ(broker->GetJob("b")->status, "running");
  // a's run failed (the site had acknowledged it, then lost it) and a was
  // placed again under a new run id: a name is never sent twice. b's run was
  // not sent again.
  ASSERT_EQ(h.az.submitted.size(), 2u);
  EXPECT_EQ(h.az.submitted[1].job, "a");
  EXPECT_NE(h.az.submitted[1].run, a_run);
  EXPECT_EQ(broker->GetJob("a")->interruptions, 1);
  EXPECT_EQ(h.aw.submitted.size(), 1u);
  EXPECT_GE(broker->counters().reconciled, 1);
  EXPECT_EQ(broker->counters().lost_runs, 1);
  EXPECT_GT(broker->counters().restored_commands, 0);
}

// What the journal says decides whether a run the site does not know may be
// sent again under its name (docs/sites.md: a local run that ended while no
// broker watched leaves no trace, and sending its name again runs it twice).
TEST(BrokerTest, ARunTheSiteDoesNotKnowIsSentAgainUnderItsNameOnlyIfNeverJournalled) {
  Harness h;
  {
    auto broker = h.Make();
    ASSERT_TRUE(broker->Start().ok());
    ASSERT_TRUE(broker->SubmitJob(Job("never-sent", 8, 10), "t", "").ok());
    ASSERT_TRUE(broker->SubmitJob(Job("maybe-sent", 8, 10), "t", "").ok());
    ASSERT_TRUE(broker->Tick().ok());
  }
  ASSERT_EQ(h.az.submitted.size(), 2u);
  const uint32_t run = h.az.submitted[0].run;
  // As if the broker died after committing both starts: one run's intent was
  // journalled (and the run may have reached the site and ended), the other's
  // never was. The site has neither.
  h.store.dispatches.erase({"never-sent", run});
  h.store.dispatches.at({"maybe-sent", run}).state = "intent";
  h.store.dispatches.at({"maybe-sent", run}).external_id.clear();
  h.az.jobs.clear();
  h.az.submitted.clear();
  auto broker = h.Make();
  ASSERT_TRUE(broker->Start().ok());
  std::map<std::string, uint32_t> sent;
  for (const sites::DispatchRequest& r : h.az.submitted) sent[r.job] = r.run;
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent.at("never-sent"), run);                      // the same name: it cannot have run
  EXPECT_NE(sent.at("maybe-sent"), run);                      // a new name
  EXPECT_EQ(broker->GetJob("maybe-sent")->interruptions, 0);  // a failed dispatch loses nothing
  EXPECT_EQ(broker->counters().reconciled, 2);
}

TEST(BrokerTest, ARunTheSiteStopsListingFailsAndIsPlacedAgain) {
  Harness h;
  auto broker = h.Make();
  ASSERT_TRUE(broker->Start().ok());
  ASSERT_TRUE(broker->SubmitJob(Job("a", 8, 10), "t", "").ok());
  ASSERT_TRUE(broker->Tick().ok());
  const uint32_t first = broker->GetJob("a")->run;
  h.az.Find("a", first)->state = sites::SiteJobState::kRunning;
  h.Advance("2026-01-05T00:01:00Z");
  ASSERT_TRUE(broker->Tick().ok());
  EXPECT_EQ(broker->counters().lost_runs, 0);
  // The site forgets it (an adopted local run that ended; a controller that
  // lost its last seconds): the broker does not wait for it forever.
  h.az.jobs.clear();
  h.Advance("2026-01-05T00:02:00Z");
  ASSERT_TRUE(broker->Tick().ok());
  auto view = broker->GetJob("a");
  EXPECT_EQ(view->status, "running");
  EXPECT_NE(view->run, first);
  EXPECT_EQ(view->interruptions, 1);
  EXPECT_EQ(broker->counters().lost_runs, 1);
  ASSERT_EQ(h.az.submitted.size(), 2u);
  EXPECT_EQ(h.az.submitted[1].run, view->run);
  EXPECT_TRUE(h.az.cancelled.empty());  // nothing left there to stop
}

TEST(BrokerTest, ARunSentJustBeforeACrashIsFoundByNameNotSentTwice) {
  Harness h;
  {
    auto broker = h.Make();
    ASSERT_TRUE(broker->Start().ok());
    ASSERT_TRUE(broker->SubmitJob(Job("a", 8, 10), "t", "").ok());
    ASSERT_TRUE(broker->Tick().ok());
  }
  // The journal lost the "submitted" step (the crash came right after sbatch).
  for (auto& [k, d] : h.store.dispatches) {
    d.state = "intent";
    d.external_id.clear();
  }
  auto broker = h.Make();
  ASSERT_TRUE(broker->Start().ok());
  EXPECT_EQ(h.az.submitted.size(), 1u);
  EXPECT_EQ(broker->GetJob("a")->site_job, "100");
}

TEST(BrokerTest, RunsOfOursTheCoreHasStoppedAreCancelledAtTheSite) {
  Harness h;
  auto broker = h.Make();
  ASSERT_TRUE(broker->Start().ok());
  ASSERT_TRUE(broker->SubmitJob(Job("a", 8, 10), "t", "").ok());
  ASSERT_TRUE(broker->Tick().ok());
  ASSERT_TRUE(broker->CancelJob("a").ok());
  ASSERT_TRUE(broker->Tick().ok());
  ASSERT_EQ(h.az.cancelled.size(), 1u);
  EXPECT_EQ(h.az.cancelled[0], "100");
  // A run the site has that the core never knew of (another broker's past):
  // stopped at the next look.
  h.az.jobs["999"] = {"999", "a", 77, sites::SiteJobState::kRunning, T("2026-01-04"), Time()};
  ASSERT_TRUE(broker->Tick().ok());
  EXPECT_EQ(h.az.cancelled.back(), "999");
}

TEST(BrokerTest, ASiteThatStopsAnsweringIsMarkedDownAfterTheGraceAndItsWorkMoves) {
  Harness h;
  BrokerOptions options;
  options.site_grace = Duration::Seconds(60);
  auto broker = h.Make(options);
  ASSERT_TRUE(broker->Start().ok());
  ASSERT_TRUE(broker->SubmitJob(Job("a", 8, 10), "t", "").ok());
  ASSERT_TRUE(broker->Tick().ok());
  ASSERT_EQ(broker->GetJob("a")->site, "az");
  h.az.answering = false;
  h.Advance("2026-01-05T00:00:30Z");
  ASSERT_TRUE(broker->Tick().ok());
  EXPECT_EQ(broker->GetJob("a")->site, "az");  // within the grace period
  h.Advance("2026-01-05T00:01:30Z");
  ASSERT_TRUE(broker->Tick().ok());
  auto view = broker->GetJob("a");
  EXPECT_EQ(view->site, "aw");  // interrupted and placed at the other site
  EXPECT_EQ(view->interruptions, 1);
  EXPECT_EQ(h.aw.submitted.size(), 1u);
  EXPECT_TRUE(broker->Sites()[0].down);
  EXPECT_EQ(broker->Pools()[0].installed, 0);
  // Why, in the stream (the site's event first) and in explain.
  std::string stream;
  for (const auto& e : broker->EventsAfter(0, 1000)) stream += e.json + "\n";
  const size_t down = stream.find("\"type\":\"site-down\"");
  ASSERT_NE(down, std::string::npos) << stream;
  const size_t line = stream.rfind('\n', down) + 1;
  EXPECT_NE(stream.substr(line, stream.find('\n', down) - line).find("connection refused"),
            std::string::npos);
  EXPECT_LT(down, stream.find("job-interrupted"));
  auto why = broker->Explain("a");
  ASSERT_TRUE(why.ok());
  EXPECT_NE(why->find("Site az is down: it has not answered since 2026-01-05T00:00:30Z"),
            std::string::npos)
      << *why;
  // It answers again: capacity returns.
  h.az.answering = true;
  h.Advance("2026-01-05T00:02:00Z");
  ASSERT_TRUE(broker->Tick().ok());
  EXPECT_FALSE(broker->Sites()[0].down);
  EXPECT_EQ(broker->Pools()[0].installed, 16);
  stream.clear();
  for (const auto& e : broker->EventsAfter(0, 1000)) stream += e.json + "\n";
  EXPECT_NE(stream.find("\"type\":\"site-up\"", down), std::string::npos);
  EXPECT_EQ(broker->Explain("a")->find("is down"), std::string::npos);
}

TEST(BrokerTest, ConcurrentSubmissionsAreCommittedInGroups) {
  Harness h;
  h.store.delay_ms = 2;  // a store that takes a while to make a batch durable
  auto broker = h.Make();
  ASSERT_TRUE(broker->Start().ok());
  const int64_t before = h.store.appends;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        ok +=
            broker->SubmitJob(Job("", 1, 1), "t", "k" + std::to_string(t) + "-" + std::to_string(i))
                .ok();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 400);
  EXPECT_EQ(broker->core().job_count(), 400);
  EXPECT_LT(h.store.appends - before, 400);  // batches, not one commit per submission
  // Every acknowledged submission is in the log, once.
  int submits = 0;
  for (const std::string& line : h.store.log) {
    submits += line.find("\"submit-job\"") != std::string::npos;
  }
  EXPECT_EQ(submits, 400);
}

TEST(BrokerTest, AsyncSubmissionsAreAnsweredAfterTheCommitThatHoldsThemWithTheirAuditRows) {
  Harness h;
  h.store.delay_ms = 50;  // the first commit is slow: the rest gather into the next batch
  auto broker = h.Make();
  ASSERT_TRUE(broker->Start().ok());
  const int64_t appends_before = h.store.appends;
  std::mutex mu;
  std::condition_variable cv;
  struct Answer {
    Result<Broker::SubmittedJob> out = Internal("not answered");
    bool durable = false;  // the job's submit line was in the store when answered
  };
  std::map<std::string, Answer> answers;
  auto submit = [&](const std::string& name, const std::string& key, world::Job job) {
    store::AuditEntry audit{1000, "tok-" + name, "POST /v1/jobs", "", ""};
    broker->SubmitJobAsync(
        std::move(job), "t", key, audit, [&, name](Result<Broker::SubmittedJob> out) {
          bool durable = false;
          if (out.ok()) {
            std::lock_guard<std::mutex> store_lock(h.store.mu);
            for (const std::string& line : h.store.log) {
              durable |= line.find("\"id\":\"" + out->view.id + "\"") != std::string::npos;
            }
          }
          std::lock_guard<std::mutex> lock(mu);
          answers[name] = {std::move(out), durable};
          cv.notify_all();
        });
  };
  submit("first", "k-first", Job("", 8, 1));
  std::this_thread::sleep_for(std::chrono::milliseconds(10));  // its commit is under way
  submit("dup-1", "k-dup", Job("", 8, 1));
  submit("dup-2", "k-dup", Job("", 8, 1));  // the same key in the same batch
  submit("bad", "", Job("", 0, 1));         // refused by the core, audited
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return answers.size() == 4; }));
  }
  ASSERT_TRUE(answers["first"].out.ok());
  EXPECT_TRUE(answers["first"].durable);
  EXPECT_EQ(answers["first"].out->view.status, "queued");
  EXPECT_FALSE(answers["first"].out->existing);
  ASSERT_TRUE(answers["dup-1"].out.ok() && answers["dup-2"].out.ok());
  EXPECT_TRUE(answers["dup-1"].durable);
  EXPECT_FALSE(answers["dup-1"].out->existing);
  EXPECT_TRUE(answers["dup-2"].out->existing);
  EXPECT_EQ(answers["dup-2"].out->view.id, answers["dup-1"].out->view.id);
  EXPECT_EQ(answers["bad"].out.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(broker->core().job_count(), 2);
  EXPECT_EQ(h.store.appends - appends_before, 2);  // two group commits for four requests
  // One audit row per request, written with the batch (none on their own).
  std::map<std::string, store::AuditEntry> audit;
  for (const store::AuditEntry& e : h.store.audit) audit[e.token_id] = e;
  ASSERT_EQ(h.store.audit.size(), 4u);
  EXPECT_EQ(audit["tok-first"].target, answers["first"].out->view.id);
  EXPECT_EQ(audit["tok-first"].outcome, "ok");
  EXPECT_EQ(audit["tok-dup-2"].target, answers["dup-1"].out->view.id);
  EXPECT_EQ(audit["tok-bad"].target, "");
  EXPECT_NE(audit["tok-bad"].outcome, "ok");
  // A restart has the key: the same answer again.
  broker.reset();
  auto restarted = h.Make();
  ASSERT_TRUE(restarted->Start().ok());
  auto again = restarted->SubmitJob(Job("", 8, 1), "t", "k-dup");
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->existing);
  EXPECT_EQ(again->id, answers["dup-1"].out->view.id);
}

TEST(BrokerTest, AsyncSubmissionsToAStoppingOrFailedBrokerAreAnsweredWithAnError) {
  Harness h;
  auto broker = h.Make();
  Result<Broker::SubmittedJob> before_start = Internal("not answered");
  broker->SubmitJobAsync(Job("a", 8, 1), "t", "", std::nullopt,
                         [&](Result<Broker::SubmittedJob> out) { before_start = std::move(out); });
  EXPECT_EQ(before_start.status().code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(broker->Start().ok());
  h.store.fail = true;
  std::promise<Status> failed;
  broker->SubmitJobAsync(Job("b", 8, 1), "t", "", std::nullopt,
                         [&](Result<Broker::SubmittedJob> out) { failed.set_value(out.status()); });
  EXPECT_EQ(failed.get_future().get().code(), StatusCode::kIoError);
}

TEST(BrokerTest, AStoreFailureStopsTheBrokerTakingWork) {
  Harness h;
  auto broker = h.Make();
  ASSERT_TRUE(broker->Start().ok());
  h.store.fail = true;
  EXPECT_EQ(broker->SubmitJob(Job("a", 8, 1), "t", "").status().code(), StatusCode::kIoError);
  h.store.fail = false;
  EXPECT_EQ(broker->SubmitJob(Job("b", 8, 1), "t", "").status().code(), StatusCode::kIoError);
  // A restart replays what is durable: neither job.
  auto restarted = h.Make();
  ASSERT_TRUE(restarted->Start().ok());
  EXPECT_EQ(restarted->core().job_count(), 0);
}

TEST(BrokerTest, ExplainAndTheEventStreamAnswerFromTheLiveState) {
  Harness h;
  auto broker = h.Make();
  ASSERT_TRUE(broker->Start().ok());
  ASSERT_TRUE(broker->SubmitJob(Job("big", 64, 1), "t", "").ok());
  ASSERT_TRUE(broker->Tick().ok());
  auto text = broker->Explain("big");
  ASSERT_TRUE(text.ok()) << text.status().message();
  EXPECT_NE(text->find("big"), std::string::npos);
  EXPECT_EQ(broker->Explain("big", "other").status().code(), StatusCode::kNotFound);
  auto events = broker->EventsAfter(0, 100);
  ASSERT_FALSE(events.empty());
  EXPECT_NE(events[0].json.find("job-arrived"), std::string::npos);
}

}  // namespace
}  // namespace polycloud::serve
