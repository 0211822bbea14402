// The report's cost figures under both cost models.
#include "polycloud/report/report.h"

#include <gtest/gtest.h>

#include <sstream>

#include "polycloud/sim/simulator.h"
#include "tests/testing/scenario_fixture.h"

namespace polycloud::report {
namespace {

using testing::LoadWorld;

// A lab with a $1M take-or-pay commitment at "committed" (pay-as-you-go H100
// at $4/h, far from the commitment) and a cheaper $3/h H100 at "cheap" with no
// commitment. 8 one-GPU jobs run 1000 hours each: 8,000 GPU-hours.
constexpr const char* kShortCommitment = R"(
name: cost-models
start: 2026-01-01
end: 2026-03-01
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
