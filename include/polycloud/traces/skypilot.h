// Reader for provider catalogs in SkyPilot's vms.csv layout (the public
// skypilot-org/skypilot-catalog), turning list prices into sites and
// on-demand / spot pools. See docs/traces.md.
//
// Columns, by header name in any order:
//   InstanceType, AcceleratorName, AcceleratorCount, Price, Region    required
//   SpotPrice, AvailabilityZone, vCPUs, MemoryGiB, GpuInfo            optional
// (Lambda has an empty SpotPrice and no zone; SimplePod has no SpotPrice
// column.) Prices are read as exact decimals (never through floating point).
// Three kinds of row:
//   - an instance with accelerators (AWS, Lambda, SimplePod): one offer;
//   - an instance without accelerators: a CPU machine, or a GCP host (below);
//   - GCP's accelerator rows (empty InstanceType) price only the GPUs; the
//     offer is that row plus the host machine type SkyPilot pairs with it in
//     the same zone (A100 x8 -> a2-highgpu-8g, see GcpHostMachineType), so an
//     8xA100 in us-central1-a costs 5.91582 + 23.47126 = 29.38708 $/h.
// An offer's price per GPU-hour is its instance price / AcceleratorCount,
// rounded to the micro-dollar (half away from zero). Empty Price or SpotPrice
// cells mean "not offered that way" (AWS p5e has no on-demand price).
//
// Fleet: one site per region ("<provider>/<region>") and, per region,
// accelerator type (after AcceleratorNames resolution) and pricing kind, one
// pool "<provider>/<region>/<accelerator>/<on-demand|spot>" at the lowest
// price per GPU-hour among its offers (the cheapest zone and instance, as
// SkyPilot's optimiser would pick), with gpus_per_node and domain_size of the
// largest machine among them (the biggest gang one can rent in one machine).
// A catalog lists prices, not capacity: pools get gpus_per_pool GPUs (default
// 0: the scenario sets capacity). `offers` keeps every row's detail.
//
//   CatalogOptions options;
//   options.provider_id = "gcp";
//   POLYCLOUD_ASSIGN_OR_RETURN(Catalog catalog, ReadSkyPilotCatalog(
//       TraceInput::File(dir + "/v7/gcp/vms.csv"), options));
//   POLYCLOUD_RETURN_IF_ERROR(AddFleetToWorld(catalog.fleet, world));
//
// Thread-safety: plain values and free functions.
#ifndef POLYCLOUD_TRACES_SKYPILOT_H_
#define POLYCLOUD_TRACES_SKYPILOT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "polycloud/base/status.h"
#include "polycloud/base/units.h"
#include "polycloud/traces/accelerator_names.h"
#include "polycloud/traces/fleet.h"
#include "polycloud/traces/line_reader.h"
#include "polycloud/traces/read_options.h"

namespace polycloud::traces {

struct CatalogOptions {
  ReadOptions read;
  AcceleratorNames accelerators;
  std::string provider_id;    // required: "aws", "gcp", "lambda", ...
  std::string provider_name;  // defaults to provider_id
  int64_t gpus_per_pool = 0;  // GPUs given to every pool from Time::Min(); 0 = none
};

struct CatalogOffer {
  std::string instance_type;     // for GCP accelerator rows: the paired host type
  std::string accelerator_name;  // as in the catalog
  world::AcceleratorIndex accelerator = world::kNone;  // into CatalogOptions::accelerators
  int64_t accelerator_count_milli = 0;                 // 8.0 -> 8000
  int64_t gpus = 0;  // whole GPUs; 0 for fractional counts (not modelled)
  std::string region;
  std::string zone;  // "" when the catalog has none
  std::optional<Money> on_demand_per_gpu_hour;
  std::optional<Money> spot_per_gpu_hour;
  int64_t line = 0;       // the row (the accelerator row for GCP)
  int64_t host_line = 0;  // GCP: the paired host row; 0 otherwise
};

struct UnmappedAccelerator {
  std::string name;
  int64_t rows = 0;
  int64_t first_line = 0;
};

struct Catalog {
  Fleet fleet;
  std::vector<CatalogOffer> offers;           // in file order
  std::vector<size_t> pool_offer;             // per fleet pool: the offer that set its price
  std::vector<UnmappedAccelerator> unmapped;  // accelerator names that did not resolve
  int64_t cpu_only_rows = 0;                  // instances without accelerators, not GCP hosts
  // Facts worth a look, each "path:line: ...": a spot price above on-demand, a
  // GCP accelerator row without a host row, a fractional GPU count, an offer
  // with no price. At most kMaxNotes are kept; notes_dropped counts the rest.
  std::vector<std::string> notes;
  int64_t notes_dropped = 0;
  ReadStats stats;  // accepted = well-formed rows

  static constexpr size_t kMaxNotes = 100;
};

// The GCP machine type SkyPilot attaches `count` of `accelerator` to
// ("A100", 8 -> "a2-highgpu-8g"), or "" when there is none in the table
// (documented in docs/traces.md).
std::string GcpHostMachineType(std::string_view accelerator, int64_t count);

// Reads a vms.csv catalog. Errors: InvalidArgument if provider_id is empty;
// those of CsvReader::Open; bad rows (see ReadOptions).
Result<Catalog> ReadSkyPilotCatalog(const TraceInput& input, const CatalogOptions& options);

}  // namespace polycloud::traces

#endif  // POLYCLOUD_TRACES_SKYPILOT_H_
