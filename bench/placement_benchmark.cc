// Placement decisions per second on the shipped example's fleet, with and
// without explanations, and a whole simulation of the example.
//   build/release/bench/placement_benchmark
#include <benchmark/benchmark.h>

#include <string>

#include "polycloud/base/parse.h"
#include "polycloud/io/scenario.h"
#include "polycloud/placement/pipeline.h"
#include "polycloud/sim/simulator.h"

namespace polycloud {
namespace {

const world::World& ExampleWorld() {
  static const world::World* w = [] {
    auto s = io::LoadScenarioFile(std::string(POLYCLOUD_SOURCE_DIR) + "/examples/openai-2025.yaml");
    if (!s.ok()) std::abort();
    return new world::World(std::move(s->world));
  }();
  return *w;
}

// One decision for a research-sized gang on the example fleet in mid-2026,
// with a quarter of every pool in use; nothing is bound, so every iteration
// decides the same request against the same state.
void BM_PlaceJob(benchmark::State& state) {
  const world::World& w = ExampleWorld();
  const Time now = ParseTime("2026-06-01").value();
  placement::FleetState fleet(w, now);
  for (size_t p = 0; p < w.pools.size(); ++p) {
    const auto pi = static_cast<world::PoolIndex>(p);
    fleet.SetInstalled(pi, w.pools[p].gpus.At(now), now);
    fleet.Bind(pi, fleet.pool(pi).capacity / 4, now);
  }
  contracts::ExclusivityRules rules(w);
  placement::Placer placer(w);
  std::vector<world::AcceleratorIndex> types = {
      w.FindAccelerator("H100"), w.FindAccelerator("GB200"), w.FindAccelerator("GB300")};
  placement::Request req;
  req.id = "bench";
  req.workload_class = "research";
  req.gpus = state.range(0);
  req.accelerators = &types;
  req.priority = 100;
  const bool explain = state.range(1) != 0;
  placement::Explanation e;
  for (auto _ : state) {
    placement::Context ctx{w, fleet, rules, now, nullptr};
    placement::Decision d = placer.Place(ctx, req, explain ? &e : nullptr);
    benchmark::DoNotOptimize(d);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["decisions_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_PlaceJob)->ArgsProduct({{8, 2048}, {0, 1}})->ArgNames({"gpus", "explain"});

void BM_SimulateExample(benchmark::State& state) {
  const world::World& w = ExampleWorld();
  int64_t events = 0;
  for (auto _ : state) {
    sim::Simulator sim(w, sim::Options{});
    events = sim.Run().events;
  }
  state.counters["events"] = static_cast<double>(events);
  state.counters["events_per_s"] = benchmark::Counter(
      static_cast<double>(events * state.iterations()), benchmark::Counter::kIsRate);
  state.counters["jobs_per_s"] = benchmark::Counter(
      static_cast<double>(w.jobs.size() * state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SimulateExample)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace
}  // namespace polycloud
