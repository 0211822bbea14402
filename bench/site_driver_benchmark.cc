// sbatch intake through the slurm site driver (src/sites, docs/performance.md
// "Site drivers"): starts one loopback Slurm cluster with
// scripts/slurm-clusters.sh (root and the Slurm packages needed), then times:
//   - the bare `sbatch` command line the driver runs, from a plain loop
//     (posix_spawn, no driver): the anchor, a real site scheduler's intake;
//   - SlurmDriver::Submit of the same held job (sbatch_args --hold);
// one of each in turn; then List with every one of those jobs in the queue, and Submit of jobs
// that run (`true`, no hold). Prints one table and stops the cluster.
//
//   build/release/bench/site_driver_benchmark                 # 300 held submissions each way
//   build/release/bench/site_driver_benchmark --submits 200 --rounds 5   # 1000 each way
//   build/release/bench/site_driver_benchmark --slurm-conf /tmp/polycloud-slurm/alpha/slurm.conf
//       (a cluster already running; nothing started or stopped)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "polycloud/sites/slurm.h"
#include "polycloud/sites/subprocess.h"

namespace {

using namespace polycloud;
using namespace polycloud::sites;
using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

const std::string kHarness = std::string(POLYCLOUD_SOURCE_DIR) + "/scripts/slurm-clusters.sh";
constexpr char kPath[] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

struct Row {
  std::string what;
  std::vector<double> ms;  // per operation
  double wall_s = 0;
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

bool PortFree(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return free;
}

Result<ProcessResult> Run(const std::vector<std::string>& argv, const std::string& conf = "") {
  ProcessSpec spec;
  spec.argv = argv;
  spec.env = {std::string("PATH=") + kPath};
  if (!conf.empty()) spec.env.push_back("SLURM_CONF=" + conf);
  spec.timeout = milliseconds(120'000);
  return RunProcess(spec);
}

// Times `op` `n` times into row.ms; false (with a message) on the first failure.
template <typename Op>
bool Time(Row& row, int n, Op op) {
  const auto start = SteadyClock::now();
  for (int i = 0; i < n; ++i) {
    const auto t = SteadyClock::now();
    if (std::string err = op(i); !err.empty()) {
      std::fprintf(stderr, "%s: %s\n", row.what.c_str(), err.c_str());
      return false;
    }
    row.ms.push_back(std::chrono::duration<double, std::milli>(SteadyClock::now() - t).count());
  }
  row.wall_s += std::chrono::duration<double>(SteadyClock::now() - start).count();
  return true;
}

void Print(const std::vector<Row>& rows) {
  std::printf("| what | operations | per second | p50 ms | p99 ms |\n|---|---|---|---|---|\n");
  for (const Row& r : rows) {
    std::printf("| %s | %zu | %.0f | %.1f | %.1f |\n", r.what.c_str(), r.ms.size(),
                static_cast<double>(r.ms.size()) / r.wall_s, Percentile(r.ms, 0.5),
                Percentile(r.ms, 0.99));
  }
}

int Bench(const std::string& conf, int submits, int rounds) {
  SlurmOptions held;
  held.slurm_conf = conf;
  held.history = SlurmHistory::kJobcomp;
  held.sbatch_args = {"--hold"};
  SlurmDriver held_site(held);
  DispatchRequest request;
  request.job = "bench";
  request.gpus = 1;
  request.partition = "gpu";
  request.command = "true";

  // Per-operation wall time is summed, so each row's rate excludes the other's turns.
  Row raw{"bare `sbatch --hold` loop (posix_spawn, no driver), one client", {}, 0};
  Row driver{"SlurmDriver::Submit, held jobs, one client", {}, 0};
  // One of each in turn, so a change of load on the box hits both alike.
  for (int i = 0; i < submits * rounds; ++i) {
    request.run = static_cast<uint32_t>(i);
    const bool ok = Time(raw, 1,
                         [&](int) -> std::string {
                           std::vector<std::string> argv = held_site.SbatchArgv(request);
                           argv[2] = "--job-name=bench-raw";  // not ours: List skips it
                           Result<ProcessResult> r = Run(argv, conf);
                           if (!r.ok()) return r.status().message();
                           return r->exit_code == 0 ? "" : r->err;
                         }) &&
                    Time(driver, 1, [&](int) -> std::string {
                      Result<std::string> id = held_site.Submit(request);
                      return id.ok() ? "" : id.status().message();
                    });
    if (!ok) return 1;
  }
  Row list{"SlurmDriver::List (ping + squeue + sacct -c), " + std::to_string(2 * submits * rounds) +
               " jobs queued",
           {},
           0};
  if (!Time(list, 10, [&](int) -> std::string {
        Result<std::vector<SiteJob>> jobs = held_site.List();
        if (!jobs.ok()) return jobs.status().message();
        return jobs->size() == static_cast<size_t>(submits) * static_cast<size_t>(rounds)
                   ? ""
                   : "wrong job count";
      })) {
    return 1;
  }
  Result<ProcessResult> cancel = Run({"scancel", "--me"}, conf);
  if (!cancel.ok() || cancel->exit_code != 0) std::fprintf(stderr, "scancel --me failed\n");

  SlurmOptions running = held;
  running.sbatch_args.clear();
  SlurmDriver run_site(running);
  request.job = "bench-run";
  request.gpus = 0;
  Row runs{"SlurmDriver::Submit, jobs that run (`true`)", {}, 0};
  if (!Time(runs, submits, [&](int i) -> std::string {
        request.run = static_cast<uint32_t>(i);
        Result<std::string> id = run_site.Submit(request);
        return id.ok() ? "" : id.status().message();
      })) {
    return 1;
  }
  std::printf(
      "Slurm 22.05 loopback cluster, 1 node x 8 GPUs; %d held submissions each way, "
      "taken in turn; load %s\n\n",
      rounds * submits, LoadAverage().c_str());
  Print({raw, driver, list, runs});
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int submits = 100, rounds = 3;
  std::string conf;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--submits" && i + 1 < argc) {
      submits = std::atoi(argv[++i]);
    } else if (a == "--rounds" && i + 1 < argc) {
      rounds = std::atoi(argv[++i]);
    } else if (a == "--slurm-conf" && i + 1 < argc) {
      conf = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--submits N] [--rounds R] [--slurm-conf PATH]\n", argv[0]);
      return 2;
    }
  }
  if (submits <= 0 || rounds <= 0) {
    std::fprintf(stderr, "--submits and --rounds must be positive\n");
    return 2;
  }
  if (!conf.empty()) return Bench(conf, submits, rounds);

  char tmpl[] = "/tmp/polycloud-slurm-bench-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return 1;
  const std::string dir = tmpl;
  std::mt19937 rng(std::random_device{}());
  int base = 0;
  for (int attempt = 0; attempt < 20 && base == 0; ++attempt) {
    const int b = 41000 + 10 * static_cast<int>(rng() % 500);
    if (PortFree(b) && PortFree(b + 1)) base = b;
  }
  Result<ProcessResult> start = Run({"bash", kHarness, "start", "--dir", dir, "--clusters", "alpha",
                                     "--port-base", std::to_string(base)});
  if (!start.ok() || start->exit_code != 0) {
    std::fprintf(stderr,
                 "could not start a Slurm cluster (root and scripts/install-deps.sh test "
                 "needed): %s\n",
                 start.ok() ? start->err.c_str() : start.status().message().c_str());
    return 1;
  }
  const int rc = Bench(dir + "/alpha/slurm.conf", submits, rounds);
  Result<ProcessResult> stop = Run({"bash", kHarness, "stop", "--dir", dir});
  if (stop.ok() && stop->exit_code == 0 && rc == 0) {
    if (std::system(("rm -rf '" + dir + "'").c_str()) != 0) return 1;
  } else {
    std::fprintf(stderr, "logs kept in %s\n", dir.c_str());
  }
  return rc;
}
