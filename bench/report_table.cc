// What the HTML report costs (docs/performance.md, "The HTML report"): for
// each scenario, the simulation's CPU time without and with the report's
// recorders (report::TimeSeriesRecorder and WorkloadRecorder attached), then
// building the report and writing its JSON and its HTML page into memory, with
// their sizes. Medians of --runs runs (default 3), CPU seconds of this thread,
// so that other work on the machine counts less than in wall time.
//
//   build/release/bench/report_table examples/openai-2025.yaml scale.yaml --runs 3
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "polycloud/io/scenario.h"
#include "polycloud/report/html.h"
#include "polycloud/report/report.h"
#include "polycloud/report/timeseries.h"
#include "polycloud/report/workloads.h"
#include "polycloud/sim/simulator.h"

namespace polycloud {
namespace {

double ThreadCpuSeconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Row {
  std::vector<double> plain, recorded, build, json, html;
  size_t json_bytes = 0, html_bytes = 0;
};

void RunOnce(const world::World& w, const sim::Options& options, Row& row) {
  {
    sim::Simulator sim(w, options);
    const double t0 = ThreadCpuSeconds();
    sim.Run();
    row.plain.push_back(ThreadCpuSeconds() - t0);
  }
  sim::Simulator sim(w, options);
  sim::Audit audit(w);
  sim.AddObserver(&audit);
  report::TimeSeriesRecorder series(w, sim.scheduler());
  report::WorkloadRecorder listed(w, sim.scheduler());
  sim.AddObserver(&series);
  sim.AddObserver(&listed);
  double t = ThreadCpuSeconds();
  const sim::RunStats stats = sim.Run();
  row.recorded.push_back(ThreadCpuSeconds() - t);

  t = ThreadCpuSeconds();
  report::Report r = report::Build(w, sim.scheduler(), audit, stats, "priority");
  r.timeseries = series.Finish(stats.end);
  r.workloads = listed.Finish(stats.end);
  report::ExplainWaiting(*r.workloads, sim.scheduler_for_explain(), stats.end);
  row.build.push_back(ThreadCpuSeconds() - t);

  std::ostringstream json, html;
  t = ThreadCpuSeconds();
  report::WriteJson(r, json);
  row.json.push_back(ThreadCpuSeconds() - t);
  t = ThreadCpuSeconds();
  report::WriteHtml(r, html);
  row.html.push_back(ThreadCpuSeconds() - t);
  row.json_bytes = json.str().size();
  row.html_bytes = html.str().size();
}

int Main(int argc, char** argv) {
  int runs = 3;
  std::vector<std::string> paths;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
      runs = std::max(1, std::atoi(argv[++i]));
    } else {
      paths.push_back(argv[i]);
    }
  }
  if (paths.empty()) {
    std::fprintf(stderr, "usage: report_table SCENARIO... [--runs N]\n");
    return 2;
  }
  std::printf(
      "| scenario | jobs | buckets | run (CPU s) | + recorders | build report | write JSON | JSON "
      "| write HTML | HTML |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|\n");
  for (const std::string& path : paths) {
    auto scenario = io::LoadScenarioFile(path, {});
    if (!scenario.ok()) {
      std::fprintf(stderr, "%s\n", scenario.status().message().c_str());
      return 3;
    }
    sim::Options options;
    if (!scheduler::SetPolicy(scenario->options.policy, &options.scheduler).ok()) return 3;
    const world::World& w = scenario->world;
    Row row;
    for (int k = 0; k < runs; ++k) RunOnce(w, options, row);
    const int32_t buckets = static_cast<int32_t>(
        ((w.end - w.start).seconds() + report::BucketWidth(w.end - w.start).seconds() - 1) /
        report::BucketWidth(w.end - w.start).seconds());
    const double plain = Median(row.plain);
    std::printf("| %s | %zu | %d | %.2f | %+.2f | %.3f | %.3f | %.2f MB | %.3f | %.2f MB |\n",
                path.c_str(), w.jobs.size(), buckets, plain, Median(row.recorded) - plain,
                Median(row.build), Median(row.json), static_cast<double>(row.json_bytes) / 1e6,
                Median(row.html), static_cast<double>(row.html_bytes) / 1e6);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace
}  // namespace polycloud

int main(int argc, char** argv) { return polycloud::Main(argc, argv); }
