#include "polycloud/placement/pipeline.h"

#include <gtest/gtest.h>

#include "two_providers_fixture.h"

namespace polycloud::placement {
namespace {

// A fake oracle: reclaimable GPUs per pool, for work below a priority.
class FakeOracle final : public PreemptionOracle {
 public:
  int64_t ReclaimableGpus(world::PoolIndex p, int32_t priority, int64_t) const override {
    return priority > below_ && p == pool_ ? gpus_ : 0;
  }
  world::PoolIndex pool_ = world::kNone;
  int64_t gpus_ = 0;
  int32_t below_ = 0;
};

using PipelineTest = TwoProvidersTest;

TEST_F(PipelineTest, AcceleratorFilterKeepsOnlyAllowedTypes) {
  auto f = MakeAcceleratorFilter();
  std::vector<world::AcceleratorIndex> only_gb200 = {world_.FindAccelerator("GB200")};
  Request r = Job(8);
  r.accelerators = &only_gb200;
  EXPECT_TRUE(f->Check(Ctx(), r, gb_).pass);
  Verdict v = f->Check(Ctx(), r, aws_);
  EXPECT_FALSE(v.pass);
  EXPECT_EQ(f->Describe(Ctx(), r, aws_, v), "H100 is not among the allowed types (GB200)");
  r.accelerators = nullptr;  // any type
  EXPECT_TRUE(f->Check(Ctx(), r, aws_).pass);
}

TEST_F(PipelineTest, FaultFilterRejectsPoolsUnderOutage) {
  auto f = MakeFaultFilter();
  EXPECT_TRUE(f->Check(Ctx(), Job(1), aws_).pass);
  fleet_.AddOutage(aws_, 1, Now());
  Verdict v = f->Check(Ctx(), Job(1), aws_);
  EXPECT_FALSE(v.pass);
  EXPECT_EQ(f->Describe(Ctx(), Job(1), aws_, v), "the pool is down (1 outage in force)");
}

TEST_F(PipelineTest, ContractFilterRejectsPoolsOutsideTheirContractTerm) {
  auto f = MakeContractFilter();
  EXPECT_TRUE(f->Check(Ctx(), Job(1), az_).pass);
  fleet_.SetContractInForce(az_, false, Now());
  Verdict v = f->Check(Ctx(), Job(1), az_);
  EXPECT_FALSE(v.pass);
  EXPECT_EQ(f->Describe(Ctx(), Job(1), az_, v),
            "contract azure-deal is not in force (term 2025-01-01 to 2030-01-01)");
  EXPECT_EQ(fleet_.pool(az_).capacity, 0);
}

TEST_F(PipelineTest, FabricFilterRejectsGangsLargerThanTheFabric) {
  auto f = MakeFabricFilter();
  EXPECT_TRUE(f->Check(Ctx(), Job(16), gb_).pass);
  Verdict v = f->Check(Ctx(), Job(17), gb_);
  EXPECT_FALSE(v.pass);
  EXPECT_FALSE(v.resource);  // preemption cannot help
  EXPECT_EQ(f->Describe(Ctx(), Job(17), gb_, v),
            "a gang of 17 GPUs exceeds the fabric's largest gang of 16 GPUs");
  // Without max_gang the pool's own size is the limit.
  EXPECT_TRUE(f->Check(Ctx(), Job(64), aws_).pass);
  EXPECT_FALSE(f->Check(Ctx(), Job(65), aws_).pass);
}

TEST_F(PipelineTest, ExclusivityFilterKeepsExclusiveClassAtItsHolder) {
  auto f = MakeExclusivityFilter();
  EXPECT_TRUE(f->Check(Ctx(), Job(8, "stateless-api"), az_).pass);
  Verdict v = f->Check(Ctx(), Job(8, "stateless-api"), aws_);
  EXPECT_FALSE(v.pass);
  EXPECT_EQ(f->Describe(Ctx(), Job(8, "stateless-api"), aws_, v),
            "stateless-api is exclusive to azure until 2030-01-01 (contract azure-deal)");
  EXPECT_TRUE(f->Check(Ctx(), Job(8, "research"), aws_).pass);
}

TEST_F(PipelineTest, ProviderSpreadFilterForcesPresenceAtAnotherProvider) {
  auto f = MakeProviderSpreadFilter();
  std::vector<int32_t> per_provider = {3, 0};  // three replicas at azure, none at aws
  Request r = Job(8, "chat");
  r.replicas_per_provider = &per_provider;
  r.min_providers = 2;
  EXPECT_FALSE(f->Check(Ctx(), r, az_).pass);
  EXPECT_TRUE(f->Check(Ctx(), r, aws_).pass);
  per_provider = {3, 1};  // present at both: anywhere goes
  EXPECT_TRUE(f->Check(Ctx(), r, az_).pass);
}

TEST_F(PipelineTest, ReservationFilterKeepsLowerPriorityWorkOutOfAHeldPool) {
  auto f = MakeReservationFilter();
  std::vector<int32_t> held(world_.pools.size(), kNoReservation);
  held[aws_] = 500;
  Context ctx = Ctx();
  ctx.reserved_for_priority = &held;
  Request low = Job(8);  // priority 100
  Verdict v = f->Check(ctx, low, aws_);
  EXPECT_FALSE(v.pass);
  EXPECT_FALSE(v.resource);  // no preempting into a held pool either
  EXPECT_EQ(f->Describe(ctx, low, aws_, v),
            "held for a waiting job of priority 500 (this one has 100)");
  EXPECT_TRUE(f->Check(ctx, low, az_).pass);
  Request high = Job(8);
  high.priority = 500;
  EXPECT_TRUE(f->Check(ctx, high, aws_).pass);
  EXPECT_TRUE(f->Check(Ctx(), low, aws_).pass);  // no holds at all (fifo)
}

TEST_F(PipelineTest, PlacerNamesTheBestPoolToWaitFor) {
  fleet_.Bind(az_, 60, Now());
  fleet_.Bind(aws_, 40, Now());
  Placer placer(world_);
  Decision d = placer.Place(Ctx(), Job(32), nullptr);
  EXPECT_EQ(d.pool, world::kNone);
  EXPECT_EQ(d.best_blocked, aws_);  // 24 free beats 4; gb200's fabric is too small
}

TEST_F(PipelineTest, CapacityFilterCountsWholeNodesForLargeGangs) {
  auto f = MakeCapacityFilter();
  fleet_.Bind(gb_, 26, Now());                     // 6 of 32 GPUs left, nodes of 4
  EXPECT_TRUE(f->Check(Ctx(), Job(3), gb_).pass);  // a small job shares a node
  Verdict v = f->Check(Ctx(), Job(5), gb_);        // 5 GPUs take two nodes = 8
  EXPECT_FALSE(v.pass);
  EXPECT_TRUE(v.resource);
  EXPECT_EQ(f->Describe(Ctx(), Job(5), gb_, v), "needs 8 GPUs, 6 free of 32 usable");
}

TEST_F(PipelineTest, PowerFilterRejectsWhenTheSiteHasNoHeadroom) {
  auto f = MakePowerFilter();
  // aws-east has 0.1 MW at PUE 1.0, which runs everything installed at board
  // power; installed GPUs idle at 64 × 175 W + 32 × 300 W = 20.8 kW.
  EXPECT_TRUE(f->Check(Ctx(), Job(64), aws_).pass);
  fleet_.Bind(gb_, 32, Now());   // 32 GB200 add 32 × (1200 − 300) W = 28.8 kW
  fleet_.Bind(aws_, 32, Now());  // 32 H100 add 32 × (700 − 175) W = 16.8 kW: 66.4 kW
  // A power cut to 90 kW: 23.6 kW left, and 64 more H100 would add 33.6 kW.
  fleet_.SetSitePower(world_.FindSite("aws-east"), Power::Watts(90'000));
  Verdict v = f->Check(Ctx(), Job(64), aws_);
  EXPECT_FALSE(v.pass);
  EXPECT_TRUE(v.resource);
  EXPECT_EQ(f->Describe(Ctx(), Job(64), aws_, v),
            "needs 0.034 MW at site aws-east, headroom 0.024 MW of 0.090 MW");
  EXPECT_TRUE(f->Check(Ctx(), Job(40), aws_).pass);  // 21 kW fits
  // A site without a power limit never rejects.
  EXPECT_TRUE(f->Check(Ctx(), Job(64), az_).pass);
}

TEST_F(PipelineTest, MarginalCostScorerPricesReservedAtZeroAndTakeOrPayBelowList) {
  auto s = MakeMarginalCostScorer(world_);
  EXPECT_TRUE(s->lower_is_better());
  EXPECT_EQ(s->Raw(Ctx(), Job(8), az_), 0);  // reserved: prepaid
  EXPECT_EQ(s->Raw(Ctx(), Job(8), aws_), 10'000'000);
  // GB200 at $12/h and 2.5× the speed: $4.80 per reference GPU-hour.
  EXPECT_EQ(s->Raw(Ctx(), Job(8), gb_), 4'800'000);
  world_.pools[aws_].contract = world_.FindContract("azure-deal");  // pretend: under take-or-pay
  // Without a ledger a take-or-pay pool is taken to be short: a hundredth of its price.
  EXPECT_EQ(MarginalPricePerGpuHour(world_, aws_).micros(), 100'000);
}

TEST_F(PipelineTest, SpeedFragmentationAndDiversityScorersMeasureWhatTheySay) {
  EXPECT_EQ(MakeSpeedScorer(world_)->Raw(Ctx(), Job(8), gb_), 2500);
  fleet_.Bind(aws_, 40, Now());
  EXPECT_EQ(MakeFragmentationScorer(world_)->Raw(Ctx(), Job(8), aws_), 16);  // 24 free - 8
  std::vector<int32_t> per_provider = {5, 2};
  Request r = Job(8);
  r.replicas_per_provider = &per_provider;
  EXPECT_EQ(MakeProviderDiversityScorer()->Raw(Ctx(), r, az_), 5);
  EXPECT_EQ(MakeProviderDiversityScorer()->Raw(Ctx(), r, aws_), 2);
}

TEST_F(PipelineTest, PlacerPrefersCommittedCapacityBeforeOnDemand) {
  Placer placer(world_);
  Decision d = placer.Place(Ctx(), Job(8), nullptr);
  EXPECT_EQ(d.pool, az_);
  EXPECT_EQ(d.alloc_gpus, 8);
  EXPECT_FALSE(d.needs_preemption);
}

TEST_F(PipelineTest, PlacerFallsBackToOnDemandWhenCommittedIsFull) {
  fleet_.Bind(az_, 60, Now());
  Placer placer(world_);
  Decision d = placer.Place(Ctx(), Job(8), nullptr);
  EXPECT_EQ(d.pool, gb_);  // cheaper per reference GPU-hour than on-demand H100
}

TEST_F(PipelineTest, PlacerPlacesAGangWholeOrNotAtAll) {
  fleet_.Bind(az_, 40, Now());
  fleet_.Bind(aws_, 40, Now());
  Placer placer(world_);
  // 48 GPUs are free across pools but no single fabric has 48.
  Decision d = placer.Place(Ctx(), Job(48), nullptr);
  EXPECT_EQ(d.pool, world::kNone);
  EXPECT_EQ(d.best_blocked, az_);  // 24 free, the most of any pool
}

TEST_F(PipelineTest, PlacerUsesPreemptionOnlyWhenNothingFitsOutright) {
  fleet_.Bind(az_, 64, Now());
  fleet_.Bind(aws_, 64, Now());
  fleet_.Bind(gb_, 32, Now());
  FakeOracle oracle;
  oracle.pool_ = aws_;
  oracle.gpus_ = 16;
  Placer placer(world_);
  Decision d = placer.Place(Ctx(&oracle), Job(8), nullptr);
  EXPECT_EQ(d.pool, aws_);
  EXPECT_TRUE(d.needs_preemption);
  // Work of equal or higher priority is never preempted.
  oracle.below_ = 100;
  EXPECT_EQ(placer.Place(Ctx(&oracle), Job(8), nullptr).pool, world::kNone);
}

TEST_F(PipelineTest, ExplanationRecordsEveryPoolVerdictAndScores) {
  Placer placer(world_);
  Explanation e;
  Request r = Job(32, "stateless-api");
  Decision d = placer.Place(Ctx(), r, &e);
  ASSERT_EQ(e.candidates.size(), world_.pools.size());
  EXPECT_EQ(d.pool, az_);
  EXPECT_EQ(e.chosen, az_);
  EXPECT_EQ(e.candidates[az_].rejected_by, nullptr);
  EXPECT_EQ(e.candidates[az_].normalized[0], kFullScore);  // reserved: $0, the cheapest possible
  EXPECT_STREQ(e.candidates[aws_].rejected_by, "exclusivity");
  EXPECT_STREQ(e.candidates[gb_].rejected_by, "fabric");  // cheap filters first: 32 > 16
  ASSERT_EQ(e.scorer_names.size(), 4u);
  EXPECT_EQ(e.scorer_names[0], "marginal-cost");
}

TEST_F(PipelineTest, ExplainedAndFastPathsDecideAlike) {
  Placer placer(world_);
  std::vector<world::AcceleratorIndex> h100 = {world_.FindAccelerator("H100")};
  for (int64_t gpus : {1, 8, 16, 40, 64, 65}) {
    Request r = Job(gpus);
    r.accelerators = &h100;
    Explanation e;
    EXPECT_EQ(placer.Place(Ctx(), r, nullptr).pool, placer.Place(Ctx(), r, &e).pool) << gpus;
  }
}

// Issue 15: a pay-as-you-go pool burning a take-or-pay commitment costs a
// hundredth of its price at the margin; with a nearly full pool it used to
// outscore an idle reserved pool of the same type on fragmentation alone.
const char* kPrepaidAndPaid = R"(
name: prepaid-and-paid
start: 2026-01-01
end: 2026-02-01
providers:
  - {id: azure}
  - {id: aws}
contracts:
  - {id: azure-deal, provider: azure, start: 2025-01-01, end: 2030-01-01, committed_usd: 1B, take_or_pay: true}
sites:
  - {id: az-east, provider: azure}
  - {id: aws-east, provider: aws}
pools:
  - {id: az-reserved, site: az-east, accelerator: H100, pricing: reserved, gpus: 1000, price_per_gpu_hour: 2.00, contract: azure-deal}
  - {id: az-payg, site: az-east, accelerator: H100, pricing: on-demand, gpus: 16, price_per_gpu_hour: 10.00, contract: azure-deal}
  - {id: aws-spot, site: aws-east, accelerator: H100, pricing: spot, gpus: 8, price_per_gpu_hour: 0.01}
)";

class PrepaidFirstTest : public ::testing::Test {
 protected:
  PrepaidFirstTest()
      : world_(polycloud::testing::LoadWorld(kPrepaidAndPaid)),
        fleet_(world_, Now()),
        rules_(world_) {
    for (size_t p = 0; p < world_.pools.size(); ++p) {
      fleet_.SetInstalled(static_cast<world::PoolIndex>(p), world_.pools[p].gpus.At(Now()), Now());
    }
  }
  static Time Now() { return polycloud::testing::T("2026-01-10"); }
  Context Ctx() const { return Context{world_, fleet_, rules_, Now()}; }
  // One replica of 8 GPUs of a service with `per_provider` replicas now.
  Request Replica(const std::vector<int32_t>* per_provider) const {
    Request r;
    r.kind = world::WorkloadKind::kService;
    r.id = "chat";
    r.workload_class = "consumer";
    r.gpus = 8;
    r.priority = 100;
    r.replicas_per_provider = per_provider;
    r.find_best_blocked = false;
    return r;
  }
  // The pool chosen, checked to be the same on the fast and explained paths.
  world::PoolIndex Choose(const Request& r) {
    Placer placer(world_);
    Explanation e;
    const world::PoolIndex explained = placer.Place(Ctx(), r, &e).pool;
    EXPECT_EQ(placer.Place(Ctx(), r, nullptr).pool, explained);
    return explained;
  }
  world::World world_;
  FleetState fleet_;
  contracts::ExclusivityRules rules_;
};

TEST_F(PrepaidFirstTest, IdleReservedPoolBeatsCommitmentBurningPayAsYouGoThatFitsBetter) {
  // az-payg leaves 8 GPUs free (a better fit), az-reserved 992: the reserved
  // pool still wins, since it costs nothing more to use.
  const std::vector<int32_t> per_provider = {0, 0};
  EXPECT_EQ(Choose(Replica(&per_provider)), world_.FindPool("az-reserved"));
  Request job;
  job.id = "j";
  job.workload_class = "batch";
  job.gpus = 8;
  EXPECT_EQ(Choose(job), world_.FindPool("az-reserved"));
}

TEST_F(PrepaidFirstTest, IdleReservedPoolBeatsNearlyFreeSpotAtALessUsedProvider) {
  // Diversity (20) and fragmentation (5) both favour aws-spot at $0.01: the
  // prepaid pool's lead on cost outweighs them together.
  const std::vector<int32_t> per_provider = {40, 0};
  EXPECT_EQ(Choose(Replica(&per_provider)), world_.FindPool("az-reserved"));
}

TEST_F(PrepaidFirstTest, PaidPoolsStillRankByCostAmongThemselves) {
  fleet_.Bind(world_.FindPool("az-reserved"), 1000, Now());  // prepaid full
  const std::vector<int32_t> per_provider = {0, 0};
  EXPECT_EQ(Choose(Replica(&per_provider)), world_.FindPool("aws-spot"));
  Placer placer(world_);
  Explanation e;
  placer.Place(Ctx(), Replica(&per_provider), &e);
  EXPECT_EQ(e.candidates[world_.FindPool("az-reserved")].rejected_by, std::string_view("capacity"));
  EXPECT_LE(e.candidates[world_.FindPool("aws-spot")].normalized[0], kPaidCostCeiling);
  EXPECT_LT(e.candidates[world_.FindPool("az-payg")].normalized[0],
            e.candidates[world_.FindPool("aws-spot")].normalized[0]);
}

}  // namespace
}  // namespace polycloud::placement
