// The API end to end over loopback: a real HTTP server, a real SQLite store
// in a temporary folder, the broker, and sim sites on a virtual clock.
#include "polycloud/serve/api.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include "polycloud/base/parse.h"
#include "polycloud/http/client.h"
#include "polycloud/sites/factory.h"
#include "tests/testing/scenario_fixture.h"

namespace polycloud::serve {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using polycloud::testing::T;

const char* kFleet = R"(
name: api
start: 2026-01-01
end: 2027-01-01
providers: [{id: azure}, {id: aws}]
contracts:
  - {id: deal, provider: azure, start: 2026-01-01, end: 2027-01-01, committed_usd: 1M, take_or_pay: true}
sites:
  - {id: az, provider: azure, backend: {kind: sim}}
  - {id: aw, provider: aws}
pools:
  - {id: az-h100, site: az, accelerator: H100, pricing: on-demand, gpus: 16, price_per_gpu_hour: 2, contract: deal}
  - {id: aw-h100, site: aw, accelerator: H100, pricing: on-demand, gpus: 16, price_per_gpu_hour: 4}
services:
  - {id: chat, model: m, class: chat, gpus_per_replica: 8, replica_tokens_per_s: 100, demand: 100}
tenants:
  - {id: research, max_gpus: 8}
  - {id: lab, spend_per_month: 50, class_spend_per_month: {batch: 10}}
)";

class ApiTest : public ::testing::Test {
 protected:
  virtual const char* Fleet() const { return kFleet; }
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("polycloud-api-test-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    auto store = store::OpenStore("sqlite:" + (dir_ / "polycloud.db").string());
    ASSERT_TRUE(store.ok()) << store.status().message();
    store_ = std::move(*store);
    world::World w = polycloud::testing::LoadWorld(Fleet());
    auto drivers = MakeSiteDrivers(w, clock_);
    ASSERT_TRUE(drivers.ok()) << drivers.status().message();
    broker_ = std::make_unique<Broker>(std::move(w), BrokerOptions{}, store_.get(),
                                       std::move(*drivers), &clock_);
    ASSERT_TRUE(broker_->Start().ok());
    api_ = std::make_unique<Api>(broker_.get(), store_.get(), &clock_);
    api_->SetReady(true);
    http::ServerOptions options;
    options.port = 0;
    options.threads = 4;
    auto server = http::Server::Start(options, api_->MakeRouter());
    ASSERT_TRUE(server.ok()) << server.status().message();
    server_ = std::move(*server);
    api_->AttachServer(server_.get());
    admin_ = AddToken("admin", "");
    operator_ = AddToken("operator", "");
    research_ = AddToken("tenant", "research");
    product_ = AddToken("tenant", "product");
  }
  void TearDown() override {
    server_->Stop();
    fs::remove_all(dir_);
  }
  std::string AddToken(const std::string& role, const std::string& tenant) {
    const NewToken t = GenerateToken();
    EXPECT_TRUE(store_->PutToken({t.id, HashToken(t.secret), role, tenant, 0, false}).ok());
    return t.secret;
  }
  http::Client Client(const std::string& token) {
    http::ClientOptions o;
    o.address.port = server_->port();
    o.bearer_token = token;
    return http::Client(o);
  }
  http::ClientResponse Post(const std::string& token, const std::string& target,
                            const std::string& body, const std::string& key = "") {
    http::ClientRequest r;
    r.method = "POST";
    r.target = target;
    r.body = body;
    r.content_type = "application/json";
    if (!key.empty()) r.headers.push_back({"Idempotency-Key", key});
    auto out = Client(token).Send(r);
    EXPECT_TRUE(out.ok()) << out.status().message();
    return out.ok() ? *out : http::ClientResponse{};
  }
  http::ClientResponse Get(const std::string& token, const std::string& target) {
    auto out = Client(token).Get(target);
    EXPECT_TRUE(out.ok()) << out.status().message();
    return out.ok() ? *out : http::ClientResponse{};
  }

  fs::path dir_;
  VirtualClock clock_{T("2026-03-01")};
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Broker> broker_;
  std::unique_ptr<Api> api_;
  std::unique_ptr<http::Server> server_;
  std::string admin_, operator_, research_, product_;
};

TEST_F(ApiTest, TheOpenApiDocumentListsExactlyTheRoutes) {
  const json& doc = OpenApiDocument();
  http::Router router = api_->MakeRouter();
  size_t operations = 0;
  for (const auto& route : router.routes()) {
    std::string method = route->method;
    for (char& c : method) c = static_cast<char>(std::tolower(c));
    ASSERT_TRUE(doc["paths"].contains(route->pattern)) << route->pattern;
    EXPECT_TRUE(doc["paths"][route->pattern].contains(method))
        << route->method << " " << route->pattern;
    ++operations;
  }
  size_t documented = 0;
  for (const auto& [path, ops] : doc["paths"].items()) documented += ops.size();
  EXPECT_EQ(documented, operations);
  // And it is what the server serves.
  auto served = Get("", "/v1/openapi.json");
  EXPECT_EQ(served.status, 200);
  EXPECT_EQ(json::parse(served.body), doc);
}

TEST_F(ApiTest, TheDashboardIsServedFromTheBinaryWithItsContentTypesAndAStrictPolicy) {
  for (const std::string path : {"/", "/dashboard"}) {
    auto page = Get("", path);  // no token: the page asks for one
    ASSERT_EQ(page.status, 200) << path;
    EXPECT_EQ(page.Header("Content-Type").value_or(""), "text/html; charset=utf-8");
    EXPECT_NE(page.body.find("/assets/dashboard.js"), std::string::npos);
    const std::string csp(page.Header("Content-Security-Policy").value_or(""));
    EXPECT_NE(csp.find("default-src 'none'"), std::string::npos) << csp;
    EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << csp;
    EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos) << csp;
    EXPECT_EQ(page.Header("X-Content-Type-Options").value_or(""), "nosniff");
    EXPECT_EQ(page.Header("Cache-Control").value_or(""), "no-cache");
  }
  const std::map<std::string, std::string> types = {
      {"uPlot.iife.min.js", "text/javascript; charset=utf-8"},
      {"uPlot.min.css", "text/css; charset=utf-8"},
      {"report.js", "text/javascript; charset=utf-8"},
      {"report.css", "text/css; charset=utf-8"},
      {"dashboard.js", "text/javascript; charset=utf-8"},
      {"dashboard.css", "text/css; charset=utf-8"},
      {"uPlot-LICENSE.txt", "text/plain; charset=utf-8"}};
  for (const auto& [name, type] : types) {
    auto asset = Get("", "/assets/" + name);
    ASSERT_EQ(asset.status, 200) << name;
    EXPECT_EQ(asset.Header("Content-Type").value_or(""), type) << name;
    EXPECT_GT(asset.body.size(), 100u) << name;
    EXPECT_TRUE(asset.Header("Content-Security-Policy").has_value()) << name;
  }
  EXPECT_EQ(Get("", "/assets/nothing.js").status, 404);
  EXPECT_EQ(Get("", "/assets/..%2Fpolycloud.db").status, 404);
}

TEST_F(ApiTest, AnAssetsETagAnswersNotModifiedAndChangesWithItsBytes) {
  auto first = Get("", "/assets/report.js");
  ASSERT_EQ(first.status, 200);
  const std::string etag(first.Header("ETag").value_or(""));
  ASSERT_EQ(etag.size(), 34u) << etag;  // a quoted strong tag of 32 hex digits
  http::ClientRequest again;
  again.target = "/assets/report.js";
  again.headers.push_back({"If-None-Match", etag});
  auto cached = Client("").Send(again);
  ASSERT_TRUE(cached.ok());
  EXPECT_EQ(cached->status, 304);
  EXPECT_TRUE(cached->body.empty());
  EXPECT_EQ(cached->Header("ETag").value_or(""), etag);
  // Another file has another tag; a stale tag gets the file again.
  EXPECT_NE(Get("", "/assets/dashboard.js").Header("ETag").value_or(""), etag);
  again.headers = {{"If-None-Match", "\"0123\""}};
  auto stale = Client("").Send(again);
  ASSERT_TRUE(stale.ok());
  EXPECT_EQ(stale->status, 200);
  EXPECT_EQ(stale->body, first.body);
}

TEST_F(ApiTest, TheReportIsForOperatorsAndAdminsOnly) {
  ASSERT_EQ(Post(research_, "/v1/jobs", R"({"id": "r-1", "gpus": 8, "work_gpu_hours": 8})").status,
            201);
  EXPECT_EQ(Get("", "/v1/report").status, 401);
  EXPECT_EQ(Get("not-a-token", "/v1/report").status, 401);
  auto tenant = Get(research_, "/v1/report");
  EXPECT_EQ(tenant.status, 403);
  ASSERT_TRUE(tenant.Error().has_value());
  EXPECT_EQ(tenant.Error()->code, "forbidden");
  EXPECT_EQ(Get(operator_, "/v1/report").status, 200);
  EXPECT_EQ(Get(admin_, "/v1/report").status, 200);
  // Whoami says who a token is, for every role, and nothing without one.
  EXPECT_EQ(Get("", "/v1/whoami").status, 401);
  json who = json::parse(Get(research_, "/v1/whoami").body);
  EXPECT_EQ(who["role"], "tenant");
  EXPECT_EQ(who["tenant"], "research");
  EXPECT_EQ(who["id"].get<std::string>().substr(0, 4), "tok_");
  EXPECT_TRUE(json::parse(Get(operator_, "/v1/whoami").body)["tenant"].is_null());
  // A tenant's dashboard lists its own jobs only; the other tenant sees none of them.
  json mine = json::parse(Get(research_, "/v1/jobs").body);
  ASSERT_EQ(mine["jobs"].size(), 1u);
  EXPECT_EQ(json::parse(Get(product_, "/v1/jobs").body)["jobs"].size(), 0u);
  EXPECT_EQ(Get(product_, "/v1/jobs/r-1/explain").status, 404);
  EXPECT_EQ(Get(research_, "/v1/sites").status, 403);
  EXPECT_EQ(Get(research_, "/v1/events").status, 403);
}

TEST_F(ApiTest, AViewerReadsWhatAnOperatorReadsAndChangesNothing) {
  const std::string viewer = AddToken("viewer", "");
  ASSERT_EQ(Post(research_, "/v1/jobs", R"({"id": "r-1", "gpus": 8, "work_gpu_hours": 8})").status,
            201);
  for (const char* path : {"/v1/report", "/v1/sites", "/v1/pools", "/v1/contracts", "/v1/jobs/r-1",
                           "/v1/jobs/r-1/explain", "/v1/services/chat/explain"}) {
    EXPECT_EQ(Get(viewer, path).status, 200) << path;
  }
  EXPECT_EQ(json::parse(Get(viewer, "/v1/jobs").body)["jobs"].size(), 1u);  // every tenant's
  EXPECT_EQ(json::parse(Get(viewer, "/v1/whoami").body)["role"], "viewer");
  // No change: submit, cancel, demand, tokens; and no admin-only data.
  EXPECT_EQ(Post(viewer, "/v1/jobs", R"({"gpus": 8, "work_gpu_hours": 8})").status, 403);
  http::ClientRequest cancel;
  cancel.method = "DELETE";
  cancel.target = "/v1/jobs/r-1";
  auto cancelled = Client(viewer).Send(cancel);
  ASSERT_TRUE(cancelled.ok());
  EXPECT_EQ(cancelled->status, 403);
  EXPECT_EQ(json::parse(Get(admin_, "/v1/jobs/r-1").body)["status"], "queued");
  EXPECT_EQ(Post(viewer, "/v1/services/chat/demand", R"({"tokens_per_s": 5})").status, 403);
  EXPECT_EQ(Post(viewer, "/v1/tokens", R"({"role": "admin"})").status, 403);
  EXPECT_EQ(Get(viewer, "/v1/tenants").status, 403);
  // An admin makes viewer tokens like any other.
  auto made = Post(admin_, "/v1/tokens", R"({"role": "viewer"})");
  EXPECT_EQ(made.status, 201) << made.body;
}

TEST_F(ApiTest, TheReportIsTheSimulateJsonDocumentOfTheRunSoFar) {
  ASSERT_EQ(Post(operator_, "/v1/jobs", R"({"id": "a-1", "gpus": 8, "work_gpu_hours": 80})").status,
            201);
  ASSERT_EQ(Post(research_, "/v1/jobs",
                 R"({"id": "r-1", "gpus": 8, "work_gpu_hours": 8, "class": "research"})")
                .status,
            201);
  ASSERT_TRUE(broker_->Tick().ok());
  clock_.AdvanceTo(T("2026-03-01") + Duration::Seconds(600));
  ASSERT_TRUE(broker_->Tick().ok());
  auto r = Get(operator_, "/v1/report");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Header("Content-Type").value_or(""), "application/json");
  EXPECT_EQ(r.Header("Cache-Control").value_or(""), "no-store");
  json d = json::parse(r.body);
  EXPECT_EQ(d["schema"], "polycloud.report/1");
  EXPECT_EQ(d["scenario"], "api");
  EXPECT_EQ(d["start"], "2026-03-01T00:00:00Z");  // the core's start, not the scenario's
  EXPECT_EQ(d["end"], "2026-03-01T00:10:00Z");    // now
  for (const char* key : {"total", "cost", "providers", "sites", "pools", "contracts", "jobs",
                          "services", "compliance", "timeseries", "workloads"}) {
    EXPECT_TRUE(d.contains(key)) << key;
  }
  // Jobs submitted at run time are counted and listed.
  const json& all = d["jobs"].back();
  EXPECT_EQ(all["class"], "all");
  EXPECT_EQ(all["total"], 2);
  EXPECT_EQ(d["workloads"]["jobs_total"], 2);
  ASSERT_EQ(d["workloads"]["jobs"].size(), 2u);
  EXPECT_EQ(d["workloads"]["jobs"][0]["id"], "a-1");
  EXPECT_EQ(d["workloads"]["jobs"][0]["timeline"][0]["event"], "job-arrived");
  // Ten one-minute buckets, every series as long.
  const json& ts = d["timeseries"];
  EXPECT_EQ(ts["bucket_seconds"], 60);
  EXPECT_EQ(ts["buckets"], 10);
  ASSERT_EQ(ts["providers"].size(), 2u);
  for (const json& p : ts["providers"]) {
    EXPECT_EQ(p["used_gpus"].size(), 10u);
    EXPECT_EQ(p["installed_gpus"].size(), 10u);
  }
  EXPECT_EQ(ts["providers"][0]["used_gpus"][5].get<double>() +
                ts["providers"][1]["used_gpus"][5].get<double>(),
            24.0);  // both jobs and the service's replica
  ASSERT_FALSE(ts["classes"].empty());
  EXPECT_EQ(ts["classes"][0]["queued_mean"].size(), 10u);
  // The contract's spend so far, one figure per day begun.
  const json& deal = d["contracts"][0];
  EXPECT_EQ(deal["id"], "deal");
  EXPECT_EQ(deal["cumulative_spend_by_day"]["micros"].size(), 1u);
  EXPECT_EQ(d["compliance"]["exclusivity_violations"], 0);
}

TEST_F(ApiTest, SubmitGetListCancelAndExplainWithTenantsSeeingTheirOwnWork) {
  EXPECT_EQ(Post("", "/v1/jobs", R"({"gpus": 8, "work_gpu_hours": 8})").status, 401);
  EXPECT_EQ(Post("not-a-token", "/v1/jobs", R"({"gpus": 8, "work_gpu_hours": 8})").status, 401);

  auto created =
      Post(research_, "/v1/jobs", R"({"id": "train-1", "gpus": 8, "work_gpu_hours": 16})");
  ASSERT_EQ(created.status, 201) << created.body;
  json job = json::parse(created.body);
  EXPECT_EQ(job["id"], "train-1");
  EXPECT_EQ(job["tenant"], "research");
  EXPECT_EQ(job["status"], "queued");
  ASSERT_TRUE(broker_->Tick().ok());  // placed, dispatched to the sim site
  job = json::parse(Get(research_, "/v1/jobs/train-1").body);
  EXPECT_EQ(job["status"], "running");
  EXPECT_EQ(job["site"], "az");
  EXPECT_FALSE(job["site_job"].is_null());

  // Another tenant neither sees nor cancels it; an operator sees everything.
  EXPECT_EQ(Get(product_, "/v1/jobs/train-1").status, 404);
  EXPECT_EQ(Client(product_).Delete("/v1/jobs/train-1")->status, 404);
  EXPECT_EQ(json::parse(Get(product_, "/v1/jobs").body)["jobs"].size(), 0u);
  EXPECT_EQ(json::parse(Get(operator_, "/v1/jobs").body)["jobs"].size(), 1u);
  EXPECT_EQ(Get(research_, "/v1/pools").status, 403);

  auto explained = Get(research_, "/v1/jobs/train-1/explain");
  ASSERT_EQ(explained.status, 200);
  EXPECT_NE(json::parse(explained.body)["explanation"].get<std::string>().find("train-1"),
            std::string::npos);

  auto cancelled = Client(research_).Delete("/v1/jobs/train-1");
  ASSERT_TRUE(cancelled.ok());
  EXPECT_EQ(cancelled->status, 200);
  EXPECT_EQ(json::parse(cancelled->body)["status"], "cancelled");
  EXPECT_EQ(Client(research_).Delete("/v1/jobs/train-1")->status, 409);  // already finished

  // The audit trail names the token, never its secret.
  auto audit = store_->ReadAudit(100);
  ASSERT_TRUE(audit.ok());
  ASSERT_GE(audit->size(), 2u);
  for (const auto& e : *audit) EXPECT_EQ(e.token_id.find("pc_"), std::string::npos);
}

TEST_F(ApiTest, AnIdempotencyKeyReturnsTheFirstJobAndBadBodiesNameTheField) {
  auto first = Post(research_, "/v1/jobs", R"({"gpus": 8, "work_gpu_hours": 8})", "k-1");
  auto again = Post(research_, "/v1/jobs", R"({"gpus": 8, "work_gpu_hours": 8})", "k-1");
  ASSERT_EQ(first.status, 201);
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(json::parse(first.body)["id"], json::parse(again.body)["id"]);

  auto wrong = Post(research_, "/v1/jobs", R"({"gpus": "8", "work_gpu_hours": 8})");
  EXPECT_EQ(wrong.status, 400);
  EXPECT_EQ(wrong.Error()->code, "wrong_type");
  EXPECT_EQ(wrong.Error()->pointer, "/gpus");
  auto unknown = Post(research_, "/v1/jobs", R"({"gpus": 8, "work_gpu_hours": 8, "colour": 1})");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_EQ(unknown.Error()->code, "unknown_field");
  auto accel =
      Post(research_, "/v1/jobs", R"({"gpus": 8, "work_gpu_hours": 8, "accelerators": ["Z9"]})");
  EXPECT_EQ(accel.status, 400);
  EXPECT_EQ(accel.Error()->pointer, "/accelerators/0");
  auto other_tenant =
      Post(research_, "/v1/jobs", R"({"gpus": 8, "work_gpu_hours": 8, "tenant": "product"})");
  EXPECT_EQ(other_tenant.status, 403);
  EXPECT_EQ(Post(research_, "/v1/jobs", "{").status, 400);
  // Nothing of the refused ones was stored: one job.
  EXPECT_EQ(broker_->core().job_count(), 1);
}

TEST_F(ApiTest, ConcurrentSubmitsAreAnsweredAfterSharedCommitsEachWithItsAuditRow) {
  // More submissions in flight than the server has threads (4): the route
  // is asynchronous, so they wait for the committer, not on a thread each.
  constexpr int kThreads = 24, kEach = 6;
  std::vector<std::vector<std::string>> ids(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        // Every thread's first submit shares one key: one job for all of them.
        const std::string key =
            i == 0 ? "shared" : "k-" + std::to_string(t) + "-" + std::to_string(i);
        auto out = Post(research_, "/v1/jobs", R"({"gpus": 8, "work_gpu_hours": 1})", key);
        ids[t].push_back(out.status == 201 || out.status == 200
                             ? json::parse(out.body)["id"].get<std::string>()
                             : "status " + std::to_string(out.status));
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> distinct;
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(ids[t].size(), static_cast<size_t>(kEach));
    EXPECT_EQ(ids[t][0], ids[0][0]) << "the shared key answers the first job";
    for (const std::string& id : ids[t]) {
      EXPECT_EQ(id.rfind("j-", 0), 0u) << id;
      distinct.insert(id);
    }
  }
  EXPECT_EQ(distinct.size(), static_cast<size_t>(kThreads * (kEach - 1) + 1));
  // One audit row per submission, naming the job it answered.
  auto audit = store_->ReadAudit(10'000);
  ASSERT_TRUE(audit.ok());
  std::map<std::string, int> rows;
  for (const auto& e : *audit) {
    if (e.action == "POST /v1/jobs" && e.outcome == "ok") ++rows[e.target];
  }
  EXPECT_EQ(rows.size(), distinct.size());
  EXPECT_EQ(rows[ids[0][0]], kThreads);
  // Every acknowledged job is in the durable log.
  auto commands = store_->ReadCommands(0);
  ASSERT_TRUE(commands.ok());
  size_t submits = 0;
  for (const auto& c : *commands) submits += c.json.find("\"submit-job\"") != std::string::npos;
  EXPECT_EQ(submits, distinct.size());
  EXPECT_LT(broker_->counters().batches, kThreads * kEach);
}

TEST_F(ApiTest, TokensServicesContractsAndMetrics) {
  auto token = Post(admin_, "/v1/tokens", R"({"role": "tenant", "tenant": "infra"})");
  ASSERT_EQ(token.status, 201) << token.body;
  const std::string secret = json::parse(token.body)["token"];
  EXPECT_EQ(Post(secret, "/v1/jobs", R"({"gpus": 1, "work_gpu_hours": 1})").status, 201);
  EXPECT_EQ(Post(operator_, "/v1/tokens", R"({"role": "admin"})").status, 403);

  EXPECT_EQ(Post(operator_, "/v1/services/chat/demand", R"({"tokens_per_s": 250})").status, 200);
  EXPECT_EQ(Post(operator_, "/v1/services/nope/demand", R"({"tokens_per_s": 250})").status, 404);
  ASSERT_TRUE(broker_->Tick().ok());
  auto contracts = json::parse(Get(operator_, "/v1/contracts").body);
  ASSERT_EQ(contracts["contracts"].size(), 1u);
  EXPECT_EQ(contracts["contracts"][0]["id"], "deal");
  EXPECT_EQ(contracts["contracts"][0]["gateway_spent_usd"], "0.000000");
  EXPECT_EQ(contracts["contracts"][0]["total_spent_usd"], contracts["contracts"][0]["spent_usd"]);
  auto money = [](const json& v) { return ParseScaledDecimal(v.get<std::string>(), 6).value(); };
  const int64_t shortfall_before = money(contracts["contracts"][0]["shortfall_projected_usd"]);
  // What `polycloud gateway` accounted to the same store counts toward the
  // contract its deployment names: 1M input tokens at $2.50/M, 0.5M output at $10/M.
  ASSERT_TRUE(store_
                  ->AddUsage({{"2026-01-01", "app", "dep", "deal", 2'500'000, 10'000'000, 3,
                               1'000'000, 500'000},
                              {"2026-01-01", "app", "other", "", 1'000'000, 0, 1, 7, 0}})
                  .ok());
  contracts = json::parse(Get(operator_, "/v1/contracts").body);
  EXPECT_EQ(contracts["contracts"][0]["gateway_spent_usd"], "7.500000");
  const int64_t gpus =
      ParseScaledDecimal(contracts["contracts"][0]["spent_usd"].get<std::string>(), 6).value();
  EXPECT_EQ(contracts["contracts"][0]["total_spent_usd"],
            FormatMoneyExact(Money::FromMicros(gpus + 7'500'000)));
  // The take-or-pay term counts it too. That day is older than the 28 days
  // the projection reads, so nothing more is projected from it.
  EXPECT_EQ(contracts["contracts"][0]["gateway_projected_after_usd"], "0.000000");
  EXPECT_EQ(money(contracts["contracts"][0]["shortfall_projected_usd"]),
            shortfall_before - 7'500'000);
  // $2.80 on 2026-02-20, inside the last 28 days: $0.10 a day projected over
  // the 306 days from 2026-03-01 to the term's end, $30.60.
  ASSERT_TRUE(
      store_
          ->AddUsage({{"2026-02-20", "app", "dep", "deal", 2'500'000, 10'000'000, 1, 1'120'000, 0}})
          .ok());
  contracts = json::parse(Get(operator_, "/v1/contracts").body);
  EXPECT_EQ(contracts["contracts"][0]["gateway_spent_usd"], "10.300000");
  EXPECT_EQ(contracts["contracts"][0]["gateway_projected_after_usd"], "30.600000");
  EXPECT_EQ(money(contracts["contracts"][0]["shortfall_projected_usd"]),
            shortfall_before - 7'500'000 - 2'800'000 - 30'600'000);

  auto metrics = Get("", "/metrics");
  ASSERT_EQ(metrics.status, 200);
  for (const char* family : {"polycloud_commands_total", "polycloud_queue_length",
                             "polycloud_spend_rate_usd_per_day", "polycloud_http_requests_total"}) {
    EXPECT_NE(metrics.body.find(family), std::string::npos) << family;
  }
  const char* promtool = "/usr/bin/promtool";
  if (access(promtool, X_OK) == 0) {
    const fs::path file = dir_ / "metrics.txt";
    std::ofstream(file) << metrics.body;
    const std::string command =
        std::string(promtool) + " check metrics < " + file.string() + " 2>&1";
    FILE* p = popen(command.c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::string out;
    char buf[512];
    while (fgets(buf, sizeof buf, p) != nullptr) out += buf;
    EXPECT_EQ(pclose(p), 0) << out;
  }
  EXPECT_EQ(Get("", "/healthz").status, 200);
  EXPECT_EQ(Get("", "/readyz").status, 200);
}

TEST_F(ApiTest, ATenantsQuotaHoldsItsWorkAndExplainSaysSo) {
  ASSERT_EQ(Post(research_, "/v1/jobs", R"({"id": "q1", "gpus": 8, "work_gpu_hours": 8})").status,
            201);
  ASSERT_EQ(Post(research_, "/v1/jobs", R"({"id": "q2", "gpus": 8, "work_gpu_hours": 8})").status,
            201);
  ASSERT_TRUE(broker_->Tick().ok());
  EXPECT_EQ(json::parse(Get(research_, "/v1/jobs/q1").body)["status"], "running");
  EXPECT_EQ(json::parse(Get(research_, "/v1/jobs/q2").body)["status"], "queued");
  const std::string why = json::parse(Get(research_, "/v1/jobs/q2/explain").body)["explanation"];
  EXPECT_NE(why.find("Held by its quota: tenant research: 8 of its 8 GPUs in use"),
            std::string::npos)
      << why;
  EXPECT_EQ(Get(operator_, "/v1/tenants").status, 403);
  const json tenants = json::parse(Get(admin_, "/v1/tenants").body)["tenants"];
  ASSERT_EQ(tenants.size(), 2u);
  EXPECT_EQ(tenants[0]["id"], "research");
  EXPECT_EQ(tenants[0]["gpus_in_use"], 8);
  EXPECT_EQ(tenants[0]["jobs_held_by_quota"], 1);
}

// Every key of `row` is a property of `schema` and every required one is
// there; strings with a pattern match it.
void ExpectMatchesSchema(const json& row, const json& schema, const std::string& where) {
  const json& props = schema["properties"];
  for (auto it = row.begin(); it != row.end(); ++it) {
    ASSERT_TRUE(props.contains(it.key())) << where << ": " << it.key() << " is not in the schema";
    const json& p = props[it.key()];
    if (p.contains("pattern")) {
      EXPECT_TRUE(std::regex_match(it.value().get<std::string>(),
                                   std::regex(p["pattern"].get<std::string>())))
          << where << "." << it.key() << " = " << it.value();
    }
    if (p["type"] == "array") {
      for (const json& item : it.value())
        ExpectMatchesSchema(item, p["items"], where + "." + it.key());
    }
  }
  for (const json& key : schema["required"]) {
    EXPECT_TRUE(row.contains(key.get<std::string>())) << where << ": " << key << " is missing";
  }
}

TEST_F(ApiTest, TenantsShowGpusAndSpendAgainstQuota) {
  const std::string lab = AddToken("tenant", "lab");
  // az-h100 costs $2 per GPU-hour: 8 GPUs for 2 hours commit $32 of the $50.
  // Then az-h100 is full (chat holds the other 8): aw-h100 at $4 is next.
  ASSERT_EQ(Post(lab, "/v1/jobs", R"({"id": "s1", "gpus": 8, "work_gpu_hours": 16})").status, 201);
  ASSERT_TRUE(broker_->Tick().ok());
  ASSERT_EQ(json::parse(Get(lab, "/v1/jobs/s1").body)["status"], "running");
  ASSERT_EQ(Post(lab, "/v1/jobs", R"({"id": "s2", "gpus": 8, "work_gpu_hours": 16})").status, 201);
  ASSERT_EQ(
      Post(lab, "/v1/jobs", R"({"id": "b1", "kind": "batch", "gpus": 1, "work_gpu_hours": 3})")
          .status,
      201);
  ASSERT_TRUE(broker_->Tick().ok());
  EXPECT_EQ(json::parse(Get(lab, "/v1/jobs/s2").body)["status"], "queued");
  EXPECT_EQ(json::parse(Get(lab, "/v1/jobs/b1").body)["status"], "queued");
  // The "Held by its quota: " line of a job's explanation ("" when none).
  auto held = [&](const char* id) {
    const std::string text =
        json::parse(Get(lab, std::string("/v1/jobs/") + id + "/explain").body)["explanation"];
    const std::string tag = "Held by its quota: ";
    const size_t from = text.find(tag);
    if (from == std::string::npos) return std::string();
    return text.substr(from + tag.size(), text.find('\n', from) - from - tag.size());
  };
  EXPECT_EQ(held("s2"),
            "tenant lab: spent $0.00 of $50.00 this month (2026-03), $32.00 more committed to "
            "its running jobs, this job needs $64.00 more in aw-h100 by the month's end");
  // $12 in aw-h100: within the tenant's $50 ($44), past its batch class's $10.
  EXPECT_EQ(held("b1"),
            "tenant lab, class batch: spent $0.00 of $10.00 this month (2026-03), $0.00 more "
            "committed to its running jobs, this job needs $12.00 more in aw-h100 by the "
            "month's end");
  clock_.AdvanceTo(T("2026-03-01T01:00:00Z"));
  const json body = json::parse(Get(admin_, "/v1/tenants").body);
  const json& schema = OpenApiDocument()["components"]["schemas"]["Tenants"];
  ExpectMatchesSchema(body, schema, "tenants");
  const json& t = body["tenants"][1];
  EXPECT_EQ(t["id"], "lab");
  EXPECT_EQ(t["month"], "2026-03");
  EXPECT_EQ(t["spend_per_month_usd"], "50.000000");
  EXPECT_EQ(t["spent_this_month_usd"], "16.000000");  // one hour of the run
  EXPECT_EQ(t["committed_this_month_usd"], "16.000000");
  EXPECT_EQ(t["jobs_held_by_quota"], 2);
  ASSERT_EQ(t["class_spend"].size(), 1u);
  EXPECT_EQ(t["class_spend"][0]["class"], "batch");
  EXPECT_EQ(t["class_spend"][0]["spend_per_month_usd"], "10.000000");
  EXPECT_EQ(t["class_spend"][0]["spent_this_month_usd"], "0.000000");
  EXPECT_EQ(body["tenants"][0]["spend_per_month_usd"], "0.000000");  // no limit
}

TEST_F(ApiTest, TheEventStreamCarriesDecisions) {
  auto events = Client(operator_).OpenEventStream("/v1/events");
  ASSERT_TRUE(events.ok()) << events.status().message();
  ASSERT_EQ(Post(research_, "/v1/jobs", R"({"id": "e1", "gpus": 8, "work_gpu_hours": 8})").status,
            201);
  ASSERT_TRUE(broker_->Tick().ok());
  bool started = false;
  for (int i = 0; i < 50 && !started; ++i) {
    auto e = (*events)->Next(std::chrono::seconds(5));
    ASSERT_TRUE(e.ok()) << e.status().message();
    ASSERT_TRUE(e->has_value());
    started = (*e)->data.find("\"job-started\"") != std::string::npos &&
              (*e)->data.find("\"e1\"") != std::string::npos;
  }
  EXPECT_TRUE(started);
  EXPECT_FALSE(Client(research_).OpenEventStream("/v1/events").ok());  // tenants: 403
}

// A pool of 2 nodes × 4 GPUs with GPU sharing, 32 CPUs and 256 GiB a node.
const char* kSharingFleet = R"(
name: api-shares
start: 2026-01-01
end: 2027-01-01
providers: [{id: azure}]
sites:
  - {id: az, provider: azure, backend: {kind: sim}}
pools:
  - {id: az-share, site: az, accelerator: H100, pricing: on-demand, gpus: 8, gpus_per_node: 4,
     price_per_gpu_hour: 2, gpu_sharing: true, cpus_per_node: 32, memory_gib_per_node: 256}
)";

class SharingApiTest : public ApiTest {
 protected:
  const char* Fleet() const override { return kSharingFleet; }
};

TEST_F(SharingApiTest, SharesCpuAndMemoryReachTheCoreAndBadOnesNameTheField) {
  auto a = Post(admin_, "/v1/jobs",
                R"({"id": "a", "gpus": 1, "gpu_milli": 300, "cpus": 2.5, "memory_gib": 16,
                    "work_gpu_hours": 4})");
  ASSERT_EQ(a.status, 201) << a.body;
  json job = json::parse(a.body);
  EXPECT_EQ(job["gpu_milli"], 300);
  EXPECT_EQ(job["cpus"], 2.5);
  EXPECT_EQ(job["memory_gib"], 16);
  auto b = Post(admin_, "/v1/jobs",
                R"({"id": "b", "gpus": 1, "gpu_milli": 700, "cpus": 1, "work_gpu_hours": 4})");
  ASSERT_EQ(b.status, 201) << b.body;
  ASSERT_TRUE(broker_->Tick().ok());
  // Both run on one GPU of one node: the core placed the shares.
  EXPECT_EQ(json::parse(Get(admin_, "/v1/jobs/a").body)["status"], "running");
  EXPECT_EQ(json::parse(Get(admin_, "/v1/jobs/b").body)["status"], "running");
  const world::Job& spec = broker_->core().job_spec(0);
  EXPECT_EQ(spec.gpu_milli, 300);
  EXPECT_EQ(spec.cpu_milli, 2500);
  EXPECT_EQ(spec.memory_mib, 16 * 1024);
  const std::string why =
      json::parse(Get(admin_, "/v1/jobs/b/explain").body)["explanation"].get<std::string>();
  // Both on GPU 0 of one node (best fit fills the partly used GPU).
  EXPECT_NE(why.find("running in az-share on node "), std::string::npos) << why;
  EXPECT_NE(why.find(", GPU 0 (700 milli of it)"), std::string::npos) << why;

  // Bad shapes name their field; nothing of them is stored.
  struct Bad {
    const char* body;
    const char* pointer;
    const char* code;
  };
  for (const Bad& bad : {
           Bad{R"({"gpus": 2, "gpu_milli": 500, "work_gpu_hours": 1})", "/gpu_milli",
               "invalid_value"},
           Bad{R"({"gpus": 1, "gpu_milli": 1000, "work_gpu_hours": 1})", "/gpu_milli", ""},
           Bad{R"({"gpus": 1, "gpu_milli": "half", "work_gpu_hours": 1})", "/gpu_milli",
               "wrong_type"},
           Bad{R"({"gpus": 1, "cpus": -1, "work_gpu_hours": 1})", "/cpus", "invalid_value"},
           Bad{R"({"gpus": 1, "cpus": 0.0005, "work_gpu_hours": 1})", "/cpus", "invalid_value"},
           Bad{R"({"gpus": 1, "cpus": "2", "work_gpu_hours": 1})", "/cpus", "invalid_value"},
           Bad{R"({"gpus": 1, "memory_gib": true, "work_gpu_hours": 1})", "/memory_gib",
               "invalid_value"},
       }) {
    auto r = Post(admin_, "/v1/jobs", bad.body);
    EXPECT_EQ(r.status, 400) << bad.body;
    ASSERT_TRUE(r.Error().has_value()) << bad.body;
    EXPECT_EQ(r.Error()->pointer, bad.pointer) << bad.body;
    if (*bad.code != 0) {
      EXPECT_EQ(r.Error()->code, bad.code) << bad.body;
    }
  }
  EXPECT_EQ(broker_->core().job_count(), 2);
}

}  // namespace
}  // namespace polycloud::serve
