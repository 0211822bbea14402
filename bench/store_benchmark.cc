// Durable appends per second through the store's group commit (src/store), at
// 1, 8 and 64 concurrent writers, with each append's latency (p50, p99) as
// counters: what `polycloud serve` pays to acknowledge a submission. Each
// append is one command line of a realistic size with an idempotency key, as
// a submit carries. Beside it, the disk's own rate of 4 KiB write+fdatasync,
// the ceiling of one-commit-per-append.
//
//   build/release/bench/store_benchmark                        # SQLite in $TMPDIR (or /tmp)
//   scripts/postgres.sh start /tmp/pcbench                     # a PostgreSQL 15 with fsync on
//   POLYCLOUD_BENCH_POSTGRES_URL=$(scripts/postgres.sh url /tmp/pcbench)
//   build/release/bench/store_benchmark
//
// Counters: items_per_second = acknowledged appends/s (all writers);
// p50_us / p99_us = one append's latency; writes_per_commit = mean group
// commit batch.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "polycloud/store/store.h"
#include "src/store/sql_store.h"
#include "src/store/store_testing.h"

namespace polycloud::store {
namespace {

// What one run shares between its writer threads; set up by thread 0 before
// the timed loop and torn down after it (the loop starts and ends on a
// barrier of all threads).
struct Run {
  std::unique_ptr<Store> store;
  std::string dir;                                 // SQLite: the temporary folder
  std::string server, schema;                      // PostgreSQL: the server and this run's schema
  std::vector<std::vector<int64_t>> latencies_ns;  // per thread, each written by its own
};
Run* g_run = nullptr;

std::string SubmitJson(int thread, int64_t i) {
  // The size of a real `submit` command line (CommandToJson), ~230 bytes.
  return R"({"at":1767225600,"command":"submit","job":{"id":"bench-)" + std::to_string(thread) +
         "-" + std::to_string(i) +
         R"(","class":"training","tenant":"research","gpus":512,"accelerators":["gb200","h100"],)"
         R"("work_gpu_hours":86016,"priority":5,"checkpoint_every":"2h","preemptible":false}})";
}

bool SetUp(benchmark::State& state, bool postgres) {
  auto run = std::make_unique<Run>();
  std::string location;
  if (postgres) {
    const char* url = std::getenv("POLYCLOUD_BENCH_POSTGRES_URL");
    if (url == nullptr || *url == '\0') {
      state.SkipWithError(
          "set POLYCLOUD_BENCH_POSTGRES_URL (e.g. $(scripts/postgres.sh url DIR) after "
          "scripts/postgres.sh start DIR) to measure PostgreSQL");
      return false;
    }
    run->server = url;
    Result<std::string> schema_url = testing::FreshPostgresSchema(run->server, &run->schema);
    if (!schema_url.ok()) {
      state.SkipWithError(schema_url.status().ToString().c_str());
      return false;
    }
    location = *schema_url;
  } else {
    run->dir = testing::MakeTempDir("polycloud-store-bench-");
    location = "sqlite:" + run->dir + "/polycloud.db";
  }
  Result<std::unique_ptr<Store>> store = OpenStore(location);
  if (!store.ok()) {
    state.SkipWithError(store.status().ToString().c_str());
    return false;
  }
  run->store = std::move(store).value();
  run->latencies_ns.resize(state.threads());
  g_run = run.release();
  return true;
}

void TearDown(benchmark::State& state) {
  std::vector<int64_t> all;
  for (const auto& v : g_run->latencies_ns) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  if (!all.empty()) {
    const auto at = [&](double q) { return all[static_cast<size_t>(q * (all.size() - 1))] / 1e3; };
    state.counters["p50_us"] = at(0.50);
    state.counters["p99_us"] = at(0.99);
  }
  if (auto* sql = dynamic_cast<SqlStore*>(g_run->store.get())) {
    const GroupCommitStats stats = sql->group_commit_stats();
    if (stats.batches > 0) {
      state.counters["writes_per_commit"] =
          static_cast<double>(stats.requests) / static_cast<double>(stats.batches);
    }
  }
  g_run->store.reset();
  if (!g_run->schema.empty()) {
    (void)testing::PostgresExec(g_run->server, "DROP SCHEMA " + g_run->schema + " CASCADE");
  }
  if (!g_run->dir.empty()) std::filesystem::remove_all(g_run->dir);
  delete g_run;
  g_run = nullptr;
}

void Append(benchmark::State& state, bool postgres) {
  // Thread 0 sets up; every thread, thread 0 included even when set-up
  // failed, must reach the loop, whose start is a barrier of all threads.
  if (state.thread_index() == 0) SetUp(state, postgres);
  const int thread = state.thread_index();
  std::vector<int64_t>* latencies = nullptr;  // this thread's, in g_run
  int64_t i = 0;
  for (auto _ : state) {
    if (g_run == nullptr) {
      state.SkipWithError("set-up failed (see thread 0's message)");
      break;
    }
    if (latencies == nullptr) {
      latencies = &g_run->latencies_ns[thread];
      latencies->reserve(1 << 16);
    }
    const std::string key = "bench-" + std::to_string(thread) + "-" + std::to_string(i);
    const std::vector<std::string> jsons = {SubmitJson(thread, i)};
    const auto start = std::chrono::steady_clock::now();
    Result<AppendOutcome> out = g_run->store->AppendCommands(jsons, key, key);
    const auto end = std::chrono::steady_clock::now();
    if (!out.ok()) {
      state.SkipWithError(out.status().ToString().c_str());
      break;
    }
    latencies->push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(end - start).count());
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
  // The loop ended on a barrier: every thread's latencies are in.
  if (thread == 0 && g_run != nullptr) TearDown(state);
}

void BM_AppendSqlite(benchmark::State& state) { Append(state, false); }
void BM_AppendPostgres(benchmark::State& state) { Append(state, true); }

BENCHMARK(BM_AppendSqlite)->Threads(1)->Threads(8)->Threads(64)->UseRealTime()->MinTime(3.0);
BENCHMARK(BM_AppendPostgres)->Threads(1)->Threads(8)->Threads(64)->UseRealTime()->MinTime(3.0);

// The disk's fsync rate, as SQLite pays it per commit: rewrite a 4 KiB page
// and fdatasync, on the file system the SQLite runs use.
void BM_DiskFdatasync4KiB(benchmark::State& state) {
  const std::string dir = testing::MakeTempDir("polycloud-store-bench-");
  const std::string path = dir + "/fsync.probe";
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  std::vector<char> page(4096, 'x');
  int64_t n = 0;
  for (auto _ : state) {
    if (pwrite(fd, page.data(), page.size(), (n++ % 64) * 4096) < 0 || fdatasync(fd) != 0) {
      state.SkipWithError("write/fdatasync failed");
      break;
    }
  }
  close(fd);
  std::filesystem::remove_all(dir);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DiskFdatasync4KiB)->UseRealTime()->MinTime(2.0);

}  // namespace
}  // namespace polycloud::store

BENCHMARK_MAIN();
