// Readers for the Microsoft Philly job trace (Sep-Dec 2017) in the layout
// preprocessed by the Pollux/AdaptDL simulator, and the virtual-cluster sizes
// used by the Helios artefact's Philly simulation. See docs/traces.md.
//
// Job trace columns (by header name): timestamp,duration,num_gpus,gpu_time,cluster
//   timestamp  submit time "YYYY-MM-DD HH:MM:SS", read as UTC  -> Job::arrival (+ time_shift)
//   duration   run time in seconds (decimal)                   -> PhillyJob::duration
//   num_gpus   GPUs of the job                                 -> Job::gpus (the gang)
//   gpu_time   GPU-seconds; must equal duration x num_gpus (within num_gpus seconds)
//   cluster    virtual-cluster id                              -> PhillyJob::virtual_cluster
// Work in reference GPU-seconds is duration x num_gpus x speed_milli / 1000 of
// the trace accelerator (P100 by default: Philly ran P100/P40-class GPUs, and
// P40 maps to P100 in the alias table), rounded to the nearest GPU-second.
//
// Virtual-cluster list columns: vc,node num (8 GPUs per node unless told).
//
//   POLYCLOUD_ASSIGN_OR_RETURN(PhillyTrace trace,
//       ReadPhillyJobs(TraceInput::File(data + "/philly/philly.csv.gz"), {}));
//   POLYCLOUD_ASSIGN_OR_RETURN(PhillyVirtualClusters vcs,
//       ReadPhillyVirtualClusters(TraceInput::File(data + "/philly/vc_nodes.csv"), {}));
//
// Thread-safety: plain values and free functions; a RecordReader is used by one
// thread at a time.
#ifndef POLYCLOUD_TRACES_PHILLY_H_
#define POLYCLOUD_TRACES_PHILLY_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "polycloud/base/status.h"
#include "polycloud/base/units.h"
#include "polycloud/traces/accelerator_names.h"
#include "polycloud/traces/fleet.h"
#include "polycloud/traces/line_reader.h"
#include "polycloud/traces/read_options.h"
#include "polycloud/traces/record_reader.h"
#include "polycloud/world/world.h"

namespace polycloud::traces {

struct PhillyOptions {
  ReadOptions read;
  AcceleratorNames accelerators;
  // The GPU the recorded durations ran on; its speed converts them to work.
  std::string trace_accelerator = "P100";
  // Added to every arrival, e.g. to move 2017 into a scenario's period.
  Duration time_shift;
  // Job ids are id_prefix + the record's 1-based row number ("philly-1").
  std::string id_prefix = "philly-";
};

struct PhillyJob {
  // kind training, workload_class "training", stream "philly", gpus = num_gpus,
  // work_gpu_seconds as above, arrival from timestamp; accelerators empty (any).
  world::Job job;
  std::string virtual_cluster;  // the trace's `cluster` column
  Duration duration;            // recorded run time, rounded to whole seconds
  int64_t line = 0;             // where the row is in the input
};

struct PhillyTrace {
  std::vector<PhillyJob> jobs;  // in file order (the file is not sorted by time)
  ReadStats stats;
};

// A streaming reader of the job trace. Errors: InvalidArgument if
// trace_accelerator does not resolve; those of CsvReader::Open.
Result<RecordReader<PhillyJob>> OpenPhillyJobs(const TraceInput& input,
                                               const PhillyOptions& options);
// Reads every job. Errors: as OpenPhillyJobs, plus bad rows (see ReadOptions).
Result<PhillyTrace> ReadPhillyJobs(const TraceInput& input, const PhillyOptions& options);

struct PhillyVcOptions {
  ReadOptions read;
  int64_t gpus_per_node = 8;
};

struct PhillyVirtualCluster {
  std::string id;
  int64_t nodes = 0;
  int64_t gpus = 0;  // nodes x gpus_per_node
  int64_t line = 0;
};

struct PhillyVirtualClusters {
  std::vector<PhillyVirtualCluster> clusters;  // in file order
  int64_t gpus_per_node = 8;
  ReadStats stats;

  // The cluster with `id`, or nullptr.
  const PhillyVirtualCluster* Find(std::string_view id) const;
};

// Reads vc_nodes.csv. A virtual cluster listed twice is a bad row.
Result<PhillyVirtualClusters> ReadPhillyVirtualClusters(const TraceInput& input,
                                                        const PhillyVcOptions& options);

// One reserved site and pool per virtual cluster, ids "<provider_id>/<vc>" for
// both, with the cluster's GPUs of `accelerator` in nodes of gpus_per_node
// (for replaying each virtual cluster on its own fleet).
// Errors: InvalidArgument if `accelerator` does not resolve in `names`.
Result<Fleet> PhillyVirtualClusterFleet(const PhillyVirtualClusters& clusters,
                                        const AcceleratorNames& names,
                                        std::string_view accelerator = "P100",
                                        std::string_view provider_id = "philly");

}  // namespace polycloud::traces

#endif  // POLYCLOUD_TRACES_PHILLY_H_
