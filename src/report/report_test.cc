// The report's cost figures under both cost models.
#include "polycloud/report/report.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "polycloud/io/scenario.h"
#include "polycloud/report/explain.h"
#include "polycloud/sim/simulator.h"
#include "tests/testing/scenario_fixture.h"

namespace polycloud::report {
namespace {

using testing::LoadWorld;

// A lab with a $1M take-or-pay commitment at "committed" (pay-as-you-go H100
// at $4/h, far from the commitment) and a cheaper $3/h H100 at "cheap" with no
// commitment. 8 one-GPU jobs run 1000 hours each: 8,000 GPU-hours. They are
// done by mid-February, so the run's last 28 days project no usage after it.
constexpr const char* kShortCommitment = R"(
name: cost-models
start: 2026-01-01
end: 2026-04-01
providers: [{id: committed}, {id: cheap}]
contracts:
  - {id: deal, provider: committed, start: 2026-01-01, end: 2027-01-01, committed_usd: 1M, take_or_pay: true}
sites:
  - {id: a, provider: committed}
  - {id: b, provider: cheap}
pools:
  - {id: committed-h100, site: a, accelerator: H100, pricing: on-demand, gpus: 8, price_per_gpu_hour: 4, contract: deal}
  - {id: cheap-h100, site: b, accelerator: H100, pricing: on-demand, gpus: 8, price_per_gpu_hour: 3}
job_streams:
  - {id: work, count: 8, from: 2026-01-01, until: 2026-01-01T00:00:08Z, gpus: [1], duration: {min: 1000h, max: 1000h}}
)";

CostComparison RunUnder(const world::World& w, contracts::CostModel model) {
  sim::Options options;
  options.scheduler.cost_model = model;
  sim::Simulator sim(w, options);
  const sim::RunStats stats = sim.Run();
  return CostOf(w, sim.scheduler(), stats.end, contracts::CostModelName(model));
}

TEST(CostModelTest, SpendingIntoAShortTakeOrPayCommitmentCostsLessInTotal) {
  const world::World w = LoadWorld(kShortCommitment);
  const CostComparison aware = RunUnder(w, contracts::CostModel::kContractAware);
  const CostComparison cheapest = RunUnder(w, contracts::CostModel::kCheapestPrice);
  // The baseline buys at $3 elsewhere: $24,000 spent, the $1M shortfall untouched.
  EXPECT_EQ(cheapest.spend.micros(), 8'000LL * 3'000'000);
  // Contract-aware spends $32,000 into the commitment, which lowers the shortfall
  // by as much: the total is the commitment alone.
  EXPECT_EQ(aware.spend.micros(), 8'000LL * 4'000'000);
  EXPECT_EQ(aware.total.micros(), 1'000'000'000'000);
  EXPECT_EQ(cheapest.total - aware.total, cheapest.spend);
}

TEST(CostModelTest, OnceTheCommitmentIsOnTrackTheCheaperPoolWins) {
  std::string yaml = kShortCommitment;
  yaml.replace(yaml.find("committed_usd: 1M"), 17, "committed_usd: 1K");
  const world::World w = LoadWorld(yaml);
  const CostComparison aware = RunUnder(w, contracts::CostModel::kContractAware);
  // At first the $1K commitment is short, so the first jobs go to the
  // committed pool; once the rate there covers it, the rest go to $3.
  EXPECT_LT(aware.spend.micros(), 8'000LL * 4'000'000);
  EXPECT_GT(aware.spend.micros(), 8'000LL * 3'000'000);
  EXPECT_EQ(aware.shortfall, Money());
}

}  // namespace
}  // namespace polycloud::report

namespace polycloud::report {
namespace {

// Input is checked for UTF-8 at every boundary; the writer is the last line of
// defence and must never throw (it used to raise nlohmann::json::type_error and
// leave an empty file).
TEST(ReportJsonTest, ABadByteInANameNeverThrowsAndIsReplaced) {
  Report r;
  r.scenario = "bad\xFF name";
  InputRow input;
  input.path = "trace\xC3.csv";
  r.inputs.push_back(input);
  std::ostringstream out;
  EXPECT_NO_THROW(WriteJson(r, out));
  EXPECT_NE(out.str().find("\"scenario\": \"bad\xEF\xBF\xBD name\""), std::string::npos);
}

}  // namespace
}  // namespace polycloud::report

namespace polycloud::report {
namespace {

using testing::LoadWorld;

// $3.60 per GPU-hour is 1,000 µ$ per GPU-second. The run ends 2026-03-01; the
// deal (take-or-pay $10M) runs to 2027-01-01 and its reserved pool ramps from
// 8 to 16 GPUs on 2026-09-01, after the run; the pay-as-you-go pool under no
// contract runs one job over the run's last 28 days (and after them).
constexpr const char* kHorizon = R"(
name: horizon
start: 2026-01-01
end: 2026-03-01
providers: [{id: cloud}, {id: market}]
contracts:
  - {id: deal, provider: cloud, start: 2026-01-01, end: 2027-01-01, committed_usd: 10M, take_or_pay: true}
sites:
  - {id: a, provider: cloud}
  - {id: b, provider: market}
pools:
  - {id: rsv, site: a, accelerator: H100, pricing: reserved, price_per_gpu_hour: 3.60, contract: deal, gpus: [{at: 2026-01-01, gpus: 8}, {at: 2026-09-01, gpus: 16}]}
  - {id: payg, site: b, accelerator: H100, pricing: on-demand, gpus: 4, price_per_gpu_hour: 3.60}
jobs:
  - {id: late, gpus: 4, work_gpu_hours: 100000, arrival: 2026-02-01, accelerators: [H100], priority: 0}
  - {id: fill, gpus: 8, work_gpu_hours: 100000, arrival: 2026-01-01, accelerators: [H100]}
)";

constexpr int64_t kDay = 86'400;

struct Ran {
  world::World world;
  Report report;
};

Ran RunHorizon() {
  Ran ran{LoadWorld(kHorizon), {}};
  sim::Options options;
  sim::Simulator sim(ran.world, options);
  sim::Audit audit(ran.world);
  sim.AddObserver(&audit);
  const sim::RunStats stats = sim.Run();
  ran.report = Build(ran.world, sim.scheduler(), audit, stats, "priority");
  return ran;
}

TEST(HorizonCostTest, ReservedIsProjectedPerScheduleAndUsageAtTheLastWeeksMean) {
  const Ran ran = RunHorizon();
  const HorizonCost& h = ran.report.horizon;
  EXPECT_EQ(h.run_end, testing::T("2026-03-01"));
  EXPECT_EQ(h.lifetime_end, testing::T("2027-01-01"));
  ASSERT_EQ(ran.report.contracts.size(), 1u);
  const ContractRow& deal = ran.report.contracts[0];
  // Reserved after the run: 8 GPUs from 2026-03-01 to 09-01 (184 days), 16 to
  // 2027-01-01 (122 days), 1,000 µ$ a GPU-second.
  EXPECT_EQ(deal.projected_after.reserved.micros(), (8 * 184 + 16 * 122) * kDay * 1'000);
  EXPECT_EQ(deal.projected_after.usage, Money());
  // In the run: 8 GPUs billed for 59 days.
  EXPECT_EQ(deal.spent.micros(), 8 * 59 * kDay * 1'000);
  EXPECT_EQ(deal.shortfall_due, Money());
  EXPECT_EQ(deal.shortfall_projected.micros(),
            10'000'000'000'000 - deal.spent.micros() - deal.projected_after.reserved.micros());
  // Under no contract: the job held 4 GPUs for the run's last 28 days, so the
  // mean is 4 GPUs, projected to the lifetime end (306 days).
  ASSERT_EQ(h.uncontracted.size(), 1u);
  EXPECT_EQ(h.uncontracted[0].provider, "market");
  EXPECT_EQ(h.uncontracted[0].spent.micros(), 4 * 28 * kDay * 1'000);
  EXPECT_EQ(h.uncontracted[0].projected_after.usage.micros(), 4 * 306 * kDay * 1'000);
}

TEST(HorizonCostTest, EveryTotalIsTheSumOfItsLabelledParts) {
  const Ran ran = RunHorizon();
  const Report& r = ran.report;
  const HorizonCost& h = r.horizon;
  // The pools' spend, split otherwise: each part rounded once, so the two
  // sums agree to a micro-dollar per pool (here exactly: whole micro-dollars).
  EXPECT_EQ(h.in_run_spend, r.total.spend);
  EXPECT_EQ(h.in_run_total, h.in_run_spend + h.in_run_shortfall);
  EXPECT_EQ(h.after_total, h.after_spend.total() + h.after_shortfall);
  EXPECT_EQ(h.lifetime_total, h.in_run_total + h.after_total);
  Money by_contract, years_spent, years_projected, years_shortfall;
  for (const ContractRow& c : r.contracts) by_contract += c.lifetime_cost;
  for (const UncontractedRow& u : h.uncontracted)
    by_contract += u.spent + u.projected_after.total();
  EXPECT_EQ(by_contract, h.lifetime_total);
  for (const contracts::YearRow& y : h.years) {
    years_spent += y.spent;
    years_projected += y.projected;
    years_shortfall += y.shortfall;
  }
  EXPECT_EQ(years_spent, h.in_run_spend);
  EXPECT_EQ(years_projected, h.after_spend.total());
  EXPECT_EQ(years_shortfall, h.in_run_shortfall + h.after_shortfall);
  ASSERT_EQ(h.years.size(), 1u);  // 2026 only: the term ends 2027-01-01
  EXPECT_EQ(h.years[0].year, 2026);
  // The comparison row of this run carries the same figures.
  ASSERT_FALSE(r.comparison.empty());
  EXPECT_EQ(r.comparison[0].lifetime_total, h.lifetime_total);
  EXPECT_EQ(r.comparison[0].in_run_total, h.in_run_total);
  EXPECT_EQ(r.total_cost, h.in_run_spend + h.in_run_shortfall + h.after_shortfall);
}

TEST(HorizonCostTest, TextAndJsonLabelEachFigureWithItsHorizon) {
  const Ran ran = RunHorizon();
  std::ostringstream text;
  WriteText(ran.report, text);
  EXPECT_NE(text.str().find("Cost by horizon (in the run = to 2026-03-01; lifetime = to "
                            "2027-01-01, the end of the latest term)"),
            std::string::npos)
      << text.str();
  EXPECT_NE(text.str().find("Lifetime cost by contract"), std::string::npos);
  EXPECT_NE(text.str().find("(no contract) market"), std::string::npos);
  EXPECT_NE(text.str().find("Lifetime cost by year"), std::string::npos);
  std::ostringstream json;
  WriteJson(ran.report, json);
  const auto j = nlohmann::json::parse(json.str());
  const auto& h = j["horizon"];
  EXPECT_EQ(h["run_end"], "2026-03-01T00:00:00Z");
  EXPECT_EQ(h["lifetime_end"], "2027-01-01T00:00:00Z");
  EXPECT_EQ(h["projection_days"], 28);
  auto micros = [](const nlohmann::json& m) { return m["micros"].get<int64_t>(); };
  EXPECT_EQ(micros(h["lifetime"]["total"]),
            micros(h["in_run"]["total"]) + micros(h["after_run"]["total"]));
  EXPECT_EQ(micros(h["after_run"]["spend"]["total"]),
            micros(h["after_run"]["spend"]["usage"]) + micros(h["after_run"]["spend"]["reserved"]) +
                micros(h["after_run"]["spend"]["procured"]));
  const auto& deal = j["contracts"][0];
  EXPECT_EQ(micros(deal["lifetime_cost"]),
            micros(deal["spent"]) + micros(deal["projected_after"]["total"]) +
                micros(deal["shortfall_due"]) + micros(deal["shortfall_projected"]));
  EXPECT_EQ(deal["years"].size(), 1u);
}

}  // namespace
}  // namespace polycloud::report

namespace polycloud::report {
namespace {

using testing::T;

// explain names the quota that holds a job, as of the last pass that weighed
// it: the tenant's spend this month, or a later month its run would reach.
TEST(ExplainTest, SaysWhichSpendQuotaHoldsAJob) {
  auto s =
      io::LoadScenarioFile(std::string(POLYCLOUD_SOURCE_DIR) + "/tests/scenarios/spend_quota.yaml");
  ASSERT_TRUE(s.ok()) << s.status().message();
  sim::Options options;
  ASSERT_TRUE(scheduler::SetPolicy(s->options.policy, &options.scheduler).ok());
  // The "Held by its quota: " line of job `id`'s explanation at `at` ("" when none).
  auto held = [&](const char* id, const char* at) {
    std::ostringstream out;
    EXPECT_TRUE(Explain(s->world, options, id, T(at), out).ok());
    const std::string text = out.str(), tag = "Held by its quota: ";
    const size_t from = text.find(tag);
    if (from == std::string::npos) return std::string();
    return text.substr(from + tag.size(), text.find('\n', from) - from - tag.size());
  };
  EXPECT_EQ(held("span-2", "2026-02-28T20:00:00Z"),
            "tenant research: $216.00 of its $800.00 for 2026-03 committed to its running jobs, "
            "this job needs $600.00 more in east-h100 in that month");
  EXPECT_EQ(held("span-2", "2026-03-01T12:00:00Z"),
            "tenant research: spent $0.00 of $800.00 this month (2026-03), $216.00 more "
            "committed to its running jobs, this job needs $792.00 more in east-h100 by the "
            "month's end");
  EXPECT_EQ(held("batch-2", "2026-01-20"),
            "tenant research, class batch: spent $72.00 of $150.00 this month (2026-01), $0.00 "
            "more committed to its running jobs, this job needs $108.00 more in east-h100 by the "
            "month's end");
  // Started on April 1st: nothing holds it any more.
  EXPECT_EQ(held("span-2", "2026-04-01T01:00:00Z"), "");
}

}  // namespace
}  // namespace polycloud::report
