// The live broker's engine (`polycloud serve`): the scheduler core on the
// wall clock, its command log in a durable Store, and the site drivers that
// run the work. The HTTP API (src/serve/api.cc) and the CLI sit on it.
//
// What it guarantees:
//   - A mutation (submit, cancel, set demand, amend a contract) returns (or,
//     submitted with SubmitJobAsync, calls back) only after the commands it
//     caused are committed to the store. Concurrent mutations are applied in
//     one order and committed together (group commit): one committer thread
//     takes every waiting request, applies them, and writes the batch's log
//     lines and the audit rows they carry in one transaction, then answers
//     them all. It commits again as soon as a commit ends (never on a timer),
//     so a batch holds what arrived during the previous commit: thousands of
//     submissions can share one fsync without a thread each.
//   - Start() restores the core by replaying the store's log, then
//     reconciles with every site (runs the core thinks are running that the
//     site never got, lost or finished; runs of ours the site still has that
//     the core has stopped) before the first pass.
//   - A run is journalled (store::Dispatch "intent") before its site is asked
//     and "submitted" with the site's id after, so a restart neither loses nor
//     doubles a dispatch: an intent is resolved by asking the site (runs carry
//     their polycloud id in their name). A run's name is never sent twice: a
//     run the site does not list is sent again under the same name only when
//     the journal shows it was never sent; otherwise (an intent, or a run the
//     site acknowledged and then lost or forgot) it fails and the job is
//     placed again under a new run id.
//   - A site that does not answer for `site_grace` is down: its pools' capacity
//     goes to 0 (their work is interrupted and placed again by the rules);
//     when it answers again, capacity returns.
//   - If the store fails after the core applied a batch, the broker stops
//     taking work (every call answers kIoError): the durable log is the
//     truth and a restart replays it.
//
//   Broker broker(world, options, store.get(), std::move(drivers), &wall_clock);
//   POLYCLOUD_RETURN_IF_ERROR(broker.Start());
//   auto id = broker.SubmitJob(job, "research", "key-1");   // durable when it returns
//   broker.Tick();                                          // the loop's step
//
// Thread-safety: every public method may be called from any thread; Tick()
// from one loop thread at a time (the one that owns the site drivers).
#ifndef POLYCLOUD_SERVE_BROKER_H_
#define POLYCLOUD_SERVE_BROKER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "polycloud/base/clock.h"
#include "polycloud/base/status.h"
#include "polycloud/contracts/ledger.h"
#include "polycloud/report/live.h"
#include "polycloud/scheduler/command.h"
#include "polycloud/scheduler/scheduler.h"
#include "polycloud/sites/driver.h"
#include "polycloud/store/store.h"
#include "polycloud/world/world.h"

namespace polycloud::serve {

struct BrokerOptions {
  scheduler::Options scheduler;
  // A site whose driver fails this long is marked down.
  Duration site_grace = Duration::Seconds(30);
  // Most requests one leader applies and commits at once.
  size_t max_batch = 8192;
  // Width of the live report's time-series buckets (GET /v1/report): the
  // latest 800 are kept, so a minute shows the last 13 h 20 min.
  Duration report_bucket = Duration::Seconds(60);
};

// A job as clients see it.
struct JobView {
  std::string id;
  std::string tenant;
  std::string status;  // "queued", "running", "done", "cancelled"
  std::string kind;    // "training", "batch"
  std::string workload_class;
  int64_t gpus = 0;
  int64_t gpu_milli = 0;   // a share of one GPU (1..999), 0 for whole GPUs
  int64_t cpu_milli = 0;   // CPUs asked for, in thousandths (0: none)
  int64_t memory_mib = 0;  // memory asked for (0: none)
  int32_t priority = 0;
  Time submitted;
  std::optional<Time> first_start;
  std::optional<Time> end;
  std::string pool, site, provider;  // where it runs or last ran ("" before)
  std::string site_job;              // the site's id of the current run
  uint32_t run = 0;
  int32_t starts = 0, preemptions = 0, interruptions = 0;
  int64_t remaining_gpu_seconds = 0;
  Money spend;  // billed to it so far
};

struct JobFilter {
  std::string tenant;  // "" = every tenant
  std::string status;  // "" = any
  std::string after;   // paging: ids after this one in submission order ("" = from the start)
  size_t limit = 100;
};

struct PoolView {
  std::string id, site, provider, accelerator;
  int64_t installed = 0, usable = 0, used = 0;
  bool site_down = false;
};

struct SiteHealth {
  std::string id;
  std::string backend;
  bool down = false;
  std::string last_error;
  int64_t consecutive_failures = 0;
  Time last_answer = Time::Min();  // the last time its driver listed its runs (Min: never)
  Time down_since = Time::Min();   // when it stopped answering, if down
};

struct Counters {
  int64_t commands = 0;    // accepted since this process started (replay excluded)
  int64_t batches = 0;     // group commits
  int64_t dispatched = 0;  // runs handed to sites
  int64_t dispatch_failures = 0;
  int64_t site_cancels = 0;  // runs stopped at sites (preempted, cancelled, stale)
  int64_t restored_commands = 0;
  int64_t reconciled = 0;  // differences found with sites and settled at Start
  int64_t lost_runs = 0;   // runs a site no longer listed (failed and placed again)
  int64_t refused = 0;     // the broker's own commands the core refused (stale wake-ups)
  // Scheduling passes since this process started, the placement decisions
  // (attempts) they made and the wall time they took: the broker's
  // decisions/s under load, beside the offline figure (docs/performance.md).
  int64_t passes = 0;
  int64_t placement_attempts = 0;
  int64_t pass_nanos = 0;      // wall time
  int64_t pass_cpu_nanos = 0;  // the loop thread's CPU time (the host's other load excluded)
};

// One driver per site of `world`, made from each site's scenario `backend`
// (sites/factory.h). Errors name the site and the bad option.
Result<std::vector<std::unique_ptr<sites::SiteDriver>>> MakeSiteDrivers(const world::World& world,
                                                                        const Clock& clock);

class Broker final : private scheduler::Observer,
                     private scheduler::Timer,
                     private scheduler::CommandLog {
 public:
  // `world`: the fleet, contracts and rules (its jobs and faults are not
  // used: work comes from clients, outages from the sites). `drivers[s]` runs
  // site s's jobs; null: the site's runs are not handed anywhere (they end
  // when a client or a test reports it). The store, drivers and clock must
  // outlive the broker.
  Broker(world::World world, BrokerOptions options, store::Store* store,
         std::vector<std::unique_ptr<sites::SiteDriver>> drivers, const Clock* clock);
  ~Broker() override;
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  // Restores from the store, reconciles with the sites, places once. Errors:
  // the store's; kInvalidInput when its log does not read against this
  // scenario (which names the line).
  Status Start();

  // The loop's step: site reports, schedule steps due (ramps, power,
  // demand, contract boundaries), wake-ups due, a pass, then dispatches and
  // site cancels. Returns the store's error if a commit failed.
  Status Tick();

  struct Submitted {
    std::string id;
    bool existing = false;  // the idempotency key was used before: this is that job
  };
  // What an asynchronous submission answers: the job as it stood when its
  // batch was applied (normally queued), and whether it is an earlier one.
  struct SubmittedJob {
    JobView view;
    bool existing = false;
  };
  using SubmitDone = std::function<void(Result<SubmittedJob>)>;
  // A new job (its id: the one given, or a fresh "j-<n>" when empty).
  // Errors: kInvalidArgument (the core's checks), kIoError (the store failed: stopped).
  Result<Submitted> SubmitJob(world::Job job, std::string tenant, std::string idempotency_key);
  // The same, without blocking the caller: returns at once, and `done` is
  // called once, on the committer thread with no lock held, after the commit
  // that holds the submission (or with the error: kInvalidArgument refused by
  // the core, kIoError the store failed, kUnavailable the broker is stopping).
  // With `audit`, its row (target: the job id, outcome: "ok" or the error;
  // at_unix, token_id and action as given) is written in the same
  // transaction as the submission. The same idempotency key twice in one
  // batch gives the first job to both, as if they came one after the other.
  void SubmitJobAsync(world::Job job, std::string tenant, std::string idempotency_key,
                      std::optional<store::AuditEntry> audit, SubmitDone done);
  // Errors: kNotFound, kFailedPrecondition (already finished).
  Status CancelJob(std::string_view id, std::string_view tenant = {});
  Status SetDemand(std::string_view service, int64_t tokens_per_s);
  Status AmendContract(const world::Contract& terms);

  // Reads (a consistent view; it may include what the current batch is
  // committing).
  Result<JobView> GetJob(std::string_view id) const;
  std::vector<JobView> ListJobs(const JobFilter& filter) const;
  std::vector<PoolView> Pools() const;
  std::vector<SiteHealth> Sites() const;
  // The explanation of a job or service now (report::ExplainNow's text),
  // then a line for each site that is down (since when, and its error).
  Result<std::string> Explain(std::string_view id, std::string_view tenant = {});
  Counters counters() const;
  // The live ledger: per contract, spend to now, the rate now, commitment
  // and take-or-pay shortfalls due or projected (CommitmentLedger::Settle).
  // `gateway`, per contract of the world when given: the gateway's
  // token-priced spend, which the obligations and shortfalls count too.
  nlohmann::json ContractsJson(
      const std::vector<contracts::ExternalSpend>* gateway = nullptr) const;
  // Per tenant of the scenario: GPUs in use against its quota, and how many
  // of its jobs wait on the quota now.
  nlohmann::json TenantsJson() const;
  // Spend rate now per contract id, micro-dollars per day.
  std::vector<std::pair<std::string, int64_t>> SpendRates() const;
  size_t queued() const;
  // The report JSON (schema polycloud.report/1, docs/report.md) of the run so
  // far: from the core's start to now, time series over the latest 800
  // buckets of BrokerOptions::report_bucket. It explains waiting jobs with
  // the placer, so it waits for the baton like Explain.
  Result<std::string> ReportJson();
  // The latest events (for the event stream), after sequence `after`: the
  // scheduler's, and the broker's own "site-down" (with "reason" and
  // "failing_since") and "site-up", each ahead of the work it moves.
  struct StreamEvent {
    int64_t sequence = 0;
    std::string json;
  };
  std::vector<StreamEvent> EventsAfter(int64_t after, size_t limit) const;
  // Blocks until an event after `after` exists or `timeout` passes.
  void WaitForEvents(int64_t after, std::chrono::milliseconds timeout) const;

  const world::World& world() const { return world_; }
  // The core, for tests that read its state directly.
  const scheduler::Scheduler& core() const { return *core_; }

 private:
  struct Request;
  struct Dispatch {  // a run handed to (or being handed to) a site
    world::SiteIndex site = world::kNone;
    std::string external_id;
    bool started_reported = false;
    // Restore found the journal's entry for this run ("intent" or
    // "submitted"): the run may have reached its site.
    bool journalled = false;
  };

  // scheduler::Observer, Timer, CommandLog (called by the core under mu_).
  void OnEvent(const scheduler::Event& event) override;
  void AtTime(Time at, scheduler::WakeKind kind, int32_t index) override;
  void Append(Time now, const scheduler::Command& command) override;

  Time Now() const;  // the clock, never before the last command
  // Queues `r` for the committer and waits until its batch is committed.
  void Run(Request* r);
  // Queues `r` (owned by the queue until answered) for the committer.
  void Enqueue(Request* r);
  // The committer thread: commits whatever waits, as soon as the baton is free.
  void CommitLoop();
  // The committer's work: applies the waiting requests, commits their lines
  // and audit rows; returns the batch (sync requests already woken must not
  // be touched: only the async ones are returned).
  std::vector<Request*> CommitPending(std::unique_lock<std::mutex>& lock);
  // Waits for the baton (ahead of the committer) and takes it.
  void AcquireBaton(std::unique_lock<std::mutex>& lock);
  // Gives the baton back and wakes who waits for it (the committer too).
  void ReleaseBaton();
  // Applies `command` at `now` under the baton (its lines go to lines_).
  Status ApplyLocked(const scheduler::Command& command, Time now);
  void Send(const scheduler::Command& command, Time now);
  Status CommitLines(std::unique_lock<std::mutex>& lock, std::vector<store::AuditEntry> audit = {});
  Status Restore();
  Status Reconcile();
  void FollowSchedules(Time from, Time to);
  void ApplySiteReports(world::SiteIndex s, const std::vector<sites::SiteJob>& jobs, Time now);
  // Runs the site had (their id is known) that its List no longer shows
  // fail: the site lost them, or they ended where no outcome is kept.
  void FailLostRuns(world::SiteIndex s, const std::vector<sites::SiteJob>& jobs, Time now);
  void MarkSite(world::SiteIndex s, bool down, Time now);
  // A scheduling pass at `now`, timed for Counters.
  void PlacePass(Time now);
  void DoSiteWork();  // dispatches and cancels queued by the last pass (no lock held)
  JobView ViewOf(world::JobIndex j) const;
  std::string EventJson(const scheduler::Event& e) const;

  world::World world_;
  const BrokerOptions options_;
  store::Store* const store_;
  std::vector<std::unique_ptr<sites::SiteDriver>> drivers_;
  const Clock* const clock_;
  std::unique_ptr<scheduler::Scheduler> core_;
  std::unique_ptr<report::LiveReport> live_;  // observes every event of core_, replayed ones too

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::condition_variable commit_cv_;  // the committer waits here (work, a free baton, stop)
  std::deque<Request*> pending_;
  bool stopping_ = false;
  int baton_waiters_ = 0;  // Tick, Explain, ReportJson waiting for the baton
  bool baton_ = false;     // someone is applying or committing
  Status failed_;          // set when a commit failed: the broker takes no more work
  bool replaying_ = false;
  std::vector<std::string> lines_;  // log lines of the batch being applied
  Time last_;                       // the last command's instant
  Time schedules_to_;               // schedule steps are followed up to here
  std::multimap<Time, std::pair<scheduler::WakeKind, int32_t>> wakes_;
  std::unordered_map<std::string, world::JobIndex> keys_;  // idempotency key -> job
  std::vector<std::string> tenant_;                        // per job index
  std::vector<Dispatch> dispatch_;                         // per job index (current run)
  struct SiteWork {
    std::vector<std::pair<world::JobIndex, uint32_t>> submits;
    std::vector<std::string> cancels;  // (site external ids)
    std::vector<world::SiteIndex> cancel_sites;
  } work_;
  std::vector<SiteHealth> health_;
  std::vector<Time> failing_since_;
  std::vector<Time> down_since_;  // when a down site stopped answering
  std::vector<uint8_t> site_down_;
  std::vector<std::pair<world::JobIndex, uint32_t>> dispatch_failed_;  // reported next tick
  int64_t next_job_number_ = 1;
  int64_t placed_at_ = -1;  // counters_.commands right after the last pass
  Counters counters_;
  std::deque<StreamEvent> events_;  // the latest scheduler events, for the stream
  int64_t event_sequence_ = 0;
  std::thread committer_;  // last: started when everything above exists
};

}  // namespace polycloud::serve

#endif  // POLYCLOUD_SERVE_BROKER_H_
