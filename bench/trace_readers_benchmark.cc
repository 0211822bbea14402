// Rows per second of each trace and catalog reader on the shipped public data
// (../shared/data, or $POLYCLOUD_SHARED_DATA_DIR). A benchmark whose file is
// absent reports an error for that benchmark and the others still run.
//
//   cmake --build build/release --target trace_readers_benchmark
//   build/release/bench/trace_readers_benchmark --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include "polycloud/traces/alibaba.h"
#include "polycloud/traces/azure_llm.h"
#include "polycloud/traces/line_reader.h"
#include "polycloud/traces/philly.h"
#include "polycloud/traces/record_reader.h"
#include "polycloud/traces/skypilot.h"

namespace polycloud::traces {
namespace {

std::string DataPath(const std::string& relative) {
  const char* env = std::getenv("POLYCLOUD_SHARED_DATA_DIR");
  std::string root = env != nullptr ? env : POLYCLOUD_SHARED_DATA_DIR;
  return root + "/" + relative;
}

// Runs `read` (returning the rows it read, or an error) once per iteration and
// reports rows/s and input bytes/s.
template <typename Read>
void RunReader(benchmark::State& state, const std::string& relative, Read read) {
  const std::string path = DataPath(relative);
  std::error_code ec;
  const auto file_bytes = std::filesystem::file_size(path, ec);
  if (ec) {
    state.SkipWithError(("shared data file absent: " + path).c_str());
    return;
  }
  int64_t rows = 0;
  for (auto _ : state) {
    Result<int64_t> n = read(TraceInput::File(path));
    if (!n.ok()) {
      state.SkipWithError(n.status().message().c_str());
      return;
    }
    rows += *n;
  }
  state.counters["rows/s"] =
      benchmark::Counter(static_cast<double>(rows), benchmark::Counter::kIsRate);
  state.counters["rows"] =
      benchmark::Counter(static_cast<double>(rows) / static_cast<double>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(file_bytes) * state.iterations());
}

void BM_PhillyJobs(benchmark::State& state) {
  RunReader(state, "philly/philly.csv.gz", [](const TraceInput& input) -> Result<int64_t> {
    POLYCLOUD_ASSIGN_OR_RETURN(PhillyTrace trace, ReadPhillyJobs(input, {}));
    return trace.stats.records;
  });
}
BENCHMARK(BM_PhillyJobs)->Unit(benchmark::kMillisecond);

// The same rows streamed one at a time, none kept: the bounded-memory path.
void BM_PhillyJobsStreamed(benchmark::State& state) {
  RunReader(state, "philly/philly.csv.gz", [](const TraceInput& input) -> Result<int64_t> {
    POLYCLOUD_ASSIGN_OR_RETURN(RecordReader<PhillyJob> reader, OpenPhillyJobs(input, {}));
    int64_t gpus = 0;
    while (true) {
      POLYCLOUD_ASSIGN_OR_RETURN(std::optional<PhillyJob> job, reader.Next());
      if (!job) break;
      gpus += job->job.gpus;
    }
    benchmark::DoNotOptimize(gpus);
    return reader.stats().records;
  });
}
BENCHMARK(BM_PhillyJobsStreamed)->Unit(benchmark::kMillisecond);

// gzip inflation and line splitting alone, for comparison with the readers.
void BM_PhillyLinesOnly(benchmark::State& state) {
  RunReader(state, "philly/philly.csv.gz", [](const TraceInput& input) -> Result<int64_t> {
    POLYCLOUD_ASSIGN_OR_RETURN(LineReader lines, LineReader::Open(input));
    int64_t n = -1;  // the header is not a row
    while (true) {
      POLYCLOUD_ASSIGN_OR_RETURN(std::optional<std::string_view> line, lines.NextLine());
      if (!line) break;
      if (!line->empty()) ++n;
    }
    return n;
  });
}
BENCHMARK(BM_PhillyLinesOnly)->Unit(benchmark::kMillisecond);

void BM_AlibabaPods(benchmark::State& state) {
  RunReader(state, "alibaba-gpu-2023/openb_pod_list_default.csv",
            [](const TraceInput& input) -> Result<int64_t> {
              AlibabaPodOptions options;
              options.keep_cpu_only = true;
              POLYCLOUD_ASSIGN_OR_RETURN(AlibabaPodTrace trace, ReadAlibabaPods(input, options));
              return trace.stats.records;
            });
}
BENCHMARK(BM_AlibabaPods)->Unit(benchmark::kMillisecond);

void BM_AlibabaGpuNodes(benchmark::State& state) {
  RunReader(state, "alibaba-gpu-2023/openb_node_list_all_node.csv",
            [](const TraceInput& input) -> Result<int64_t> {
              POLYCLOUD_ASSIGN_OR_RETURN(NodeList nodes, ReadAlibabaGpuNodes(input, {}));
              return nodes.stats.records;
            });
}
BENCHMARK(BM_AlibabaGpuNodes)->Unit(benchmark::kMillisecond);

void BM_AlibabaSpotNodes(benchmark::State& state) {
  RunReader(state, "alibaba-spot-gpu-2026/node_info_df.csv",
            [](const TraceInput& input) -> Result<int64_t> {
              POLYCLOUD_ASSIGN_OR_RETURN(NodeList nodes, ReadAlibabaSpotNodes(input, {}));
              return nodes.stats.records;
            });
}
BENCHMARK(BM_AlibabaSpotNodes)->Unit(benchmark::kMillisecond);

void BM_AzureLlmDemand(benchmark::State& state) {
  RunReader(state, "azure-llm-2023/AzureLLMInferenceTrace_code.csv.gz",
            [](const TraceInput& input) -> Result<int64_t> {
              POLYCLOUD_ASSIGN_OR_RETURN(InferenceDemand demand, ReadAzureLlmDemand(input, {}));
              return demand.stats.records;
            });
}
BENCHMARK(BM_AzureLlmDemand)->Unit(benchmark::kMillisecond);

void SkyPilot(benchmark::State& state, const std::string& cloud) {
  RunReader(state, "skypilot-catalog/v7/" + cloud + "/vms.csv",
            [&cloud](const TraceInput& input) -> Result<int64_t> {
              CatalogOptions options;
              options.provider_id = cloud;
              POLYCLOUD_ASSIGN_OR_RETURN(Catalog catalog, ReadSkyPilotCatalog(input, options));
              return catalog.stats.records;
            });
}
void BM_SkyPilotGcp(benchmark::State& state) { SkyPilot(state, "gcp"); }
void BM_SkyPilotAws(benchmark::State& state) { SkyPilot(state, "aws"); }
void BM_SkyPilotLambda(benchmark::State& state) { SkyPilot(state, "lambda"); }
BENCHMARK(BM_SkyPilotGcp)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SkyPilotAws)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SkyPilotLambda)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace polycloud::traces
