// Fuzz target: the Azure LLM inference trace reader and its demand buckets.
#include "polycloud/traces/azure_llm.h"
#include "trace_fuzz_entries.h"

extern "C" int PolycloudFuzzTraceAzureLlm(const uint8_t* data, size_t size) {
  using namespace polycloud::traces;
  for (bool skip : {false, true}) {
    AzureLlmOptions options;
    options.read = fuzz::Policy(skip);
    options.bucket_width = polycloud::Duration::Seconds(skip ? 1 : 60);
    polycloud::Result<InferenceDemand> demand =
        ReadAzureLlmDemand(fuzz::Input(data, size), options);
    if (demand.ok()) {
      fuzz::CheckStats(demand->stats, options.read);
      POLYCLOUD_CHECK(demand->requests == demand->stats.accepted);
      int64_t requests = 0;
      for (const DemandBucket& bucket : demand->buckets) {
        requests += bucket.requests;
        POLYCLOUD_CHECK(bucket.tokens_per_s >= 0);
        POLYCLOUD_CHECK(demand->tokens_per_s.At(bucket.start) == bucket.tokens_per_s);
      }
      POLYCLOUD_CHECK(requests == demand->requests);
    } else {
      fuzz::CheckError(demand.status());
    }
  }
  return 0;
}

#ifdef POLYCLOUD_LIBFUZZER_MAIN
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return PolycloudFuzzTraceAzureLlm(data, size);
}
#endif
