// Fuzz target: the Alibaba cluster-trace-v2026-spot-gpu node list reader.
#include "polycloud/traces/alibaba.h"
#include "trace_fuzz_entries.h"

extern "C" int PolycloudFuzzTraceAlibabaSpot(const uint8_t* data, size_t size) {
  using namespace polycloud::traces;
  for (bool skip : {false, true}) {
    NodeListOptions options;
    options.read = fuzz::Policy(skip);
    polycloud::Result<NodeList> nodes = ReadAlibabaSpotNodes(fuzz::Input(data, size), options);
    if (nodes.ok()) {
      fuzz::CheckStats(nodes->stats, options.read);
      for (const ClusterNode& node : nodes->nodes) {
        POLYCLOUD_CHECK(node.gpus == 0 || node.accelerator != polycloud::world::kNone);
      }
    } else {
      fuzz::CheckError(nodes.status());
    }
  }
  return 0;
}

#ifdef POLYCLOUD_LIBFUZZER_MAIN
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return PolycloudFuzzTraceAlibabaSpot(data, size);
}
#endif
