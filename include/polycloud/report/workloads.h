// WorkloadRecorder: the jobs and services the HTML report lists by name, each
// with its own timeline (arrived, started where, preempted by whom, failed
// over, finished), from which its explanation and the decisions table are
// drawn.
//
// A run of ten million jobs cannot list them all, and which jobs are worth a
// look (the longest waits, the ones disrupted) is known only as the run goes,
// so the recorder keeps a bounded set, chosen as events arrive:
//  - every job when the world has at most kListAll; otherwise
//  - an even sample of kSample jobs and the kLargest largest gangs (chosen
//    before the run, from the world),
//  - the kLongestWaits jobs with the longest queue wait so far (chosen at
//    their first start: a job's only event before it is its arrival, so its
//    timeline is complete; a job pushed out by a longer wait is dropped),
//  - the first kDisrupted jobs preempted or interrupted (chosen at the first
//    disruption, before which a job has arrived and started once).
// Services (up to kMaxServices) are all listed; their replica events are
// grouped per instant, pool and kind ("12 replicas lost at pool X").
// Timelines are bounded (kTimelineHead first and kTimelineTail last entries
// of a job; kServiceGroups groups of a service, failovers and losses first).
// Like TimeSeriesRecorder, it only observes: no decision changes.
//
//   report::WorkloadRecorder listed(world, sim.scheduler());
//   sim.AddObserver(&listed);
//   sim.Run();
//   report.workloads = listed.Finish(stats.end);
//   report::ExplainWaiting(report.workloads, sim.scheduler_for_explain(), stats.end);
//
// Thread-safety: not thread-safe; the simulator's thread drives it.
#ifndef POLYCLOUD_REPORT_WORKLOADS_H_
#define POLYCLOUD_REPORT_WORKLOADS_H_

#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "polycloud/base/units.h"
#include "polycloud/scheduler/scheduler.h"
#include "polycloud/world/world.h"

namespace polycloud::report {

// One line of a workload's timeline.
struct TimelineEntry {
  Time at;
  std::string event;           // the event log's name: "job-started", "replica-lost", ...
  std::string pool, provider;  // "" when none
  int64_t count = 1;           // services: events grouped in this line
  int64_t gpus = 0;            // GPUs of the run (all the group's)
  std::string detail;          // "runs 3d04h", "by frontier-2, lost 12 GPU-h", "failover"
};

struct ListedJob {
  std::string id, workload_class, model_family;
  std::string accelerators;  // "H100|GB200", "any type"
  int64_t gpus = 0;
  int64_t work_gpu_seconds = 0;  // reference GPU-seconds
  int32_t priority = 0;
  bool preemptible = false;
  Time arrival;
  std::string status;  // "done", "running", "queued", "not arrived", "cancelled"
  Time first_start = Time::Min(), end = Time::Min();  // Min: none
  int32_t starts = 0, preemptions = 0, interruptions = 0;
  int64_t lost_work_gpu_seconds = 0, gpu_seconds = 0;
  Money spend;
  std::vector<std::string> providers;          // where it ran
  std::vector<std::string> listed_for;         // "every job", "sample", "longest waits", ...
  std::vector<std::string> capacity_requests;  // raised for its shape while it waited
  std::vector<TimelineEntry> timeline;
  int64_t timeline_omitted = 0;  // entries left out between the head and the tail
  std::string why_waiting;       // queued at the end: the explanation from the current state
};

struct ListedService {
  std::string id, model, workload_class;
  std::vector<TimelineEntry> timeline;
  int64_t timeline_omitted = 0;  // events in groups left out
};

struct Workloads {
  int64_t jobs_total = 0;
  std::string selection;        // how the listed jobs were chosen, for the reader
  std::vector<ListedJob> jobs;  // in arrival (index) order
  std::vector<ListedService> services;
};

class WorkloadRecorder final : public scheduler::Observer {
 public:
  static constexpr int32_t kListAll = 400;
  static constexpr int32_t kSample = 100;
  static constexpr int32_t kLargest = 40;
  static constexpr int32_t kLongestWaits = 100;
  static constexpr int32_t kDisrupted = 100;
  static constexpr int32_t kMaxServices = 32;
  static constexpr size_t kTimelineHead = 24;
  static constexpr size_t kTimelineTail = 24;
  static constexpr size_t kServiceGroups = 300;

  // The scheduler must outlive the recorder.
  WorkloadRecorder(const world::World& world, const scheduler::Scheduler& scheduler);
  void OnEvent(const scheduler::Event& event) override;
  // The listed workloads as they stand at `end` (the run's end). Call once.
  Workloads Finish(Time end) const;

 private:
  enum Reason : uint8_t {
    kEvery = 1,
    kSampled = 2,
    kLargestGang = 4,
    kLongWait = 8,
    kDisruptedEarly = 16,
  };
  struct Raw {
    Time at;
    scheduler::EventType type;
    world::PoolIndex pool = world::kNone;
    int64_t gpus = 0, value = 0, aux = 0;
    int64_t count = 1;
  };
  struct Track {
    uint8_t reasons = 0;
    std::vector<Raw> head;
    std::deque<Raw> tail;
    int64_t omitted = 0;
  };
  struct ServiceTrack {
    std::vector<Raw> groups;
    int64_t omitted = 0;
  };
  void Append(Track& track, const Raw& raw);
  void Select(world::JobIndex job, Reason reason);
  Track& TrackOf(world::JobIndex job);
  void Unselect(world::JobIndex job, Reason reason);
  void OnServiceEvent(int32_t service, const Raw& raw);
  TimelineEntry Render(const Raw& raw) const;

  const world::World& world_;
  const scheduler::Scheduler& sched_;
  bool every_ = false;
  // Jobs submitted at run time (beyond the World's) that found the list full
  // (kListAll): the live broker lists the first kListAll it sees.
  int64_t unlisted_ = 0;
  std::unordered_map<world::JobIndex, Track> tracks_;
  std::vector<bool> tracked_;  // per job: has a Track (most events are about jobs without)
  std::set<std::pair<int64_t, int32_t>> longest_;  // (wait, -job): begin() leaves first
  int32_t disrupted_ = 0;
  std::vector<ServiceTrack> services_;
};

// Fills `why_waiting` of the listed jobs still queued at `now` (at most
// `max_jobs` of them) with the scheduler's explanation from its current state
// (report::ExplainNow), each cut at `max_chars`. Changes no decision.
void ExplainWaiting(Workloads& workloads, scheduler::Scheduler& scheduler, Time now,
                    int32_t max_jobs = 50, size_t max_chars = 6000);

}  // namespace polycloud::report

#endif  // POLYCLOUD_REPORT_WORKLOADS_H_
