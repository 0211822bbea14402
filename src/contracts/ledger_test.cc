#include "polycloud/contracts/ledger.h"

#include <gtest/gtest.h>

#include "polycloud/placement/fleet_state.h"
#include "tests/testing/scenario_fixture.h"

namespace polycloud::contracts {
namespace {

using testing::LoadWorld;
using testing::T;

// $3.60 per GPU-hour is exactly 1,000 µ$ per GPU-second, so every figure below
// is a whole number of micro-dollars and the boundaries are exact.
constexpr const char* kLedgerWorld = R"(
name: ledger
start: 2026-01-01
end: 2027-06-01
providers:
  - {id: cloud}
  - {id: other}
contracts:
  - id: deal
    provider: cloud
    start: 2026-01-01
    end: 2028-01-01
    committed_usd: 1M
    take_or_pay: true
    minimums:
      - {by: 2026-01-02, spend: 86.4}
      - {by: 2027-01-01, spend: 1000}
  - id: soft
    provider: other
    start: 2026-01-01
    end: 2027-01-01
    committed_usd: 500
    discount_percent: 25
sites:
  - {id: s1, provider: cloud}
  - {id: s2, provider: other}
pools:
  - {id: od, site: s1, accelerator: H100, pricing: on-demand, gpus: 64, price_per_gpu_hour: 3.60, contract: deal}
  - {id: res, site: s1, accelerator: H100, pricing: reserved, gpus: 8, price_per_gpu_hour: 3.60}
  - {id: disc, site: s2, accelerator: H100, pricing: on-demand, gpus: 8, price_per_gpu_hour: 4.80, contract: soft}
)";

class LedgerTest : public ::testing::Test {
 protected:
  world::World world_ = LoadWorld(kLedgerWorld);
  world::PoolIndex od_ = world_.FindPool("od");
  world::PoolIndex res_ = world_.FindPool("res");
  world::PoolIndex disc_ = world_.FindPool("disc");
  world::ContractIndex deal_ = world_.FindContract("deal");
  world::ContractIndex soft_ = world_.FindContract("soft");
};

TEST_F(LedgerTest, FirstMinimumMissedByOneMicroDollar) {
  CommitmentLedger ledger(world_, world_.start);
  // One GPU for the whole first day minus one second: 86,399 s × 1,000 µ$.
  ledger.SetBillable(od_, 1, T("2026-01-01"));
  ledger.SetBillable(od_, 0, T("2026-01-01T23:59:59Z"));
  ledger.Close(T("2026-01-03"));
  const ContractLedgerRow row = ledger.Settle(deal_, T("2026-01-03"));
  ASSERT_EQ(row.obligations.size(), 3u);  // two minimums and the term
  const ObligationRow& first = row.obligations[0];
  EXPECT_TRUE(first.due_in_run);
  EXPECT_EQ(first.spent.micros(), 86'399'000);
  EXPECT_EQ(first.required.micros(), 86'400'000);
  EXPECT_EQ(first.shortfall.micros(), 1'000);  // 1 s short = 1,000 µ$
  EXPECT_EQ(row.shortfall_due.micros(), 1'000);
}

TEST_F(LedgerTest, ExternalSpendCountsTowardTheMinimumsByDayAndIsProjectedAtTheLastWeeksMean) {
  CommitmentLedger ledger(world_, world_.start);
  // GPUs: the first day minus one second, one micro-dollar a GPU-millisecond
  // short of the first minimum by 1,000 µ$.
  ledger.SetBillable(od_, 1, T("2026-01-01"));
  ledger.SetBillable(od_, 0, T("2026-01-01T23:59:59Z"));
  ledger.Close(T("2026-01-03"));
  ExternalSpend gateway;
  const int64_t jan1 = T("2026-01-01").unix_seconds() / 86'400;
  gateway.by_day[jan1] = Money::FromMicros(1'000);       // closes the first gap exactly
  gateway.by_day[jan1 + 1] = Money::FromMicros(28'000);  // $0.028 on Jan 2
  gateway.by_day[jan1 + 2] = Money::FromMicros(5'000);   // the reading's own day: not yet
  const ContractLedgerRow plain = ledger.Settle(deal_, T("2026-01-03"));
  const ContractLedgerRow row = ledger.Settle(deal_, T("2026-01-03"), &gateway);
  EXPECT_EQ(row.spent, plain.spent);  // the ledger's own spend is unchanged
  EXPECT_EQ(row.external_spent.micros(), 29'000);
  // 29,000 µ$ over the last 28 days: 29,000 / 28 a day to the term's end
  // (2028-01-01, 728 days after 2026-01-03): 754,000 µ$.
  EXPECT_EQ(row.external_projected_after.micros(), 754'000);
  const ObligationRow& first = row.obligations[0];
  EXPECT_EQ(first.spent.micros(), 86'400'000);
  EXPECT_EQ(first.shortfall.micros(), 0);
  EXPECT_EQ(row.shortfall_due.micros(), 0);
  // The second minimum (to 2027-01-01, 363 days after the reading) gains the
  // Jan 2 spend and 363 days at the mean: 28,000 + 29,000 × 363 / 28.
  const ObligationRow& second = row.obligations[1];
  EXPECT_EQ(second.projected.micros() - plain.obligations[1].projected.micros(),
            28'000 + 29'000 * 363 / 28 + (29'000 * 363 % 28 * 2 >= 28 ? 1 : 0));
  EXPECT_EQ(plain.shortfall_projected - row.shortfall_projected,
            (plain.obligations[1].shortfall - second.shortfall) +
                (plain.obligations[2].shortfall - row.obligations[2].shortfall));
}

TEST_F(LedgerTest, MinimumMetExactlyHasNoShortfallAndOneMicroLessMisses) {
  world::World w = world_;
  // Exactly the minimum, then a minimum one micro-dollar higher.
  for (int64_t extra : {0, 1}) {
    w.contracts[deal_].minimums[0].spend = Money::FromMicros(86'400'000 + extra);
    CommitmentLedger ledger(w, w.start);
    ledger.SetBillable(od_, 1, T("2026-01-01"));
    ledger.SetBillable(od_, 0, T("2026-01-02"));
    ledger.Close(T("2026-01-03"));
    const ObligationRow first = ledger.Settle(deal_, T("2026-01-03")).obligations[0];
    EXPECT_EQ(first.spent.micros(), 86'400'000);
    EXPECT_EQ(first.shortfall.micros(), extra) << "minimum " << first.required.micros();
  }
}

TEST_F(LedgerTest, SpendSplitsAtMidnightAndIntoPeriods) {
  CommitmentLedger ledger(world_, world_.start);
  // 2 GPUs from 23:00 on day 0 to 01:00 on day 1, across the first minimum's due date.
  ledger.SetBillable(od_, 2, T("2026-01-01T23:00:00Z"));
  ledger.SetBillable(od_, 0, T("2026-01-02T01:00:00Z"));
  ledger.Close(T("2026-01-03"));
  EXPECT_EQ(ledger.ContractDay(deal_, 0).micros(), 2 * 3600 * 1000);
  EXPECT_EQ(ledger.ContractDay(deal_, 1).micros(), 2 * 3600 * 1000);
  EXPECT_EQ(ledger.PoolSpend(od_).micros(), 4 * 3600 * 1000);
  const ContractLedgerRow row = ledger.Settle(deal_, T("2026-01-03"));
  EXPECT_EQ(row.obligations[0].spent.micros(), 2 * 3600 * 1000);
  EXPECT_EQ(row.obligations[1].spent.micros(), 2 * 3600 * 1000);
  EXPECT_EQ(row.spent.micros(), 4 * 3600 * 1000);
}

TEST_F(LedgerTest, OpenMinimumIsProjectedAtTheLastWeeksMean) {
  CommitmentLedger ledger(world_, world_.start);
  // 1 GPU billed from 2026-06-01 on; the run ends 2026-07-01: the last 28
  // days' mean is that GPU, as is the rate at the end.
  ledger.SetBillable(od_, 1, T("2026-06-01"));
  ledger.Close(T("2026-07-01"));
  const ContractLedgerRow row = ledger.Settle(deal_, T("2026-07-01"));
  const ObligationRow& second = row.obligations[1];
  EXPECT_FALSE(second.due_in_run);
  const int64_t run_secs = (T("2026-07-01") - T("2026-06-01")).seconds();
  const int64_t rest_secs = (T("2027-01-01") - T("2026-07-01")).seconds();
  EXPECT_EQ(second.spent.micros(), run_secs * 1000);
  EXPECT_EQ(second.projected.micros(), (run_secs + rest_secs) * 1000);
  EXPECT_EQ(second.shortfall, Money());  // ~$18.4K projected against $1,000
  EXPECT_EQ(row.rate_per_day.micros(), 86'400'000);
  // The first minimum (day one) was missed entirely: $86.40 paid; the term's
  // shortfall counts it as paid toward the $1M.
  EXPECT_EQ(row.shortfall_due.micros(), 86'400'000);
  const ObligationRow& term = row.obligations[2];
  EXPECT_TRUE(term.term);
  const int64_t to_term_end = (T("2028-01-01") - T("2026-07-01")).seconds();
  EXPECT_EQ(term.projected.micros(), (run_secs + to_term_end) * 1000);
  EXPECT_EQ(term.shortfall.micros(),
            1'000'000'000'000 - (run_secs + to_term_end) * 1000 - 86'400'000);
  EXPECT_EQ(row.shortfall_projected, term.shortfall);
}

TEST_F(LedgerTest, DiscountOnlyShortfallIsReportedNotPaid) {
  CommitmentLedger ledger(world_, world_.start);
  EXPECT_EQ(ledger.EffectivePrice(disc_).micros(), 3'600'000);  // $4.80 less 25%
  ledger.SetBillable(disc_, 1, T("2026-01-01"));
  ledger.SetBillable(disc_, 0, T("2026-01-01T01:00:00Z"));
  ledger.Close(T("2027-01-02"));
  const ContractLedgerRow row = ledger.Settle(soft_, T("2027-01-02"));
  EXPECT_EQ(row.spent.micros(), 3'600'000);
  EXPECT_EQ(row.shortfall_due, Money());
  EXPECT_EQ(row.shortfall_projected, Money());
  EXPECT_EQ(row.shortfall_not_payable.micros(), 500'000'000 - 3'600'000);
}

TEST_F(LedgerTest, MarginalPriceFollowsTheProjection) {
  CommitmentLedger ledger(world_, world_.start);
  const Time t = T("2026-03-01");
  // Nothing billed: the $1M commitment is projected short, so the deal's
  // on-demand pool is nearly free; reserved capacity is prepaid.
  EXPECT_GT(ledger.ProjectedShortfall(deal_, t), Money());
  EXPECT_EQ(ledger.MarginalPricePerGpuHour(od_, t, CostModel::kContractAware).micros(), 36'000);
  EXPECT_EQ(ledger.MarginalPricePerGpuHour(res_, t, CostModel::kContractAware), Money());
  // The baseline pays list price and ignores discounts.
  EXPECT_EQ(ledger.MarginalPricePerGpuHour(od_, t, CostModel::kCheapestPrice).micros(), 3'600'000);
  EXPECT_EQ(ledger.MarginalPricePerGpuHour(disc_, t, CostModel::kCheapestPrice).micros(),
            4'800'000);
  EXPECT_EQ(ledger.MarginalPricePerGpuHour(disc_, t, CostModel::kContractAware).micros(),
            3'600'000);
  // Enough GPUs billed to meet $1M by 2028 and every minimum: full price.
  ledger.SetBillable(od_, 64, t);
  EXPECT_EQ(ledger.ProjectedShortfall(deal_, t), Money());
  EXPECT_EQ(ledger.MarginalPricePerGpuHour(od_, t, CostModel::kContractAware).micros(), 3'600'000);
}

TEST_F(LedgerTest, FleetStateBillsUseForOnDemandAndInstalledForReserved) {
  CommitmentLedger ledger(world_, world_.start);
  placement::FleetState fleet(world_, world_.start);
  fleet.AttachLedger(&ledger, world_.start);
  for (world::PoolIndex p : {od_, res_, disc_}) fleet.SetInstalled(p, 8, world_.start);
  fleet.Bind(od_, 2, world_.start);
  fleet.Release(od_, 2, -1, world_.start + Duration::Hours(1));
  ledger.Close(world_.start + Duration::Hours(2));
  EXPECT_EQ(ledger.PoolSpend(od_).micros(), 2 * 3'600'000);    // 2 GPU-hours used
  EXPECT_EQ(ledger.PoolSpend(res_).micros(), 16 * 3'600'000);  // 8 GPUs × 2 h installed
  EXPECT_EQ(ledger.PoolSpend(disc_), Money());                 // nothing used
  EXPECT_EQ(ledger.ProviderDay(world_.FindProvider("cloud"), 0).micros(), 16 * 3'600'000);
}

TEST_F(LedgerTest, DaysAddUpToTheSpendWhereDaysRoundedAloneDrift) {
  world::World w = world_;
  // 1 µ$ per GPU-hour: half an hour of one GPU is half a micro-dollar.
  w.pools[od_].price_per_gpu_hour = Money::FromMicros(1);
  w.pools[res_].price_per_gpu_hour = Money::FromMicros(1);
  CommitmentLedger ledger(w, w.start);
  for (const char* day : {"2026-01-01", "2026-01-02"}) {
    for (world::PoolIndex pool : {od_, res_}) {
      ledger.SetBillable(pool, 1, T(day));
      ledger.SetBillable(pool, 0, T(day) + Duration::Seconds(1800));
    }
  }
  ledger.Close(T("2026-01-03"));
  // Each day alone rounds ½ µ$ up; the two days together are 1 µ$.
  EXPECT_EQ(ledger.ContractDay(deal_, 0).micros() + ledger.ContractDay(deal_, 1).micros(), 2);
  EXPECT_EQ(ledger.ContractSpend(deal_).micros(), 1);
  const std::vector<Money> contract_days = ledger.ContractDays(deal_);
  ASSERT_EQ(static_cast<int64_t>(contract_days.size()), ledger.days());
  EXPECT_EQ(contract_days[0].micros(), 1);
  EXPECT_EQ(contract_days[1].micros(), 0);
  const std::vector<Money> provider_days = ledger.ProviderDays(world_.FindProvider("cloud"));
  ASSERT_EQ(static_cast<int64_t>(provider_days.size()), ledger.days());
  EXPECT_EQ(provider_days[0].micros(), 1);
  EXPECT_EQ(provider_days[1].micros(), 0);
  EXPECT_EQ(ledger.PoolSpend(res_).micros(), 1);
}

constexpr int64_t kDaySeconds = 86'400;

TEST_F(LedgerTest, UsageIsProjectedAtTheMeanOfTheLastFourWeeksToTheTermEnd) {
  CommitmentLedger ledger(world_, world_.start);
  // 100 GPUs for a day in May: before the window, it does not count.
  ledger.SetBillable(od_, 100, T("2026-05-01"));
  ledger.SetBillable(od_, 0, T("2026-05-02"));
  // 4 GPUs for the last 14 of the 28 days before 2026-07-01: a mean of 2.
  ledger.SetBillable(od_, 4, T("2026-06-17"));
  ledger.Close(T("2026-07-01"));
  const ContractLedgerRow row = ledger.Settle(deal_, T("2026-07-01"));
  const int64_t spent = (100 * 1 + 4 * 14) * kDaySeconds * 1'000;
  EXPECT_EQ(row.spent.micros(), spent);
  // 2 GPUs × 1,000 µ$/s: 184 days to 2027-01-01, then 365 to the term's end.
  EXPECT_EQ(row.projected_after.usage.micros(), 2 * (184 + 365) * kDaySeconds * 1'000);
  EXPECT_EQ(row.projected_after.reserved, Money());
  EXPECT_EQ(row.projected_after.procured, Money());
  // The $1,000 minimum due 2027-01-01 is met; the day-one $86.40 was missed
  // and counts toward the $1M term, short by the rest.
  EXPECT_EQ(row.obligations[1].projected.micros(), spent + 2 * 184 * kDaySeconds * 1'000);
  EXPECT_EQ(row.shortfall_due.micros(), 86'400'000);
  const int64_t term_short =
      1'000'000'000'000 - spent - row.projected_after.usage.micros() - 86'400'000;
  EXPECT_EQ(row.shortfall_projected.micros(), term_short);
  // By year: the day-one shortfall in 2026, the term's in 2027.
  ASSERT_EQ(row.years.size(), 2u);
  EXPECT_EQ(row.years[0].year, 2026);
  EXPECT_EQ(row.years[0].spent.micros(), spent);
  EXPECT_EQ(row.years[0].projected.micros(), 2 * 184 * kDaySeconds * 1'000);
  EXPECT_EQ(row.years[0].shortfall.micros(), 86'400'000);
  EXPECT_EQ(row.years[1].year, 2027);
  EXPECT_EQ(row.years[1].spent, Money());
  EXPECT_EQ(row.years[1].projected.micros(), 2 * 365 * kDaySeconds * 1'000);
  EXPECT_EQ(row.years[1].shortfall.micros(), term_short);
}

// A reserved pool under a take-or-pay term that ramps after the run, and an
// award that arrives after it: both are billed exactly by what is known.
constexpr const char* kScheduleWorld = R"(
name: schedule
start: 2026-01-01
end: 2026-07-01
providers: [{id: cloud}]
contracts:
  - {id: rsv, provider: cloud, start: 2026-01-01, end: 2027-01-01, committed_usd: 500K, take_or_pay: true}
sites: [{id: s1, provider: cloud}]
pools:
  - {id: r, site: s1, accelerator: H100, pricing: reserved, price_per_gpu_hour: 3.60, contract: rsv, gpus: [{at: 2026-01-01, gpus: 8}, {at: 2026-10-01, gpus: 16}, {at: 2027-03-01, gpus: 32}]}
)";

TEST(LedgerProjectionTest, ReservedPerScheduleAndAwardsToTheirEndsAreExact) {
  const world::World w = testing::LoadWorld(kScheduleWorld);
  const world::PoolIndex r = w.FindPool("r");
  const world::ContractIndex rsv = w.FindContract("rsv");
  CommitmentLedger ledger(w, w.start);
  ledger.SetBillable(r, 8, w.start);
  // 10 GPUs awarded, to arrive 2026-08-01 and be held to 2026-12-01.
  const int32_t award =
      ledger.AddAward(r, Money::FromMicros(3'600'000), rsv, 10, T("2026-08-01"), T("2026-12-01"));
  EXPECT_GE(award, static_cast<int32_t>(w.pools.size()));
  ledger.Close(T("2026-07-01"));
  const ContractLedgerRow row = ledger.Settle(rsv, T("2026-07-01"));
  EXPECT_EQ(row.spent.micros(), 8 * 181 * kDaySeconds * 1'000);  // 125,107,200,000
  // 8 GPUs for 92 days to 2026-10-01, 16 for 92 days to the term's end (the
  // 32 from March 2027 fall outside it).
  EXPECT_EQ(row.projected_after.reserved.micros(), 190'771'200'000);
  EXPECT_EQ(row.projected_after.procured.micros(), 10 * 122 * kDaySeconds * 1'000);
  EXPECT_EQ(row.projected_after.usage, Money());
  // $500K − (125,107.20 + 190,771.20 + 105,408.00)
  EXPECT_EQ(row.shortfall_projected.micros(), 78'713'600'000);
  ASSERT_EQ(row.years.size(), 1u);
  EXPECT_EQ(row.years[0].spent, row.spent);
  EXPECT_EQ(row.years[0].projected, row.projected_after.total());
  EXPECT_EQ(row.years[0].shortfall, row.shortfall_projected);
  EXPECT_EQ(ledger.LifetimeEnd(T("2026-07-01")), T("2027-01-01"));
}

TEST(LedgerProjectionTest, NoUsageProjectedBeforeTheContractStartsOrWithoutAWindow) {
  world::World w = testing::LoadWorld(kScheduleWorld);
  // A contract starting at the reading: no weeks of its own to project from.
  CommitmentLedger ledger(w, w.start);
  const ProviderLedgerRow none = ledger.SettleProvider(w.FindProvider("cloud"), w.start);
  EXPECT_EQ(none.spent, Money());
  EXPECT_EQ(none.projected_after.total(), Money());
}

}  // namespace
}  // namespace polycloud::contracts
