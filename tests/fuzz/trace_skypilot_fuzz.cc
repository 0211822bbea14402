// Fuzz target: the SkyPilot vms.csv catalog reader, GCP pairing and pools.
#include "polycloud/traces/skypilot.h"
#include "trace_fuzz_entries.h"

extern "C" int PolycloudFuzzTraceSkyPilot(const uint8_t* data, size_t size) {
  using namespace polycloud::traces;
  for (bool skip : {false, true}) {
    CatalogOptions options;
    options.read = fuzz::Policy(skip);
    options.read.allow_unknown_columns = skip;
    options.provider_id = "fuzz";
    polycloud::Result<Catalog> catalog = ReadSkyPilotCatalog(fuzz::Input(data, size), options);
    if (catalog.ok()) {
      fuzz::CheckStats(catalog->stats, options.read);
      POLYCLOUD_CHECK(catalog->pool_offer.size() == catalog->fleet.pools.size());
      POLYCLOUD_CHECK(catalog->notes.size() <= Catalog::kMaxNotes);
      for (const polycloud::world::Pool& pool : catalog->fleet.pools) {
        POLYCLOUD_CHECK(pool.price_per_gpu_hour.micros() >= 0);
        POLYCLOUD_CHECK(pool.gpus_per_node >= 1);
        POLYCLOUD_CHECK(pool.site >= 0 &&
                        pool.site < static_cast<int>(catalog->fleet.sites.size()));
      }
      polycloud::world::World world;
      POLYCLOUD_CHECK(AddFleetToWorld(catalog->fleet, world).ok());
    } else {
      fuzz::CheckError(catalog.status());
    }
  }
  return 0;
}

#ifdef POLYCLOUD_LIBFUZZER_MAIN
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return PolycloudFuzzTraceSkyPilot(data, size);
}
#endif
