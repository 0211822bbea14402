// TimeSeriesRecorder: the run over time, for the report's charts — GPUs
// installed, usable and in use per provider and per pool, facility power per
// site against its limit, queued jobs and queue-wait percentiles per workload
// class, and each service's replicas per provider with the demand it had and
// the part of it served.
//
// It is a scheduler::Observer: it reads the scheduler's state (a pool, its
// site, a service) at every event about it — every change is reported by
// such an event, emitted after the change — and the world's demand
// schedules, and it changes nothing, so attaching it leaves
// every decision (and the golden event logs) as they were. Time is cut into
// a fixed number of equal buckets (at most kMaxBuckets, of a round width: an
// hour, a day, ...), so the figures of a year of ten million jobs stay a few
// hundred kilobytes: the 10M-job year's whole report stays under 10 MB.
// Each level is kept per bucket exactly: its integral (value × seconds, so
// the mean is integral ÷ the bucket's width), its peak and its low. Sums over
// the buckets equal the scheduler's own integrals (TimeSeriesTest).
//
// A chart of ten thousand pools reads nothing, so pools and sites are chosen:
// the kMaxPools largest pools (by GPUs at their peak; every pool when there
// are fewer) and the kMaxSites sites closest to their power limit (limited
// sites first, by their peak draw over their lowest limit). Providers,
// workload classes (up to kMaxClasses, the rest as "other") and services (up
// to kMaxServices) are all kept.
//
//   report::TimeSeriesRecorder series(world, sim.scheduler());
//   sim.AddObserver(&series);
//   sim::RunStats stats = sim.Run();
//   report.timeseries = series.Finish(stats.end);
//
// The live broker (`polycloud serve`) records with a LiveWindow instead: the
// run has no end, buckets have the width given, and only the latest
// kMaxBuckets are kept (older ones fall off the front, so memory stays
// bounded however long it runs); Snapshot(now) is the series so far,
// without disturbing the recording.
//
// Thread-safety: not thread-safe; the simulator's (or broker's) thread drives it.
#ifndef POLYCLOUD_REPORT_TIMESERIES_H_
#define POLYCLOUD_REPORT_TIMESERIES_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "polycloud/base/units.h"
#include "polycloud/scheduler/scheduler.h"
#include "polycloud/world/world.h"

namespace polycloud::report {

// A step function of time (GPUs, watts, jobs, tokens/s) per bucket.
struct LevelSeries {
  std::vector<int64_t> area;  // ∫ value dt over the bucket (value × seconds)
  std::vector<int64_t> peak;  // highest value in force in the bucket
  std::vector<int64_t> low;   // lowest value in force in the bucket
};

struct FleetSeries {
  std::string id;                           // provider or pool id
  std::string provider, site, accelerator;  // pools only
  LevelSeries installed, usable, used;      // GPUs
  // Pools, with nodes: free GPUs the recent request mix could not use where
  // they sit (placement::FleetState::StrandedGpus), sampled at each bucket's end.
  std::vector<int64_t> stranded;
};

struct SitePowerSeries {
  std::string id, provider;
  bool limited = false;
  LevelSeries drawn;  // facility watts drawn by allocated GPUs (× PUE)
  LevelSeries limit;  // facility power limit, watts (meaningless when !limited)
  // Drawn over the limit at each instant, thousandths: its peak is the
  // bucket's closest approach to the limit (the drawn peak and the limit's
  // low may fall at different instants when the limit changes).
  LevelSeries share_of_limit;
};

struct ClassSeries {
  std::string name;              // workload class, or "other"
  LevelSeries queued;            // jobs waiting
  std::vector<int64_t> started;  // jobs starting for the first time in the bucket
  // Queue wait (first start − arrival) of the jobs starting in the bucket,
  // nearest rank, seconds; -1 when none started.
  std::vector<int64_t> wait_p50, wait_p90, wait_p99;
};

struct ServiceSeries {
  std::string id;
  std::vector<std::pair<std::string, LevelSeries>> replicas_by_provider;  // providers it ever used
  LevelSeries demand;                                                     // tokens/s asked
  LevelSeries served;  // tokens/s served: min(capacity, demand)
};

struct TimeSeries {
  Time start, end;  // the run: buckets cover [start, end)
  Duration bucket;  // width of every bucket but the last (cut at `end`)
  int32_t buckets = 0;
  std::vector<FleetSeries> providers;
  std::vector<FleetSeries> pools;  // the chosen pools
  int32_t pools_total = 0;
  std::vector<SitePowerSeries> sites;  // the chosen sites
  int32_t sites_total = 0;
  std::vector<ClassSeries> classes;
  std::vector<ServiceSeries> services;

  Time BucketStart(int32_t i) const { return start + bucket * i; }
  int64_t BucketSeconds(int32_t i) const;
};

// The bucket width for a run of `span`: the smallest round width (1 min, 5
// min, ..., 1 h, 2 h, 3 h, 6 h, 12 h, 1 d, 2 d, 7 d, ...) that cuts it into
// at most kMaxBuckets.
inline constexpr int32_t kMaxBuckets = 800;
Duration BucketWidth(Duration span);

// A live recording: from `start`, in buckets of `bucket`, keeping the latest
// kMaxBuckets (serve's /v1/report).
struct LiveWindow {
  Time start;
  Duration bucket = Duration::Seconds(60);
};

class TimeSeriesRecorder final : public scheduler::Observer {
 public:
  static constexpr int32_t kMaxPools = 32;
  static constexpr int32_t kMaxSites = 48;
  static constexpr int32_t kMaxClasses = 12;
  static constexpr int32_t kMaxServices = 32;

  // Reads the scheduler's initial state; the run covers [world.start,
  // world.end). The scheduler must outlive the recorder.
  TimeSeriesRecorder(const world::World& world, const scheduler::Scheduler& scheduler);
  // A live recording (see LiveWindow); `window.bucket` must be positive.
  TimeSeriesRecorder(const world::World& world, const scheduler::Scheduler& scheduler,
                     LiveWindow window);
  void OnEvent(const scheduler::Event& event) override;
  // Closes the buckets up to `end` (the run's end, RunStats::end). Call
  // once, after the run.
  TimeSeries Finish(Time end);
  // The series as Finish(now) would give them, leaving the recorder as it
  // was (it copies its state: a few hundred kilobytes at most). `now` must
  // not be before the last event seen.
  TimeSeries Snapshot(Time now) const;

 private:
  // One step function, integrated into the current bucket.
  struct Level {
    int64_t value = 0;
    Time since;
    __int128 area = 0;
    int64_t peak = 0, low = 0;
    LevelSeries out;
    void Set(int64_t v, Time at);
    void Close(Time boundary);
  };
  struct PoolTrack {
    int64_t installed = 0, usable = 0, used = 0;
    int32_t level = -1;  // first of its installed/usable/used levels when chosen, else -1
  };
  struct ServiceTrack {
    size_t next_point = 0;  // next demand point of the world's schedule
    int64_t demand = 0, capacity = 0;
    int32_t demand_level = -1, served_level = -1;
    std::vector<int32_t> provider_level;  // per provider: replicas level, -1 until used
  };
  // The constructors' shared part: the run starts at `start`.
  void Init(Time start);
  int32_t NewLevel(int64_t value);
  void SetLevel(int32_t level, int64_t value, Time at) { levels_[level].Set(value, at); }
  // Closes the buckets ending at or before `t`, stepping demand on the way.
  void AdvanceTo(Time t);
  // Applies the demand points of every service at or before `t`.
  void StepDemand(Time t);
  void CloseBucket();
  // Live: drops the `n` oldest closed buckets of every series.
  void DropOldestBuckets(int32_t n);
  // Read the scheduler's state at `now_`: every change of a pool, site or
  // service is reported by an event about it, emitted after the change.
  void RefreshPool(world::PoolIndex p);
  void SetPool(world::PoolIndex p, int64_t installed, int64_t usable, int64_t used);
  void RefreshSite(world::SiteIndex s);
  void RefreshService(world::ServiceIndex s);
  void ContractsChanging();
  // Records the sites' shares of their limits as the instant `now_` ends.
  void FlushShares();
  void SetServed(ServiceTrack& track, Time at);
  int32_t ClassOf(world::JobIndex job);
  LevelSeries Take(int32_t level) { return std::move(levels_[level].out); }

  const world::World& world_;
  const scheduler::Scheduler& sched_;
  bool live_ = false;  // a LiveWindow: no end, the latest kMaxBuckets kept
  TimeSeries ts_;
  Time now_;
  Time bucket_end_;
  std::vector<Level> levels_;
  std::vector<PoolTrack> pools_;
  std::vector<int32_t> provider_levels_;  // per provider: installed, usable, used
  std::vector<int32_t> site_choice_;      // per site: index into ts_.sites, or -1
  std::vector<int32_t> site_levels_;      // per chosen site: drawn, limit, share
  std::vector<int64_t>
      pending_share_;  // per chosen site: its share at the end of this instant, or -1
  std::vector<int32_t> pending_sites_;
  std::vector<ServiceTrack> services_;              // the chosen services
  std::vector<int32_t> class_levels_;               // per class series: queued
  std::vector<int32_t> shape_class_;                // per job shape: class series, -1 not yet known
  std::vector<std::vector<int64_t>> bucket_waits_;  // per class: waits of this bucket's starts
};

}  // namespace polycloud::report

#endif  // POLYCLOUD_REPORT_TIMESERIES_H_
