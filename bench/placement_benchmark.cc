// Placement decisions per second on the shipped example's fleet, with and
// without explanations, a whole simulation of the example, and the
// simulator's event queue alone.
//   build/release/bench/placement_benchmark
//   build/release/bench/placement_benchmark --benchmark_filter=EventQueue
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "polycloud/base/parse.h"
#include "polycloud/base/rng.h"
#include "polycloud/io/scenario.h"
#include "polycloud/placement/pipeline.h"
#include "polycloud/sim/event_queue.h"
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

// The event queue under the hold model of bench/scale_benchmark.cc's event
// core row: `pending` events spread over 30 days, then each iteration pops
// the earliest and pushes one 1 s to 1 day after it (the gaps drawn in
// advance, so the generator is not timed).
void BM_EventQueueHold(benchmark::State& state) {
  const int64_t pending = state.range(0);
  Rng rng(3);
  sim::EventQueue q;
  q.reserve(static_cast<size_t>(pending) + 1);
  for (int64_t i = 0; i < pending; ++i) {
    q.Push(Time::FromUnixSeconds(static_cast<int64_t>(rng.Below(uint64_t{86'400} * 30))),
           static_cast<uint64_t>(i));
  }
  std::vector<Duration> gaps;
  gaps.reserve(1 << 16);
  for (int i = 0; i < (1 << 16); ++i) {
    gaps.push_back(Duration::Seconds(1 + static_cast<int64_t>(rng.Below(86'400))));
  }
  size_t k = 0;
  for (auto _ : state) {
    const sim::EventQueue::Entry e = q.top();
    q.Pop();
    q.Push(e.at + gaps[k++ & (gaps.size() - 1)], e.payload);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EventQueueHold)->Arg(1'000)->Arg(1'000'000)->ArgName("pending");

}  // namespace
}  // namespace polycloud
