// The whole-run benchmark of issue 5: one table of what polycloud does at the
// seeds' scale, on worlds from the scale generator (src/gen).
//
//   build/release/bench/scale_benchmark            # full size (minutes)
//   build/release/bench/scale_benchmark --quick    # a tenth of the fleet, few jobs
//   build/release/bench/scale_benchmark --jobs 1000000 --runs 3
//   build/release/bench/scale_benchmark --only sharing   # the placement rows with sharing on
//
// POLYCLOUD_BENCH_NO_EXPLAIN=1 skips the decisions with a full explanation
// (for profiling the placement loop alone).
//
// Rows: online placement decisions/s and p50/p99 latency; the simulator end
// to end (jobs/s, events/s); the event core with a million events pending;
// peak memory with the fleet and a million queued jobs. Each figure is the
// median of --runs runs (latency percentiles are over every decision of the
// median run). Throughputs are per CPU second of the measuring thread (the
// machine may be shared); latencies and wall times use the steady clock.
// Nothing here is asserted.
#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "polycloud/base/rng.h"
#include "polycloud/gen/scale.h"
#include "polycloud/placement/pipeline.h"
#include "polycloud/scheduler/scheduler.h"
#include "polycloud/sim/event_queue.h"
#include "polycloud/sim/simulator.h"

namespace polycloud {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// CPU time of this thread, in seconds: throughputs are computed from it, so
// they do not count the time the thread waited for a core on a shared
// machine (wall times are printed beside them).
double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct Config {
  int64_t gpus = 1'000'000;
  int32_t pools = 10'000;
  int64_t sim_jobs = 10'000'000;
  int32_t sim_days = 365;
  int64_t queued_jobs = 1'000'000;
  int64_t decisions = 200'000;
  int64_t pending_events = 1'000'000;
  int64_t event_ops = 20'000'000;
  int runs = 3;
};

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

gen::ScaleOptions Fleet(const Config& c, int64_t jobs, int32_t days) {
  gen::ScaleOptions o;
  o.gpus = c.gpus;
  o.pools = c.pools;
  o.sites = std::max<int32_t>(8, c.pools / 50);
  o.jobs = jobs;
  o.days = days;
  return o;
}

io::Scenario MustGenerate(const gen::ScaleOptions& o) {
  auto s = gen::GenerateScenario(o);
  if (!s.ok()) {
    std::fprintf(stderr, "scale_benchmark: %s\n", s.status().message().c_str());
    std::exit(1);
  }
  return std::move(*s);
}

// A figure of /proc/self/status in bytes: "VmHWM:" (peak resident set) or
// "VmRSS:" (resident now).
int64_t StatusBytes(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) return std::atoll(line.c_str() + std::strlen(key)) * 1024;
  }
  return -1;
}

struct Memory {
  double peak = -1;       // bytes, over the whole process (generation and loading included)
  double held = -1;       // bytes resident once everything is set up
  double world = -1;      // of which resident once the World is loaded
  double scheduler = -1;  // once the scheduler is built, before any arrival
};

// Runs `f` in a child process and returns what it measured, so each memory
// figure is of a process that did only that.
Memory InChild(const std::function<Memory()>& f) {
  int fds[2];
  Memory v;
  if (pipe(fds) != 0) return v;
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    const Memory m = f();
    if (write(fds[1], &m, sizeof m) != sizeof m) _exit(1);
    _exit(0);
  }
  close(fds[1]);
  if (read(fds[0], &v, sizeof v) != sizeof v) v = Memory{};
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return v;
}

struct PlacementResult {
  double decisions_per_s = 0;       // per CPU second
  double wall_decisions_per_s = 0;  // per wall second inside Place()
  double p50_us = 0, p99_us = 0;
  double placed_share = 0;
  double explained_us = 0;  // mean latency with a full explanation
};

// Online placement on the generated fleet in mid-run, filled to about 75%
// by a deterministic warm-up: each decision is for a job drawn from the
// generated streams; a placed job is bound and the oldest placements are
// released, so the fill stays steady. Only Place() is timed.
// The fleet in mid-run, warmed to about three-quarters full.
void WarmUp(const world::World& w, Time now, placement::FleetState& fleet) {
  for (size_t p = 0; p < w.pools.size(); ++p) {
    fleet.SetInstalled(static_cast<world::PoolIndex>(p), w.pools[p].gpus.At(now), now);
  }
  Rng rng(42);
  for (size_t p = 0; p < w.pools.size(); ++p) {
    const auto pi = static_cast<world::PoolIndex>(p);
    const int64_t cap = fleet.pool(pi).capacity;
    // Most pools three-quarters full, some full, some empty.
    const uint64_t r = rng.Below(10);
    const int64_t used = r < 3 ? cap : r < 4 ? 0 : cap * 3 / 4;
    if (!fleet.has_nodes()) {
      if (used > 0) fleet.Bind(pi, used, now);
      continue;
    }
    // With nodes, gangs of 1 to a node's GPUs (the node policy packs them),
    // so some nodes are left partly free.
    const int64_t node = fleet.info(pi).gpus_per_node;
    for (int64_t left = used; left > 0;) {
      const int64_t g = std::min<int64_t>(left, 1 + static_cast<int64_t>(rng.Below(node)));
      if (fleet.pool(pi).placeable < g) break;
      fleet.Bind(pi, g, now);
      left -= g;
    }
  }
}

PlacementResult MeasurePlacement(const world::World& w, int64_t decisions,
                                 placement::NodePolicy nodes) {
  const Time now = w.start + Duration::Seconds((w.end - w.start).seconds() / 2);
  placement::FleetState fleet(w, now, nodes);
  WarmUp(w, now, fleet);
  Rng rng(43);
  contracts::ExclusivityRules rules(w);
  placement::Placer placer(w);
  std::vector<int32_t> reserved(w.pools.size(), placement::kNoReservation);
  // Placements held: the oldest are released once they hold more than 5%
  // of the fleet, so the fill stays near where the warm-up left it.
  struct Held {
    world::PoolIndex pool;
    int64_t gpus;
    int32_t handle = -1;
  };
  int64_t fleet_gpus = 0;
  for (size_t p = 0; p < w.pools.size(); ++p) {
    fleet_gpus += fleet.pool(static_cast<world::PoolIndex>(p)).capacity;
  }
  // Binds what was placed and releases the oldest placements.
  std::deque<Held> held;
  int64_t held_gpus = 0;
  // Files a placement bound with `handle` and releases the oldest.
  auto hold = [&](placement::FleetState& f, world::PoolIndex pool, int64_t gpus, int32_t handle) {
    held.push_back(Held{pool, gpus, handle});
    held_gpus += gpus;
    while (held_gpus > fleet_gpus / 20) {
      f.Release(held.front().pool, held.front().gpus, held.front().handle, now);
      held_gpus -= held.front().gpus;
      held.pop_front();
    }
  };
  std::vector<double> latency_us(static_cast<size_t>(decisions));
  std::vector<Held> decided(static_cast<size_t>(decisions));
  int64_t placed = 0;
  double total = 0;  // wall seconds inside Place()
  volatile double clock_sink = 0;
  const double cpu0 = ThreadCpuSeconds();
  for (int64_t i = 0; i < decisions; ++i) {
    const placement::Request req = placement::JobRequest(w.jobs[rng.Below(w.jobs.size())]);
    placement::Context ctx{w, fleet, rules, now, nullptr, &reserved};
    const auto t0 = Clock::now();
    const placement::Decision d = placer.Place(ctx, req, nullptr);
    // With nodes, choosing the node is part of the decision: bind inside the clock.
    const int32_t handle = d.pool != world::kNone
                               ? fleet.Bind(d.pool, d.alloc_gpus, now, req.gpus,
                                            {req.gpu_milli, req.cpu_milli, req.memory_mib})
                               : -1;
    const auto t1 = Clock::now();
    const double s = Seconds(t0, t1);
    total += s;
    latency_us[static_cast<size_t>(i)] = s * 1e6;
    decided[static_cast<size_t>(i)] = Held{d.pool, d.alloc_gpus};
    if (d.pool != world::kNone) {
      ++placed;
      hold(fleet, d.pool, d.alloc_gpus, handle);
    }
  }
  const double loop_cpu = ThreadCpuSeconds() - cpu0;
  // The same loop again on a fresh fleet, without Place(): drawing the jobs,
  // reading the clock, binding and releasing, on pools without nodes (the
  // fleet's bookkeeping). What is left is the decisions' CPU time, with the
  // node choice.
  double place_cpu = 0;
  {
    placement::FleetState again(w, now);
    WarmUp(w, now, again);
    held.clear();
    held_gpus = 0;
    Rng replay(43);
    const double cpu1 = ThreadCpuSeconds();
    for (int64_t i = 0; i < decisions; ++i) {
      const placement::Request req = placement::JobRequest(w.jobs[replay.Below(w.jobs.size())]);
      const auto t0 = Clock::now();
      const Held& d = decided[static_cast<size_t>(i)];
      const auto t1 = Clock::now();
      clock_sink = clock_sink + Seconds(t0, t1);
      if (d.pool != world::kNone && req.gpus > 0) {
        hold(again, d.pool, d.gpus, again.Bind(d.pool, d.gpus, now, req.gpus));
      }
    }
    place_cpu = loop_cpu - (ThreadCpuSeconds() - cpu1);
  }
  PlacementResult r;
  r.decisions_per_s = static_cast<double>(decisions) / place_cpu;
  r.wall_decisions_per_s = static_cast<double>(decisions) / total;
  std::sort(latency_us.begin(), latency_us.end());
  r.p50_us = latency_us[latency_us.size() / 2];
  r.p99_us = latency_us[latency_us.size() * 99 / 100];
  r.placed_share = static_cast<double>(placed) / static_cast<double>(decisions);
  // With a full explanation (every pool's verdict and scores): a few thousand.
  placement::Explanation e;
  const int64_t explained = std::getenv("POLYCLOUD_BENCH_NO_EXPLAIN") != nullptr
                                ? 0
                                : std::min<int64_t>(2'000, decisions);
  const auto t0 = Clock::now();
  for (int64_t i = 0; i < explained; ++i) {
    const placement::Request req = placement::JobRequest(w.jobs[rng.Below(w.jobs.size())]);
    placement::Context ctx{w, fleet, rules, now, nullptr, &reserved};
    placer.Place(ctx, req, &e);
  }
  r.explained_us =
      explained > 0 ? Seconds(t0, Clock::now()) / static_cast<double>(explained) * 1e6 : 0;
  return r;
}

// The generated world with GPU sharing on: every other pool allows sharing
// and declares 16 CPUs and 128 GiB per GPU of a node; 30% of the jobs become
// shares of one GPU (100-900 milli), and every job asks for 4 CPUs and
// 32 GiB per GPU (a share: 2 CPUs, 16 GiB), so CPU and memory are checked
// on the sharing pools' nodes.
world::World SharingWorld(const world::World& base) {
  world::World w = base;
  for (size_t p = 0; p < w.pools.size(); p += 2) {
    world::Pool& pool = w.pools[p];
    pool.gpu_sharing = true;
    pool.cpu_milli_per_node = 16'000 * pool.gpus_per_node;
    pool.memory_mib_per_node = 128 * 1024 * pool.gpus_per_node;
  }
  Rng rng(44);
  for (world::Job& j : w.jobs) {
    if (rng.Below(10) < 3) {
      j.work_gpu_seconds = std::max<int64_t>(1, j.work_gpu_seconds / j.gpus);
      j.gpus = 1;
      j.gpu_milli = 100 + static_cast<int64_t>(rng.Below(801));
      j.cpu_milli = 2'000;
      j.memory_mib = 16 * 1024;
    } else {
      j.cpu_milli = 4'000 * j.gpus;
      j.memory_mib = 32 * 1024 * j.gpus;
    }
  }
  return w;
}

struct SimResult {
  double build_s = 0;
  double run_s = 0;  // wall
  double cpu_s = 0;
  int64_t jobs = 0;
  int64_t events = 0;
  int64_t scheduler_events = 0;
  int64_t decisions = 0;
  int64_t finished = 0;
};

SimResult MeasureSimulation(const world::World& w) {
  SimResult r;
  const auto t0 = Clock::now();
  const double cpu0 = ThreadCpuSeconds();
  sim::Simulator sim(w, sim::Options{});
  const sim::RunStats stats = sim.Run();
  r.cpu_s = ThreadCpuSeconds() - cpu0;
  r.run_s = Seconds(t0, Clock::now());
  r.jobs = static_cast<int64_t>(w.jobs.size());
  r.events = stats.events;
  r.scheduler_events = stats.scheduler_events;
  r.decisions = sim.scheduler().placement_attempts();
  for (const auto& j : sim.scheduler().jobs())
    r.finished += j.status == scheduler::JobStatus::kDone;
  return r;
}

// The event core alone: `pending` events in the queue, then the hold model
// (pop the earliest, push one a random 1 s..1 day later) for `ops` pops.
double MeasureEventCore(int64_t pending, int64_t ops) {
  sim::EventQueue q;
  q.reserve(static_cast<size_t>(pending) + 1);
  Rng rng(3);
  for (int64_t i = 0; i < pending; ++i) {
    q.Push(Time::FromUnixSeconds(static_cast<int64_t>(rng.Below(86'400 * 30))),
           static_cast<uint64_t>(i));
  }
  uint64_t sink = 0;
  const double cpu0 = ThreadCpuSeconds();
  for (int64_t i = 0; i < ops; ++i) {
    const sim::EventQueue::Entry e = q.top();
    q.Pop();
    sink += e.payload;
    q.Push(e.at + Duration::Seconds(1 + static_cast<int64_t>(rng.Below(86'400))), e.payload);
  }
  const double s = ThreadCpuSeconds() - cpu0;
  if (sink == 42) std::printf(" ");  // keep the loop
  return static_cast<double>(ops) / s;
}

// Peak RSS of a process holding the fleet and `queued` jobs, all arrived and
// waiting in the scheduler's queue (the generated world, its scheduler state,
// the queue). Runs in a child process.
Memory MeasureQueuedMemory(const Config& c) {
  return InChild([&] {
    gen::ScaleOptions o = Fleet(c, c.queued_jobs, 1);
    o.services = 0;
    io::Scenario s = MustGenerate(o);
    const world::World& w = s.world;
    // Give back what loading freed (YAML nodes, the sort buffer), so the
    // resident figures are what is held, not what malloc kept for later.
    malloc_trim(0);
    Memory m;
    m.world = static_cast<double>(StatusBytes("VmRSS:"));
    struct NoTimer final : scheduler::Timer {
      void AtTime(Time, scheduler::WakeKind, int32_t) override {}
    } timer;
    scheduler::Scheduler sched(w, scheduler::Options{}, w.start, &timer, nullptr);
    m.scheduler = static_cast<double>(StatusBytes("VmRSS:"));
    for (size_t j = 0; j < w.jobs.size(); ++j) {
      if (!sched
               .Apply(scheduler::cmd::JobArrived{scheduler::JobId{static_cast<int32_t>(j)}},
                      w.start)
               .ok()) {
        return Memory{};
      }
    }
    if (sched.queued() != w.jobs.size()) return Memory{};
    m.peak = static_cast<double>(StatusBytes("VmHWM:"));
    m.held = static_cast<double>(StatusBytes("VmRSS:"));
    return m;
  });
}

int Main(int argc, char** argv) {
  Config c;
  bool quick = false;
  // placement | events | memory | simulation: run one section; sharing: only
  // the placement rows with GPU sharing on.
  std::string only;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> int64_t { return i + 1 < argc ? std::atoll(argv[++i]) : 0; };
    if (a == "--quick") {
      quick = true;
    } else if (a == "--runs") {
      c.runs = static_cast<int>(std::max<int64_t>(1, next()));
    } else if (a == "--jobs") {
      c.sim_jobs = next();
    } else if (a == "--days") {
      c.sim_days = static_cast<int32_t>(next());
    } else if (a == "--only") {
      only = i + 1 < argc ? argv[++i] : "";
    } else if (a == "--gpus") {
      c.gpus = next();
    } else if (a == "--pools") {
      c.pools = static_cast<int32_t>(next());
    } else {
      std::fprintf(stderr,
                   "usage: scale_benchmark [--quick] [--runs N] [--gpus N] [--pools N] "
                   "[--jobs N] [--days N] [--only placement|sharing|events|memory|simulation]\n");
      return 2;
    }
  }
  if (quick) {
    c.gpus = std::min<int64_t>(c.gpus, 100'000);
    c.pools = std::min<int32_t>(c.pools, 1'000);
    c.sim_jobs = std::min<int64_t>(c.sim_jobs, 20'000);
    c.sim_days = std::min<int32_t>(c.sim_days, 30);
    c.queued_jobs = 100'000;
    c.decisions = 50'000;
    c.event_ops = 5'000'000;
  }
  std::printf("scale_benchmark: %" PRId64 " GPUs in %d pools; median of %d runs%s\n", c.gpus,
              c.pools, c.runs, quick ? " (--quick)" : "");
  std::fflush(stdout);

  auto want = [&](const char* section) { return only.empty() || only == section; };
  std::string table = "\n| what | measured | target |\n|---|---|---|\n";
  auto row = [&](const char* format, auto... args) {
    char buf[512];
    std::snprintf(buf, sizeof buf, format, args...);
    table += buf;
  };

  if (want("placement") || only == "sharing") {
    io::Scenario s = MustGenerate(Fleet(c, 100'000, 365));
    // The median of c.runs measurements, and its rows under `mode`.
    auto measure = [&](const world::World& w, placement::NodePolicy nodes,
                       const std::string& mode) {
      std::vector<PlacementResult> runs;
      for (int r = 0; r < c.runs; ++r) runs.push_back(MeasurePlacement(w, c.decisions, nodes));
      std::sort(runs.begin(), runs.end(),
                [](const auto& a, const auto& b) { return a.decisions_per_s < b.decisions_per_s; });
      const PlacementResult& p = runs[runs.size() / 2];
      std::fprintf(stderr, "  placement (%s) done\n", mode.c_str());
      row("| placement decisions/s (%" PRId64
          " GPUs, %d pools, %s, one thread): per CPU second, per wall second | %.0f, %.0f | >= "
          "500,000 |\n",
          c.gpus, c.pools, mode.c_str(), p.decisions_per_s, p.wall_decisions_per_s);
      row("| decision latency p50 / p99 (%s) | %.2f / %.2f us | p99 <= 20 us |\n", mode.c_str(),
          p.p50_us, p.p99_us);
      row("| share of decisions placed (%s) | %.1f%% | |\n", mode.c_str(), p.placed_share * 100);
      row("| decision with full explanation (mean, %s) | %.1f us | |\n", mode.c_str(),
          p.explained_us);
    };
    // Pools as bags of GPUs, then on nodes (best fit, the default, and the
    // fragmentation-aware policy, the costliest to choose with).
    if (only != "sharing") {
      for (placement::NodePolicy nodes :
           {placement::NodePolicy::kPooled, placement::NodePolicy::kBestFit,
            placement::NodePolicy::kFragmentation}) {
        measure(s.world, nodes,
                nodes == placement::NodePolicy::kPooled
                    ? std::string("pooled")
                    : std::string("nodes, ") + placement::NodePolicyName(nodes));
      }
    }
    // GPU sharing, CPU and memory on (SharingWorld): best fit and fragmentation.
    const world::World shared = SharingWorld(s.world);
    for (placement::NodePolicy nodes :
         {placement::NodePolicy::kBestFit, placement::NodePolicy::kFragmentation}) {
      measure(shared, nodes,
              std::string("nodes with sharing (30% shares, CPU, memory), ") +
                  placement::NodePolicyName(nodes));
    }
  }

  if (want("events")) {
    std::vector<double> core;
    for (int r = 0; r < c.runs; ++r) {
      core.push_back(MeasureEventCore(c.pending_events, c.event_ops));
      std::fprintf(stderr, "  event core run %d: %.0f events/s\n", r + 1, core.back());
    }
    std::fprintf(stderr, "  event core done\n");
    row("| event core: events/s with %" PRId64 " pending | %.0f | >= 8,000,000 |\n",
        c.pending_events, Median(core));
  }

  if (want("memory")) {
    const Memory m = MeasureQueuedMemory(c);
    std::fprintf(stderr, "  memory done\n");
    row("| memory: %" PRId64 " GPUs + %" PRId64
        " queued jobs, resident / peak (incl. generating and loading) | %.0f / %.0f MB | "
        "<= 500 MB |\n",
        c.gpus, c.queued_jobs, m.held / 1e6, m.peak / 1e6);
    row("| of which resident: world loaded / scheduler built / jobs queued | %.0f / %.0f / %.0f MB "
        "| |\n",
        m.world / 1e6, m.scheduler / 1e6, m.held / 1e6);
  }

  if (want("simulation")) {
    const auto t0 = Clock::now();
    io::Scenario s = MustGenerate(Fleet(c, c.sim_jobs, c.sim_days));
    const double build_s = Seconds(t0, Clock::now());
    std::vector<SimResult> runs;
    for (int r = 0; r < c.runs; ++r) {
      runs.push_back(MeasureSimulation(s.world));
      std::fprintf(stderr, "  simulation run %d: %.1f s CPU, %.1f s wall\n", r + 1,
                   runs.back().cpu_s, runs.back().run_s);
    }
    std::sort(runs.begin(), runs.end(),
              [](const auto& a, const auto& b) { return a.cpu_s < b.cpu_s; });
    const SimResult& sim = runs[runs.size() / 2];
    row("| simulation: %" PRId64
        " jobs over %d days: CPU, wall | %.1f s, %.1f s (+ %.1f s wall to build the world) | "
        "10M-job year <= 120 s |\n",
        sim.jobs, c.sim_days, sim.cpu_s, sim.run_s, build_s);
    row("| simulation: jobs/s end to end (per CPU second) | %.0f | >= 150,000 |\n",
        static_cast<double>(sim.jobs) / sim.cpu_s);
    row("| simulation: events/s (%" PRId64 " simulator, %" PRId64 " scheduler events, %" PRId64
        " decisions, %" PRId64 " jobs finished) | %.0f | |\n",
        sim.events, sim.scheduler_events, sim.decisions, sim.finished,
        static_cast<double>(sim.events) / sim.cpu_s);
  }
  std::fputs(table.c_str(), stdout);
  return 0;
}

}  // namespace
}  // namespace polycloud

int main(int argc, char** argv) { return polycloud::Main(argc, argv); }
