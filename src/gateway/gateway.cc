#include "polycloud/gateway/gateway.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <cctype>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <limits>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <tuple>
#include <unordered_map>

#include "polycloud/base/parse.h"
#include "polycloud/gateway/anthropic.h"
#include "polycloud/gateway/upstream.h"
#include "polycloud/http/client.h"
#include "polycloud/http/metrics.h"
#include "polycloud/http/secret.h"
#include "polycloud/http/server.h"

namespace polycloud::gateway {
namespace {

using http::Header;
using http::Reply;
using http::Request;
using http::Response;
using nlohmann::json;

// The error shape OpenAI's clients parse.
Response OpenAiError(int status, const std::string& message, const std::string& type,
                     const std::string& code, std::vector<Header> headers = {}) {
  json body = {
      {"error", {{"message", message}, {"type", type}, {"param", nullptr}, {"code", code}}}};
  Response r =
      Response::JsonText(status, body.dump(-1, ' ', false, json::error_handler_t::replace));
  r.headers = std::move(headers);
  return r;
}

// Retry-After in seconds (the HTTP-date form is not used by model APIs).
std::optional<Duration> RetryAfter(const http::Headers& headers) {
  std::optional<std::string_view> v = headers.Get("Retry-After");
  if (!v) return std::nullopt;
  Result<int64_t> s = ParseInteger(*v);
  if (!s.ok() || *s < 0) return std::nullopt;
  return Duration::Seconds(std::min<int64_t>(*s, 3600));
}

// The OpenAI routes the gateway forwards.
enum class Route { kChat, kCompletions, kEmbeddings };
const char* RoutePath(Route r) {
  switch (r) {
    case Route::kCompletions:
      return "/completions";
    case Route::kEmbeddings:
      return "/embeddings";
    case Route::kChat:
      break;
  }
  return "/chat/completions";
}

// The cost of `input` and `output` tokens at a deployment's prices per
// million, in micro-dollars × 10^6 (exact; rounded once, when read).
__int128 CostE6(const Deployment& dep, int64_t input, int64_t output) {
  return static_cast<__int128>(input) * dep.input_per_million.micros() +
         static_cast<__int128>(output) * dep.output_per_million.micros();
}
Money RoundCost(__int128 e6) {
  return Money::FromMicros(static_cast<int64_t>((e6 + 500'000) / 1'000'000));
}

// The "usage" object of an answer or a stream's chunk (null when it has
// none), parsed alone rather than with the whole answer: the key, unescaped
// and followed by ':' and '{', can only be a key of the JSON text; its object
// ends at the matching brace outside strings. Falls back to parsing the
// whole text when the piece does not parse.
json UsageObject(std::string_view text) {
  for (size_t at = text.find("\"usage\""); at != std::string_view::npos;
       at = text.find("\"usage\"", at + 1)) {
    size_t i = at + 7;
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    if (i >= text.size() || text[i] != ':') continue;
    ++i;
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    if (i >= text.size()) return nullptr;
    if (text[i] != '{') {
      if (text.compare(i, 4, "null") == 0) return nullptr;
      continue;
    }
    int depth = 0;
    bool in_string = false;
    for (size_t j = i; j < text.size(); ++j) {
      const char c = text[j];
      if (in_string) {
        if (c == '\\') {
          ++j;
        } else if (c == '"') {
          in_string = false;
        }
      } else if (c == '"') {
        in_string = true;
      } else if (c == '{') {
        ++depth;
      } else if (c == '}' && --depth == 0) {
        json u = json::parse(text.substr(i, j - i + 1), nullptr, false);
        if (!u.is_discarded()) return u;
        break;
      }
    }
    break;
  }
  if (text.find("\"usage\"") == std::string_view::npos) return nullptr;
  const json j = json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("usage")) return nullptr;
  return j["usage"];
}

}  // namespace

class Gateway::Impl {
 public:
  Impl(GatewayConfig config, const world::World& world, const Clock& clock, GatewayOptions options,
       std::vector<std::string> upstream_keys)
      : config_(std::move(config)),
        world_(world),
        clock_(clock),
        options_(std::move(options)),
        upstream_keys_(std::move(upstream_keys)),
        routing_(config_, world, clock) {
    for (size_t i = 0; i < config_.keys.size(); ++i) {
      keys_[config_.keys[i].secret_sha256] = i;
      key_states_.push_back(
          std::make_unique<KeyState>(config_.keys[i], config_.deployments.size(), clock_.Now()));
    }
    request_nonce_ = http::Sha256Hex(http::RandomBytes(16)).substr(0, 8);
    for (size_t i = 0; i < config_.deployments.size(); ++i) {
      metrics_.push_back(std::make_unique<DeploymentMetrics>());
    }
    // Last: the I/O threads must not start before the rest is built.
    io_ = std::make_unique<boost::asio::io_context>(options_.threads);
    io_work_.emplace(io_->get_executor());
    upstream_ = std::make_unique<UpstreamClient>(*io_);
    for (int i = 0; i < options_.threads; ++i) io_threads_.emplace_back([this] { io_->run(); });
  }
  ~Impl() {
    {
      // The requests in flight finish first (each is bounded by the upstream
      // timeout), then the upstream connections close, then the last flush.
      std::unique_lock<std::mutex> lock(in_flight_mu_);
      in_flight_cv_.wait(lock, [this] { return in_flight_ == 0; });
    }
    io_work_.reset();
    io_->stop();
    for (std::thread& t : io_threads_) t.join();
    upstream_.reset();
    io_.reset();
    StopBackground();
  }

  http::Router MakeRouter() {
    http::Router router;
    auto forward = [this](Route route) {
      return [this, route](Request r, Reply reply) {
        // Overhead: from here (queueing for a worker included) to the answer,
        // minus the time spent waiting on upstreams.
        const auto start = std::chrono::steady_clock::now();
        auto upstream_ns = std::make_shared<std::atomic<int64_t>>(0);
        std::string id = NewRequestId();
        Reply counted([this, reply, start, upstream_ns, id](Response response) {
          const auto total = std::chrono::steady_clock::now() - start;
          RecordAnswer(response.status,
                       std::max(std::chrono::nanoseconds(0),
                                total - std::chrono::nanoseconds(upstream_ns->load())));
          response.headers.push_back({"x-request-id", id});
          reply(std::move(response));
        });
        Serve(route, id, r, counted, upstream_ns);
      };
    };
    router.AddAsync("POST", "/v1/chat/completions", forward(Route::kChat));
    router.AddAsync("POST", "/v1/completions", forward(Route::kCompletions));
    router.AddAsync("POST", "/v1/embeddings", forward(Route::kEmbeddings));
    router.Add("GET", "/v1/models", [this](const Request& r) { return Models(r); });
    router.Add("GET", "/v1/requests/{id}", [this](const Request& r) { return Explain(r); });
    router.Add("GET", "/v1/usage", [this](const Request& r) { return Usage(r); });
    router.Add("GET", "/metrics", [this](const Request&) { return Metrics(); });
    return router;
  }

  const GatewayConfig& config() const { return config_; }
  RoutingTable& routing() { return routing_; }

 private:
  const ApiKey* Authenticate(const Request& r) const {
    std::optional<std::string> token = r.bearer_token;
    if (!token) {
      if (auto v = r.Header("x-api-key")) token = std::string(*v);
    }
    if (!token) return nullptr;
    auto it = keys_.find(HashKeySecret(*token));
    return it == keys_.end() ? nullptr : &config_.keys[it->second];
  }

  static Response Unauthenticated(const Request& r) {
    return OpenAiError(401,
                       r.bearer_token ? "Incorrect API key provided."
                                      : "You didn't provide an API key (Authorization: Bearer).",
                       "invalid_request_error", "invalid_api_key");
  }

  Response Models(const Request& r) const {
    if (Authenticate(r) == nullptr) return Unauthenticated(r);
    json data = json::array();
    for (const std::string& m : routing_.Models()) {
      data.push_back({{"id", m}, {"object", "model"}, {"created", 0}, {"owned_by", "polycloud"}});
    }
    return Response::Json(200, {{"object", "list"}, {"data", data}});
  }

  // One request's story, kept for GET /v1/requests/{id} (Explain): filled
  // in as the request goes, by one thread at a time, and not changed once
  // kept; written as JSON only when someone asks.
  struct Trace {
    struct Try {
      int32_t deployment;
      std::string outcome;
      double ms;
    };
    std::string id;
    size_t key = 0;
    Time at;
    Route route = Route::kChat;
    std::optional<std::string> model;
    std::optional<bool> stream;
    std::optional<RoutePlan> plan;  // the candidates, their verdicts and the order
    std::vector<Try> attempts;
    int32_t deployment = -1;  // the one that answered
    std::string rule;
    std::optional<int> status;
    json error;            // null, or the error object of a 4xx/5xx answer
    bool counted = false;  // usage seen
    int64_t input_tokens = 0, output_tokens = 0;
    __int128 cost_e6 = 0;
    std::string stream_end;
  };

  json TraceJson(const Trace& t) const {
    const ApiKey& key = config_.keys[t.key];
    json out = {{"id", t.id},
                {"at", FormatTimeFull(t.at)},
                {"key", key.id},
                {"route", std::string("/v1") + RoutePath(t.route)},
                {"workload_class", key.workload_class},
                {"model_family", key.model_family}};
    if (t.status) out["status"] = *t.status;
    if (!t.error.is_null()) out["error"] = t.error;
    if (t.model) out["model"] = *t.model;
    if (t.stream) out["stream"] = *t.stream;
    if (t.plan) {
      out["policy"] = RoutePolicyName(t.plan->policy);
      json candidates = json::array();
      for (const Candidate& c : t.plan->candidates) {
        const Deployment& dep = config_.deployments[c.deployment];
        json cj = {{"deployment", dep.id},       {"provider", world_.providers[dep.provider].id},
                   {"admissible", c.admissible}, {"available", c.available},
                   {"verdict", c.verdict},       {"outstanding", c.outstanding}};
        if (c.latency_us >= 0) cj["recent_latency_ms"] = static_cast<double>(c.latency_us) / 1000;
        candidates.push_back(std::move(cj));
      }
      out["candidates"] = std::move(candidates);
      json order = json::array();
      for (int32_t d : t.plan->order) order.push_back(config_.deployments[d].id);
      out["order"] = std::move(order);
      json attempts = json::array();
      for (const Trace::Try& a : t.attempts) {
        attempts.push_back({{"deployment", config_.deployments[a.deployment].id},
                            {"outcome", a.outcome},
                            {"ms", a.ms}});
      }
      out["attempts"] = std::move(attempts);
    }
    if (t.deployment >= 0) {
      out["deployment"] = config_.deployments[t.deployment].id;
      out["rule"] = t.rule;
    }
    if (t.counted) {
      out["input_tokens"] = t.input_tokens;
      out["output_tokens"] = t.output_tokens;
      out["cost_usd"] = FormatMoneyExact(RoundCost(t.cost_e6));
    }
    if (!t.stream_end.empty()) out["stream_end"] = t.stream_end;
    return out;
  }

  void Serve(Route route, const std::string& id, const Request& r, const Reply& reply,
             const std::shared_ptr<std::atomic<int64_t>>& upstream_ns) {
    const ApiKey* key = Authenticate(r);
    if (key == nullptr) return reply(Unauthenticated(r));
    const size_t k = static_cast<size_t>(key - config_.keys.data());
    auto trace = std::make_shared<Trace>();
    trace->id = id;
    trace->key = k;
    trace->at = clock_.Now();
    trace->route = route;
    // Every answer from here on is kept for explain.
    Reply traced([this, trace, reply](Response response) {
      trace->status = response.status;
      if (response.status >= 400 && response.content_type == "application/json") {
        const json body = json::parse(response.body, nullptr, false);
        if (body.is_object() && body.contains("error") && body["error"].is_object()) {
          trace->error = body["error"];
        }
      }
      // A stream's story is kept when the stream ends (EndStream).
      if (!response.on_stream_open) Keep(trace);
      reply(std::move(response));
    });
    json body;
    try {
      body = json::parse(r.body);
    } catch (const json::exception& e) {
      return traced(OpenAiError(400, std::string("the body is not JSON: ") + e.what(),
                                "invalid_request_error", "invalid_json"));
    }
    if (!body.is_object()) {
      return traced(OpenAiError(400, "the body must be a JSON object", "invalid_request_error",
                                "invalid_json"));
    }
    if (!body.contains("model") || !body["model"].is_string()) {
      return traced(OpenAiError(400, "you must provide a model parameter (a string)",
                                "invalid_request_error", "missing_model"));
    }
    const std::string model = body["model"].get<std::string>();
    trace->model = model;
    bool stream = false;
    if (body.contains("stream")) {
      if (!body["stream"].is_boolean() && !body["stream"].is_null()) {
        return traced(OpenAiError(400, "stream: expected a boolean", "invalid_request_error",
                                  "invalid_type"));
      }
      stream = body["stream"].is_boolean() && body["stream"].get<bool>();
      if (stream && route == Route::kEmbeddings) {
        return traced(OpenAiError(400, "stream: embeddings are not streamed",
                                  "invalid_request_error", "invalid_type"));
      }
    }
    trace->stream = stream;
    if (!routing_.HasModel(model)) {
      return traced(OpenAiError(404,
                                "The model `" + model +
                                    "` does not exist or no deployment "
                                    "of this gateway serves it.",
                                "invalid_request_error", "model_not_found"));
    }
    if (std::optional<Response> limited = Admit(k)) return traced(std::move(*limited));
    trace->plan = routing_.Plan(*key, model);
    const RoutePlan& plan = *trace->plan;
    for (const Candidate& c : plan.candidates) {
      if (!c.admissible) ++rule_rejections_;
    }
    if (plan.order.empty()) {
      if (plan.contract_refusal) ++contract_refusals_;
      return traced(Refusal(plan));
    }
    auto exchange = std::make_shared<Exchange>(this);
    exchange->route = route;
    exchange->trace = std::move(trace);
    exchange->reply = std::move(traced);
    exchange->body = std::move(body);
    exchange->upstream_ns = upstream_ns;
    Next(exchange);
  }

  // One request on its way through the deployments of its plan; it lives as
  // long as a callback of its attempt holds it.
  struct Exchange {
    explicit Exchange(Impl* impl) : impl(impl) {
      std::lock_guard<std::mutex> lock(impl->in_flight_mu_);
      ++impl->in_flight_;
    }
    ~Exchange() {
      std::lock_guard<std::mutex> lock(impl->in_flight_mu_);
      if (--impl->in_flight_ == 0) impl->in_flight_cv_.notify_all();
    }
    Impl* impl;
    Route route = Route::kChat;
    std::shared_ptr<Trace> trace;
    Reply reply;
    json body;
    // As the client asked (the trace holds them from the checks on).
    const std::string& model() const { return *trace->model; }
    bool stream() const { return *trace->stream; }
    size_t next = 0;  // in trace->plan->order
    std::vector<std::string> failures;
    std::optional<int64_t> retry_after_s;
    std::shared_ptr<std::atomic<int64_t>> upstream_ns;
    // The attempt in progress.
    int32_t d = -1;
    bool anthropic = false;
    std::chrono::steady_clock::time_point attempt_start, upstream_start;
  };
  using ExchangePtr = std::shared_ptr<Exchange>;

  // Tries the plan's next deployment; when none is left, the answer is 503
  // with what each said.
  void Next(const ExchangePtr& ex) {
    while (ex->next < ex->trace->plan->order.size()) {
      if (StartAttempt(ex, ex->trace->plan->order[ex->next++])) return;
      ++failed_attempts_;
    }
    std::string message = "no deployment of " + ex->model() + " the contracts allow answered: ";
    for (size_t i = 0; i < ex->failures.size(); ++i) {
      message += (i ? "; " : "") + ex->failures[i];
    }
    for (const Candidate& c : ex->trace->plan->candidates) {
      if (!c.admissible) {
        message += "; not tried: " + config_.deployments[c.deployment].id + " (" + c.verdict + ")";
      }
    }
    std::vector<Header> headers;
    if (ex->retry_after_s) headers.push_back({"Retry-After", std::to_string(*ex->retry_after_s)});
    ex->reply(
        OpenAiError(503, message, "server_error", "upstream_unavailable", std::move(headers)));
  }

  // The attempt's outcome in the request's explanation.
  void Note(const Exchange& ex, const std::string& outcome) {
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() -
                                                                ex.attempt_start)
                          .count();
    ex.trace->attempts.push_back({ex.d, outcome, std::round(ms * 1000) / 1000});
  }
  void Failed(Exchange& ex, const std::string& why) {
    ex.failures.push_back(config_.deployments[ex.d].id + ": " + why);
    Note(ex, why);
  }
  // Time spent waiting on the deployment, which is not the gateway's overhead.
  void Waited(const Exchange& ex) {
    const auto elapsed = std::chrono::steady_clock::now() - ex.upstream_start;
    *ex.upstream_ns += std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count();
    metrics_[ex.d]->upstream.Observe(elapsed);
  }

  // Starts the call to deployment `d`. False when it cannot be tried (noted
  // in the request's failures): fail over to the next.
  bool StartAttempt(const ExchangePtr& ex, int32_t d) {
    const Deployment& dep = config_.deployments[d];
    ex->d = d;
    ex->attempt_start = std::chrono::steady_clock::now();
    if (!routing_.Acquire(d)) {
      Failed(*ex, "became unavailable");
      return false;
    }
    ex->anthropic = dep.format == ApiFormat::kAnthropic;
    UpstreamRequest up;
    up.host = dep.host;
    up.port = dep.port;
    up.timeout = std::chrono::milliseconds(config_.routing.upstream_timeout.seconds() * 1000);
    if (ex->anthropic && ex->route != Route::kChat) {
      // The request, not the deployment, is at fault: no health penalty.
      Settle(d, Attempt::kNeutral);
      Failed(*ex, std::string("Anthropic's Messages API has no ") +
                      (ex->route == Route::kEmbeddings ? "embeddings" : "legacy completions") +
                      " endpoint");
      return false;
    }
    if (ex->anthropic) {
      Result<json> translated = ToAnthropicRequest(ex->body, dep.upstream_model);
      if (!translated.ok()) {
        Settle(d, Attempt::kNeutral);
        Failed(*ex, translated.status().message());
        return false;
      }
      up.target = dep.path_prefix + "/messages";
      up.body = translated->dump(-1, ' ', false, json::error_handler_t::replace);
      up.headers.push_back({"anthropic-version", kAnthropicVersion});
      if (!upstream_keys_[d].empty()) up.headers.push_back({"x-api-key", upstream_keys_[d]});
    } else {
      ex->body["model"] = dep.upstream_model;
      up.target = dep.path_prefix + RoutePath(ex->route);
      up.body = ex->body.dump(-1, ' ', false, json::error_handler_t::replace);
      if (!upstream_keys_[d].empty()) {
        up.headers.push_back({"Authorization", "Bearer " + upstream_keys_[d]});
      }
    }
    if (ex->stream()) up.headers.push_back({"Accept", "text/event-stream"});
    ex->upstream_start = std::chrono::steady_clock::now();
    upstream_->Start(std::move(up),
                     [this, ex](Status opened, std::shared_ptr<UpstreamClient::Call> call) {
                       Opened(ex, std::move(opened), std::move(call));
                     });
    return true;
  }

  // The deployment's status and headers are in (or the call failed).
  void Opened(const ExchangePtr& ex, Status opened, std::shared_ptr<UpstreamClient::Call> call) {
    const int32_t d = ex->d;
    const Deployment& dep = config_.deployments[d];
    if (opened.ok()) {
      routing_.ObserveLatency(d, std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     std::chrono::steady_clock::now() - ex->upstream_start));
    }
    if (!opened.ok() || ex->stream()) Waited(*ex);
    if (!opened.ok()) {
      Settle(d, Attempt::kFailure);
      Failed(*ex, opened.message());
      ++failed_attempts_;
      return Next(ex);
    }
    const int status = call->status();
    if (status == 429 || status >= 500) {
      if (!ex->stream()) Waited(*ex);
      std::optional<Duration> wait = RetryAfter(call->headers());
      if (status == 429 && !wait) wait = Duration::Seconds(1);
      if (wait) {
        ex->retry_after_s =
            ex->retry_after_s ? std::min(*ex->retry_after_s, wait->seconds()) : wait->seconds();
      }
      Settle(d, status == 429 ? Attempt::kNeutral : Attempt::kFailure, wait);
      Failed(*ex, "HTTP " + std::to_string(status));
      ++failed_attempts_;
      return Next(ex);
    }
    const std::string rule = RuleOf(*ex->trace->plan, d);
    ex->trace->deployment = d;
    ex->trace->rule = rule;
    std::vector<Header> headers = {{"x-polycloud-deployment", dep.id},
                                   {"x-polycloud-rule", Sanitize(rule)}};
    if (!ex->failures.empty()) {
      std::string failed;
      for (const std::string& f : ex->failures) failed += (failed.empty() ? "" : "; ") + f;
      headers.push_back({"x-polycloud-failed-over", Sanitize(failed)});
    }
    const std::string type = std::string(call->headers().Get("Content-Type").value_or(""));
    if (ex->stream() && status == 200 && type.substr(0, 17) == "text/event-stream") {
      Note(*ex, "HTTP 200, streamed");
      Account(ex->trace->key, d, 1, 0, 0);
      return Relay(ex, std::move(call), std::move(headers));
    }
    UpstreamClient::Call& reader = *call;
    reader.ReadAll(options_.max_response_bytes,
                   [this, ex, call = std::move(call), status, type,
                    headers = std::move(headers)](Result<std::string> answer) mutable {
                     Answered(ex, status, std::move(type), std::move(headers), std::move(answer));
                   });
  }

  // A whole (not streamed) answer is in.
  void Answered(const ExchangePtr& ex, int status, std::string type, std::vector<Header> headers,
                Result<std::string> answer) {
    const int32_t d = ex->d;
    if (!ex->stream()) Waited(*ex);
    if (!answer.ok()) {
      Settle(d, Attempt::kFailure);
      Failed(*ex, answer.status().message());
      ++failed_attempts_;
      return Next(ex);
    }
    if (ex->anthropic && status < 400) {
      Result<json> translated =
          FromAnthropicResponse(*answer, ex->model(), clock_.Now().unix_seconds());
      if (!translated.ok()) {
        Settle(d, Attempt::kFailure);
        Failed(*ex, translated.status().message());
        ++failed_attempts_;
        return Next(ex);
      }
      *answer = translated->dump(-1, ' ', false, json::error_handler_t::replace);
      type = "application/json";
    } else if (ex->anthropic) {
      *answer = FromAnthropicError(*answer).dump(-1, ' ', false, json::error_handler_t::replace);
      type = "application/json";
    }
    Note(*ex, "HTTP " + std::to_string(status));
    if (status < 400) {
      CountTokens(ex->trace->key, d, *answer, *ex->trace);
      Account(ex->trace->key, d, 1, 0, 0);
    }
    Settle(d, status < 400 ? Attempt::kSuccess : Attempt::kNeutral);
    Response response =
        Response::Text(status, std::move(*answer), type.empty() ? "application/json" : type);
    response.headers = std::move(headers);
    ex->reply(std::move(response));
  }

  Response Refusal(const RoutePlan& plan) const {
    std::vector<Header> headers;
    if (plan.retry_after_s) headers.push_back({"Retry-After", std::to_string(*plan.retry_after_s)});
    if (plan.contract_refusal) {
      headers.push_back({"x-polycloud-rule", Sanitize(plan.refusal)});
      return OpenAiError(503, plan.refusal, "server_error", "contract_forbids", std::move(headers));
    }
    return OpenAiError(503, plan.refusal, "server_error", "no_available_deployment",
                       std::move(headers));
  }

  // Header values carry no control bytes.
  static std::string Sanitize(std::string s) {
    for (char& c : s) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
    }
    return s;
  }

  std::string RuleOf(const RoutePlan& plan, int32_t d) const {
    for (const Candidate& c : plan.candidates) {
      if (c.deployment == d) return c.rule;
    }
    return "";
  }

  // A streamed answer on its way to the client. When it ends — complete,
  // broken off, or the client gone (before the stream opened, too) — the
  // deployment's slot is released and the request's story kept.
  struct StreamRelay {
    ~StreamRelay() {
      if (!finished.load()) ex->impl->EndStream(*this);
    }
    ExchangePtr ex;
    std::shared_ptr<UpstreamClient::Call> call;
    std::unique_ptr<AnthropicStreamTranslator> translator;  // else relayed as is
    std::shared_ptr<http::EventStream> client;
    http::SseParser parser;
    Attempt outcome = Attempt::kSuccess;
    std::atomic<bool> finished{false};
  };

  // Relays the upstream's events to the client as they arrive.
  void Relay(const ExchangePtr& ex, std::shared_ptr<UpstreamClient::Call> call,
             std::vector<Header> headers) {
    auto relay = std::make_shared<StreamRelay>();
    relay->ex = ex;
    relay->call = std::move(call);
    if (ex->anthropic) {
      const json options = ex->body.value("stream_options", json::object());
      relay->translator = std::make_unique<AnthropicStreamTranslator>(
          ex->model(), clock_.Now().unix_seconds(),
          options.is_object() && options.value("include_usage", false));
    }
    // A client gone before the stream opens drops this callback, and with it
    // the relay, which ends the stream then.
    Response response =
        Response::Stream([this, relay](std::shared_ptr<http::EventStream> client) mutable {
          relay->client = std::move(client);
          // A client that goes mid-stream cuts the upstream read short.
          std::weak_ptr<StreamRelay> weak = relay;
          relay->client->OnClose([weak] {
            if (std::shared_ptr<StreamRelay> r = weak.lock(); r && !r->finished.load()) {
              r->call->Cancel();
            }
          });
          Pump(std::move(relay));
        });
    response.headers = std::move(headers);
    ex->reply(std::move(response));
  }

  void Pump(std::shared_ptr<StreamRelay> relay) {
    if (relay->client->closed()) return EndStream(*relay);
    UpstreamClient::Call& call = *relay->call;
    call.ReadSome([this, relay](Result<std::optional<std::string>> piece) {
      StreamRelay& r = *relay;
      const size_t k = r.ex->trace->key;
      const int32_t d = r.ex->d;
      if (!piece.ok()) {
        if (r.client->closed()) return EndStream(r);
        // Too late to fail over: the client has part of an answer. Say so in
        // the stream, in the error shape, and end it.
        r.outcome = Attempt::kFailure;
        json error = {
            {"error",
             {{"message", "the deployment's stream broke off: " + piece.status().message()},
              {"type", "server_error"},
              {"param", nullptr},
              {"code", "upstream_stream_broken"}}}};
        http::SseEvent event;
        event.data = error.dump();
        r.client->Send(event);
        r.ex->trace->stream_end = "the deployment's stream broke off: " + piece.status().message();
        return EndStream(r);
      }
      if (!*piece) return EndStream(r);
      std::vector<http::SseEvent> events;
      r.parser.Feed(**piece, &events);
      for (const http::SseEvent& e : events) {
        if (r.translator == nullptr) {
          CountTokens(k, d, e.data, *r.ex->trace);
          r.client->Send(e);
          continue;
        }
        for (const http::SseEvent& out : r.translator->Translate(e)) {
          CountTokens(k, d, out.data, *r.ex->trace);
          r.client->Send(out);
        }
      }
      if (r.translator != nullptr && r.translator->done()) return EndStream(r);
      Pump(relay);
    });
  }

  void EndStream(StreamRelay& r) {
    if (r.finished.exchange(true)) return;
    // Released before the client can see the end, so a client that counts
    // on the slot being free after the stream never sees it taken.
    Settle(r.ex->d, r.client == nullptr ? Attempt::kNeutral : r.outcome);
    Trace& trace = *r.ex->trace;
    if (trace.stream_end.empty()) {
      trace.stream_end = r.client == nullptr  ? "the client went away before the stream opened"
                         : r.client->closed() ? "the client closed the stream"
                                              : "complete";
    }
    Keep(r.ex->trace);
    if (r.client != nullptr) r.client->Close();
  }

  // Counts per deployment, for /metrics.
  struct DeploymentMetrics {
    std::atomic<uint64_t> attempts[3] = {};  // by Attempt
    std::atomic<uint64_t> input_tokens{0}, output_tokens{0};
    __int128 spend_e6 = 0;            // under spend_mu_
    http::LatencyHistogram upstream;  // to the headers (streams) or the whole answer
  };

  void Settle(int32_t d, Attempt outcome, std::optional<Duration> retry_after = std::nullopt) {
    ++metrics_[d]->attempts[static_cast<int>(outcome)];
    routing_.Release(d, outcome, retry_after);
  }

  // Usage from an answer or a stream's chunk ("usage":{...}), when it has
  // one: counted for /metrics, and charged to key `k` (its token bucket, its
  // spend against its budget) and to the request's explanation.
  void CountTokens(size_t k, int32_t d, std::string_view text, Trace& trace) {
    const json u = UsageObject(text);
    if (!u.is_object()) return;
    auto take = [&](const char* key) -> int64_t {
      return u.contains(key) && u[key].is_number_unsigned()
                 ? static_cast<int64_t>(std::min<uint64_t>(u[key].get<uint64_t>(), 1ULL << 40))
                 : 0;
    };
    const int64_t input = take("prompt_tokens");
    const int64_t output = take("completion_tokens");
    metrics_[d]->input_tokens += static_cast<uint64_t>(input);
    metrics_[d]->output_tokens += static_cast<uint64_t>(output);
    const Deployment& dep = config_.deployments[d];
    const __int128 cost = CostE6(dep, input, output);
    {
      std::lock_guard<std::mutex> lock(spend_mu_);
      metrics_[d]->spend_e6 += cost;
    }
    key_states_[k]->Charge(d, input, output, cost, clock_.Now());
    Account(k, d, 0, input, output);
    trace.counted = true;
    trace.input_tokens += input;
    trace.output_tokens += output;
    trace.cost_e6 += cost;
  }

  // A key's limits and what it has used (config.h, KeyLimits). Buckets are
  // kept in sixtieths of a request or token: a limit of L per minute refills
  // L sixtieths a second and holds at most 60·L, so whole-second clocks stay exact.
  class KeyState {
   public:
    KeyState(const ApiKey& key, size_t deployments, Time now)
        : limits_(key.limits),
          requests_(60 * key.limits.requests_per_minute),
          tokens_(60 * key.limits.tokens_per_minute),
          last_(now),
          by_deployment_(deployments) {}

    // Why a request of this key must wait now, and for how many seconds; or
    // nullopt, having taken one request from the bucket.
    struct Refusal {
      std::string code, type, message;
      int64_t retry_after_s = 0;
      bool budget = false;
    };
    std::optional<Refusal> Admit(Time now) {
      std::lock_guard<std::mutex> lock(mu_);
      Refill(now);
      if (limits_.budget && RoundCost(spend_e6_) >= *limits_.budget) {
        return Refusal{"insufficient_quota", "insufficient_quota",
                       "You exceeded your current quota: this key has spent $" +
                           FormatMoneyExact(RoundCost(spend_e6_)) + " of its $" +
                           FormatMoneyExact(*limits_.budget) + " budget.",
                       0, true};
      }
      const int64_t rpm = limits_.requests_per_minute, tpm = limits_.tokens_per_minute;
      if (rpm > 0 && requests_ < 60) {
        return Refusal{
            "rate_limit_exceeded", "requests",
            "Rate limit reached for requests: limit " + std::to_string(rpm) + " per minute.",
            (60 - requests_ + rpm - 1) / rpm, false};
      }
      if (tpm > 0 && tokens_ <= 0) {
        return Refusal{"rate_limit_exceeded", "tokens",
                       "Rate limit reached for tokens: limit " + std::to_string(tpm) +
                           " per minute, used " + std::to_string(tpm - tokens_ / 60) +
                           " in the last minute.",
                       (1 - tokens_ + tpm - 1) / tpm, false};
      }
      if (rpm > 0) requests_ -= 60;
      ++admitted_;
      return std::nullopt;
    }
    void Charge(int32_t d, int64_t input, int64_t output, __int128 cost_e6, Time now) {
      std::lock_guard<std::mutex> lock(mu_);
      Refill(now);
      if (limits_.tokens_per_minute > 0) tokens_ -= 60 * (input + output);
      spend_e6_ += cost_e6;
      by_deployment_[d].input += input;
      by_deployment_[d].output += output;
      by_deployment_[d].cost_e6 += cost_e6;
    }
    // Usage from before this process (the usage store).
    void Seed(int32_t d, int64_t requests, int64_t input, int64_t output, __int128 cost_e6) {
      std::lock_guard<std::mutex> lock(mu_);
      admitted_ += requests;
      spend_e6_ += cost_e6;
      by_deployment_[d].input += input;
      by_deployment_[d].output += output;
      by_deployment_[d].cost_e6 += cost_e6;
    }
    // The rate-limit headers OpenAI's answers carry.
    std::vector<Header> Headers(Time now) {
      std::lock_guard<std::mutex> lock(mu_);
      Refill(now);
      std::vector<Header> out;
      if (limits_.requests_per_minute > 0) {
        out.push_back({"x-ratelimit-limit-requests", std::to_string(limits_.requests_per_minute)});
        out.push_back({"x-ratelimit-remaining-requests", std::to_string(requests_ / 60)});
      }
      if (limits_.tokens_per_minute > 0) {
        out.push_back({"x-ratelimit-limit-tokens", std::to_string(limits_.tokens_per_minute)});
        out.push_back(
            {"x-ratelimit-remaining-tokens", std::to_string(std::max<int64_t>(0, tokens_ / 60))});
      }
      return out;
    }
    struct Used {
      int64_t input = 0, output = 0;
      __int128 cost_e6 = 0;
    };
    std::vector<Used> by_deployment() const {
      std::lock_guard<std::mutex> lock(mu_);
      return by_deployment_;
    }
    int64_t admitted() const {
      std::lock_guard<std::mutex> lock(mu_);
      return admitted_;
    }
    const KeyLimits& limits() const { return limits_; }

   private:
    void Refill(Time now) {
      if (now <= last_) return;
      const int64_t s = std::min<int64_t>((now - last_).seconds(), 3600);
      last_ = now;
      if (limits_.requests_per_minute > 0) {
        requests_ =
            std::min(60 * limits_.requests_per_minute, requests_ + s * limits_.requests_per_minute);
      }
      if (limits_.tokens_per_minute > 0) {
        tokens_ = std::min(60 * limits_.tokens_per_minute, tokens_ + s * limits_.tokens_per_minute);
      }
    }
    const KeyLimits limits_;
    mutable std::mutex mu_;
    int64_t requests_, tokens_;  // sixtieths
    Time last_;
    __int128 spend_e6_ = 0;
    int64_t admitted_ = 0;
    std::vector<Used> by_deployment_;
  };

  // Counts for the usage store, added on the request path (a map update under
  // a mutex) and written by the flusher thread.
  void Account(size_t k, int32_t d, int64_t requests, int64_t input, int64_t output) {
    if (options_.usage_store == nullptr && !options_.demand) return;
    const Deployment& dep = config_.deployments[d];
    const Time now = clock_.Now();
    std::lock_guard<std::mutex> lock(pending_mu_);
    if (options_.usage_store != nullptr) {
      // The UTC day's text, formatted once a day rather than per request.
      const int64_t day_number = now.unix_seconds() / 86'400;
      if (day_number != day_number_) {
        day_number_ = day_number;
        day_ = FormatTimeFull(now).substr(0, 10);
      }
      const auto row_key = std::make_tuple(day_, k, d, dep.input_per_million.micros(),
                                           dep.output_per_million.micros());
      store::UsageRow& row = pending_[row_key];
      row.requests += requests;
      row.input_tokens += input;
      row.output_tokens += output;
    }
    if (options_.demand && config_.keys[k].service != world::kNone) {
      demand_window_.push_back({now, config_.keys[k].service, input + output});
    }
  }

 public:
  Status FlushUsage() {
    if (options_.usage_store == nullptr) return Status::Ok();
    std::lock_guard<std::mutex> flush_lock(flush_mu_);  // one flush at a time
    decltype(pending_) batch;
    {
      std::lock_guard<std::mutex> lock(pending_mu_);
      batch.swap(pending_);
    }
    if (batch.empty()) return Status::Ok();
    std::vector<store::UsageRow> rows;
    for (const auto& [row_key, counts] : batch) {
      const auto& [day, k, d, in_price, out_price] = row_key;
      const Deployment& dep = config_.deployments[d];
      store::UsageRow row = counts;
      row.day = day;
      row.key = config_.keys[k].id;
      row.deployment = dep.id;
      row.contract = dep.contract == world::kNone ? "" : world_.contracts[dep.contract].id;
      row.input_price_micros = in_price;
      row.output_price_micros = out_price;
      rows.push_back(std::move(row));
    }
    Status written = options_.usage_store->AddUsage(rows);
    if (!written.ok()) {
      // Kept for the next flush: nothing is lost while the store is away.
      std::lock_guard<std::mutex> lock(pending_mu_);
      for (auto& [row_key, counts] : batch) {
        store::UsageRow& row = pending_[row_key];
        row.requests += counts.requests;
        row.input_tokens += counts.input_tokens;
        row.output_tokens += counts.output_tokens;
      }
      ++flush_failures_;
    }
    return written;
  }

  // Tokens per second per service over the last minute, as the broker takes them.
  Status PublishDemand() {
    if (!options_.demand) return Status::Ok();
    const Time now = clock_.Now();
    std::map<world::ServiceIndex, int64_t> tokens;
    {
      std::lock_guard<std::mutex> lock(pending_mu_);
      while (!demand_window_.empty() && now - demand_window_.front().at >= Duration::Seconds(60)) {
        demand_window_.pop_front();
      }
      for (const DemandSample& d : demand_window_) tokens[d.service] += d.tokens;
    }
    // Every service some key names is published, 0 when idle.
    for (const ApiKey& key : config_.keys) {
      if (key.service != world::kNone) tokens.emplace(key.service, 0);
    }
    http::ClientOptions options;
    options.address = options_.demand->broker;
    options.bearer_token = options_.demand->token;
    http::Client client(options);
    for (const auto& [service, n] : tokens) {
      const std::string& id = world_.services[service].id;
      const int64_t per_s = (n + 59) / 60;
      Result<http::ClientResponse> r =
          client.Post("/v1/services/" + id + "/demand", {{"tokens_per_s", per_s}});
      if (!r.ok()) return r.status();
      if (r->status / 100 != 2) {
        return IoError("the broker answered " + std::to_string(r->status) +
                       " to the demand of service " + id + ": " + r->body.substr(0, 200));
      }
      std::lock_guard<std::mutex> lock(pending_mu_);
      published_demand_[service] = per_s;
    }
    return Status::Ok();
  }

 private:
  void StartBackground() {
    if (options_.usage_store == nullptr && !options_.demand) return;
    background_ = std::thread([this] {
      auto next_demand =
          std::chrono::steady_clock::now() +
          std::chrono::seconds(options_.demand ? options_.demand->every.seconds() : 0);
      std::unique_lock<std::mutex> lock(background_mu_);
      while (!stopping_) {
        background_cv_.wait_for(lock, options_.flush_every, [this] { return stopping_; });
        lock.unlock();
        (void)FlushUsage();
        if (options_.demand && std::chrono::steady_clock::now() >= next_demand) {
          next_demand = std::chrono::steady_clock::now() +
                        std::chrono::seconds(options_.demand->every.seconds());
          if (!PublishDemand().ok()) ++publish_failures_;
        }
        lock.lock();
      }
    });
  }
  void StopBackground() {
    {
      std::lock_guard<std::mutex> lock(background_mu_);
      stopping_ = true;
    }
    background_cv_.notify_all();
    if (background_.joinable()) background_.join();
    (void)FlushUsage();
  }

 public:
  // Seeds each key's spend from the usage store, so budgets hold across restarts.
  Status LoadUsage() {
    if (options_.usage_store == nullptr) return Status::Ok();
    POLYCLOUD_ASSIGN_OR_RETURN(std::vector<store::UsageRow> rows,
                               options_.usage_store->ReadUsage());
    for (const store::UsageRow& row : rows) {
      size_t k = config_.keys.size();
      for (size_t i = 0; i < config_.keys.size(); ++i) {
        if (config_.keys[i].id == row.key) k = i;
      }
      int32_t d = -1;
      for (size_t i = 0; i < config_.deployments.size(); ++i) {
        if (config_.deployments[i].id == row.deployment) d = static_cast<int32_t>(i);
      }
      if (k == config_.keys.size() || d < 0) continue;  // a key or deployment since removed
      const __int128 cost = static_cast<__int128>(row.input_tokens) * row.input_price_micros +
                            static_cast<__int128>(row.output_tokens) * row.output_price_micros;
      key_states_[k]->Seed(d, row.requests, row.input_tokens, row.output_tokens, cost);
    }
    return Status::Ok();
  }
  void Start() { StartBackground(); }
  void Stop() { StopBackground(); }

 private:
  // nullopt when key `k` may send a request now (one is taken from its
  // bucket); else the 429 to answer.
  std::optional<Response> Admit(size_t k) {
    std::optional<KeyState::Refusal> refusal = key_states_[k]->Admit(clock_.Now());
    if (!refusal) return std::nullopt;
    ++limited_[refusal->budget ? 2 : refusal->type == "requests" ? 0 : 1];
    std::vector<Header> headers = key_states_[k]->Headers(clock_.Now());
    if (!refusal->budget) {
      headers.push_back(
          {"Retry-After", std::to_string(std::max<int64_t>(1, refusal->retry_after_s))});
    }
    return OpenAiError(429, refusal->message, refusal->type, refusal->code, std::move(headers));
  }

  std::string NewRequestId() {
    static const char* kHex = "0123456789abcdef";
    uint64_t n = ++request_counter_;
    std::string id = "req_" + request_nonce_;
    for (int shift = 60; shift >= 0; shift -= 4) id += kHex[(n >> shift) & 15];
    return id;
  }

  // Keeps `trace` for explain (the latest options_.explain_requests).
  void Keep(const std::shared_ptr<Trace>& trace) {
    std::lock_guard<std::mutex> lock(traces_mu_);
    if (options_.explain_requests == 0) return;
    traces_[trace->id] = trace;
    trace_order_.push_back(trace->id);
    while (trace_order_.size() > options_.explain_requests) {
      traces_.erase(trace_order_.front());
      trace_order_.pop_front();
    }
  }

  // GET /v1/requests/{id}: the candidates, verdicts and attempts of one of
  // the caller's own recent requests.
  Response Explain(const Request& r) const {
    const ApiKey* key = Authenticate(r);
    if (key == nullptr) return Unauthenticated(r);
    const size_t k = static_cast<size_t>(key - config_.keys.data());
    std::lock_guard<std::mutex> lock(traces_mu_);
    auto it = traces_.find(std::string(r.Param("id")));
    if (it == traces_.end() || it->second->key != k) {
      return OpenAiError(404,
                         "No request " + std::string(r.Param("id")) +
                             " of this key among the last " +
                             std::to_string(options_.explain_requests) + " the gateway keeps.",
                         "invalid_request_error", "request_not_found");
    }
    return Response::Json(200, TraceJson(*it->second));
  }

  // GET /v1/usage: the caller's tokens and spend, by deployment and
  // contract, against its limits.
  Response Usage(const Request& r) const {
    const ApiKey* key = Authenticate(r);
    if (key == nullptr) return Unauthenticated(r);
    const size_t k = static_cast<size_t>(key - config_.keys.data());
    const KeyState& state = *key_states_[k];
    json deployments = json::array();
    __int128 total = 0;
    int64_t input = 0, output = 0;
    std::map<std::string, __int128> by_contract;
    const std::vector<KeyState::Used> used = state.by_deployment();
    for (size_t d = 0; d < used.size(); ++d) {
      if (used[d].input == 0 && used[d].output == 0) continue;
      const Deployment& dep = config_.deployments[d];
      const std::string contract =
          dep.contract == world::kNone ? "" : world_.contracts[dep.contract].id;
      deployments.push_back({{"deployment", dep.id},
                             {"contract", contract.empty() ? json(nullptr) : json(contract)},
                             {"input_tokens", used[d].input},
                             {"output_tokens", used[d].output},
                             {"spend_usd", FormatMoneyExact(RoundCost(used[d].cost_e6))}});
      total += used[d].cost_e6;
      input += used[d].input;
      output += used[d].output;
      if (!contract.empty()) by_contract[contract] += used[d].cost_e6;
    }
    json contracts = json::object();
    for (const auto& [c, e6] : by_contract) contracts[c] = FormatMoneyExact(RoundCost(e6));
    const KeyLimits& limits = state.limits();
    json lj = json::object();
    if (limits.requests_per_minute > 0) lj["requests_per_minute"] = limits.requests_per_minute;
    if (limits.tokens_per_minute > 0) lj["tokens_per_minute"] = limits.tokens_per_minute;
    if (limits.budget) {
      lj["budget_usd"] = FormatMoneyExact(*limits.budget);
      const Money left = *limits.budget - RoundCost(total);
      lj["budget_left_usd"] = FormatMoneyExact(left < Money() ? Money() : left);
    }
    return Response::Json(200, {{"key", key->id},
                                {"requests", state.admitted()},
                                {"input_tokens", input},
                                {"output_tokens", output},
                                {"spend_usd", FormatMoneyExact(RoundCost(total))},
                                {"by_contract", contracts},
                                {"by_deployment", deployments},
                                {"limits", lj}});
  }

  void RecordAnswer(int status, std::chrono::nanoseconds overhead) {
    overhead_.Observe(overhead);
    std::lock_guard<std::mutex> lock(answers_mu_);
    ++answers_[status];
  }

  Response Metrics() const {
    using http::Sample;
    http::MetricsText out;
    std::vector<Sample> answers;
    {
      std::lock_guard<std::mutex> lock(answers_mu_);
      for (const auto& [status, n] : answers_) {
        answers.push_back({{{"code", std::to_string(status)}}, static_cast<double>(n)});
      }
    }
    out.Counter("polycloud_gateway_requests_total",
                "Requests to the model routes answered, by status.", answers);
    std::vector<Sample> attempts, tokens, outstanding;
    std::vector<http::HistogramSample> upstream;
    static const char* kOutcome[] = {"success", "failure", "neutral"};
    for (size_t d = 0; d < config_.deployments.size(); ++d) {
      const std::string& id = config_.deployments[d].id;
      for (int o = 0; o < 3; ++o) {
        attempts.push_back({{{"deployment", id}, {"outcome", kOutcome[o]}},
                            static_cast<double>(metrics_[d]->attempts[o].load())});
      }
      tokens.push_back({{{"deployment", id}, {"direction", "input"}},
                        static_cast<double>(metrics_[d]->input_tokens.load())});
      tokens.push_back({{{"deployment", id}, {"direction", "output"}},
                        static_cast<double>(metrics_[d]->output_tokens.load())});
      outstanding.push_back({{{"deployment", id}},
                             static_cast<double>(routing_.outstanding(static_cast<int32_t>(d)))});
      upstream.push_back({{{"deployment", id}}, metrics_[d]->upstream.Snapshot()});
    }
    out.Counter("polycloud_gateway_upstream_attempts_total",
                "Requests sent to each deployment, by outcome (neutral: the client's own error, "
                "a 429, or a request the adapter cannot translate).",
                attempts);
    out.Counter("polycloud_gateway_tokens_total",
                "Tokens by deployment and direction, from the answers' usage.", tokens);
    out.Gauge("polycloud_gateway_outstanding_requests", "Requests in flight per deployment.",
              outstanding);
    out.Histogram("polycloud_gateway_upstream_latency_seconds",
                  "Time waiting on a deployment: to the headers of a stream, to the whole answer "
                  "otherwise.",
                  upstream);
    out.Histogram("polycloud_gateway_overhead_seconds",
                  "Time a request spent in the gateway itself: from arrival to the answer, minus "
                  "the time waiting on deployments.",
                  {{{}, overhead_.Snapshot()}});
    out.Counter("polycloud_gateway_rule_rejections_total",
                "Deployments excluded from a request by an exclusivity clause.",
                {{{}, static_cast<double>(rule_rejections_.load())}});
    out.Counter("polycloud_gateway_contract_refusals_total",
                "Requests refused with 503 because every deployment of the model is forbidden.",
                {{{}, static_cast<double>(contract_refusals_.load())}});
    out.Counter("polycloud_gateway_failed_attempts_total",
                "Attempts at a deployment that failed over to the next one (or gave up).",
                {{{}, static_cast<double>(failed_attempts_.load())}});
    out.Counter("polycloud_gateway_ejections_total", "Deployments ejected by passive health.",
                {{{}, static_cast<double>(routing_.ejections())}});
    std::vector<Sample> spend;
    {
      std::lock_guard<std::mutex> lock(spend_mu_);
      for (size_t d = 0; d < config_.deployments.size(); ++d) {
        const Deployment& dep = config_.deployments[d];
        spend.push_back(
            {{{"deployment", dep.id},
              {"contract",
               dep.contract == world::kNone ? std::string() : world_.contracts[dep.contract].id}},
             static_cast<double>(RoundCost(metrics_[d]->spend_e6).micros()) / 1e6});
      }
    }
    out.Counter("polycloud_gateway_spend_dollars_total",
                "Spend at the deployments' token prices, by deployment and contract (US dollars).",
                spend);
    static const char* kLimit[] = {"requests", "tokens", "budget"};
    std::vector<Sample> limited;
    for (int i = 0; i < 3; ++i) {
      limited.push_back({{{"limit", kLimit[i]}}, static_cast<double>(limited_[i].load())});
    }
    if (options_.demand) {
      std::vector<Sample> published;
      {
        std::lock_guard<std::mutex> lock(pending_mu_);
        for (const auto& [service, per_s] : published_demand_) {
          published.push_back(
              {{{"service", world_.services[service].id}}, static_cast<double>(per_s)});
        }
      }
      out.Gauge("polycloud_gateway_published_demand_tokens_per_second",
                "The demand last posted to the broker per service (tokens/s over the last minute).",
                published);
    }
    out.Counter("polycloud_gateway_usage_flush_failures_total",
                "Writes of the token accounting to the store that failed (kept and retried).",
                {{{}, static_cast<double>(flush_failures_.load())}});
    out.Counter("polycloud_gateway_demand_publish_failures_total",
                "Posts of measured demand to the broker that failed.",
                {{{}, static_cast<double>(publish_failures_.load())}});
    out.Counter("polycloud_gateway_key_limited_total",
                "Requests refused with 429 by their key's limits, by the limit that held.",
                limited);
    if (const http::Server* server = server_.load()) {
      http::WriteHttpMetrics(out, server->Stats(), "polycloud_gateway_http");
    }
    return Response::Text(200, out.Take(), std::string(http::kPrometheusContentType));
  }

 public:
  void AttachServer(const http::Server* server) { server_ = server; }

 private:
  GatewayConfig config_;
  const world::World& world_;
  const Clock& clock_;
  GatewayOptions options_;
  std::vector<std::string> upstream_keys_;  // per deployment; "" = none
  RoutingTable routing_;
  std::unordered_map<std::string, size_t> keys_;  // secret_sha256 → index in config_.keys
  std::vector<std::unique_ptr<DeploymentMetrics>> metrics_;
  http::LatencyHistogram overhead_;
  mutable std::mutex answers_mu_;
  std::map<int, uint64_t> answers_;
  std::atomic<uint64_t> rule_rejections_{0}, contract_refusals_{0}, failed_attempts_{0};
  std::atomic<const http::Server*> server_{nullptr};
  std::vector<std::unique_ptr<KeyState>> key_states_;  // per key of config_.keys
  std::atomic<uint64_t> limited_[3] = {};              // requests, tokens, budget
  mutable std::mutex spend_mu_;
  std::string request_nonce_;
  std::atomic<uint64_t> request_counter_{0};
  mutable std::mutex traces_mu_;
  std::unordered_map<std::string, std::shared_ptr<const Trace>> traces_;  // by id
  std::deque<std::string> trace_order_;
  // Accounting not yet written, by (day, key, deployment, prices).
  struct DemandSample {
    Time at;
    world::ServiceIndex service;
    int64_t tokens;
  };
  mutable std::mutex pending_mu_;
  std::map<std::tuple<std::string, size_t, int32_t, int64_t, int64_t>, store::UsageRow> pending_;
  int64_t day_number_ = std::numeric_limits<int64_t>::min();  // of day_, under pending_mu_
  std::string day_;
  std::deque<DemandSample> demand_window_;  // the last minute's tokens, by service
  std::map<world::ServiceIndex, int64_t> published_demand_;
  std::mutex flush_mu_;
  std::atomic<uint64_t> flush_failures_{0}, publish_failures_{0};
  std::mutex background_mu_;
  std::condition_variable background_cv_;
  bool stopping_ = false;
  std::thread background_;
  // Upstream calls: their own I/O threads, so that a slow deployment never
  // holds a thread of the server.
  std::unique_ptr<boost::asio::io_context> io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> io_work_;
  std::unique_ptr<UpstreamClient> upstream_;
  std::vector<std::thread> io_threads_;
  std::mutex in_flight_mu_;
  std::condition_variable in_flight_cv_;
  size_t in_flight_ = 0;  // Exchanges alive
};

Result<std::unique_ptr<Gateway>> Gateway::Create(GatewayConfig config, const world::World& world,
                                                 const Clock& clock, GatewayOptions options) {
  std::vector<std::string> upstream_keys;
  for (const Deployment& d : config.deployments) {
    std::string key;
    if (!d.api_key_env.empty()) {
      const char* v = options.getenv(d.api_key_env.c_str());
      if (v == nullptr || *v == '\0') {
        return InvalidArgument("endpoint " + d.id + " (" + d.where +
                               "): the environment variable " + d.api_key_env +
                               " (api_key_env) is not set");
      }
      key = v;
    }
    upstream_keys.push_back(std::move(key));
  }
  if (options.threads < 1) return InvalidArgument("gateway threads: expected at least 1");
  auto impl = std::make_unique<Impl>(std::move(config), world, clock, std::move(options),
                                     std::move(upstream_keys));
  POLYCLOUD_RETURN_IF_ERROR(impl->LoadUsage());
  impl->Start();
  return std::unique_ptr<Gateway>(new Gateway(std::move(impl)));
}

Gateway::Gateway(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Gateway::~Gateway() = default;
http::Router Gateway::MakeRouter() { return impl_->MakeRouter(); }
const GatewayConfig& Gateway::config() const { return impl_->config(); }
RoutingTable& Gateway::routing() { return impl_->routing(); }
void Gateway::AttachServer(const http::Server* server) { impl_->AttachServer(server); }
Status Gateway::FlushUsage() { return impl_->FlushUsage(); }
Status Gateway::PublishDemand() { return impl_->PublishDemand(); }

}  // namespace polycloud::gateway
