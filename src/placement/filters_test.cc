// The built-in filters' and scorers' predicates (filters.h), each on its own:
// the verdict and the numbers its reason is made of. The Filter classes' text
// is tested in pipeline_test.cc.
#include "filters.h"

#include <gtest/gtest.h>

#include <vector>

#include "two_providers_fixture.h"

namespace polycloud::placement {
namespace {

class PredicateTest : public TwoProvidersTest {
 protected:
  static void ExpectFail(const Verdict& v, int64_t a, int64_t b, bool resource) {
    EXPECT_FALSE(v.pass);
    EXPECT_EQ(v.resource, resource);
    EXPECT_EQ(v.a, a);
    EXPECT_EQ(v.b, b);
  }
};

using AcceleratorPredicateTest = PredicateTest;
using FaultPredicateTest = PredicateTest;
using ContractPredicateTest = PredicateTest;
using FabricPredicateTest = PredicateTest;
using ExclusivityPredicateTest = PredicateTest;
using ProviderSpreadPredicateTest = PredicateTest;
using ReservationPredicateTest = PredicateTest;
using CapacityPredicateTest = PredicateTest;
using PowerPredicateTest = PredicateTest;
using ScorerMeasureTest = PredicateTest;
using PlacerAdmitsTest = PredicateTest;

TEST_F(AcceleratorPredicateTest, RejectsAPoolOfATypeNotAllowedNamingThePoolsType) {
  const std::vector<world::AcceleratorIndex> only_gb200 = {world_.FindAccelerator("GB200")};
  Request r = Job(8);
  r.accelerators = &only_gb200;
  EXPECT_TRUE(CheckAccelerator(Ctx(), r, gb_).pass);
  ExpectFail(CheckAccelerator(Ctx(), r, aws_), world_.FindAccelerator("H100"), 0, false);
}

TEST_F(AcceleratorPredicateTest, AllowsEveryTypeWithoutAListOrWithAnEmptyOne) {
  Request r = Job(8);
  EXPECT_TRUE(CheckAccelerator(Ctx(), r, aws_).pass);
  const std::vector<world::AcceleratorIndex> none;
  r.accelerators = &none;
  EXPECT_TRUE(CheckAccelerator(Ctx(), r, aws_).pass);
  EXPECT_TRUE(AllowsAccelerator(r, world_.FindAccelerator("GB200")));
}

TEST_F(FaultPredicateTest, RejectsAPoolUnderOutageWithTheNumberOfOutagesInForce) {
  EXPECT_TRUE(CheckFault(Ctx(), Job(1), aws_).pass);
  fleet_.AddOutage(aws_, 2, Now());
  ExpectFail(CheckFault(Ctx(), Job(1), aws_), 2, 0, false);
  fleet_.AddOutage(aws_, -2, Now());
  EXPECT_TRUE(CheckFault(Ctx(), Job(1), aws_).pass);
}

TEST_F(ContractPredicateTest, RejectsAPoolOutsideItsContractTermAndPreemptionCannotHelp) {
  EXPECT_TRUE(CheckContract(Ctx(), Job(1), az_).pass);
  fleet_.SetContractInForce(az_, false, Now());
  ExpectFail(CheckContract(Ctx(), Job(1), az_), 0, 0, false);
}

TEST_F(FabricPredicateTest, RejectsAGangLargerThanTheFabricWithGangAndLimit) {
  EXPECT_TRUE(CheckFabric(Ctx(), Job(16), gb_).pass);
  ExpectFail(CheckFabric(Ctx(), Job(17), gb_), 17, 16, false);
}

TEST_F(ExclusivityPredicateTest, RejectsAnExclusiveClassAwayFromItsHolderNamingTheClause) {
  EXPECT_TRUE(CheckExclusivity(Ctx(), Job(8, "stateless-api"), az_).pass);
  ExpectFail(CheckExclusivity(Ctx(), Job(8, "stateless-api"), aws_),
             world_.FindContract("azure-deal"), 0, false);
  EXPECT_TRUE(CheckExclusivity(Ctx(), Job(8, "research"), aws_).pass);
}

TEST_F(ProviderSpreadPredicateTest, RejectsAProviderTheServiceIsAtUntilItIsAtEnoughProviders) {
  std::vector<int32_t> per_provider = {3, 0};  // azure, aws
  Request r = Job(8, "chat");
  r.replicas_per_provider = &per_provider;
  r.min_providers = 2;
  ExpectFail(CheckProviderSpread(Ctx(), r, az_), 1, 2, false);
  EXPECT_TRUE(CheckProviderSpread(Ctx(), r, aws_).pass);
  per_provider = {3, 1};
  EXPECT_TRUE(CheckProviderSpread(Ctx(), r, az_).pass);
  per_provider = {3, 0};
  r.min_providers = 1;  // no spread asked
  EXPECT_TRUE(CheckProviderSpread(Ctx(), r, az_).pass);
}

TEST_F(ReservationPredicateTest, RejectsLowerPriorityWorkInAHeldPoolAndAdmitsEqualPriority) {
  std::vector<int32_t> held(world_.pools.size(), kNoReservation);
  held[aws_] = 500;
  Context ctx = Ctx();
  ctx.reserved_for_priority = &held;
  ExpectFail(CheckReservation(ctx, Job(8), aws_), 500, 100, false);
  EXPECT_TRUE(CheckReservation(ctx, Job(8), az_).pass);
  Request equal = Job(8);
  equal.priority = 500;
  EXPECT_TRUE(CheckReservation(ctx, equal, aws_).pass);
  EXPECT_TRUE(CheckReservation(Ctx(), Job(8), aws_).pass);  // no holds at all
}

TEST_F(CapacityPredicateTest, RejectsAPoolWithFewerFreeGpusThanTheGangNeedsAfterNodeRounding) {
  fleet_.Bind(gb_, 26, Now());                                // 6 of 32 free, nodes of 4
  EXPECT_TRUE(CheckCapacity(Ctx(), Job(4), gb_).pass);        // one node's worth
  ExpectFail(CheckCapacity(Ctx(), Job(5), gb_), 8, 6, true);  // two whole nodes
  ExpectFail(CheckCapacity(Ctx(), Job(6), gb_), 8, 6, true);  // 6 free, still two nodes
}

TEST_F(PowerPredicateTest, RejectsAnAllocationAboveTheSitesHeadroomInWatts) {
  // Installed and idle: 64 H100 × 175 W + 32 GB200 × 300 W = 20.8 kW.
  fleet_.Bind(gb_, 32, Now());   // board power adds 32 × 900 W = 28.8 kW
  fleet_.Bind(aws_, 32, Now());  // 32 × 525 W = 16.8 kW: 66.4 kW drawn
  // A power cut to 90 kW leaves 23.6 kW; an allocation adds board − idle.
  fleet_.SetSitePower(world_.FindSite("aws-east"), Power::Watts(90'000));
  ExpectFail(CheckPower(Ctx(), Job(48), aws_), 25'200, 23'600, true);
  EXPECT_TRUE(CheckPower(Ctx(), Job(40), aws_).pass);  // 21 kW fits
  EXPECT_TRUE(CheckPower(Ctx(), Job(64), az_).pass);   // a site without a limit
}

TEST_F(ScorerMeasureTest, MarginalCostIsPricePerReferenceGpuHourZeroForReserved) {
  EXPECT_EQ(MarginalCostRaw(Ctx(), Job(8), az_), 0);
  EXPECT_EQ(MarginalCostRaw(Ctx(), Job(8), aws_), 10'000'000);
  EXPECT_EQ(MarginalCostRaw(Ctx(), Job(8), gb_), 4'800'000);  // $12 at 2.5× speed
}

TEST_F(ScorerMeasureTest, SpeedIsThePoolsAcceleratorSpeed) {
  EXPECT_EQ(SpeedRaw(Ctx(), Job(8), aws_), 1000);
  EXPECT_EQ(SpeedRaw(Ctx(), Job(8), gb_), 2500);
}

TEST_F(ScorerMeasureTest, DiversityCountsTheServicesReplicasAtThePoolsProvider) {
  EXPECT_EQ(DiversityRaw(Ctx(), Job(8), aws_), 0);  // a job
  const std::vector<int32_t> per_provider = {5, 2};
  Request r = Job(8);
  r.replicas_per_provider = &per_provider;
  EXPECT_EQ(DiversityRaw(Ctx(), r, az_), 5);
  EXPECT_EQ(DiversityRaw(Ctx(), r, aws_), 2);
}

TEST_F(ScorerMeasureTest, FragmentationIsGpusLeftFreeAfterNodeRoundingNeverBelowZero) {
  fleet_.Bind(gb_, 20, Now());                          // 12 free, nodes of 4
  EXPECT_EQ(FragmentationRaw(Ctx(), Job(5), gb_), 4);   // takes 8
  EXPECT_EQ(FragmentationRaw(Ctx(), Job(3), gb_), 9);   // shares a node
  EXPECT_EQ(FragmentationRaw(Ctx(), Job(16), gb_), 0);  // does not fit
}

TEST_F(ScorerMeasureTest, ConsolidationCountsTheNodesTheGangSpans) {
  EXPECT_EQ(ConsolidationRaw(Ctx(), Job(5), gb_), 2);   // nodes of 4
  EXPECT_EQ(ConsolidationRaw(Ctx(), Job(5), aws_), 1);  // nodes of 8
  EXPECT_EQ(ConsolidationRaw(Ctx(), Job(17), aws_), 3);
}

TEST_F(PlacerAdmitsTest, AdmitsAPoolExactlyWhenEveryFilterPasses) {
  Placer placer(world_);
  auto every_filter_passes = [&](const Request& r, world::PoolIndex p) {
    for (const auto& f : placer.filters()) {
      if (!f->Check(Ctx(), r, p).pass) return false;
    }
    return true;
  };
  fleet_.Bind(gb_, 26, Now());
  for (const Request& r : {Job(4), Job(5), Job(17), Job(8, "stateless-api"), Job(64)}) {
    for (world::PoolIndex p : {az_, aws_, gb_}) {
      EXPECT_EQ(placer.Admits(Ctx(), r, p), every_filter_passes(r, p))
          << r.workload_class << " " << r.gpus << " GPUs at " << world_.pools[p].id;
    }
  }
  // Per-provider verdicts are one request's: a refusal at aws does not carry
  // over to the next request there.
  EXPECT_FALSE(placer.Admits(Ctx(), Job(8, "stateless-api"), aws_));
  EXPECT_TRUE(placer.Admits(Ctx(), Job(8, "research"), aws_));
}

}  // namespace
}  // namespace polycloud::placement
