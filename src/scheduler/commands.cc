// The scheduler's one input, Apply(command): validation first (nothing is
// changed or logged by a rejected command), then the log, then the handler.
#include <algorithm>
#include <limits>
#include <type_traits>

#include "polycloud/base/parse.h"
#include "polycloud/scheduler/scheduler.h"
#include "polycloud/world/magnitudes.h"

namespace polycloud::scheduler {
namespace {

// Magnitudes a command may carry: those of the scenario's magnitude model
// (world/magnitudes.h, docs/scenario.md), so that what the loader would
// refuse cannot come in by command either.
constexpr int64_t kMaxGang = world::kMaxGpus;
constexpr Duration kMaxHorizon = Duration::Seconds(world::kMaxSpanSeconds);

template <class>
inline constexpr bool kAlwaysFalse = false;

}  // namespace

const char* CommandName(const Command& command) {
  return std::visit(
      [](const auto& c) -> const char* {
        using C = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<C, cmd::JobArrived>)
          return "job-arrived";
        else if constexpr (std::is_same_v<C, cmd::SubmitJob>)
          return "submit-job";
        else if constexpr (std::is_same_v<C, cmd::CancelJob>)
          return "cancel-job";
        else if constexpr (std::is_same_v<C, cmd::SubmitService>)
          return "submit-service";
        else if constexpr (std::is_same_v<C, cmd::CancelService>)
          return "cancel-service";
        else if constexpr (std::is_same_v<C, cmd::SetDemand>)
          return "set-demand";
        else if constexpr (std::is_same_v<C, cmd::SetPoolCapacity>)
          return "set-pool-capacity";
        else if constexpr (std::is_same_v<C, cmd::SetSitePower>)
          return "set-site-power";
        else if constexpr (std::is_same_v<C, cmd::FaultStarted>)
          return "fault-started";
        else if constexpr (std::is_same_v<C, cmd::FaultEnded>)
          return "fault-ended";
        else if constexpr (std::is_same_v<C, cmd::ContractsChanged>)
          return "contracts-changed";
        else if constexpr (std::is_same_v<C, cmd::JobStarted>)
          return "job-started";
        else if constexpr (std::is_same_v<C, cmd::JobCompleted>)
          return "job-completed";
        else if constexpr (std::is_same_v<C, cmd::JobFailed>)
          return "job-failed";
        else if constexpr (std::is_same_v<C, cmd::DispatchFailed>)
          return "dispatch-failed";
        else if constexpr (std::is_same_v<C, cmd::RofrAnswered>)
          return "rofr-answered";
        else if constexpr (std::is_same_v<C, cmd::CapacityDelivered>)
          return "capacity-delivered";
        else if constexpr (std::is_same_v<C, cmd::Wake>)
          return "wake";
        else if constexpr (std::is_same_v<C, cmd::Place>)
          return "place";
        else if constexpr (std::is_same_v<C, cmd::AmendContract>)
          return "amend-contract";
        else
          static_assert(kAlwaysFalse<C>, "every command has a name");
      },
      command);
}

const char* WakeKindName(WakeKind kind) {
  switch (kind) {
    case WakeKind::kProcurementReview:
      return "procurement-review";
    case WakeKind::kRofrWindowCloses:
      return "rofr-window-closes";
    case WakeKind::kCapacityEnds:
      return "capacity-ends";
    case WakeKind::kContractTerms:
      return "contract-terms";
    case WakeKind::kSpendMonth:
      return "spend-month";
  }
  return "?";
}

bool ParseWakeKind(std::string_view name, WakeKind* kind) {
  for (WakeKind k : {WakeKind::kProcurementReview, WakeKind::kRofrWindowCloses,
                     WakeKind::kCapacityEnds, WakeKind::kContractTerms, WakeKind::kSpendMonth}) {
    if (name == WakeKindName(k)) {
      *kind = k;
      return true;
    }
  }
  return false;
}

world::JobIndex Scheduler::FindJob(std::string_view id) const {
  const world::JobIndex j = world_.FindJob(id);
  if (j != world::kNone) return j;
  auto it = runtime_job_ids_.find(std::string(id));
  return it == runtime_job_ids_.end() ? world::kNone : it->second;
}

world::ServiceIndex Scheduler::FindService(std::string_view id) const {
  const world::ServiceIndex s = world_.FindService(id);
  if (s != world::kNone) return s;
  auto it = runtime_service_ids_.find(std::string(id));
  return it == runtime_service_ids_.end() ? world::kNone : it->second;
}

Status Scheduler::CheckJobSpec(const world::Job& job) const {
  if (job.id.empty()) return InvalidArgument("job: id must not be empty");
  if (FindJob(job.id) != world::kNone || FindService(job.id) != world::kNone) {
    return InvalidArgument("job " + job.id + ": id is already in use");
  }
  if (job.gpus < 1 || job.gpus > kMaxGang) {
    return InvalidArgument("job " + job.id + ": gpus must be from 1 to " +
                           std::to_string(kMaxGang) + ", got " + std::to_string(job.gpus));
  }
  if (job.work_gpu_seconds < 1) {
    return InvalidArgument("job " + job.id + ": work must be positive, got " +
                           std::to_string(job.work_gpu_seconds) + " GPU-seconds");
  }
  if (job.work_gpu_seconds > world::kMaxWorkGpuSeconds) {
    return InvalidArgument("job " + job.id + ": work of " + std::to_string(job.work_gpu_seconds) +
                           " GPU-seconds is more than the maximum of " +
                           std::to_string(world::kMaxWorkGpuSeconds));
  }
  if (job.checkpoint_interval.seconds() < 0) {
    return InvalidArgument("job " + job.id + ": checkpoint interval must not be negative");
  }
  for (world::AcceleratorIndex a : job.accelerators) {
    if (a < 0 || static_cast<size_t>(a) >= world_.accelerators.size()) {
      return InvalidArgument("job " + job.id + ": unknown accelerator index " + std::to_string(a));
    }
  }
  return Status::Ok();
}

Status Scheduler::CheckServiceSpec(const world::Service& svc) const {
  if (svc.id.empty()) return InvalidArgument("service: id must not be empty");
  if (FindService(svc.id) != world::kNone || FindJob(svc.id) != world::kNone) {
    return InvalidArgument("service " + svc.id + ": id is already in use");
  }
  if (svc.gpus_per_replica < 1 || svc.gpus_per_replica > kMaxGang) {
    return InvalidArgument("service " + svc.id + ": gpus_per_replica must be from 1 to " +
                           std::to_string(kMaxGang));
  }
  if (svc.replica_tokens_per_s < 1 ||
      svc.replica_tokens_per_s > world::kMaxReplicaTokensPerSecond) {
    return InvalidArgument("service " + svc.id + ": replica_tokens_per_s must be from 1 to " +
                           std::to_string(world::kMaxReplicaTokensPerSecond));
  }
  if (svc.min_providers < 0) {
    return InvalidArgument("service " + svc.id + ": min_providers must not be negative");
  }
  for (world::AcceleratorIndex a : svc.accelerators) {
    if (a < 0 || static_cast<size_t>(a) >= world_.accelerators.size()) {
      return InvalidArgument("service " + svc.id + ": unknown accelerator index " +
                             std::to_string(a));
    }
  }
  return Status::Ok();
}

Status Scheduler::Check(const Command& command, Time now) const {
  if (now < last_command_) {
    return FailedPrecondition("a command at " + FormatTimeFull(now) +
                              " comes before the last one (or the start), at " +
                              FormatTimeFull(last_command_));
  }
  if (now - start_ > kMaxHorizon) {
    return FailedPrecondition("a command at " + FormatTimeFull(now) + " is more than " +
                              FormatDuration(kMaxHorizon) + " after the start");
  }
  auto job_exists = [&](JobId id) -> Status {
    if (id.value < 0 || id.value >= job_count()) {
      return NotFound("no job with index " + std::to_string(id.value));
    }
    return Status::Ok();
  };
  auto service_exists = [&](ServiceId id) -> Status {
    if (id.value < 0 || id.value >= service_count()) {
      return NotFound("no service with index " + std::to_string(id.value));
    }
    if (service_cancelled_[id.value]) {
      return FailedPrecondition("service " + service_spec(id.value).id + " was cancelled");
    }
    return Status::Ok();
  };
  auto in_range = [](int32_t index, size_t size, const char* what) -> Status {
    if (index < 0 || static_cast<size_t>(index) >= size) {
      return NotFound(std::string("no ") + what + " with index " + std::to_string(index));
    }
    return Status::Ok();
  };
  // A report about a run: the time must lie within the run, if it is current.
  auto run_report = [&](JobId id, Time at) -> Status {
    POLYCLOUD_RETURN_IF_ERROR(job_exists(id));
    if (at > now) {
      return FailedPrecondition("job " + job_spec(id.value).id + ": reported at " +
                                FormatTimeFull(at) + ", after now (" + FormatTimeFull(now) + ")");
    }
    const JobState& s = jobs_[id.value];
    if (s.status == JobStatus::kRunning && at < allocs_[s.alloc].start) {
      return FailedPrecondition("job " + job_spec(id.value).id + ": reported at " +
                                FormatTimeFull(at) + ", before its run started (" +
                                FormatTimeFull(allocs_[s.alloc].start) + ")");
    }
    return Status::Ok();
  };
  return std::visit(
      [&](const auto& c) -> Status {
        using C = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<C, cmd::JobArrived>) {
          POLYCLOUD_RETURN_IF_ERROR(job_exists(c.job));
          if (c.job.value >= static_jobs_) {
            return FailedPrecondition("job " + job_spec(c.job.value).id +
                                      " was submitted at run time; it arrived then");
          }
          return Status::Ok();
        } else if constexpr (std::is_same_v<C, cmd::SubmitJob>) {
          if (c.job.tenant != world::kNone &&
              (c.job.tenant < 0 || static_cast<size_t>(c.job.tenant) >= world_.tenants.size())) {
            return InvalidArgument("job " + c.job.id + ": no tenant with index " +
                                   std::to_string(c.job.tenant));
          }
          return CheckJobSpec(c.job);
        } else if constexpr (std::is_same_v<C, cmd::CancelJob>) {
          POLYCLOUD_RETURN_IF_ERROR(job_exists(c.job));
          const JobStatus st = jobs_[c.job.value].status;
          if (st == JobStatus::kDone || st == JobStatus::kCancelled) {
            return FailedPrecondition("job " + job_spec(c.job.value).id + " has already " +
                                      (st == JobStatus::kDone ? "finished" : "been cancelled"));
          }
          return Status::Ok();
        } else if constexpr (std::is_same_v<C, cmd::SubmitService>) {
          POLYCLOUD_RETURN_IF_ERROR(CheckServiceSpec(c.service));
          if (c.initial_demand_tokens_per_s < 0 ||
              c.initial_demand_tokens_per_s > world::kMaxDemandTokensPerSecond) {
            return InvalidArgument("service " + c.service.id + ": demand must be from 0 to " +
                                   std::to_string(world::kMaxDemandTokensPerSecond) + " tokens/s");
          }
          return Status::Ok();
        } else if constexpr (std::is_same_v<C, cmd::CancelService>) {
          return service_exists(c.service);
        } else if constexpr (std::is_same_v<C, cmd::SetDemand>) {
          POLYCLOUD_RETURN_IF_ERROR(service_exists(c.service));
          if (c.tokens_per_s < 0 || c.tokens_per_s > world::kMaxDemandTokensPerSecond) {
            return InvalidArgument("demand must be from 0 to " +
                                   std::to_string(world::kMaxDemandTokensPerSecond) + " tokens/s");
          }
          return Status::Ok();
        } else if constexpr (std::is_same_v<C, cmd::SetPoolCapacity>) {
          POLYCLOUD_RETURN_IF_ERROR(in_range(c.pool, world_.pools.size(), "pool"));
          if (c.installed_gpus < 0 || c.installed_gpus > world::kMaxGpus) {
            return InvalidArgument("installed GPUs must be from 0 to " +
                                   std::to_string(world::kMaxGpus));
          }
          return Status::Ok();
        } else if constexpr (std::is_same_v<C, cmd::SetSitePower>) {
          POLYCLOUD_RETURN_IF_ERROR(in_range(c.site, world_.sites.size(), "site"));
          if (c.power.watts() < 0 || c.power.watts() > world::kMaxSiteWatts) {
            return InvalidArgument("site power must be from 0 to " +
                                   std::to_string(world::kMaxSiteWatts) + " W");
          }
          return Status::Ok();
        } else if constexpr (std::is_same_v<C, cmd::FaultStarted> ||
                             std::is_same_v<C, cmd::FaultEnded>) {
          return in_range(c.fault, world_.faults.size(), "fault");
        } else if constexpr (std::is_same_v<C, cmd::JobStarted> ||
                             std::is_same_v<C, cmd::JobCompleted> ||
                             std::is_same_v<C, cmd::JobFailed>) {
          return run_report(c.job, c.at);
        } else if constexpr (std::is_same_v<C, cmd::DispatchFailed>) {
          return job_exists(c.job);
        } else if constexpr (std::is_same_v<C, cmd::Wake>) {
          if (c.kind == WakeKind::kContractTerms) {
            return in_range(c.index, world_.contracts.size(), "contract");
          }
          if (c.kind == WakeKind::kSpendMonth) return Status::Ok();  // a pass, at worst idle
          if (!world_.procurement.enabled) {
            return FailedPrecondition("wake: procurement is off in this scenario");
          }
          if (c.kind == WakeKind::kProcurementReview) return Status::Ok();
          return in_range(c.index, requests_.size(), "capacity request");
        } else if constexpr (std::is_same_v<C, cmd::RofrAnswered>) {
          POLYCLOUD_RETURN_IF_ERROR(in_range(c.request, requests_.size(), "capacity request"));
          const CapacityRequest& r = requests_[c.request];
          if (r.rofr_contract == world::kNone) {
            return FailedPrecondition("req-" + std::to_string(c.request + 1) +
                                      " was not offered under a right of first refusal");
          }
          if (r.status != CapacityRequest::Status::kAwaitingAnswer || c.offer < 0) {
            return Status::Ok();  // a decline, or an answer that came too late: ignored
          }
          POLYCLOUD_RETURN_IF_ERROR(in_range(c.offer, world_.procurement.offers.size(), "offer"));
          const world::Offer& o = world_.procurement.offers[c.offer];
          if (o.provider != r.holder) {
            return InvalidArgument("req-" + std::to_string(c.request + 1) + ": offer " + o.id +
                                   " is not the holder's (" + world_.providers[r.holder].id + ")");
          }
          const std::string why = OfferRejection(r, c.offer, MarketTerms(r), now);
          if (!why.empty()) {
            return InvalidArgument("req-" + std::to_string(c.request + 1) +
                                   ": the match does not meet the market's terms: " + why);
          }
          return Status::Ok();
        } else if constexpr (std::is_same_v<C, cmd::CapacityDelivered>) {
          POLYCLOUD_RETURN_IF_ERROR(in_range(c.request, requests_.size(), "capacity request"));
          if (requests_[c.request].status != CapacityRequest::Status::kAwarded) {
            return FailedPrecondition("req-" + std::to_string(c.request + 1) +
                                      " has no award waiting to be delivered");
          }
          return Status::Ok();
        } else if constexpr (std::is_same_v<C, cmd::AmendContract>) {
          return CheckAmendment(c, now);
        } else {
          return Status::Ok();  // ContractsChanged, Place
        }
      },
      command);
}

Status Scheduler::Apply(const Command& command, Time now) {
  POLYCLOUD_RETURN_IF_ERROR(Check(command, now));
  last_command_ = now;
  if (log_ != nullptr) log_->Append(now, command);
  // Is report `run` about job `j`'s current run?
  auto current = [&](JobId j, RunId run) {
    const JobState& s = jobs_[j.value];
    return s.status == JobStatus::kRunning && s.epoch == run.value;
  };
  std::visit(
      [&](const auto& c) {
        using C = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<C, cmd::JobArrived>) {
          JobArrived(c.job.value, now);
        } else if constexpr (std::is_same_v<C, cmd::SubmitJob>) {
          world::Job job = c.job;
          job.arrival = now;
          // A tenant declared in the scenario has a quota; others have none.
          if (job.tenant == world::kNone && !c.tenant.empty())
            job.tenant = world_.FindTenant(c.tenant);
          JobArrived(AddJob(std::move(job)), now);
        } else if constexpr (std::is_same_v<C, cmd::CancelJob>) {
          CancelJob(c.job.value, now);
        } else if constexpr (std::is_same_v<C, cmd::SubmitService>) {
          AddService(c.service, c.initial_demand_tokens_per_s, now);
        } else if constexpr (std::is_same_v<C, cmd::CancelService>) {
          CancelService(c.service.value, now);
        } else if constexpr (std::is_same_v<C, cmd::SetDemand>) {
          ServiceDemandChanged(c.service.value, c.tokens_per_s, now);
        } else if constexpr (std::is_same_v<C, cmd::SetPoolCapacity>) {
          installed_[c.pool] = c.installed_gpus;
          PoolInstalledChanged(c.pool, now);
        } else if constexpr (std::is_same_v<C, cmd::SetSitePower>) {
          SitePowerChanged(c.site, c.power, now);
        } else if constexpr (std::is_same_v<C, cmd::FaultStarted>) {
          FaultStarted(c.fault, now);
        } else if constexpr (std::is_same_v<C, cmd::FaultEnded>) {
          FaultEnded(c.fault, now);
        } else if constexpr (std::is_same_v<C, cmd::ContractsChanged>) {
          ContractsChanged(now);
        } else if constexpr (std::is_same_v<C, cmd::AmendContract>) {
          AmendContract(c.contract, c.terms, now);
        } else if constexpr (std::is_same_v<C, cmd::JobStarted>) {
          if (current(c.job, c.run)) allocs_.SetStart(jobs_[c.job.value].alloc, c.at);
        } else if constexpr (std::is_same_v<C, cmd::JobCompleted>) {
          if (current(c.job, c.run)) CompleteRun(c.job.value, c.at, now);
        } else if constexpr (std::is_same_v<C, cmd::JobFailed>) {
          if (current(c.job, c.run)) StopJob(c.job.value, StopReason::kInterrupted, 0, now, c.at);
        } else if constexpr (std::is_same_v<C, cmd::DispatchFailed>) {
          if (current(c.job, c.run)) StopJob(c.job.value, StopReason::kDispatchFailed, 0, now);
        } else if constexpr (std::is_same_v<C, cmd::RofrAnswered>) {
          if (requests_[c.request].status == CapacityRequest::Status::kAwaitingAnswer) {
            AnswerRofr(c.request, c.offer, c.reason, now);
          }
        } else if constexpr (std::is_same_v<C, cmd::CapacityDelivered>) {
          CapacityArrives(c.request, now);
        } else if constexpr (std::is_same_v<C, cmd::Wake>) {
          Wake(c.kind, c.index, now);
        } else if constexpr (std::is_same_v<C, cmd::Place>) {
          Schedule(now);
        }
      },
      command);
  // Services that lost replicas: short (or not) with what the command left them.
  for (size_t i = 0; i < shortness_pending_.size(); ++i) {
    UpdateShortness(shortness_pending_[i], now);
  }
  shortness_pending_.clear();
  return Status::Ok();
}

world::JobIndex Scheduler::AddJob(world::Job job) {
  const auto j = static_cast<world::JobIndex>(jobs_.size());
  runtime_job_ids_.emplace(job.id, j);
  runtime_jobs_.push_back(std::move(job));
  jobs_.emplace_back();
  jobs_.back().remaining_work = runtime_jobs_.back().work_gpu_seconds;
  RegisterShape(j);
  return j;
}

void Scheduler::AddService(world::Service service, int64_t demand, Time now) {
  const auto s = static_cast<world::ServiceIndex>(services_.size());
  runtime_service_ids_.emplace(service.id, s);
  runtime_services_.push_back(std::move(service));
  service_cancelled_.push_back(0);
  InitServiceState(s, demand, now);
  Emit({now, EventType::kServiceSubmitted, s, world::kNone, 0, demand, 0});
}

void Scheduler::CancelJob(world::JobIndex j, Time now) {
  JobState& s = jobs_[j];
  if (s.status == JobStatus::kRunning) {
    StopJob(j, StopReason::kCancelled, 0, now);
    return;
  }
  if (s.status == JobStatus::kQueued) Dequeue(j);
  s.status = JobStatus::kCancelled;
  s.reserved_pool = world::kNone;
  s.end = now;
  ++generation_;  // its hold, if it had one, is gone
  Emit({now, EventType::kJobCancelled, j, world::kNone, 0, 0, 0});
}

void Scheduler::CancelService(world::ServiceIndex s, Time now) {
  ServiceState& st = services_[s];
  IntegrateService(s, now);
  while (!st.replicas.empty()) StopReplica(st.replicas.back(), StopReason::kScaledDown, now);
  st.demand = 0;
  std::fill(st.lost_pending.begin(), st.lost_pending.end(), 0);
  UpdateShortness(s, now);
  service_cancelled_[s] = 1;
  Emit({now, EventType::kServiceCancelled, s, world::kNone, 0, 0, 0});
}

}  // namespace polycloud::scheduler
