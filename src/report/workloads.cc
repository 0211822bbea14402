#include "polycloud/report/workloads.h"

#include <algorithm>
#include <sstream>

#include "polycloud/base/parse.h"
#include "polycloud/report/explain.h"
#include "render.h"

namespace polycloud::report {
namespace {

using scheduler::EventType;

bool IsServiceEvent(const scheduler::Event& e) {
  switch (e.type) {
    case EventType::kReplicaStarted:
    case EventType::kReplicaStopped:
    case EventType::kReplicaLost:
    case EventType::kServiceShort:
    case EventType::kServiceRecovered:
    case EventType::kServiceSubmitted:
    case EventType::kServiceCancelled:
    case EventType::kReplicaMoved:
      return true;
    case EventType::kExclusivityException:
      return e.aux == 1;
    default:
      return false;
  }
}

bool IsJobEvent(const scheduler::Event& e) {
  switch (e.type) {
    case EventType::kJobArrived:
    case EventType::kJobStarted:
    case EventType::kJobFinished:
    case EventType::kJobPreempted:
    case EventType::kJobInterrupted:
    case EventType::kJobCancelled:
    case EventType::kDispatchFailed:
      return true;
    case EventType::kExclusivityException:
      return e.aux == 0;
    default:
      return false;
  }
}

// Worth keeping in a service's timeline after the cap: what went wrong and
// how it was mended.
bool Important(const scheduler::EventType type, int64_t aux) {
  return type == EventType::kReplicaLost || type == EventType::kServiceShort ||
         type == EventType::kServiceRecovered || type == EventType::kExclusivityException ||
         (type == EventType::kReplicaStarted && aux != 0);
}

const char* StatusName(scheduler::JobStatus s) {
  switch (s) {
    case scheduler::JobStatus::kNotArrived:
      return "not arrived";
    case scheduler::JobStatus::kQueued:
      return "queued";
    case scheduler::JobStatus::kRunning:
      return "running";
    case scheduler::JobStatus::kDone:
      return "done";
    case scheduler::JobStatus::kCancelled:
      return "cancelled";
  }
  return "";
}

}  // namespace

WorkloadRecorder::WorkloadRecorder(const world::World& world, const scheduler::Scheduler& scheduler)
    : world_(world), sched_(scheduler) {
  const int64_t n = static_cast<int64_t>(world.jobs.size());
  every_ = n <= kListAll;
  tracked_.assign(static_cast<size_t>(n), false);
  if (every_) {
    for (int64_t j = 0; j < n; ++j) TrackOf(static_cast<int32_t>(j)).reasons = kEvery;
  } else {
    for (int64_t i = 0; i < kSample; ++i) {
      TrackOf(static_cast<int32_t>(i * n / kSample)).reasons |= kSampled;
    }
    std::vector<int32_t> order(static_cast<size_t>(n));
    for (int64_t j = 0; j < n; ++j) order[j] = static_cast<int32_t>(j);
    std::partial_sort(
        order.begin(), order.begin() + kLargest, order.end(), [&](int32_t a, int32_t b) {
          return world.jobs[a].gpus != world.jobs[b].gpus ? world.jobs[a].gpus > world.jobs[b].gpus
                                                          : a < b;
        });
    for (int32_t i = 0; i < kLargest; ++i) TrackOf(order[i]).reasons |= kLargestGang;
  }
  services_.resize(std::min<size_t>(world.services.size(), kMaxServices));
}

WorkloadRecorder::Track& WorkloadRecorder::TrackOf(world::JobIndex job) {
  if (static_cast<size_t>(job) >= tracked_.size()) tracked_.resize(static_cast<size_t>(job) + 1);
  tracked_[job] = true;
  return tracks_[job];
}

void WorkloadRecorder::Append(Track& track, const Raw& raw) {
  if (track.head.size() < kTimelineHead) {
    track.head.push_back(raw);
    return;
  }
  track.tail.push_back(raw);
  if (track.tail.size() > kTimelineTail) {
    track.tail.pop_front();
    ++track.omitted;
  }
}

void WorkloadRecorder::Select(world::JobIndex job, Reason reason) {
  const bool known = static_cast<size_t>(job) < tracked_.size() && tracked_[job];
  Track& track = TrackOf(job);
  track.reasons |= reason;
  if (known) return;
  // What happened before it was chosen: it arrived (and a job disrupted for
  // the first time had started once, in the pool it is leaving: the caller
  // adds that).
  const world::Job& spec = sched_.job_spec(job);
  Append(track, Raw{spec.arrival, EventType::kJobArrived, world::kNone, spec.gpus, 0, 0});
}

void WorkloadRecorder::Unselect(world::JobIndex job, Reason reason) {
  auto it = tracks_.find(job);
  if (it == tracks_.end()) return;
  it->second.reasons &= static_cast<uint8_t>(~reason);
  if (it->second.reasons == 0) {
    tracks_.erase(it);
    tracked_[job] = false;
  }
}

void WorkloadRecorder::OnEvent(const scheduler::Event& e) {
  const Raw raw{e.at, e.type, e.pool, e.gpus, e.value, e.aux};
  if (IsServiceEvent(e)) {
    if (e.subject >= 0 && static_cast<size_t>(e.subject) < services_.size())
      OnServiceEvent(e.subject, raw);
    return;
  }
  if (!IsJobEvent(e)) return;
  const world::JobIndex j = e.subject;
  if (every_ && e.type == EventType::kJobArrived && static_cast<size_t>(j) >= world_.jobs.size() &&
      (static_cast<size_t>(j) >= tracked_.size() || !tracked_[j])) {
    // Submitted at run time (the live broker): listed while there is room.
    if (tracks_.size() < static_cast<size_t>(kListAll)) {
      TrackOf(j).reasons |= kEvery;
    } else {
      ++unlisted_;
    }
  }
  if (!every_) {
    const scheduler::JobState& s = sched_.jobs()[j];
    if (e.type == EventType::kJobStarted && s.starts == 1) {
      const std::pair<int64_t, int32_t> key{(e.at - sched_.job_spec(j).arrival).seconds(), -j};
      if (longest_.size() < static_cast<size_t>(kLongestWaits) || key > *longest_.begin()) {
        longest_.insert(key);
        Select(j, kLongWait);
        if (longest_.size() > static_cast<size_t>(kLongestWaits)) {
          const int32_t out = -longest_.begin()->second;
          longest_.erase(longest_.begin());
          Unselect(out, kLongWait);
        }
      }
    }
    const bool disruption = e.type == EventType::kJobPreempted ||
                            e.type == EventType::kJobInterrupted ||
                            e.type == EventType::kDispatchFailed;
    if (disruption && s.starts == 1 && disrupted_ < kDisrupted) {
      ++disrupted_;
      const bool known = static_cast<size_t>(j) < tracked_.size() && tracked_[j];
      Select(j, kDisruptedEarly);
      if (!known) {
        Append(tracks_[j], Raw{s.first_start, EventType::kJobStarted, e.pool, e.gpus, 0, 0});
      }
    }
  }
  if (static_cast<size_t>(j) < tracked_.size() && tracked_[j]) Append(tracks_.at(j), raw);
}

void WorkloadRecorder::OnServiceEvent(int32_t service, const Raw& raw) {
  ServiceTrack& t = services_[service];
  const bool groupable = raw.type == EventType::kReplicaStarted ||
                         raw.type == EventType::kReplicaStopped ||
                         raw.type == EventType::kReplicaLost;
  // One line per kind and pool in an instant, however the events of the
  // instant interleave (a scale-up alternates providers).
  if (groupable) {
    for (auto it = t.groups.rbegin(); it != t.groups.rend() && it->at == raw.at; ++it) {
      if (it->type == raw.type && it->pool == raw.pool && it->aux == raw.aux) {
        ++it->count;
        it->gpus += raw.gpus;
        return;
      }
    }
  }
  const bool room = t.groups.size() < kServiceGroups ||
                    (Important(raw.type, raw.aux) && t.groups.size() < kServiceGroups + 100);
  if (!room) {
    ++t.omitted;
    return;
  }
  t.groups.push_back(raw);
}

TimelineEntry WorkloadRecorder::Render(const Raw& raw) const {
  TimelineEntry out;
  out.at = raw.at;
  out.event = scheduler::EventTypeName(raw.type);
  out.count = raw.count;
  out.gpus = raw.gpus;
  if (raw.pool != world::kNone) {
    out.pool = world_.pools[raw.pool].id;
    out.provider = world_.providers[world_.pools[raw.pool].provider].id;
  }
  auto gpu_hours = [](int64_t gpu_seconds) { return std::to_string(gpu_seconds / 3600); };
  switch (raw.type) {
    case EventType::kJobStarted:
      if (raw.value > 0) out.detail = "expected run " + FormatDuration(Duration(raw.value));
      break;
    case EventType::kJobPreempted:
      out.detail = "by " +
                   (raw.aux >= 0 ? sched_.job_spec(static_cast<int32_t>(raw.aux)).id
                                 : sched_.service_spec(static_cast<int32_t>(-1 - raw.aux)).id) +
                   "; lost " + gpu_hours(raw.value) + " reference GPU-h since its last checkpoint";
      break;
    case EventType::kJobInterrupted:
      out.detail = "a fault, capacity cut, power cap or contract end took its GPUs; lost " +
                   gpu_hours(raw.value) + " reference GPU-h since its last checkpoint";
      break;
    case EventType::kDispatchFailed:
      out.detail = "the site did not start the run";
      break;
    case EventType::kReplicaStarted:
      out.detail = raw.aux == 2   ? "failover: replaces a replica lost at another provider"
                   : raw.aux == 1 ? "replaces a replica lost at the same provider"
                   : raw.aux == 3 ? "moved in from a dearer pool (rebalance)"
                                  : "scaled up to demand";
      break;
    case EventType::kReplicaStopped:
      out.detail = raw.aux == 1 ? "moved out to a cheaper pool (rebalance)" : "scaled down";
      break;
    case EventType::kReplicaMoved:
      out.detail = "moved from " + world_.pools[raw.aux].id + ": saves " +
                   FormatMoneyShort(Money::FromMicros(raw.value)) + " over the rebalance horizon";
      break;
    case EventType::kReplicaLost:
      out.detail = "a fault, capacity cut, power cap or contract end took its GPUs";
      break;
    case EventType::kServiceShort:
    case EventType::kServiceRecovered:
      out.detail = "demand " + std::to_string(raw.value) + " tokens/s, capacity " +
                   std::to_string(raw.aux) + " tokens/s";
      break;
    case EventType::kExclusivityException:
      out.detail = "placed outside the exclusive provider through an outage exception";
      break;
    default:
      break;
  }
  return out;
}

Workloads WorkloadRecorder::Finish(Time end) const {
  Workloads out;
  out.jobs_total = sched_.job_count();
  if (every_ && unlisted_ > 0) {
    out.selection = "the first " + std::to_string(kListAll) + " jobs";
  } else if (every_) {
    out.selection = "every job";
  } else {
    out.selection = "an even sample of " + std::to_string(kSample) + " jobs, the " +
                    std::to_string(kLargest) + " largest gangs, the " +
                    std::to_string(kLongestWaits) + " longest queue waits and the first " +
                    std::to_string(kDisrupted) + " jobs preempted or interrupted";
  }
  std::vector<world::JobIndex> listed;
  listed.reserve(tracks_.size());
  for (const auto& [j, t] : tracks_) listed.push_back(j);
  std::sort(listed.begin(), listed.end());
  for (world::JobIndex j : listed) {
    const Track& t = tracks_.at(j);
    const world::Job& spec = sched_.job_spec(j);
    const scheduler::JobState& s = sched_.jobs()[j];
    ListedJob row;
    row.id = spec.id;
    row.workload_class = spec.workload_class;
    row.model_family = spec.model_family;
    for (world::AcceleratorIndex a : spec.accelerators)
      row.accelerators += (row.accelerators.empty() ? "" : "|") + world_.accelerators[a].name;
    if (row.accelerators.empty()) row.accelerators = "any type";
    row.gpus = spec.gpus;
    row.work_gpu_seconds = spec.work_gpu_seconds;
    row.priority = spec.priority;
    row.preemptible = spec.preemptible;
    row.arrival = spec.arrival;
    row.status = StatusName(s.status);
    row.first_start = s.first_start;
    if (s.status == scheduler::JobStatus::kDone || s.status == scheduler::JobStatus::kCancelled)
      row.end = s.end;
    row.starts = s.starts;
    row.preemptions = s.preemptions;
    row.interruptions = s.interruptions;
    row.lost_work_gpu_seconds = s.lost_work;
    row.gpu_seconds = s.gpu_seconds;
    row.spend = sched_.ledger().JobSpend(j);
    for (size_t p = 0; p < world_.providers.size() && p < 31; ++p) {
      if (s.providers_used_mask & (1 << p)) row.providers.push_back(world_.providers[p].id);
    }
    static constexpr std::pair<uint8_t, const char*> kReasons[] = {
        {kEvery, "every job"},
        {kSampled, "sample"},
        {kLargestGang, "largest gangs"},
        {kLongWait, "longest waits"},
        {kDisruptedEarly, "preempted or interrupted"}};
    for (const auto& [bit, name] : kReasons) {
      if (t.reasons & bit) row.listed_for.push_back(name);
    }
    const Time waited_until = s.first_start != Time::Min() ? s.first_start : end;
    const int32_t shape = sched_.JobShape(j);
    for (size_t i = 0; i < sched_.requests().size(); ++i) {
      const scheduler::CapacityRequest& q = sched_.requests()[i];
      if (q.shape == shape && q.raised >= spec.arrival && q.raised <= waited_until)
        row.capacity_requests.push_back("req-" + std::to_string(i + 1));
    }
    for (const Raw& r : t.head) row.timeline.push_back(Render(r));
    for (const Raw& r : t.tail) row.timeline.push_back(Render(r));
    row.timeline_omitted = t.omitted;
    out.jobs.push_back(std::move(row));
  }
  for (size_t s = 0; s < services_.size(); ++s) {
    const world::Service& spec = world_.services[s];
    ListedService row;
    row.id = spec.id;
    row.model = spec.model;
    row.workload_class = spec.workload_class;
    for (const Raw& r : services_[s].groups) row.timeline.push_back(Render(r));
    row.timeline_omitted = services_[s].omitted;
    out.services.push_back(std::move(row));
  }
  return out;
}

void ExplainWaiting(Workloads& workloads, scheduler::Scheduler& scheduler, Time now,
                    int32_t max_jobs, size_t max_chars) {
  int32_t done = 0;
  for (ListedJob& job : workloads.jobs) {
    if (job.status != "queued" || done >= max_jobs) continue;
    ++done;
    std::ostringstream text;
    if (!ExplainNow(scheduler, job.id, now, text).ok()) continue;
    std::string s = text.str();
    if (s.size() > max_chars) {
      size_t cut = s.rfind('\n', max_chars);
      if (cut == std::string::npos) cut = max_chars;
      const size_t lines = static_cast<size_t>(std::count(s.begin() + cut, s.end(), '\n'));
      s.resize(cut);
      s += "\n… " + std::to_string(lines) + " more lines: polycloud explain SCENARIO " + job.id +
           "\n";
    }
    job.why_waiting = std::move(s);
  }
}

}  // namespace polycloud::report

namespace polycloud::report {
namespace {

Json TimeOrNull(Time t) { return t == Time::Min() ? Json(nullptr) : Json(FormatTimeFull(t)); }
Json TextOrNull(const std::string& s) { return s.empty() ? Json(nullptr) : Json(s); }

Json TimelineJson(const std::vector<TimelineEntry>& timeline) {
  Json out = Json::array();
  for (const TimelineEntry& e : timeline) {
    out.push_back({{"at", FormatTimeFull(e.at)},
                   {"event", e.event},
                   {"pool", TextOrNull(e.pool)},
                   {"provider", TextOrNull(e.provider)},
                   {"count", e.count},
                   {"gpus", e.gpus},
                   {"detail", e.detail}});
  }
  return out;
}

}  // namespace

Json WorkloadsJson(const Workloads& w) {
  Json j;
  j["jobs_total"] = w.jobs_total;
  j["jobs_listed"] = w.jobs.size();
  j["selection"] = w.selection;
  Json& jobs = j["jobs"] = Json::array();
  for (const ListedJob& job : w.jobs) {
    const bool started = job.first_start != Time::Min();
    const bool ended = job.end != Time::Min();
    jobs.push_back(
        {{"id", job.id},
         {"class", job.workload_class},
         {"model_family", job.model_family},
         {"accelerators", job.accelerators},
         {"gpus", job.gpus},
         {"work_gpu_seconds", job.work_gpu_seconds},
         {"priority", job.priority},
         {"preemptible", job.preemptible},
         {"arrival", FormatTimeFull(job.arrival)},
         {"status", job.status},
         {"first_start", TimeOrNull(job.first_start)},
         {"end", TimeOrNull(job.end)},
         {"wait_s", started ? Json((job.first_start - job.arrival).seconds()) : Json(nullptr)},
         {"completion_s",
          ended && job.status == "done" ? Json((job.end - job.arrival).seconds()) : Json(nullptr)},
         {"starts", job.starts},
         {"preemptions", job.preemptions},
         {"interruptions", job.interruptions},
         {"lost_work_gpu_seconds", job.lost_work_gpu_seconds},
         {"gpu_seconds", job.gpu_seconds},
         {"spend", MoneyJson(job.spend)},
         {"providers", job.providers},
         {"listed_for", job.listed_for},
         {"capacity_requests", job.capacity_requests},
         {"timeline", TimelineJson(job.timeline)},
         {"timeline_omitted", job.timeline_omitted},
         {"why_waiting", TextOrNull(job.why_waiting)}});
  }
  Json& services = j["services"] = Json::array();
  for (const ListedService& s : w.services) {
    services.push_back({{"id", s.id},
                        {"model", s.model},
                        {"class", s.workload_class},
                        {"timeline", TimelineJson(s.timeline)},
                        {"timeline_omitted", s.timeline_omitted}});
  }
  return j;
}

}  // namespace polycloud::report
