// The FGD paper's fragmentation experiment (src/frag, docs/traces.md "The
// fragmentation experiment"): the whole run of `polycloud fragmentation` on
// the shipped openb files -- 6 policies x 10 seeds, reading the files
// included -- and one row per policy (10 seeds each). Runs use every core,
// so the time that counts is wall time (UseRealTime). Issue 16's target: the
// whole experiment under 10 s on the 2-core VM.
//
//   build/release/bench/fragmentation_benchmark
#include <benchmark/benchmark.h>

#include <filesystem>
#include <string>

#include "polycloud/frag/experiment.h"

namespace polycloud::frag {
namespace {

// ../shared/data next to the source tree, else /work/shared/data.
std::string PodsPath() {
  for (std::string dir :
       {std::string(POLYCLOUD_SHARED_DATA_DIR), std::string("/work/shared/data")}) {
    const std::string path = dir + "/alibaba-gpu-2023/openb_pod_list_default.csv";
    if (std::filesystem::exists(path)) return path;
  }
  return "";
}

void Run(benchmark::State& state, std::vector<Policy> policies) {
  const std::string pods = PodsPath();
  if (pods.empty()) {
    state.SkipWithError("openb_pod_list_default.csv is absent (../shared/data)");
    return;
  }
  ExperimentOptions options;
  options.pods_path = pods;
  options.policies = std::move(policies);
  int64_t arrivals = 0;
  for (auto _ : state) {
    auto r = RunExperiment(options);
    if (!r.ok()) {
      state.SkipWithError(r.status().message().c_str());
      return;
    }
    arrivals = 0;
    for (const PolicySeries& s : r->series) arrivals += s.arrived_pods_centi * options.seeds / 100;
    benchmark::DoNotOptimize(r->series.back().alloc_micro_pct.back());
  }
  state.counters["arrivals"] = static_cast<double>(arrivals);
  state.counters["arrivals/s"] = benchmark::Counter(static_cast<double>(arrivals),
                                                    benchmark::Counter::kIsIterationInvariantRate);
}

void BM_WholeExperiment(benchmark::State& state) {
  state.SetLabel("6 policies x 10 seeds");
  Run(state, PaperPolicies());
}
BENCHMARK(BM_WholeExperiment)->Unit(benchmark::kSecond)->UseRealTime()->Iterations(1);

void BM_OnePolicy(benchmark::State& state) {
  const Policy policy = static_cast<Policy>(state.range(0));
  state.SetLabel(PolicyName(policy));
  Run(state, {policy});
}
BENCHMARK(BM_OnePolicy)
    ->DenseRange(static_cast<int>(Policy::kRandom), static_cast<int>(Policy::kFgdExact))
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(1);

}  // namespace
}  // namespace polycloud::frag

BENCHMARK_MAIN();
