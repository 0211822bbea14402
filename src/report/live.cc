#include "polycloud/report/live.h"

#include "polycloud/report/report.h"
#include "render.h"

namespace polycloud::report {

LiveReport::LiveReport(const world::World& world, const scheduler::Scheduler& scheduler,
                       LiveWindow window)
    : world_(world),
      start_(window.start),
      series_(world, scheduler, window),
      workloads_(world, scheduler),
      audit_(scheduler, world) {}

void LiveReport::OnEvent(const scheduler::Event& event) {
  ++events_;
  series_.OnEvent(event);
  workloads_.OnEvent(event);
  audit_.OnEvent(event);
}

std::string LiveReport::Json(scheduler::Scheduler& scheduler, Time now, const std::string& policy,
                             int64_t commands) const {
  sim::RunStats stats;
  stats.events = commands;
  stats.scheduler_events = events_;
  stats.end = now;
  Report r = Build(world_, scheduler, audit_, stats, policy);
  // The run began when the core did, not at the scenario's start.
  r.start = start_;
  r.timeseries = series_.Snapshot(now);
  Workloads listed = workloads_.Finish(now);
  ExplainWaiting(listed, scheduler, now, 20);
  r.workloads = std::move(listed);
  return ReportJson(r).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace polycloud::report
