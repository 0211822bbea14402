// The procurement planner end to end on the simulator: unmet demand raises a
// capacity request, a right of first refusal sends it to the holder first, and
// the market gets it only after a decline or an expired window. Each test
// pins one rule at its boundary.
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "polycloud/sim/simulator.h"
#include "tests/testing/scenario_fixture.h"

namespace polycloud::sim {
namespace {

using scheduler::CapacityRequest;
using testing::LoadWorld;
using testing::T;

// One 8-GPU Azure pool and a 64-GPU job that cannot fit: after two days
// unmet (reviewed daily) the planner asks for 64 GPUs. Azure holds an ROFR
// until ROFR_UNTIL with a 10-day window and answers after ANSWER; its offer
// arrives in AZ_LEAD at $2.50; AWS offers the same GPUs at $3.00 in 10 days.
std::string Scenario(const std::string& answer, const std::string& az_lead,
                     const std::string& rofr_until = "2025-03-01",
                     const std::string& arrival = "2025-01-01",
                     const std::string& extra_contract = "") {
  return R"(
name: rofr
start: 2025-01-01
end: 2025-09-01
providers: [{id: azure}, {id: aws}]
contracts:
  - id: msft
    provider: azure
    start: 2024-01-01
    end: 2030-01-01
    rofr:
      - {until: )" +
         rofr_until + R"(, response_window: 10d}
)" + extra_contract +
         R"(
sites:
  - {id: az, provider: azure}
  - {id: us, provider: aws}
pools:
  - {id: az-h100, site: az, accelerator: H100, pricing: reserved, gpus: 8, price_per_gpu_hour: 2, contract: msft}
jobs:
  - {id: big, class: research, gpus: 64, work_gpu_hours: 640, arrival: )" +
         arrival + R"(}
procurement:
  review_every: 1d
  unmet_after: 2d
  term: 90d
  answers: [{provider: azure, after: )" +
         answer + R"(}]
  offers:
    - {id: az-offer, site: az, accelerator: H100, price_per_gpu_hour: 2.50, lead_time: )" +
         az_lead + R"(, max_gpus: 1024}
    - {id: aws-offer, site: us, accelerator: H100, price_per_gpu_hour: 3.00, lead_time: 10d, max_gpus: 1024}
)";
}

struct Outcome {
  world::World world;
  std::vector<CapacityRequest> requests;
  std::string events;
  scheduler::JobState big;
};

Outcome Simulate(const std::string& yaml) {
  Outcome run;
  run.world = LoadWorld(yaml);
  if (run.world.pools.empty()) return run;
  Simulator sim(run.world, Options{});
  std::ostringstream events;
  EventLogWriter log(sim.scheduler(), run.world, events);
  sim.AddObserver(&log);
  sim.Run();
  run.requests = sim.scheduler().requests();
  run.events = events.str();
  run.big = sim.scheduler().jobs()[run.world.FindJob("big")];
  return run;
}

TEST(ProcurementTest, AnAnswerAtTheInstantTheWindowClosesIsTooLate) {
  Outcome run = Simulate(Scenario("10d", "10d"));
  ASSERT_FALSE(run.requests.empty());
  const CapacityRequest& r = run.requests[0];
  EXPECT_EQ(r.raised, T("2025-01-03"));
  EXPECT_EQ(r.gpus, 64);
  EXPECT_EQ(run.world.contracts[r.rofr_contract].id, "msft");
  EXPECT_EQ(r.window_closes, T("2025-01-13"));
  EXPECT_EQ(r.answered, Time::Min());  // the answer would come as the window closes: none
  EXPECT_EQ(r.answer, CapacityRequest::Answer::kExpired);
  // The market, without the holder: AWS, arriving ten days later.
  EXPECT_FALSE(r.via_rofr);
  EXPECT_EQ(run.world.pools[r.pool].id, "aws-offer");
  EXPECT_EQ(r.awarded, T("2025-01-13"));
  EXPECT_EQ(r.arrives, T("2025-01-23"));
  EXPECT_NE(run.events.find("2025-01-13T00:00:00Z rofr-expired req-1 contract=msft"),
            std::string::npos)
      << run.events;
}

TEST(ProcurementTest, AnAnswerOneSecondBeforeTheWindowClosesCounts) {
  Outcome run = Simulate(Scenario("863999s", "10d"));  // 10 days less one second
  ASSERT_FALSE(run.requests.empty());
  const CapacityRequest& r = run.requests[0];
  EXPECT_EQ(r.answer, CapacityRequest::Answer::kMatched);
  EXPECT_TRUE(r.via_rofr);
  EXPECT_EQ(run.world.pools[r.pool].id, "az-offer");
  EXPECT_EQ(r.awarded, T("2025-01-12T23:59:59Z"));
  EXPECT_EQ(r.arrives, T("2025-01-22T23:59:59Z"));
  EXPECT_EQ(r.price_per_gpu_hour.micros(), 2'500'000);
  // The job starts on the procured capacity when it arrives.
  EXPECT_EQ(r.status, CapacityRequest::Status::kEnded);  // 90-day term ended in the run
  EXPECT_EQ(run.big.first_start, T("2025-01-22T23:59:59Z"));
  EXPECT_EQ(run.world.pools[run.big.last_pool].id, "az-offer");
}

TEST(ProcurementTest, TheHolderDeclinesWhenItCannotMatchTheMarketsLeadTime) {
  Outcome run = Simulate(Scenario("1d", "20d"));
  ASSERT_FALSE(run.requests.empty());
  const CapacityRequest& r = run.requests[0];
  EXPECT_EQ(r.answer, CapacityRequest::Answer::kDeclined);
  EXPECT_EQ(r.decline_reason, "offer az-offer arrives in 20d00h00m, the market's in 10d00h00m");
  EXPECT_EQ(run.world.pools[r.pool].id, "aws-offer");
  EXPECT_EQ(r.awarded, T("2025-01-04"));  // straight after the answer
  EXPECT_NE(run.events.find("rofr-declined req-1 contract=msft reason=\"offer az-offer arrives"),
            std::string::npos)
      << run.events;
}

TEST(ProcurementTest, AfterTheRofrEndsARequestGoesStraightToTheCheapestOffer) {
  // The ROFR ends the instant the request is raised: it no longer holds.
  Outcome run = Simulate(Scenario("1d", "20d", "2025-03-03", "2025-03-01"));
  ASSERT_FALSE(run.requests.empty());
  const CapacityRequest& r = run.requests[0];
  EXPECT_EQ(r.raised, T("2025-03-03"));
  EXPECT_EQ(r.rofr_contract, world::kNone);
  EXPECT_EQ(r.answer, CapacityRequest::Answer::kNone);
  EXPECT_FALSE(r.via_rofr);
  EXPECT_EQ(run.world.pools[r.pool].id, "az-offer");  // $2.50 beats $3.00 on the market
  EXPECT_EQ(r.awarded, T("2025-03-03"));
  EXPECT_EQ(run.events.find("rofr-offered"), std::string::npos);
}

TEST(ProcurementTest, ExclusivityKeepsMarketOffersAwayFromExcludedProviders) {
  // All work is Azure's until June: AWS's offer is infeasible, and the holder
  // declines on lead time, so there is nowhere to buy.
  const std::string exclusive = R"(
    exclusivity:
      - {class: "*", until: 2025-06-01}
)";
  std::string yaml = Scenario("1d", "20d");
  yaml.replace(yaml.find("    rofr:"), 0, exclusive.substr(1));
  Outcome run = Simulate(yaml);
  ASSERT_FALSE(run.requests.empty());
  const CapacityRequest& r = run.requests[0];
  EXPECT_EQ(r.market_offer, -1);  // no terms to match: the holder may answer on its own terms
  EXPECT_EQ(r.answer, CapacityRequest::Answer::kMatched);
  EXPECT_EQ(run.world.pools[r.pool].id, "az-offer");
}

TEST(ProcurementTest, ProcuredCapacityBillsEveryHourHeldAtTheAwardedPrice) {
  Outcome run = Simulate(Scenario("863999s", "10d"));
  ASSERT_FALSE(run.requests.empty());
  world::World& w = run.world;
  Simulator sim(w, Options{});
  sim.Run();
  const CapacityRequest& r = sim.scheduler().requests()[0];
  // 64 GPUs × 90 days × $2.50.
  EXPECT_EQ(sim.scheduler().ledger().AwardSpend(r.account).micros(),
            int64_t{64} * 90 * 24 * 2'500'000);
  EXPECT_EQ(sim.scheduler().ledger().PoolSpend(w.FindPool("az-offer")).micros(),
            int64_t{64} * 90 * 24 * 2'500'000);
}

TEST(ProcurementTest, TheSameScenarioGivesTheSameEventsByteForByte) {
  EXPECT_EQ(Simulate(Scenario("1d", "20d")).events, Simulate(Scenario("1d", "20d")).events);
}

}  // namespace
}  // namespace polycloud::sim

namespace polycloud::sim {
namespace {

TEST(ProcurementTest, YearlyMinimumsFollowContractYearsAndALeapDay) {
  world::World w = LoadWorld(R"(
name: years
start: 2024-01-01
end: 2024-02-01
providers: [{id: a}]
contracts:
  - {id: c, provider: a, start: 2024-02-29T06:00:00Z, end: 2026-06-01, committed_usd: 9M, take_or_pay: true, yearly_minimum: 3M}
sites: [{id: s, provider: a}]
pools: []
procurement:
  offers:
    - {id: o, site: s, accelerator: H100, price_per_gpu_hour: 2, lead_time: 1d, max_gpus: 64}
)");
  ASSERT_EQ(w.contracts.size(), 1u);
  const auto& m = w.contracts[0].minimums;
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0].from, T("2024-02-29T06:00:00Z"));
  EXPECT_EQ(m[0].until, T("2025-02-28T06:00:00Z"));  // no 29 February in 2025
  EXPECT_EQ(m[1].until, T("2026-02-28T06:00:00Z"));
  EXPECT_EQ(m[2].until, T("2026-06-01"));  // the last year is cut at the end
  EXPECT_EQ(m[2].spend.micros(), 3'000'000'000'000);
  // The offer became an empty reserved pool that can hold a gang of max_gpus.
  const world::PoolIndex p = w.FindPool("o");
  ASSERT_NE(p, world::kNone);
  EXPECT_EQ(w.pools[p].offer, 0);
  EXPECT_EQ(w.pools[p].gpus.Max(), 0);
  EXPECT_EQ(world::EffectiveMaxGang(w.pools[p]), 64);
}

TEST(ProcurementTest, TheSeedsTimelineOffersToAzureFirstOnlyDuringTheRofr) {
  auto loaded = io::LoadScenarioFile(std::string(POLYCLOUD_SOURCE_DIR) +
                                     "/examples/openai-2025-timeline.yaml");
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  const world::World& w = loaded->world;
  Simulator sim(w, Options{});
  sim.Run();
  const auto& requests = sim.scheduler().requests();
  const world::ProviderIndex azure = w.FindProvider("azure");
  int during = 0, after = 0, before = 0;
  for (const CapacityRequest& r : requests) {
    if (r.raised < T("2025-01-21")) {
      // All work is Azure's: no ROFR yet, and only Azure can supply it.
      ++before;
      EXPECT_EQ(r.rofr_contract, world::kNone);
      EXPECT_EQ(w.pools[r.pool].provider, azure);
    } else if (r.raised < T("2025-10-28")) {
      ++during;
      EXPECT_EQ(r.holder, azure);
      EXPECT_NE(r.answer, CapacityRequest::Answer::kNone);
    } else {
      ++after;
      EXPECT_EQ(r.rofr_contract, world::kNone);
      EXPECT_EQ(r.answer, CapacityRequest::Answer::kNone);
    }
  }
  EXPECT_GT(before, 0);
  EXPECT_GT(during, 0);
  EXPECT_GT(after, 0);
  bool declined = false;
  for (const CapacityRequest& r : requests) {
    declined |= r.answer == CapacityRequest::Answer::kDeclined && w.pools[r.pool].provider != azure;
  }
  EXPECT_TRUE(declined) << "a request Azure declined went to another provider";
}

// One 8-GPU pool, a 64-GPU job, and one offer (3-day lead time) at a site
// whose power grows at BUILD MW a week and is limited to LIMIT MW. 64 H100 at
// PUE 1.0 need 44.8 kW at full board power.
std::string PowerScenario(const std::string& build, const std::string& limit) {
  return R"(
name: build
start: 2025-01-01
end: 2025-06-01
providers: [{id: cloud}]
sites:
  - {id: home, provider: cloud}
  - {id: new, provider: cloud, build_rate_mw_per_week: )" +
         build + R"(, power_mw: )" + limit + R"(}
pools:
  - {id: home-h100, site: home, accelerator: H100, pricing: reserved, gpus: 8, price_per_gpu_hour: 2}
jobs:
  - {id: big, class: research, gpus: 64, work_gpu_hours: 640, arrival: 2025-01-01}
procurement:
  review_every: 1d
  unmet_after: 2d
  term: 90d
  offers:
    - {id: new-offer, site: new, accelerator: H100, price_per_gpu_hour: 3.00, lead_time: 3d, max_gpus: 1024}
)";
}

TEST(ProcurementTest, AnAwardArrivesNoFasterThanItsSiteCanBuildItsPower) {
  // 44.8 kW at 22.4 kW a week: two weeks of building, longer than the lead time.
  Outcome run = Simulate(PowerScenario("0.0224", "1"));
  ASSERT_FALSE(run.requests.empty());
  const CapacityRequest& r = run.requests[0];
  EXPECT_EQ(r.awarded, T("2025-01-03"));
  EXPECT_EQ(r.awarded_gpus, 64);
  EXPECT_EQ(r.arrives, T("2025-01-17"));
  EXPECT_EQ(r.ends, T("2025-01-17") + Duration::Days(90));
  // Built fast enough, the lead time decides.
  Outcome quick = Simulate(PowerScenario("1", "1"));
  ASSERT_FALSE(quick.requests.empty());
  EXPECT_EQ(quick.requests[0].arrives, T("2025-01-06"));
}

TEST(ProcurementTest, AnOfferAtASiteWithoutPowerForTheGangIsNotFeasible) {
  // 40 kW holds 57 H100 at full board power: not the 64-GPU gang.
  Outcome run = Simulate(PowerScenario("1", "0.04"));
  ASSERT_FALSE(run.requests.empty());
  EXPECT_EQ(run.requests[0].status, CapacityRequest::Status::kUnavailable);
  EXPECT_EQ(run.requests[0].awarded_gpus, 0);
}

}  // namespace
}  // namespace polycloud::sim
