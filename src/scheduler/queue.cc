// The job queue and its policies: the order of the queue (priority, FIFO,
// SJF, SRTF), jobs filed by shape (jobs of one shape fail alike), and the
// pass over the queue with its holds, backfill and blocking rules.
#include <algorithm>

#include "polycloud/scheduler/scheduler.h"

namespace polycloud::scheduler {

using world::JobIndex;
using world::PoolIndex;
using world::ServiceIndex;

Result<Policy> ParsePolicy(std::string_view name) {
  if (name == "priority") return Policy::kPriority;
  if (name == "fifo") return Policy::kFifo;
  if (name == "sjf") return Policy::kSjf;
  if (name == "srtf") return Policy::kSrtf;
  return InvalidArgument("unknown scheduler policy \"" + std::string(name) +
                         "\" (expected priority, fifo, sjf or srtf)");
}

Status SetPolicy(std::string_view name, Options* options) {
  if (name == "cheapest-price") {
    options->policy = Policy::kPriority;
    options->cost_model = contracts::CostModel::kCheapestPrice;
    return Status::Ok();
  }
  Result<Policy> policy = ParsePolicy(name);
  if (!policy.ok()) {
    return InvalidArgument("unknown scheduler policy \"" + std::string(name) +
                           "\" (expected priority, fifo, sjf, srtf or cheapest-price)");
  }
  options->policy = *policy;
  options->cost_model = contracts::CostModel::kContractAware;
  return Status::Ok();
}

Status SetNodeChoice(std::string_view name, Options* options) {
  if (name.empty()) return Status::Ok();
  const std::optional<placement::NodePolicy> policy = placement::ParseNodePolicy(name);
  if (!policy) {
    return InvalidArgument("unknown node choice \"" + std::string(name) + "\" (expected " +
                           placement::NodePolicyNames() + ")");
  }
  options->nodes = *policy;
  return Status::Ok();
}

std::string PolicyLabel(const Options& options) {
  if (options.cost_model == contracts::CostModel::kCheapestPrice) {
    return options.policy == Policy::kPriority
               ? "cheapest-price"
               : std::string(PolicyName(options.policy)) + "+cheapest-price";
  }
  return PolicyName(options.policy);
}

const char* PolicyName(Policy policy) {
  switch (policy) {
    case Policy::kPriority:
      return "priority";
    case Policy::kFifo:
      return "fifo";
    case Policy::kSjf:
      return "sjf";
    case Policy::kSrtf:
      return "srtf";
  }
  return "?";
}

void Scheduler::RegisterShape(JobIndex j) {
  job_shape_.push_back(ShapeOf(job_spec(j)));
  if (static_cast<size_t>(job_shape_.back()) == shape_example_.size()) {
    shape_example_.push_back(j);
    shape_failures_.emplace_back();
    shape_queued_.push_back(0);
  }
  top_priority_ = std::max(top_priority_, job_spec(j).priority);
}

void Scheduler::Enqueue(JobIndex j) {
  const QueueKey key = KeyOf(j);
  if (quiet_ && !(quiet_last_ < key)) quiet_broken_ = true;
  queue_.insert(key);
  if (shape_queued_[job_shape_[j]]++ == 0) ++shapes_queued_;
}

std::set<Scheduler::QueueKey>::iterator Scheduler::Dequeue(std::set<QueueKey>::iterator it) {
  quiet_broken_ = true;
  if (--shape_queued_[job_shape_[it->job]] == 0) --shapes_queued_;
  return queue_.erase(it);
}

int32_t Scheduler::ShapeOf(const world::Job& job) {
  std::string key = job.workload_class + '\0' + job.model_family + '\0';
  std::vector<world::AcceleratorIndex> a = job.accelerators;
  std::sort(a.begin(), a.end());
  for (auto x : a) key += std::to_string(x) + ',';
  auto [it, inserted] = shapes_.emplace(key, static_cast<int32_t>(shapes_.size()));
  return it->second;
}

Scheduler::QueueKey Scheduler::KeyOf(JobIndex j) const {
  const world::Job& job = job_spec(j);
  switch (options_.policy) {
    case Policy::kFifo:
      return {0, job.arrival.unix_seconds(), j};
    case Policy::kSjf:
      return {job.work_gpu_seconds / std::max<int64_t>(1, job.gpus), job.arrival.unix_seconds(), j};
    case Policy::kSrtf:  // queued: remaining_work is current
      return {jobs_[j].remaining_work / std::max<int64_t>(1, job.gpus), job.arrival.unix_seconds(),
              j};
    case Policy::kPriority:
      break;
  }
  return {-static_cast<int64_t>(job.priority), job.arrival.unix_seconds(), j};
}

void Scheduler::PlaceQueue(Time now) {
  ++pass_;
  const uint64_t generation_at_start = generation_;
  // After a quiet pass with nothing changed since, the jobs it left queued
  // would each be skipped again (failed at this generation), re-adding their
  // holds in queue order: keep those holds and start after them. FIFO stops
  // at the first blocked job anyway.
  const bool shortcut = quiet_ && !quiet_broken_ && generation_ == quiet_generation_ &&
                        options_.policy != Policy::kFifo;
  // Under the priority policy a job that waits for GPUs or power holds the
  // pool where it would fit best: lower-priority work may not backfill into
  // it, so a large high-priority gang is not starved by a stream of smaller
  // jobs. Holds are rebuilt on every pass, in queue order; only the pools
  // held in the last pass are cleared (their holders kept to compare).
  if (shortcut) {
    ++quiet_passes_;
    for (PoolIndex p : held_pools_) previous_holder_[p] = reserved_[p];
    previously_held_ = held_pools_;
  } else {
    for (PoolIndex p : held_pools_) {
      previous_holder_[p] = reserved_[p];
      reserved_[p] = placement::kNoReservation;
    }
    previously_held_.swap(held_pools_);
    held_pools_.clear();
  }
  auto hold = [&](const JobState& s, int32_t priority) {
    if (options_.policy != Policy::kPriority || s.reserved_pool == world::kNone) return;
    int32_t& holder = reserved_[s.reserved_pool];
    if (holder == placement::kNoReservation) held_pools_.push_back(s.reserved_pool);
    holder = std::max(holder, priority);
  };
  // Under SJF and SRTF a shape whose one-GPU job of the top priority failed
  // is done for the pass (later jobs have no less work left); when every
  // queued shape is, nothing later can start. Not when a job is watched: its
  // decision is recorded even when it fails.
  const bool may_end_early =
      (options_.policy == Policy::kSjf || options_.policy == Policy::kSrtf) &&
      watch_index_ == world::kNone;
  int32_t shapes_done = 0;
  bool walked_to_end = true;
  for (auto it = shortcut ? queue_.upper_bound(quiet_last_) : queue_.begin(); it != queue_.end();) {
    if (may_end_early && shapes_done == shapes_queued_) {
      walked_to_end = false;
      break;
    }
    const JobIndex j = it->job;
    JobState& s = jobs_[j];
    const world::Job& job = job_spec(j);
    if (!spend_held_.empty()) {
      const auto held = spend_held_.find(j);
      if (held != spend_held_.end()) {
        // Held by its tenant's spend quota and nothing has changed since:
        // still held, and (unlike a job that failed) it blocks no one.
        if (held->second.generation == generation_) {
          ++it;
          continue;
        }
        spend_held_.erase(held);  // weighed afresh below
      }
    }
    if (s.failed_generation == generation_) {  // nothing has changed since it last failed
      if (options_.policy == Policy::kFifo) break;
      hold(s, job.priority);
      ++it;
      continue;
    }
    ShapeFailure& sf = shape_failures_[job_shape_[j]];
    const bool watched = IsWatched(false, j);
    if (!watched && sf.pass == pass_ && job.gpus >= sf.gang && job.priority <= sf.priority) {
      s.failed_generation = generation_;  // a smaller gang of the same shape just failed
      if (options_.policy == Policy::kFifo) break;
      hold(s, job.priority);
      ++it;
      continue;
    }
    if (!world_.tenants.empty() && OverQuota(j)) {
      // Its tenant's quota holds it; it holds no pool and blocks no one else
      // (not even under FIFO): other tenants' work goes on. Not marked as
      // failed, which would stop a FIFO pass at it next time: asking again
      // costs a comparison.
      ++it;
      continue;
    }
    if (options_.policy == Policy::kSrtf) {
      placing_remaining_ = RemainingSeconds(j, now);
      placing_now_ = now;
    }
    placement::Decision d = Decide(JobRequest(j), now, watched);
    if (d.pool == world::kNone) {
      placing_remaining_ = -1;
      s.failed_generation = generation_;
      s.reserved_pool = d.best_blocked;
      hold(s, job.priority);
      if (sf.pass != pass_ || job.gpus < sf.gang) {
        const bool was_done = sf.pass == pass_ && sf.gang <= 1 && sf.priority >= top_priority_;
        sf = {pass_, job.gpus, job.priority};
        if (!was_done && job.gpus <= 1 && job.priority >= top_priority_) ++shapes_done;
      }
      if (options_.policy == Policy::kFifo) break;
      ++it;
      continue;
    }
    s.reserved_pool = world::kNone;
    if (!world_.tenants.empty() && OverSpendQuota(j, d.pool, d.alloc_gpus, now)) {
      // Its tenant's spend quota holds it, like the GPU quota above: no pool
      // held, no one blocked; a stop, or the month's end, brings it back
      // (spend_held_ keeps the generation it was weighed in).
      placing_remaining_ = -1;
      ++it;
      continue;
    }
    const QueueKey started = *it;
    it = Dequeue(it);
    StartJob(j, d, now);
    placing_remaining_ = -1;
    // Preemption requeued its victims by key, after the job that preempted
    // them (lower priority, or longer remaining under SRTF); `it` may be past
    // them (the end of the queue), so look again from the started job's key
    // and the victims are reconsidered in this pass.
    if (d.needs_preemption) it = queue_.upper_bound(started);
  }
  // Jobs that failed because of a hold must be retried once the holds change.
  bool holds_changed = held_pools_.size() != previously_held_.size();
  for (PoolIndex p : held_pools_)
    holds_changed = holds_changed || reserved_[p] != previous_holder_[p];
  for (PoolIndex p : previously_held_) previous_holder_[p] = placement::kNoReservation;
  if (holds_changed) ++generation_;
  quiet_ = walked_to_end && generation_ == generation_at_start && !queue_.empty() &&
           options_.policy != Policy::kFifo;
  if (quiet_) {
    quiet_generation_ = generation_;
    quiet_last_ = *queue_.rbegin();
    quiet_broken_ = false;
  }
}

}  // namespace polycloud::scheduler
