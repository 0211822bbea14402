#include "polycloud/traces/philly.h"

#include <unordered_map>
#include <utility>

#include "fields.h"

namespace polycloud::traces {
namespace {

using internal::ColumnError;
using internal::DecimalField;
using internal::IntField;
using internal::TextField;

enum JobColumn { kTimestamp, kDuration, kNumGpus, kGpuTime, kCluster };
const CsvSchema kJobSchema = {
    {"timestamp", true}, {"duration", true}, {"num_gpus", true},
    {"gpu_time", true},  {"cluster", true},
};

// Bounds that keep every product below 2^63: a run of at most ~31 years on at
// most a million GPUs, in milliseconds.
constexpr int64_t kMaxGpus = 1'000'000;
constexpr int64_t kMaxDurationMillis = int64_t{1'000'000'000} * 1000;
constexpr int64_t kMaxGpuTimeMillis = kMaxDurationMillis * kMaxGpus;

struct JobMapper {
  std::string id_prefix;
  Duration time_shift;
  int64_t speed_milli;
  int64_t row = 0;

  Result<std::optional<PhillyJob>> operator()(const CsvReader& csv) {
    ++row;  // counts every record, good or bad, so ids do not depend on the policy
    Result<internal::Timestamp> submitted =
        internal::ParseTimestamp(internal::TrimField(csv.Field(kTimestamp)));
    if (!submitted.ok()) return ColumnError(csv, kTimestamp, submitted.status().message());
    POLYCLOUD_ASSIGN_OR_RETURN(int64_t duration_millis,
                               DecimalField(csv, kDuration, 3, kMaxDurationMillis));
    POLYCLOUD_ASSIGN_OR_RETURN(int64_t gpus, IntField(csv, kNumGpus, 1, kMaxGpus));
    POLYCLOUD_ASSIGN_OR_RETURN(int64_t gpu_time_millis,
                               DecimalField(csv, kGpuTime, 3, kMaxGpuTimeMillis));
    POLYCLOUD_ASSIGN_OR_RETURN(std::string_view cluster, TextField(csv, kCluster));

    // gpu_time is derived upstream as duration x num_gpus; a mismatch beyond
    // rounding of the duration to whole seconds means the row is damaged.
    const int64_t expected_millis = duration_millis * gpus;
    const int64_t tolerance_millis = 1000 * gpus;
    if (gpu_time_millis < expected_millis - tolerance_millis ||
        gpu_time_millis > expected_millis + tolerance_millis) {
      return ColumnError(csv, kGpuTime,
                         "expected duration x num_gpus = " +
                             std::to_string(MulDivRound(expected_millis, 1, 1000)) +
                             " GPU-seconds, found " +
                             internal::Quoted(internal::TrimField(csv.Field(kGpuTime))));
    }

    PhillyJob out;
    out.line = csv.line();
    out.virtual_cluster = std::string(cluster);
    out.duration = Duration::Seconds(MulDivRound(duration_millis, 1, 1000));
    world::Job& job = out.job;
    job.id = id_prefix + std::to_string(row);
    job.kind = world::WorkloadKind::kTraining;
    job.workload_class = "training";
    job.stream = "philly";
    job.gpus = gpus;
    job.work_gpu_seconds = MulDivRound(expected_millis, speed_milli, 1000 * world::kMilli);
    job.arrival = submitted->seconds + time_shift;
    return std::optional<PhillyJob>(std::move(out));
  }
};

enum VcColumn { kVc, kNodeNum };
const CsvSchema kVcSchema = {{"vc", true}, {"node num", true}};

}  // namespace

Result<RecordReader<PhillyJob>> OpenPhillyJobs(const TraceInput& input,
                                               const PhillyOptions& options) {
  world::AcceleratorIndex accelerator = options.accelerators.Resolve(options.trace_accelerator);
  if (accelerator == world::kNone) {
    return InvalidArgument("philly: trace accelerator '" + options.trace_accelerator +
                           "' is not in the accelerator table or alias list");
  }
  POLYCLOUD_ASSIGN_OR_RETURN(CsvReader csv, CsvReader::Open(input, kJobSchema, options.read));
  JobMapper mapper{options.id_prefix, options.time_shift,
                   options.accelerators.at(accelerator).speed_milli};
  return RecordReader<PhillyJob>(std::move(csv), std::move(mapper));
}

Result<PhillyTrace> ReadPhillyJobs(const TraceInput& input, const PhillyOptions& options) {
  POLYCLOUD_ASSIGN_OR_RETURN(RecordReader<PhillyJob> reader, OpenPhillyJobs(input, options));
  PhillyTrace trace;
  int64_t outside = 0;
  while (true) {
    POLYCLOUD_ASSIGN_OR_RETURN(std::optional<PhillyJob> job, reader.Next());
    if (!job) break;
    if (!options.read.window.Keeps(job->job.arrival)) {
      ++outside;
      continue;
    }
    trace.jobs.push_back(std::move(*job));
  }
  trace.stats = reader.stats();
  trace.stats.filtered += outside;
  trace.stats.accepted -= outside;
  return trace;
}

const PhillyVirtualCluster* PhillyVirtualClusters::Find(std::string_view id) const {
  for (const PhillyVirtualCluster& c : clusters) {
    if (c.id == id) return &c;
  }
  return nullptr;
}

Result<PhillyVirtualClusters> ReadPhillyVirtualClusters(const TraceInput& input,
                                                        const PhillyVcOptions& options) {
  if (options.gpus_per_node < 1 || options.gpus_per_node > 1024) {
    return InvalidArgument("philly: gpus_per_node must be from 1 to 1024");
  }
  POLYCLOUD_ASSIGN_OR_RETURN(CsvReader csv, CsvReader::Open(input, kVcSchema, options.read));
  PhillyVirtualClusters out;
  out.gpus_per_node = options.gpus_per_node;
  std::unordered_map<std::string, int64_t> first_line;
  auto map_row = [&](const CsvReader& row) -> Result<PhillyVirtualCluster> {
    POLYCLOUD_ASSIGN_OR_RETURN(std::string_view id, TextField(row, kVc));
    POLYCLOUD_ASSIGN_OR_RETURN(int64_t nodes, IntField(row, kNodeNum, 1, 1'000'000));
    auto [it, inserted] = first_line.emplace(std::string(id), row.line());
    if (!inserted) {
      return ColumnError(row, kVc,
                         "virtual cluster " + internal::Quoted(id) +
                             " is listed twice (first at line " + std::to_string(it->second) + ")");
    }
    return PhillyVirtualCluster{std::string(id), nodes, nodes * options.gpus_per_node, row.line()};
  };
  while (true) {
    POLYCLOUD_ASSIGN_OR_RETURN(bool more, csv.Next());
    if (!more) break;
    Result<PhillyVirtualCluster> vc = map_row(csv);
    if (!vc.ok()) {
      POLYCLOUD_RETURN_IF_ERROR(csv.ReportBadRow(vc.status().message()));
      continue;
    }
    csv.CountAccepted();
    out.clusters.push_back(std::move(vc).value());
  }
  out.stats = csv.stats();
  return out;
}

Result<Fleet> PhillyVirtualClusterFleet(const PhillyVirtualClusters& clusters,
                                        const AcceleratorNames& names, std::string_view accelerator,
                                        std::string_view provider_id) {
  world::AcceleratorIndex index = names.Resolve(accelerator);
  if (index == world::kNone) {
    return InvalidArgument("philly: accelerator '" + std::string(accelerator) +
                           "' is not in the accelerator table or alias list");
  }
  Fleet fleet;
  fleet.accelerators = names.table();
  fleet.providers.push_back({std::string(provider_id), std::string(provider_id)});
  for (const PhillyVirtualCluster& vc : clusters.clusters) {
    const std::string id = std::string(provider_id) + "/" + vc.id;
    world::Site site;
    site.id = id;
    site.provider = 0;
    site.region = vc.id;
    world::Pool pool;
    pool.id = id;
    pool.site = static_cast<world::SiteIndex>(fleet.sites.size());
    pool.provider = 0;
    pool.accelerator = index;
    pool.pricing = world::PricingKind::kReserved;
    pool.gpus = world::StepSchedule<int64_t>(vc.gpus);
    pool.gpus_per_node = clusters.gpus_per_node;
    pool.domain_size = clusters.gpus_per_node;
    fleet.sites.push_back(std::move(site));
    fleet.pools.push_back(std::move(pool));
  }
  return fleet;
}

}  // namespace polycloud::traces
