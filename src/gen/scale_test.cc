#include "polycloud/gen/scale.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <limits>
#include <set>
#include <string>

#include "polycloud/base/rng.h"
#include "polycloud/placement/pipeline.h"
#include "polycloud/sim/simulator.h"

namespace polycloud::gen {
namespace {

ScaleOptions Small() {
  ScaleOptions o;
  o.gpus = 20'000;
  o.providers = 4;
  o.sites = 12;
  o.pools = 200;
  o.jobs = 5'000;
  o.services = 2;
  o.days = 30;
  return o;
}

TEST(ScaleGeneratorTest, SameSeedGivesSameBytes) {
  EXPECT_EQ(GenerateScenarioYaml(Small()), GenerateScenarioYaml(Small()));
}

TEST(ScaleGeneratorTest, OtherSeedGivesOtherWorld) {
  ScaleOptions other = Small();
  other.seed = 2;
  EXPECT_NE(GenerateScenarioYaml(Small()), GenerateScenarioYaml(other));
}

TEST(ScaleGeneratorTest, WrittenYamlLoadsAndValidates) {
  std::vector<io::Diagnostic> diagnostics;
  auto s = io::LoadScenarioString(GenerateScenarioYaml(Small()), "generated.yaml", &diagnostics);
  for (const auto& d : diagnostics) ADD_FAILURE() << d.ToString();
  ASSERT_TRUE(s.ok()) << s.status().message();
}

TEST(ScaleGeneratorTest, SizesAreAsAsked) {
  const ScaleOptions o = Small();
  auto s = GenerateScenario(o);
  ASSERT_TRUE(s.ok()) << s.status().message();
  const world::World& w = s->world;
  EXPECT_EQ(w.providers.size(), 4u);
  EXPECT_EQ(w.sites.size(), 12u);
  EXPECT_EQ(w.pools.size(), 200u);
  EXPECT_EQ(w.jobs.size(), 5'000u);
  EXPECT_EQ(w.services.size(), 2u);
  EXPECT_EQ(w.end - w.start, Duration::Days(30));
  int64_t peak = 0, largest = 0;
  std::set<world::SiteIndex> sites;
  for (const world::Pool& p : w.pools) {
    peak += p.gpus.Max();
    largest = std::max(largest, p.gpus.Max());
    sites.insert(p.site);
    EXPECT_GE(p.gpus.Max(), p.gpus_per_node) << p.id;
  }
  EXPECT_EQ(peak, 20'000);
  EXPECT_EQ(sites.size(), 12u);  // every site has a pool
  // Heavy tails: the largest pool is far above the mean, and gangs range from
  // one GPU to hundreds.
  EXPECT_GT(largest, 10 * 20'000 / 200);
  int64_t min_gang = w.jobs[0].gpus, max_gang = 0;
  for (const world::Job& j : w.jobs) {
    min_gang = std::min(min_gang, j.gpus);
    max_gang = std::max(max_gang, j.gpus);
    EXPECT_GE(j.arrival, w.start);
    EXPECT_LT(j.arrival, w.end);
  }
  EXPECT_EQ(min_gang, 1);
  EXPECT_GE(max_gang, 256);
  EXPECT_LE(max_gang, largest);
}

TEST(ScaleGeneratorTest, HasContractsExclusivityRampsPowerLimitsAndFaults) {
  auto s = GenerateScenario(Small());
  ASSERT_TRUE(s.ok()) << s.status().message();
  const world::World& w = s->world;
  EXPECT_EQ(w.contracts.size(), 4u);
  EXPECT_FALSE(w.contracts[0].exclusivity.empty());
  int ramps = 0, reserved = 0;
  for (const world::Pool& p : w.pools) {
    ramps += p.gpus.points().size() > 1;
    reserved += p.contract != world::kNone;
  }
  EXPECT_GT(ramps, 0);
  EXPECT_GT(reserved, 0);
  int limited = 0;
  for (const world::Site& site : w.sites) limited += site.power_limited;
  EXPECT_EQ(limited, 4);  // every third site
  EXPECT_GE(w.faults.size(), 2u);
}

TEST(ScaleGeneratorTest, GeneratedWorldSimulates) {
  ScaleOptions o = Small();
  o.jobs = 500;
  o.days = 7;
  auto s = GenerateScenario(o);
  ASSERT_TRUE(s.ok()) << s.status().message();
  sim::Simulator sim(s->world, sim::Options{});
  sim::Audit audit(s->world);
  sim.AddObserver(&audit);
  sim::RunStats stats = sim.Run();
  EXPECT_GT(stats.events, 500);
  EXPECT_GT(audit.counts().job_finishes, 0);
  EXPECT_EQ(audit.counts().exclusivity_violations, 0);
}

// Reclaimable GPUs: a fixed share of what is used in every third pool.
class ThirdOfPoolsOracle final : public placement::PreemptionOracle {
 public:
  explicit ThirdOfPoolsOracle(const placement::FleetState& fleet) : fleet_(fleet) {}
  int64_t ReclaimableGpus(world::PoolIndex p, int32_t priority, int64_t) const override {
    return p % 3 == 0 && priority > 60 ? fleet_.pool(p).used / 2 : 0;
  }
  const std::vector<world::PoolIndex>* CandidatePools() const override {
    if (candidates_.empty()) {
      for (size_t p = 0; p < fleet_.world().pools.size(); p += 3) {
        candidates_.push_back(static_cast<world::PoolIndex>(p));
      }
    }
    return &candidates_;
  }

 private:
  const placement::FleetState& fleet_;
  mutable std::vector<world::PoolIndex> candidates_;
};

// The placer's fast path (the ranking of pool classes, inline filters)
// decides as the explained full scan over every pool does, over a generated
// fleet in many states of fill, with preemption, reservations, outages and
// power limits; with consolidation; and with a commitment ledger whose
// take-or-pay state moves pay-as-you-go pools' marginal cost.
struct FastPathCase {
  bool consolidate;
  bool ledger;
};

class PlacerAtScaleTest : public ::testing::TestWithParam<FastPathCase> {};

TEST_P(PlacerAtScaleTest, FastPathDecidesAsTheFullScan) {
  ScaleOptions o = Small();
  o.jobs = 2'000;
  auto s = GenerateScenario(o);
  ASSERT_TRUE(s.ok()) << s.status().message();
  world::World w = s->world;
  const Time now = w.start + Duration::Days(10);
  world::ContractIndex tracked = world::kNone;
  if (GetParam().ledger) {
    // Put every on-demand pool of a provider under its contract, made
    // take-or-pay for what a quarter of those pools would spend over the
    // term, and take its reserved pools out of it: as the rounds fill the
    // fleet the commitment goes from projected short to on track.
    auto under = std::find_if(w.pools.begin(), w.pools.end(),
                              [](const world::Pool& p) { return p.contract != world::kNone; });
    ASSERT_NE(under, w.pools.end());
    tracked = under->contract;
    world::Contract& c = w.contracts[tracked];
    const world::ProviderIndex provider = under->provider;
    int64_t micros_per_hour = 0;
    for (world::Pool& p : w.pools) {
      if (p.contract == tracked) p.contract = world::kNone;
      if (p.provider == provider && p.pricing == world::PricingKind::kOnDemand) {
        p.contract = tracked;
        micros_per_hour += p.gpus.At(now) * p.price_per_gpu_hour.micros();
      }
    }
    c.take_or_pay = true;
    c.discount_milli = 0;
    c.minimums.clear();
    c.committed_spend =
        Money::FromMicros(micros_per_hour / 4 * ((c.end - c.start).seconds() / 3600));
  }
  contracts::CommitmentLedger ledger(w, now);
  placement::FleetState fleet(w, now);
  if (GetParam().ledger) fleet.AttachLedger(&ledger, now);
  for (size_t p = 0; p < w.pools.size(); ++p) {
    fleet.SetInstalled(static_cast<world::PoolIndex>(p), w.pools[p].gpus.At(now), now);
  }
  fleet.AddOutage(3, 1, now);
  contracts::ExclusivityRules rules(w);
  placement::Placer placer(w, placement::PlacerOptions{GetParam().consolidate});
  ThirdOfPoolsOracle oracle(fleet);
  std::vector<int32_t> reserved(w.pools.size(), placement::kNoReservation);
  std::vector<int32_t> per_provider(w.providers.size(), 0);
  Rng rng(7);
  int placed = 0, blocked = 0, preempting = 0;
  std::array<int, 2> short_seen{};
  for (int round = 0; round < 3000; ++round) {
    // Fill the fleet a little more each round, and now and then free a pool.
    const auto p = static_cast<world::PoolIndex>(rng.Below(w.pools.size()));
    const int64_t room = fleet.pool(p).free();
    if (room > 0) fleet.Bind(p, 1 + static_cast<int64_t>(rng.Below(room)), now);
    if (rng.Below(10) == 0 && fleet.pool(p).used > 0) fleet.Release(p, fleet.pool(p).used, -1, now);
    if (rng.Below(50) == 0) reserved[rng.Below(w.pools.size())] = 150;
    const world::Job& job = w.jobs[rng.Below(w.jobs.size())];
    placement::Request req;
    req.kind = job.kind;
    req.id = job.id;
    req.workload_class = round % 7 == 0 ? std::string_view("stateless-api") : job.workload_class;
    req.gpus = job.gpus;
    req.accelerators = &job.accelerators;
    req.priority = job.priority;
    if (round % 5 == 0) {
      per_provider[rng.Below(per_provider.size())] += 1;
      req.replicas_per_provider = &per_provider;
      req.min_providers = 2;
    }
    placement::Context ctx{w, fleet, rules, now, round % 2 ? &oracle : nullptr, &reserved};
    if (GetParam().ledger) {
      ctx.ledger = &ledger;
      ctx.cost_model = round % 11 == 0 ? contracts::CostModel::kCheapestPrice
                                       : contracts::CostModel::kContractAware;
    }
    placement::Explanation e;
    const placement::Decision fast = placer.Place(ctx, req, nullptr);
    const placement::Decision full = placer.Place(ctx, req, &e);
    ASSERT_EQ(fast.pool, full.pool) << "round " << round;
    EXPECT_EQ(fast.alloc_gpus, full.alloc_gpus);
    EXPECT_EQ(fast.needs_preemption, full.needs_preemption);
    EXPECT_EQ(fast.total_score, full.total_score);
    EXPECT_EQ(fast.best_blocked, full.best_blocked);
    EXPECT_EQ(e.candidates.size(), w.pools.size());
    placed += fast.pool != world::kNone;
    blocked += fast.pool == world::kNone;
    preempting += fast.needs_preemption;
    if (GetParam().ledger) {
      ++short_seen[ledger.ProjectedShortfall(tracked, now) > Money() ? 1 : 0];
    }
  }
  // The rounds covered every outcome.
  EXPECT_GT(placed, 100);
  EXPECT_GT(blocked, 100);
  EXPECT_GT(preempting, 0);
  if (GetParam().ledger) {
    EXPECT_GT(short_seen[0], 10) << "the commitment was never on track";
    EXPECT_GT(short_seen[1], 10) << "the commitment was never short";
  }
}

INSTANTIATE_TEST_SUITE_P(Placer, PlacerAtScaleTest,
                         ::testing::Values(FastPathCase{false, false}, FastPathCase{true, false},
                                           FastPathCase{false, true}),
                         [](const auto& info) {
                           return std::string(info.param.consolidate ? "Consolidate"
                                              : info.param.ledger    ? "Ledger"
                                                                     : "Default");
                         });

TEST(ScaleGeneratorTest, RejectsOptionsThatCannotHoldTheFleet) {
  ScaleOptions o = Small();
  o.gpus = 100;  // fewer than a node per pool
  EXPECT_FALSE(ValidateOptions(o).ok());
  o = Small();
  o.sites = 2;  // fewer sites than providers
  EXPECT_FALSE(ValidateOptions(o).ok());
  EXPECT_FALSE(GenerateScenario(o).ok());
}

// `generate --gpus 9223372036854775807` aborted with length_error and
// `--pools 100000000` exhausted memory: both are now option errors.
TEST(ScaleGeneratorTest, RejectsSizesBeyondItsBoundsBeforeGenerating) {
  ScaleOptions o = Small();
  o.gpus = std::numeric_limits<int64_t>::max();
  EXPECT_NE(ValidateOptions(o).message().find("--gpus must be at most 100000000"),
            std::string::npos);
  o = Small();
  o.pools = 100'000'000;
  o.gpus = std::numeric_limits<int64_t>::max();
  EXPECT_NE(ValidateOptions(o).message().find("--pools must be between 1 and 50000"),
            std::string::npos);
  o = Small();
  o.jobs = 50'000'000;
  EXPECT_NE(ValidateOptions(o).message().find("--jobs must be between 0 and 10000000"),
            std::string::npos);
  o = Small();
  o.providers = 1'001;
  EXPECT_FALSE(ValidateOptions(o).ok());
}

}  // namespace
}  // namespace polycloud::gen
