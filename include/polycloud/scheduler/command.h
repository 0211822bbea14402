// Commands: the one vocabulary in which the outside world tells the scheduler
// core what happened. The simulator's models (src/sim), and later the live
// broker's drivers and API, speak only this; the core never reads a schedule
// to find out what changed, never predicts when a job ends and never answers
// for a provider. Every command carries the values it is about (GPUs
// installed, watts, tokens/s, the instant a job really ended).
//
//   scheduler.Apply(cmd::SubmitJob{job}, now);
//   scheduler.Apply(cmd::JobCompleted{id, run, at}, now);
//   scheduler.Apply(cmd::Place{}, now);      // a scheduling pass
//
// Every accepted command is appended, in order and stamped with the instant it
// was applied, to the scheduler's CommandLog when one is attached: replaying
// the log into a fresh core of the same World and options rebuilds the same
// state (src/scheduler/command_log.h).
//
// Thread-safety: plain values.
#ifndef POLYCLOUD_SCHEDULER_COMMAND_H_
#define POLYCLOUD_SCHEDULER_COMMAND_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "polycloud/base/units.h"
#include "polycloud/world/world.h"

namespace polycloud::scheduler {

// A job or service known to the scheduler: the static world's first, then the
// ones submitted at run time, in submission order. Strong types so that a job
// is never passed where a service (or a pool) is meant.
struct JobId {
  int32_t value = world::kNone;
  friend bool operator==(JobId a, JobId b) { return a.value == b.value; }
};
struct ServiceId {
  int32_t value = world::kNone;
  friend bool operator==(ServiceId a, ServiceId b) { return a.value == b.value; }
};
// One run of a job: bumped at every start and stop, so a report about an
// earlier run (a late completion of a preempted run) is recognised as stale.
struct RunId {
  uint32_t value = 0;
  friend bool operator==(RunId a, RunId b) { return a.value == b.value; }
};

// What a wake-up the core asked for (Timer::AtTime) is for.
enum class WakeKind : uint8_t {
  kProcurementReview,  // index unused
  kRofrWindowCloses,   // index = capacity request
  kCapacityEnds,       // index = capacity request: the procured term ends
  kContractTerms,      // index = contract: an amended term or clause starts or ends
  kSpendMonth,         // index unused: a UTC month begins while a spend quota holds work
};

namespace cmd {

// A job of the static world arrives (the simulator's arrival stream).
struct JobArrived {
  JobId job;
};
// A new job at run time. Its id must be unused; it arrives now (its
// `arrival` is overwritten with the instant the command is applied).
// `tenant` and `client_key` are the live broker's (who submitted it, and the
// client's idempotency key): the core ignores them, the log keeps them, so a
// restart knows whose work it is and which keys were used.
struct SubmitJob {
  world::Job job;
  std::string tenant = {};
  std::string client_key = {};
};
// Withdraws a job: a queued job leaves the queue, a running one is stopped
// (its GPUs are billed up to now). Cancelling a finished job is an error.
struct CancelJob {
  JobId job;
};
// A new inference service at run time, scaled from `initial_demand`.
struct SubmitService {
  world::Service service;
  int64_t initial_demand_tokens_per_s = 0;
};
// Stops every replica of a service and scales it no more.
struct CancelService {
  ServiceId service;
};
// Measured (or forecast) demand of a service now.
struct SetDemand {
  ServiceId service;
  int64_t tokens_per_s = 0;
};
// A pool's installed GPUs now, apart from procured capacity (a ramp step, a
// site reporting drained or returned nodes). Work above capacity is evicted.
struct SetPoolCapacity {
  world::PoolIndex pool = world::kNone;
  int64_t installed_gpus = 0;
};
// A site's facility power limit now.
struct SetSitePower {
  world::SiteIndex site = world::kNone;
  Power power;
};
struct FaultStarted {
  world::FaultIndex fault = world::kNone;
};
struct FaultEnded {
  world::FaultIndex fault = world::kNone;
};
// A contract term or exclusivity clause started or ended.
struct ContractsChanged {};
// Contract `contract`'s terms are replaced from now on (a signed amendment):
// its end, commitment, take-or-pay, discount, minimums, exclusivity and
// right-of-first-refusal clauses. Its id, provider and start stay; minimums
// that began before now must be unchanged (spend already counted against
// them stands), and the end may not be before now. Needs a core that may
// amend its World (Scheduler::AllowAmendments).
struct AmendContract {
  world::ContractIndex contract = world::kNone;
  world::Contract terms;
};
// The site started run `run` of a job at `at` (<= now); work is counted from
// `at`. Without it the run counts from its dispatch.
struct JobStarted {
  JobId job;
  RunId run;
  Time at;
};
// Run `run` of a job ended with all its work done at `at` (<= now; not
// before the run's start). A report about a run that is no longer current is
// ignored.
struct JobCompleted {
  JobId job;
  RunId run;
  Time at;
};
// Run `run` failed at the site at `at`: work since the last checkpoint is
// lost and the job is queued again.
struct JobFailed {
  JobId job;
  RunId run;
  Time at;
};
// Run `run` could not be handed to its site: nothing ran, nothing is lost,
// the job is queued again.
struct DispatchFailed {
  JobId job;
  RunId run;
};
// The holder of a right of first refusal answers capacity request `request`
// (index, in the order requests were raised): with one of its offers that
// matches the market's terms (`offer` >= 0), or declines (`offer` = -1) for
// `reason`. An answer to a request no longer awaiting one is ignored.
struct RofrAnswered {
  int32_t request = -1;
  int32_t offer = -1;
  std::string reason;
};
// The capacity awarded for request `request` is delivered and usable now.
struct CapacityDelivered {
  int32_t request = -1;
};
// A wake-up the core asked for through Timer::AtTime is due.
struct Wake {
  WakeKind kind = WakeKind::kProcurementReview;
  int32_t index = 0;
};
// Places what can be placed now: services first, then the job queue.
struct Place {};

}  // namespace cmd

using Command =
    std::variant<cmd::JobArrived, cmd::SubmitJob, cmd::CancelJob, cmd::SubmitService,
                 cmd::CancelService, cmd::SetDemand, cmd::SetPoolCapacity, cmd::SetSitePower,
                 cmd::FaultStarted, cmd::FaultEnded, cmd::ContractsChanged, cmd::JobStarted,
                 cmd::JobCompleted, cmd::JobFailed, cmd::DispatchFailed, cmd::RofrAnswered,
                 cmd::CapacityDelivered, cmd::Wake, cmd::Place, cmd::AmendContract>;

// A command as it was accepted: the instant it was applied at.
struct LoggedCommand {
  Time at;
  Command command;
};

// "job-arrived", "submit-job", ... (the log's and the docs' name of a command).
const char* CommandName(const Command& command);
// "procurement-review", "rofr-answer", ... ; ParseWakeKind is its inverse.
const char* WakeKindName(WakeKind kind);
bool ParseWakeKind(std::string_view name, WakeKind* kind);

// Receives every command the core accepted, in order. Implementations must not
// call back into the scheduler.
class CommandLog {
 public:
  virtual ~CommandLog() = default;
  virtual void Append(Time now, const Command& command) = 0;
};

}  // namespace polycloud::scheduler

#endif  // POLYCLOUD_SCHEDULER_COMMAND_H_
