// Fuzz target: the Philly job trace and virtual-cluster list readers.
#include "polycloud/traces/philly.h"
#include "trace_fuzz_entries.h"

extern "C" int PolycloudFuzzTracePhilly(const uint8_t* data, size_t size) {
  using namespace polycloud::traces;
  for (bool skip : {false, true}) {
    PhillyOptions options;
    options.read = fuzz::Policy(skip);
    polycloud::Result<PhillyTrace> trace = ReadPhillyJobs(fuzz::Input(data, size), options);
    if (trace.ok()) {
      fuzz::CheckStats(trace->stats, options.read);
      POLYCLOUD_CHECK(static_cast<int64_t>(trace->jobs.size()) == trace->stats.accepted);
      for (const PhillyJob& job : trace->jobs) {
        POLYCLOUD_CHECK(job.job.gpus >= 1);
        POLYCLOUD_CHECK(job.job.work_gpu_seconds >= 0);
        POLYCLOUD_CHECK(!job.virtual_cluster.empty());
      }
    } else {
      fuzz::CheckError(trace.status());
    }
    PhillyVcOptions vc_options;
    vc_options.read = options.read;
    polycloud::Result<PhillyVirtualClusters> vcs =
        ReadPhillyVirtualClusters(fuzz::Input(data, size), vc_options);
    if (vcs.ok()) {
      fuzz::CheckStats(vcs->stats, options.read);
      for (const PhillyVirtualCluster& vc : vcs->clusters) POLYCLOUD_CHECK(vc.gpus == vc.nodes * 8);
    } else {
      fuzz::CheckError(vcs.status());
    }
  }
  return 0;
}

#ifdef POLYCLOUD_LIBFUZZER_MAIN
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return PolycloudFuzzTracePhilly(data, size);
}
#endif
