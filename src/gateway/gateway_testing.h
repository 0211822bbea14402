// Test helpers of the gateway layer: a scenario with an exclusivity clause,
// a clock the test moves, and an OpenAI-shaped upstream on loopback that can
// be told to fail, answer 429, stall or hold a stream open.
#ifndef POLYCLOUD_SRC_GATEWAY_GATEWAY_TESTING_H_
#define POLYCLOUD_SRC_GATEWAY_GATEWAY_TESTING_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "polycloud/base/clock.h"
#include "polycloud/base/parse.h"
#include "polycloud/http/server.h"
#include "polycloud/io/scenario.h"

namespace polycloud::gateway::testing {

// azure holds two clauses of contract azure-deal until 2030: class `api`
// (no outage exception) and class `assistant` (with one); class `chat` is
// free. azure has a declared outage on 2026-06-01.
inline constexpr const char* kScenario = R"(name: gateway-test
start: 2026-01-01
end: 2027-01-01
providers: [{id: azure}, {id: aws}]
contracts:
  - id: azure-deal
    provider: azure
    start: 2025-01-01
    end: 2030-01-01
    exclusivity:
      - {class: api, until: 2030-01-01}
      - {class: assistant, until: 2030-01-01, outage_exception: true}
sites:
  - {id: az-east, provider: azure}
  - {id: aw-west, provider: aws}
pools:
  - {id: az-h100, site: az-east, accelerator: H100, pricing: on-demand, gpus: 8, price_per_gpu_hour: 2}
  - {id: aw-h100, site: aw-west, accelerator: H100, pricing: on-demand, gpus: 8, price_per_gpu_hour: 2}
faults:
  - {id: azure-down, target: {provider: azure}, start: 2026-06-01T00:00:00Z, end: 2026-06-02T00:00:00Z}
)";

inline Time At(const char* text) { return ParseTime(text).value(); }

// A clock tests set and advance from any thread.
class TestClock final : public Clock {
 public:
  explicit TestClock(Time t) : s_(t.unix_seconds()) {}
  Time Now() const override { return Time::FromUnixSeconds(s_.load()); }
  void Set(Time t) { s_ = t.unix_seconds(); }
  void Advance(int64_t seconds) { s_ += seconds; }

 private:
  std::atomic<int64_t> s_;
};

// An OpenAI-shaped chat completions server on 127.0.0.1:port-0.
class FakeUpstream {
 public:
  enum class Mode { kOk, kFail500, kRateLimit429, kStall };

  explicit FakeUpstream(std::string name,
                        std::chrono::milliseconds idle_timeout = std::chrono::milliseconds(60'000))
      : name_(std::move(name)) {
    http::Router router;
    router.Add("POST", "/v1/chat/completions",
               [this](const http::Request& r) { return Answer(r); });
    router.Add("POST", "/v1/completions", [this](const http::Request& r) {
      ++requests_;
      Delay();
      nlohmann::json body = nlohmann::json::parse(r.body);
      return http::Response::Json(
          200, {{"id", "cmpl-" + name_},
                {"object", "text_completion"},
                {"model", body.value("model", "")},
                {"choices", {{{"index", 0}, {"text", "completed by " + name_}}}},
                {"usage", {{"prompt_tokens", 4}, {"completion_tokens", 6}, {"total_tokens", 10}}}});
    });
    router.Add("POST", "/v1/embeddings", [this](const http::Request& r) {
      ++requests_;
      Delay();
      nlohmann::json body = nlohmann::json::parse(r.body);
      return http::Response::Json(
          200, {{"object", "list"},
                {"model", body.value("model", "")},
                {"data", {{{"object", "embedding"}, {"index", 0}, {"embedding", {0.25, -0.5}}}}},
                {"usage", {{"prompt_tokens", 12}, {"total_tokens", 12}}}});
    });
    // Anthropic's Messages API, for deployments with format: anthropic.
    router.Add("POST", "/v1/messages", [this](const http::Request& r) { return Messages(r); });
    http::ServerOptions options;
    options.port = 0;
    options.threads = 4;
    options.stop_grace = std::chrono::milliseconds(100);
    options.idle_timeout = idle_timeout;
    server_ = std::move(http::Server::Start(options, std::move(router))).value();
  }
  ~FakeUpstream() {
    Release();
    std::vector<std::thread> streams;
    {
      std::lock_guard<std::mutex> lock(mu_);
      streams.swap(streams_);
    }
    for (std::thread& t : streams) t.join();
    server_->Stop();
  }

  std::string base_url() const { return "http://" + server_->address() + "/v1"; }
  void set_mode(Mode m) { mode_ = m; }
  void set_retry_after(int seconds) { retry_after_ = seconds; }
  // Every answer waits this long first (the latency policy's tests).
  void set_delay_ms(int ms) { delay_ms_ = ms; }
  // Streams send their first chunk, then wait for Release() before the rest.
  void HoldStreams() { hold_ = true; }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  int requests() const { return requests_; }
  size_t open_connections() const { return server_->open_connections(); }
  std::string last_model() const {
    std::lock_guard<std::mutex> lock(mu_);
    return last_model_;
  }
  nlohmann::json last_body() const {
    std::lock_guard<std::mutex> lock(mu_);
    return last_body_;
  }
  std::string last_authorization() const {
    std::lock_guard<std::mutex> lock(mu_);
    return last_authorization_;
  }

 private:
  void Delay() const {
    if (delay_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms_.load()));
  }

  http::Response Answer(const http::Request& r) {
    ++requests_;
    Delay();
    nlohmann::json body = nlohmann::json::parse(r.body);
    {
      std::lock_guard<std::mutex> lock(mu_);
      last_model_ = body.value("model", "");
      last_authorization_ = std::string(r.Header("Authorization").value_or(""));
    }
    switch (mode_.load()) {
      case Mode::kFail500:
        return http::Response::Json(500, {{"error", {{"message", name_ + " is down"}}}});
      case Mode::kRateLimit429: {
        http::Response resp = http::Response::Json(429, {{"error", {{"message", "slow down"}}}});
        resp.headers.push_back({"Retry-After", std::to_string(retry_after_.load())});
        return resp;
      }
      case Mode::kStall:
        std::this_thread::sleep_for(std::chrono::milliseconds(1500));
        break;
      case Mode::kOk:
        break;
    }
    if (body.value("stream", false)) {
      return http::Response::Stream([this](std::shared_ptr<http::EventStream> s) {
        std::lock_guard<std::mutex> lock(mu_);
        streams_.emplace_back([this, s] { StreamChunks(s); });
      });
    }
    return http::Response::Json(
        200, {{"id", "chatcmpl-" + name_},
              {"object", "chat.completion"},
              {"model", last_model()},
              {"choices",
               {{{"index", 0},
                 {"message", {{"role", "assistant"}, {"content", "hello from " + name_}}},
                 {"finish_reason", "stop"}}}},
              {"usage", {{"prompt_tokens", 5}, {"completion_tokens", 3}, {"total_tokens", 8}}}});
  }

  http::Response Messages(const http::Request& r) {
    ++requests_;
    nlohmann::json body = nlohmann::json::parse(r.body);
    {
      std::lock_guard<std::mutex> lock(mu_);
      last_model_ = body.value("model", "");
      last_authorization_ = std::string(r.Header("x-api-key").value_or(""));
      last_body_ = body;
    }
    if (mode_ == Mode::kFail500) {
      return http::Response::Json(
          529, {{"type", "error"}, {"error", {{"type", "overloaded_error"}, {"message", "busy"}}}});
    }
    if (body.value("max_tokens", 0) > 100000) {
      return http::Response::Json(
          400,
          {{"type", "error"},
           {"error", {{"type", "invalid_request_error"}, {"message", "max_tokens: too large"}}}});
    }
    if (body.value("stream", false)) {
      return http::Response::Stream([this](std::shared_ptr<http::EventStream> s) {
        std::lock_guard<std::mutex> lock(mu_);
        streams_.emplace_back([this, s] { StreamMessages(s); });
      });
    }
    return http::Response::Json(200,
                                {{"id", "msg_" + name_},
                                 {"type", "message"},
                                 {"role", "assistant"},
                                 {"model", last_model()},
                                 {"content", {{{"type", "text"}, {"text", "hello from " + name_}}}},
                                 {"stop_reason", "end_turn"},
                                 {"usage", {{"input_tokens", 7}, {"output_tokens", 4}}}});
  }

  void StreamMessages(const std::shared_ptr<http::EventStream>& s) {
    auto send = [&](const std::string& type, nlohmann::json data) {
      data["type"] = type;
      s->Send({"", type, data.dump(), std::nullopt});
    };
    send("message_start", {{"message",
                            {{"id", "msg_" + name_},
                             {"type", "message"},
                             {"role", "assistant"},
                             {"content", nlohmann::json::array()},
                             {"usage", {{"input_tokens", 7}, {"output_tokens", 1}}}}}});
    send("content_block_start",
         {{"index", 0}, {"content_block", {{"type", "text"}, {"text", ""}}}});
    send("ping", nlohmann::json::object());
    for (const char* word : {"hello", " from ", "claude"}) {
      send("content_block_delta",
           {{"index", 0}, {"delta", {{"type", "text_delta"}, {"text", word}}}});
    }
    send("content_block_stop", {{"index", 0}});
    send("message_delta",
         {{"delta", {{"stop_reason", "max_tokens"}}}, {"usage", {{"output_tokens", 4}}}});
    send("message_stop", nlohmann::json::object());
    s->Close();
  }

  void StreamChunks(const std::shared_ptr<http::EventStream>& s) {
    for (int i = 0; i < 3; ++i) {
      nlohmann::json chunk = {
          {"id", "chatcmpl-" + name_},
          {"object", "chat.completion.chunk"},
          {"choices", {{{"index", 0}, {"delta", {{"content", "part" + std::to_string(i)}}}}}}};
      s->Send({"", "", chunk.dump(), std::nullopt});
      if (i == 0 && hold_) {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait_for(lock, std::chrono::seconds(10), [this] { return released_; });
      }
    }
    s->Send({"", "", "[DONE]", std::nullopt});
    s->Close();
  }

  std::string name_;
  std::unique_ptr<http::Server> server_;
  std::atomic<Mode> mode_{Mode::kOk};
  std::atomic<int> retry_after_{30};
  std::atomic<int> delay_ms_{0};
  std::atomic<int> requests_{0};
  std::atomic<bool> hold_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
  std::string last_model_;
  std::string last_authorization_;
  nlohmann::json last_body_;
  std::vector<std::thread> streams_;
};

}  // namespace polycloud::gateway::testing

#endif  // POLYCLOUD_SRC_GATEWAY_GATEWAY_TESTING_H_
