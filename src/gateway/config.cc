#include "polycloud/gateway/config.h"

#include <yaml-cpp/yaml.h>

#include <limits>
#include <map>
#include <optional>
#include <set>

#include "polycloud/base/parse.h"
#include "polycloud/base/text.h"
#include "polycloud/http/client.h"
#include "polycloud/http/secret.h"
#include "polycloud/io/scenario.h"

namespace polycloud::gateway {
namespace {

constexpr int64_t kMaxConfigBytes = 4 << 20;
constexpr size_t kMaxDiagnostics = 50;

std::string Found(const YAML::Node& n) {
  if (n.IsScalar()) return QuoteExcerpt(n.Scalar());
  if (n.IsMap()) return "a mapping";
  if (n.IsSequence()) return "a list";
  return "nothing";
}

// Collects "file:line:column: message" lines.
class Diags {
 public:
  explicit Diags(std::string file) : file_(std::move(file)) {}
  void Add(const YAML::Mark& mark, const std::string& message) {
    if (lines_.size() >= kMaxDiagnostics) return;
    lines_.push_back(Where(mark) + ": " + message);
  }
  void Add(const YAML::Node& n, const std::string& message) { Add(n.Mark(), message); }
  std::string Where(const YAML::Mark& mark) const {
    if (mark.line < 0) return file_;
    return file_ + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
  }
  bool any() const { return !lines_.empty(); }
  Status ToStatus() const {
    std::string message;
    for (const std::string& l : lines_) message += (message.empty() ? "" : "\n") + l;
    if (lines_.size() >= kMaxDiagnostics)
      message += "\n(stopped after " + std::to_string(kMaxDiagnostics) + " errors)";
    return InvalidInput(message);
  }

 private:
  std::string file_;
  std::vector<std::string> lines_;
};

// One mapping: Take() marks a key known; Finish() reports the rest as unknown.
class MapReader {
 public:
  MapReader(const YAML::Node& node, std::string what, Diags& diags)
      : node_(node), what_(std::move(what)), diags_(diags), valid_(node.IsMap()) {
    if (!valid_) diags_.Add(node, "expected " + what_ + " as a mapping, found " + Found(node));
  }
  bool valid() const { return valid_; }
  YAML::Node Take(const std::string& key) {
    known_.push_back(key);
    if (!valid_) return YAML::Node(YAML::NodeType::Undefined);
    return node_[key];
  }
  YAML::Node Require(const std::string& key) {
    YAML::Node v = Take(key);
    if (valid_ && !v) diags_.Add(node_, what_ + " is missing required key \"" + key + "\"");
    return v;
  }
  void Finish() {
    if (!valid_) return;
    std::string known;
    for (const std::string& k : known_) known += (known.empty() ? "" : ", ") + k;
    for (const auto& kv : node_) {
      const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
      bool taken = false;
      for (const std::string& k : known_) taken = taken || k == key;
      if (!taken) {
        diags_.Add(kv.first, "unknown key " + QuoteExcerpt(key) + " in " + what_ +
                                 " (expected one of: " + known + ")");
      }
    }
  }

 private:
  YAML::Node node_;
  std::string what_;
  Diags& diags_;
  std::vector<std::string> known_;
  bool valid_;
};

std::optional<std::string> AsString(const YAML::Node& n, Diags& d, const std::string& what) {
  if (!n.IsScalar() || n.Scalar().empty()) {
    d.Add(n, "expected " + what + " as a non-empty string, found " + Found(n));
    return std::nullopt;
  }
  return n.Scalar();
}

std::optional<int64_t> AsInteger(const YAML::Node& n, Diags& d, const std::string& what,
                                 int64_t min, int64_t max) {
  Result<int64_t> v = n.IsScalar() ? ParseInteger(n.Scalar()) : InvalidInput("");
  if (!v.ok() || *v < min || *v > max) {
    d.Add(n, what + ": expected an integer between " + std::to_string(min) + " and " +
                 std::to_string(max) + ", found " + Found(n));
    return std::nullopt;
  }
  return *v;
}

// Dollars per million tokens, exact to the micro-dollar ("2.50", "$10").
std::optional<Money> AsUsd(const YAML::Node& n, Diags& d, const std::string& what) {
  std::string s = n.IsScalar() ? n.Scalar() : "";
  if (!s.empty() && s[0] == '$') s.erase(0, 1);
  Result<int64_t> micros = ParseScaledDecimal(s, 6);
  if (!n.IsScalar() || !micros.ok() || *micros < 0) {
    d.Add(n, what + ": expected an amount in US dollars such as 2.50, found " + Found(n));
    return std::nullopt;
  }
  return Money::FromMicros(*micros);
}

std::optional<Duration> AsDuration(const YAML::Node& n, Diags& d, const std::string& what) {
  Result<Duration> v = n.IsScalar() ? ParseDuration(n.Scalar()) : InvalidInput("");
  if (!v.ok() || v->seconds() <= 0) {
    d.Add(n, what + ": expected a positive duration such as 30s, found " + Found(n));
    return std::nullopt;
  }
  return *v;
}

// Items of a list `what`; reports anything else.
std::vector<YAML::Node> Items(const YAML::Node& n, Diags& d, const std::string& what) {
  std::vector<YAML::Node> out;
  if (!n) return out;
  if (!n.IsSequence()) {
    d.Add(n, "expected " + what + " as a list, found " + Found(n));
    return out;
  }
  for (const auto& item : n) out.push_back(item);
  return out;
}

// Splits "http://host:port/path" into the client's address and the path.
bool ParseBaseUrl(const std::string& url, Deployment& out, std::string* error) {
  constexpr std::string_view kScheme = "http://";
  if (url.rfind(kScheme, 0) != 0) {
    *error = "expected an http:// URL (TLS is not supported), found " + QuoteExcerpt(url);
    return false;
  }
  const size_t slash = url.find('/', kScheme.size());
  const std::string authority = url.substr(0, slash);
  std::string path = slash == std::string::npos ? "" : url.substr(slash);
  while (!path.empty() && path.back() == '/') path.pop_back();
  if (path.find_first_of("?#") != std::string::npos) {
    *error = "a base URL has no query or fragment, found " + QuoteExcerpt(url);
    return false;
  }
  Result<http::ServerAddress> address = http::ParseServerUrl(authority);
  if (!address.ok()) {
    *error = address.status().message();
    return false;
  }
  out.host = address->host;
  out.port = address->port;
  out.path_prefix = path.empty() ? "/v1" : path;
  return true;
}

void ReadDeployment(const YAML::Node& n, const world::World& w, Diags& d,
                    std::map<std::string, YAML::Mark>& ids, std::vector<Deployment>& out) {
  MapReader m(n, "an endpoint", d);
  if (!m.valid()) return;
  Deployment dep;
  dep.where = d.Where(n.Mark());
  bool ok = true;
  auto need = [&](std::optional<std::string> v, std::string& into) {
    if (v) into = *v;
    ok = ok && v.has_value();
  };
  if (YAML::Node id = m.Require("id")) {
    need(AsString(id, d, "id"), dep.id);
    if (!dep.id.empty()) {
      auto [it, inserted] = ids.emplace(dep.id, id.Mark());
      if (!inserted) {
        d.Add(id, "endpoint id " + QuoteExcerpt(dep.id) + " is used twice (first at " +
                      d.Where(it->second) + ")");
        ok = false;
      }
    }
  }
  if (YAML::Node p = m.Require("provider")) {
    std::string provider;
    need(AsString(p, d, "provider"), provider);
    if (!provider.empty()) {
      dep.provider = w.FindProvider(provider);
      if (dep.provider == world::kNone) {
        d.Add(p, "provider " + QuoteExcerpt(provider) + " is not a provider of the scenario");
        ok = false;
      }
    }
  }
  if (YAML::Node s = m.Take("site")) {
    std::string site;
    need(AsString(s, d, "site"), site);
    if (!site.empty()) {
      dep.site = w.FindSite(site);
      if (dep.site == world::kNone) {
        d.Add(s, "site " + QuoteExcerpt(site) + " is not a site of the scenario");
        ok = false;
      } else if (dep.provider != world::kNone && w.sites[dep.site].provider != dep.provider) {
        d.Add(s, "site " + QuoteExcerpt(site) + " belongs to provider " +
                     w.providers[w.sites[dep.site].provider].id + ", not " +
                     w.providers[dep.provider].id);
        ok = false;
      }
    }
  }
  if (YAML::Node v = m.Require("model")) need(AsString(v, d, "model"), dep.model);
  dep.upstream_model = dep.model;
  if (YAML::Node v = m.Take("upstream_model")) {
    need(AsString(v, d, "upstream_model"), dep.upstream_model);
  }
  if (YAML::Node v = m.Require("base_url")) {
    need(AsString(v, d, "base_url"), dep.base_url);
    std::string error;
    if (!dep.base_url.empty() && !ParseBaseUrl(dep.base_url, dep, &error)) {
      d.Add(v, "base_url: " + error);
      ok = false;
    }
  }
  if (YAML::Node v = m.Require("format")) {
    std::string format;
    need(AsString(v, d, "format"), format);
    if (format == "openai") {
      dep.format = ApiFormat::kOpenAi;
    } else if (format == "anthropic") {
      dep.format = ApiFormat::kAnthropic;
    } else if (!format.empty()) {
      d.Add(v, "format: expected openai or anthropic, found " + QuoteExcerpt(format));
      ok = false;
    }
  }
  if (YAML::Node v = m.Take("api_key_env")) need(AsString(v, d, "api_key_env"), dep.api_key_env);
  if (YAML::Node c = m.Take("capacity")) {
    MapReader cap(c, "an endpoint's capacity", d);
    constexpr int64_t kMax = int64_t{1} << 40;
    if (YAML::Node v = cap.Take("tokens_per_s")) {
      auto x = AsInteger(v, d, "capacity.tokens_per_s", 0, kMax);
      ok = ok && x;
      dep.tokens_per_s = x.value_or(0);
    }
    if (YAML::Node v = cap.Take("concurrent_requests")) {
      auto x = AsInteger(v, d, "capacity.concurrent_requests", 0, 1'000'000);
      ok = ok && x;
      dep.max_concurrent = x.value_or(0);
    }
    cap.Finish();
  }
  if (YAML::Node p = m.Take("price")) {
    MapReader price(p, "an endpoint's price", d);
    if (YAML::Node v = price.Take("input_per_million")) {
      auto x = AsUsd(v, d, "price.input_per_million");
      ok = ok && x;
      dep.input_per_million = x.value_or(Money());
    }
    if (YAML::Node v = price.Take("output_per_million")) {
      auto x = AsUsd(v, d, "price.output_per_million");
      ok = ok && x;
      dep.output_per_million = x.value_or(Money());
    }
    price.Finish();
  }
  if (YAML::Node c = m.Take("contract")) {
    std::string contract;
    need(AsString(c, d, "contract"), contract);
    if (!contract.empty()) {
      dep.contract = w.FindContract(contract);
      if (dep.contract == world::kNone) {
        d.Add(c, "contract " + QuoteExcerpt(contract) + " is not a contract of the scenario");
        ok = false;
      } else if (dep.provider != world::kNone &&
                 w.contracts[dep.contract].provider != dep.provider) {
        d.Add(c, "contract " + QuoteExcerpt(contract) + " is with provider " +
                     w.providers[w.contracts[dep.contract].provider].id + ", not " +
                     w.providers[dep.provider].id);
        ok = false;
      }
    }
  }
  m.Finish();
  if (ok) out.push_back(std::move(dep));
}

bool IsLowerHex64(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

void ReadKey(const YAML::Node& n, const world::World& w, Diags& d,
             std::map<std::string, YAML::Mark>& ids, std::set<std::string>& hashes,
             std::vector<ApiKey>& out) {
  MapReader m(n, "a key", d);
  if (!m.valid()) return;
  ApiKey key;
  bool ok = true;
  if (YAML::Node id = m.Require("id")) {
    auto v = AsString(id, d, "id");
    ok = ok && v;
    key.id = v.value_or("");
    if (v && !ids.emplace(key.id, id.Mark()).second) {
      d.Add(id, "key id " + QuoteExcerpt(key.id) + " is used twice");
      ok = false;
    }
  }
  if (YAML::Node h = m.Require("secret_sha256")) {
    auto v = AsString(h, d, "secret_sha256");
    if (v && !IsLowerHex64(*v)) {
      d.Add(h,
            "secret_sha256: expected 64 lowercase hex digits (polycloud gateway key create "
            "prints them), found " +
                QuoteExcerpt(*v));
      v.reset();
    } else if (v && !hashes.insert(*v).second) {
      d.Add(h, "secret_sha256: two keys have the same secret");
      v.reset();
    }
    ok = ok && v;
    key.secret_sha256 = v.value_or("");
  }
  if (YAML::Node v = m.Take("tenant")) {
    auto x = AsString(v, d, "tenant");
    ok = ok && x;
    key.tenant = x.value_or("");
  }
  if (YAML::Node s = m.Take("service")) {
    auto x = AsString(s, d, "service");
    ok = ok && x;
    if (x) {
      key.service = w.FindService(*x);
      if (key.service == world::kNone) {
        d.Add(s, "service " + QuoteExcerpt(*x) + " is not a service of the scenario");
        ok = false;
      } else {
        key.workload_class = w.services[key.service].workload_class;
        key.model_family = w.services[key.service].model_family;
      }
    }
  }
  if (YAML::Node v = m.Take("workload_class")) {
    auto x = AsString(v, d, "workload_class");
    ok = ok && x;
    if (x) key.workload_class = *x;
  }
  if (YAML::Node v = m.Take("model_family")) {
    auto x = AsString(v, d, "model_family");
    ok = ok && x;
    if (x) key.model_family = *x;
  }
  if (YAML::Node l = m.Take("limits")) {
    MapReader lim(l, "a key's limits", d);
    constexpr int64_t kMax = int64_t{1} << 40;
    if (YAML::Node v = lim.Take("requests_per_minute")) {
      auto x = AsInteger(v, d, "limits.requests_per_minute", 1, kMax);
      ok = ok && x;
      key.limits.requests_per_minute = x.value_or(0);
    }
    if (YAML::Node v = lim.Take("tokens_per_minute")) {
      auto x = AsInteger(v, d, "limits.tokens_per_minute", 1, kMax);
      ok = ok && x;
      key.limits.tokens_per_minute = x.value_or(0);
    }
    if (YAML::Node v = lim.Take("budget")) {
      auto x = AsUsd(v, d, "limits.budget");
      ok = ok && x;
      key.limits.budget = x;
    }
    lim.Finish();
  }
  if (ok && key.workload_class.empty()) {
    d.Add(n, "key " + QuoteExcerpt(key.id) +
                 " needs a workload_class (or a service of the scenario that has one)");
    ok = false;
  }
  m.Finish();
  if (ok) out.push_back(std::move(key));
}

std::optional<RoutePolicy> AsPolicy(const YAML::Node& n, Diags& d, const std::string& what) {
  const std::string s = n.IsScalar() ? n.Scalar() : "";
  for (RoutePolicy p :
       {RoutePolicy::kLeastOutstanding, RoutePolicy::kLatency, RoutePolicy::kCheapest}) {
    if (s == RoutePolicyName(p)) return p;
  }
  d.Add(n, what + ": expected least-outstanding, latency or cheapest, found " + Found(n));
  return std::nullopt;
}

void ReadRouting(const YAML::Node& n, const world::World& w, Diags& d, RoutingSettings& out) {
  MapReader m(n, "routing", d);
  if (YAML::Node v = m.Take("policy")) out.policy = AsPolicy(v, d, "policy").value_or(out.policy);
  if (YAML::Node s = m.Take("services")) {
    if (!s.IsMap()) {
      d.Add(s, "services: expected a mapping of scenario service to policy, found " + Found(s));
    } else {
      for (const auto& kv : s) {
        const std::string id = kv.first.IsScalar() ? kv.first.Scalar() : "";
        const world::ServiceIndex service = w.FindService(id);
        if (service == world::kNone) {
          d.Add(kv.first, "services: " + QuoteExcerpt(id) + " is not a service of the scenario");
          continue;
        }
        if (std::optional<RoutePolicy> p = AsPolicy(kv.second, d, "services." + id)) {
          out.per_service.emplace_back(service, *p);
        }
      }
    }
  }
  if (YAML::Node v = m.Take("eject_after_failures")) {
    out.eject_after_failures =
        static_cast<int32_t>(AsInteger(v, d, "eject_after_failures", 1, 1000).value_or(3));
  }
  if (YAML::Node v = m.Take("eject_for")) {
    out.eject_for = AsDuration(v, d, "eject_for").value_or(out.eject_for);
  }
  if (YAML::Node v = m.Take("upstream_timeout")) {
    out.upstream_timeout = AsDuration(v, d, "upstream_timeout").value_or(out.upstream_timeout);
  }
  m.Finish();
}

}  // namespace

const char* RoutePolicyName(RoutePolicy policy) {
  switch (policy) {
    case RoutePolicy::kLatency:
      return "latency";
    case RoutePolicy::kCheapest:
      return "cheapest";
    case RoutePolicy::kLeastOutstanding:
      break;
  }
  return "least-outstanding";
}

const char* ApiFormatName(ApiFormat format) {
  return format == ApiFormat::kAnthropic ? "anthropic" : "openai";
}

namespace {

// Parses `text`, then reads the configuration from the root (or from the
// root's `section` when not empty).
Result<GatewayConfig> LoadFromText(std::string_view text, std::string_view file_name,
                                   const world::World& world, const char* section) {
  Diags d{std::string(file_name)};
  if (std::optional<TextPosition> bad = FindInvalidUtf8(text)) {
    return InvalidInput(std::string(file_name) + ":" + std::to_string(bad->line) + ":" +
                        std::to_string(bad->column) + ": invalid UTF-8");
  }
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return InvalidInput(d.Where(e.mark) + ": " + e.msg);
  }
  GatewayConfig config;
  try {
    if (section != nullptr) {
      if (!root.IsMap() || !root[section]) {
        return NotFound(std::string(file_name) + " has no " + section + ": section");
      }
      root = root[section];
    }
    MapReader m(root,
                section != nullptr ? "the scenario's gateway section" : "the gateway configuration",
                d);
    std::map<std::string, YAML::Mark> ids;
    for (const YAML::Node& item : Items(m.Require("endpoints"), d, "endpoints")) {
      ReadDeployment(item, world, d, ids, config.deployments);
    }
    std::map<std::string, YAML::Mark> key_ids;
    std::set<std::string> hashes;
    for (const YAML::Node& item : Items(m.Take("keys"), d, "keys")) {
      ReadKey(item, world, d, key_ids, hashes, config.keys);
    }
    if (YAML::Node r = m.Take("routing")) ReadRouting(r, world, d, config.routing);
    m.Finish();
    if (!d.any() && config.deployments.empty()) {
      d.Add(root, "endpoints: expected at least one endpoint");
    }
  } catch (const YAML::Exception& e) {
    // yaml-cpp throws on some malformed trees (e.g. an alias to a bad node).
    d.Add(e.mark, e.msg);
  }
  if (d.any()) return d.ToStatus();
  return config;
}

}  // namespace

Result<GatewayConfig> LoadGatewayConfigString(std::string_view text, std::string_view file_name,
                                              const world::World& world) {
  return LoadFromText(text, file_name, world, nullptr);
}

Result<GatewayConfig> LoadGatewayConfigSection(const std::string& scenario_path,
                                               const world::World& world) {
  Result<std::string> text = ReadRegularFile(scenario_path, io::kMaxScenarioBytes, "scenario");
  if (!text.ok()) return text.status();
  return LoadFromText(*text, scenario_path, world, "gateway");
}

Result<GatewayConfig> LoadGatewayConfigFile(const std::string& path, const world::World& world) {
  Result<std::string> text = ReadRegularFile(path, kMaxConfigBytes, "gateway configuration");
  if (!text.ok()) return text.status();
  return LoadGatewayConfigString(*text, path, world);
}

std::string HashKeySecret(std::string_view secret) { return http::Sha256Hex(secret); }

std::string GenerateKeySecret() {
  const std::string bytes = http::RandomBytes(43);
  static const char* kUrl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string secret = "pc-";
  for (char b : bytes) secret += kUrl[static_cast<unsigned char>(b) & 63];  // 258 bits
  return secret;
}

}  // namespace polycloud::gateway
