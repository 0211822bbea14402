#include "polycloud/serve/broker.h"

#include <time.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "polycloud/base/parse.h"
#include "polycloud/contracts/exclusivity.h"
#include "polycloud/report/explain.h"
#include "polycloud/scheduler/command_log.h"
#include "polycloud/sites/factory.h"

namespace polycloud::serve {

using scheduler::EventType;
using scheduler::JobId;
using scheduler::JobStatus;
using scheduler::RunId;
namespace cmd = scheduler::cmd;

// How many recent events the stream keeps for clients that reconnect.
constexpr size_t kEventsKept = 16384;

struct Broker::Request {
  scheduler::Command command;
  std::string key;  // idempotency key (submit-job)
  Status status;
  world::JobIndex existing = world::kNone;
  bool done = false;
  // Asynchronous submissions: the audit row written in the batch's
  // transaction, the answer, and the callback (the request is then owned by
  // the queue and deleted once answered).
  std::optional<store::AuditEntry> audit;
  JobView view;
  SubmitDone on_done;
};

namespace {

world::World ForServe(world::World world) {
  // Work comes from clients and outages from the sites, not from the file.
  world.jobs.clear();
  world.faults.clear();
  return world;
}

const char* StatusName(JobStatus s) {
  switch (s) {
    case JobStatus::kNotArrived:
    case JobStatus::kQueued:
      return "queued";
    case JobStatus::kRunning:
      return "running";
    case JobStatus::kDone:
      return "done";
    case JobStatus::kCancelled:
      return "cancelled";
  }
  return "?";
}

}  // namespace

Result<std::vector<std::unique_ptr<sites::SiteDriver>>> MakeSiteDrivers(const world::World& world,
                                                                        const Clock& clock) {
  std::vector<std::unique_ptr<sites::SiteDriver>> out;
  for (const world::Site& site : world.sites) {
    sites::SiteDriverConfig config;
    config.site = site.id;
    config.backend = world::SiteBackendName(site.backend);
    for (const auto& [k, v] : site.backend_options) config.options[k] = v;
    Result<std::unique_ptr<sites::SiteDriver>> driver = sites::MakeSiteDriver(config, clock);
    if (!driver.ok()) return driver.status();
    out.push_back(std::move(*driver));
  }
  return out;
}

Broker::Broker(world::World world, BrokerOptions options, store::Store* store,
               std::vector<std::unique_ptr<sites::SiteDriver>> drivers, const Clock* clock)
    : world_(ForServe(std::move(world))),
      options_(std::move(options)),
      store_(store),
      drivers_(std::move(drivers)),
      clock_(clock) {
  drivers_.resize(world_.sites.size());
  health_.resize(world_.sites.size());
  for (size_t s = 0; s < world_.sites.size(); ++s) {
    health_[s].id = world_.sites[s].id;
    health_[s].backend = world::SiteBackendName(world_.sites[s].backend);
  }
  failing_since_.assign(world_.sites.size(), Time::Max());
  down_since_.assign(world_.sites.size(), Time::Max());
  site_down_.assign(world_.sites.size(), 0);
  committer_ = std::thread([this] { CommitLoop(); });
}

Broker::~Broker() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  commit_cv_.notify_all();
  if (committer_.joinable()) committer_.join();
}

void Broker::AcquireBaton(std::unique_lock<std::mutex>& lock) {
  // Ahead of the committer's next batch: under a steady stream of
  // submissions the committer would otherwise take the baton back at once.
  ++baton_waiters_;
  cv_.wait(lock, [&] { return !baton_; });
  --baton_waiters_;
  baton_ = true;
}

void Broker::ReleaseBaton() {
  baton_ = false;
  cv_.notify_all();
  commit_cv_.notify_one();
}

Time Broker::Now() const { return std::max(clock_->Now(), last_); }

// ---- applying and committing ------------------------------------------------

Status Broker::ApplyLocked(const scheduler::Command& command, Time now) {
  const Status status = core_->Apply(command, now);
  if (!status.ok()) return status;
  last_ = now;
  if (const auto* submit = std::get_if<cmd::SubmitJob>(&command)) {
    const world::JobIndex j = core_->FindJob(submit->job.id);
    if (tenant_.size() <= static_cast<size_t>(j)) tenant_.resize(j + 1);
    tenant_[j] = submit->tenant;
    if (!submit->client_key.empty()) keys_.emplace(submit->client_key, j);
  }
  return status;
}

void Broker::Send(const scheduler::Command& command, Time now) {
  // The broker's own commands (schedule steps, site reports, wake-ups); one
  // the state no longer allows (a stale wake-up) is refused and changes nothing.
  if (!ApplyLocked(command, now).ok()) ++counters_.refused;
}

void Broker::Append(Time now, const scheduler::Command& command) {
  if (replaying_) {
    ++counters_.restored_commands;
    return;
  }
  ++counters_.commands;
  lines_.push_back(scheduler::CommandToJson(*core_, now, command));
}

Status Broker::CommitLines(std::unique_lock<std::mutex>& lock,
                           std::vector<store::AuditEntry> audit) {
  if (lines_.empty() && audit.empty()) return Status::Ok();
  std::vector<std::string> lines = std::move(lines_);
  lines_.clear();
  lock.unlock();  // others may queue requests while the batch is made durable
  Status out = audit.empty() ? store_->AppendCommands(lines).status()
                             : store_->AppendCommandsAndAudit(lines, audit).status();
  lock.lock();
  ++counters_.batches;
  if (!out.ok()) {
    failed_ = IoError("the store failed after the core applied a batch (" + out.message() +
                      "); this broker takes no more work: restart it to replay the log");
    return failed_;
  }
  return Status::Ok();
}

std::vector<Broker::Request*> Broker::CommitPending(std::unique_lock<std::mutex>& lock) {
  std::vector<Request*> batch;
  while (!pending_.empty() && batch.size() < options_.max_batch) {
    batch.push_back(pending_.front());
    pending_.pop_front();
  }
  const Time now = Now();
  std::vector<store::AuditEntry> audit;
  for (Request* r : batch) {
    if (!failed_.ok()) {
      r->status = failed_;
    } else if (!r->key.empty() && keys_.contains(r->key)) {
      // Also a key first seen earlier in this batch (ApplyLocked recorded it).
      r->existing = keys_.at(r->key);
    } else {
      r->status = ApplyLocked(r->command, now);
    }
    if (!r->on_done) continue;
    const auto* submit = std::get_if<cmd::SubmitJob>(&r->command);
    const world::JobIndex j = r->existing != world::kNone           ? r->existing
                              : r->status.ok() && submit != nullptr ? core_->FindJob(submit->job.id)
                                                                    : world::kNone;
    if (j != world::kNone) r->view = ViewOf(j);
    if (r->audit) {
      r->audit->target = r->view.id;
      r->audit->outcome = r->status.ok() ? "ok" : r->status.message().substr(0, 200);
      audit.push_back(std::move(*r->audit));
    }
  }
  const Status committed = failed_.ok() ? CommitLines(lock, std::move(audit)) : failed_;
  std::vector<Request*> async;
  for (Request* r : batch) {
    if (!committed.ok() && r->status.ok()) r->status = committed;
    if (r->on_done) {
      async.push_back(r);
    } else {
      r->done = true;  // its caller may return (and free it) from here on
    }
  }
  return async;
}

void Broker::CommitLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    commit_cv_.wait(
        lock, [&] { return stopping_ || (!pending_.empty() && !baton_ && baton_waiters_ == 0); });
    if (stopping_) break;
    baton_ = true;
    std::vector<Request*> answered = CommitPending(lock);
    ReleaseBaton();
    if (answered.empty()) continue;
    lock.unlock();
    for (Request* r : answered) {
      // A callback that throws must not take the committer down with it
      // (its caller's Reply, dropped unanswered, answers 500).
      try {
        if (r->status.ok()) {
          r->on_done(SubmittedJob{std::move(r->view), r->existing != world::kNone});
        } else {
          r->on_done(r->status);
        }
      } catch (...) {
      }
      delete r;
    }
    lock.lock();
  }
  // Stopping: what still waits is answered, not committed.
  for (Request* r : pending_) {
    r->status = IoError("the broker is stopping");
    if (r->on_done) {
      lock.unlock();
      r->on_done(r->status);
      delete r;
      lock.lock();
    } else {
      r->done = true;
    }
  }
  pending_.clear();
  cv_.notify_all();
}

void Broker::Enqueue(Request* r) {
  pending_.push_back(r);
  if (!baton_ && baton_waiters_ == 0) commit_cv_.notify_one();
}

void Broker::Run(Request* r) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!failed_.ok()) {
    r->status = failed_;
    return;
  }
  if (core_ == nullptr) {
    r->status = FailedPrecondition("the broker has not started");
    return;
  }
  if (stopping_) {
    r->status = IoError("the broker is stopping");
    return;
  }
  Enqueue(r);
  cv_.wait(lock, [&] { return r->done; });
}

// ---- the core's callbacks ----------------------------------------------------

void Broker::AtTime(Time at, scheduler::WakeKind kind, int32_t index) {
  wakes_.emplace(at, std::make_pair(kind, index));
}

std::string Broker::EventJson(const scheduler::Event& e) const {
  nlohmann::json j{{"at", FormatTimeFull(e.at)}, {"type", scheduler::EventTypeName(e.type)}};
  switch (e.type) {
    case EventType::kJobArrived:
    case EventType::kJobStarted:
    case EventType::kJobFinished:
    case EventType::kJobPreempted:
    case EventType::kJobInterrupted:
    case EventType::kJobCancelled:
    case EventType::kDispatchFailed:
      j["job"] = core_->job_spec(e.subject).id;
      break;
    case EventType::kReplicaStarted:
    case EventType::kReplicaStopped:
    case EventType::kReplicaLost:
    case EventType::kServiceShort:
    case EventType::kServiceRecovered:
    case EventType::kServiceSubmitted:
    case EventType::kServiceCancelled:
      j["service"] = core_->service_spec(e.subject).id;
      break;
    case EventType::kReplicaMoved:
      j["service"] = core_->service_spec(e.subject).id;
      j["pool"] = world_.pools[e.pool].id;
      j["from"] = world_.pools[e.aux].id;
      j["saving_usd"] = FormatMoney(Money::FromMicros(e.value));
      break;
    case EventType::kPoolCapacity:
      j["pool"] = world_.pools[e.subject].id;
      j["usable"] = e.value;
      break;
    case EventType::kContractAmended:
      j["contract"] = world_.contracts[e.subject].id;
      break;
    default:
      break;
  }
  if (e.pool != world::kNone && e.type != EventType::kPoolCapacity) {
    j["pool"] = world_.pools[e.pool].id;
  }
  if (e.gpus != 0) j["gpus"] = e.gpus;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void Broker::OnEvent(const scheduler::Event& e) {
  if (live_ != nullptr) live_->OnEvent(e);
  if (!replaying_) {
    events_.push_back({++event_sequence_, EventJson(e)});
    if (events_.size() > kEventsKept) events_.pop_front();
    cv_.notify_all();
  }
  const auto j = static_cast<size_t>(e.subject);
  switch (e.type) {
    case EventType::kJobStarted: {
      if (dispatch_.size() <= j) dispatch_.resize(j + 1);
      const world::SiteIndex site = world_.pools[e.pool].site;
      dispatch_[j] = {site, "", false};
      if (!replaying_ && drivers_[site] != nullptr) {
        work_.submits.emplace_back(e.subject, static_cast<uint32_t>(e.aux));
      }
      break;
    }
    case EventType::kJobFinished:
    case EventType::kJobPreempted:
    case EventType::kJobInterrupted:
    case EventType::kJobCancelled:
      if (j < dispatch_.size()) {
        Dispatch& d = dispatch_[j];
        // A run stopped by the core (not one the site reported finished) is
        // stopped at its site too.
        if (!replaying_ && e.type != EventType::kJobFinished && !d.external_id.empty() &&
            d.site != world::kNone && drivers_[d.site] != nullptr) {
          work_.cancels.push_back(d.external_id);
          work_.cancel_sites.push_back(d.site);
        }
        d = Dispatch{};
      }
      break;
    default:
      break;
  }
}

// ---- start: restore and reconcile ---------------------------------------------

Status Broker::Restore() {
  Result<std::vector<store::StoredCommand>> stored = store_->ReadCommands(0);
  if (!stored.ok()) return stored.status();
  std::string text;
  for (const store::StoredCommand& c : *stored) {
    text += c.json;
    text += '\n';
  }
  Result<std::vector<scheduler::LoggedCommand>> commands =
      scheduler::ParseCommandLog(text, world_, "store");
  if (!commands.ok()) return commands.status();
  const Time start = commands->empty() ? clock_->Now() : commands->front().at;
  scheduler::Timer* timer = this;
  scheduler::Observer* observer = this;
  core_ =
      std::make_unique<scheduler::Scheduler>(world_, options_.scheduler, start, timer, observer);
  live_ = std::make_unique<report::LiveReport>(world_, *core_,
                                               report::LiveWindow{start, options_.report_bucket});
  core_->AllowAmendments(&world_);
  core_->AttachLog(this);
  last_ = start;
  replaying_ = true;
  for (size_t i = 0; i < commands->size(); ++i) {
    const scheduler::LoggedCommand& c = (*commands)[i];
    if (const auto* wake = std::get_if<cmd::Wake>(&c.command)) {
      // This wake-up was delivered: it is not due again.
      for (auto it = wakes_.begin(); it != wakes_.end(); ++it) {
        if (it->second == std::make_pair(wake->kind, wake->index)) {
          wakes_.erase(it);
          break;
        }
      }
    }
    const Status s = ApplyLocked(c.command, c.at);
    if (!s.ok()) {
      replaying_ = false;
      return Status(s.code(), "restore: stored command " + std::to_string(i + 1) + " (" +
                                  scheduler::CommandName(c.command) + "): " + s.message());
    }
    if (const auto* started = std::get_if<cmd::JobStarted>(&c.command)) {
      if (static_cast<size_t>(started->job.value) < dispatch_.size()) {
        dispatch_[started->job.value].started_reported = true;
      }
    }
  }
  replaying_ = false;
  schedules_to_ = last_;
  // Submitted job ids continue after the last one used.
  next_job_number_ = core_->job_count() + 1;
  // What the journal says about current runs.
  Result<std::vector<store::Dispatch>> journal = store_->ReadDispatches();
  if (!journal.ok()) return journal.status();
  for (const store::Dispatch& d : *journal) {
    const world::JobIndex j = core_->FindJob(d.job);
    if (j == world::kNone || static_cast<size_t>(j) >= dispatch_.size()) continue;
    const scheduler::JobState& s = core_->jobs()[j];
    if (s.status != JobStatus::kRunning || s.epoch != d.run) continue;
    dispatch_[j].journalled = true;
    if (d.state == "submitted") dispatch_[j].external_id = d.external_id;
  }
  return Status::Ok();
}

Status Broker::Reconcile() {
  const Time now = Now();
  for (size_t s = 0; s < drivers_.size(); ++s) {
    if (drivers_[s] == nullptr) continue;
    const auto site = static_cast<world::SiteIndex>(s);
    Result<std::vector<sites::SiteJob>> listed = drivers_[s]->List();
    if (!listed.ok()) {
      // Unknown until it answers: its runs stay as they are; the grace period starts.
      failing_since_[s] = now;
      health_[s].last_error = listed.status().message();
      ++health_[s].consecutive_failures;
      continue;
    }
    health_[s].last_answer = now;
    // Runs the core has at this site that the site does not know. Only one
    // that was never journalled is sure never to have been sent (the crash
    // came between the commit of its start and the journal's intent): it is
    // sent now, under the same run id. One journalled as an intent may have
    // reached the site and ended there while no broker watched (a local run
    // leaves no trace once it ends): sending that name again could run it
    // twice, so the dispatch counts as failed and the job is placed again
    // under a new run id. One the site acknowledged (its id is known) and no
    // longer lists was lost: FailLostRuns fails it, as at any look.
    for (size_t j = 0; j < dispatch_.size(); ++j) {
      Dispatch& d = dispatch_[j];
      const scheduler::JobState& st = core_->jobs()[j];
      if (d.site != site || st.status != JobStatus::kRunning || !d.external_id.empty()) continue;
      const bool known = std::any_of(listed->begin(), listed->end(), [&](const sites::SiteJob& x) {
        return x.job == core_->job_spec(static_cast<world::JobIndex>(j)).id && x.run == st.epoch;
      });
      if (known) continue;
      ++counters_.reconciled;
      if (d.journalled) {
        Send(cmd::DispatchFailed{JobId{static_cast<world::JobIndex>(j)}, RunId{st.epoch}}, now);
      } else {
        work_.submits.emplace_back(static_cast<world::JobIndex>(j), st.epoch);
      }
    }
    const int64_t before =
        counters_.site_cancels + static_cast<int64_t>(work_.cancels.size()) + counters_.lost_runs;
    ApplySiteReports(site, *listed, now);
    counters_.reconciled += counters_.site_cancels + static_cast<int64_t>(work_.cancels.size()) +
                            counters_.lost_runs - before;
  }
  return Status::Ok();
}

Status Broker::Start() {
  std::unique_lock<std::mutex> lock(mu_);
  if (core_ != nullptr) return FailedPrecondition("the broker has already started");
  baton_ = true;
  Status s = Restore();
  if (s.ok()) s = Reconcile();
  if (s.ok()) {
    const Time now = Now();
    // A site that was marked down before the restart and answers now gets its
    // capacity back (Reconcile found it answering).
    for (size_t p = 0; p < world_.pools.size(); ++p) {
      const world::Pool& pool = world_.pools[p];
      if (pool.offer != world::kNone || drivers_[pool.site] == nullptr ||
          failing_since_[pool.site] != Time::Max()) {
        continue;
      }
      const int64_t want = pool.gpus.At(now);
      if (core_->fleet().pool(static_cast<world::PoolIndex>(p)).installed != want) {
        Send(cmd::SetPoolCapacity{static_cast<world::PoolIndex>(p), want}, now);
      }
    }
    FollowSchedules(schedules_to_, now);
    PlacePass(now);
    placed_at_ = counters_.commands;
    s = CommitLines(lock);
  }
  ReleaseBaton();
  lock.unlock();
  if (s.ok()) DoSiteWork();
  return s;
}

// ---- the loop ----------------------------------------------------------------

void Broker::ApplySiteReports(world::SiteIndex s, const std::vector<sites::SiteJob>& jobs,
                              Time now) {
  for (const sites::SiteJob& x : jobs) {
    const world::JobIndex j = core_->FindJob(x.job);
    const bool final = x.state == sites::SiteJobState::kCompleted ||
                       x.state == sites::SiteJobState::kFailed ||
                       x.state == sites::SiteJobState::kCancelled;
    const bool current = j != world::kNone && core_->jobs()[j].status == JobStatus::kRunning &&
                         core_->jobs()[j].epoch == x.run &&
                         static_cast<size_t>(j) < dispatch_.size() && dispatch_[j].site == s;
    if (!current) {
      // Ours, but not a run the core has going: stop it there.
      if (!final) {
        work_.cancels.push_back(x.external_id);
        work_.cancel_sites.push_back(s);
      }
      continue;
    }
    Dispatch& d = dispatch_[j];
    if (d.external_id.empty()) d.external_id = x.external_id;
    const JobId job{j};
    const RunId run{x.run};
    auto at = [&](Time t) { return t == Time() || t > now ? now : t; };
    auto apply = [&](const scheduler::Command& c) {
      // A site's clock may put a time before the run's dispatch: then it
      // counts from now.
      Status st = ApplyLocked(c, now);
      if (st.code() == StatusCode::kFailedPrecondition) {
        if (const auto* done = std::get_if<cmd::JobCompleted>(&c)) {
          st = ApplyLocked(cmd::JobCompleted{done->job, done->run, now}, now);
        } else if (const auto* failed = std::get_if<cmd::JobFailed>(&c)) {
          st = ApplyLocked(cmd::JobFailed{failed->job, failed->run, now}, now);
        } else if (const auto* started = std::get_if<cmd::JobStarted>(&c)) {
          st = ApplyLocked(cmd::JobStarted{started->job, started->run, now}, now);
        }
      }
      return st;
    };
    if (x.state != sites::SiteJobState::kPending && !d.started_reported && x.started != Time()) {
      if (apply(cmd::JobStarted{job, run, at(x.started)}).ok()) d.started_reported = true;
    }
    if (x.state == sites::SiteJobState::kCompleted) {
      (void)apply(cmd::JobCompleted{job, run, at(x.ended)});
    } else if (x.state == sites::SiteJobState::kFailed ||
               x.state == sites::SiteJobState::kCancelled) {
      (void)apply(cmd::JobFailed{job, run, at(x.ended)});
    }
  }
  FailLostRuns(s, jobs, now);
}

void Broker::FailLostRuns(world::SiteIndex s, const std::vector<sites::SiteJob>& jobs, Time now) {
  // Only runs whose submit returned before this List: the loop thread sets
  // the id after Submit and calls List after that, so the site has had it.
  std::set<std::pair<std::string_view, uint32_t>> listed;
  for (const sites::SiteJob& x : jobs) listed.emplace(x.job, x.run);
  for (size_t j = 0; j < dispatch_.size(); ++j) {
    Dispatch& d = dispatch_[j];
    const scheduler::JobState& st = core_->jobs()[j];
    if (d.site != s || d.external_id.empty() || st.status != JobStatus::kRunning) continue;
    const auto job = static_cast<world::JobIndex>(j);
    if (listed.contains({core_->job_spec(job).id, st.epoch})) continue;
    // Its outcome is unknown: the work since the last checkpoint is lost and
    // the job is placed again under a new run id (never the same name twice).
    // Nothing is left at the site to stop.
    d.external_id.clear();
    ++counters_.lost_runs;
    Send(cmd::JobFailed{JobId{job}, RunId{st.epoch}, now}, now);
  }
}

namespace {
int64_t ThreadCpuNanos() {
  timespec t{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec;
}
}  // namespace

void Broker::PlacePass(Time now) {
  const int64_t attempts = core_->placement_attempts();
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t cpu0 = ThreadCpuNanos();
  Send(cmd::Place{}, now);
  counters_.pass_cpu_nanos += ThreadCpuNanos() - cpu0;
  counters_.pass_nanos +=
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  counters_.placement_attempts += core_->placement_attempts() - attempts;
  ++counters_.passes;
}

void Broker::MarkSite(world::SiteIndex s, bool down, Time now) {
  site_down_[s] = down ? 1 : 0;
  health_[s].down = down;
  // The stream says why before the work it moves: the site's own event
  // comes ahead of the interruptions and capacity changes that follow.
  nlohmann::json e{{"at", FormatTimeFull(now)},
                   {"type", down ? "site-down" : "site-up"},
                   {"site", world_.sites[s].id}};
  if (down) {
    e["failing_since"] = FormatTimeFull(failing_since_[s]);
    e["reason"] = health_[s].last_error;
  }
  events_.push_back(
      {++event_sequence_, e.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)});
  if (events_.size() > kEventsKept) events_.pop_front();
  cv_.notify_all();
  if (down) {
    down_since_[s] = failing_since_[s];
  } else {
    down_since_[s] = Time::Max();
  }
  health_[s].down_since = down ? down_since_[s] : Time::Min();
  for (size_t p = 0; p < world_.pools.size(); ++p) {
    const world::Pool& pool = world_.pools[p];
    if (pool.site != s || pool.offer != world::kNone) continue;
    Send(cmd::SetPoolCapacity{static_cast<world::PoolIndex>(p), down ? 0 : pool.gpus.At(now)}, now);
  }
}

void Broker::FollowSchedules(Time from, Time to) {
  if (to <= from) return;
  auto steps = [&](const auto& schedule) {
    for (const auto& pt : schedule.points()) {
      if (pt.at > from && pt.at <= to) return true;
    }
    return false;
  };
  for (size_t p = 0; p < world_.pools.size(); ++p) {
    const world::Pool& pool = world_.pools[p];
    if (pool.offer != world::kNone || site_down_[pool.site] || !steps(pool.gpus)) continue;
    Send(cmd::SetPoolCapacity{static_cast<world::PoolIndex>(p), pool.gpus.At(to)}, to);
  }
  for (size_t s = 0; s < world_.sites.size(); ++s) {
    const world::Site& site = world_.sites[s];
    if (!site.power_limited || !steps(site.power)) continue;
    Send(cmd::SetSitePower{static_cast<world::SiteIndex>(s), site.power.At(to)}, to);
  }
  for (size_t s = 0; s < world_.services.size(); ++s) {
    const world::Service& service = world_.services[s];
    if (!steps(service.demand_tokens_per_s)) continue;
    Send(cmd::SetDemand{scheduler::ServiceId{static_cast<int32_t>(s)},
                        service.demand_tokens_per_s.At(to)},
         to);
  }
  std::vector<Time> boundaries = contracts::ExclusivityRules(world_).Boundaries();
  for (const world::Contract& c : world_.contracts) {
    boundaries.push_back(c.start);
    boundaries.push_back(c.end);
  }
  if (std::any_of(boundaries.begin(), boundaries.end(),
                  [&](Time t) { return t > from && t <= to; })) {
    Send(cmd::ContractsChanged{}, to);
  }
  schedules_to_ = to;
}

Status Broker::Tick() {
  // Ask the sites first, without the lock: drivers may take a while.
  std::vector<std::optional<Result<std::vector<sites::SiteJob>>>> listed(drivers_.size());
  for (size_t s = 0; s < drivers_.size(); ++s) {
    if (drivers_[s] != nullptr) listed[s] = drivers_[s]->List();
  }
  std::unique_lock<std::mutex> lock(mu_);
  if (!failed_.ok()) return failed_;
  if (core_ == nullptr) return FailedPrecondition("the broker has not started");
  AcquireBaton(lock);
  const Time now = Now();
  for (size_t s = 0; s < listed.size(); ++s) {
    if (!listed[s]) continue;
    const auto site = static_cast<world::SiteIndex>(s);
    if (!listed[s]->ok()) {
      if (failing_since_[s] == Time::Max()) failing_since_[s] = now;
      health_[s].last_error = listed[s]->status().message();
      ++health_[s].consecutive_failures;
      if (!site_down_[s] && now - failing_since_[s] >= options_.site_grace) {
        MarkSite(site, true, now);
      }
      continue;
    }
    failing_since_[s] = Time::Max();
    health_[s].consecutive_failures = 0;
    health_[s].last_answer = now;
    if (site_down_[s]) MarkSite(site, false, now);
    ApplySiteReports(site, **listed[s], now);
  }
  for (const auto& [j, run] : dispatch_failed_) {
    const scheduler::JobState& st = core_->jobs()[j];
    if (st.status == JobStatus::kRunning && st.epoch == run) {
      Send(cmd::DispatchFailed{JobId{j}, RunId{run}}, now);
    }
  }
  dispatch_failed_.clear();
  FollowSchedules(schedules_to_, now);
  while (!wakes_.empty() && wakes_.begin()->first <= now) {
    const auto [kind, index] = wakes_.begin()->second;
    wakes_.erase(wakes_.begin());
    Send(cmd::Wake{kind, index}, now);  // a wake the state no longer needs is refused
  }
  // A pass when anything changed since the last one (an idle broker logs nothing).
  if (counters_.commands != placed_at_) {
    PlacePass(now);
    placed_at_ = counters_.commands;
  }
  const Status s = CommitLines(lock);
  ReleaseBaton();
  lock.unlock();
  if (s.ok()) DoSiteWork();
  return s;
}

void Broker::DoSiteWork() {
  SiteWork work;
  std::vector<sites::DispatchRequest> requests;
  std::vector<world::SiteIndex> request_sites;
  {
    std::lock_guard<std::mutex> lock(mu_);
    work = std::move(work_);
    work_ = SiteWork{};
    for (const auto& [j, run] : work.submits) {
      const scheduler::JobState& st = core_->jobs()[j];
      if (st.status != JobStatus::kRunning || st.epoch != run) continue;  // stopped meanwhile
      const world::Job& spec = core_->job_spec(j);
      const world::Pool& pool = world_.pools[st.last_pool];
      sites::DispatchRequest r;
      r.job = spec.id;
      r.run = run;
      r.gpus = spec.gpus;
      r.pool = pool.id;
      r.partition = pool.partition.empty() ? pool.id : pool.partition;
      r.expected = Duration::Seconds(scheduler::Scheduler::RunSeconds(
          st.remaining_work, spec.gpus, world_.accelerators[pool.accelerator].speed_milli));
      requests.push_back(std::move(r));
      request_sites.push_back(pool.site);
    }
  }
  std::set<std::pair<world::SiteIndex, std::string>> cancelled;  // each run stopped once
  std::vector<uint8_t> down;
  {
    std::lock_guard<std::mutex> lock(mu_);
    down = site_down_;
  }
  for (size_t i = 0; i < work.cancels.size(); ++i) {
    if (!cancelled.emplace(work.cancel_sites[i], work.cancels[i]).second) continue;
    // A site that is down would hold the loop for its tools' timeout (2 s on
    // the loopback clusters) before the work it lost is sent elsewhere; its
    // stale runs are found and stopped at the first look that it answers.
    if (down[work.cancel_sites[i]]) continue;
    sites::SiteDriver* driver = drivers_[work.cancel_sites[i]].get();
    if (driver != nullptr && driver->Cancel(work.cancels[i]).ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      ++counters_.site_cancels;
    }
  }
  for (size_t i = 0; i < requests.size(); ++i) {
    const sites::DispatchRequest& r = requests[i];
    const world::SiteIndex site = request_sites[i];
    store::Dispatch journal{r.job, r.run, world_.sites[site].id, "intent", ""};
    if (!store_->PutDispatch(journal).ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      failed_ = IoError("the store failed to journal a dispatch; restart the broker");
      return;
    }
    Result<std::string> id = drivers_[site]->Submit(r);
    std::lock_guard<std::mutex> lock(mu_);
    const world::JobIndex j = core_->FindJob(r.job);
    if (!id.ok()) {
      ++counters_.dispatch_failures;
      health_[site].last_error = id.status().message();
      dispatch_failed_.emplace_back(j, r.run);
      continue;
    }
    ++counters_.dispatched;
    journal.state = "submitted";
    journal.external_id = *id;
    // On failure the restart's reconciliation finds the run by its name.
    (void)store_->PutDispatch(journal);
    const scheduler::JobState& st = core_->jobs()[j];
    if (st.status == JobStatus::kRunning && st.epoch == r.run) {
      dispatch_[j].external_id = *id;
    } else {
      // Stopped while it was being sent (a cancel from a client): stop it there.
      work_.cancels.push_back(*id);
      work_.cancel_sites.push_back(site);
    }
  }
}

// ---- mutations ---------------------------------------------------------------

Result<Broker::Submitted> Broker::SubmitJob(world::Job job, std::string tenant,
                                            std::string idempotency_key) {
  if (job.id.empty()) {
    std::lock_guard<std::mutex> lock(mu_);
    // Fresh ids skip any a client chose.
    do {
      job.id = "j-" + std::to_string(next_job_number_++);
    } while (core_ != nullptr && core_->FindJob(job.id) != world::kNone);
  }
  Request r;
  r.key = idempotency_key;
  const std::string id = job.id;
  r.command = cmd::SubmitJob{std::move(job), std::move(tenant), std::move(idempotency_key)};
  Run(&r);
  if (!r.status.ok()) return r.status;
  if (r.existing != world::kNone) {
    std::lock_guard<std::mutex> lock(mu_);
    return Submitted{core_->job_spec(r.existing).id, true};
  }
  return Submitted{id, false};
}

void Broker::SubmitJobAsync(world::Job job, std::string tenant, std::string idempotency_key,
                            std::optional<store::AuditEntry> audit, SubmitDone done) {
  auto r = std::make_unique<Request>();
  {
    std::unique_lock<std::mutex> lock(mu_);
    Status refused = !failed_.ok()      ? failed_
                     : core_ == nullptr ? FailedPrecondition("the broker has not started")
                     : stopping_        ? IoError("the broker is stopping")
                                        : Status::Ok();
    if (refused.ok()) {
      if (job.id.empty()) {
        do {
          job.id = "j-" + std::to_string(next_job_number_++);
        } while (core_->FindJob(job.id) != world::kNone);
      }
      r->key = idempotency_key;
      r->command = cmd::SubmitJob{std::move(job), std::move(tenant), std::move(idempotency_key)};
      r->audit = std::move(audit);
      r->on_done = std::move(done);
      Enqueue(r.release());
      return;
    }
    lock.unlock();
    done(refused);
  }
}

Status Broker::CancelJob(std::string_view id, std::string_view tenant) {
  world::JobIndex j;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (core_ == nullptr) return FailedPrecondition("the broker has not started");
    j = core_->FindJob(id);
    if (j == world::kNone ||
        (!tenant.empty() && (static_cast<size_t>(j) >= tenant_.size() || tenant_[j] != tenant))) {
      return NotFound("no job " + std::string(id));
    }
  }
  Request r;
  r.command = cmd::CancelJob{JobId{j}};
  Run(&r);
  return r.status;
}

Status Broker::SetDemand(std::string_view service, int64_t tokens_per_s) {
  world::ServiceIndex s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (core_ == nullptr) return FailedPrecondition("the broker has not started");
    s = core_->FindService(service);
    if (s == world::kNone) return NotFound("no service " + std::string(service));
  }
  Request r;
  r.command = cmd::SetDemand{scheduler::ServiceId{s}, tokens_per_s};
  Run(&r);
  return r.status;
}

Status Broker::AmendContract(const world::Contract& terms) {
  world::ContractIndex c = world::kNone;
  for (size_t i = 0; i < world_.contracts.size(); ++i) {
    if (world_.contracts[i].id == terms.id) c = static_cast<world::ContractIndex>(i);
  }
  if (c == world::kNone) return NotFound("no contract " + terms.id);
  Request r;
  r.command = cmd::AmendContract{c, terms};
  Run(&r);
  return r.status;
}

// ---- reads -------------------------------------------------------------------

JobView Broker::ViewOf(world::JobIndex j) const {
  const world::Job& spec = core_->job_spec(j);
  const scheduler::JobState& st = core_->jobs()[j];
  JobView v;
  v.id = spec.id;
  if (static_cast<size_t>(j) < tenant_.size()) v.tenant = tenant_[j];
  v.status = StatusName(st.status);
  v.kind = world::WorkloadKindName(spec.kind);
  v.workload_class = spec.workload_class;
  v.gpus = spec.gpus;
  v.gpu_milli = spec.gpu_milli;
  v.cpu_milli = spec.cpu_milli;
  v.memory_mib = spec.memory_mib;
  v.priority = spec.priority;
  v.submitted = spec.arrival;
  if (st.first_start != Time::Min()) v.first_start = st.first_start;
  if (st.end != Time::Min()) v.end = st.end;
  if (st.last_pool != world::kNone) {
    const world::Pool& pool = world_.pools[st.last_pool];
    v.pool = pool.id;
    v.site = world_.sites[pool.site].id;
    v.provider = world_.providers[pool.provider].id;
  }
  if (static_cast<size_t>(j) < dispatch_.size()) v.site_job = dispatch_[j].external_id;
  v.run = st.epoch;
  v.starts = st.starts;
  v.preemptions = st.preemptions;
  v.interruptions = st.interruptions;
  v.remaining_gpu_seconds = st.remaining_work;
  v.spend = core_->ledger().JobSpend(j);
  return v;
}

Result<JobView> Broker::GetJob(std::string_view id) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (core_ == nullptr) return FailedPrecondition("the broker has not started");
  const world::JobIndex j = core_->FindJob(id);
  if (j == world::kNone) return NotFound("no job " + std::string(id));
  return ViewOf(j);
}

std::vector<JobView> Broker::ListJobs(const JobFilter& filter) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<JobView> out;
  if (core_ == nullptr) return out;
  world::JobIndex from = 0;
  if (!filter.after.empty()) {
    const world::JobIndex a = core_->FindJob(filter.after);
    from = a == world::kNone ? core_->job_count() : a + 1;
  }
  for (world::JobIndex j = from; j < core_->job_count() && out.size() < filter.limit; ++j) {
    if (!filter.tenant.empty() &&
        (static_cast<size_t>(j) >= tenant_.size() || tenant_[j] != filter.tenant)) {
      continue;
    }
    if (!filter.status.empty() && filter.status != StatusName(core_->jobs()[j].status)) continue;
    out.push_back(ViewOf(j));
  }
  return out;
}

std::vector<PoolView> Broker::Pools() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<PoolView> out;
  if (core_ == nullptr) return out;
  for (size_t p = 0; p < world_.pools.size(); ++p) {
    const world::Pool& pool = world_.pools[p];
    const placement::PoolState& st = core_->fleet().pool(static_cast<world::PoolIndex>(p));
    out.push_back({pool.id, world_.sites[pool.site].id, world_.providers[pool.provider].id,
                   world_.accelerators[pool.accelerator].name, st.installed, st.capacity, st.used,
                   site_down_[pool.site] != 0});
  }
  return out;
}

std::vector<SiteHealth> Broker::Sites() const {
  std::lock_guard<std::mutex> lock(mu_);
  return health_;
}

Result<std::string> Broker::Explain(std::string_view id, std::string_view tenant) {
  std::unique_lock<std::mutex> lock(mu_);
  if (core_ == nullptr) return FailedPrecondition("the broker has not started");
  if (!tenant.empty()) {
    const world::JobIndex j = core_->FindJob(id);
    if (j == world::kNone || static_cast<size_t>(j) >= tenant_.size() || tenant_[j] != tenant) {
      return NotFound("no job " + std::string(id));
    }
  }
  // Explaining uses the placer's scratch state: it holds the baton.
  AcquireBaton(lock);
  std::ostringstream out;
  const Status s = report::ExplainNow(*core_, std::string(id), Now(), out);
  ReleaseBaton();
  if (!s.ok()) return s;
  // What the core sees as a pool with no capacity is a site that stopped
  // answering: say so, and since when.
  for (size_t site = 0; site < site_down_.size(); ++site) {
    if (!site_down_[site]) continue;
    out << "\nSite " << world_.sites[site].id << " is down: it has not answered since "
        << FormatTimeFull(down_since_[site]) << " (" << health_[site].last_error
        << "); its pools have no capacity until it answers, and the work it held was placed "
           "again.\n";
  }
  return out.str();
}

Counters Broker::counters() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counters_;
}

nlohmann::json Broker::ContractsJson(const std::vector<contracts::ExternalSpend>* gateway) const {
  std::lock_guard<std::mutex> lock(mu_);
  nlohmann::json out{{"at", FormatTimeFull(last_)}, {"contracts", nlohmann::json::array()}};
  if (core_ == nullptr) return out;
  const Time now = Now();
  for (size_t c = 0; c < world_.contracts.size(); ++c) {
    const world::Contract& contract = world_.contracts[c];
    const contracts::ContractLedgerRow row = core_->ledger().Settle(
        static_cast<world::ContractIndex>(c), now,
        gateway != nullptr && c < gateway->size() ? &(*gateway)[c] : nullptr);
    out["contracts"].push_back(
        {{"id", contract.id},
         {"provider", world_.providers[contract.provider].id},
         {"start", FormatTimeFull(contract.start)},
         {"end", FormatTimeFull(contract.end)},
         {"committed_usd", FormatMoneyExact(contract.committed_spend)},
         {"take_or_pay", contract.take_or_pay},
         {"spent_usd", FormatMoneyExact(row.spent)},
         {"rate_usd_per_day", FormatMoneyExact(row.rate_per_day)},
         {"shortfall_due_usd", FormatMoneyExact(row.shortfall_due)},
         {"shortfall_projected_usd", FormatMoneyExact(row.shortfall_projected)},
         {"shortfall_not_payable_usd", FormatMoneyExact(row.shortfall_not_payable)},
         {"gateway_projected_after_usd", FormatMoneyExact(row.external_projected_after)}});
  }
  return out;
}

nlohmann::json Broker::TenantsJson() const {
  std::lock_guard<std::mutex> lock(mu_);
  nlohmann::json out{{"tenants", nlohmann::json::array()}};
  if (core_ == nullptr) return out;
  std::vector<int64_t> held(world_.tenants.size(), 0);
  for (world::JobIndex j = 0; j < core_->job_count(); ++j) {
    const world::TenantIndex t = core_->job_spec(j).tenant;
    if (t != world::kNone && core_->jobs()[j].status == JobStatus::kQueued &&
        !core_->QuotaHold(j).empty()) {
      ++held[t];
    }
  }
  const Time now = Now();
  for (size_t t = 0; t < world_.tenants.size(); ++t) {
    const world::Tenant& tenant = world_.tenants[t];
    const auto ti = static_cast<world::TenantIndex>(t);
    nlohmann::json classes = nlohmann::json::array();
    for (size_t i = 0; i < tenant.class_max_gpus.size(); ++i) {
      classes.push_back({{"class", tenant.class_max_gpus[i].first},
                         {"max_gpus", tenant.class_max_gpus[i].second},
                         {"gpus_in_use", core_->TenantClassGpus(ti, i)}});
    }
    auto spend = [&](int32_t limit) {
      const scheduler::Scheduler::SpendUsage u = core_->TenantSpend(ti, limit, now);
      return nlohmann::json{{"spend_per_month_usd", FormatMoneyExact(u.limit)},
                            {"spent_this_month_usd", FormatMoneyExact(u.spent)},
                            {"committed_this_month_usd", FormatMoneyExact(u.committed)}};
    };
    nlohmann::json class_spend = nlohmann::json::array();
    for (size_t i = 0; i < tenant.class_spend_per_month.size(); ++i) {
      nlohmann::json row = spend(static_cast<int32_t>(i));
      row["class"] = tenant.class_spend_per_month[i].first;
      class_spend.push_back(std::move(row));
    }
    nlohmann::json row{{"id", tenant.id},
                       {"max_gpus", tenant.max_gpus},
                       {"gpus_in_use", core_->TenantGpus(ti)},
                       {"classes", classes},
                       {"month", scheduler::SpendMonthOf(now).Label()},
                       {"class_spend", class_spend},
                       {"jobs_held_by_quota", held[t]}};
    row.update(spend(-1));
    out["tenants"].push_back(std::move(row));
  }
  return out;
}

std::vector<std::pair<std::string, int64_t>> Broker::SpendRates() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::pair<std::string, int64_t>> out;
  if (core_ == nullptr) return out;
  const Time now = Now();
  for (size_t c = 0; c < world_.contracts.size(); ++c) {
    out.emplace_back(
        world_.contracts[c].id,
        core_->ledger().Settle(static_cast<world::ContractIndex>(c), now).rate_per_day.micros());
  }
  return out;
}

Result<std::string> Broker::ReportJson() {
  std::unique_lock<std::mutex> lock(mu_);
  if (core_ == nullptr) return FailedPrecondition("the broker has not started");
  // Explaining waiting jobs uses the placer's scratch state: hold the baton.
  AcquireBaton(lock);
  std::string out = live_->Json(*core_, Now(), scheduler::PolicyLabel(options_.scheduler),
                                counters_.commands + counters_.restored_commands);
  ReleaseBaton();
  return out;
}

size_t Broker::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return core_ == nullptr ? 0 : core_->queued();
}

std::vector<Broker::StreamEvent> Broker::EventsAfter(int64_t after, size_t limit) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<StreamEvent> out;
  for (const StreamEvent& e : events_) {
    if (e.sequence > after && out.size() < limit) out.push_back(e);
  }
  return out;
}

void Broker::WaitForEvents(int64_t after, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return event_sequence_ > after || !failed_.ok(); });
}

}  // namespace polycloud::serve
