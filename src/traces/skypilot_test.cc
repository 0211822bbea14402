#include "polycloud/traces/skypilot.h"

#include <gtest/gtest.h>

#include <string>

#include "test_util.h"

namespace polycloud::traces {
namespace {

using testing::SharedData;

Result<Catalog> Read(std::string_view text, std::string provider = "test",
                     CatalogOptions options = {}) {
  options.provider_id = std::move(provider);
  return ReadSkyPilotCatalog(TraceInput::Memory(text, "vms.csv"), options);
}

const world::Pool* FindPool(const Catalog& catalog, std::string_view id) {
  for (const world::Pool& pool : catalog.fleet.pools) {
    if (pool.id == id) return &pool;
  }
  return nullptr;
}

constexpr std::string_view kAwsHeader =
    "InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,Price,SpotPrice,Region,"
    "AvailabilityZone\n";

TEST(SkyPilotCatalogTest, PricePerGpuHourIsInstancePriceOverCountExactly) {
  Result<Catalog> catalog =
      Read(std::string(kAwsHeader) +
               "p4d.24xlarge,A100,8.0,96.0,1152.0,32.7726,5.093300,"
               "us-east-1,use1-az1\n"
               "p5.48xlarge,H100,8.0,192.0,2048.0,98.32,,us-east-1,use1-az2\n",
           "aws");
  ASSERT_TRUE(catalog.ok()) << catalog.status().message();
  ASSERT_EQ(catalog->offers.size(), 2u);
  // 32.7726 / 8 = 4.096575 and 5.0933 / 8 = 0.6366625 -> 0.636663 (half away from zero).
  EXPECT_EQ(catalog->offers[0].on_demand_per_gpu_hour->micros(), 4'096'575);
  EXPECT_EQ(catalog->offers[0].spot_per_gpu_hour->micros(), 636'663);
  EXPECT_EQ(catalog->offers[0].gpus, 8);
  EXPECT_EQ(catalog->offers[0].zone, "use1-az1");
  EXPECT_FALSE(catalog->offers[1].spot_per_gpu_hour.has_value());  // empty SpotPrice

  ASSERT_EQ(catalog->fleet.sites.size(), 1u);
  EXPECT_EQ(catalog->fleet.sites[0].id, "aws/us-east-1");
  ASSERT_EQ(catalog->fleet.pools.size(), 3u);
  const world::Pool* a100 = FindPool(*catalog, "aws/us-east-1/A100/on-demand");
  ASSERT_NE(a100, nullptr);
  EXPECT_EQ(a100->price_per_gpu_hour.micros(), 4'096'575);
  EXPECT_EQ(a100->pricing, world::PricingKind::kOnDemand);
  EXPECT_EQ(a100->gpus_per_node, 8);
  EXPECT_EQ(a100->gpus.Max(), 0);  // a catalog has prices, not capacity
  EXPECT_NE(FindPool(*catalog, "aws/us-east-1/A100/spot"), nullptr);
  EXPECT_EQ(FindPool(*catalog, "aws/us-east-1/H100/spot"), nullptr);
}

TEST(SkyPilotCatalogTest, MissingOnDemandPriceLeavesOnlyTheSpotPool) {
  // AWS p5e rows have no on-demand price.
  Result<Catalog> catalog = Read(std::string(kAwsHeader) +
                                     "p5e.48xlarge,H200,8.0,192.0,2048.0,,24.29,us-east-2,"
                                     "use2-az1\n",
                                 "aws");
  ASSERT_TRUE(catalog.ok());
  ASSERT_EQ(catalog->fleet.pools.size(), 1u);
  EXPECT_EQ(catalog->fleet.pools[0].id, "aws/us-east-2/H200/spot");
  EXPECT_EQ(catalog->fleet.pools[0].price_per_gpu_hour.micros(), 3'036'250);
}

TEST(SkyPilotCatalogTest, ReadsColumnsByNameWhateverTheirOrderOrPresence) {
  // SimplePod's layout: no SpotPrice column, no zone, quoted GpuInfo with commas, CRLF.
  Result<Catalog> catalog = Read(
      "InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,Price,Region,GpuInfo\r\n"
      "gpu_1x_a10,A10,1,14,64,0.060,Europe-NO,\"{'Gpus': [{'Name': 'A10', 'Count': 1}], "
      "'TotalGpuMemoryInMiB': 24576}\"\r\n",
      "simplepod");
  ASSERT_TRUE(catalog.ok()) << catalog.status().message();
  ASSERT_EQ(catalog->offers.size(), 1u);
  EXPECT_EQ(catalog->offers[0].on_demand_per_gpu_hour->micros(), 60'000);
  EXPECT_EQ(catalog->offers[0].zone, "");
  ASSERT_EQ(catalog->fleet.pools.size(), 1u);
  EXPECT_EQ(catalog->fleet.pools[0].id, "simplepod/Europe-NO/A10/on-demand");
}

constexpr std::string_view kGcpHeader =
    "InstanceType,vCPUs,MemoryGiB,AcceleratorName,AcceleratorCount,GpuInfo,Region,"
    "AvailabilityZone,Price,SpotPrice\n";

TEST(SkyPilotCatalogTest, PairsGcpAcceleratorRowsWithTheirHostInTheSameZone) {
  Result<Catalog> catalog =
      Read(std::string(kGcpHeader) +
               "a2-highgpu-8g,96.0,680.0,,,,us-central1,us-central1-a,5.91582,2.36604\n"
               "a2-highgpu-8g,96.0,680.0,,,,us-central1,us-central1-b,5.91582,2.36604\n"
               "n2-standard-8,8.0,32.0,,,,us-central1,us-central1-a,0.38,0.1\n"
               ",,,A100,8,{'Gpus': [{'MemoryInfo': {'SizeInMiB': 40960}}]},us-central1,"
               "us-central1-a,23.47126,9.1776\n"
               ",,,B200,8,{'Gpus': [{'MemoryInfo': {'SizeInMiB': 184320}}]},us-central1,"
               "us-central1-b,80.0,30.0\n",
           "gcp");
  ASSERT_TRUE(catalog.ok()) << catalog.status().message();
  ASSERT_EQ(catalog->offers.size(), 1u);
  const CatalogOffer& offer = catalog->offers[0];
  EXPECT_EQ(offer.instance_type, "a2-highgpu-8g");
  EXPECT_EQ(offer.line, 5);
  EXPECT_EQ(offer.host_line, 2);
  // (5.91582 + 23.47126) / 8 = 29.38708 / 8 = 3.673385 $/GPU-hour.
  EXPECT_EQ(offer.on_demand_per_gpu_hour->micros(), 3'673'385);
  EXPECT_EQ(offer.spot_per_gpu_hour->micros(), 1'442'955);
  // The B200 row has no a4-highgpu-8g host row in its zone: noted, left out.
  ASSERT_EQ(catalog->notes.size(), 1u);
  EXPECT_EQ(catalog->notes[0],
            "vms.csv:6: accelerator row B200 x8 in us-central1-b has no a4-highgpu-8g host row "
            "in the same zone; left out");
  // The unpaired host rows and the CPU machine are not offers.
  EXPECT_EQ(catalog->cpu_only_rows, 2);
}

TEST(SkyPilotCatalogTest, GcpHostMachineTypesFollowSkyPilot) {
  EXPECT_EQ(GcpHostMachineType("A100", 8), "a2-highgpu-8g");
  EXPECT_EQ(GcpHostMachineType("A100", 16), "a2-megagpu-16g");
  EXPECT_EQ(GcpHostMachineType("A100-80GB", 4), "a2-ultragpu-4g");
  EXPECT_EQ(GcpHostMachineType("H100", 1), "a3-highgpu-1g");
  EXPECT_EQ(GcpHostMachineType("H100-MEGA", 8), "a3-megagpu-8g");
  EXPECT_EQ(GcpHostMachineType("H200", 8), "a3-ultragpu-8g");
  EXPECT_EQ(GcpHostMachineType("T4", 1), "");
  EXPECT_EQ(GcpHostMachineType("A100", 3), "");
}

TEST(SkyPilotCatalogTest, PoolTakesTheCheapestOfferAndTheLargestMachine) {
  Result<Catalog> catalog = Read(
      "InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,Price,Region,GpuInfo,"
      "SpotPrice\n"
      "gpu_1x_h100_pcie,H100,1.0,26.0,200.0,2.49,us-east-1,,\n"
      "gpu_8x_h100_sxm5,H100,8.0,208.0,1800.0,23.92,us-east-1,,\n"
      "gpu_1x_h100_sxm5,H100,1.0,26.0,225.0,3.29,us-east-1,,\n",
      "lambda");
  ASSERT_TRUE(catalog.ok());
  ASSERT_EQ(catalog->fleet.pools.size(), 1u);
  const world::Pool& pool = catalog->fleet.pools[0];
  EXPECT_EQ(pool.price_per_gpu_hour.micros(), 2'490'000);
  EXPECT_EQ(pool.gpus_per_node, 8);
  EXPECT_EQ(catalog->offers[catalog->pool_offer[0]].instance_type, "gpu_1x_h100_pcie");
}

TEST(SkyPilotCatalogTest, NotesSpotAboveOnDemandAndReportsUnknownAccelerators) {
  Result<Catalog> catalog = Read(std::string(kAwsHeader) +
                                     "x.large,H100,1,1,1,4.20076,10.01876,r1,z1\n"
                                     "y.large,RTX4090,1,1,1,0.5,,r1,z1\n"
                                     "z.large,RTX4090,2,1,1,1.0,,r1,z1\n"
                                     "c.large,,,4,16,0.2,,r1,z1\n",
                                 "odd");
  ASSERT_TRUE(catalog.ok()) << catalog.status().message();
  ASSERT_EQ(catalog->notes.size(), 1u);
  EXPECT_EQ(catalog->notes[0],
            "vms.csv:2: spot price 10.018760 exceeds on-demand 4.200760 per GPU-hour (H100 in "
            "z1); kept as listed");
  ASSERT_EQ(catalog->unmapped.size(), 1u);
  EXPECT_EQ(catalog->unmapped[0].name, "RTX4090");
  EXPECT_EQ(catalog->unmapped[0].rows, 2);
  EXPECT_EQ(catalog->unmapped[0].first_line, 3);
  EXPECT_EQ(catalog->offers.size(), 3u);  // unmapped offers stay listed
  EXPECT_EQ(catalog->fleet.pools.size(), 2u);
  EXPECT_EQ(catalog->cpu_only_rows, 1);

  // A caller who knows better adds the type and gets its pool.
  CatalogOptions options;
  ASSERT_TRUE(
      options.accelerators.AddAccelerator({"RTX4090", 24, Power::Watts(450), 150, Power()}).ok());
  catalog = Read(std::string(kAwsHeader) + "y.large,RTX4090,1,1,1,0.5,,r1,z1\n", "odd", options);
  ASSERT_TRUE(catalog.ok());
  EXPECT_TRUE(catalog->unmapped.empty());
  EXPECT_NE(FindPool(*catalog, "odd/r1/RTX4090/on-demand"), nullptr);
}

TEST(SkyPilotCatalogTest, BadRowsNameLineColumnAndValue) {
  std::string text = std::string(kAwsHeader) +
                     "p4d.24xlarge,A100,8.0,96.0,1152.0,$32.77,,us-east-1,use1-az1\n"
                     "p4d.24xlarge,A100,0,96.0,1152.0,32.77,,us-east-1,use1-az1\n"
                     "p4d.24xlarge,A100,8.0,96.0,1152.0,32.77,,,use1-az1\n"
                     ",,,96.0,1152.0,32.77,,us-east-1,use1-az1\n";
  Result<Catalog> catalog = Read(text);
  ASSERT_FALSE(catalog.ok());
  EXPECT_EQ(catalog.status().message(),
            "vms.csv:2: column 'Price': expected a non-negative decimal number up to 1000000 "
            "with at most 9 decimal places, found \"$32.77\"");
  CatalogOptions options;
  options.read.skip_bad_rows = true;
  catalog = Read(text, "test", options);
  ASSERT_TRUE(catalog.ok());
  EXPECT_EQ(catalog->stats.bad_rows, 4);
  EXPECT_EQ(catalog->stats.bad_row_messages[1],
            "vms.csv:3: column 'AcceleratorCount': expected a positive count for accelerator "
            "\"A100\", found \"0\"");
  EXPECT_EQ(catalog->stats.bad_row_messages[2],
            "vms.csv:4: column 'Region': expected a value, found an empty field");
  EXPECT_EQ(catalog->stats.bad_row_messages[3],
            "vms.csv:5: column 'InstanceType': expected an InstanceType, an AcceleratorName or "
            "both, found neither");
}

TEST(SkyPilotCatalogTest, RequiresAProviderId) {
  Result<Catalog> catalog = Read(kAwsHeader, "");
  ASSERT_FALSE(catalog.ok());
  EXPECT_EQ(catalog.status().code(), StatusCode::kInvalidArgument);
}

TEST(SkyPilotCatalogTest, FleetsFromTwoCatalogsShareOneWorld) {
  Result<Catalog> aws = Read(
      std::string(kAwsHeader) + "p4d.24xlarge,A100,8.0,96.0,1152.0,32.7726,,us-east-1,a\n", "aws");
  Result<Catalog> gcp =
      Read(std::string(kAwsHeader) + "a2,A100,8.0,96.0,1152.0,29.38708,,us-east-1,a\n", "gcp");
  ASSERT_TRUE(aws.ok() && gcp.ok());
  world::World world;
  world.accelerators = world::BuiltinAccelerators();
  ASSERT_TRUE(AddFleetToWorld(aws->fleet, world).ok());
  ASSERT_TRUE(AddFleetToWorld(gcp->fleet, world).ok());
  EXPECT_EQ(world.accelerators.size(), world::BuiltinAccelerators().size());
  EXPECT_EQ(world.providers.size(), 2u);
  world::PoolIndex p = world.FindPool("gcp/us-east-1/A100/on-demand");
  ASSERT_NE(p, world::kNone);
  EXPECT_EQ(world.accelerators[world.pools[p].accelerator].name, "A100");
  EXPECT_EQ(world.providers[world.pools[p].provider].id, "gcp");
  EXPECT_EQ(world.sites[world.pools[p].site].id, "gcp/us-east-1");
  EXPECT_EQ(world.PoolsOf(world.FindAccelerator("A100")).size(), 2u);
}

// --- The shipped catalogs (../shared/data/skypilot-catalog/v7) -----------------

TEST(SkyPilotSharedDataTest, GcpA2Highgpu8gInUsCentral1aCostsHostPlusGpus) {
  const std::string path = SharedData("skypilot-catalog/v7/gcp/vms.csv");
  POLYCLOUD_SKIP_WITHOUT_SHARED_DATA(path);
  CatalogOptions options;
  options.provider_id = "gcp";
  Result<Catalog> catalog = ReadSkyPilotCatalog(TraceInput::File(path), options);
  ASSERT_TRUE(catalog.ok()) << catalog.status().message();
  EXPECT_EQ(catalog->stats.records, 372);
  EXPECT_EQ(catalog->stats.bad_rows, 0);
  const CatalogOffer* a2 = nullptr;
  for (const CatalogOffer& offer : catalog->offers) {
    if (offer.instance_type == "a2-highgpu-8g" && offer.zone == "us-central1-a") a2 = &offer;
  }
  ASSERT_NE(a2, nullptr);
  // 5.91582 + 23.47126 = 29.38708 $/h for 8 GPUs.
  EXPECT_EQ(a2->on_demand_per_gpu_hour->micros() * 8, 29'387'080);
  EXPECT_EQ(catalog->offers.size(), 97u);  // paired accelerator rows
  EXPECT_EQ(catalog->cpu_only_rows, 154);  // host rows no accelerator row pairs with
  EXPECT_EQ(catalog->fleet.sites.size(), 20u);
  EXPECT_EQ(catalog->fleet.pools.size(), 68u);
  // In us-central1 the A100-80GB (a2-ultragpu-8g) is cheaper per GPU than the
  // 40 GB A100, and both are "A100" to the built-in table.
  const world::Pool* a100 = FindPool(*catalog, "gcp/us-central1/A100/on-demand");
  ASSERT_NE(a100, nullptr);
  EXPECT_EQ(a100->price_per_gpu_hour.micros(), 2'945'820);
  EXPECT_EQ(FindPool(*catalog, "gcp/us-central1/H100/on-demand")->price_per_gpu_hour.micros(),
            5'383'269);  // 43.06615 / 8 = 5.38326875, rounded
  int spot_above = 0, unpaired = 0;
  for (const std::string& note : catalog->notes) {
    spot_above += note.find("exceeds on-demand") != std::string::npos;
    unpaired += note.find("host row in the same zone") != std::string::npos;
  }
  EXPECT_EQ(spot_above, 2);
  EXPECT_EQ(unpaired, 24);
}

TEST(SkyPilotSharedDataTest, AwsSubsetHasSpotOnlyP5eAndCheapestPools) {
  const std::string path = SharedData("skypilot-catalog/v7/aws/vms.csv");
  POLYCLOUD_SKIP_WITHOUT_SHARED_DATA(path);
  CatalogOptions options;
  options.provider_id = "aws";
  Result<Catalog> catalog = ReadSkyPilotCatalog(TraceInput::File(path), options);
  ASSERT_TRUE(catalog.ok()) << catalog.status().message();
  EXPECT_EQ(catalog->offers.size(), 118u);
  int no_on_demand = 0;
  for (const CatalogOffer& offer : catalog->offers) no_on_demand += !offer.on_demand_per_gpu_hour;
  EXPECT_EQ(no_on_demand, 7);
  EXPECT_EQ(catalog->fleet.sites.size(), 15u);
  EXPECT_EQ(catalog->fleet.pools.size(), 74u);
  EXPECT_EQ(FindPool(*catalog, "aws/us-east-1/A100/on-demand")->price_per_gpu_hour.micros(),
            4'096'575);
  EXPECT_TRUE(catalog->unmapped.empty());
}

TEST(SkyPilotSharedDataTest, LambdaAndSimplePodCrlfCatalogs) {
  const std::string lambda = SharedData("skypilot-catalog/v7/lambda/vms.csv");
  POLYCLOUD_SKIP_WITHOUT_SHARED_DATA(lambda);
  CatalogOptions options;
  options.provider_id = "lambda";
  Result<Catalog> catalog = ReadSkyPilotCatalog(TraceInput::File(lambda), options);
  ASSERT_TRUE(catalog.ok()) << catalog.status().message();
  EXPECT_EQ(catalog->stats.records, 323);
  EXPECT_EQ(catalog->cpu_only_rows, 17);
  EXPECT_EQ(catalog->fleet.sites.size(), 17u);
  EXPECT_EQ(catalog->fleet.pools.size(), 68u);
  for (const world::Pool& pool : catalog->fleet.pools) {
    EXPECT_EQ(pool.pricing, world::PricingKind::kOnDemand) << pool.id;  // SpotPrice is empty
  }
  ASSERT_EQ(catalog->unmapped.size(), 2u);
  EXPECT_EQ(catalog->unmapped[0].name, "A6000");
  EXPECT_EQ(catalog->unmapped[0].rows, 51);
  EXPECT_EQ(catalog->unmapped[1].name, "RTX6000");

  const std::string simplepod = SharedData("skypilot-catalog/v7/simplepod/vms.csv");
  options.provider_id = "simplepod";
  catalog = ReadSkyPilotCatalog(TraceInput::File(simplepod), options);
  ASSERT_TRUE(catalog.ok()) << catalog.status().message();
  EXPECT_EQ(catalog->offers.size(), 52u);
  EXPECT_EQ(catalog->unmapped.size(), 9u);  // consumer RTX cards: no built-in type
  EXPECT_TRUE(catalog->fleet.pools.empty());
}

}  // namespace
}  // namespace polycloud::traces
