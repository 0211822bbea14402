// Adds what a trace file holds to a scenario's World (simulate --trace).
#include <algorithm>

#include "polycloud/replay/replay.h"

namespace polycloud::replay {

Result<traces::ReadStats> AddTraceToWorld(const traces::TraceSpec& spec,
                                          const traces::ReadOptions& read, world::World& world) {
  traces::TraceOptions options;
  options.read = read;
  // Indices valid in this world: resolve names against its accelerators.
  options.accelerators = traces::AcceleratorNames(world.accelerators);
  options.philly.time_shift = Duration();
  POLYCLOUD_ASSIGN_OR_RETURN(traces::TraceContents contents, traces::ReadTrace(spec, options));
  const traces::ReadStats stats = traces::StatsOf(contents);
  auto add_job = [&](world::Job job) {
    if (world.FindJob(job.id) != world::kNone) return;  // ids are unique; a repeat is skipped
    world.jobs.push_back(std::move(job));
  };
  if (auto* t = std::get_if<traces::PhillyTrace>(&contents)) {
    for (traces::PhillyJob& j : t->jobs) add_job(std::move(j.job));
  } else if (auto* t = std::get_if<traces::AlibabaPodTrace>(&contents)) {
    for (traces::AlibabaPod& p : t->pods) {
      if (p.job.work_gpu_seconds > 0) add_job(std::move(p.job));
    }
  } else if (auto* t = std::get_if<traces::NodeList>(&contents)) {
    traces::NodeFleetOptions where;
    where.provider_id = traces::TraceFormatName(spec.format) == std::string_view("alibaba-spot")
                            ? "alibaba-spot"
                            : "alibaba";
    where.site_id = where.provider_id;
    POLYCLOUD_RETURN_IF_ERROR(traces::AddFleetToWorld(traces::BuildNodeFleet(*t, where), world));
  } else if (auto* t = std::get_if<traces::Catalog>(&contents)) {
    POLYCLOUD_RETURN_IF_ERROR(traces::AddFleetToWorld(t->fleet, world));
  } else {
    return InvalidArgument(
        spec.path +
        ": this file cannot be added to a scenario from the command line (a Philly "
        "vc_nodes.csv needs `replay --per-vc`; azure-llm demand needs a service)");
  }
  std::stable_sort(world.jobs.begin(), world.jobs.end(),
                   [](const world::Job& a, const world::Job& b) { return a.arrival < b.arrival; });
  world.BuildIndexes();
  return stats;
}

}  // namespace polycloud::replay
