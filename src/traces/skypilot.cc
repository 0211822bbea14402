#include "polycloud/traces/skypilot.h"

#include <map>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "fields.h"
#include "polycloud/traces/record_reader.h"

namespace polycloud::traces {
namespace {

using internal::ColumnError;
using internal::OptionalDecimalField;
using internal::TextField;
using internal::TrimField;

enum Column {
  kInstanceType,
  kAcceleratorName,
  kAcceleratorCount,
  kPrice,
  kRegion,
  kSpotPrice,
  kAvailabilityZone,
  kVcpus,
  kMemoryGib,
  kGpuInfo,
};
const CsvSchema kSchema = {
    {"InstanceType", true},
    {"AcceleratorName", true},
    {"AcceleratorCount", true},
    {"Price", true},
    {"Region", true},
    {"SpotPrice", false},
    {"AvailabilityZone", false},
    {"vCPUs", false},
    {"MemoryGiB", false},
    {"GpuInfo", false},
};

constexpr int kPriceScale = 9;                                          // nano-dollars
constexpr int64_t kMaxPriceNanos = int64_t{1'000'000} * 1'000'000'000;  // $1M per hour
constexpr int64_t kMaxCountMilli = int64_t{1'000'000} * 1000;

struct Row {
  int64_t line = 0;
  std::string instance_type;
  std::string accelerator_name;
  int64_t count_milli = 0;
  std::string region;
  std::string zone;
  std::optional<int64_t> price_nanos;
  std::optional<int64_t> spot_nanos;
};

Result<std::optional<Row>> MapRow(const CsvReader& csv) {
  Row row;
  row.line = csv.line();
  row.instance_type = std::string(TrimField(csv.Field(kInstanceType)));
  row.accelerator_name = std::string(TrimField(csv.Field(kAcceleratorName)));
  if (row.instance_type.empty() && row.accelerator_name.empty()) {
    return ColumnError(csv, kInstanceType,
                       "expected an InstanceType, an AcceleratorName or both, found neither");
  }
  POLYCLOUD_ASSIGN_OR_RETURN(std::optional<int64_t> count,
                             OptionalDecimalField(csv, kAcceleratorCount, 3, kMaxCountMilli));
  if (!row.accelerator_name.empty()) {
    if (!count || *count == 0) {
      return ColumnError(csv, kAcceleratorCount,
                         "expected a positive count for accelerator " +
                             internal::Quoted(row.accelerator_name) + ", found " +
                             internal::Quoted(TrimField(csv.Field(kAcceleratorCount))));
    }
    row.count_milli = *count;
  }
  POLYCLOUD_ASSIGN_OR_RETURN(std::string_view region, TextField(csv, kRegion));
  row.region = std::string(region);
  row.zone = std::string(TrimField(csv.Field(kAvailabilityZone)));
  POLYCLOUD_ASSIGN_OR_RETURN(row.price_nanos,
                             OptionalDecimalField(csv, kPrice, kPriceScale, kMaxPriceNanos));
  POLYCLOUD_ASSIGN_OR_RETURN(row.spot_nanos,
                             OptionalDecimalField(csv, kSpotPrice, kPriceScale, kMaxPriceNanos));
  // Not used for pools, but a malformed value means a damaged row.
  POLYCLOUD_ASSIGN_OR_RETURN(std::optional<int64_t> vcpus,
                             OptionalDecimalField(csv, kVcpus, 3, kMaxCountMilli));
  POLYCLOUD_ASSIGN_OR_RETURN(std::optional<int64_t> memory,
                             OptionalDecimalField(csv, kMemoryGib, 3, kMaxCountMilli * 1000));
  (void)vcpus;
  (void)memory;
  return std::optional<Row>(std::move(row));
}

std::string Dollars(int64_t micros) { return FormatMoneyExact(Money::FromMicros(micros)); }

class NoteList {
 public:
  explicit NoteList(Catalog& catalog) : catalog_(catalog) {}
  void Add(std::string note) {
    if (catalog_.notes.size() < Catalog::kMaxNotes) {
      catalog_.notes.push_back(std::move(note));
    } else {
      ++catalog_.notes_dropped;
    }
  }

 private:
  Catalog& catalog_;
};

}  // namespace

std::string GcpHostMachineType(std::string_view accelerator, int64_t count) {
  // SkyPilot's pairing of GCP accelerators with the machine family they come
  // in (sky/catalog/gcp_catalog.py); the host is priced separately.
  struct Family {
    std::string_view accelerator;
    std::string_view prefix;
    std::vector<int64_t> counts;
  };
  static const std::vector<Family> kFamilies = {
      {"A100", "a2-highgpu-", {1, 2, 4, 8}},
      {"A100", "a2-megagpu-", {16}},
      {"A100-80GB", "a2-ultragpu-", {1, 2, 4, 8}},
      {"H100", "a3-highgpu-", {1, 2, 4, 8}},
      {"H100-MEGA", "a3-megagpu-", {8}},
      {"H200", "a3-ultragpu-", {8}},
      {"B200", "a4-highgpu-", {8}},
  };
  for (const Family& family : kFamilies) {
    if (family.accelerator != accelerator) continue;
    for (int64_t c : family.counts) {
      if (c == count) return std::string(family.prefix) + std::to_string(count) + "g";
    }
  }
  return {};
}

Result<Catalog> ReadSkyPilotCatalog(const TraceInput& input, const CatalogOptions& options) {
  if (options.provider_id.empty()) {
    return InvalidArgument("skypilot: a provider id is required (the catalog does not name one)");
  }
  if (options.gpus_per_pool < 0) return InvalidArgument("skypilot: gpus_per_pool must be >= 0");
  POLYCLOUD_ASSIGN_OR_RETURN(CsvReader csv, CsvReader::Open(input, kSchema, options.read));
  RecordReader<Row> reader(std::move(csv), MapRow);
  std::vector<Row> rows;  // a catalog is small (thousands of rows); pairing needs them all
  while (true) {
    POLYCLOUD_ASSIGN_OR_RETURN(std::optional<Row> row, reader.Next());
    if (!row) break;
    rows.push_back(std::move(*row));
  }

  Catalog catalog;
  catalog.stats = reader.stats();
  NoteList notes(catalog);
  const std::string& path = reader.name();
  auto where = [&](int64_t line) { return path + ":" + std::to_string(line) + ": "; };

  // Host rows by (machine type, zone or region), for GCP's accelerator rows.
  auto place = [](const Row& r) { return r.zone.empty() ? r.region : r.zone; };
  std::map<std::pair<std::string, std::string>, size_t> hosts;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i].accelerator_name.empty())
      hosts.try_emplace({rows[i].instance_type, place(rows[i])}, i);
  }
  std::vector<bool> host_used(rows.size(), false);
  std::unordered_map<std::string, size_t> unmapped_index;

  for (const Row& row : rows) {
    if (row.accelerator_name.empty()) continue;
    CatalogOffer offer;
    offer.line = row.line;
    offer.instance_type = row.instance_type;
    offer.accelerator_name = row.accelerator_name;
    offer.accelerator_count_milli = row.count_milli;
    offer.region = row.region;
    offer.zone = row.zone;
    std::optional<int64_t> price = row.price_nanos;
    std::optional<int64_t> spot = row.spot_nanos;
    if (row.instance_type.empty()) {
      // GCP: the row prices the GPUs only; add the host machine in the same zone.
      std::string host_type;
      if (row.count_milli % 1000 == 0) {
        host_type = GcpHostMachineType(row.accelerator_name, row.count_milli / 1000);
      }
      auto it = host_type.empty() ? hosts.end() : hosts.find({host_type, place(row)});
      if (it == hosts.end()) {
        notes.Add(where(row.line) + "accelerator row " + row.accelerator_name + " x" +
                  std::to_string(row.count_milli / 1000) + " in " + place(row) + " has " +
                  (host_type.empty() ? std::string("no known host machine type")
                                     : "no " + host_type + " host row in the same zone") +
                  "; left out");
        continue;
      }
      const Row& host = rows[it->second];
      host_used[it->second] = true;
      offer.instance_type = host.instance_type;
      offer.host_line = host.line;
      price = price && host.price_nanos ? std::optional<int64_t>(*price + *host.price_nanos)
                                        : std::nullopt;
      spot =
          spot && host.spot_nanos ? std::optional<int64_t>(*spot + *host.spot_nanos) : std::nullopt;
    }
    // nano-dollars per instance-hour / (count x 1000) = micro-dollars per GPU-hour.
    if (price)
      offer.on_demand_per_gpu_hour = Money::FromMicros(MulDivRound(*price, 1, row.count_milli));
    if (spot) offer.spot_per_gpu_hour = Money::FromMicros(MulDivRound(*spot, 1, row.count_milli));
    if (row.count_milli % 1000 == 0) {
      offer.gpus = row.count_milli / 1000;
    } else {
      notes.Add(where(row.line) + "fractional accelerator count " + row.accelerator_name + " x" +
                std::to_string(row.count_milli / 1000) + "." +
                std::to_string(row.count_milli % 1000) + " is not modelled; no pool");
    }
    if (!offer.on_demand_per_gpu_hour && !offer.spot_per_gpu_hour) {
      notes.Add(where(row.line) + "no on-demand or spot price; no pool");
    }
    if (offer.on_demand_per_gpu_hour && offer.spot_per_gpu_hour &&
        *offer.spot_per_gpu_hour > *offer.on_demand_per_gpu_hour) {
      notes.Add(where(row.line) + "spot price " + Dollars(offer.spot_per_gpu_hour->micros()) +
                " exceeds on-demand " + Dollars(offer.on_demand_per_gpu_hour->micros()) +
                " per GPU-hour (" + row.accelerator_name + " in " + place(row) +
                "); kept as listed");
    }
    offer.accelerator = options.accelerators.Resolve(row.accelerator_name);
    if (offer.accelerator == world::kNone) {
      auto [it, inserted] =
          unmapped_index.try_emplace(row.accelerator_name, catalog.unmapped.size());
      if (inserted) catalog.unmapped.push_back({row.accelerator_name, 0, row.line});
      ++catalog.unmapped[it->second].rows;
    }
    catalog.offers.push_back(std::move(offer));
  }
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i].accelerator_name.empty() && !host_used[i]) ++catalog.cpu_only_rows;
  }

  // The fleet: a site per region, a pool per (region, accelerator, pricing).
  Fleet& fleet = catalog.fleet;
  fleet.accelerators = options.accelerators.table();
  fleet.providers.push_back({options.provider_id, options.provider_name.empty()
                                                      ? options.provider_id
                                                      : options.provider_name});
  std::unordered_map<std::string, world::SiteIndex> site_of_region;
  std::map<std::tuple<world::SiteIndex, world::AcceleratorIndex, world::PricingKind>, size_t>
      pool_of_key;
  for (size_t o = 0; o < catalog.offers.size(); ++o) {
    const CatalogOffer& offer = catalog.offers[o];
    if (offer.accelerator == world::kNone || offer.gpus == 0) continue;
    auto [site_it, new_site] =
        site_of_region.try_emplace(offer.region, static_cast<world::SiteIndex>(fleet.sites.size()));
    if (new_site) {
      world::Site site;
      site.id = options.provider_id + "/" + offer.region;
      site.provider = 0;
      site.region = offer.region;
      fleet.sites.push_back(std::move(site));
    }
    const world::SiteIndex site = site_it->second;
    for (auto [pricing, price] :
         {std::pair{world::PricingKind::kOnDemand, offer.on_demand_per_gpu_hour},
          std::pair{world::PricingKind::kSpot, offer.spot_per_gpu_hour}}) {
      if (!price) continue;
      auto [pool_it, new_pool] =
          pool_of_key.try_emplace({site, offer.accelerator, pricing}, fleet.pools.size());
      if (new_pool) {
        world::Pool pool;
        pool.id = options.provider_id + "/" + offer.region + "/" +
                  options.accelerators.at(offer.accelerator).name + "/" +
                  world::PricingKindName(pricing);
        pool.site = site;
        pool.provider = 0;
        pool.accelerator = offer.accelerator;
        pool.pricing = pricing;
        if (options.gpus_per_pool > 0) {
          pool.gpus = world::StepSchedule<int64_t>(options.gpus_per_pool);
        }
        fleet.pools.push_back(std::move(pool));
        catalog.pool_offer.push_back(o);
      }
      world::Pool& pool = fleet.pools[pool_it->second];
      size_t& best = catalog.pool_offer[pool_it->second];
      const CatalogOffer& current = catalog.offers[best];
      std::optional<Money> current_price = pricing == world::PricingKind::kSpot
                                               ? current.spot_per_gpu_hour
                                               : current.on_demand_per_gpu_hour;
      // The price is the cheapest offer's (on a tie, the larger machine's); the
      // node size is the largest machine offered, the biggest gang one can rent.
      if (new_pool || *price < *current_price ||
          (*price == *current_price && offer.gpus > current.gpus)) {
        best = o;
        pool.price_per_gpu_hour = *price;
      }
      if (new_pool || offer.gpus > pool.gpus_per_node) {
        pool.gpus_per_node = offer.gpus;
        pool.domain_size = offer.gpus;
      }
    }
  }
  return catalog;
}

}  // namespace polycloud::traces
