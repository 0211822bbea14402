#include "polycloud/report/contracts_view.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "polycloud/sim/simulator.h"
#include "tests/testing/scenario_fixture.h"

namespace polycloud::report {
namespace {

using scheduler::CapacityRequest;
using testing::LoadWorld;
using testing::T;

// Azure under a take-or-pay deal with two minimums (one due mid-March, one at
// the turn of May to June) and a right of first refusal; AWS under a
// discount-only deal with none; GCP under no contract. Three 8-GPU jobs keep
// every pool busy, and a 64-GPU job that fits nowhere makes the planner raise
// a capacity request, offered to Azure first.
constexpr const char* kWorld = R"(
name: ledger-over-time
start: 2025-01-01
end: 2025-09-01
seed: 7
providers: [{id: azure}, {id: aws}, {id: gcp}]
contracts:
  - id: deal
    provider: azure
    start: 2025-01-01
    end: 2026-01-01
    committed_usd: 1M
    take_or_pay: true
    discount_percent: 10
    minimums:
      - {by: 2025-03-15, spend: 100K}
      - {by: 2025-06-01, spend: 20K}
    rofr:
      - {until: 2025-10-28, response_window: 30d}
  - id: aws-deal
    provider: aws
    start: 2025-02-01
    end: 2025-12-01
    committed_usd: 50K
    take_or_pay: false
sites:
  - {id: az-east, provider: azure}
  - {id: aws-east, provider: aws}
  - {id: gcp-east, provider: gcp}
pools:
  - {id: az-h100, site: az-east, accelerator: H100, pricing: on-demand, gpus: 8, price_per_gpu_hour: 2.000001, contract: deal}
  - {id: aws-h100, site: aws-east, accelerator: H100, pricing: on-demand, gpus: 8, price_per_gpu_hour: 3.00, contract: aws-deal}
  - {id: aws-a100, site: aws-east, accelerator: A100, pricing: on-demand, gpus: 8, price_per_gpu_hour: 3.333333, contract: aws-deal}
  - {id: gcp-h100, site: gcp-east, accelerator: H100, pricing: on-demand, gpus: 8, price_per_gpu_hour: 3.333333}
jobs:
  - {id: a, class: research, gpus: 8, work_gpu_hours: 20000, arrival: 2025-01-01T00:00:05Z}
  - {id: b, class: research, gpus: 8, work_gpu_hours: 20000, arrival: 2025-01-01T00:00:07Z}
  - {id: c, class: research, gpus: 8, work_gpu_hours: 12345, arrival: 2025-02-01T03:17:11Z}
  - {id: d, class: research, gpus: 8, accelerators: [A100], work_gpu_hours: 80.001, arrival: 2025-05-01T22:59:59Z}
  - {id: big, class: training, gpus: 64, work_gpu_hours: 640, arrival: 2025-01-01}
procurement:
  review_every: 1d
  unmet_after: 2d
  term: 60d
  answers: [{provider: azure, after: 5d}]
  offers:
    - {id: az-offer, site: az-east, accelerator: H100, price_per_gpu_hour: 2.5, lead_time: 10d, max_gpus: 4096}
    - {id: aws-offer, site: aws-east, accelerator: H100, price_per_gpu_hour: 3.0, lead_time: 10d, max_gpus: 4096}
)";

class ContractsViewTest : public ::testing::Test {
 protected:
  ContractsView Build(Period by) {
    sim::Simulator sim(world_, sim::Options{});
    const sim::RunStats stats = sim.Run();
    ContractsView v = BuildContractsView(world_, sim.scheduler(), stats, "priority", by);
    requests_ = sim.scheduler().requests();
    const contracts::CommitmentLedger& ledger = sim.scheduler().ledger();
    for (size_t c = 0; c < world_.contracts.size(); ++c) {
      const auto k = static_cast<world::ContractIndex>(c);
      contract_spend_.push_back(ledger.ContractSpend(k));
      settled_.push_back(ledger.Settle(k, stats.end));
      Money rounded_alone;
      for (int64_t d = 0; d < ledger.days(); ++d) rounded_alone += ledger.ContractDay(k, d);
      drifts_ |= rounded_alone != ledger.ContractSpend(k);
    }
    gcp_pool_spend_ = ledger.PoolSpend(world_.FindPool("gcp-h100"));

    return v;
  }
  static std::string Json(const ContractsView& v) {
    std::ostringstream out;
    WriteJson(v, out);
    return out.str();
  }

  world::World world_ = LoadWorld(kWorld);
  std::vector<CapacityRequest> requests_;
  std::vector<Money> contract_spend_;
  std::vector<contracts::ContractLedgerRow> settled_;
  Money gcp_pool_spend_;
  bool drifts_ = false;  // some contract's days, each rounded alone, miss its spend
};

Money SumOf(const std::vector<PeriodRow>& periods) {
  Money sum;
  for (const PeriodRow& p : periods) sum += p.spend;
  return sum;
}

TEST_F(ContractsViewTest, PeriodsAndDaysAddUpToTheContractSpendExactly) {
  for (Period by : {Period::kMonth, Period::kWeek, Period::kDay}) {
    const ContractsView v = Build(by);
    // Prices and seconds that are not a whole number of micro-dollars a day:
    // days rounded one by one would not add up.
    EXPECT_TRUE(drifts_);
    ASSERT_EQ(v.contracts.size(), 2u);
    for (size_t c = 0; c < v.contracts.size(); ++c) {
      const ContractTimeline& t = v.contracts[c];
      EXPECT_GT(t.contract.spent, Money::FromDollars(1000)) << t.contract.id;
      EXPECT_EQ(t.contract.spent.micros(), contract_spend_[c].micros()) << t.contract.id;
      EXPECT_EQ(SumOf(t.periods).micros(), t.contract.spent.micros())
          << t.contract.id << " by " << PeriodName(by);
      ASSERT_FALSE(t.periods.empty());
      EXPECT_EQ(t.periods.back().cumulative.micros(), t.contract.spent.micros());
      Money days;
      for (const DaySpend& d : t.days) days += d.spend;
      EXPECT_EQ(days.micros(), t.contract.spent.micros());
    }
    // gcp, and azure for the capacity procured outside the deal; never aws.
    const UncontractedTimeline* gcp = nullptr;
    for (const UncontractedTimeline& u : v.uncontracted) {
      EXPECT_NE(u.provider, "aws");
      EXPECT_EQ(SumOf(u.periods), u.spent) << u.provider;
      if (u.provider == "gcp") gcp = &u;
    }
    ASSERT_NE(gcp, nullptr);
    EXPECT_GT(gcp->spent, Money());
    EXPECT_EQ(gcp->spent, gcp_pool_spend_);
  }
}

TEST_F(ContractsViewTest, MonthsAreCalendarMonthsAndTheContractShowsFromItsStart) {
  const ContractsView v = Build(Period::kMonth);
  const ContractTimeline& deal = v.contracts[0];
  ASSERT_EQ(deal.periods.size(), 8u);  // January to August
  EXPECT_EQ(deal.periods[0].label, "2025-01");
  EXPECT_EQ(deal.periods[1].from, T("2025-02-01"));
  EXPECT_EQ(deal.periods[7].label, "2025-08");
  EXPECT_EQ(deal.periods[7].until, T("2025-09-01"));
  // aws-deal starts on 1 February: January is not shown.
  const ContractTimeline& aws = v.contracts[1];
  ASSERT_FALSE(aws.periods.empty());
  EXPECT_EQ(aws.periods[0].label, "2025-02");
  EXPECT_EQ(aws.days.front().date, T("2025-02-01"));
}

TEST_F(ContractsViewTest, WeeksRunMondayToSunday) {
  const ContractsView v = Build(Period::kWeek);
  const ContractTimeline& deal = v.contracts[0];
  ASSERT_GE(deal.periods.size(), 3u);
  EXPECT_EQ(deal.periods[0].label, "2025-01-01");  // a Wednesday: the run starts mid-week
  EXPECT_EQ(deal.periods[0].until, T("2025-01-06"));
  EXPECT_EQ(deal.periods[1].label, "2025-01-06");  // Monday
  EXPECT_EQ(deal.periods[1].until, T("2025-01-13"));
}

TEST_F(ContractsViewTest, AMinimumShowsInThePeriodItFallsDueWithTheLedgersShortfall) {
  const ContractsView v = Build(Period::kMonth);
  const ContractTimeline& deal = v.contracts[0];
  ASSERT_EQ(deal.contract.obligations.size(), 3u);  // two minimums and the term
  auto period_of = [&](int32_t obligation) -> std::string {
    for (const PeriodRow& p : deal.periods) {
      for (int32_t k : p.obligations_due) {
        if (k == obligation) return p.label;
      }
    }
    return "none";
  };
  // Due mid-March: in March. Due at midnight on 1 June: measured at the end
  // of May, so in May. The term ends after the run: in no period.
  EXPECT_EQ(period_of(0), "2025-03");
  EXPECT_EQ(period_of(1), "2025-05");
  EXPECT_EQ(period_of(2), "none");
  for (size_t k = 0; k < 3; ++k) {
    const contracts::ObligationRow& shown = deal.contract.obligations[k];
    const contracts::ObligationRow& ledger = settled_[0].obligations[k];
    EXPECT_EQ(shown.until, ledger.until);
    EXPECT_EQ(shown.spent, ledger.spent);
    EXPECT_EQ(shown.shortfall, ledger.shortfall);
  }
  // 8 GPUs at $1.80 for 73 days is at most $25,228: $100K is missed by more than $74K.
  EXPECT_GT(deal.contract.obligations[0].shortfall, Money::FromDollars(74'000));
  EXPECT_TRUE(deal.contract.obligations[0].due_in_run);

  std::ostringstream text;
  WriteText(v, text);
  EXPECT_NE(text.str().find("minimum 2025-03-15"), std::string::npos) << text.str();
  EXPECT_NE(text.str().find("missed"), std::string::npos) << text.str();
}

TEST_F(ContractsViewTest, RofrOffersAppearUnderTheirContractInThePeriodRaised) {
  const ContractsView v = Build(Period::kMonth);
  ASSERT_FALSE(requests_.empty());
  const ContractTimeline& deal = v.contracts[0];
  int32_t under_deal = 0;
  for (const CapacityRequest& q : requests_) under_deal += q.rofr_contract == 0;
  ASSERT_GT(under_deal, 0);
  ASSERT_EQ(static_cast<int32_t>(deal.offers.size()), under_deal);
  EXPECT_TRUE(v.contracts[1].offers.empty());  // aws-deal has no ROFR clause
  const RequestRow& first = deal.offers[0];
  EXPECT_EQ(first.id, "req-1");
  EXPECT_EQ(first.holder, "azure");
  EXPECT_EQ(first.raised, requests_[0].raised);
  EXPECT_FALSE(first.answer.empty());
  ASSERT_FALSE(deal.periods[0].offers.empty());  // raised in January
  EXPECT_EQ(deal.periods[0].offers[0], 0);
  int32_t listed = 0;
  for (const PeriodRow& p : deal.periods) listed += static_cast<int32_t>(p.offers.size());
  EXPECT_EQ(listed, under_deal);

  std::ostringstream text;
  WriteText(v, text);
  EXPECT_NE(text.str().find("req-1 " + first.answer), std::string::npos) << text.str();
}

TEST_F(ContractsViewTest, JsonParsesAndIsByteIdenticalAcrossRuns) {
  const std::string first = Json(Build(Period::kMonth));
  const std::string second = Json(Build(Period::kMonth));
  EXPECT_EQ(first, second);
  const nlohmann::json j = nlohmann::json::parse(first);
  EXPECT_EQ(j["schema"], "polycloud.contracts/1");
  EXPECT_EQ(j["by"], "month");
  ASSERT_EQ(j["contracts"].size(), 2u);
  const nlohmann::json& deal = j["contracts"][0];
  EXPECT_EQ(deal["id"], "deal");
  EXPECT_EQ(deal["commitment"], "take-or-pay");
  int64_t days = 0, periods = 0;
  for (const auto& d : deal["days"]) days += d["spend"]["micros"].get<int64_t>();
  for (const auto& p : deal["periods"]) periods += p["spend"]["micros"].get<int64_t>();
  EXPECT_EQ(days, contract_spend_[0].micros());
  EXPECT_EQ(periods, contract_spend_[0].micros());
  EXPECT_EQ(deal["days"][0]["date"], "2025-01-01");
  EXPECT_EQ(deal["days"].size(), 243u);  // 1 January to 31 August
  EXPECT_EQ(deal["obligations"][0]["due"], "2025-03-15T00:00:00Z");
  EXPECT_EQ(deal["periods"][2]["obligations_due"], nlohmann::json::array({0}));
  EXPECT_EQ(deal["offers"][0]["id"], "req-1");
  EXPECT_EQ(deal["offers"][0]["rofr"]["holder"], "azure");
  bool gcp = false;
  for (const auto& u : j["no_contract"]) {
    if (u["provider"] != "gcp") continue;
    gcp = true;
    EXPECT_EQ(u["spent"]["micros"].get<int64_t>(), gcp_pool_spend_.micros());
    EXPECT_EQ(u["days"].size(), 243u);
  }
  EXPECT_TRUE(gcp);
}

TEST(ParsePeriodTest, UnknownPeriodIsAUsageError) {
  const Result<Period> bad = ParsePeriod("fortnight");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(ExitCodeFor(bad.status()), kExitUsage);
  EXPECT_NE(bad.status().message().find("day, week or month"), std::string::npos);
  for (Period p : {Period::kDay, Period::kWeek, Period::kMonth}) {
    const Result<Period> parsed = ParsePeriod(PeriodName(p));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, p);
  }
}

}  // namespace
}  // namespace polycloud::report
