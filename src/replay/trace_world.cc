// Adds what a trace file holds to a scenario's World: simulate --trace
// (AddTraceToWorld) and a scenario's `traces:` section (AddScenarioTraces).
#include <algorithm>

#include "polycloud/replay/replay.h"
#include "polycloud/world/magnitudes.h"

namespace polycloud::replay {
namespace {

// Which records of a job trace are kept, and where their arrivals move.
struct Window {
  bool has_from = false, has_until = false;
  Time from, until;
  Duration shift;
  bool Keeps(Time t) const { return (!has_from || t >= from) && (!has_until || t < until); }
};

// `gpu_sharing` (alibaba-gpu): pods ask for their GPU share, CPU and memory,
// and node lists make pools with sharing and CPU and memory per node; false:
// whole GPUs only, the model before sharing.
Status AddContents(const traces::TraceSpec& spec, traces::TraceContents& contents,
                   const Window& window, const std::string& fleet_provider, bool gpu_sharing,
                   traces::ReadStats& stats, world::World& world) {
  auto add_job = [&](world::Job job) {
    if (!gpu_sharing) {
      job.gpu_milli = 0;
      job.cpu_milli = 0;
      job.memory_mib = 0;
    }
    if (!window.Keeps(job.arrival)) {
      ++stats.filtered;
      --stats.accepted;
      return;
    }
    job.arrival = job.arrival + window.shift;
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
    where.provider_id = !fleet_provider.empty()                            ? fleet_provider
                        : spec.format == traces::TraceFormat::kAlibabaSpot ? "alibaba-spot"
                                                                           : "alibaba";
    where.site_id = where.provider_id;
    where.multi_resource = gpu_sharing && spec.format == traces::TraceFormat::kAlibabaGpu;
    POLYCLOUD_RETURN_IF_ERROR(traces::AddFleetToWorld(traces::BuildNodeFleet(*t, where), world));
  } else if (auto* t = std::get_if<traces::Catalog>(&contents)) {
    POLYCLOUD_RETURN_IF_ERROR(traces::AddFleetToWorld(t->fleet, world));
  } else {
    return InvalidArgument(
        spec.path +
        ": this file cannot be added to a scenario this way (a Philly vc_nodes.csv needs "
        "`replay --per-vc`; azure-llm demand needs a service: a scenario's traces: entry with "
        "service:)");
  }
  std::stable_sort(world.jobs.begin(), world.jobs.end(),
                   [](const world::Job& a, const world::Job& b) { return a.arrival < b.arrival; });
  world.BuildIndexes();
  return Status::Ok();
}

std::string Plural(int64_t n, const char* what) {
  return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

// What an entry added, from the world before and after.
std::string AddedSummary(const world::World& before_sizes_of, size_t jobs, size_t pools) {
  const int64_t new_jobs = static_cast<int64_t>(before_sizes_of.jobs.size() - jobs);
  const int64_t new_pools = static_cast<int64_t>(before_sizes_of.pools.size() - pools);
  if (new_pools > 0) return Plural(new_pools, "pool");
  return Plural(new_jobs, "job");
}

Status WithWhere(const std::string& where, const Status& s) {
  if (s.ok()) return s;
  return Status(s.code(), where + ": in this trace entry: " + s.message());
}

// An azure-llm entry: the requests in the window, bucketed, become the service's demand.
Result<AppliedTrace> ApplyAzure(const io::ScenarioTrace& entry, const Window& window,
                                bool skip_bad_rows, world::World& world) {
  world::Service* service = nullptr;
  for (world::Service& s : world.services) {
    if (s.id == entry.service) service = &s;
  }
  if (service == nullptr)
    return InvalidInput("service \"" + entry.service + "\" is not in the scenario");
  traces::AzureLlmOptions options;
  options.read.skip_bad_rows = skip_bad_rows;
  options.bucket_width = entry.bucket;
  options.tokens = entry.tokens == "generated" ? traces::DemandTokens::kGenerated
                   : entry.tokens == "context" ? traces::DemandTokens::kContext
                                               : traces::DemandTokens::kContextAndGenerated;
  POLYCLOUD_ASSIGN_OR_RETURN(
      auto reader, traces::OpenAzureLlmRequests(traces::TraceInput::File(entry.path), options));
  traces::DemandBuilder builder(entry.bucket, options.tokens);
  int64_t outside = 0;
  for (;;) {
    POLYCLOUD_ASSIGN_OR_RETURN(std::optional<traces::InferenceRequest> request, reader.Next());
    if (!request) break;
    if (!window.Keeps(request->at)) {
      ++outside;
      continue;
    }
    request->at = request->at + window.shift;
    builder.Add(*request);
  }
  traces::InferenceDemand demand = builder.Build();
  service->demand_tokens_per_s = demand.tokens_per_s;
  AppliedTrace applied;
  applied.format = entry.format;
  applied.path = entry.path_as_written;  // the same whatever the working directory
  applied.stats = reader.stats();
  applied.stats.filtered += outside;
  applied.stats.accepted -= outside;
  int64_t peak = 0;
  for (const traces::DemandBucket& b : demand.buckets) peak = std::max(peak, b.tokens_per_s);
  applied.added = "demand of " + entry.service + ": " + Plural(demand.requests, "request") + ", " +
                  Plural(static_cast<int64_t>(demand.buckets.size()), "bucket") + ", peak " +
                  std::to_string(peak) + " tokens/s";
  return applied;
}

}  // namespace

Result<traces::ReadStats> AddTraceToWorld(const traces::TraceSpec& spec,
                                          const traces::ReadOptions& read, world::World& world) {
  traces::TraceOptions options;
  options.read = read;
  // Indices valid in this world: resolve names against its accelerators.
  options.accelerators = traces::AcceleratorNames(world.accelerators);
  options.philly.time_shift = Duration();
  POLYCLOUD_ASSIGN_OR_RETURN(traces::TraceContents contents, traces::ReadTrace(spec, options));
  traces::ReadStats stats = traces::StatsOf(contents);
  POLYCLOUD_RETURN_IF_ERROR(AddContents(spec, contents, Window{}, "", true, stats, world));
  return stats;
}

Result<AppliedTrace> AddTraceToWorldReported(const traces::TraceSpec& spec,
                                             const traces::ReadOptions& read, world::World& world) {
  const size_t jobs = world.jobs.size(), pools = world.pools.size();
  AppliedTrace applied;
  applied.format = std::string(traces::TraceFormatName(spec.format));
  applied.path = spec.path;
  POLYCLOUD_ASSIGN_OR_RETURN(applied.stats, AddTraceToWorld(spec, read, world));
  applied.added = AddedSummary(world, jobs, pools);
  // What --trace adds is held to the loader's magnitude model too.
  if (const auto problem = world::FindMagnitudeProblem(world)) {
    return InvalidInput(spec.path + ": after reading the trace: " + problem->message);
  }
  return applied;
}

Result<std::vector<AppliedTrace>> AddScenarioTraces(io::Scenario& scenario, bool skip_bad_rows) {
  std::vector<AppliedTrace> out;
  world::World& world = scenario.world;
  // Every failing entry is reported, not only the first; the status code is
  // the first failure's (a missing file is exit 5, a bad row exit 3).
  Status first_failure;
  std::string failures;
  int failed = 0;
  for (const io::ScenarioTrace& entry : scenario.traces) {
    auto fail = [&](const Status& s) {
      Status where = WithWhere(entry.where, s);
      if (failed++ == 0) first_failure = where;
      failures += (failures.empty() ? "" : "\n") + where.message();
    };
    auto format = traces::ParseTraceFormat(entry.format);
    if (!format.ok()) {
      fail(format.status());
      continue;
    }
    const bool skip = skip_bad_rows || entry.skip_bad_rows;
    Window window;
    window.has_from = entry.has_from;
    window.has_until = entry.has_until;
    window.from = entry.from;
    window.until = entry.until;
    if (entry.has_start_at) window.shift = entry.start_at - entry.from;
    if (*format == traces::TraceFormat::kAzureLlm) {
      auto applied = ApplyAzure(entry, window, skip, world);
      if (!applied.ok()) {
        fail(applied.status());
        continue;
      }
      out.push_back(std::move(*applied));
      continue;
    }
    traces::TraceSpec spec{*format, entry.path};
    traces::TraceOptions options;
    options.read.skip_bad_rows = skip;
    // Applied while reading, so rows outside the window are never held.
    if (window.has_from) options.read.window.from = window.from;
    if (window.has_until) options.read.window.until = window.until;
    options.accelerators = traces::AcceleratorNames(world.accelerators);
    options.philly.time_shift = Duration();
    if (!entry.accelerator.empty()) {
      options.philly.trace_accelerator = entry.accelerator;
      options.alibaba_pods.reference_accelerator = entry.accelerator;
    }
    if (!entry.id_prefix.empty()) options.philly.id_prefix = entry.id_prefix;
    if (entry.has_trace_start) options.alibaba_pods.trace_start = entry.trace_start;
    options.catalog.provider_id = entry.provider;  // "" = the catalog's folder name
    options.catalog.gpus_per_pool = entry.gpus_per_pool;
    auto contents = traces::ReadTrace(spec, options);
    if (!contents.ok()) {
      fail(contents.status());
      continue;
    }
    const size_t jobs = world.jobs.size(), pools = world.pools.size();
    AppliedTrace applied;
    applied.format = entry.format;
    applied.path = entry.path_as_written;  // the same whatever the working directory
    applied.stats = traces::StatsOf(*contents);
    Status s = AddContents(spec, *contents, window, entry.provider, entry.gpu_sharing,
                           applied.stats, world);
    if (!s.ok()) {
      fail(s);
      continue;
    }
    applied.added = AddedSummary(world, jobs, pools);
    out.push_back(std::move(applied));
  }
  if (failed > 1) {
    return Status(first_failure.code(),
                  failures + "\n" + std::to_string(failed) + " trace entries failed");
  }
  if (failed == 1) return first_failure;
  // What the traces added is held to the loader's magnitude model too.
  if (!scenario.traces.empty()) {
    if (const auto problem = world::FindMagnitudeProblem(world)) {
      return InvalidInput("after reading the scenario's traces: " + problem->message);
    }
  }
  return out;
}

}  // namespace polycloud::replay
