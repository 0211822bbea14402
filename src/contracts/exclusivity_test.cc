#include "polycloud/contracts/exclusivity.h"

#include <gtest/gtest.h>

#include "tests/testing/scenario_fixture.h"

namespace polycloud::contracts {
namespace {

using polycloud::testing::LoadWorld;
using polycloud::testing::T;

const char* kWorld = R"(
name: x
start: 2026-01-01
end: 2027-01-01
providers: [{id: azure}, {id: aws}]
contracts:
  - id: deal
    provider: azure
    start: 2024-01-01
    end: 2035-01-01
    exclusivity:
      - {class: stateless-api, until: 2032-01-01}
      - {class: "*", from: 2024-01-01, until: 2025-01-01}
      - {class: chat, model_family: gpt, until: 2030-01-01, outage_exception: true}
sites: [{id: s, provider: azure}]
pools: [{id: p, site: s, accelerator: H100, pricing: reserved, gpus: 8, price_per_gpu_hour: 1}]
)";

class ExclusivityRulesTest : public ::testing::Test {
 protected:
  world::World world_ = LoadWorld(kWorld);
  ExclusivityRules rules_{world_};
  std::vector<uint8_t> no_outage_ = {0, 0};
  std::vector<uint8_t> azure_down_ = {1, 0};
  world::ProviderIndex azure_ = 0, aws_ = 1;
};

TEST_F(ExclusivityRulesTest, RejectsStatelessApiOutsideHolderUntilExpiry) {
  auto v = rules_.Check("stateless-api", "", aws_, T("2031-12-31T23:59:59Z"), no_outage_);
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.holder, azure_);
  EXPECT_TRUE(rules_.Check("stateless-api", "", azure_, T("2031-06-01"), no_outage_).allowed);
}

TEST_F(ExclusivityRulesTest, AllowsOthersFromTheDayTheClauseEnds) {
  // `until` is exclusive: at the instant it ends, others may serve.
  EXPECT_TRUE(rules_.Check("stateless-api", "", aws_, T("2032-01-01"), no_outage_).allowed);
}

TEST_F(ExclusivityRulesTest, WildcardClassCoversAllWorkInItsWindowOnly) {
  EXPECT_FALSE(rules_.Check("research", "", aws_, T("2024-06-01"), no_outage_).allowed);
  EXPECT_TRUE(rules_.Check("research", "", aws_, T("2025-01-01"), no_outage_).allowed);
}

TEST_F(ExclusivityRulesTest, ModelFamilyScopesTheClause) {
  EXPECT_FALSE(rules_.Check("chat", "gpt", aws_, T("2026-06-01"), no_outage_).allowed);
  EXPECT_TRUE(rules_.Check("chat", "other", aws_, T("2026-06-01"), no_outage_).allowed);
}

TEST_F(ExclusivityRulesTest, OutageExceptionOpensOtherProvidersOnlyDuringHolderOutage) {
  auto v = rules_.Check("chat", "gpt", aws_, T("2026-06-01"), azure_down_);
  EXPECT_TRUE(v.allowed);
  EXPECT_TRUE(v.via_outage_exception);
  // Without the exception the stateless API still may not move.
  EXPECT_FALSE(rules_.Check("stateless-api", "", aws_, T("2026-06-01"), azure_down_).allowed);
}

TEST_F(ExclusivityRulesTest, DescribesTheClauseThatForbids) {
  auto v = rules_.Check("stateless-api", "", aws_, T("2026-06-01"), no_outage_);
  EXPECT_EQ(rules_.Describe(v, "stateless-api"),
            "stateless-api is exclusive to azure until 2032-01-01 (contract deal)");
}

TEST_F(ExclusivityRulesTest, BoundariesListEveryClauseEdgeOnce) {
  std::vector<Time> b = rules_.Boundaries();
  EXPECT_EQ(
      b, (std::vector<Time>{T("2024-01-01"), T("2025-01-01"), T("2030-01-01"), T("2032-01-01")}));
}

}  // namespace
}  // namespace polycloud::contracts
