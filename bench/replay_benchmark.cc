// Philly per-VC replays, one row per queue policy, on the same input: the
// jobs of the shipped trace with arrivals compressed ×4 (busy virtual
// clusters, where SRTF preempts often). Issue 10's target: SRTF within 1.5×
// of FIFO's time. Each iteration reads the trace and replays every cluster,
// as `polycloud replay --trace philly:... --per-vc --compress 4` does.
//
//   build/release/bench/replay_benchmark
#include <benchmark/benchmark.h>

#include <filesystem>
#include <string>

#include "polycloud/replay/replay.h"

namespace polycloud {
namespace {

const std::string kTrace = std::string(POLYCLOUD_SHARED_DATA_DIR) + "/philly/philly.csv.gz";

void BM_PhillyReplayCompressed4(benchmark::State& state) {
  if (!std::filesystem::exists(kTrace)) {
    state.SkipWithError(("the Philly trace is absent: " + kTrace).c_str());
    return;
  }
  replay::PhillyReplayOptions options;
  options.trace_path = kTrace;
  options.policy = static_cast<scheduler::Policy>(state.range(0));
  options.compress = 4;
  state.SetLabel(scheduler::PolicyName(options.policy));
  int64_t jobs = 0;
  for (auto _ : state) {
    auto replay = replay::ReplayPhilly(options);
    if (!replay.ok()) {
      state.SkipWithError(replay.status().message().c_str());
      return;
    }
    jobs = replay->overall.jobs;
    benchmark::DoNotOptimize(replay->overall.completion);
  }
  state.counters["jobs"] = static_cast<double>(jobs);
}
BENCHMARK(BM_PhillyReplayCompressed4)
    ->Arg(static_cast<int>(scheduler::Policy::kFifo))
    ->Arg(static_cast<int>(scheduler::Policy::kSjf))
    ->Arg(static_cast<int>(scheduler::Policy::kSrtf))
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace polycloud

BENCHMARK_MAIN();
