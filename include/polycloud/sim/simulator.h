// Simulator: replays a World on a virtual clock, deterministically.
//
// Every change in the world is an event at an exact second: job arrivals (a
// pre-sorted stream, never copied into the heap), capacity ramp steps, site
// power steps, demand steps, faults starting and ending, contract and
// exclusivity boundaries, the scheduler's own wake-ups, and the ends of runs.
// Each reaches the scheduler as the command a live driver would send
// (scheduler/command.h), with the value read from the World's schedules. The
// simulator is also the world's model of the sites: its completion model
// decides when a started run ends (work ÷ the gang's speed) and reports it
// with cmd::JobCompleted. All events at one instant are applied, then the
// scheduler places work once (cmd::Place); an instant whose only events are
// reports about runs that were stopped meanwhile wakes nothing. Ties are
// broken by insertion order, so the same World gives the same run, byte for
// byte.
//
// Restore: a run's command log (AttachLog) cut after any instant's
// cmd::Place, replayed with Restore() into a fresh Simulator of the same
// World and options, leaves it where the first run was; Run() then continues
// and ends exactly as the uninterrupted run (observers added before Restore
// see the whole run's events).
//
//   sim::Simulator sim(world, options);
//   sim.AddObserver(&log);
//   sim::RunStats stats = sim.Run();
//
// Thread-safety: not thread-safe.
#ifndef POLYCLOUD_SIM_SIMULATOR_H_
#define POLYCLOUD_SIM_SIMULATOR_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <vector>

#include "polycloud/base/clock.h"
#include "polycloud/scheduler/command_log.h"
#include "polycloud/scheduler/scheduler.h"
#include "polycloud/sim/event_queue.h"
#include "polycloud/world/world.h"

namespace polycloud::sim {

struct Progress {
  Time now;
  int64_t events = 0;
};

struct Options {
  scheduler::Options scheduler;
  // Stop at this instant instead of the world's end (for `explain --at`).
  std::optional<Time> stop_at;
  // Called about every `progress_every` events (the caller decides whether to show it).
  std::function<void(const Progress&)> progress;
  int64_t progress_every = 1 << 16;
};

struct RunStats {
  int64_t events = 0;            // simulator events processed (incl. arrivals)
  int64_t scheduler_events = 0;  // events the scheduler reported
  Time end;
};

class Simulator final : public scheduler::Timer, private scheduler::Observer {
 public:
  using LoggedCommand = scheduler::LoggedCommand;

  Simulator(const world::World& world, Options options);

  // Observers see every scheduler event in order; they must outlive Run().
  void AddObserver(scheduler::Observer* observer) { observers_.push_back(observer); }
  // Asks the scheduler to keep full explanations for one workload.
  void Watch(world::WorkloadKind kind, int32_t index) { scheduler_.Watch(kind, index); }

  // Runs to the end (or stop_at), from the start or from where Restore left it.
  RunStats Run();
  // Lets a restored log amend contracts (cmd::AmendContract): `world` is the
  // World this simulator was built on, which the amendments then change.
  void AllowAmendments(world::World* world) { scheduler_.AllowAmendments(world); }
  // Every command the scheduler accepts goes to `log` (null: none).
  void AttachLog(scheduler::CommandLog* log) { scheduler_.AttachLog(log); }
  // Replays `commands` (a prefix of an earlier run's log of this World and
  // options, ending with an instant's cmd::Place) into this fresh simulator.
  // Errors: FailedPrecondition when the simulator has already run or the
  // log does not end with a pass; a command's own error, naming its position.
  Status Restore(const std::vector<LoggedCommand>& commands);

  const scheduler::Scheduler& scheduler() const { return scheduler_; }
  // The scheduler for explain on demand (Scheduler::ExplainNow changes no
  // decision); commands go through the simulator, never here.
  scheduler::Scheduler& scheduler_for_explain() { return scheduler_; }
  Time end() const { return end_; }

  void AtTime(Time at, scheduler::WakeKind kind, int32_t index) override;

 private:
  enum class Kind : uint8_t {
    kFinish,
    kPoolRamp,
    kSitePower,
    kDemand,
    kFaultStart,
    kFaultEnd,
    kContracts,
    kWake,             // epoch = scheduler::WakeKind
    kRofrAnswer,       // the holder's answer to a capacity request is due
    kCapacityArrives,  // awarded capacity is delivered
  };
  void Push(Time at, Kind kind, int32_t index, uint32_t epoch = 0);
  // Applies the event whose queue payload is `payload` (kind, index, epoch);
  // false when it was a report about a run that is no longer current.
  bool Apply(Time at, uint64_t payload);
  void Send(const scheduler::Command& command, Time now);
  void OnEvent(const scheduler::Event& event) override;
  // Drops the queued events up to `t` (restore: the log holds what they did).
  void DiscardThrough(Time t);

  const world::World& world_;
  Options options_;
  Time end_;
  VirtualClock clock_;
  std::vector<scheduler::Observer*> observers_;
  scheduler::Scheduler scheduler_;
  EventQueue heap_;
  int64_t scheduler_events_ = 0;
  size_t next_job_ = 0;          // the next static job to arrive
  bool started_ = false;         // the first pass (at the world's start) is done
  int64_t restored_events_ = 0;  // simulator events of the run a Restore replayed
};

// Writes one line per scheduler event, stamped with simulated time:
//   2026-03-10T06:00:00Z replica-lost consumer-chat pool=azure-eastus-h100 gpus=8
// This is the golden-file format (tests/scenarios/*.events).
class EventLogWriter final : public scheduler::Observer {
 public:
  EventLogWriter(const world::World& world, std::ostream& out) : world_(world), out_(out) {}
  // With the scheduler, procurement lines also say why an offer was declined.
  EventLogWriter(const scheduler::Scheduler& scheduler, const world::World& world,
                 std::ostream& out)
      : world_(world), out_(out), scheduler_(&scheduler) {}
  void OnEvent(const scheduler::Event& event) override;
  // Only events about this workload (for `explain`); kNone = all.
  // (Jobs and services submitted at run time are named only when the writer
  // was given the scheduler.)
  void FilterTo(bool service, int32_t index) {
    filter_service_ = service;
    filter_index_ = index;
  }

 private:
  const world::World& world_;
  std::ostream& out_;
  const scheduler::Scheduler* scheduler_ = nullptr;
  bool filter_service_ = false;
  int32_t filter_index_ = world::kNone;
};

// Aggregates that are counted from the event stream itself rather than taken
// from the scheduler's word: exclusivity is re-checked on every start,
// independently of the placement filter.
class Audit final : public scheduler::Observer {
 public:
  explicit Audit(const world::World& world);
  // With the scheduler, jobs and services submitted at run time are audited too.
  Audit(const scheduler::Scheduler& scheduler, const world::World& world);
  void OnEvent(const scheduler::Event& event) override;

  struct Counts {
    int64_t job_starts = 0;
    int64_t job_finishes = 0;
    int64_t preemptions = 0;
    int64_t interruptions = 0;
    int64_t replica_starts = 0;
    int64_t replicas_lost = 0;
    int64_t failovers = 0;
    int64_t faults = 0;
    int64_t exclusivity_violations = 0;
    int64_t exclusivity_exceptions = 0;
    int64_t lost_work_gpu_seconds = 0;
  };
  const Counts& counts() const { return counts_; }
  // Human lines for each violation found (empty when compliant).
  const std::vector<std::string>& violations() const { return violations_; }
  // Per provider: replica starts of each service that replaced a lost replica.
  const std::vector<std::vector<int64_t>>& failovers_to_provider() const { return failovers_to_; }

 private:
  const world::World& world_;
  const scheduler::Scheduler* scheduler_ = nullptr;
  contracts::ExclusivityRules rules_;
  std::vector<uint8_t> provider_outage_;
  std::vector<int32_t> provider_outage_count_;
  Counts counts_;
  std::vector<std::string> violations_;
  std::vector<std::vector<int64_t>> failovers_to_;  // [service][provider]
};

}  // namespace polycloud::sim

#endif  // POLYCLOUD_SIM_SIMULATOR_H_
