// Philly per-virtual-cluster replay: one World and one simulation per virtual
// cluster, so clusters never share GPUs, as in the Philly paper's setting.
#include <algorithm>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "polycloud/replay/replay.h"
#include "polycloud/sim/simulator.h"
#include "polycloud/traces/philly.h"
#include "writers.h"

namespace polycloud::replay {
namespace {

struct ClusterRun {
  VirtualClusterResult result;
  std::vector<int64_t> completion, queueing;
};

// Replays `jobs` (of one virtual cluster) on a fleet of the cluster's GPUs.
// The recorded durations replay exactly: the pool's GPUs run at reference
// speed and a job's work is its duration x GPUs.
Result<ClusterRun> ReplayCluster(const traces::PhillyVirtualCluster& vc, int64_t gpus_per_node,
                                 std::vector<const traces::PhillyJob*>& jobs,
                                 const PhillyReplayOptions& options) {
  traces::PhillyVirtualClusters one;
  one.clusters = {vc};
  one.gpus_per_node = gpus_per_node;
  const traces::AcceleratorNames names;
  POLYCLOUD_ASSIGN_OR_RETURN(traces::Fleet fleet, traces::PhillyVirtualClusterFleet(one, names));
  world::World w;
  w.name = "philly/" + vc.id;
  w.accelerators = world::BuiltinAccelerators();
  POLYCLOUD_RETURN_IF_ERROR(traces::AddFleetToWorld(fleet, w));
  w.accelerators[w.pools[0].accelerator].speed_milli = 1000;

  std::stable_sort(jobs.begin(), jobs.end(),
                   [](const traces::PhillyJob* a, const traces::PhillyJob* b) {
                     return a->job.arrival < b->job.arrival;
                   });
  int64_t total_seconds = 0;
  w.jobs.reserve(jobs.size());
  for (const traces::PhillyJob* pj : jobs) {
    world::Job job = pj->job;
    job.work_gpu_seconds = pj->duration.seconds() * job.gpus;
    total_seconds += std::max<int64_t>(1, pj->duration.seconds());
    w.jobs.push_back(std::move(job));
  }
  ClusterRun run;
  run.result.id = vc.id;
  run.result.nodes = vc.nodes;
  run.result.gpus = vc.gpus;
  run.result.jobs = static_cast<int64_t>(jobs.size());
  if (jobs.empty()) return run;
  w.start = w.jobs.front().arrival;
  // Even one job at a time finishes by then.
  w.end = w.jobs.back().arrival + Duration::Seconds(total_seconds + 1);
  w.BuildIndexes();

  sim::Options sim_options;
  sim_options.scheduler.policy = options.policy;
  sim_options.scheduler.consolidate = options.consolidate;
  sim_options.scheduler.nodes = options.nodes;
  sim::Simulator sim(w, sim_options);
  sim.Run();
  const auto& states = sim.scheduler().jobs();
  run.completion.reserve(jobs.size());
  run.queueing.reserve(jobs.size());
  for (size_t j = 0; j < states.size(); ++j) {
    const scheduler::JobState& s = states[j];
    run.result.preemptions += s.preemptions;
    if (s.status != scheduler::JobStatus::kDone) {
      ++run.result.unfinished;
      continue;
    }
    const int64_t jct = (s.end - w.jobs[j].arrival).seconds();
    run.completion.push_back(jct);
    run.queueing.push_back(std::max<int64_t>(0, jct - jobs[j]->duration.seconds()));
  }
  return run;
}

std::string DirOf(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

}  // namespace

Result<PhillyReplay> ReplayPhilly(const PhillyReplayOptions& options) {
  const std::string vc_path = options.vc_nodes_path.empty()
                                  ? DirOf(options.trace_path) + "/vc_nodes.csv"
                                  : options.vc_nodes_path;
  traces::PhillyVcOptions vc_options;
  vc_options.read = options.read;
  POLYCLOUD_ASSIGN_OR_RETURN(
      traces::PhillyVirtualClusters vcs,
      traces::ReadPhillyVirtualClusters(traces::TraceInput::File(vc_path), vc_options));
  for (const std::string& id : options.only) {
    if (vcs.Find(id) == nullptr) {
      return InvalidArgument("virtual cluster \"" + id + "\" is not in " + vc_path);
    }
  }
  traces::PhillyOptions job_options;
  job_options.read = options.read;
  POLYCLOUD_ASSIGN_OR_RETURN(
      traces::PhillyTrace trace,
      traces::ReadPhillyJobs(traces::TraceInput::File(options.trace_path), job_options));

  if (options.compress > 1 && !trace.jobs.empty()) {
    Time first = Time::Max();
    for (const traces::PhillyJob& job : trace.jobs) first = std::min(first, job.job.arrival);
    for (traces::PhillyJob& job : trace.jobs) {
      job.job.arrival =
          first + Duration::Seconds((job.job.arrival - first).seconds() / options.compress);
    }
  }

  PhillyReplay out;
  out.policy = scheduler::PolicyName(options.policy);
  out.consolidate = options.consolidate;
  out.node_choice = placement::NodePolicyName(options.nodes);
  out.jobs_read = RowReportOf(options.trace_path, trace.stats);
  out.clusters_read = RowReportOf(vc_path, vcs.stats);

  const std::set<std::string> only(options.only.begin(), options.only.end());
  std::map<std::string, std::vector<const traces::PhillyJob*>> by_cluster;
  std::map<std::string, int64_t> missing;
  for (const traces::PhillyJob& job : trace.jobs) {
    const traces::PhillyVirtualCluster* vc = vcs.Find(job.virtual_cluster);
    if (vc == nullptr) {
      ++missing[job.virtual_cluster];
      continue;
    }
    if (!only.empty() && only.count(vc->id) == 0) continue;
    if (job.job.gpus > vc->gpus) {
      if (out.oversized_examples.size() < 5) {
        out.oversized_examples.push_back(job.job.id + " (" + std::to_string(job.job.gpus) +
                                         " GPUs, vc " + vc->id + " of " + std::to_string(vc->gpus) +
                                         ")");
      }
      ++out.oversized_jobs;
      continue;
    }
    by_cluster[vc->id].push_back(&job);
  }
  for (const auto& [id, n] : missing) {
    out.missing_clusters.push_back({id, n});
    out.missing_cluster_jobs += n;
  }

  std::vector<int64_t> all_completion, all_queueing;
  out.overall.id = "overall";
  for (const traces::PhillyVirtualCluster& vc : vcs.clusters) {
    if (!only.empty() && only.count(vc.id) == 0) continue;
    POLYCLOUD_ASSIGN_OR_RETURN(ClusterRun run,
                               ReplayCluster(vc, vcs.gpus_per_node, by_cluster[vc.id], options));
    run.result.completion = ComputeDelayStats(run.completion);
    run.result.queueing = ComputeDelayStats(run.queueing);
    all_completion.insert(all_completion.end(), run.completion.begin(), run.completion.end());
    all_queueing.insert(all_queueing.end(), run.queueing.begin(), run.queueing.end());
    out.overall.nodes += run.result.nodes;
    out.overall.gpus += run.result.gpus;
    out.overall.jobs += run.result.jobs;
    out.overall.unfinished += run.result.unfinished;
    out.overall.preemptions += run.result.preemptions;
    out.clusters.push_back(std::move(run.result));
  }
  out.overall.completion = ComputeDelayStats(all_completion);
  out.overall.queueing = ComputeDelayStats(all_queueing);
  return out;
}

namespace internal {

void WriteRowsText(const RowReport& r, std::ostream& out) {
  if (r.bad_rows == 0) return;
  out << r.path << ": " << r.bad_rows << " bad row" << (r.bad_rows == 1 ? "" : "s")
      << " skipped of " << r.records << "; first:\n";
  for (const std::string& m : r.bad_row_messages) out << "  " << m << "\n";
}

std::string Tenths(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", x);
  return buf;
}

nlohmann::ordered_json StatsJson(const DelayStats& s) {
  return {{"count", s.count}, {"mean", s.mean}, {"p50", s.p50},
          {"p90", s.p90},     {"p99", s.p99},   {"max", s.max}};
}

nlohmann::ordered_json RowsJson(const RowReport& r) {
  return {{"path", r.path},
          {"records", r.records},
          {"bad_rows", r.bad_rows},
          {"bad_row_messages", r.bad_row_messages}};
}

}  // namespace internal

namespace {

using internal::RowsJson;
using internal::StatsJson;
using internal::Tenths;
using internal::WriteRowsText;

void Row(const VirtualClusterResult& c, std::ostream& out) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "%-8s %5lld %5lld %6lld %11s %8lld %8lld %9lld %11s %8lld %8lld %9lld\n",
                c.id.c_str(), static_cast<long long>(c.nodes), static_cast<long long>(c.gpus),
                static_cast<long long>(c.jobs), Tenths(c.completion.mean).c_str(),
                static_cast<long long>(c.completion.p50), static_cast<long long>(c.completion.p90),
                static_cast<long long>(c.completion.p99), Tenths(c.queueing.mean).c_str(),
                static_cast<long long>(c.queueing.p50), static_cast<long long>(c.queueing.p90),
                static_cast<long long>(c.queueing.p99));
  out << buf;
}

nlohmann::ordered_json ClusterJson(const VirtualClusterResult& c) {
  return {{"id", c.id},
          {"nodes", c.nodes},
          {"gpus", c.gpus},
          {"jobs", c.jobs},
          {"unfinished", c.unfinished},
          {"preemptions", c.preemptions},
          {"completion_time_s", StatsJson(c.completion)},
          {"queueing_delay_s", StatsJson(c.queueing)}};
}

}  // namespace

void WriteText(const PhillyReplay& r, std::ostream& out) {
  out << "Philly replay per virtual cluster: policy " << r.policy
      << (r.consolidate ? ", consolidated placement" : "")
      << (r.node_choice == "pooled" ? ", pooled (no nodes)" : ", nodes: " + r.node_choice)
      << "; times in seconds\n";
  out << "                           ------- job completion time -------  ------- queueing delay "
         "---------\n";
  out << "vc       nodes  gpus   jobs        mean      p50      p90       p99        mean      p50 "
         "     p90"
         "       p99\n";
  for (const VirtualClusterResult& c : r.clusters) Row(c, out);
  Row(r.overall, out);
  if (r.overall.preemptions > 0)
    out << "preemptions: " << r.overall.preemptions << " (no work lost)\n";
  if (r.overall.unfinished > 0) out << "unfinished jobs: " << r.overall.unfinished << "\n";
  if (r.missing_cluster_jobs > 0) {
    out << "not replayed: " << r.missing_cluster_jobs
        << " jobs of virtual clusters without a node count in " << r.clusters_read.path << " (";
    for (size_t i = 0; i < r.missing_clusters.size(); ++i) {
      out << (i ? ", " : "") << r.missing_clusters[i].id << " " << r.missing_clusters[i].jobs;
    }
    out << ")\n";
  }
  if (r.oversized_jobs > 0) {
    out << "not replayed: " << r.oversized_jobs << " jobs larger than their virtual cluster, e.g.";
    for (const std::string& e : r.oversized_examples) out << " " << e;
    out << "\n";
  }
  WriteRowsText(r.jobs_read, out);
  WriteRowsText(r.clusters_read, out);
}

void WriteJson(const PhillyReplay& r, std::ostream& out) {
  nlohmann::ordered_json j;
  j["schema"] = "polycloud.replay.philly/1";
  j["policy"] = r.policy;
  j["consolidated_placement"] = r.consolidate;
  j["node_choice"] = r.node_choice;
  j["units"] = "seconds";
  nlohmann::ordered_json clusters = nlohmann::ordered_json::array();
  for (const VirtualClusterResult& c : r.clusters) clusters.push_back(ClusterJson(c));
  j["virtual_clusters"] = clusters;
  j["overall"] = ClusterJson(r.overall);
  nlohmann::ordered_json missing = nlohmann::ordered_json::array();
  for (const LeftOutCluster& m : r.missing_clusters)
    missing.push_back({{"id", m.id}, {"jobs", m.jobs}});
  j["not_replayed"] = {{"missing_cluster_jobs", r.missing_cluster_jobs},
                       {"missing_clusters", missing},
                       {"oversized_jobs", r.oversized_jobs},
                       {"oversized_examples", r.oversized_examples}};
  j["rows"] = {{"jobs", RowsJson(r.jobs_read)}, {"virtual_clusters", RowsJson(r.clusters_read)}};
  out << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

}  // namespace polycloud::replay
