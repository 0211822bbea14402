// LiveReport: the report of a run that has not ended — the live broker's
// (`polycloud serve`, GET /v1/report). It observes the scheduler's events
// like the simulator's recorders do (the time series over a rolling window,
// the workloads listed by name, the compliance audit) and builds, at any
// instant, the same JSON document `simulate --json` writes (schema
// polycloud.report/1, docs/report.md), with the run's end being now. The
// HTML report's page code and the broker's dashboard therefore read one
// format.
//
//   report::LiveReport live(world, core, {.start = start, .bucket = minute});
//   core_observer_chain -> live.OnEvent(event);   // every event, replayed ones too
//   std::string json = live.Json(core, now, policy_label, commands);
//
// Thread-safety: not thread-safe. OnEvent and Json are called under the
// broker's lock; Json reads the scheduler (and explains waiting jobs with
// its placer), so no command may be applied meanwhile.
#ifndef POLYCLOUD_REPORT_LIVE_H_
#define POLYCLOUD_REPORT_LIVE_H_

#include <cstdint>
#include <string>

#include "polycloud/report/timeseries.h"
#include "polycloud/report/workloads.h"
#include "polycloud/scheduler/scheduler.h"
#include "polycloud/sim/simulator.h"
#include "polycloud/world/world.h"

namespace polycloud::report {

class LiveReport final : public scheduler::Observer {
 public:
  // `world` and `scheduler` must outlive the report; the recording starts at
  // `window.start` (the core's start) with buckets of `window.bucket`.
  LiveReport(const world::World& world, const scheduler::Scheduler& scheduler, LiveWindow window);

  void OnEvent(const scheduler::Event& event) override;

  // The report JSON (compact) as of `now` (not before the last event):
  // figures, ledger and compliance to now, the time series of the window,
  // the listed jobs and services, and for up to 20 listed jobs still queued
  // the scheduler's explanation of what holds them. `commands` is how many
  // commands the core has applied (the report's `events.simulator`).
  std::string Json(scheduler::Scheduler& scheduler, Time now, const std::string& policy,
                   int64_t commands) const;

 private:
  const world::World& world_;
  Time start_;
  TimeSeriesRecorder series_;
  WorkloadRecorder workloads_;
  sim::Audit audit_;
  int64_t events_ = 0;
};

}  // namespace polycloud::report

#endif  // POLYCLOUD_REPORT_LIVE_H_
