#include "polycloud/gateway/gateway.h"

#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <unordered_map>

#include "polycloud/base/parse.h"
#include "polycloud/gateway/anthropic.h"
#include "polycloud/gateway/upstream.h"
#include "polycloud/http/client.h"
#include "polycloud/http/metrics.h"
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

// A fixed set of threads running queued tasks; the destructor drains the queue.
class WorkerPool {
 public:
  explicit WorkerPool(int threads) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
  }
  ~WorkerPool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : threads_) t.join();
  }
  void Post(std::function<void()> task) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      tasks_.push_back(std::move(task));
    }
    cv_.notify_one();
  }

 private:
  void Run() {
    while (true) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
        if (tasks_.empty()) return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace

class Gateway::Impl {
 public:
  Impl(GatewayConfig config, const world::World& world, const Clock& clock, GatewayOptions options,
       std::vector<std::string> upstream_keys)
      : config_(std::move(config)),
        clock_(clock),
        options_(std::move(options)),
        upstream_keys_(std::move(upstream_keys)),
        routing_(config_, world, clock) {
    for (size_t i = 0; i < config_.keys.size(); ++i) keys_[config_.keys[i].secret_sha256] = i;
    for (size_t i = 0; i < config_.deployments.size(); ++i) {
      metrics_.push_back(std::make_unique<DeploymentMetrics>());
    }
    // Last: the workers must not start before the rest is built.
    workers_ = std::make_unique<WorkerPool>(options_.workers);
  }
  ~Impl() { workers_.reset(); }

  http::Router MakeRouter() {
    http::Router router;
    router.AddAsync("POST", "/v1/chat/completions", [this](Request r, Reply reply) {
      // Overhead: from here (queueing for a worker included) to the answer,
      // minus the time spent waiting on upstreams.
      const auto start = std::chrono::steady_clock::now();
      auto upstream_ns = std::make_shared<std::atomic<int64_t>>(0);
      Reply counted([this, reply, start, upstream_ns](Response response) {
        const auto total = std::chrono::steady_clock::now() - start;
        RecordAnswer(response.status,
                     std::max(std::chrono::nanoseconds(0),
                              total - std::chrono::nanoseconds(upstream_ns->load())));
        reply(std::move(response));
      });
      workers_->Post([this, r = std::move(r), counted, upstream_ns]() {
        ChatCompletions(r, counted, *upstream_ns);
      });
    });
    router.Add("GET", "/v1/models", [this](const Request& r) { return Models(r); });
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

  void ChatCompletions(const Request& r, const Reply& reply, std::atomic<int64_t>& upstream_ns) {
    const ApiKey* key = Authenticate(r);
    if (key == nullptr) return reply(Unauthenticated(r));
    json body;
    try {
      body = json::parse(r.body);
    } catch (const json::exception& e) {
      return reply(OpenAiError(400, std::string("the body is not JSON: ") + e.what(),
                               "invalid_request_error", "invalid_json"));
    }
    if (!body.is_object()) {
      return reply(OpenAiError(400, "the body must be a JSON object", "invalid_request_error",
                               "invalid_json"));
    }
    if (!body.contains("model") || !body["model"].is_string()) {
      return reply(OpenAiError(400, "you must provide a model parameter (a string)",
                               "invalid_request_error", "missing_model"));
    }
    const std::string model = body["model"].get<std::string>();
    bool stream = false;
    if (body.contains("stream")) {
      if (!body["stream"].is_boolean() && !body["stream"].is_null()) {
        return reply(OpenAiError(400, "stream: expected a boolean", "invalid_request_error",
                                 "invalid_type"));
      }
      stream = body["stream"].is_boolean() && body["stream"].get<bool>();
    }
    if (!routing_.HasModel(model)) {
      return reply(OpenAiError(404,
                               "The model `" + model +
                                   "` does not exist or no deployment "
                                   "of this gateway serves it.",
                               "invalid_request_error", "model_not_found"));
    }
    const RoutePlan plan = routing_.Plan(*key, model);
    for (const Candidate& c : plan.candidates) {
      if (!c.admissible) ++rule_rejections_;
    }
    if (plan.order.empty()) {
      if (plan.contract_refusal) ++contract_refusals_;
      return reply(Refusal(plan));
    }
    std::vector<std::string> failures;
    std::optional<int64_t> retry_after_s;
    for (int32_t d : plan.order) {
      if (Forward(d, plan, body, stream, reply, failures, retry_after_s, upstream_ns)) return;
      ++failed_attempts_;
    }
    std::string message = "no deployment of " + model + " the contracts allow answered: ";
    for (size_t i = 0; i < failures.size(); ++i) message += (i ? "; " : "") + failures[i];
    for (const Candidate& c : plan.candidates) {
      if (!c.admissible) {
        message += "; not tried: " + config_.deployments[c.deployment].id + " (" + c.verdict + ")";
      }
    }
    std::vector<Header> headers;
    if (retry_after_s) headers.push_back({"Retry-After", std::to_string(*retry_after_s)});
    reply(OpenAiError(503, message, "server_error", "upstream_unavailable", std::move(headers)));
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

  // Tries deployment `d`. True when the request is answered (by it, or with
  // its answer to a request it refused as malformed); false to fail over.
  bool Forward(int32_t d, const RoutePlan& plan, json body, bool stream, const Reply& reply,
               std::vector<std::string>& failures, std::optional<int64_t>& retry_after_s,
               std::atomic<int64_t>& upstream_ns) {
    const Deployment& dep = config_.deployments[d];
    if (!routing_.Acquire(d)) {
      failures.push_back(dep.id + ": became unavailable");
      return false;
    }
    const std::string requested_model = body["model"].get<std::string>();
    const bool anthropic = dep.format == ApiFormat::kAnthropic;
    UpstreamRequest up;
    up.host = dep.host;
    up.port = dep.port;
    up.timeout = std::chrono::milliseconds(config_.routing.upstream_timeout.seconds() * 1000);
    if (anthropic) {
      Result<json> translated = ToAnthropicRequest(body, dep.upstream_model);
      if (!translated.ok()) {
        // The request, not the deployment, is at fault: no health penalty.
        Settle(d, Attempt::kNeutral);
        failures.push_back(dep.id + ": " + translated.status().message());
        return false;
      }
      up.target = dep.path_prefix + "/messages";
      up.body = translated->dump(-1, ' ', false, json::error_handler_t::replace);
      up.headers.push_back({"anthropic-version", kAnthropicVersion});
      if (!upstream_keys_[d].empty()) up.headers.push_back({"x-api-key", upstream_keys_[d]});
    } else {
      body["model"] = dep.upstream_model;
      up.target = dep.path_prefix + "/chat/completions";
      up.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
      if (!upstream_keys_[d].empty()) {
        up.headers.push_back({"Authorization", "Bearer " + upstream_keys_[d]});
      }
    }
    if (stream) up.headers.push_back({"Accept", "text/event-stream"});
    const auto upstream_start = std::chrono::steady_clock::now();
    auto waited = [&] {
      const auto elapsed = std::chrono::steady_clock::now() - upstream_start;
      upstream_ns += std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count();
      metrics_[d]->upstream.Observe(elapsed);
    };
    Result<std::unique_ptr<UpstreamCall>> call = UpstreamCall::Start(up);
    if (!call.ok() || stream) waited();
    if (!call.ok()) {
      Settle(d, Attempt::kFailure);
      failures.push_back(dep.id + ": " + call.status().message());
      return false;
    }
    const int status = (*call)->status();
    if (status == 429 || status >= 500) {
      if (!stream) waited();
      std::optional<Duration> wait = RetryAfter((*call)->headers());
      if (status == 429 && !wait) wait = Duration::Seconds(1);
      if (wait) {
        retry_after_s = retry_after_s ? std::min(*retry_after_s, wait->seconds()) : wait->seconds();
      }
      Settle(d, status == 429 ? Attempt::kNeutral : Attempt::kFailure, wait);
      failures.push_back(dep.id + ": HTTP " + std::to_string(status));
      return false;
    }
    std::vector<Header> headers = {{"x-polycloud-deployment", dep.id},
                                   {"x-polycloud-rule", Sanitize(RuleOf(plan, d))}};
    if (!failures.empty()) {
      std::string failed;
      for (const std::string& f : failures) failed += (failed.empty() ? "" : "; ") + f;
      headers.push_back({"x-polycloud-failed-over", Sanitize(failed)});
    }
    std::optional<std::string_view> type = (*call)->headers().Get("Content-Type");
    if (stream && status == 200 && type && type->substr(0, 17) == "text/event-stream") {
      std::unique_ptr<AnthropicStreamTranslator> translator;
      if (anthropic) {
        const json options = body.value("stream_options", json::object());
        translator = std::make_unique<AnthropicStreamTranslator>(
            requested_model, clock_.Now().unix_seconds(),
            options.is_object() && options.value("include_usage", false));
      }
      PassThroughStream(d, **call, std::move(headers), reply, translator.get());
      return true;
    }
    Result<std::string> answer = (*call)->ReadAll(options_.max_response_bytes);
    if (!stream) waited();
    if (!answer.ok()) {
      Settle(d, Attempt::kFailure);
      failures.push_back(dep.id + ": " + answer.status().message());
      return false;
    }
    if (anthropic && status < 400) {
      Result<json> translated =
          FromAnthropicResponse(*answer, requested_model, clock_.Now().unix_seconds());
      if (!translated.ok()) {
        Settle(d, Attempt::kFailure);
        failures.push_back(dep.id + ": " + translated.status().message());
        return false;
      }
      *answer = translated->dump(-1, ' ', false, json::error_handler_t::replace);
      type = "application/json";
    } else if (anthropic) {
      *answer = FromAnthropicError(*answer).dump(-1, ' ', false, json::error_handler_t::replace);
      type = "application/json";
    }
    if (status < 400) CountTokens(d, *answer);
    Settle(d, status < 400 ? Attempt::kSuccess : Attempt::kNeutral);
    Response response =
        Response::Text(status, std::move(*answer), type ? std::string(*type) : "application/json");
    response.headers = std::move(headers);
    reply(std::move(response));
    return true;
  }

  std::string RuleOf(const RoutePlan& plan, int32_t d) const {
    for (const Candidate& c : plan.candidates) {
      if (c.deployment == d) return c.rule;
    }
    return "";
  }

  // Relays the upstream's events to the client as they arrive.
  // `translator`: the deployment speaks Anthropic's stream; else relayed as is.
  void PassThroughStream(int32_t d, UpstreamCall& call, std::vector<Header> headers,
                         const Reply& reply, AnthropicStreamTranslator* translator) {
    auto opened = std::make_shared<std::promise<std::shared_ptr<http::EventStream>>>();
    std::future<std::shared_ptr<http::EventStream>> future = opened->get_future();
    Response response = Response::Stream(
        [opened](std::shared_ptr<http::EventStream> s) { opened->set_value(std::move(s)); });
    response.headers = std::move(headers);
    reply(std::move(response));
    std::shared_ptr<http::EventStream> client;
    try {
      // A client gone before the stream opened drops the callback (and the
      // promise with it): broken_promise, at once.
      if (future.wait_for(std::chrono::seconds(30)) == std::future_status::ready) {
        client = future.get();
      }
    } catch (const std::future_error&) {
    }
    if (client == nullptr) {
      Settle(d, Attempt::kNeutral);
      return;
    }
    http::SseParser parser;
    std::vector<http::SseEvent> events;
    Attempt outcome = Attempt::kSuccess;
    while (!client->closed()) {
      Result<std::optional<std::string>> piece = call.ReadSome();
      if (!piece.ok()) {
        // Too late to fail over: the client has part of an answer. Say so in
        // the stream, in the error shape, and end it.
        outcome = Attempt::kFailure;
        json error = {
            {"error",
             {{"message", "the deployment's stream broke off: " + piece.status().message()},
              {"type", "server_error"},
              {"param", nullptr},
              {"code", "upstream_stream_broken"}}}};
        http::SseEvent event;
        event.data = error.dump();
        client->Send(event);
        break;
      }
      if (!*piece) break;
      parser.Feed(**piece, &events);
      for (const http::SseEvent& e : events) {
        if (translator == nullptr) {
          CountTokens(d, e.data);
          client->Send(e);
          continue;
        }
        for (const http::SseEvent& out : translator->Translate(e)) {
          CountTokens(d, out.data);
          client->Send(out);
        }
      }
      events.clear();
      if (translator != nullptr && translator->done()) break;
    }
    // Released before the client can see the end, so a client that counts
    // on the slot being free after the stream never sees it taken.
    Settle(d, outcome);
    client->Close();
  }

  // Counts per deployment, for /metrics.
  struct DeploymentMetrics {
    std::atomic<uint64_t> attempts[3] = {};  // by Attempt
    std::atomic<uint64_t> input_tokens{0}, output_tokens{0};
    http::LatencyHistogram upstream;  // to the headers (streams) or the whole answer
  };

  void Settle(int32_t d, Attempt outcome, std::optional<Duration> retry_after = std::nullopt) {
    ++metrics_[d]->attempts[static_cast<int>(outcome)];
    routing_.Release(d, outcome, retry_after);
  }

  // Usage from an answer or a stream's chunk ("usage":{...}), when it has one.
  void CountTokens(int32_t d, std::string_view text) {
    if (text.find("\"usage\"") == std::string_view::npos) return;
    const json j = json::parse(text, nullptr, false);
    if (!j.is_object() || !j.contains("usage") || !j["usage"].is_object()) return;
    const json& u = j["usage"];
    auto take = [&](const char* key) -> uint64_t {
      return u.contains(key) && u[key].is_number_unsigned() ? u[key].get<uint64_t>() : 0;
    };
    metrics_[d]->input_tokens += take("prompt_tokens");
    metrics_[d]->output_tokens += take("completion_tokens");
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
    out.Counter("polycloud_gateway_requests_total", "Chat completion requests answered, by status.",
                answers);
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
    if (const http::Server* server = server_.load()) {
      http::WriteHttpMetrics(out, server->Stats(), "polycloud_gateway_http");
    }
    return Response::Text(200, out.Take(), std::string(http::kPrometheusContentType));
  }

 public:
  void AttachServer(const http::Server* server) { server_ = server; }

 private:
  GatewayConfig config_;
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
  std::unique_ptr<WorkerPool> workers_;
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
  if (options.workers < 1) return InvalidArgument("gateway workers: expected at least 1");
  return std::unique_ptr<Gateway>(new Gateway(std::make_unique<Impl>(
      std::move(config), world, clock, std::move(options), std::move(upstream_keys))));
}

Gateway::Gateway(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Gateway::~Gateway() = default;
http::Router Gateway::MakeRouter() { return impl_->MakeRouter(); }
const GatewayConfig& Gateway::config() const { return impl_->config(); }
RoutingTable& Gateway::routing() { return impl_->routing(); }
void Gateway::AttachServer(const http::Server* server) { impl_->AttachServer(server); }

}  // namespace polycloud::gateway
