// A tiny server on the HTTP layer for load generators (bench/http_wrk.sh):
// POST /v1/echo and GET /healthz of bench/http_demo_handlers.h. Prints
// "listening on HOST:PORT" once it accepts, stops gracefully on SIGINT or
// SIGTERM and prints the server's own per-route counts and latency.
//
//   build/release/bench/http_demo_server --port 0 --threads 2
#include <pthread.h>
#include <signal.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "bench/http_demo_handlers.h"
#include "polycloud/http/server.h"

int main(int argc, char** argv) {
  using namespace polycloud;
  http::ServerOptions options;
  options.port = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--port") == 0) {
      options.port = static_cast<uint16_t>(std::atoi(argv[i + 1]));
    } else if (std::strcmp(argv[i], "--threads") == 0) {
      options.threads = std::atoi(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--host") == 0) {
      options.host = argv[i + 1];
    } else {
      std::fprintf(stderr, "usage: %s [--host 127.0.0.1] [--port 0] [--threads 2]\n", argv[0]);
      return 2;
    }
  }
  // Block the stop signals in every thread (the server's inherit the mask),
  // then wait for one here.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  Result<std::unique_ptr<http::Server>> server = http::Server::Start(options, bench::DemoRouter());
  if (!server.ok()) {
    std::fprintf(stderr, "http_demo_server: %s\n", server.status().ToString().c_str());
    return 1;
  }
  std::printf("listening on %s\n", (*server)->address().c_str());
  std::fflush(stdout);
  int signal = 0;
  sigwait(&stop, &signal);
  (*server)->Stop();
  for (const http::RouteStats& r : (*server)->Stats()) {
    uint64_t n = 0;
    for (const auto& [status, count] : r.responses) n += count;
    if (n == 0) continue;
    std::printf("%s %s: %llu requests, p50 <= %g s, p99 <= %g s (server-side, bucket bounds)\n",
                r.method.empty() ? "-" : r.method.c_str(),
                r.route.empty() ? "unmatched" : r.route.c_str(), static_cast<unsigned long long>(n),
                r.latency.QuantileUpperBound(0.5), r.latency.QuantileUpperBound(0.99));
  }
  return 0;
}
