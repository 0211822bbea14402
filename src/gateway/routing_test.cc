#include "polycloud/gateway/routing.h"

#include <gtest/gtest.h>

#include "src/gateway/gateway_testing.h"

namespace polycloud::gateway {
namespace {

class RoutingTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<io::Scenario> s = io::LoadScenarioString(testing::kScenario, "gateway-test.yaml");
    ASSERT_TRUE(s.ok()) << s.status().message();
    scenario_ = std::make_unique<io::Scenario>(std::move(*s));
    Result<GatewayConfig> c = LoadGatewayConfigString(R"(
endpoints:
  - {id: az1, provider: azure, model: m, base_url: "http://h:1", format: openai, price: {input_per_million: 3}, capacity: {concurrent_requests: 1}}
  - {id: az2, provider: azure, model: m, base_url: "http://h:2", format: openai, price: {input_per_million: 5}}
  - {id: aw, provider: aws, model: m, base_url: "http://h:3", format: openai, price: {input_per_million: 1}}
routing: {eject_after_failures: 2, eject_for: 10s}
)",
                                                      "e.yaml", scenario_->world);
    ASSERT_TRUE(c.ok()) << c.status().message();
    config_ = std::move(*c);
    table_ = std::make_unique<RoutingTable>(config_, scenario_->world, clock_);
  }
  ApiKey Key(const std::string& cls) {
    ApiKey k;
    k.workload_class = cls;
    return k;
  }
  testing::TestClock clock_{testing::At("2026-03-01T00:00:00Z")};
  std::unique_ptr<io::Scenario> scenario_;
  GatewayConfig config_;
  std::unique_ptr<RoutingTable> table_;
};

TEST_F(RoutingTableTest, ThePolicyOfTheKeysServiceOrdersTheDeployments) {
  config_.routing.policy = RoutePolicy::kCheapest;
  ASSERT_TRUE(table_->Acquire(2));  // aw, the cheapest, has one in flight
  RoutePlan plan = table_->Plan(Key("chat"), "m");
  EXPECT_EQ(plan.policy, RoutePolicy::kCheapest);
  EXPECT_EQ(plan.order, (std::vector<int32_t>{2, 0, 1}));
  EXPECT_NE(plan.candidates[0].rule.find("; cheapest, then least outstanding"), std::string::npos);
  config_.routing.policy = RoutePolicy::kLatency;
  table_->ObserveLatency(0, std::chrono::milliseconds(80));
  table_->ObserveLatency(1, std::chrono::milliseconds(20));
  // aw is not measured yet: it goes first, to be measured; then the faster.
  EXPECT_EQ(table_->Plan(Key("chat"), "m").order, (std::vector<int32_t>{2, 1, 0}));
  table_->ObserveLatency(2, std::chrono::milliseconds(50));
  EXPECT_EQ(table_->Plan(Key("chat"), "m").order, (std::vector<int32_t>{1, 2, 0}));
  // A recent mean: az2 turning slow moves it back by a fifth of the change.
  table_->ObserveLatency(1, std::chrono::milliseconds(220));
  EXPECT_EQ(table_->latency_us(1), 60'000);
  EXPECT_EQ(table_->Plan(Key("chat"), "m").order, (std::vector<int32_t>{2, 1, 0}));
  // A key of a service with its own policy.
  ApiKey key = Key("chat");
  key.service = 0;
  config_.routing.per_service = {{0, RoutePolicy::kCheapest}};
  EXPECT_EQ(table_->Plan(key, "m").policy, RoutePolicy::kCheapest);
  table_->Release(2, Attempt::kSuccess);
}

TEST_F(RoutingTableTest, OrdersByOutstandingThenPrice) {
  EXPECT_EQ(table_->Plan(Key("chat"), "m").order, (std::vector<int32_t>{2, 0, 1}));
  ASSERT_TRUE(table_->Acquire(2));
  EXPECT_EQ(table_->Plan(Key("chat"), "m").order, (std::vector<int32_t>{0, 1, 2}));
  table_->Release(2, Attempt::kSuccess);
}

TEST_F(RoutingTableTest, ExclusivityRemovesOtherProvidersWithTheirVerdict) {
  const RoutePlan plan = table_->Plan(Key("api"), "m");
  EXPECT_EQ(plan.order, (std::vector<int32_t>{0, 1}));
  ASSERT_EQ(plan.candidates.size(), 3u);
  EXPECT_FALSE(plan.candidates[2].admissible);
  EXPECT_EQ(plan.candidates[2].verdict,
            "forbidden: api is exclusive to azure until 2030-01-01 (contract azure-deal)");
  EXPECT_EQ(plan.candidates[0].rule,
            "exclusivity: api is exclusive to azure until 2030-01-01 (contract azure-deal); "
            "least outstanding requests, then cheapest");
}

TEST_F(RoutingTableTest, ConcurrencyLimitMakesADeploymentUnavailable) {
  ASSERT_TRUE(table_->Acquire(0));
  EXPECT_FALSE(table_->Acquire(0));
  RoutePlan plan = table_->Plan(Key("api"), "m");
  EXPECT_EQ(plan.order, (std::vector<int32_t>{1}));
  EXPECT_EQ(plan.candidates[0].verdict,
            "unavailable: at capacity: 1 of 1 concurrent requests in flight");
  table_->Release(0, Attempt::kSuccess);
  EXPECT_TRUE(table_->Acquire(0));
  table_->Release(0, Attempt::kSuccess);
}

TEST_F(RoutingTableTest, EjectsThenLetsOneProbeThroughAndReEjectsOnItsFailure) {
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(table_->Acquire(1));
    table_->Release(1, Attempt::kFailure);
  }
  EXPECT_TRUE(table_->ejected(1));
  EXPECT_FALSE(table_->Acquire(1));
  RoutePlan plan = table_->Plan(Key("api"), "m");
  EXPECT_EQ(plan.order, (std::vector<int32_t>{0}));
  clock_.Advance(10);
  ASSERT_TRUE(table_->Acquire(1));   // the probe
  EXPECT_FALSE(table_->Acquire(1));  // only one at a time
  table_->Release(1, Attempt::kFailure);
  EXPECT_FALSE(table_->Acquire(1));  // ejected again at once
  clock_.Advance(10);
  ASSERT_TRUE(table_->Acquire(1));
  table_->Release(1, Attempt::kSuccess);
  EXPECT_FALSE(table_->ejected(1));
  EXPECT_EQ(table_->ejections(), 1);
}

TEST_F(RoutingTableTest, AllAllowedUnavailableIsNotAContractRefusal) {
  for (int d : {0, 1}) {
    for (int i = 0; i < 2; ++i) {
      ASSERT_TRUE(table_->Acquire(d));
      table_->Release(d, Attempt::kFailure);
    }
  }
  const RoutePlan plan = table_->Plan(Key("api"), "m");
  EXPECT_TRUE(plan.order.empty());
  EXPECT_FALSE(plan.contract_refusal);
  EXPECT_EQ(plan.retry_after_s, 10);
  EXPECT_NE(plan.refusal.find("az1 (unavailable: ejected after 2 consecutive failures"),
            std::string::npos)
      << plan.refusal;
}

}  // namespace
}  // namespace polycloud::gateway
