#include "polycloud/sim/simulator.h"

#include <algorithm>

#include "polycloud/base/parse.h"

namespace polycloud::sim {

using scheduler::EventType;

Simulator::Simulator(const world::World& world, Options options)
    : world_(world),
      options_(std::move(options)),
      end_(options_.stop_at ? std::min(*options_.stop_at, world.end) : world.end),
      clock_(world.start),
      scheduler_(world, options_.scheduler, world.start, this, this) {
  const Time start = world.start;
  auto in_run = [&](Time t) { return t > start && t <= end_; };
  // Contract boundaries first: events at one instant are applied in the order
  // they were pushed, and capacity that arrives with a contract's start must
  // find the contract in force (else its pool-capacity reads usable=0).
  std::vector<Time> boundaries = contracts::ExclusivityRules(world).Boundaries();
  for (const world::Contract& c : world.contracts) {
    boundaries.push_back(c.start);
    boundaries.push_back(c.end);
  }
  std::sort(boundaries.begin(), boundaries.end());
  boundaries.erase(std::unique(boundaries.begin(), boundaries.end()), boundaries.end());
  for (Time t : boundaries) {
    if (in_run(t)) Push(t, Kind::kContracts, 0);
  }
  for (size_t p = 0; p < world.pools.size(); ++p) {
    for (const auto& pt : world.pools[p].gpus.points()) {
      if (in_run(pt.at)) Push(pt.at, Kind::kPoolRamp, static_cast<int32_t>(p));
    }
  }
  for (size_t s = 0; s < world.sites.size(); ++s) {
    for (const auto& pt : world.sites[s].power.points()) {
      if (in_run(pt.at)) Push(pt.at, Kind::kSitePower, static_cast<int32_t>(s));
    }
  }
  for (size_t s = 0; s < world.services.size(); ++s) {
    for (const auto& pt : world.services[s].demand_tokens_per_s.points()) {
      if (in_run(pt.at)) Push(pt.at, Kind::kDemand, static_cast<int32_t>(s));
    }
  }
  for (size_t f = 0; f < world.faults.size(); ++f) {
    const world::Fault& fault = world.faults[f];
    if (fault.end <= start || fault.start > end_) continue;
    Push(std::max(fault.start, start), Kind::kFaultStart, static_cast<int32_t>(f));
    if (fault.end <= end_) Push(fault.end, Kind::kFaultEnd, static_cast<int32_t>(f));
  }
}

// Payload: epoch in the high 32 bits, index in the next 29 (indices are
// int32 and non-negative, far below 2^29 in practice; checked), kind low.
void Simulator::Push(Time at, Kind kind, int32_t index, uint32_t epoch) {
  POLYCLOUD_CHECK(index >= 0 && index < (1 << 28));
  heap_.Push(
      at, uint64_t{epoch} << 32 | static_cast<uint64_t>(index) << 4 | static_cast<uint64_t>(kind));
}

void Simulator::AtTime(Time at, scheduler::WakeKind kind, int32_t index) {
  Push(at, Kind::kWake, index, static_cast<uint32_t>(kind));
}

void Simulator::OnEvent(const scheduler::Event& event) {
  ++scheduler_events_;
  // The completion model: a started run ends when its gang, at the pool's
  // speed, has done the work left (reported then as cmd::JobCompleted).
  if (event.type == EventType::kJobStarted) {
    const world::Job& job = scheduler_.job_spec(event.subject);
    const int64_t work = scheduler_.jobs()[event.subject].remaining_work;
    const int64_t speed = world_.accelerators[world_.pools[event.pool].accelerator].speed_milli;
    Push(event.at + Duration::Seconds(scheduler::Scheduler::RunSeconds(work, job.gpus, speed)),
         Kind::kFinish, event.subject, static_cast<uint32_t>(event.aux));
  }
  // The providers' model: an ROFR holder answers after its scenario's
  // answer_after (unless that is too late), and awarded capacity is
  // delivered after the offer's lead time.
  if (event.type == EventType::kRofrOffered) {
    const scheduler::CapacityRequest& r = scheduler_.requests()[event.subject];
    const Time due = event.at + world_.procurement.answer_after[r.holder];
    if (due < r.window_closes) Push(due, Kind::kRofrAnswer, event.subject);
  } else if (event.type == EventType::kCapacityAwarded) {
    Push(scheduler_.requests()[event.subject].arrives, Kind::kCapacityArrives, event.subject);
  }
  for (scheduler::Observer* o : observers_) o->OnEvent(event);
}

void Simulator::Send(const scheduler::Command& command, Time now) {
  const Status status = scheduler_.Apply(command, now);
  POLYCLOUD_CHECK(status.ok());  // the simulator's commands come from a validated World
}

bool Simulator::Apply(Time now, uint64_t payload) {
  struct {
    Kind kind;
    int32_t index;
    uint32_t epoch;
  } item{static_cast<Kind>(payload & 15), static_cast<int32_t>((payload >> 4) & 0x0fffffff),
         static_cast<uint32_t>(payload >> 32)};
  using namespace scheduler;  // NOLINT: the command vocabulary
  switch (item.kind) {
    case Kind::kFinish: {
      const JobState& s = scheduler_.jobs()[item.index];
      if (s.status != JobStatus::kRunning || s.epoch != item.epoch) return false;
      Send(cmd::JobCompleted{JobId{item.index}, RunId{item.epoch}, now}, now);
      break;
    }
    case Kind::kPoolRamp:
      Send(cmd::SetPoolCapacity{item.index, world_.pools[item.index].gpus.At(now)}, now);
      break;
    case Kind::kSitePower:
      Send(cmd::SetSitePower{item.index, world_.sites[item.index].power.At(now)}, now);
      break;
    case Kind::kDemand:
      Send(cmd::SetDemand{ServiceId{item.index},
                          world_.services[item.index].demand_tokens_per_s.At(now)},
           now);
      break;
    case Kind::kFaultStart:
      Send(cmd::FaultStarted{item.index}, now);
      break;
    case Kind::kFaultEnd:
      Send(cmd::FaultEnded{item.index}, now);
      break;
    case Kind::kContracts:
      Send(cmd::ContractsChanged{}, now);
      break;
    case Kind::kWake: {
      const auto kind = static_cast<WakeKind>(item.epoch);
      // A window that closes on an answered request wakes nothing.
      if (kind == WakeKind::kRofrWindowCloses &&
          scheduler_.requests()[item.index].status != CapacityRequest::Status::kAwaitingAnswer) {
        return false;
      }
      Send(cmd::Wake{kind, item.index}, now);
      break;
    }
    case Kind::kRofrAnswer: {
      if (scheduler_.requests()[item.index].status != CapacityRequest::Status::kAwaitingAnswer) {
        return false;
      }
      std::string why;
      const int32_t offer = scheduler_.HolderOffer(item.index, now, &why);
      Send(cmd::RofrAnswered{item.index, offer, offer >= 0 ? std::string() : why}, now);
      break;
    }
    case Kind::kCapacityArrives:
      Send(cmd::CapacityDelivered{item.index}, now);
      break;
  }
  return true;
}

void Simulator::DiscardThrough(Time t) {
  while (!heap_.empty() && heap_.top().at <= t) heap_.Pop();
}

Status Simulator::Restore(const std::vector<LoggedCommand>& commands) {
  if (started_) return FailedPrecondition("restore: the simulator has already run");
  if (commands.empty()) return Status::Ok();
  if (!std::holds_alternative<scheduler::cmd::Place>(commands.back().command)) {
    return FailedPrecondition("restore: the command log must end with an instant's place pass");
  }
  // Replaying the log queues the same events as the logged run did (at
  // construction, by the completion model, the scheduler's wake-ups); those
  // up to the last instant were applied then, and the log holds what they did.
  for (size_t i = 0; i < commands.size(); ++i) {
    const LoggedCommand& c = commands[i];
    clock_.AdvanceTo(c.at);
    // Every command but a pass was one simulator event (an arrival, or an
    // event from the queue) of the logged run.
    if (!std::holds_alternative<scheduler::cmd::Place>(c.command)) ++restored_events_;
    const Status status = scheduler_.Apply(c.command, c.at);
    if (!status.ok()) {
      return Status(status.code(), "restore: command " + std::to_string(i + 1) + " (" +
                                       scheduler::CommandName(c.command) + " at " +
                                       FormatTimeFull(c.at) + "): " + status.message());
    }
  }
  const Time last = commands.back().at;
  DiscardThrough(last);
  while (next_job_ < world_.jobs.size() &&
         std::max(world_.jobs[next_job_].arrival, world_.start) <= last) {
    ++next_job_;
  }
  started_ = true;
  return Status::Ok();
}

RunStats Simulator::Run() {
  RunStats stats;
  stats.events = restored_events_;
  const auto& jobs = world_.jobs;
  // Jobs that arrived before the run starts are queued at the start.
  int64_t next_progress = options_.progress_every;
  if (!started_) {
    started_ = true;
    Send(scheduler::cmd::Place{}, world_.start);
  }
  while (true) {
    Time t = Time::Max();
    if (!heap_.empty()) t = heap_.top().at;
    if (next_job_ < jobs.size()) t = std::min(t, std::max(jobs[next_job_].arrival, world_.start));
    if (t > end_ || t == Time::Max()) break;
    clock_.AdvanceTo(t);
    // Everything that happens at `t`: capacity and faults first in insertion
    // order, then arrivals, then one scheduling pass.
    bool changed = false;
    while (!heap_.empty() && heap_.top().at == t) {
      const uint64_t payload = heap_.top().payload;
      heap_.Pop();
      if (Apply(t, payload)) {
        changed = true;
        ++stats.events;
      }
    }
    while (next_job_ < jobs.size() && std::max(jobs[next_job_].arrival, world_.start) == t) {
      Send(scheduler::cmd::JobArrived{scheduler::JobId{static_cast<int32_t>(next_job_++)}}, t);
      changed = true;
      ++stats.events;
    }
    if (changed) Send(scheduler::cmd::Place{}, t);
    if (options_.progress && stats.events >= next_progress) {
      options_.progress(Progress{t, stats.events});
      next_progress = stats.events + options_.progress_every;
    }
  }
  scheduler_.Finish(end_);
  stats.end = end_;
  stats.scheduler_events = scheduler_events_;
  return stats;
}

void EventLogWriter::OnEvent(const scheduler::Event& e) {
  const bool about_service =
      e.type == EventType::kReplicaStarted || e.type == EventType::kReplicaStopped ||
      e.type == EventType::kReplicaLost || e.type == EventType::kServiceShort ||
      e.type == EventType::kServiceRecovered || e.type == EventType::kServiceSubmitted ||
      e.type == EventType::kServiceCancelled || e.type == EventType::kReplicaMoved ||
      (e.type == EventType::kExclusivityException && e.aux == 1);
  const bool about_job =
      !about_service &&
      (e.type == EventType::kJobArrived || e.type == EventType::kJobStarted ||
       e.type == EventType::kJobFinished || e.type == EventType::kJobPreempted ||
       e.type == EventType::kJobInterrupted || e.type == EventType::kJobCancelled ||
       e.type == EventType::kDispatchFailed || e.type == EventType::kExclusivityException);
  if (filter_index_ != world::kNone) {
    if (filter_service_ ? !about_service : !about_job) return;
    if (e.subject != filter_index_) return;
  }
  out_ << FormatTimeFull(e.at) << ' ' << scheduler::EventTypeName(e.type);
  auto job_id = [&](int32_t j) -> const std::string& {
    return scheduler_ != nullptr ? scheduler_->job_spec(j).id : world_.jobs[j].id;
  };
  auto service_id = [&](int32_t s) -> const std::string& {
    return scheduler_ != nullptr ? scheduler_->service_spec(s).id : world_.services[s].id;
  };
  if (about_service) out_ << ' ' << service_id(e.subject);
  if (about_job) out_ << ' ' << job_id(e.subject);
  const bool procurement =
      e.type >= EventType::kCapacityRequested && e.type <= EventType::kCapacityReleased;
  if (e.pool != world::kNone && e.type != EventType::kPoolCapacity && !procurement)
    out_ << " pool=" << world_.pools[e.pool].id;
  if (procurement) {
    out_ << " req-" << e.subject + 1;
    if (e.pool != world::kNone) out_ << " pool=" << world_.pools[e.pool].id;
  }
  switch (e.type) {
    case EventType::kJobArrived:
      out_ << " gpus=" << e.gpus;
      break;
    case EventType::kJobStarted:
      out_ << " gpus=" << e.gpus << " runs=" << FormatDuration(Duration(e.value));
      break;
    case EventType::kJobPreempted:
      out_ << " lost_gpu_h=" << e.value / 3600 << " by="
           << (e.aux >= 0 ? job_id(static_cast<int32_t>(e.aux))
                          : service_id(static_cast<int32_t>(-1 - e.aux)));
      break;
    case EventType::kJobInterrupted:
      out_ << " lost_gpu_h=" << e.value / 3600;
      break;
    case EventType::kReplicaStarted:
      out_ << " gpus=" << e.gpus << " tokens_per_s=" << e.value
           << (e.aux == 1   ? " replaces-lost"
               : e.aux == 2 ? " failover"
               : e.aux == 3 ? " moved-in"
                            : "");
      break;
    case EventType::kReplicaStopped:
      out_ << " gpus=" << e.gpus << (e.aux == 1 ? " moved-out" : "");
      break;
    case EventType::kReplicaMoved:
      out_ << " from=" << world_.pools[e.aux].id << " gpus=" << e.gpus
           << " saving=" << FormatMoney(Money::FromMicros(e.value));
      break;
    case EventType::kReplicaLost:
    case EventType::kJobCancelled:
    case EventType::kDispatchFailed:
      out_ << " gpus=" << e.gpus;
      break;
    case EventType::kServiceSubmitted:
      out_ << " demand=" << e.value;
      break;
    case EventType::kServiceShort:
    case EventType::kServiceRecovered:
      out_ << " demand=" << e.value << " capacity=" << e.aux;
      break;
    case EventType::kPoolCapacity:
      out_ << ' ' << world_.pools[e.subject].id << " usable=" << e.value << " installed=" << e.aux;
      break;
    case EventType::kSitePower:
      out_ << ' ' << world_.sites[e.subject].id << " power=" << FormatPower(Power(e.value));
      break;
    case EventType::kFaultStarted:
    case EventType::kFaultEnded:
      out_ << ' ' << world_.faults[e.subject].id;
      break;
    case EventType::kCapacityRequested:
      out_ << " gpus=" << e.gpus << " waiting_jobs=" << e.value
           << " oldest=" << job_id(static_cast<int32_t>(e.aux));
      break;
    case EventType::kRofrOffered:
      out_ << " to=" << world_.providers[world_.contracts[e.aux].provider].id
           << " contract=" << world_.contracts[e.aux].id << " gpus=" << e.gpus
           << " window_closes=" << FormatTimeFull(Time::FromUnixSeconds(e.value));
      break;
    case EventType::kRofrMatched:
    case EventType::kRofrExpired:
      out_ << " contract=" << world_.contracts[e.aux].id;
      break;
    case EventType::kRofrDeclined:
      out_ << " contract=" << world_.contracts[e.aux].id;
      if (scheduler_ != nullptr) {
        out_ << " reason=\"" << scheduler_->requests()[e.subject].decline_reason << '"';
      }
      break;
    case EventType::kCapacityAwarded:
      out_ << " provider=" << world_.providers[world_.pools[e.pool].provider].id
           << " gpus=" << e.gpus << " price=" << FormatMoney(Money::FromMicros(e.value))
           << (e.aux == 1 ? " via=rofr" : " via=market");
      break;
    case EventType::kCapacityUnavailable:
      out_ << " gpus=" << e.gpus;
      break;
    case EventType::kCapacityArrived:
    case EventType::kCapacityReleased:
      out_ << " gpus=" << e.gpus;
      break;
    case EventType::kContractAmended:
      out_ << ' ' << world_.contracts[e.subject].id;
      break;
    default:
      break;
  }
  out_ << '\n';
}

Audit::Audit(const world::World& world)
    : world_(world),
      rules_(world),
      provider_outage_(world.providers.size(), 0),
      provider_outage_count_(world.providers.size(), 0),
      failovers_to_(world.services.size(), std::vector<int64_t>(world.providers.size(), 0)) {}

Audit::Audit(const scheduler::Scheduler& scheduler, const world::World& world) : Audit(world) {
  scheduler_ = &scheduler;
}

void Audit::OnEvent(const scheduler::Event& e) {
  auto check = [&](std::string_view cls, std::string_view family, const std::string& who) {
    const world::ProviderIndex p = world_.pools[e.pool].provider;
    auto v = rules_.Check(cls, family, p, e.at, provider_outage_);
    if (!v.allowed) {
      ++counts_.exclusivity_violations;
      violations_.push_back(FormatTimeFull(e.at) + " " + who + " started at " +
                            world_.providers[p].id + ": " + rules_.Describe(v, cls));
    }
  };
  switch (e.type) {
    case EventType::kContractAmended:
      rules_.Rebuild();  // the World's clauses were replaced in place
      break;
    case EventType::kJobStarted: {
      ++counts_.job_starts;
      const world::Job& j =
          scheduler_ != nullptr ? scheduler_->job_spec(e.subject) : world_.jobs[e.subject];
      check(j.workload_class, j.model_family, "job " + j.id);
      break;
    }
    case EventType::kReplicaStarted: {
      ++counts_.replica_starts;
      const world::Service& s =
          scheduler_ != nullptr ? scheduler_->service_spec(e.subject) : world_.services[e.subject];
      check(s.workload_class, s.model_family, "service " + s.id);
      if (e.aux == 2) {
        ++counts_.failovers;
        if (static_cast<size_t>(e.subject) >= failovers_to_.size()) {
          failovers_to_.resize(e.subject + 1, std::vector<int64_t>(world_.providers.size(), 0));
        }
        ++failovers_to_[e.subject][world_.pools[e.pool].provider];
      }
      break;
    }
    case EventType::kJobFinished:
      ++counts_.job_finishes;
      break;
    case EventType::kJobPreempted:
      ++counts_.preemptions;
      counts_.lost_work_gpu_seconds += e.value;
      break;
    case EventType::kJobInterrupted:
      ++counts_.interruptions;
      counts_.lost_work_gpu_seconds += e.value;
      break;
    case EventType::kReplicaLost:
      ++counts_.replicas_lost;
      break;
    case EventType::kExclusivityException:
      ++counts_.exclusivity_exceptions;
      break;
    case EventType::kFaultStarted:
    case EventType::kFaultEnded: {
      const world::Fault& f = world_.faults[e.subject];
      const int32_t sign = e.type == EventType::kFaultStarted ? 1 : -1;
      if (sign > 0) ++counts_.faults;
      if (f.kind != world::FaultKind::kOutage) break;
      world::ProviderIndex p = world::kNone;
      if (f.target_kind == world::FaultTargetKind::kProvider) p = f.target;
      if (f.target_kind == world::FaultTargetKind::kSite) p = world_.sites[f.target].provider;
      if (p != world::kNone) {
        provider_outage_count_[p] += sign;
        provider_outage_[p] = provider_outage_count_[p] > 0;
      }
      break;
    }
    default:
      break;
  }
}

}  // namespace polycloud::sim
