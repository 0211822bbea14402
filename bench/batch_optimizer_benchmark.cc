// Google Benchmark for the solver kernels of src/optimize on the seeded
// instances of docs/performance.md ("Batch re-optimisation"). The comparison
// table is bench/batch_optimizer_table.cc.
#include <benchmark/benchmark.h>

#include "polycloud/optimize/batch.h"

namespace {

using namespace polycloud::optimize;

const Instance& InstanceOf(int64_t jobs, int64_t pools) {
  static Instance small = GenerateInstance({1, 10'000, 100, 140});
  static Instance large = GenerateInstance({1, 100'000, 1'000, 140});
  return jobs == 10'000 ? small : large;
}

void BM_Greedy(benchmark::State& state) {
  const Instance& in = InstanceOf(state.range(0), state.range(1));
  for (auto _ : state) benchmark::DoNotOptimize(SolveGreedy(in));
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(in.jobs.size()));
}
BENCHMARK(BM_Greedy)->Args({10'000, 100})->Args({100'000, 1'000})->Unit(benchmark::kMillisecond);

void BM_Batch(benchmark::State& state) {
  const Instance& in = InstanceOf(state.range(0), state.range(1));
  for (auto _ : state) benchmark::DoNotOptimize(SolveBatch(in, {}));
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(in.jobs.size()));
}
BENCHMARK(BM_Batch)->Args({10'000, 100})->Args({100'000, 1'000})->Unit(benchmark::kMillisecond);

void BM_Relaxation(benchmark::State& state) {
  const Instance& in = InstanceOf(state.range(0), state.range(1));
  for (auto _ : state)
    benchmark::DoNotOptimize(SolveRelaxation(in, FlowAlgorithm::kNetworkSimplex));
}
BENCHMARK(BM_Relaxation)->Args({10'000, 100})->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
