// Batch re-optimisation against greedy and the exact per-job flow on seeded
// instances (src/optimize, docs/performance.md "Batch re-optimisation"):
// prints one table, wall and thread CPU time as medians of several runs.
//
//   build/release/bench/batch_optimizer_table            # 10k×100, 100k×1k, 100k×10k
//   build/release/bench/batch_optimizer_table --quick    # 10k×100 only
//   options: --runs N (default 5), --seed S (default 1)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <string>
#include <vector>

#include "polycloud/optimize/batch.h"

namespace {

using polycloud::Money;
using namespace polycloud::optimize;

struct Timing {
  double wall = 0;  // seconds
  double cpu = 0;   // seconds of this thread: what the run costs on a loaded machine
};

double ThreadCpuSeconds() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

Timing Time(const std::function<void()>& fn) {
  const auto t0 = std::chrono::steady_clock::now();
  const double c0 = ThreadCpuSeconds();
  fn();
  return {std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
          ThreadCpuSeconds() - c0};
}

// Medians of wall and of CPU time, each on its own.
Timing Median(std::vector<Timing> v) {
  std::sort(v.begin(), v.end(), [](const Timing& a, const Timing& b) { return a.wall < b.wall; });
  Timing m;
  m.wall = v[v.size() / 2].wall;
  std::sort(v.begin(), v.end(), [](const Timing& a, const Timing& b) { return a.cpu < b.cpu; });
  m.cpu = v[v.size() / 2].cpu;
  return m;
}

std::string Dollars(Money m) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.0f", static_cast<double>(m.micros()) / 1e6);
  std::string s = buf, out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i > 0 && (s.size() - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return "$" + out;
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  int runs = 5;
  uint64_t seed = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else if (std::strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
      runs = std::max(1, std::atoi(argv[++i]));
    } else if (std::strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
      seed = std::strtoull(argv[++i], nullptr, 10);
    } else {
      std::fprintf(stderr, "usage: %s [--quick] [--runs N] [--seed S]\n", argv[0]);
      return 2;
    }
  }
  struct Size {
    int64_t jobs, pools;
  };
  std::vector<Size> sizes = {{10'000, 100}};
  if (!quick) sizes.insert(sizes.end(), {{100'000, 1'000}, {100'000, 10'000}});

  std::printf(
      "| jobs × pools | method | wall (median of %d) | CPU | spend | GPUs left waiting | spend vs "
      "exact | gap to exact |\n"
      "|---|---|---|---|---|---|---|---|\n",
      runs);
  for (const Size& size : sizes) {
    const Instance in = GenerateInstance({seed, size.jobs, size.pools, 140});
    const std::string label =
        std::to_string(size.jobs / 1000) + "k × " +
        (size.pools >= 1000 ? std::to_string(size.pools / 1000) + "k" : std::to_string(size.pools));
    // The exact per-job flow once (it is the slowest by far), then the others.
    RelaxationResult exact;
    const Timing exact_t =
        Time([&] { exact = SolveRelaxation(in, FlowAlgorithm::kNetworkSimplex); });
    const Money exact_spend = exact.objective - exact.penalty;
    auto row = [&](const char* method, const std::vector<Timing>& times, const Plan& plan) {
      if (!CheckPlan(in, plan).ok()) {
        std::fprintf(stderr, "%s: infeasible plan: %s\n", method,
                     CheckPlan(in, plan).message().c_str());
        std::exit(1);
      }
      const Evaluation e = Evaluate(in, plan);
      // Gap: the extra objective (spend, plus the penalty of any GPU left
      // waiting beyond the exact flow's) over the exact flow's spend.
      const double gap = 100.0 * static_cast<double>((e.objective() - exact.objective).raw()) /
                         static_cast<double>(exact_spend.micros());
      const double spend_gap = 100.0 * static_cast<double>((e.spend - exact_spend).raw()) /
                               static_cast<double>(exact_spend.micros());
      const Timing t = Median(times);
      std::printf("| %s | %s | %.3f s | %.3f s | %s | %lld | %+.2f %% | %+.2f %% |\n",
                  label.c_str(), method, t.wall, t.cpu, Dollars(e.spend).c_str(),
                  static_cast<long long>(e.unplaced_gpus), spend_gap, gap);
    };
    std::vector<Timing> times;
    Plan greedy;
    for (int r = 0; r < runs; ++r) times.push_back(Time([&] { greedy = SolveGreedy(in); }));
    row("greedy (queue order, cheapest pool)", times, greedy);
    times.clear();
    BatchResult batch;
    for (int r = 0; r < runs; ++r) times.push_back(Time([&] { batch = SolveBatch(in, {}); }));
    row("batch min-cost flow (classes)", times, batch.plan);
    std::printf(
        "| %s | exact per-job flow (lower bound) | %.3f s (1 run) | %.3f s | %s | %lld | 0 | 0 |\n",
        label.c_str(), exact_t.wall, exact_t.cpu, Dollars(exact_spend).c_str(),
        static_cast<long long>(exact.unplaced_gpus));
    std::fprintf(stderr,
                 "%s: batch %lld classes, %lld arcs, %d solves; exact %lld sources, %lld arcs, "
                 "%d solves, %lld split, proven optimal %s\n",
                 label.c_str(), static_cast<long long>(batch.stats.sources),
                 static_cast<long long>(batch.stats.arcs), batch.stats.rounds,
                 static_cast<long long>(exact.stats.sources),
                 static_cast<long long>(exact.stats.arcs), exact.stats.rounds,
                 static_cast<long long>(exact.stats.split_jobs),
                 exact.stats.proven_optimal ? "yes" : "no");
    std::fflush(stdout);
  }
  return 0;
}
