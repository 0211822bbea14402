// The gateway end to end over loopback: a real HTTP server in front, fake
// OpenAI-shaped upstreams behind (they stand in for the providers, which
// cannot be reached from here), told to fail, answer 429, stall or hold a
// stream open.
#include "polycloud/gateway/gateway.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <fstream>
#include <future>
#include <thread>

#include "polycloud/gateway/upstream.h"
#include "polycloud/http/client.h"
#include "polycloud/http/server.h"
#include "src/gateway/gateway_testing.h"

namespace polycloud::gateway {
namespace {

using nlohmann::json;
using testing::FakeUpstream;
using testing::TestClock;

constexpr const char* kApiSecret = "secret-api";
constexpr const char* kChatSecret = "secret-chat";
constexpr const char* kAssistantSecret = "secret-assistant";

class GatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A service, for the keys that name one (published demand).
    Result<io::Scenario> s = io::LoadScenarioString(
        std::string(testing::kScenario) +
            "services:\n  - {id: chat-svc, model: m, class: chat, gpus_per_replica: 8, "
            "replica_tokens_per_s: 1000, demand: 100}\n",
        "gateway-test.yaml");
    ASSERT_TRUE(s.ok()) << s.status().message();
    scenario_ = std::make_unique<io::Scenario>(std::move(*s));
  }

  void Start(const std::string& routing = "") {
    auto entry = [](const std::string& id, const std::string& provider, const std::string& model,
                    const FakeUpstream& up, const std::string& extra) {
      return "  - {id: " + id + ", provider: " + provider + ", model: " + model +
             ", base_url: " + up.base_url() + ", format: openai" + extra + "}\n";
    };
    auto key = [](const std::string& id, const char* secret, const std::string& cls) {
      return "  - {id: " + id + ", secret_sha256: " + HashKeySecret(secret) +
             ", workload_class: " + cls + "}\n";
    };
    const std::string text =
        "endpoints:\n" +
        entry("az1", "azure", "m", az1_,
              ", site: az-east, upstream_model: m-az, api_key_env: AZ_KEY, contract: azure-deal,"
              " price: {input_per_million: 1, output_per_million: 2}") +
        entry("az2", "azure", "m", az2_, ", price: {input_per_million: 2, output_per_million: 3}") +
        entry("aw", "aws", "m", aw_, ", price: {input_per_million: 0.5, output_per_million: 1}") +
        entry("aw-only", "aws", "m-aws", aw_, "") +
        entry("mix-oa", "aws", "mix", aw_, ", price: {input_per_million: 9}") +
        "  - {id: mix-an, provider: aws, model: mix, upstream_model: claude-up, base_url: " +
        an_.base_url() + ", format: anthropic, api_key_env: AN_KEY}\n" + "keys:\n" +
        key("api-key", kApiSecret, "api") + key("chat-key", kChatSecret, "chat") +
        key("assistant-key", kAssistantSecret, "assistant") + routing;
    Result<GatewayConfig> config =
        LoadGatewayConfigString(text, "endpoints.yaml", scenario_->world);
    ASSERT_TRUE(config.ok()) << config.status().message() << "\n" << text;
    GatewayOptions options;
    options.usage_store = usage_store_;
    options.flush_every = std::chrono::milliseconds(50);
    options.demand = demand_;
    options.getenv = [](const char* name) -> const char* {
      if (std::string(name) == "AN_KEY") return "sk-ant";
      return std::string(name) == "AZ_KEY" ? "sk-azure" : nullptr;
    };
    Result<std::unique_ptr<Gateway>> gateway =
        Gateway::Create(std::move(*config), scenario_->world, clock_, options);
    ASSERT_TRUE(gateway.ok()) << gateway.status().message();
    gateway_ = std::move(*gateway);
    http::ServerOptions server_options;
    server_options.port = 0;
    server_options.threads = 2;
    server_options.stop_grace = std::chrono::milliseconds(200);
    Result<std::unique_ptr<http::Server>> server =
        http::Server::Start(server_options, gateway_->MakeRouter());
    ASSERT_TRUE(server.ok()) << server.status().message();
    server_ = std::move(*server);
    gateway_->AttachServer(server_.get());
  }

  void TearDown() override {
    if (server_) server_->Stop();
  }

  http::ClientResponse Chat(const std::string& secret, const std::string& model = "m") {
    http::ClientOptions options;
    options.address = {"127.0.0.1", server_->port()};
    options.bearer_token = secret;
    http::Client client(options);
    Result<http::ClientResponse> r =
        client.Post("/v1/chat/completions",
                    {{"model", model}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}});
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : http::ClientResponse{};
  }

  http::ClientResponse Send(const std::string& secret, const std::string& method,
                            const std::string& path, const json& body = nullptr) {
    http::ClientOptions options;
    options.address = {"127.0.0.1", server_->port()};
    options.bearer_token = secret;
    http::Client client(options);
    Result<http::ClientResponse> r = method == "GET" ? client.Get(path) : client.Post(path, body);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : http::ClientResponse{};
  }

  static std::string HeaderOf(const http::ClientResponse& r, std::string_view name) {
    return std::string(r.Header(name).value_or(""));
  }
  static json ErrorOf(const http::ClientResponse& r) {
    Result<json> body = r.Json();
    EXPECT_TRUE(body.ok()) << r.body;
    return body.ok() ? (*body)["error"] : json();
  }

  store::Store* usage_store_ = nullptr;
  std::optional<DemandPublishing> demand_;
  FakeUpstream az1_{"az1"}, az2_{"az2"}, aw_{"aw"}, an_{"an"};
  TestClock clock_{testing::At("2026-03-01T00:00:00Z")};
  std::unique_ptr<io::Scenario> scenario_;
  std::unique_ptr<Gateway> gateway_;
  std::unique_ptr<http::Server> server_;  // stopped before the gateway goes
};

TEST_F(GatewayTest, FreeClassGoesToTheCheapestDeploymentAndSaysWhy) {
  Start();
  const http::ClientResponse r = Chat(kChatSecret);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(HeaderOf(r, "x-polycloud-deployment"), "aw");
  EXPECT_EQ(HeaderOf(r, "x-polycloud-rule"),
            "no exclusivity clause applies; least outstanding requests, then cheapest");
  EXPECT_EQ((*r.Json())["choices"][0]["message"]["content"], "hello from aw");
  EXPECT_EQ(aw_.requests(), 1);
  EXPECT_EQ(az1_.requests() + az2_.requests(), 0);
}

TEST_F(GatewayTest, ExclusiveClassGoesOnlyToTheHolderWithTheUpstreamModelAndKey) {
  Start();
  const http::ClientResponse r = Chat(kApiSecret);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(HeaderOf(r, "x-polycloud-deployment"), "az1");
  EXPECT_NE(HeaderOf(r, "x-polycloud-rule")
                .find("api is exclusive to azure until 2030-01-01 "
                      "(contract azure-deal)"),
            std::string::npos)
      << HeaderOf(r, "x-polycloud-rule");
  EXPECT_EQ(az1_.last_model(), "m-az");
  EXPECT_EQ(az1_.last_authorization(), "Bearer sk-azure");
  EXPECT_EQ(aw_.requests(), 0);
}

TEST_F(GatewayTest, FailsOverToAnotherAllowedDeploymentOn5xx) {
  Start();
  az1_.set_mode(FakeUpstream::Mode::kFail500);
  const http::ClientResponse r = Chat(kApiSecret);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(HeaderOf(r, "x-polycloud-deployment"), "az2");
  EXPECT_EQ(HeaderOf(r, "x-polycloud-failed-over"), "az1: HTTP 500");
  EXPECT_EQ(az1_.requests(), 1);
  EXPECT_EQ(aw_.requests(), 0);
}

TEST_F(GatewayTest, NeverFailsOverToAForbiddenProviderAndSays503WithTheClause) {
  Start();
  az1_.set_mode(FakeUpstream::Mode::kFail500);
  az2_.set_mode(FakeUpstream::Mode::kFail500);
  const http::ClientResponse r = Chat(kApiSecret);
  ASSERT_EQ(r.status, 503) << r.body;
  const json error = ErrorOf(r);
  EXPECT_EQ(error["code"], "upstream_unavailable");
  EXPECT_EQ(error["type"], "server_error");
  EXPECT_TRUE(error.contains("param"));
  const std::string message = error["message"];
  EXPECT_NE(message.find("az1: HTTP 500; az2: HTTP 500"), std::string::npos) << message;
  EXPECT_NE(message.find("not tried: aw (forbidden: api is exclusive to azure"), std::string::npos)
      << message;
  EXPECT_EQ(aw_.requests(), 0);
}

TEST_F(GatewayTest, RefusesWith503NamingTheClauseWhenOnlyForbiddenDeploymentsServeTheModel) {
  Start();
  const http::ClientResponse r = Chat(kApiSecret, "m-aws");
  ASSERT_EQ(r.status, 503) << r.body;
  const json error = ErrorOf(r);
  EXPECT_EQ(error["code"], "contract_forbids");
  EXPECT_EQ(error["message"],
            "no deployment of m-aws may serve workload class api: api is exclusive to azure "
            "until 2030-01-01 (contract azure-deal)");
  EXPECT_EQ(aw_.requests(), 0);
}

TEST_F(GatewayTest, OutageExceptionLetsOthersServeOnlyDuringTheDeclaredOutage) {
  Start();
  EXPECT_EQ(Chat(kAssistantSecret, "m-aws").status, 503);
  clock_.Set(testing::At("2026-06-01T12:00:00Z"));  // azure-down in force
  const http::ClientResponse r = Chat(kAssistantSecret, "m-aws");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(HeaderOf(r, "x-polycloud-deployment"), "aw-only");
  EXPECT_EQ(HeaderOf(r, "x-polycloud-rule")
                .rfind("outage exception: assistant is exclusive to "
                       "azure until 2030-01-01 (contract azure-deal); "
                       "allowed by the outage exception while azure "
                       "is down",
                       0),
            0u)
      << HeaderOf(r, "x-polycloud-rule");
  // The api clause has no exception: still refused during the outage.
  EXPECT_EQ(ErrorOf(Chat(kApiSecret, "m-aws"))["code"], "contract_forbids");
}

TEST_F(GatewayTest, HonoursRetryAfterBySkippingTheDeploymentUntilThen) {
  Start();
  az1_.set_mode(FakeUpstream::Mode::kRateLimit429);
  az1_.set_retry_after(30);
  EXPECT_EQ(HeaderOf(Chat(kApiSecret), "x-polycloud-deployment"), "az2");
  az1_.set_mode(FakeUpstream::Mode::kOk);
  EXPECT_EQ(HeaderOf(Chat(kApiSecret), "x-polycloud-deployment"), "az2");
  EXPECT_EQ(az1_.requests(), 1);  // cooling down: not asked again
  clock_.Advance(31);
  EXPECT_EQ(HeaderOf(Chat(kApiSecret), "x-polycloud-deployment"), "az1");
}

TEST_F(GatewayTest, EjectsAfterConsecutiveFailuresThenProbesHalfOpen) {
  Start("routing: {eject_after_failures: 2, eject_for: 10s}\n");
  az1_.set_mode(FakeUpstream::Mode::kFail500);
  EXPECT_EQ(HeaderOf(Chat(kApiSecret), "x-polycloud-deployment"), "az2");
  EXPECT_EQ(HeaderOf(Chat(kApiSecret), "x-polycloud-deployment"), "az2");
  EXPECT_TRUE(gateway_->routing().ejected(0));
  EXPECT_EQ(gateway_->routing().ejections(), 1);
  EXPECT_EQ(HeaderOf(Chat(kApiSecret), "x-polycloud-deployment"), "az2");
  EXPECT_EQ(az1_.requests(), 2);  // ejected: not tried
  clock_.Advance(11);
  az1_.set_mode(FakeUpstream::Mode::kOk);
  EXPECT_EQ(HeaderOf(Chat(kApiSecret), "x-polycloud-deployment"), "az1");  // the probe
  EXPECT_FALSE(gateway_->routing().ejected(0));
}

TEST_F(GatewayTest, TimesOutAStalledUpstreamAndFailsOver) {
  Start("routing: {upstream_timeout: 1s}\n");
  az1_.set_mode(FakeUpstream::Mode::kStall);
  const http::ClientResponse r = Chat(kApiSecret);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(HeaderOf(r, "x-polycloud-deployment"), "az2");
  EXPECT_NE(HeaderOf(r, "x-polycloud-failed-over").find("az1: request to 127.0.0.1:"),
            std::string::npos);
}

TEST_F(GatewayTest, ErrorsAreInOpenAisShape) {
  Start();
  http::ClientResponse r = Chat("wrong-secret");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(ErrorOf(r)["code"], "invalid_api_key");
  EXPECT_EQ(ErrorOf(r)["type"], "invalid_request_error");
  r = Chat(kChatSecret, "no-such-model");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(ErrorOf(r)["code"], "model_not_found");
}

TEST_F(GatewayTest, ListsModels) {
  Start();
  http::ClientOptions options;
  options.address = {"127.0.0.1", server_->port()};
  options.bearer_token = kChatSecret;
  http::Client client(options);
  Result<http::ClientResponse> r = client.Get("/v1/models");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, 200) << r->body;
  const json body = *r->Json();
  EXPECT_EQ(body["object"], "list");
  ASSERT_EQ(body["data"].size(), 3u);
  EXPECT_EQ(body["data"][0]["id"], "m");
  EXPECT_EQ(body["data"][1]["id"], "m-aws");
  EXPECT_EQ(body["data"][2]["id"], "mix");
}

// Reads what a raw socket receives until `marker` shows or it closes.
std::string ReadUntil(int fd, std::string& seen, std::string_view marker,
                      std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline &&
         (marker.empty() || seen.find(marker) == std::string::npos)) {
    timeval tv{0, 50'000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[4096];
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n > 0) seen.append(buf, static_cast<size_t>(n));
    if (n == 0) break;
  }
  return seen;
}

TEST_F(GatewayTest, StreamsChunkByChunkWithoutWaitingForTheWholeAnswer) {
  Start();
  az1_.HoldStreams();  // part0, then nothing until released
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(server_->port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const std::string body =
      R"({"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]})";
  const std::string request =
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
      "Authorization: Bearer " +
      std::string(kApiSecret) +
      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\n\r\n" + body;
  ASSERT_EQ(send(fd, request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  std::string seen;
  ReadUntil(fd, seen, "part0", std::chrono::seconds(5));
  EXPECT_NE(seen.find("HTTP/1.1 200"), std::string::npos) << seen;
  EXPECT_NE(seen.find("text/event-stream"), std::string::npos) << seen;
  EXPECT_NE(seen.find("x-polycloud-deployment: az1"), std::string::npos) << seen;
  EXPECT_NE(seen.find("\"part0\""), std::string::npos) << seen;
  EXPECT_EQ(seen.find("part1"), std::string::npos) << "buffered: " << seen;
  az1_.Release();
  ReadUntil(fd, seen, "", std::chrono::seconds(5));  // to the end of the stream
  close(fd);
  EXPECT_NE(seen.find("data: {\"choices\":[{\"delta\":{\"content\":\"part2\"}"), std::string::npos)
      << seen;
  EXPECT_NE(seen.find("data: [DONE]\n\n"), std::string::npos) << seen;
  EXPECT_EQ(gateway_->routing().outstanding(0), 0);
}

TEST_F(GatewayTest, StreamFailsOverBeforeTheFirstByteReachesTheClient) {
  Start();
  az1_.set_mode(FakeUpstream::Mode::kFail500);
  http::ClientOptions options;
  options.address = {"127.0.0.1", server_->port()};
  options.bearer_token = kApiSecret;
  http::Client client(options);
  Result<http::ClientResponse> r = client.Post(
      "/v1/chat/completions",
      {{"model", "m"}, {"stream", true}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(HeaderOf(*r, "x-polycloud-deployment"), "az2");
  EXPECT_NE(r->body.find("part2"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("[DONE]"), std::string::npos) << r->body;
}

TEST_F(GatewayTest, AnAnthropicDeploymentServesAnOpenAiRequestTranslatedBothWays) {
  Start();
  http::ClientOptions options;
  options.address = {"127.0.0.1", server_->port()};
  options.bearer_token = kChatSecret;
  http::Client client(options);
  Result<http::ClientResponse> r = client.Post(
      "/v1/chat/completions",
      {{"model", "mix"},
       {"messages",
        {{{"role", "system"}, {"content", "be brief"}}, {{"role", "user"}, {"content", "hi"}}}}});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(HeaderOf(*r, "x-polycloud-deployment"), "mix-an");
  const json answer = *r->Json();
  EXPECT_EQ(answer["object"], "chat.completion");
  EXPECT_EQ(answer["model"], "mix");
  EXPECT_EQ(answer["choices"][0]["message"]["content"], "hello from an");
  EXPECT_EQ(answer["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(answer["usage"],
            json({{"prompt_tokens", 7}, {"completion_tokens", 4}, {"total_tokens", 11}}));
  const json sent = an_.last_body();
  EXPECT_EQ(sent["model"], "claude-up");
  EXPECT_EQ(sent["system"], "be brief");
  EXPECT_EQ(sent["max_tokens"], 4096);
  EXPECT_EQ(sent["messages"], json::parse(R"([{"role":"user","content":"hi"}])"));
  EXPECT_EQ(an_.last_authorization(), "sk-ant");

  r = client.Post("/v1/chat/completions", {{"model", "mix"},
                                           {"stream", true},
                                           {"stream_options", {{"include_usage", true}}},
                                           {"messages", {{{"role", "user"}, {"content", "hi"}}}}});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, 200) << r->body;
  std::vector<http::SseEvent> events;
  http::SseParser parser;
  parser.Feed(r->body, &events);
  std::string text;
  std::string finish;
  json usage;
  for (const http::SseEvent& e : events) {
    if (e.data == "[DONE]") continue;
    const json chunk = json::parse(e.data);
    EXPECT_EQ(chunk["object"], "chat.completion.chunk");
    EXPECT_EQ(chunk["model"], "mix");
    if (chunk.contains("usage")) usage = chunk["usage"];
    if (chunk["choices"].empty()) continue;
    text += chunk["choices"][0]["delta"].value("content", "");
    if (chunk["choices"][0]["finish_reason"].is_string())
      finish = chunk["choices"][0]["finish_reason"];
  }
  EXPECT_EQ(text, "hello from claude");
  EXPECT_EQ(finish, "length");
  EXPECT_EQ(usage["total_tokens"], 11);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().data, "[DONE]");
}

TEST_F(GatewayTest, AnOverloadedAnthropicDeploymentFailsOverToTheOpenAiOne) {
  Start();
  an_.set_mode(FakeUpstream::Mode::kFail500);  // 529 overloaded_error
  const http::ClientResponse r = Chat(kChatSecret, "mix");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(HeaderOf(r, "x-polycloud-deployment"), "mix-oa");
  EXPECT_EQ(HeaderOf(r, "x-polycloud-failed-over"), "mix-an: HTTP 529");
}

TEST_F(GatewayTest, AnAnthropicRefusalComesBackInOpenAisShape) {
  Start();
  http::ClientOptions options;
  options.address = {"127.0.0.1", server_->port()};
  options.bearer_token = kChatSecret;
  http::Client client(options);
  Result<http::ClientResponse> r =
      client.Post("/v1/chat/completions", {{"model", "mix"},
                                           {"max_tokens", 200000},
                                           {"messages", {{{"role", "user"}, {"content", "hi"}}}}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_EQ(ErrorOf(*r)["message"], "max_tokens: too large");
  EXPECT_EQ(ErrorOf(*r)["type"], "invalid_request_error");
}

TEST_F(GatewayTest, MetricsCountRequestsTokensRejectionsAndOverhead) {
  Start();
  ASSERT_EQ(Chat(kChatSecret).status, 200);          // aw, 8 tokens
  ASSERT_EQ(Chat(kApiSecret, "m-aws").status, 503);  // a contract refusal
  az1_.set_mode(FakeUpstream::Mode::kFail500);
  ASSERT_EQ(Chat(kApiSecret).status, 200);  // az1 fails, az2 serves
  http::ClientOptions options;
  options.address = {"127.0.0.1", server_->port()};
  http::Client client(options);
  Result<http::ClientResponse> r = client.Get("/metrics");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, 200);
  const std::string& page = r->body;
  for (const char* line : {
           "polycloud_gateway_requests_total{code=\"200\"} 2",
           "polycloud_gateway_requests_total{code=\"503\"} 1",
           "polycloud_gateway_upstream_attempts_total{deployment=\"az1\",outcome=\"failure\"} 1",
           "polycloud_gateway_upstream_attempts_total{deployment=\"az2\",outcome=\"success\"} 1",
           "polycloud_gateway_tokens_total{deployment=\"aw\",direction=\"input\"} 5",
           "polycloud_gateway_tokens_total{deployment=\"aw\",direction=\"output\"} 3",
           "polycloud_gateway_contract_refusals_total 1",
           "polycloud_gateway_rule_rejections_total 2",  // aw-only, then aw
           "polycloud_gateway_failed_attempts_total 1",
           "polycloud_gateway_overhead_seconds_count 3",
           "polycloud_gateway_upstream_latency_seconds_count{deployment=\"az1\"} 1",
       }) {
    EXPECT_NE(page.find(std::string(line) + "\n"), std::string::npos) << line << "\n" << page;
  }
  EXPECT_NE(page.find("polycloud_gateway_http_requests_total{"), std::string::npos);

  // `promtool check metrics` (Debian package prometheus) lints the page.
  const char* promtool = "/usr/bin/promtool";
  if (access(promtool, X_OK) != 0) {
    GTEST_SKIP() << "promtool is not installed (Debian package prometheus: "
                    "scripts/install-deps.sh test); the exposition format was not checked";
  }
  const std::string path = ::testing::TempDir() + "/polycloud_gateway_metrics.txt";
  std::ofstream(path) << page;
  FILE* pipe = popen((std::string(promtool) + " check metrics < " + path + " 2>&1").c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buf[512];
  while (size_t n = fread(buf, 1, sizeof buf, pipe)) output.append(buf, n);
  const int status = pclose(pipe);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << output;
  EXPECT_EQ(output, "");
}

TEST_F(GatewayTest, CompletionsAndEmbeddingsGoToTheirOwnRoutes) {
  Start();
  http::ClientResponse r =
      Send(kChatSecret, "POST", "/v1/completions", {{"model", "m"}, {"prompt", "Once"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(HeaderOf(r, "x-polycloud-deployment"), "aw");
  EXPECT_EQ((*r.Json())["choices"][0]["text"], "completed by aw");
  r = Send(kApiSecret, "POST", "/v1/embeddings", {{"model", "m"}, {"input", "hello"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(HeaderOf(r, "x-polycloud-deployment"), "az1");  // the exclusivity holds here too
  EXPECT_EQ((*r.Json())["data"][0]["embedding"][1], -0.5);
  EXPECT_EQ(az1_.last_model(), "");  // the fake's embeddings route does not record it
  r = Send(kApiSecret, "POST", "/v1/embeddings",
           {{"model", "m"}, {"input", "hello"}, {"stream", true}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(ErrorOf(r)["code"], "invalid_type");
}

TEST_F(GatewayTest, AnAnthropicDeploymentIsPassedOverForEmbeddingsWithTheReason) {
  Start();
  // mix-oa (OpenAI-shaped, aw's fake) and mix-an (Anthropic): embeddings only on the first.
  const http::ClientResponse r =
      Send(kChatSecret, "POST", "/v1/embeddings", {{"model", "mix"}, {"input", "x"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(HeaderOf(r, "x-polycloud-deployment"), "mix-oa");
  EXPECT_EQ(an_.requests(), 0);
}

TEST_F(GatewayTest, EveryAnswerHasARequestIdThatExplainsItsRouting) {
  Start();
  az1_.set_mode(FakeUpstream::Mode::kFail500);
  const http::ClientResponse r = Chat(kApiSecret);
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string id = HeaderOf(r, "x-request-id");
  ASSERT_EQ(id.rfind("req_", 0), 0u) << id;
  const http::ClientResponse e = Send(kApiSecret, "GET", "/v1/requests/" + id);
  ASSERT_EQ(e.status, 200) << e.body;
  const json x = *e.Json();
  EXPECT_EQ(x["id"], id);
  EXPECT_EQ(x["key"], "api-key");
  EXPECT_EQ(x["model"], "m");
  EXPECT_EQ(x["route"], "/v1/chat/completions");
  EXPECT_EQ(x["status"], 200);
  EXPECT_EQ(x["deployment"], "az2");
  EXPECT_EQ(x["policy"], "least-outstanding");
  ASSERT_EQ(x["candidates"].size(), 3u);  // az1, az2, aw
  EXPECT_EQ(x["candidates"][2]["deployment"], "aw");
  EXPECT_FALSE(x["candidates"][2]["admissible"]);
  EXPECT_EQ(
      x["candidates"][2]["verdict"].get<std::string>().rfind("forbidden: api is exclusive", 0), 0u)
      << x.dump();
  ASSERT_EQ(x["attempts"].size(), 2u);
  EXPECT_EQ(x["attempts"][0]["deployment"], "az1");
  EXPECT_EQ(x["attempts"][0]["outcome"], "HTTP 500");
  EXPECT_EQ(x["attempts"][1]["outcome"], "HTTP 200");
  EXPECT_EQ(x["input_tokens"], 5);
  EXPECT_EQ(x["output_tokens"], 3);
  EXPECT_EQ(x["cost_usd"], "0.000019");  // az2: 5 × $2/M + 3 × $3/M
  // Another key may not read it; an unknown id is 404 too.
  EXPECT_EQ(Send(kChatSecret, "GET", "/v1/requests/" + id).status, 404);
  EXPECT_EQ(ErrorOf(Send(kApiSecret, "GET", "/v1/requests/req_nope"))["code"], "request_not_found");
  // Refusals are explained as well.
  const http::ClientResponse refused = Chat(kApiSecret, "m-aws");
  ASSERT_EQ(refused.status, 503);
  const json rx =
      *Send(kApiSecret, "GET", "/v1/requests/" + HeaderOf(refused, "x-request-id")).Json();
  EXPECT_EQ(rx["status"], 503);
  EXPECT_EQ(rx["error"]["code"], "contract_forbids");
  EXPECT_TRUE(rx["attempts"].empty());
}

TEST_F(GatewayTest, AStreamIsExplainedWhenItEnds) {
  Start();
  const http::ClientResponse r = Send(
      kChatSecret, "POST", "/v1/chat/completions",
      {{"model", "m"}, {"stream", true}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}});
  ASSERT_EQ(r.status, 200);
  const std::string id = HeaderOf(r, "x-request-id");
  json x;
  for (int i = 0; i < 100; ++i) {  // kept as the relay ends, just after the client's last byte
    const http::ClientResponse e = Send(kChatSecret, "GET", "/v1/requests/" + id);
    if (e.status == 200) {
      x = *e.Json();
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(x["stream"], true) << x.dump();
  EXPECT_EQ(x["stream_end"], "complete");
  EXPECT_EQ(x["deployment"], "aw");
}

TEST_F(GatewayTest, AKeysRequestLimitAnswers429WithRetryAfterUntilTheBucketRefills) {
  Start("  - {id: small, secret_sha256: " + HashKeySecret("s-small") +
        ", workload_class: chat, limits: {requests_per_minute: 2}}\n");
  const http::ClientResponse first = Chat("s-small");
  ASSERT_EQ(first.status, 200);
  EXPECT_EQ(HeaderOf(first, "x-ratelimit-limit-requests"), "");  // only on refusals
  ASSERT_EQ(Chat("s-small").status, 200);
  const http::ClientResponse r = Chat("s-small");
  ASSERT_EQ(r.status, 429) << r.body;
  EXPECT_EQ(ErrorOf(r)["code"], "rate_limit_exceeded");
  EXPECT_EQ(ErrorOf(r)["type"], "requests");
  EXPECT_EQ(HeaderOf(r, "Retry-After"), "30");  // one request refills in 30 s
  EXPECT_EQ(HeaderOf(r, "x-ratelimit-limit-requests"), "2");
  EXPECT_EQ(HeaderOf(r, "x-ratelimit-remaining-requests"), "0");
  EXPECT_EQ(aw_.requests(), 2);
  clock_.Advance(29);
  EXPECT_EQ(Chat("s-small").status, 429);
  clock_.Advance(1);
  EXPECT_EQ(Chat("s-small").status, 200);
  // Other keys are not limited by it.
  EXPECT_EQ(Chat(kChatSecret).status, 200);
}

TEST_F(GatewayTest, AKeysTokenLimitChargesTheAnswersUsage) {
  Start("  - {id: tok, secret_sha256: " + HashKeySecret("s-tok") +
        ", workload_class: chat, limits: {tokens_per_minute: 10}}\n");
  ASSERT_EQ(Chat("s-tok").status, 200);  // 8 tokens: 2 left
  ASSERT_EQ(Chat("s-tok").status, 200);  // admitted with 2 left; now 6 over
  const http::ClientResponse r = Chat("s-tok");
  ASSERT_EQ(r.status, 429);
  EXPECT_EQ(ErrorOf(r)["type"], "tokens");
  clock_.Advance(36);  // 10 a minute: 6 over + 1 needs 42 s
  EXPECT_EQ(Chat("s-tok").status, 429);
  clock_.Advance(6);
  EXPECT_EQ(Chat("s-tok").status, 200);
}

TEST_F(GatewayTest, ABudgetRefusesOnceTheKeyHasSpentItAndUsageShowsWhere) {
  // aw: 5 × $0.5/M + 3 × $1/M = $0.0000055 a request; a $0.00001 budget holds two.
  Start("  - {id: budget, secret_sha256: " + HashKeySecret("s-b") +
        ", workload_class: chat, limits: {budget: 0.00001}}\n");
  ASSERT_EQ(Chat("s-b").status, 200);
  ASSERT_EQ(Chat("s-b").status, 200);
  const http::ClientResponse r = Chat("s-b");
  ASSERT_EQ(r.status, 429) << r.body;
  EXPECT_EQ(ErrorOf(r)["code"], "insufficient_quota");
  EXPECT_EQ(HeaderOf(r, "Retry-After"), "");
  const json u = *Send("s-b", "GET", "/v1/usage").Json();
  EXPECT_EQ(u["key"], "budget");
  EXPECT_EQ(u["requests"], 2);
  EXPECT_EQ(u["input_tokens"], 10);
  EXPECT_EQ(u["output_tokens"], 6);
  EXPECT_EQ(u["spend_usd"], "0.000011");
  EXPECT_EQ(u["limits"]["budget_usd"], "0.000010");
  EXPECT_EQ(u["limits"]["budget_left_usd"], "0.000000");
  ASSERT_EQ(u["by_deployment"].size(), 1u);
  EXPECT_EQ(u["by_deployment"][0]["deployment"], "aw");
  // Spend under a contract is grouped by it.
  ASSERT_EQ(Chat(kApiSecret).status, 200);  // az1, under azure-deal
  const json a = *Send(kApiSecret, "GET", "/v1/usage").Json();
  EXPECT_EQ(a["by_contract"]["azure-deal"], "0.000011");  // 5 × $1/M + 3 × $2/M
}

TEST_F(GatewayTest, TheLatencyPolicyPrefersTheDeploymentThatAnswersFaster) {
  Start("routing: {services: {}, policy: latency}\n");
  az1_.set_delay_ms(60);
  // Both unmeasured: config order, az1 first, then az2 (unmeasured goes first).
  EXPECT_EQ(HeaderOf(Chat(kApiSecret), "x-polycloud-deployment"), "az1");
  EXPECT_EQ(HeaderOf(Chat(kApiSecret), "x-polycloud-deployment"), "az2");
  for (int i = 0; i < 3; ++i) {
    const http::ClientResponse r = Chat(kApiSecret);
    EXPECT_EQ(HeaderOf(r, "x-polycloud-deployment"), "az2");
    EXPECT_NE(HeaderOf(r, "x-polycloud-rule").find("lowest recent latency"), std::string::npos);
  }
  EXPECT_GT(gateway_->routing().latency_us(0), 50'000);
  EXPECT_LT(gateway_->routing().latency_us(1), 50'000);
}

TEST_F(GatewayTest, AccountingIsWrittenToTheStoreAndABudgetHoldsAcrossARestart) {
  const std::string path =
      ::testing::TempDir() + "/gateway_usage_" + std::to_string(::getpid()) + ".db";
  std::remove(path.c_str());
  Result<std::unique_ptr<store::Store>> store = store::OpenStore("sqlite:" + path);
  ASSERT_TRUE(store.ok()) << store.status().message();
  usage_store_ = store->get();
  const std::string keys = "  - {id: budget, secret_sha256: " + HashKeySecret("s-b") +
                           ", workload_class: chat, limits: {budget: 0.00001}}\n";
  Start(keys);
  ASSERT_EQ(Chat("s-b").status, 200);
  ASSERT_EQ(Chat(kApiSecret).status, 200);  // az1, under azure-deal
  ASSERT_TRUE(gateway_->FlushUsage().ok());
  Result<std::vector<store::UsageRow>> rows = (*store)->ReadUsage();
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].day, "2026-03-01");
  EXPECT_EQ((*rows)[0].key, "api-key");
  EXPECT_EQ((*rows)[0].deployment, "az1");
  EXPECT_EQ((*rows)[0].contract, "azure-deal");
  EXPECT_EQ((*rows)[0].requests, 1);
  EXPECT_EQ((*rows)[0].input_tokens, 5);
  EXPECT_EQ((*rows)[0].output_tokens, 3);
  EXPECT_EQ((*rows)[0].input_price_micros, 1'000'000);
  EXPECT_EQ((*rows)[1].key, "budget");
  EXPECT_EQ((*rows)[1].deployment, "aw");
  ASSERT_EQ(Chat("s-b").status, 200);  // $0.000011 spent now; written by the background thread
  // A restart: the new gateway reads what was spent, and the budget holds.
  server_->Stop();
  server_.reset();
  gateway_.reset();  // its last flush
  EXPECT_EQ((*store)->ReadUsage()->at(1).requests, 2);
  Start(keys);
  const http::ClientResponse r = Chat("s-b");
  EXPECT_EQ(r.status, 429) << r.body;
  EXPECT_EQ(ErrorOf(r)["code"], "insufficient_quota");
  EXPECT_EQ((*Send("s-b", "GET", "/v1/usage").Json())["spend_usd"], "0.000011");
  server_->Stop();
  server_.reset();
  gateway_.reset();
  usage_store_ = nullptr;
  std::remove(path.c_str());
}

TEST_F(GatewayTest, MeasuredDemandIsPublishedPerServiceToTheBroker) {
  // The broker's demand endpoint, as `serve` has it.
  std::mutex mu;
  std::vector<std::pair<std::string, json>> posts;
  std::string authorization;
  http::Router router;
  router.Add("POST", "/v1/services/{id}/demand", [&](const http::Request& r) {
    std::lock_guard<std::mutex> lock(mu);
    posts.emplace_back(std::string(r.Param("id")), json::parse(r.body));
    authorization = r.bearer_token.value_or("");
    return http::Response::Json(200, {{"ok", true}});
  });
  http::ServerOptions options;
  options.port = 0;
  auto broker = std::move(http::Server::Start(options, std::move(router))).value();
  DemandPublishing publishing;
  publishing.broker = {"127.0.0.1", broker->port()};
  publishing.token = "operator-token";
  publishing.every = Duration::Seconds(3600);  // only when the test asks
  demand_ = publishing;
  Start("  - {id: svc-key, secret_sha256: " + HashKeySecret("s-svc") + ", service: chat-svc}\n");
  for (int i = 0; i < 15; ++i) ASSERT_EQ(Chat("s-svc").status, 200);  // 15 × 8 tokens
  ASSERT_TRUE(gateway_->PublishDemand().ok());
  {
    std::lock_guard<std::mutex> lock(mu);
    ASSERT_FALSE(posts.empty());
    EXPECT_EQ(posts.back().first, "chat-svc");
    EXPECT_EQ(posts.back().second, json({{"tokens_per_s", 2}}));  // 120 tokens in a minute
    EXPECT_EQ(authorization, "operator-token");
  }
  clock_.Advance(61);  // the minute has passed: idle
  ASSERT_TRUE(gateway_->PublishDemand().ok());
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(posts.back().second, json({{"tokens_per_s", 0}}));
  }
  broker->Stop();
}

TEST_F(GatewayTest, KeepsConnectionsToAnUpstreamAliveAcrossRequests) {
  Start();
  for (int i = 0; i < 5; ++i) ASSERT_EQ(Chat(kChatSecret).status, 200);
  EXPECT_EQ(aw_.requests(), 5);
  EXPECT_EQ(aw_.open_connections(), 1u);  // one connection, kept in the pool between requests
}

// An UpstreamClient on an io_context run by a thread of its own, and a chat
// request to `up`.
class UpstreamClientHarness {
 public:
  explicit UpstreamClientHarness(const FakeUpstream& up) : work_(ioc_.get_executor()) {
    runner_ = std::thread([this] { ioc_.run(); });
    request.host = "127.0.0.1";
    request.port =
        static_cast<uint16_t>(std::stoi(up.base_url().substr(up.base_url().rfind(':') + 1)));
    request.target = "/v1/chat/completions";
    request.body = R"({"model":"m","messages":[]})";
  }
  ~UpstreamClientHarness() {
    client_.reset();  // before the io_context stops
    work_.reset();
    runner_.join();
  }
  UpstreamClient& client() { return *client_; }
  UpstreamRequest request;

 private:
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread runner_;
  std::unique_ptr<UpstreamClient> client_ = std::make_unique<UpstreamClient>(ioc_);
};

TEST(GatewayUpstreamTest, AConnectionTheUpstreamClosedWhileIdleIsReplacedWithoutAFailure) {
  FakeUpstream up("up", std::chrono::milliseconds(100));  // closes idle connections after 0.1 s
  {
    UpstreamClientHarness h(up);
    for (int i = 0; i < 3; ++i) {
      std::promise<Result<std::string>> answered;
      h.client().Start(h.request, [&](Status opened, std::shared_ptr<UpstreamClient::Call> call) {
        if (!opened.ok()) return answered.set_value(opened);
        EXPECT_EQ(call->status(), 200);
        call->ReadAll(1 << 20, [&, call](Result<std::string> body) { answered.set_value(body); });
      });
      Result<std::string> body = answered.get_future().get();
      ASSERT_TRUE(body.ok()) << body.status().message();
      // The answer read whole, its connection goes back to the pool.
      for (int wait = 0; wait < 100 && h.client().idle_connections() == 0; ++wait) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      EXPECT_EQ(h.client().idle_connections(), 1u);
      std::this_thread::sleep_for(
          std::chrono::milliseconds(250));  // the pooled one is closed by now
    }
  }
  EXPECT_EQ(up.requests(), 3);
}

TEST(GatewayUpstreamTest, ACallThatGetsNoAnswerInTimeSaysSo) {
  FakeUpstream up("up");
  up.set_delay_ms(1000);
  UpstreamClientHarness h(up);
  h.request.timeout = std::chrono::milliseconds(100);
  std::promise<Status> opened;
  h.client().Start(h.request,
                   [&](Status s, std::shared_ptr<UpstreamClient::Call>) { opened.set_value(s); });
  const Status s = opened.get_future().get();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("timed out after 100 ms"), std::string::npos) << s.message();
  EXPECT_EQ(h.client().idle_connections(), 0u);
}
}  // namespace
}  // namespace polycloud::gateway
