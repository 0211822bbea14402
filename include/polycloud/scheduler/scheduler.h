// Scheduler: the event-driven core shared by the simulator and the live
// broker. It owns the workload registry (the static world's jobs and services
// and those submitted at run time), the queue, the allocations and the
// FleetState, and decides with the placement pipeline; it never reads a clock.
// Its owner tells it what happened, as value-carrying commands (command.h),
// and asks for a scheduling pass with cmd::Place; the scheduler reports every
// state change to its Observer and asks its Timer only for its own deadlines
// (procurement reviews, ROFR windows). When a started job ends is not its to
// predict: a driver (the simulator's completion model, a site) says so.
//
//   Scheduler s(world, options, start, &timer, &observer);
//   s.Apply(cmd::JobArrived{JobId{j}}, now); s.Apply(cmd::Place{}, now);
//   ... the site reports: s.Apply(cmd::JobCompleted{JobId{j}, run, at}, t);
//
// Work is in reference GPU-seconds; a gang of g GPUs of speed v (thousandths
// of H100) does g·v/1000 reference GPU-seconds per second. An interruption
// (preemption, fault, capacity cut) keeps the work up to the last checkpoint
// and requeues the job. Services are scaled to demand replica by replica.
//
// Thread-safety: not thread-safe; one owner drives it.
#ifndef POLYCLOUD_SCHEDULER_SCHEDULER_H_
#define POLYCLOUD_SCHEDULER_SCHEDULER_H_

#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "polycloud/base/status.h"
#include "polycloud/contracts/exclusivity.h"
#include "polycloud/contracts/ledger.h"
#include "polycloud/placement/fleet_state.h"
#include "polycloud/placement/pipeline.h"
#include "polycloud/scheduler/allocation_table.h"
#include "polycloud/scheduler/command.h"
#include "polycloud/world/world.h"

namespace polycloud::scheduler {

enum class EventType : uint8_t {
  kJobArrived,        // subject = job
  kJobStarted,        // subject = job, pool, gpus, value = expected run seconds, aux = run id
  kJobFinished,       // subject = job, pool
  kJobPreempted,      // subject = job, pool, value = lost reference GPU-seconds, aux = preemptor
                      // job/service
  kJobInterrupted,    // subject = job, pool, value = lost reference GPU-seconds (fault, cut, power,
                      // contract)
  kReplicaStarted,    // subject = service, pool, gpus, value = tokens/s, aux = 1 replaces a lost
                      // replica at the same provider, 2 fails over from another provider, 3
                      // moves from another pool (rebalance; kReplicaMoved follows)
  kReplicaStopped,    // subject = service, pool (scaled down; aux 1: moved to another pool)
  kReplicaLost,       // subject = service, pool (fault, cut, power, contract)
  kServiceShort,      // subject = service, value = demand, aux = capacity (tokens/s): cannot meet
                      // demand
  kServiceRecovered,  // subject = service: demand met again
  kPoolCapacity,      // subject = pool, value = usable GPUs, aux = installed
  kSitePower,         // subject = site, value = watts
  kFaultStarted,      // subject = fault
  kFaultEnded,        // subject = fault
  kContractsChanged,  // a contract term or exclusivity clause started or ended
  kExclusivityException,  // subject = job or service (aux 0 job, 1 service), pool: ran via an
                          // outage exception
  // Procurement (subject = capacity request index, see CapacityRequest).
  kCapacityRequested,    // gpus, value = waiting jobs, aux = oldest waiting job
  kRofrOffered,          // gpus, value = window closes (unix s), aux = contract
  kRofrMatched,          // pool (the holder's offer pool), gpus, aux = contract
  kRofrDeclined,         // aux = contract; CapacityRequest::decline_reason says why
  kRofrExpired,          // aux = contract: no answer before the window closed
  kCapacityAwarded,      // pool, gpus, value = price µ$/GPU-h, aux = 1 via ROFR, 0 market
  kCapacityUnavailable,  // gpus: no provider can supply it
  kCapacityArrived,      // pool, gpus
  kCapacityReleased,     // pool, gpus: the procured term ended
  // Run-time changes of the workload registry.
  kJobCancelled,      // subject = job, pool (kNone when it was queued), gpus
  kServiceSubmitted,  // subject = service
  kServiceCancelled,  // subject = service
  kDispatchFailed,    // subject = job, pool, gpus: the run never started
  kContractAmended,   // subject = contract: its terms were replaced (cmd::AmendContract)
  // Rebalance (Options::rebalance): a replica moved to cheaper capacity. The
  // new replica's kReplicaStarted (aux 3) and the old one's kReplicaStopped
  // (aux 1) come just before, in that order (make-before-break). subject =
  // service, pool = where it moved, gpus, value = the saving over the horizon
  // (µ$), aux = the pool it left. Scheduler::moves() has the figures.
  kReplicaMoved,
};
const char* EventTypeName(EventType type);

struct Event {
  Time at;
  EventType type;
  int32_t subject = world::kNone;
  world::PoolIndex pool = world::kNone;
  int64_t gpus = 0;
  int64_t value = 0;
  int64_t aux = 0;
};

class Observer {
 public:
  virtual ~Observer() = default;
  virtual void OnEvent(const Event& event) = 0;
};

// Calls the scheduler back (with cmd::Wake) at the instants it asks for.
class Timer {
 public:
  virtual ~Timer() = default;
  virtual void AtTime(Time at, WakeKind kind, int32_t index) = 0;
};

// Spend quotas count in "raw" units of milli-GPU-seconds × micro-dollars per
// GPU-hour, exact until read (rounded once to Money).
using SpendRaw = __int128;

// A UTC calendar month, [start, end): what a spend quota counts over.
struct SpendMonth {
  int64_t year = 0;
  unsigned month = 0;  // 1-12
  Time start, end;
  std::string Label() const;  // "2026-01"
};
SpendMonth SpendMonthOf(Time t);

// The job queue's order and what a job that does not fit does to the rest.
// Services are placed before jobs under every policy.
enum class Policy {
  kPriority,  // highest priority first, then arrival; later jobs backfill around blocked ones
  kFifo,      // arrival order; the first job that does not fit blocks the rest
  // Shortest job first: by known duration on the reference accelerator,
  // work / gpus (reference seconds), then arrival; jobs that do not fit are
  // skipped and shorter-or-later ones backfill. Non-preemptive.
  kSjf,
  // Shortest remaining time first: as SJF by remaining work / gpus, and
  // preemptive: a queued job that cannot otherwise fit may preempt running jobs
  // with strictly more remaining time (longest remaining first). Jobs preempted
  // under SRTF lose no work (they are taken to checkpoint continuously).
  kSrtf,
};
// "priority", "fifo", "sjf", "srtf". Errors: InvalidArgument naming them.
Result<Policy> ParsePolicy(std::string_view name);
const char* PolicyName(Policy policy);

// Rebalance (src/scheduler/rebalance.cc): service replicas on capacity that
// costs at the margin return to cheaper capacity (prepaid, reserved,
// committed) when it has room, make-before-break, within a budget of moves.
struct RebalanceOptions {
  bool enabled = true;
  // At the first pass at least this long after the last rebalance.
  Duration every = Duration::Hours(1);
  // A move must save at least `min_saving` over `horizon`: (the old pool's
  // marginal price × its GPUs − the new pool's × its GPUs) × horizon, exact.
  Duration horizon = Duration::Days(7);
  Money min_saving = Money::FromDollars(1000);
  // At most this many moves per rebalance.
  int32_t max_moves = 100;
  // A replica is not moved until it has run this long where it is.
  Duration min_dwell = Duration::Hours(6);
};

struct Options {
  Policy policy = Policy::kPriority;
  // Consolidated placement: a job takes as few nodes as possible
  // (placement::PlacerOptions::consolidate).
  bool consolidate = false;
  // How work is placed on a pool's nodes (placement/nodes.h): best fit by
  // default; kPooled treats each pool as one bag of GPUs (no nodes).
  placement::NodePolicy nodes = placement::NodePolicy::kBestFit;
  // How the marginal-cost scorer values a GPU-hour.
  contracts::CostModel cost_model = contracts::CostModel::kContractAware;
  // Batch re-optimisation (src/scheduler/reoptimize.cc): at the first pass at
  // least this long after the last one, the whole queue is solved as a
  // min-cost flow (optimize::SolveBatch) over the free GPUs, and the jobs it
  // places start where it puts them — each start still through every
  // placement filter — before the policy's pass places the rest. 0 = never.
  Duration reoptimize_every;
  // Keep a DecisionRecord of every start, for explain on demand in a
  // long-running broker; off in simulations (10M records). The latest
  // record of each workload is kept (LastDecision: one per workload, like its
  // state), and the log of starts in order (Scheduler::decisions) is a ring
  // of the latest `decision_log_limit` (> 0), so a broker that runs for
  // months, restarting work after every preemption and fault, holds a
  // bounded log.
  bool record_decisions = false;
  size_t decision_log_limit = 65536;
  // Moving replicas back to prepaid or cheaper capacity. Only under the
  // contract-aware cost model: cheapest-price, the SkyPilot-style baseline,
  // places once and never migrates.
  RebalanceOptions rebalance;
};

// Sets the queue policy and cost model from a --policy name: priority, fifo,
// sjf, srtf (contract-aware cost), or cheapest-price (priority queue, the
// SkyPilot-style list-price baseline). Errors: InvalidArgument naming them.
Status SetPolicy(std::string_view name, Options* options);
// Sets the node policy from its name (placement::ParseNodePolicy); "" keeps
// the default. Errors: InvalidArgument naming the choices.
Status SetNodeChoice(std::string_view name, Options* options);
// The name SetPolicy takes for `options` ("cheapest-price" or the queue policy).
std::string PolicyLabel(const Options& options);

// A capacity request raised by the planner for a capacity class whose demand
// stayed unmet, and what became of it (docs/contracts.md).
struct CapacityRequest {
  enum class Answer : uint8_t { kNone, kMatched, kDeclined, kExpired };
  enum class Status : uint8_t { kAwaitingAnswer, kAwarded, kUnavailable, kArrived, kEnded };
  int32_t shape = -1;       // job shape (class, model family, allowed accelerators)
  int64_t gang_bucket = 0;  // the class's gangs are at most this (a power of two)
  int64_t gpus = 0;         // GPUs asked for: enough to clear the backlog in unmet_after
  int64_t largest_gang = 0;
  int32_t waiting_jobs = 0;
  world::JobIndex oldest_job = world::kNone;
  Time raised;
  Duration duration;  // how long the capacity is wanted (procurement term)
  // Right of first refusal, when a clause applied.
  world::ContractIndex rofr_contract = world::kNone;
  int32_t rofr_clause = -1;
  world::ProviderIndex holder = world::kNone;
  Time window_closes;
  Time answered = Time::Min();  // when the holder's answer came (kMatched, kDeclined)
  int32_t market_offer = -1;    // best other offer when offered: the terms to match
  int64_t market_gpus = 0;      // GPUs that offer would supply
  Answer answer = Answer::kNone;
  std::string decline_reason;
  // The award.
  Status status = Status::kAwaitingAnswer;
  int32_t offer = -1;
  world::PoolIndex pool = world::kNone;
  Money price_per_gpu_hour;
  int64_t awarded_gpus = 0;
  bool via_rofr = false;
  Time awarded, arrives, ends;  // arrives: expected at the award, actual on delivery
  int32_t account = -1;         // ledger account billing the award
};

enum class JobStatus : uint8_t { kNotArrived, kQueued, kRunning, kDone, kCancelled };

// One per job of the world (a million at the seeds' scale): the 8-byte
// fields first, so the record packs into 96 bytes.
struct JobState {
  int64_t remaining_work = 0;  // reference GPU-seconds
  Time first_start = Time::Min();
  Time end = Time::Min();
  int64_t lost_work = 0;    // reference GPU-seconds lost to interruptions
  int64_t gpu_seconds = 0;  // GPU-seconds allocated over all runs
  uint64_t failed_generation = ~0ULL;
  Time queued_since = Time::Min();  // when it last entered the queue (procurement)
  int32_t alloc = -1;
  uint32_t epoch = 0;  // the run id: bumped on every start/stop; stale reports are ignored
  int32_t starts = 0;
  int32_t interruptions = 0;
  int32_t preemptions = 0;
  world::PoolIndex last_pool = world::kNone;
  int32_t providers_used_mask = 0;                // bit per provider (first 31), to count moves
  world::PoolIndex reserved_pool = world::kNone;  // pool held while it waits (priority policy)
  JobStatus status = JobStatus::kNotArrived;
};
static_assert(sizeof(JobState) <= 96);

struct ServiceState {
  std::vector<int32_t> replicas;      // allocation ids
  std::vector<int32_t> per_provider;  // replicas at each provider
  int64_t capacity = 0;               // tokens/s of the live replicas
  int64_t demand = 0;                 // tokens/s asked now
  int64_t served_token_seconds = 0;   // ∫ min(capacity, demand)
  int64_t demand_token_seconds = 0;   // ∫ demand
  int64_t short_seconds = 0;          // time with capacity < demand
  Time integrated_to;
  bool short_now = false;
  std::vector<int32_t>
      lost_pending;       // lost replicas not yet replaced, by the provider they were lost at
  int32_t replaced = 0;   // lost replicas replaced anywhere
  int32_t failovers = 0;  // lost replicas replaced at another provider
  int32_t replicas_lost = 0;
  int32_t peak_replicas = 0;
  uint64_t failed_generation = ~0ULL;
  bool may_shrink = true;  // demand fell or replicas changed since the last scale-down check
  int64_t min_replica_tokens = 1;  // tokens/s of a replica on the slowest allowed accelerator
  // The pools its replicas run in, with how many in each (the rebalance's
  // index: a service's few pools, not its thousands of replicas).
  std::vector<std::pair<world::PoolIndex, int32_t>> pools;
  void CountPool(world::PoolIndex pool, int32_t delta) {
    for (auto it = pools.begin(); it != pools.end(); ++it) {
      if (it->first != pool) continue;
      it->second += delta;
      if (it->second == 0) pools.erase(it);
      return;
    }
    pools.emplace_back(pool, delta);
  }
};

class Scheduler final : public placement::PreemptionOracle, public placement::NodeRanker {
 public:
  Scheduler(const world::World& world, Options options, Time start, Timer* timer,
            Observer* observer);
  // The fleet state holds a pointer back (its NodeRanker): not copyable or movable.
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // The one input: applies `command` at `now` (never earlier than the last
  // command's instant) and appends it to the attached log. Errors, with
  // nothing changed and nothing logged: InvalidArgument for a malformed
  // submission (bad gang, work, accelerator, priority; a duplicate id),
  // NotFound for an unknown job, service, pool, site or fault,
  // FailedPrecondition for a command the workload's state does not allow
  // (cancelling a finished job; a time before the run started or after now).
  // A report about a run that is no longer current is accepted and ignored.
  Status Apply(const Command& command, Time now);
  // Every accepted command goes to `log` from now on (null: none).
  void AttachLog(CommandLog* log) { log_ = log; }
  // Settles every integral up to `end` (running work is accounted to `end`).
  void Finish(Time end);

  // The workload registry: the static world's jobs and services, then those
  // submitted at run time (JobId/ServiceId index it). References stay valid.
  const world::Job& job_spec(world::JobIndex j) const {
    return j < static_jobs_ ? world_.jobs[j] : runtime_jobs_[j - static_jobs_];
  }
  const world::Service& service_spec(world::ServiceIndex s) const {
    return s < static_services_ ? world_.services[s] : runtime_services_[s - static_services_];
  }
  int32_t job_count() const { return static_cast<int32_t>(jobs_.size()); }
  int32_t service_count() const { return static_cast<int32_t>(services_.size()); }
  // kNone when no job (service) has that id.
  world::JobIndex FindJob(std::string_view id) const;
  world::ServiceIndex FindService(std::string_view id) const;
  // Reference seconds a run of `work` reference GPU-seconds takes on `gpus`
  // GPUs of `speed_milli`: the expected duration, at least 1 s.
  static int64_t RunSeconds(int64_t work, int64_t gpus, int64_t speed_milli);

  // Keeps a full explanation of every placement attempt of one workload.
  void Watch(world::WorkloadKind kind, int32_t index);
  struct WatchedDecision {
    placement::Explanation explanation;
    bool placed = false;
    std::string node;     // the node(s) the start took and why (with nodes; empty otherwise)
    int32_t repeats = 1;  // identical consecutive blocked attempts folded together
    Time last_at;
  };
  const std::vector<WatchedDecision>& watched() const { return watched_; }

  // Explain on demand, from the current state: every pool's verdict and
  // score for placing the workload's gang (a job) or one more replica (a
  // service) at `now`, decided as a pass would but bound nowhere — where it
  // would go, or what holds it back. Changes no decision (the placer's scratch
  // state only). The workload must exist (JobId/ServiceId range).
  WatchedDecision ExplainNow(world::WorkloadKind kind, int32_t index, Time now);

  // The decision log, when Options::record_decisions is set: the latest
  // Options::decision_log_limit starts of jobs and replicas, oldest first;
  // decisions_recorded() counts every start recorded (the ones the ring
  // dropped too).
  struct DecisionRecord {
    Time at;
    bool service = false;
    int32_t index = world::kNone;
    world::PoolIndex pool = world::kNone;
    int64_t gpus = 0;
    int64_t total_score = 0;  // millionths per weight, as explain prints
    bool preempted = false;   // it started by preempting lower-priority work
  };
  const std::deque<DecisionRecord>& decisions() const { return decisions_; }
  int64_t decisions_recorded() const { return decisions_recorded_; }
  // The latest record about a workload, or null (kept when the ring has
  // dropped it).
  const DecisionRecord* LastDecision(bool service, int32_t index) const;

  const world::World& world() const { return world_; }
  const placement::FleetState& fleet() const { return fleet_; }
  const std::vector<JobState>& jobs() const { return jobs_; }
  const std::vector<ServiceState>& services() const { return services_; }
  // Who holds which GPUs now (ServiceState::replicas and JobState::alloc index it).
  const AllocationTable& allocations() const { return allocs_; }
  size_t queued() const { return queue_.size(); }
  // Passes that skipped the jobs a previous quiet pass had already found
  // blocked (nothing changed since for them); see PlaceQueue.
  int64_t quiet_passes() const { return quiet_passes_; }
  int64_t placement_attempts() const { return attempts_; }
  const contracts::CommitmentLedger& ledger() const { return ledger_; }
  const std::vector<CapacityRequest>& requests() const { return requests_; }
  // The allowed accelerators, class and model family of job shape `shape`
  // (CapacityRequest::shape), via a job of that shape.
  world::JobIndex ShapeExample(int32_t shape) const { return shape_example_[shape]; }
  int32_t JobShape(world::JobIndex job) const { return job_shape_[job]; }
  // Batch re-optimisations run, and jobs started by them.
  int64_t reoptimizations() const { return reoptimizations_; }
  int64_t reoptimized_starts() const { return reoptimized_starts_; }
  // Replica moves made by the rebalance (Options::rebalance), in order.
  struct Move {
    Time at;
    world::ServiceIndex service = world::kNone;
    world::PoolIndex from = world::kNone, to = world::kNone;
    int64_t gpus_from = 0, gpus_to = 0;
    // Marginal prices per GPU-hour (this run's cost model) when it moved.
    Money price_from, price_to;
    Money saving;  // over Options::rebalance.horizon
  };
  const std::vector<Move>& moves() const { return moves_; }
  const Options& options() const { return options_; }
  // Re-optimisations skipped because the queue's figures do not fit the
  // optimiser's arithmetic (optimize::CheckMagnitudes), and the last reason.
  int64_t reoptimizations_skipped() const { return reoptimizations_skipped_; }
  const std::string& reoptimize_skip_reason() const { return reoptimize_skip_reason_; }

  // The holder's best offer that matches the market's terms for capacity
  // request `request` now, or -1 with the first reason an offer fell short in
  // `why` (the simulator's model of an ROFR holder's answer).
  int32_t HolderOffer(int32_t request, Time now, std::string* why) const;

  // Tenant quotas (world::Tenant): GPUs held now by a tenant's running jobs,
  // in all and per class limit (the index of world::Tenant::class_max_gpus).
  int64_t TenantGpus(world::TenantIndex t) const { return tenant_gpus_[t]; }
  int64_t TenantClassGpus(world::TenantIndex t, size_t limit) const {
    return tenant_class_gpus_[t][limit];
  }
  // Why job `j` must wait for its tenant's quota now ("" when it need not):
  // "tenant research: 512 of its 512 GPUs in use, this job needs 8 more", or,
  // for a spend quota (as of the last pass that weighed it), "tenant research:
  // spent $A of $B this month (2026-01), $C more committed to its running
  // jobs, this job needs $D more in POOL by the month's end".
  std::string QuotaHold(world::JobIndex j) const;

  // A tenant's spend against its monthly quota (world::Tenant, quota.cc) in
  // the UTC month of `now` (>= the last command): in all (`limit` -1) or
  // for the class limit `limit` (index of class_spend_per_month). `spent` is
  // what its jobs accrued in the month up to `now`; `committed` what its
  // running jobs are expected to cost from `now` to the month's end.
  struct SpendUsage {
    SpendMonth month;
    Money limit;  // 0: no limit
    Money spent;
    Money committed;
  };
  SpendUsage TenantSpend(world::TenantIndex t, int32_t limit, Time now) const;

  // Lets cmd::AmendContract replace contract terms in `world`, which must be
  // the World this core was built on (the driver owns it; the ledger, the
  // exclusivity rules, the placer and the report read the amended terms).
  // Without it an amendment is refused (FailedPrecondition).
  void AllowAmendments(world::World* world);

  int64_t ReclaimableGpus(world::PoolIndex pool, int32_t priority, int64_t need) const override;
  bool ShapeReclaimable(world::PoolIndex pool, int32_t priority,
                        const placement::NodeShape& need) const override;
  // The pools holding preemptible work; null under SRTF (any job may then be
  // preempted by a shorter one).
  const std::vector<world::PoolIndex>* CandidatePools() const override;

 private:
  // Command handlers (Apply dispatches; each assumes its command is valid).
  void JobArrived(world::JobIndex job, Time now);
  void CompleteRun(world::JobIndex job, Time at, Time now);
  void PoolInstalledChanged(world::PoolIndex pool, Time now);
  void SitePowerChanged(world::SiteIndex site, Power power, Time now);
  void ServiceDemandChanged(world::ServiceIndex service, int64_t demand, Time now);
  void FaultStarted(world::FaultIndex fault, Time now);
  void FaultEnded(world::FaultIndex fault, Time now);
  void ContractsChanged(Time now);
  void Wake(WakeKind kind, int32_t index, Time now);
  // A pass: services, the re-optimiser, then the job queue (PlaceQueue).
  void Schedule(Time now);
  void PlaceQueue(Time now);
  Status Check(const Command& command, Time now) const;
  Status CheckJobSpec(const world::Job& job) const;
  Status CheckServiceSpec(const world::Service& service) const;
  world::JobIndex AddJob(world::Job job);
  void AddService(world::Service service, int64_t demand, Time now);
  void CancelJob(world::JobIndex job, Time now);
  void CancelService(world::ServiceIndex service, Time now);
  void JobStartedAt(world::JobIndex job, Time at);
  void FailRun(world::JobIndex job, Time at, bool dispatch_failed, Time now);

  struct QueueKey {
    int64_t k1, k2;
    world::JobIndex job;
    bool operator<(const QueueKey& o) const {
      return k1 != o.k1 ? k1 < o.k1 : k2 != o.k2 ? k2 < o.k2 : job < o.job;
    }
  };
  enum class StopReason { kPreempted, kInterrupted, kScaledDown, kCancelled, kDispatchFailed };

  QueueKey KeyOf(world::JobIndex j) const;
  placement::Context MakeContext(Time now) const;
  placement::Request JobRequest(world::JobIndex j) const;
  placement::Request ReplicaRequest(world::ServiceIndex s) const;
  // Places `req`; when `watched`, records the full explanation (its label is
  // built from the request only then, so unwatched decisions allocate nothing).
  placement::Decision Decide(const placement::Request& req, Time now, bool watched);

  // Files `a` in the table, binds its GPUs and bumps the generation when
  // waiting work might now preempt it.
  int32_t NewAllocation(const Allocation& a, Time now);
  void FreeAllocation(int32_t id, Time now);
  void StartJob(world::JobIndex j, const placement::Decision& d, Time now);
  void StopJob(world::JobIndex j, StopReason why, int64_t by, Time now);
  // As above, with the run's work counted up to `ran_until` (<= now).
  void StopJob(world::JobIndex j, StopReason why, int64_t by, Time now, Time ran_until);
  bool StartReplica(world::ServiceIndex s, Time now);
  void StopReplica(int32_t alloc_id, StopReason why, Time now);
  void Evict(int32_t alloc_id, StopReason why, int64_t by, Time now);
  // `shape`: what the request asks beyond whole GPUs (a share, CPU, memory).
  void PreemptFor(world::PoolIndex pool, int64_t need, int32_t priority, int64_t by, Time now,
                  const placement::AllocationShape& shape = {});
  // Evicts work until the pool fits its capacity and its site its power.
  void EnforceLimits(world::PoolIndex pool, Time now);
  bool EvictsBefore(int32_t a, int32_t b) const;
  void EnforceSitePower(world::SiteIndex site, Time now);
  void EnforceExclusivity(Time now);
  void ApplyContractTerms(Time now, bool log = true);
  void ReconcileService(world::ServiceIndex s, Time now);
  void IntegrateService(world::ServiceIndex s, Time now);
  void UpdateShortness(world::ServiceIndex s, Time now);
  void ApplyFaultToPools(world::FaultIndex f, int32_t sign, Time now);
  void Emit(const Event& e) {
    if (observer_) observer_->OnEvent(e);
  }
  bool IsWatched(bool service, int32_t index) const {
    return watch_index_ == index && watch_service_ == service;
  }
  int32_t ShapeOf(const world::Job& job);
  // The queue with its per-shape counts kept.
  void Enqueue(world::JobIndex j);
  std::set<QueueKey>::iterator Dequeue(std::set<QueueKey>::iterator it);
  void Dequeue(world::JobIndex j) { Dequeue(queue_.find(KeyOf(j))); }
  // Files job `j` (the next in the registry) under its shape.
  void RegisterShape(world::JobIndex j);
  void InitServiceState(world::ServiceIndex s, int64_t demand, Time now);
  // Reference seconds of work left per GPU for job `j` at `now` (SJF/SRTF keys).
  int64_t RemainingSeconds(world::JobIndex j, Time now) const;
  // SRTF: may allocation `a` be preempted by the job being placed now?
  bool ShorterJobMayPreempt(const Allocation& a) const;
  // NodeRanker: a node's rank is the place, in eviction order, of the work on
  // it that would be evicted last (so a shrinking pool gives up the nodes
  // whose work goes first).
  void RankNodes(world::PoolIndex pool, std::vector<int64_t>* rank) const override;
  // The node(s) the last bind took in `pool` and why, for explain.
  std::string DescribeNodePick(world::PoolIndex pool) const;
  // ReclaimableGpus counting GPUs only (any node).
  int64_t PooledReclaimableGpus(world::PoolIndex pool, int32_t priority, int64_t need) const;
  // With nodes: the work to preempt in `pool` so that an allocation of `need`
  // GPUs fits on its nodes — on the node (or whole nodes) needing the fewest
  // victims, each node's victims taken in eviction order — into `victims`, in
  // eviction order. False (and no victims) when no choice of nodes frees enough.
  bool NodeVictims(world::PoolIndex pool, int32_t priority, int64_t need,
                   std::vector<int32_t>* victims) const;
  // Whether NodeVictims would find victims (the oracle's question), without
  // ordering them.
  bool NodesReclaimable(world::PoolIndex pool, int32_t priority, int64_t need) const;
  // In a pool with sharing or CPU and memory per node: the work to preempt
  // so that `need` (per node) fits on one node — a share on one GPU, whole
  // GPUs, CPU and memory — on the node needing the fewest victims (then the
  // lowest node), each node's victims taken in eviction order and then
  // pruned of any the node fits without; a gang larger than a node as
  // NodeVictims. Into `victims`, in eviction order; false when no node can.
  bool ShapeVictims(world::PoolIndex pool, int32_t priority, const placement::NodeShape& need,
                    std::vector<int32_t>* victims) const;
  // Visits every allocation in `pool` that work of `priority` (or, under
  // SRTF, the job being placed) may preempt.
  template <typename Visit>
  void ForEachCandidate(world::PoolIndex pool, int32_t priority, Visit visit) const;
  // Under SRTF, in a pool without preemptible work: visits the jobs of `pool`
  // that remain longer than the job being placed, from the finish index's
  // top down, while `visit(id)` returns true.
  template <typename Visit>
  void ForEachLongerJob(world::PoolIndex pool, Visit visit) const;
  // A pool's GPU speed term of FinishKey at `now` (AllocationTable).
  __int128 FinishKeyAt(world::PoolIndex pool, Time now) const;
  // Procurement (procurement.cc).
  void ReviewUnmetDemand(Time now);
  void RaiseRequest(int32_t request, Time now);
  // What an ROFR holder must match; -1 / 0: no limit.
  struct OfferTerms {
    Money max_ref_price = Money::FromMicros(-1);  // per reference GPU-hour
    Duration max_lead = Duration::Seconds(-1);
    int64_t min_gpus = 0;
  };
  // The cheapest offer (per reference GPU-hour, then lead time) that can
  // supply request `r` now within `terms`, skipping `exclude`'s offers and, if
  // `only` is set, other providers'; -1 when none. An offer with fewer GPUs
  // left than asked supplies what it has, if that holds the largest gang.
  // `why` (optional) gets the first reason an offer was passed over.
  int32_t BestOffer(const CapacityRequest& r, world::ProviderIndex exclude,
                    world::ProviderIndex only, const OfferTerms& terms, Time now,
                    std::string* why) const;
  // GPUs offer `offer` would supply for `r`: all asked (node-rounded) or what it has left.
  // GPUs offer `offer` would supply to `r` if awarded at `now`: what is asked
  // (whole nodes), at most what the offer has left and what its site's power
  // holds over the term (PowerRoomGpus).
  int64_t OfferQuantity(const CapacityRequest& r, int32_t offer, Time now) const;
  // GPUs of `pool` that fit at full board power in its site's power limit at
  // every instant of [from, until), with the site's pools per their schedules
  // and the awards held or due there; max int64 at an unlimited site.
  int64_t PowerRoomGpus(world::PoolIndex pool, Time from, Time until) const;
  void Award(int32_t request, int32_t offer, bool via_rofr, Time now);
  void GoToMarket(int32_t request, Time now);
  // The holder's answer: `offer` >= 0 matches with it, -1 declines for `reason`.
  void AnswerRofr(int32_t request, int32_t offer, const std::string& reason, Time now);
  // Why `offer` cannot supply `r` within `terms` now ("" when it can).
  std::string OfferRejection(const CapacityRequest& r, int32_t offer, const OfferTerms& terms,
                             Time now) const;
  // Price per reference GPU-hour of an offer, micro-dollars.
  int64_t RefPrice(int32_t offer) const;
  // The terms an ROFR holder must match for request `r`: the market's offer.
  OfferTerms MarketTerms(const CapacityRequest& r) const;
  // Request `r`'s class has no request outstanding; the next may come after unmet_after.
  void SettleClass(const CapacityRequest& r, Time now);
  void CapacityArrives(int32_t request, Time now);
  Status CheckAmendment(const cmd::AmendContract& amendment, Time now) const;
  void AmendContract(world::ContractIndex c, const world::Contract& terms, Time now);
  void CapacityEnds(int32_t request, Time now);
  int64_t InstalledNow(world::PoolIndex pool) const { return installed_[pool] + procured_[pool]; }

  const world::World& world_;
  Options options_;
  Timer* timer_;
  Observer* observer_;
  CommandLog* log_ = nullptr;
  world::World* amendable_ = nullptr;  // world_, when amendments are allowed
  const Time start_;
  Time last_command_;  // no command may come before it (the start, at first)
  // The workload registry beyond the static world (deques: stable references).
  const int32_t static_jobs_;
  const int32_t static_services_;
  std::deque<world::Job> runtime_jobs_;
  std::deque<world::Service> runtime_services_;
  std::unordered_map<std::string, int32_t> runtime_job_ids_, runtime_service_ids_;
  std::vector<uint8_t> service_cancelled_;
  // Installed GPUs per pool as last reported (SetPoolCapacity), apart from procurement.
  std::vector<int64_t> installed_;
  contracts::ExclusivityRules rules_;
  contracts::CommitmentLedger ledger_;
  placement::FleetState fleet_;
  placement::Placer placer_;

  std::vector<JobState> jobs_;
  std::vector<ServiceState> services_;
  std::vector<world::ServiceIndex> service_order_;  // highest priority first, fixed
  AllocationTable allocs_;
  std::set<QueueKey> queue_;
  // Generation of "something may now fit that did not": bumped whenever
  // capacity is freed or added, so a blocked job is not retried in vain.
  uint64_t generation_ = 0;
  // A quiet pass walked the whole queue and left generation_ as it found it:
  // every job then queued had failed at generation_ and holds what it held.
  // Until generation_ moves, a job leaves the queue or one is queued ahead of
  // `quiet_last_` (`quiet_broken_`), the next pass would only walk past them
  // again (re-adding the same holds in the same order), so it starts after
  // them (PlaceQueue): a broker with 100k jobs waiting and nothing free does
  // not walk them all every second. Exactly the same decisions and holds.
  bool quiet_ = false;
  bool quiet_broken_ = false;
  uint64_t quiet_generation_ = 0;
  QueueKey quiet_last_{0, 0, 0};
  int64_t quiet_passes_ = 0;  // passes that took the shortcut (tests, benchmarks)
  int64_t attempts_ = 0;
  // Jobs of one shape (allowed accelerators, class, model family) fail alike.
  std::vector<int32_t> job_shape_;
  std::map<std::string, int32_t> shapes_;
  struct ShapeFailure {
    uint64_t pass = 0;
    int64_t gang = 0;
    int32_t priority = 0;
  };
  std::vector<ShapeFailure> shape_failures_;
  // Queued jobs per shape, the shapes with any, and the highest priority of
  // any job: a pass of a backfilling policy ends early once every queued
  // shape has failed for a single GPU at that priority (PlaceQueue).
  std::vector<int32_t> shape_queued_;
  int32_t shapes_queued_ = 0;
  int32_t top_priority_ = std::numeric_limits<int32_t>::min();
  std::vector<world::JobIndex> shape_example_;

  // Procurement: requests raised, GPUs procured per pool now, GPUs sold per
  // offer, and per capacity class (shape, gang bucket) whether a request is
  // outstanding and when the next may be raised.
  std::vector<CapacityRequest> requests_;
  std::vector<int64_t> procured_;
  std::vector<int64_t> offer_sold_;
  std::vector<Time> site_build_free_;  // per site: when its last award's power is built
  std::vector<uint8_t> no_outage_;
  bool review_asked_ = false;  // exclusivity as if no provider had an outage
  struct ClassState {
    bool outstanding = false;
    Time next_allowed = Time::Min();
  };
  std::map<std::pair<int32_t, int64_t>, ClassState> classes_;
  uint64_t pass_ = 0;

  int32_t watch_index_ = world::kNone;
  bool watch_service_ = false;
  std::vector<WatchedDecision> watched_;
  std::vector<int32_t> scratch_victims_;
  // Services that lost replicas during the current command: their shortness
  // is judged once the command is through (Apply), so service-short reports
  // the capacity left after every loss of the instant, not after the first.
  std::vector<world::ServiceIndex> shortness_pending_;
  mutable std::vector<int32_t> scratch_touched_nodes_;
  mutable std::vector<int64_t> scratch_node_gpus_;
  // Allocations made or freed so far; and the SRTF oracle's refusals (gang,
  // remaining seconds) in one pool at one instant while it has not moved.
  uint64_t alloc_changes_ = 0;
  struct Refusals {
    uint64_t changes = 0;
    world::PoolIndex pool = world::kNone;
    Time at;
    std::vector<std::pair<int64_t, int64_t>> refused;
  };
  mutable Refusals refused_;
  // A preemption candidate's eviction key (PreemptFor).
  struct Victim {
    int64_t remaining;  // SRTF: reference seconds left per GPU; else 0
    int32_t priority;
    Time start;
    int32_t owner;
    int32_t id;
    // The eviction order: the longest remaining (SRTF), then the lowest
    // priority, then the latest start (it has the least work to lose).
    bool EvictedBefore(const Victim& o) const {
      if (remaining != o.remaining) return remaining > o.remaining;
      if (priority != o.priority) return priority < o.priority;
      if (start != o.start) return start > o.start;
      if (owner != o.owner) return owner > o.owner;
      return id > o.id;
    }
  };
  std::vector<Victim> scratch_heap_;
  // Pools held by waiting jobs (priority of the holder), rebuilt every pass.
  std::vector<int32_t> reserved_;  // per pool: the holder's priority, or kNoReservation
  std::vector<world::PoolIndex> held_pools_, previously_held_;  // pools held this pass, the last
  std::vector<int32_t> previous_holder_;  // kNoReservation but for previously_held_
  // SRTF: remaining seconds of the job being placed (-1: none), and when.
  int64_t placing_remaining_ = -1;
  Time placing_now_;

  // Tenant quotas: GPUs held by each tenant's running jobs, in all and per
  // class limit; charged at a start, released at a stop or completion.
  std::vector<int64_t> tenant_gpus_;
  std::vector<std::vector<int64_t>> tenant_class_gpus_;
  void ChargeTenant(world::JobIndex j, int64_t gpus);
  bool OverQuota(world::JobIndex j) const;

  std::deque<DecisionRecord> decisions_;  // the ring (Options::decision_log_limit)
  int64_t decisions_recorded_ = 0;
  // The latest record per job / service index; index kNone: none yet.
  std::vector<DecisionRecord> last_job_decision_, last_service_decision_;
  // Spend quotas (quota.cc): per tenant, the month being counted and what is
  // encumbered in it (finished runs' cost in the month, running ones' expected
  // cost to the month's end), in all and per class limit.
  struct SpendBook {
    SpendMonth month;
    SpendRaw total = 0;
    std::vector<SpendRaw> by_class;  // per world::Tenant::class_spend_per_month
  };
  // A running job of a tenant with a spend quota.
  struct SpendRun {
    world::TenantIndex tenant = world::kNone;
    std::string workload_class;
    Time start, expected_end;
    int64_t milli_gpus = 0;    // thousandths of GPUs billed
    int64_t price_micros = 0;  // per GPU-hour, the pool's effective price at the start
    SpendRaw CostIn(Time from, Time until) const;  // 0 when until <= from
  };
  std::vector<SpendBook> spend_;  // per tenant
  // Per tenant, its running jobs (ordered: the same sums every run).
  std::vector<std::map<world::JobIndex, SpendRun>> spend_runs_;
  // Jobs a spend quota held: why, and the generation_ they were weighed in
  // (a pass skips them until it changes).
  struct SpendHold {
    std::string why;
    uint64_t generation = 0;
  };
  std::unordered_map<world::JobIndex, SpendHold> spend_held_;
  Time spend_wake_ = Time::Min();  // the month start a wake has been asked for
  bool SpendRunCounts(const SpendRun& run, world::TenantIndex t, int32_t limit) const;
  void RollSpendMonth(world::TenantIndex t, Time now);
  void AddSpend(world::TenantIndex t, const std::string& workload_class, SpendRaw raw);
  void StartSpend(world::JobIndex j, const Allocation& a, Time now);
  void StopSpend(world::JobIndex j, Time now);
  // Whether starting job `j` in `pool` on `alloc_gpus` now would take its
  // tenant past a spend quota; if so, records why (QuotaHold) and asks to be
  // woken when the month ends.
  bool OverSpendQuota(world::JobIndex j, world::PoolIndex pool, int64_t alloc_gpus, Time now);
  // The first month `candidate` (starting now) would take past limit `limit`
  // (-1: the tenant's, else its class limit), with the run's cost in it.
  struct SpendOver {
    SpendMonth month;
    int32_t limit = -1;
    SpendRaw cost = 0;
  };
  std::optional<SpendOver> FirstMonthOver(const SpendRun& candidate, int32_t limit, Time now) const;
  void SpendMonthBegins(Time now);

  void Record(bool service, int32_t index, const placement::Decision& d, Time now);

  // Rebalance (rebalance.cc): moves replicas of every service to cheaper
  // capacity where the saving is real, within the budget.
  void Rebalance(Time now);
  // Replaces replica `id` of service `s` by one in `d.pool`: the new replica
  // starts before the old one stops.
  void MoveReplica(world::ServiceIndex s, int32_t id, const placement::Decision& d,
                   Money price_from, Money price_to, Money saving, Time now);
  // Scale-down order of service `s`'s replicas: dearest first (marginal price
  // per token), newest first among equals. Into `order` (allocation ids).
  void ScaleDownOrder(world::ServiceIndex s, Time now, std::vector<int32_t>* order) const;
  Time next_rebalance_ = Time::Min();
  std::vector<Move> moves_;

  // Batch re-optimisation (reoptimize.cc): solves the queue and starts the
  // jobs the solution places, each through the placement filters.
  void ReoptimizeQueue(Time now);
  Time next_reoptimize_ = Time::Min();
  int64_t reoptimizations_ = 0;
  int64_t reoptimized_starts_ = 0;
  int64_t reoptimizations_skipped_ = 0;
  std::string reoptimize_skip_reason_;
};

}  // namespace polycloud::scheduler

#endif  // POLYCLOUD_SCHEDULER_SCHEDULER_H_
