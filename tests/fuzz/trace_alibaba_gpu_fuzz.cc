// Fuzz target: the Alibaba cluster-trace-gpu-v2023 pod list and node list readers.
#include "polycloud/traces/alibaba.h"
#include "trace_fuzz_entries.h"

extern "C" int PolycloudFuzzTraceAlibabaGpu(const uint8_t* data, size_t size) {
  using namespace polycloud::traces;
  for (bool skip : {false, true}) {
    AlibabaPodOptions options;
    options.read = fuzz::Policy(skip);
    options.keep_cpu_only = skip;
    polycloud::Result<AlibabaPodTrace> pods = ReadAlibabaPods(fuzz::Input(data, size), options);
    if (pods.ok()) {
      fuzz::CheckStats(pods->stats, options.read);
      for (const AlibabaPod& pod : pods->pods) {
        POLYCLOUD_CHECK(pod.gpu_milli >= 0 && pod.gpu_milli <= 1000);
        POLYCLOUD_CHECK(pod.job.work_gpu_seconds >= 0);
        if (auto run = pod.RecordedRunTime()) POLYCLOUD_CHECK(run->seconds() >= 0);
        if (auto wait = pod.RecordedQueueingDelay()) POLYCLOUD_CHECK(wait->seconds() >= 0);
        for (auto a : pod.job.accelerators) {
          POLYCLOUD_CHECK(a >= 0 && a < static_cast<int>(pods->accelerators.size()));
        }
      }
    } else {
      fuzz::CheckError(pods.status());
    }
    polycloud::Result<NodeList> nodes =
        ReadAlibabaGpuNodes(fuzz::Input(data, size), {options.read, AcceleratorNames()});
    if (nodes.ok()) {
      fuzz::CheckStats(nodes->stats, options.read);
      Fleet fleet = BuildNodeFleet(*nodes, {});
      int64_t pooled = 0;
      for (const auto& pool : fleet.pools) pooled += pool.gpus.Max();
      POLYCLOUD_CHECK(pooled == nodes->TotalGpus());
    } else {
      fuzz::CheckError(nodes.status());
    }
  }
  return 0;
}

#ifdef POLYCLOUD_LIBFUZZER_MAIN
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return PolycloudFuzzTraceAlibabaGpu(data, size);
}
#endif
