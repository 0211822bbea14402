#include "polycloud/scheduler/scheduler.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include "polycloud/base/checked.h"
#include "polycloud/base/parse.h"

namespace polycloud::scheduler {

using world::JobIndex;
using world::PoolIndex;
using world::ServiceIndex;

namespace {
// A run no finish can be later than: 2^60 s from now stays below Time::Max.
constexpr int64_t kMaxRunSeconds = int64_t{1} << 60;
}  // namespace

const char* EventTypeName(EventType type) {
  switch (type) {
    case EventType::kJobArrived:
      return "job-arrived";
    case EventType::kJobStarted:
      return "job-started";
    case EventType::kJobFinished:
      return "job-finished";
    case EventType::kJobPreempted:
      return "job-preempted";
    case EventType::kJobInterrupted:
      return "job-interrupted";
    case EventType::kReplicaStarted:
      return "replica-started";
    case EventType::kReplicaStopped:
      return "replica-stopped";
    case EventType::kReplicaLost:
      return "replica-lost";
    case EventType::kServiceShort:
      return "service-short";
    case EventType::kServiceRecovered:
      return "service-recovered";
    case EventType::kPoolCapacity:
      return "pool-capacity";
    case EventType::kSitePower:
      return "site-power";
    case EventType::kFaultStarted:
      return "fault-started";
    case EventType::kFaultEnded:
      return "fault-ended";
    case EventType::kContractsChanged:
      return "contracts-changed";
    case EventType::kExclusivityException:
      return "exclusivity-exception";
    case EventType::kCapacityRequested:
      return "capacity-requested";
    case EventType::kRofrOffered:
      return "rofr-offered";
    case EventType::kRofrMatched:
      return "rofr-matched";
    case EventType::kRofrDeclined:
      return "rofr-declined";
    case EventType::kRofrExpired:
      return "rofr-expired";
    case EventType::kCapacityAwarded:
      return "capacity-awarded";
    case EventType::kCapacityUnavailable:
      return "capacity-unavailable";
    case EventType::kCapacityArrived:
      return "capacity-arrived";
    case EventType::kCapacityReleased:
      return "capacity-released";
    case EventType::kJobCancelled:
      return "job-cancelled";
    case EventType::kServiceSubmitted:
      return "service-submitted";
    case EventType::kServiceCancelled:
      return "service-cancelled";
    case EventType::kContractAmended:
      return "contract-amended";
    case EventType::kReplicaMoved:
      return "replica-moved";
    case EventType::kDispatchFailed:
      return "dispatch-failed";
  }
  return "?";
}

Scheduler::Scheduler(const world::World& world, Options options, Time start, Timer* timer,
                     Observer* observer)
    : world_(world),
      options_(options),
      timer_(timer),
      observer_(observer),
      start_(start),
      last_command_(start),
      static_jobs_(static_cast<int32_t>(world.jobs.size())),
      static_services_(static_cast<int32_t>(world.services.size())),
      service_cancelled_(world.services.size(), 0),
      installed_(world.pools.size(), 0),
      rules_(world),
      ledger_(world, start),
      fleet_(world, start, options.nodes, world.seed),
      placer_(world, placement::PlacerOptions{options.consolidate}),
      jobs_(world.jobs.size()),
      allocs_(world.pools.size(), options.policy == Policy::kSrtf),
      reserved_(world.pools.size(), placement::kNoReservation),
      previous_holder_(world.pools.size(), placement::kNoReservation) {
  fleet_.SetNodeRanker(this);
  tenant_gpus_.assign(world.tenants.size(), 0);
  for (const world::Tenant& t : world.tenants) {
    tenant_class_gpus_.emplace_back(t.class_max_gpus.size(), 0);
    SpendBook book;
    book.month = SpendMonthOf(start);
    book.by_class.assign(t.class_spend_per_month.size(), 0);
    spend_.push_back(std::move(book));
    spend_runs_.emplace_back();
  }
  for (size_t j = 0; j < jobs_.size(); ++j) {
    jobs_[j].remaining_work = world.jobs[j].work_gpu_seconds;
    RegisterShape(static_cast<JobIndex>(j));
  }
  procured_.assign(world.pools.size(), 0);
  offer_sold_.assign(world.procurement.offers.size(), 0);
  site_build_free_.assign(world.sites.size(), Time::Min());
  no_outage_.assign(world.providers.size(), 0);
  fleet_.AttachLedger(&ledger_, start);
  // The state of the world at the start: installed GPUs, power, contracts,
  // demand. Later changes arrive as commands.
  for (size_t p = 0; p < world.pools.size(); ++p) {
    installed_[p] = world.pools[p].gpus.At(start);
    fleet_.SetInstalled(static_cast<PoolIndex>(p), installed_[p], start);
  }
  ApplyContractTerms(start, /*log=*/false);  // the starting state, not a change
  for (size_t s = 0; s < world.services.size(); ++s) {
    InitServiceState(static_cast<ServiceIndex>(s), world.services[s].demand_tokens_per_s.At(start),
                     start);
  }
}

int64_t Scheduler::RemainingSeconds(JobIndex j, Time now) const {
  const JobState& s = jobs_[j];
  const world::Job& job = job_spec(j);
  int64_t remaining = s.remaining_work;
  if (s.status == JobStatus::kRunning) return allocs_[s.alloc].RemainingSeconds(now);
  return std::max<int64_t>(0, remaining) / std::max<int64_t>(1, job.gpus);
}

bool Scheduler::ShorterJobMayPreempt(const Allocation& a) const {
  return placing_remaining_ >= 0 && !a.is_service &&
         a.RemainsLongerThan(placing_remaining_, placing_now_);
}

__int128 Scheduler::FinishKeyAt(PoolIndex pool, Time now) const {
  const int64_t speed = world_.accelerators[world_.pools[pool].accelerator].speed_milli;
  return static_cast<__int128>(now.unix_seconds()) * speed;
}

// A job with FinishKey K has (K − FinishKeyAt(now)) ÷ 1000 = w and
// RemainingSeconds within (w − 1.002, w + 1.002) (AllocationTable): one with
// K − FinishKeyAt < R × 1000 − kFinishBand cannot remain longer than R.
// The band is wider than needed so that no rounding can defeat it.
constexpr __int128 kFinishBand = 3000;

template <typename Visit>
void Scheduler::ForEachLongerJob(PoolIndex pool, Visit visit) const {
  const AllocationTable::FinishIndex& index = allocs_.ByFinish(pool);
  const __int128 floor = FinishKeyAt(pool, placing_now_) +
                         static_cast<__int128>(placing_remaining_) * 1000 - kFinishBand;
  for (auto it = index.rbegin(); it != index.rend() && it->first >= floor; ++it) {
    if (ShorterJobMayPreempt(allocs_[it->second]) && !visit(it->second)) return;
  }
}

int64_t Scheduler::ReclaimableGpus(PoolIndex pool, int32_t priority, int64_t need) const {
  if (fleet_.has_nodes()) {
    // Enough GPUs in the pool is not enough: they must come free on one node
    // (or as whole nodes). Ask the pooled question first, it is cheaper.
    const int64_t pooled = PooledReclaimableGpus(pool, priority, need);
    if (fleet_.pool(pool).placeable + pooled < need) return pooled;
    // Under SRTF, a pass asks for every waiting job, shortest first, while
    // nothing changes: a job that remains at least as long as one refused
    // (with no more GPUs) is refused too, since its candidates are fewer.
    const bool memo = placing_remaining_ >= 0 && allocs_.PreemptibleGpus(pool) == 0;
    if (memo) {
      if (refused_.changes != alloc_changes_ || refused_.pool != pool ||
          refused_.at != placing_now_) {
        refused_ = {alloc_changes_, pool, placing_now_, {}};
      }
      for (const auto& [gpus, remaining] : refused_.refused) {
        if (gpus <= need && remaining <= placing_remaining_) return 0;
      }
    }
    if (NodesReclaimable(pool, priority, need)) return need;
    if (memo) refused_.refused.push_back({need, placing_remaining_});
    return 0;
  }
  return PooledReclaimableGpus(pool, priority, need);
}

int64_t Scheduler::PooledReclaimableGpus(PoolIndex pool, int32_t priority, int64_t need) const {
  if (placing_remaining_ >= 0) {  // SRTF: longer-running jobs too
    int64_t sum = 0;
    if (allocs_.PreemptibleGpus(pool) == 0) {
      ForEachLongerJob(pool, [&](int32_t id) {
        sum += allocs_[id].gpus;
        return sum < need;
      });
      return sum;
    }
    for (int32_t id : allocs_.InPool(pool)) {
      const Allocation& a = allocs_[id];
      if ((a.preemptible && a.priority < priority) || ShorterJobMayPreempt(a)) sum += a.gpus;
    }
    return sum;
  }
  if (allocs_.PreemptibleGpus(pool) == 0) return 0;
  if (allocs_.PreemptibleMaxPriority(pool) < priority) return allocs_.PreemptibleGpus(pool);
  int64_t sum = 0;
  for (int32_t id : allocs_.InPool(pool)) {
    const Allocation& a = allocs_[id];
    if (a.preemptible && a.priority < priority) sum += a.gpus;
  }
  return sum;
}

const std::vector<world::PoolIndex>* Scheduler::CandidatePools() const {
  // Under SRTF any pool running a job may hold a longer one.
  return placing_remaining_ >= 0 ? &allocs_.JobPools() : &allocs_.PreemptiblePools();
}

int32_t Scheduler::NewAllocation(const Allocation& allocation, Time now) {
  const int32_t id = allocs_.Add(allocation);
  const Allocation& a = allocs_[id];
  if (a.preemptible) {
    ++generation_;  // new preemptible work is something a blocked job might preempt
  } else if (options_.policy == Policy::kSrtf && !a.is_service && !queue_.empty() &&
             queue_.begin()->k1 < a.RemainingSeconds(now)) {
    // Under SRTF a queued job with less work left may preempt it; when none
    // has (the queue is ordered by work left), nothing new can fit.
    ++generation_;
  }
  ++alloc_changes_;
  allocs_[id].placed = fleet_.Bind(a.pool, a.gpus, now, a.gang > 0 ? a.gang : a.gpus,
                                   {a.gpu_milli, a.cpu_milli, a.memory_mib});
  if (fleet_.has_nodes() && IsWatched(a.is_service, a.owner) && !watched_.empty() &&
      watched_.back().placed) {
    watched_.back().node = DescribeNodePick(a.pool);
  }
  return id;
}

void Scheduler::FreeAllocation(int32_t id, Time now) {
  allocs_.Remove(id);
  const Allocation& a = allocs_[id];
  fleet_.Release(a.pool, a.gpus, a.placed, now);
  ++alloc_changes_;
  const int64_t gpu_seconds = a.GpuSeconds((now - a.start).seconds());
  if (a.is_service) {
    ledger_.AttributeService(a.owner, a.pool, gpu_seconds);
  } else {
    ledger_.AttributeJob(a.owner, a.pool, gpu_seconds);
  }
  ++generation_;
}

void Scheduler::JobArrived(JobIndex j, Time now) {
  JobState& s = jobs_[j];
  if (s.status != JobStatus::kNotArrived) return;
  s.status = JobStatus::kQueued;
  s.queued_since = now;
  Enqueue(j);
  Emit({now, EventType::kJobArrived, j, world::kNone, job_spec(j).gpus, 0, 0});
}

void Scheduler::StartJob(JobIndex j, const placement::Decision& d, Time now) {
  const world::Job& job = job_spec(j);
  JobState& s = jobs_[j];
  Record(false, j, d, now);
  if (d.needs_preemption) {
    PreemptFor(d.pool, d.alloc_gpus, job.priority, j, now,
               {static_cast<int32_t>(job.gpu_milli), job.cpu_milli, job.memory_mib});
  }
  const int64_t speed = world_.accelerators[world_.pools[d.pool].accelerator].speed_milli;
  Allocation run;
  run.owner = j;
  run.pool = d.pool;
  run.gpus = d.alloc_gpus;
  run.gang = job.gpus;
  run.gpu_milli = static_cast<int32_t>(job.gpu_milli);
  run.cpu_milli = job.cpu_milli;
  run.memory_mib = job.memory_mib;
  run.priority = job.priority;
  run.preemptible = job.preemptible;
  run.start = now;
  run.work = s.remaining_work;
  run.rate_milli = job.gpus * speed;
  run.run_seconds = RunSeconds(s.remaining_work, job.gpus, speed);
  s.alloc = NewAllocation(run, now);
  ChargeTenant(j, job.gpus);
  StartSpend(j, allocs_[s.alloc], now);
  s.status = JobStatus::kRunning;
  if (s.first_start == Time::Min()) s.first_start = now;
  ++s.starts;
  ++s.epoch;
  s.last_pool = d.pool;
  const world::ProviderIndex provider = world_.pools[d.pool].provider;
  if (provider < 31) s.providers_used_mask |= 1 << provider;
  // The expected duration, for the event log and explain; when the run ends
  // is for its driver to report (cmd::JobCompleted).
  Emit({now, EventType::kJobStarted, j, d.pool, d.alloc_gpus, run.run_seconds, s.epoch});
  auto v = rules_.Check(job.workload_class, job.model_family, provider, now,
                        fleet_.provider_in_outage());
  if (v.via_outage_exception)
    Emit({now, EventType::kExclusivityException, j, d.pool, d.alloc_gpus, 0, 0});
}

void Scheduler::StopJob(JobIndex j, StopReason why, int64_t by, Time now) {
  StopJob(j, why, by, now, now);
}

void Scheduler::StopJob(JobIndex j, StopReason why, int64_t by, Time now, Time ran_until) {
  const world::Job& job = job_spec(j);
  JobState& s = jobs_[j];
  const Allocation& a = allocs_[s.alloc];
  const PoolIndex pool = a.pool;
  const int64_t speed = world_.accelerators[world_.pools[pool].accelerator].speed_milli;
  // Work counts up to when the run really stopped (a site's report may come
  // later); a run that never started did none.
  const int64_t elapsed = why == StopReason::kDispatchFailed
                              ? 0
                              : std::max<int64_t>(0, (ran_until - a.start).seconds());
  const int64_t interval = job.checkpoint_interval.seconds();
  // Under SRTF a preempted job keeps all its work (continuous checkpointing,
  // as trace replays assume); otherwise work since the last checkpoint is lost.
  const bool keeps_all = why == StopReason::kPreempted && options_.policy == Policy::kSrtf;
  const int64_t saved = keeps_all ? elapsed : interval > 0 ? elapsed / interval * interval : 0;
  // No run does more than its work (a site may report the end late); in
  // 128 bits, since elapsed × gang × speed can pass 64 before the cap.
  const int64_t rate = job.gpus * speed;
  auto work_in = [&](int64_t seconds) {
    return static_cast<int64_t>(
        std::min<__int128>(static_cast<__int128>(seconds) * rate / 1000, a.work));
  };
  const int64_t done = work_in(saved);
  const int64_t lost = work_in(elapsed - saved);
  s.remaining_work = std::max<int64_t>(1, s.remaining_work - done);
  s.lost_work += lost;
  s.gpu_seconds += a.GpuSeconds(elapsed);
  FreeAllocation(s.alloc, now);
  s.alloc = -1;
  ChargeTenant(j, -job.gpus);
  StopSpend(j, now);
  ++s.epoch;  // a report about the stopped run is now stale
  if (why == StopReason::kCancelled) {
    s.status = JobStatus::kCancelled;
    s.end = now;
    Emit({now, EventType::kJobCancelled, j, pool, a.gpus, lost, 0});
    return;
  }
  s.status = JobStatus::kQueued;
  s.queued_since = now;
  Enqueue(j);
  if (why == StopReason::kPreempted) {
    ++s.preemptions;
    Emit({now, EventType::kJobPreempted, j, pool, a.gpus, lost, by});
  } else if (why == StopReason::kDispatchFailed) {
    Emit({now, EventType::kDispatchFailed, j, pool, a.gpus, 0, 0});
  } else {
    ++s.interruptions;
    Emit({now, EventType::kJobInterrupted, j, pool, a.gpus, lost, 0});
  }
}

void Scheduler::CompleteRun(JobIndex j, Time at, Time now) {
  JobState& s = jobs_[j];
  const Allocation& a = allocs_[s.alloc];
  const PoolIndex pool = a.pool;
  s.gpu_seconds += a.GpuSeconds(std::max<int64_t>(0, (at - a.start).seconds()));
  FreeAllocation(s.alloc, now);
  s.alloc = -1;
  ChargeTenant(j, -job_spec(j).gpus);
  StopSpend(j, now);
  s.remaining_work = 0;
  s.status = JobStatus::kDone;
  s.end = at;
  ++s.epoch;
  Emit({now, EventType::kJobFinished, j, pool, 0, 0, 0});
}

int64_t Scheduler::RunSeconds(int64_t work, int64_t gpus, int64_t speed_milli) {
  const int64_t rate = gpus * speed_milli;  // thousandths of reference GPU-seconds per second
  // Validated work times 1000 fits (docs/scenario.md, Magnitudes); work added
  // past the validator (traces) that does not is run in 128 bits and capped at
  // a finish far beyond any horizon, never wrapped into a 1-second run.
  if (const auto milli = CheckedMul(work, 1000)) {
    return std::max<int64_t>(1, (*milli + rate - 1) / rate);
  }
  const __int128 wide = (static_cast<__int128>(work) * 1000 + rate - 1) / rate;
  return static_cast<int64_t>(std::min<__int128>(wide, kMaxRunSeconds));
}

void Scheduler::Evict(int32_t id, StopReason why, int64_t by, Time now) {
  const Allocation& a = allocs_[id];
  if (a.is_service) {
    StopReplica(id, why, now);
  } else {
    StopJob(a.owner, why, by, now);
  }
}

template <typename Visit>
void Scheduler::ForEachCandidate(PoolIndex pool, int32_t priority, Visit visit) const {
  if (placing_remaining_ >= 0 && allocs_.PreemptibleGpus(pool) == 0) {
    // SRTF without preemptible work: only jobs that remain longer, off the
    // finish index from the top.
    ForEachLongerJob(pool, [&](int32_t id) {
      visit(id);
      return true;
    });
    return;
  }
  for (int32_t id : allocs_.InPool(pool)) {
    const Allocation& a = allocs_[id];
    if ((a.preemptible && a.priority < priority) || ShorterJobMayPreempt(a)) visit(id);
  }
}

bool Scheduler::NodesReclaimable(PoolIndex pool, int32_t priority, int64_t need) const {
  // Per node: the GPUs its candidates hold (no order needed for yes or no).
  const placement::PoolNodes& nodes = fleet_.nodes(pool);
  const int64_t gpn = nodes.gpus_per_node();
  scratch_node_gpus_.resize(static_cast<size_t>(nodes.node_count()), 0);
  scratch_touched_nodes_.clear();
  ForEachCandidate(pool, priority, [&](int32_t id) {
    const Allocation& a = allocs_[id];
    const auto& on = fleet_.NodesOf(a.placed);
    for (int32_t n : on) {
      if (scratch_node_gpus_[n] == 0) scratch_touched_nodes_.push_back(n);
      scratch_node_gpus_[n] += on.size() > 1 ? gpn : a.gpus;
    }
  });
  bool ok = false;
  int64_t clearable = nodes.nodes_with_free(gpn);
  for (int32_t n : scratch_touched_nodes_) {
    const int64_t held = scratch_node_gpus_[n];
    scratch_node_gpus_[n] = 0;
    if (nodes.overcommitted(n)) continue;
    if (need <= gpn && nodes.size(n) - nodes.used(n) + held >= need) ok = true;
    if (need > gpn && nodes.size(n) == gpn && held == nodes.used(n)) ++clearable;
  }
  return ok || (need > gpn && clearable * gpn >= need);
}

bool Scheduler::ShapeReclaimable(PoolIndex pool, int32_t priority,
                                 const placement::NodeShape& need) const {
  if (!fleet_.has_nodes() || fleet_.info(pool).plain_nodes) return false;
  std::vector<int32_t> victims;
  return ShapeVictims(pool, priority, need, &victims);
}

bool Scheduler::ShapeVictims(PoolIndex pool, int32_t priority, const placement::NodeShape& need,
                             std::vector<int32_t>* victims) const {
  victims->clear();
  const placement::PoolNodes& nodes = fleet_.nodes(pool);
  const int64_t gpn = nodes.gpus_per_node();
  if (need.gpus > gpn) return NodeVictims(pool, priority, need.gpus, victims);
  // Candidates with their eviction keys and what each holds on a node.
  struct Held {
    int32_t node;
    int32_t candidate;
  };
  std::vector<Victim> cand;
  std::vector<Held> held;
  ForEachCandidate(pool, priority, [&](int32_t id) {
    const Allocation& a = allocs_[id];
    const auto c = static_cast<int32_t>(cand.size());
    cand.push_back({placing_remaining_ >= 0 && !a.is_service ? a.RemainingSeconds(placing_now_) : 0,
                    a.priority, a.start, a.owner, id});
    for (int32_t n : fleet_.NodesOf(a.placed)) held.push_back({n, c});
  });
  auto first_out = [&](int32_t x, int32_t y) { return cand[x].EvictedBefore(cand[y]); };
  std::sort(held.begin(), held.end(), [&](const Held& a, const Held& b) {
    return a.node != b.node ? a.node < b.node : first_out(a.candidate, b.candidate);
  });
  const int64_t cpu_cap = nodes.cpu_milli_per_node(), mem_cap = nodes.memory_mib_per_node();
  // A node's state as victims come off it.
  std::vector<int32_t> share(static_cast<size_t>(gpn));
  int64_t whole = 0, shared = 0, cpu_free = 0, mem_free = 0, size = 0;
  auto fits = [&] {
    if (cpu_cap > 0 && cpu_free < need.cpu_milli) return false;
    if (mem_cap > 0 && mem_free < need.memory_mib) return false;
    const int64_t free_gpus = size - whole - shared;
    if (!need.share()) return free_gpus >= need.gpus;
    if (free_gpus >= 1) return true;
    for (int32_t u : share) {
      if (u > 0 && 1000 - u >= need.milli) return true;
    }
    return false;
  };
  // Takes candidate c's holding off the node (sign 1) or puts it back (-1).
  auto apply = [&](int32_t c, int sign) {
    const Allocation& a = allocs_[cand[c].id];
    const auto& on = fleet_.NodesOf(a.placed);
    const placement::NodeShape* s = fleet_.ShapeOf(a.placed);
    const int32_t gpu = fleet_.ShareGpuOf(a.placed);
    if (s != nullptr && s->share() && gpu >= 0) {
      int32_t& u = share[static_cast<size_t>(gpu)];
      const bool was = u > 0;
      u -= sign * s->milli;
      shared += (u > 0 ? 1 : 0) - (was ? 1 : 0);
    } else {
      whole -= sign * (on.size() > 1 ? gpn : (s != nullptr ? s->gpus : a.gpus));
    }
    if (s != nullptr) {
      cpu_free += sign * s->cpu_milli;
      mem_free += sign * s->memory_mib;
    }
  };
  int64_t best_count = -1;
  std::vector<int32_t> chosen, here;
  for (size_t i = 0; i < held.size();) {
    const int32_t n = held[i].node;
    size_t j = i;
    while (j < held.size() && held[j].node == n) ++j;
    const size_t begin = i;
    i = j;
    if (nodes.overcommitted(n)) continue;
    size = nodes.size(n);
    shared = 0;
    for (int64_t g = 0; g < gpn; ++g) {
      share[static_cast<size_t>(g)] = nodes.share_used(n, static_cast<int32_t>(g));
      shared += share[static_cast<size_t>(g)] > 0;
    }
    whole = nodes.used(n) - shared;
    cpu_free = cpu_cap - nodes.cpu_used(n);
    mem_free = mem_cap - nodes.memory_used(n);
    here.clear();
    for (size_t k = begin; k < j && !fits(); ++k) {
      apply(held[k].candidate, 1);
      here.push_back(held[k].candidate);
    }
    if (!fits()) continue;
    // Keep only the victims the node needs: the latest in eviction order
    // are dropped first when the node fits without them.
    for (size_t k = here.size(); k-- > 0;) {
      apply(here[k], -1);
      if (fits()) {
        here.erase(here.begin() + static_cast<std::ptrdiff_t>(k));
      } else {
        apply(here[k], 1);
      }
    }
    const auto count = static_cast<int64_t>(here.size());
    if (best_count < 0 || count < best_count) {
      best_count = count;
      chosen = here;
    }
  }
  if (best_count < 0) return false;
  std::sort(chosen.begin(), chosen.end(), first_out);
  for (int32_t c : chosen) victims->push_back(cand[c].id);
  return true;
}

bool Scheduler::NodeVictims(PoolIndex pool, int32_t priority, int64_t need,
                            std::vector<int32_t>* victims) const {
  victims->clear();
  const placement::PoolNodes& nodes = fleet_.nodes(pool);
  const int64_t gpn = nodes.gpus_per_node();
  // Candidates with their eviction keys (PreemptFor's order: the longest
  // remaining, the lowest priority, the latest start first), filed by node.
  struct Held {
    int32_t node;
    int32_t candidate;
    int64_t gpus;  // on this node
  };
  std::vector<Victim> cand;
  std::vector<Held> held;
  ForEachCandidate(pool, priority, [&](int32_t id) {
    const Allocation& a = allocs_[id];
    const auto c = static_cast<int32_t>(cand.size());
    cand.push_back({placing_remaining_ >= 0 && !a.is_service ? a.RemainingSeconds(placing_now_) : 0,
                    a.priority, a.start, a.owner, id});
    const auto& on = fleet_.NodesOf(a.placed);
    for (int32_t n : on) held.push_back({n, c, on.size() > 1 ? gpn : a.gpus});
  });
  auto first_out = [&](int32_t x, int32_t y) { return cand[x].EvictedBefore(cand[y]); };
  // By node, a counting sort (a node holds a few allocations: each node's
  // list is then sorted on its own).
  {
    std::vector<int32_t> start(static_cast<size_t>(nodes.node_count()) + 1, 0);
    for (const Held& h : held) ++start[h.node + 1];
    for (size_t n = 1; n < start.size(); ++n) start[n] += start[n - 1];
    std::vector<Held> by_node(held.size());
    for (const Held& h : held) by_node[start[h.node]++] = h;
    held.swap(by_node);
  }
  std::vector<int32_t> chosen;
  if (need <= gpn) {
    // The node that frees room for `need` with the fewest victims (then the
    // fewest GPUs freed, then the lowest node).
    int64_t best_count = -1, best_room = 0;
    std::vector<int32_t> here;
    for (size_t i = 0; i < held.size();) {
      const int32_t n = held[i].node;
      size_t j = i;
      while (j < held.size() && held[j].node == n) ++j;
      std::sort(held.begin() + static_cast<std::ptrdiff_t>(i),
                held.begin() + static_cast<std::ptrdiff_t>(j),
                [&](const Held& a, const Held& b) { return first_out(a.candidate, b.candidate); });
      int64_t room = nodes.size(n) - nodes.used(n);
      here.clear();
      for (size_t k = i; k < j && room < need; ++k) {
        room += held[k].gpus;
        here.push_back(held[k].candidate);
      }
      const auto count = static_cast<int64_t>(here.size());
      if (room >= need && !nodes.overcommitted(n) &&
          (best_count < 0 || count < best_count || (count == best_count && room < best_room))) {
        best_count = count;
        best_room = room;
        chosen = here;
      }
      i = j;
    }
    if (best_count < 0) return false;
  } else {
    // Whole nodes: wholly free ones cost nothing; a busy full-size node can
    // be cleared only if every GPU in use on it belongs to a candidate.
    const int64_t want = need / gpn - nodes.nodes_with_free(gpn);
    struct Cost {
      int64_t victims;
      int32_t node;
      size_t begin, end;
    };
    std::vector<Cost> costs;
    for (size_t i = 0; i < held.size();) {
      const int32_t n = held[i].node;
      size_t j = i;
      int64_t freed = 0;
      while (j < held.size() && held[j].node == n) freed += held[j++].gpus;
      if (nodes.size(n) == gpn && freed == nodes.used(n)) {
        costs.push_back({static_cast<int64_t>(j - i), n, i, j});
      }
      i = j;
    }
    if (static_cast<int64_t>(costs.size()) < want) return false;
    std::sort(costs.begin(), costs.end(), [](const Cost& a, const Cost& b) {
      return a.victims != b.victims ? a.victims < b.victims : a.node < b.node;
    });
    for (int64_t k = 0; k < want; ++k) {
      for (size_t h = costs[k].begin; h < costs[k].end; ++h) chosen.push_back(held[h].candidate);
    }
  }
  std::sort(chosen.begin(), chosen.end(), first_out);
  chosen.erase(std::unique(chosen.begin(), chosen.end()), chosen.end());
  for (int32_t c : chosen) victims->push_back(cand[c].id);
  return true;
}

void Scheduler::PreemptFor(PoolIndex pool, int64_t need, int32_t priority, int64_t by, Time now,
                           const placement::AllocationShape& shape) {
  // A share, CPU or memory (or any request in a pool with sharing): the
  // victims ShapeVictims chose (the oracle's answer); power had to fit
  // without them (Placer::Consider), so nothing else goes.
  if (fleet_.has_nodes() && !fleet_.info(pool).plain_nodes &&
      (!shape.empty() || fleet_.info(pool).gpu_sharing)) {
    if (fleet_.Fits(pool, need, shape)) return;
    std::vector<int32_t> victims;
    placing_now_ = now;
    if (ShapeVictims(pool, priority, fleet_.NodeShapeOf(pool, need, shape), &victims)) {
      for (int32_t id : victims) Evict(id, StopReason::kPreempted, by, now);
    }
    return;
  }
  if (fleet_.has_nodes() && fleet_.pool(pool).placeable < need) {
    // Free the chosen node(s) first; the loop below then only answers for power.
    std::vector<int32_t> victims;
    placing_now_ = now;
    if (NodeVictims(pool, priority, need, &victims)) {
      for (int32_t id : victims) Evict(id, StopReason::kPreempted, by, now);
    }
  }
  // Victims: preemptible work of lower priority, lowest priority first, then
  // the most recently started (it has the least work to lose).
  // Under SRTF (every candidate a job) the longest remaining goes first.
  // Keys are computed once; victims are taken off a heap only as far as
  // needed, since a preemption usually takes one or two of many candidates.
  auto evicted_later = [](const Victim& a, const Victim& b) {  // heap order: first out on top
    return b.EvictedBefore(a);
  };
  scratch_heap_.clear();
  const bool srtf = placing_remaining_ >= 0;
  // Under SRTF in a pool without preemptible work the candidates are the jobs
  // that remain longer, read off the finish index from the top: a job enters
  // the heap only while its key's band reaches the heap's top, so the top is
  // always the longest of all candidates and few are ever looked at.
  const bool by_finish = srtf && allocs_.PreemptibleGpus(pool) == 0;
  const AllocationTable::FinishIndex* index = by_finish ? &allocs_.ByFinish(pool) : nullptr;
  const __int128 key_now = by_finish ? FinishKeyAt(pool, now) : 0;
  const __int128 floor = key_now + static_cast<__int128>(placing_remaining_) * 1000 - kFinishBand;
  std::pair<__int128, int32_t> visited{static_cast<__int128>(1) << 120, 0};  // above all keys
  bool walked = !by_finish;
  auto refill = [&] {
    while (!walked) {
      auto next = index->lower_bound(visited);  // evictions may have erased `visited`
      if (next == index->begin() || std::prev(next)->first < floor) {
        walked = true;
        break;
      }
      --next;
      if (!scratch_heap_.empty() &&
          next->first - key_now + kFinishBand <=
              static_cast<__int128>(scratch_heap_.front().remaining) * 1000) {
        break;  // everything below remains shorter than the heap's top
      }
      visited = *next;
      const Allocation& a = allocs_[next->second];
      if (ShorterJobMayPreempt(a)) {
        scratch_heap_.push_back(
            {a.RemainingSeconds(now), a.priority, a.start, a.owner, next->second});
        std::push_heap(scratch_heap_.begin(), scratch_heap_.end(), evicted_later);
      }
    }
  };
  if (!by_finish) {
    for (int32_t id : allocs_.InPool(pool)) {
      const Allocation& a = allocs_[id];
      if ((a.preemptible && a.priority < priority) || ShorterJobMayPreempt(a)) {
        scratch_heap_.push_back({srtf && !a.is_service ? a.RemainingSeconds(now) : 0, a.priority,
                                 a.start, a.owner, id});
      }
    }
    std::make_heap(scratch_heap_.begin(), scratch_heap_.end(), evicted_later);
  }
  const world::SiteIndex site = world_.pools[pool].site;
  const Power need_power = fleet_.PowerOf(pool, need);
  while (true) {
    const bool gpus_ok = fleet_.pool(pool).placeable >= need;
    const bool power_ok = !fleet_.site(site).limited || fleet_.site(site).headroom() >= need_power;
    if (gpus_ok && power_ok) break;
    refill();
    if (scratch_heap_.empty()) break;
    std::pop_heap(scratch_heap_.begin(), scratch_heap_.end(), evicted_later);
    const int32_t id = scratch_heap_.back().id;
    scratch_heap_.pop_back();
    Evict(id, StopReason::kPreempted, by, now);
  }
}

void Scheduler::Schedule(Time now) {
  // The first procurement review is asked for here, not in the constructor:
  // the timer (the simulator) may not be ready while the scheduler is built.
  if (!review_asked_ && world_.procurement.enabled && timer_ != nullptr) {
    review_asked_ = true;
    timer_->AtTime(now + world_.procurement.review_every, WakeKind::kProcurementReview, 0);
  }
  // Services first, highest priority first.
  for (ServiceIndex s : service_order_) {
    if (!service_cancelled_[s]) ReconcileService(s, now);
  }

  if (options_.reoptimize_every > Duration() && now >= next_reoptimize_ && !queue_.empty()) {
    ReoptimizeQueue(now);
    next_reoptimize_ = now + options_.reoptimize_every;
  }
  PlaceQueue(now);
  // Last: waiting work has had its pick of the capacity that freed up.
  if (options_.rebalance.enabled && options_.cost_model == contracts::CostModel::kContractAware &&
      now >= next_rebalance_) {
    Rebalance(now);
    next_rebalance_ = now + options_.rebalance.every;
  }
}

// Eviction order when capacity or power falls: preemptible work first, then
// lowest priority, then the most recently started (least work lost), then id.
bool Scheduler::EvictsBefore(int32_t x, int32_t y) const {
  const Allocation &a = allocs_[x], &b = allocs_[y];
  if (a.preemptible != b.preemptible) return a.preemptible;
  if (a.priority != b.priority) return a.priority < b.priority;
  if (a.start != b.start) return a.start > b.start;
  return x > y;
}

void Scheduler::RankNodes(PoolIndex pool, std::vector<int64_t>* rank) const {
  rank->assign(static_cast<size_t>(fleet_.nodes(pool).node_count()), 0);
  std::vector<int32_t> order = allocs_.InPool(pool);
  std::sort(order.begin(), order.end(), [&](int32_t x, int32_t y) { return EvictsBefore(x, y); });
  for (size_t i = 0; i < order.size(); ++i) {
    for (int32_t n : fleet_.NodesOf(allocs_[order[i]].placed)) {
      (*rank)[n] = std::max<int64_t>((*rank)[n], static_cast<int64_t>(i) + 1);
    }
  }
}

void Scheduler::EnforceLimits(PoolIndex pool, Time now) {
  if (!fleet_.Overcommitted(pool)) return;
  scratch_victims_ = allocs_.InPool(pool);
  std::sort(scratch_victims_.begin(), scratch_victims_.end(),
            [&](int32_t x, int32_t y) { return EvictsBefore(x, y); });
  // With nodes, only work on a node that shrank or went away has to go.
  for (int32_t id : scratch_victims_) {
    if (!fleet_.Overcommitted(pool)) break;
    if (allocs_[id].live && fleet_.OnOvercommittedNode(pool, allocs_[id].placed)) {
      Evict(id, StopReason::kInterrupted, 0, now);
    }
  }
}

void Scheduler::EnforceSitePower(world::SiteIndex site, Time now) {
  if (!fleet_.site(site).limited || fleet_.site(site).used <= fleet_.site(site).capacity) return;
  scratch_victims_.clear();
  for (size_t p = 0; p < world_.pools.size(); ++p) {
    if (world_.pools[p].site != site) continue;
    const auto& in_pool = allocs_.InPool(static_cast<PoolIndex>(p));
    scratch_victims_.insert(scratch_victims_.end(), in_pool.begin(), in_pool.end());
  }
  std::sort(scratch_victims_.begin(), scratch_victims_.end(),
            [&](int32_t x, int32_t y) { return EvictsBefore(x, y); });
  for (int32_t id : scratch_victims_) {
    if (fleet_.site(site).used <= fleet_.site(site).capacity) break;
    Evict(id, StopReason::kInterrupted, 0, now);
  }
}

void Scheduler::PoolInstalledChanged(PoolIndex pool, Time now) {
  const int64_t before = fleet_.pool(pool).capacity;
  fleet_.SetInstalled(pool, InstalledNow(pool), now);
  if (fleet_.pool(pool).capacity > before) ++generation_;
  EnforceLimits(pool, now);
  Emit({now, EventType::kPoolCapacity, pool, pool, 0, fleet_.pool(pool).capacity,
        fleet_.pool(pool).installed});
}

void Scheduler::SitePowerChanged(world::SiteIndex site, Power power, Time now) {
  const Power before = fleet_.site(site).capacity;
  fleet_.SetSitePower(site, power);
  if (fleet_.site(site).capacity > before) ++generation_;
  EnforceSitePower(site, now);
  Emit({now, EventType::kSitePower, site, world::kNone, 0, fleet_.site(site).capacity.watts(), 0});
}

void Scheduler::ApplyFaultToPools(world::FaultIndex f, int32_t sign, Time now) {
  const world::Fault& fault = world_.faults[f];
  for (size_t p = 0; p < world_.pools.size(); ++p) {
    const world::Pool& pool = world_.pools[p];
    const bool hit =
        (fault.target_kind == world::FaultTargetKind::kPool &&
         fault.target == static_cast<int32_t>(p)) ||
        (fault.target_kind == world::FaultTargetKind::kSite && fault.target == pool.site) ||
        (fault.target_kind == world::FaultTargetKind::kProvider && fault.target == pool.provider);
    if (!hit) continue;
    const PoolIndex pi = static_cast<PoolIndex>(p);
    if (fault.kind == world::FaultKind::kOutage) {
      fleet_.AddOutage(pi, sign, now);
    } else {
      fleet_.AddCut(pi, sign * fault.cut_milli, now);
    }
    EnforceLimits(pi, now);
    Emit({now, EventType::kPoolCapacity, pi, pi, 0, fleet_.pool(pi).capacity,
          fleet_.pool(pi).installed});
  }
}

void Scheduler::FaultStarted(world::FaultIndex f, Time now) {
  const world::Fault& fault = world_.faults[f];
  Emit({now, EventType::kFaultStarted, f, world::kNone, 0, 0, 0});
  if (fault.kind == world::FaultKind::kOutage) {
    // A provider- or site-wide outage is a declared outage of the provider (for
    // exclusivity outage exceptions).
    if (fault.target_kind == world::FaultTargetKind::kProvider)
      fleet_.AddProviderOutage(fault.target, 1);
    if (fault.target_kind == world::FaultTargetKind::kSite) {
      fleet_.AddSiteOutage(fault.target, 1);
      fleet_.AddProviderOutage(world_.sites[fault.target].provider, 1);
    }
    ++generation_;  // an outage exception may open other providers
  }
  ApplyFaultToPools(f, +1, now);
}

void Scheduler::FaultEnded(world::FaultIndex f, Time now) {
  const world::Fault& fault = world_.faults[f];
  Emit({now, EventType::kFaultEnded, f, world::kNone, 0, 0, 0});
  ApplyFaultToPools(f, -1, now);
  if (fault.kind == world::FaultKind::kOutage) {
    if (fault.target_kind == world::FaultTargetKind::kProvider)
      fleet_.AddProviderOutage(fault.target, -1);
    if (fault.target_kind == world::FaultTargetKind::kSite) {
      fleet_.AddSiteOutage(fault.target, -1);
      fleet_.AddProviderOutage(world_.sites[fault.target].provider, -1);
    }
    EnforceExclusivity(now);  // work let in by an outage exception goes home
  }
  ++generation_;
}

void Scheduler::ApplyContractTerms(Time now, bool log) {
  for (size_t p = 0; p < world_.pools.size(); ++p) {
    const world::Pool& pool = world_.pools[p];
    if (pool.contract == world::kNone) continue;
    const world::Contract& c = world_.contracts[pool.contract];
    const bool in_force = now >= c.start && now < c.end;
    const PoolIndex pi = static_cast<PoolIndex>(p);
    if (fleet_.pool(pi).contract_in_force == in_force) continue;
    fleet_.SetContractInForce(pi, in_force, now);
    EnforceLimits(pi, now);
    // Usable capacity changes with the contract: log it like any other change.
    if (log)
      Emit({now, EventType::kPoolCapacity, pi, pi, 0, fleet_.pool(pi).capacity,
            fleet_.pool(pi).installed});
  }
}

void Scheduler::EnforceExclusivity(Time now) {
  if (rules_.empty()) return;
  std::vector<int32_t> violators;
  for (int32_t id = 0; id < allocs_.size(); ++id) {
    const Allocation& a = allocs_[id];
    if (!a.live) continue;
    std::string_view cls, family;
    if (a.is_service) {
      cls = service_spec(a.owner).workload_class;
      family = service_spec(a.owner).model_family;
    } else {
      cls = job_spec(a.owner).workload_class;
      family = job_spec(a.owner).model_family;
    }
    if (!rules_.Check(cls, family, world_.pools[a.pool].provider, now, fleet_.provider_in_outage())
             .allowed) {
      violators.push_back(static_cast<int32_t>(id));
    }
  }
  for (int32_t id : violators) Evict(id, StopReason::kInterrupted, 0, now);
}

void Scheduler::ContractsChanged(Time now) {
  Emit({now, EventType::kContractsChanged, world::kNone, world::kNone, 0, 0, 0});
  ApplyContractTerms(now);
  EnforceExclusivity(now);
  ++generation_;
}

void Scheduler::AllowAmendments(world::World* world) {
  POLYCLOUD_CHECK(world == &world_);
  amendable_ = world;
}

Status Scheduler::CheckAmendment(const cmd::AmendContract& amendment, Time now) const {
  if (amendable_ == nullptr) {
    return FailedPrecondition("amend-contract: this core was built without amendable terms");
  }
  const world::ContractIndex c = amendment.contract;
  if (c < 0 || static_cast<size_t>(c) >= world_.contracts.size()) {
    return NotFound("no contract with index " + std::to_string(c));
  }
  const world::Contract& old = world_.contracts[c];
  const world::Contract& terms = amendment.terms;
  const std::string what = "amend-contract " + old.id + ": ";
  if (terms.id != old.id) return InvalidArgument(what + "the id cannot change, found " + terms.id);
  if (terms.provider != old.provider) return InvalidArgument(what + "the provider cannot change");
  if (terms.start != old.start) return InvalidArgument(what + "the start cannot change");
  if (terms.end != old.end && terms.end < now) {
    return InvalidArgument(what + "the end (" + FormatTime(terms.end) + ") is before now (" +
                           FormatTime(now) + ")");
  }
  // Spend already counted against a minimum stands: every minimum that has
  // begun stays as it was, in place.
  for (size_t k = 0; k < old.minimums.size() && old.minimums[k].from < now; ++k) {
    const world::CommitmentMinimum& m = old.minimums[k];
    if (k >= terms.minimums.size() || terms.minimums[k].from != m.from ||
        terms.minimums[k].until != m.until || terms.minimums[k].spend != m.spend) {
      return InvalidArgument(what + "minimum " + std::to_string(k + 1) + " (" + FormatTime(m.from) +
                             " to " + FormatTime(m.until) +
                             ") has begun and cannot change; amend the minimums after it");
    }
  }
  return Status::Ok();
}

void Scheduler::AmendContract(world::ContractIndex c, const world::Contract& terms, Time now) {
  ledger_.BeforeAmendment(c, now);  // bills up to now under the old terms
  amendable_->contracts[c] = terms;
  ledger_.AfterAmendment(c, now);
  rules_.Rebuild();
  placer_.ContractsAmended();
  Emit({now, EventType::kContractAmended, c, world::kNone, 0, 0, 0});
  // The core, not its driver, knows the new terms' instants: it asks to be
  // woken at each one still ahead.
  if (timer_ != nullptr) {
    std::vector<Time> instants = {terms.start, terms.end};
    for (const world::ExclusivityClause& e : terms.exclusivity) {
      instants.push_back(e.from);
      instants.push_back(e.until);
    }
    for (const world::RofrClause& r : terms.rofr) {
      instants.push_back(r.from);
      instants.push_back(r.until);
    }
    std::sort(instants.begin(), instants.end());
    instants.erase(std::unique(instants.begin(), instants.end()), instants.end());
    for (Time t : instants) {
      if (t > now) timer_->AtTime(t, WakeKind::kContractTerms, c);
    }
  }
  ApplyContractTerms(now);
  EnforceExclusivity(now);
  ++generation_;
}

void Scheduler::Finish(Time end) {
  fleet_.IntegrateAll(end);
  for (size_t s = 0; s < services_.size(); ++s) IntegrateService(static_cast<ServiceIndex>(s), end);
  for (size_t j = 0; j < jobs_.size(); ++j) {
    JobState& s = jobs_[j];
    if (s.status == JobStatus::kRunning) {
      const Allocation& a = allocs_[s.alloc];
      s.gpu_seconds += a.GpuSeconds((end - a.start).seconds());
    }
  }
  for (int32_t id = 0; id < allocs_.size(); ++id) {
    const Allocation& a = allocs_[id];
    if (!a.live) continue;
    const int64_t gpu_seconds = a.GpuSeconds((end - a.start).seconds());
    if (a.is_service) {
      ledger_.AttributeService(a.owner, a.pool, gpu_seconds);
    } else {
      ledger_.AttributeJob(a.owner, a.pool, gpu_seconds);
    }
  }
  ledger_.Close(end);
}

}  // namespace polycloud::scheduler
