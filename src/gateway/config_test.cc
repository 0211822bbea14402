#include "polycloud/gateway/config.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "src/gateway/gateway_testing.h"

namespace polycloud::gateway {
namespace {

class GatewayConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<io::Scenario> s = io::LoadScenarioString(testing::kScenario, "gateway-test.yaml");
    ASSERT_TRUE(s.ok()) << s.status().message();
    scenario_ = std::make_unique<io::Scenario>(std::move(*s));
  }
  Result<GatewayConfig> Load(const std::string& text) {
    return LoadGatewayConfigString(text, "endpoints.yaml", scenario_->world);
  }
  std::string ErrorOf(const std::string& text) {
    Result<GatewayConfig> c = Load(text);
    EXPECT_FALSE(c.ok());
    return c.ok() ? "" : c.status().message();
  }
  std::unique_ptr<io::Scenario> scenario_;
};

const std::string kHash = HashKeySecret("s");

TEST_F(GatewayConfigTest, ReadsDeploymentsKeysAndRouting) {
  Result<GatewayConfig> c = Load(R"(
endpoints:
  - id: az1
    provider: azure
    site: az-east
    model: gpt-4o
    upstream_model: gpt-4o-0806
    base_url: http://127.0.0.1:9001/openai/v1/
    format: openai
    api_key_env: AZ_KEY
    capacity: {tokens_per_s: 50000, concurrent_requests: 64}
    price: {input_per_million: 2.50, output_per_million: $10}
  - {id: aw, provider: aws, model: gpt-4o, base_url: "http://localhost:9002", format: anthropic}
keys:
  - {id: k, secret_sha256: )" + kHash +
                                 R"(, tenant: consumer, workload_class: api, model_family: gpt}
routing: {eject_after_failures: 5, eject_for: 1m, upstream_timeout: 20s}
)");
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_EQ(c->deployments.size(), 2u);
  const Deployment& d = c->deployments[0];
  EXPECT_EQ(d.id, "az1");
  EXPECT_EQ(d.provider, scenario_->world.FindProvider("azure"));
  EXPECT_EQ(d.site, scenario_->world.FindSite("az-east"));
  EXPECT_EQ(d.upstream_model, "gpt-4o-0806");
  EXPECT_EQ(d.host, "127.0.0.1");
  EXPECT_EQ(d.port, 9001);
  EXPECT_EQ(d.path_prefix, "/openai/v1");
  EXPECT_EQ(d.tokens_per_s, 50000);
  EXPECT_EQ(d.max_concurrent, 64);
  EXPECT_EQ(d.input_per_million.micros(), 2'500'000);
  EXPECT_EQ(d.output_per_million.micros(), 10'000'000);
  EXPECT_EQ(d.where, "endpoints.yaml:3:5");
  EXPECT_EQ(c->deployments[1].format, ApiFormat::kAnthropic);
  EXPECT_EQ(c->deployments[1].path_prefix, "/v1");
  EXPECT_EQ(c->deployments[1].upstream_model, "gpt-4o");
  ASSERT_EQ(c->keys.size(), 1u);
  EXPECT_EQ(c->keys[0].workload_class, "api");
  EXPECT_EQ(c->keys[0].model_family, "gpt");
  EXPECT_EQ(c->keys[0].tenant, "consumer");
  EXPECT_EQ(c->routing.eject_after_failures, 5);
  EXPECT_EQ(c->routing.eject_for.seconds(), 60);
  EXPECT_EQ(c->routing.upstream_timeout.seconds(), 20);
}

TEST_F(GatewayConfigTest, ReadsContractsLimitsAndRoutingPolicies) {
  Result<GatewayConfig> c = Load(R"(
endpoints:
  - {id: az1, provider: azure, model: m, base_url: "http://h:1", format: openai, contract: azure-deal}
keys:
  - {id: k, secret_sha256: )" + kHash +
                                 R"(, workload_class: api,
     limits: {requests_per_minute: 600, tokens_per_minute: 200000, budget: $12.50}}
routing: {policy: latency}
)");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->deployments[0].contract, scenario_->world.FindContract("azure-deal"));
  EXPECT_EQ(c->keys[0].limits.requests_per_minute, 600);
  EXPECT_EQ(c->keys[0].limits.tokens_per_minute, 200000);
  ASSERT_TRUE(c->keys[0].limits.budget.has_value());
  EXPECT_EQ(c->keys[0].limits.budget->micros(), 12'500'000);
  EXPECT_EQ(c->routing.policy, RoutePolicy::kLatency);
  EXPECT_EQ(c->routing.PolicyFor(world::kNone), RoutePolicy::kLatency);
}

TEST_F(GatewayConfigTest, RefusesBadContractsLimitsAndPolicies) {
  const std::string message = ErrorOf(
      R"(endpoints:
  - {id: aw, provider: aws, model: m, base_url: "http://h:1", format: openai, contract: azure-deal}
  - {id: az, provider: azure, model: m, base_url: "http://h:1", format: openai, contract: nope}
keys:
  - {id: k, secret_sha256: )" +
      kHash + R"(, workload_class: api, limits: {requests_per_minute: 0, budget: -1, burst: 3}}
routing: {policy: fastest, services: {no-such-service: latency}}
)");
  EXPECT_NE(message.find("endpoints.yaml:2:89: contract \"azure-deal\" is with provider azure, "
                         "not aws"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("contract \"nope\" is not a contract of the scenario"), std::string::npos)
      << message;
  EXPECT_NE(message.find("limits.requests_per_minute: expected an integer between 1 and"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("limits.budget: expected an amount in US dollars"), std::string::npos)
      << message;
  EXPECT_NE(message.find("unknown key \"burst\" in a key's limits"), std::string::npos) << message;
  EXPECT_NE(message.find("endpoints.yaml:6:19: policy: expected least-outstanding, latency or "
                         "cheapest, found \"fastest\""),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("services: \"no-such-service\" is not a service of the scenario"),
            std::string::npos)
      << message;
}

TEST_F(GatewayConfigTest, ReadsTheScenariosGatewaySectionWithTheScenariosPositions) {
  const std::string path = ::testing::TempDir() + "/gateway_section_scenario.yaml";
  const std::string text = std::string(testing::kScenario) + R"(gateway:
  endpoints:
    - {id: az1, provider: azure, model: m, base_url: "http://h:1", format: openai}
  keys:
    - {id: k, secret_sha256: )" +
                           kHash + R"(, workload_class: api}
  routing: {policy: cheapest}
)";
  std::ofstream(path) << text;
  Result<io::Scenario> scenario = io::LoadScenarioFile(path);
  ASSERT_TRUE(scenario.ok()) << scenario.status().message();
  EXPECT_TRUE(scenario->has_gateway_section);
  Result<GatewayConfig> c = LoadGatewayConfigSection(path, scenario->world);
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_EQ(c->deployments.size(), 1u);
  EXPECT_EQ(c->routing.policy, RoutePolicy::kCheapest);
  const int line =
      static_cast<int>(std::count(testing::kScenario,
                                  testing::kScenario + std::strlen(testing::kScenario), '\n')) +
      3;
  EXPECT_EQ(c->deployments[0].where, path + ":" + std::to_string(line) + ":7");
  // A bad entry is reported at its place in the scenario file.
  std::ofstream(path) << std::string(testing::kScenario) +
                             "gateway:\n  endpoints:\n    - {id: x, provider: gcp, model: m, "
                             "base_url: \"http://h:1\", format: openai}\n";
  scenario = io::LoadScenarioFile(path);
  ASSERT_TRUE(scenario.ok()) << scenario.status().message();
  Result<GatewayConfig> bad = LoadGatewayConfigSection(path, scenario->world);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find(path + ":" + std::to_string(line) +
                                        ":25: provider \"gcp\" is not a provider"),
            std::string::npos)
      << bad.status().message();
  // No section: NotFound, and the loader says so.
  std::ofstream(path) << testing::kScenario;
  scenario = io::LoadScenarioFile(path);
  ASSERT_TRUE(scenario.ok());
  EXPECT_FALSE(scenario->has_gateway_section);
  EXPECT_EQ(LoadGatewayConfigSection(path, scenario->world).status().code(), StatusCode::kNotFound);
  std::remove(path.c_str());
}

TEST_F(GatewayConfigTest, ReportsEveryProblemWithItsPosition) {
  const std::string message = ErrorOf(R"(endpoints:
  - {id: a, provider: gcp, model: m, base_url: "http://h:1", format: openai}
  - {id: a, provider: aws, model: m, base_url: "https://h:1", format: grpc, colour: red}
  - {id: b, provider: aws, site: az-east, model: m, base_url: "http://h:1", format: openai}
keys:
  - {id: k, secret_sha256: ABC}
extra: 1
)");
  EXPECT_NE(message.find("endpoints.yaml:2:23: provider \"gcp\" is not a provider of the scenario"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("endpoints.yaml:3:10: endpoint id \"a\" is used twice (first at "
                         "endpoints.yaml:2:10)"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("endpoints.yaml:3:48: base_url: expected an http:// URL"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("format: expected openai or anthropic, found \"grpc\""), std::string::npos)
      << message;
  EXPECT_NE(message.find("unknown key \"colour\" in an endpoint"), std::string::npos) << message;
  EXPECT_NE(message.find("site \"az-east\" belongs to provider azure, not aws"), std::string::npos)
      << message;
  EXPECT_NE(message.find("secret_sha256: expected 64 lowercase hex digits"), std::string::npos)
      << message;
  EXPECT_NE(message.find("endpoints.yaml:7:1: unknown key \"extra\""), std::string::npos)
      << message;
}

TEST_F(GatewayConfigTest, KeyTakesClassAndFamilyFromAScenarioService) {
  Result<io::Scenario> s = io::LoadScenarioString(
      std::string(testing::kScenario) +
          "services:\n  - {id: chat-svc, model: gpt-5, model_family: gpt, class: chat, "
          "gpus_per_replica: 8, replica_tokens_per_s: 100, demand: 100}\n",
      "s.yaml");
  ASSERT_TRUE(s.ok()) << s.status().message();
  Result<GatewayConfig> c = LoadGatewayConfigString(
      "endpoints: [{id: a, provider: aws, model: m, base_url: \"http://h:1\", format: openai}]\n"
      "keys: [{id: k, secret_sha256: " +
          kHash + ", service: chat-svc}]\n",
      "e.yaml", s->world);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->keys[0].workload_class, "chat");
  EXPECT_EQ(c->keys[0].model_family, "gpt");
  EXPECT_NE(ErrorOf("endpoints: [{id: a, provider: aws, model: m, base_url: \"http://h:1\", "
                    "format: openai}]\nkeys: [{id: k, secret_sha256: " +
                    kHash + "}]\n")
                .find("needs a workload_class"),
            std::string::npos);
}

TEST_F(GatewayConfigTest, RefusesMalformedYamlWithItsPosition) {
  EXPECT_EQ(ErrorOf("endpoints: [\n  {id: a\n"), "endpoints.yaml:3:1: end of map flow not found");
  EXPECT_NE(ErrorOf("endpoints: []\n").find("expected at least one endpoint"), std::string::npos);
  EXPECT_NE(ErrorOf("- 1\n").find("expected the gateway configuration as a mapping"),
            std::string::npos);
}

TEST(GatewayKeyTest, SecretsAreFreshAndHashedWithSha256) {
  EXPECT_EQ(HashKeySecret("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const std::string a = GenerateKeySecret(), b = GenerateKeySecret();
  EXPECT_NE(a, b);
  EXPECT_EQ(a.size(), 46u);
  EXPECT_EQ(a.rfind("pc-", 0), 0u);
}

}  // namespace
}  // namespace polycloud::gateway
