// Whole-run benchmark of the HTTP layer over loopback: N client connections
// (one thread and one kept-alive http::Client each) POST a small JSON body to
// a trivial handler (bench/http_demo_handlers.h) for a fixed time; prints
// requests/s and latency percentiles per N. Client and server share the
// machine, so the figures are the layer's cost end to end, not the server's
// alone (bench/http_wrk.sh puts wrk, a C load generator, in front instead).
//
//   build/release/bench/http_benchmark                          # 1, 4, 16, 64 connections, 3 s
//   each build/release/bench/http_benchmark --connections 8 --seconds 10 --server-threads 2
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "bench/http_demo_handlers.h"
#include "polycloud/http/client.h"
#include "polycloud/http/server.h"

namespace {

using namespace polycloud;
using SteadyClock = std::chrono::steady_clock;

struct Row {
  int connections = 0;
  int64_t requests = 0;
  int64_t errors = 0;
  double seconds = 0;
  std::vector<int64_t> latencies_ns;  // sorted
};

double Percentile(const std::vector<int64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  const size_t i =
      std::min(sorted.size() - 1, static_cast<size_t>(q * static_cast<double>(sorted.size())));
  return static_cast<double>(sorted[i]) / 1e3;  // µs
}

Row Measure(uint16_t port, int connections, double seconds) {
  const nlohmann::json body = {{"name", "bench-job"}, {"gpus", 8}};
  std::vector<std::vector<int64_t>> per_thread(connections);
  std::vector<int64_t> errors(connections, 0);
  const auto start = SteadyClock::now();
  const auto end = start + std::chrono::duration_cast<SteadyClock::duration>(
                               std::chrono::duration<double>(seconds));
  std::vector<std::thread> threads;
  for (int c = 0; c < connections; ++c) {
    threads.emplace_back([&, c] {
      http::ClientOptions options;
      options.address.port = port;
      http::Client client(options);
      per_thread[c].reserve(200'000);
      while (SteadyClock::now() < end) {
        const auto t0 = SteadyClock::now();
        Result<http::ClientResponse> r = client.Post("/v1/echo", body);
        const auto t1 = SteadyClock::now();
        if (!r.ok() || r->status != 201) {
          ++errors[c];
          continue;
        }
        per_thread[c].push_back(
            std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
      }
    });
  }
  for (std::thread& t : threads) t.join();
  Row row;
  row.connections = connections;
  row.seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
  for (int c = 0; c < connections; ++c) {
    row.latencies_ns.insert(row.latencies_ns.end(), per_thread[c].begin(), per_thread[c].end());
    row.errors += errors[c];
  }
  row.requests = static_cast<int64_t>(row.latencies_ns.size());
  std::sort(row.latencies_ns.begin(), row.latencies_ns.end());
  return row;
}

std::vector<int> ParseList(const char* text) {
  std::vector<int> out;
  for (const char* p = text; *p != '\0';) {
    out.push_back(std::atoi(p));
    const char* comma = std::strchr(p, ',');
    if (comma == nullptr) break;
    p = comma + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> connections = {1, 4, 16, 64};
  double seconds = 3;
  int server_threads = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--connections") == 0) {
      connections = ParseList(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--seconds") == 0) {
      seconds = std::atof(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--server-threads") == 0) {
      server_threads = std::atoi(argv[i + 1]);
    } else {
      std::fprintf(stderr, "usage: %s [--connections 1,4,16] [--seconds 3] [--server-threads 2]\n",
                   argv[0]);
      return 2;
    }
  }
  http::ServerOptions options;
  options.port = 0;
  options.threads = server_threads;
  Result<std::unique_ptr<http::Server>> server = http::Server::Start(options, bench::DemoRouter());
  if (!server.ok()) {
    std::fprintf(stderr, "%s\n", server.status().ToString().c_str());
    return 1;
  }
  std::printf(
      "POST /v1/echo (strict JSON read, 201 JSON answer) over loopback, %d server threads, "
      "%u cores, %.0f s per row\n\n",
      server_threads, std::thread::hardware_concurrency(), seconds);
  std::printf("| connections | requests/s | p50 µs | p90 µs | p99 µs | p99.9 µs | errors |\n");
  std::printf("|---:|---:|---:|---:|---:|---:|---:|\n");
  for (int n : connections) {
    Row row = Measure((*server)->port(), n, seconds);
    std::printf("| %d | %.0f | %.0f | %.0f | %.0f | %.0f | %lld |\n", n,
                static_cast<double>(row.requests) / row.seconds, Percentile(row.latencies_ns, 0.50),
                Percentile(row.latencies_ns, 0.90), Percentile(row.latencies_ns, 0.99),
                Percentile(row.latencies_ns, 0.999), static_cast<long long>(row.errors));
    std::fflush(stdout);
  }
  (*server)->Stop();
  return 0;
}
