// Alibaba fidelity check: the pod trace replayed on a fleet of its own node
// list, compared with what the trace recorded.
//
// GPU sharing: the fidelity world counts milli-GPUs. Every pool of N GPUs has
// N x 1000 units (nodes of n x 1000), a pod of k GPUs at gpu_milli m asks for
// k x m units, and every accelerator runs at reference speed, so a pod's work
// (run time x units) replays in exactly its recorded run time. The scheduler
// and placement see ordinary integers: nothing changes on their path.
#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "polycloud/replay/replay.h"
#include "polycloud/sim/simulator.h"
#include "polycloud/traces/alibaba.h"
#include "polycloud/traces/fleet.h"
#include "writers.h"

namespace polycloud::replay {
namespace {

struct Interval {
  int64_t from, to, units;
};

// Occupied units x seconds inside [lo, hi).
int64_t Overlap(const std::vector<Interval>& intervals, int64_t lo, int64_t hi) {
  int64_t sum = 0;
  for (const Interval& i : intervals) {
    const int64_t a = std::max(i.from, lo), b = std::min(i.to, hi);
    if (b > a) sum += (b - a) * i.units;
  }
  return sum;
}

}  // namespace

Result<FidelityReport> CheckAlibabaFidelity(const FidelityOptions& options) {
  std::string nodes_path = options.nodes_path;
  if (nodes_path.empty()) {
    const auto dir = std::filesystem::path(options.pods_path).parent_path();
    nodes_path =
        (dir.empty() ? std::filesystem::path(".") : dir).string() + "/openb_node_list_gpu_node.csv";
  }
  // Keep the trace's model codes apart, so gpu_spec constraints name pools exactly.
  traces::AcceleratorNames names;
  for (const char* code : {"G1", "G2", "G3", "V100M16", "V100M32"}) {
    POLYCLOUD_RETURN_IF_ERROR(names.KeepDistinct(code));
  }
  traces::NodeListOptions node_options;
  node_options.read = options.read;
  node_options.accelerators = names;
  POLYCLOUD_ASSIGN_OR_RETURN(
      traces::NodeList nodes,
      traces::ReadAlibabaGpuNodes(traces::TraceInput::File(nodes_path), node_options));
  traces::AlibabaPodOptions pod_options;
  pod_options.read = options.read;
  pod_options.accelerators = names;
  POLYCLOUD_ASSIGN_OR_RETURN(
      traces::AlibabaPodTrace trace,
      traces::ReadAlibabaPods(traces::TraceInput::File(options.pods_path), pod_options));

  FidelityReport out;
  out.policy = scheduler::PolicyName(options.policy);
  out.node_choice = placement::NodePolicyName(options.nodes);
  out.pods_read = RowReportOf(options.pods_path, trace.stats);
  out.nodes_read = RowReportOf(nodes_path, nodes.stats);

  traces::NodeFleetOptions where;
  where.provider_id = "alibaba";
  where.site_id = "openb";
  traces::Fleet fleet = traces::BuildNodeFleet(nodes, where);
  for (world::Pool& pool : fleet.pools) {
    world::StepSchedule<int64_t> units;
    for (const auto& p : pool.gpus.points()) units.Set(p.at, p.value * world::kMilli);
    pool.gpus = units;
    pool.gpus_per_node *= world::kMilli;
    pool.domain_size *= world::kMilli;
    pool.max_gang *= world::kMilli;
  }
  world::World w;
  w.name = "alibaba-fidelity";
  w.accelerators = names.table();
  for (world::Accelerator& a : w.accelerators) a.speed_milli = 1000;  // run times as recorded
  POLYCLOUD_RETURN_IF_ERROR(traces::AddFleetToWorld(fleet, w));
  out.fleet_pools = static_cast<int64_t>(w.pools.size());
  int64_t fleet_units = 0;
  for (const world::Pool& p : w.pools) fleet_units += p.gpus.Max();
  out.fleet_gpus = fleet_units / world::kMilli;

  // The pods to replay: GPU pods the trace scheduled, in arrival order.
  std::vector<const traces::AlibabaPod*> pods;
  int64_t trace_end = 0;
  for (const traces::AlibabaPod& pod : trace.pods) {
    if (pod.num_gpu == 0) continue;
    if (!pod.scheduled_time || !pod.deletion_time || !pod.creation_time) {
      ++out.never_scheduled;
      continue;
    }
    const int64_t units = pod.num_gpu * pod.gpu_milli;
    bool fits = false;
    for (const world::Pool& p : w.pools) {
      const bool allowed = pod.job.accelerators.empty() ||
                           std::find(pod.job.accelerators.begin(), pod.job.accelerators.end(),
                                     p.accelerator) != pod.job.accelerators.end();
      const int64_t node = p.gpus_per_node;
      const int64_t need = units > node ? (units + node - 1) / node * node : units;
      fits = fits || (allowed && need <= p.gpus.Max());
    }
    if (!fits) {
      ++out.unplaceable;
      continue;
    }
    pods.push_back(&pod);
    trace_end = std::max(trace_end, *pod.deletion_time);
  }
  std::stable_sort(pods.begin(), pods.end(),
                   [](const traces::AlibabaPod* a, const traces::AlibabaPod* b) {
                     return a->job.arrival < b->job.arrival;
                   });
  if (pods.empty()) return out;

  int64_t total_seconds = 0;
  std::vector<Interval> recorded;
  std::vector<int64_t> recorded_queueing;
  for (const traces::AlibabaPod* pod : pods) {
    world::Job job = pod->job;
    job.gpus = pod->num_gpu * pod->gpu_milli;  // milli-GPU units on milli pools: no sharing
    job.gpu_milli = 0;
    job.cpu_milli = 0;
    job.memory_mib = 0;
    const int64_t run = pod->RecordedRunTime()->seconds();
    job.work_gpu_seconds = std::max<int64_t>(1, run) * job.gpus;
    job.priority = 0;
    job.preemptible = false;
    total_seconds += std::max<int64_t>(1, run);
    w.jobs.push_back(std::move(job));
    out.sharing_pods += pod->gpu_milli < 1000;
    out.constrained_pods += !pod->gpu_spec.empty();
    out.censored_pods += pod->run_time_censored;
    recorded.push_back({*pod->scheduled_time, *pod->deletion_time, pod->num_gpu * pod->gpu_milli});
    recorded_queueing.push_back(pod->RecordedQueueingDelay()->seconds());
  }
  out.pods = static_cast<int64_t>(pods.size());
  w.start = w.jobs.front().arrival;
  w.end = w.jobs.back().arrival + Duration::Seconds(total_seconds + 1);
  w.BuildIndexes();

  sim::Options sim_options;
  sim_options.scheduler.policy = options.policy;
  sim_options.scheduler.nodes = options.nodes;
  sim::Simulator sim(w, sim_options);
  sim.Run();
  std::vector<Interval> simulated;
  std::vector<int64_t> simulated_queueing;
  const auto& states = sim.scheduler().jobs();
  for (size_t j = 0; j < states.size(); ++j) {
    const scheduler::JobState& s = states[j];
    if (s.first_start == Time::Min()) {
      ++out.unfinished;
      continue;
    }
    if (s.status != scheduler::JobStatus::kDone) ++out.unfinished;
    const Time end = s.status == scheduler::JobStatus::kDone ? s.end : w.end;
    simulated.push_back({s.first_start.unix_seconds(), end.unix_seconds(), w.jobs[j].gpus});
    simulated_queueing.push_back((s.first_start - w.jobs[j].arrival).seconds());
  }
  out.recorded_queueing = ComputeDelayStats(recorded_queueing);
  out.simulated_queueing = ComputeDelayStats(simulated_queueing);

  // Utilisation over the trace's window of observation, in buckets.
  const int64_t lo = w.start.unix_seconds(), hi = std::max(lo + 1, trace_end);
  const int64_t width = std::max<int64_t>(1, options.bucket.seconds());
  for (int64_t t = lo; t < hi; t += width) {
    const int64_t b = std::min(hi, t + width);
    const int64_t capacity = fleet_units * (b - t);
    out.buckets.push_back({Time::FromUnixSeconds(t),
                           MulDivRound(Overlap(recorded, t, b), 1000, capacity),
                           MulDivRound(Overlap(simulated, t, b), 1000, capacity)});
  }
  const int64_t capacity = fleet_units * (hi - lo);
  out.recorded_mean_utilisation_milli = MulDivRound(Overlap(recorded, lo, hi), 1000, capacity);
  out.simulated_mean_utilisation_milli = MulDivRound(Overlap(simulated, lo, hi), 1000, capacity);
  return out;
}

namespace {

std::string Percent(int64_t milli) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", static_cast<double>(milli) / 10);
  return buf;
}

void StatsRow(const char* what, const DelayStats& s, std::ostream& out) {
  char buf[200];
  std::snprintf(buf, sizeof buf, "  %-10s %7lld %11s %8lld %8lld %9lld %9lld\n", what,
                static_cast<long long>(s.count), internal::Tenths(s.mean).c_str(),
                static_cast<long long>(s.p50), static_cast<long long>(s.p90),
                static_cast<long long>(s.p99), static_cast<long long>(s.max));
  out << buf;
}

}  // namespace

void WriteText(const FidelityReport& r, std::ostream& out) {
  out << "Alibaba fidelity: " << r.pods << " GPU pods replayed with policy " << r.policy << " on "
      << r.fleet_gpus << " GPUs in " << r.fleet_pools << " pools (" << r.sharing_pods
      << " sharing a GPU, " << r.constrained_pods << " with a gpu_spec, " << r.censored_pods
      << " still running at the trace end)\n";
  out << "not replayed: " << r.never_scheduled << " pods never scheduled in the trace, "
      << r.unplaceable << " that no pool can hold\n";
  if (r.unfinished > 0) out << "unfinished in the replay: " << r.unfinished << "\n";
  out << "queueing delay, seconds\n";
  out << "               pods        mean      p50      p90       p99       max\n";
  StatsRow("recorded", r.recorded_queueing, out);
  StatsRow("simulated", r.simulated_queueing, out);
  out << "GPU utilisation (occupied milli-GPUs / installed)\n";
  out << "  from (trace time)      recorded  simulated\n";
  for (const UtilisationBucket& b : r.buckets) {
    char buf[120];
    std::snprintf(buf, sizeof buf, "  day %-16lld %9s %10s\n",
                  static_cast<long long>((b.start - r.buckets.front().start).seconds() / 86400),
                  Percent(b.recorded_milli).c_str(), Percent(b.simulated_milli).c_str());
    out << buf;
  }
  out << "  mean                  " << Percent(r.recorded_mean_utilisation_milli) << "      "
      << Percent(r.simulated_mean_utilisation_milli) << "\n";
  internal::WriteRowsText(r.pods_read, out);
  internal::WriteRowsText(r.nodes_read, out);
}

void WriteJson(const FidelityReport& r, std::ostream& out) {
  nlohmann::ordered_json j;
  j["schema"] = "polycloud.replay.fidelity/1";
  j["policy"] = r.policy;
  j["node_choice"] = r.node_choice;
  j["pods"] = r.pods;
  j["sharing_pods"] = r.sharing_pods;
  j["constrained_pods"] = r.constrained_pods;
  j["censored_pods"] = r.censored_pods;
  j["never_scheduled"] = r.never_scheduled;
  j["unplaceable"] = r.unplaceable;
  j["unfinished"] = r.unfinished;
  j["fleet"] = {{"gpus", r.fleet_gpus}, {"pools", r.fleet_pools}};
  j["queueing_delay_s"] = {{"recorded", internal::StatsJson(r.recorded_queueing)},
                           {"simulated", internal::StatsJson(r.simulated_queueing)}};
  nlohmann::ordered_json buckets = nlohmann::ordered_json::array();
  for (const UtilisationBucket& b : r.buckets) {
    buckets.push_back({{"start_s", (b.start - r.buckets.front().start).seconds()},
                       {"recorded_milli", b.recorded_milli},
                       {"simulated_milli", b.simulated_milli}});
  }
  j["utilisation"] = {{"recorded_mean_milli", r.recorded_mean_utilisation_milli},
                      {"simulated_mean_milli", r.simulated_mean_utilisation_milli},
                      {"buckets", buckets}};
  j["rows"] = {{"pods", internal::RowsJson(r.pods_read)},
               {"nodes", internal::RowsJson(r.nodes_read)}};
  out << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

}  // namespace polycloud::replay
