#include "polycloud/serve/api.h"

#include <chrono>
#include <map>
#include <thread>

#include "polycloud/base/parse.h"
#include "polycloud/http/json_body.h"
#include "polycloud/http/metrics.h"
#include "polycloud/http/secret.h"
#include "polycloud/report/html.h"

namespace polycloud::serve {

using http::ApiError;
using http::JsonObject;
using http::Need;
using http::Request;
using http::Response;
using nlohmann::json;

std::string HashToken(std::string_view secret) { return http::Sha256Hex(secret); }

NewToken GenerateToken() {
  const std::string bytes = http::RandomBytes(38);
  static const char* kUrl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  static const char* kHex = "0123456789abcdef";
  NewToken t;
  t.secret = "pc_";
  for (int i = 0; i < 32; ++i)
    t.secret += kUrl[static_cast<unsigned char>(bytes[i]) & 63];  // 192 bits
  t.id = "tok_";
  for (int i = 32; i < 38; ++i) {
    const auto b = static_cast<unsigned char>(bytes[i]);
    t.id += kHex[b >> 4];
    t.id += kHex[b & 15];
  }
  return t;
}

namespace {

// Ordered: a role may read what the ones below it read. A viewer reads what
// an operator reads (every tenant's jobs, the fleet, the report) and changes
// nothing: the mutations check for it by name.
enum class Role { kTenant = 0, kViewer = 1, kOperator = 2, kAdmin = 3 };

struct Principal {
  Role role = Role::kTenant;
  std::string tenant;
  std::string token_id;
};

std::optional<Role> ParseRole(std::string_view r) {
  if (r == "admin") return Role::kAdmin;
  if (r == "operator") return Role::kOperator;
  if (r == "viewer") return Role::kViewer;
  if (r == "tenant") return Role::kTenant;
  return std::nullopt;
}

json JobJson(const JobView& v) {
  json j{{"id", v.id},
         {"tenant", v.tenant},
         {"status", v.status},
         {"kind", v.kind},
         {"class", v.workload_class},
         {"gpus", v.gpus},
         {"gpu_milli", v.gpu_milli},
         {"cpus", static_cast<double>(v.cpu_milli) / 1000},
         {"memory_gib", static_cast<double>(v.memory_mib) / 1024},
         {"priority", v.priority},
         {"submitted", FormatTimeFull(v.submitted)},
         {"run", v.run},
         {"starts", v.starts},
         {"preemptions", v.preemptions},
         {"interruptions", v.interruptions},
         {"remaining_gpu_seconds", v.remaining_gpu_seconds},
         {"spend_usd", FormatMoneyExact(v.spend)}};
  j["first_start"] = v.first_start ? json(FormatTimeFull(*v.first_start)) : json();
  j["end"] = v.end ? json(FormatTimeFull(*v.end)) : json();
  j["pool"] = v.pool.empty() ? json() : json(v.pool);
  j["site"] = v.site.empty() ? json() : json(v.site);
  j["provider"] = v.provider.empty() ? json() : json(v.provider);
  j["site_job"] = v.site_job.empty() ? json() : json(v.site_job);
  return j;
}

Response Error(const ApiError& e) { return Response::Error(e); }

// `key` of `o` as a decimal number of thousandths ("cpus": 2.5 -> 2500), 0
// when absent: a JSON number of 0 or more, at most 10^6, to the thousandth
// (the scenario's rule for cpus and memory_gib, docs/scenario.md).
int64_t Thousandths(JsonObject& o, std::string_view key, const char* what) {
  const nlohmann::json* v = o.Raw(key, Need::kOptional);
  if (v == nullptr || v->is_null()) return 0;
  Result<int64_t> x = v->is_number() ? ParseScaledDecimal(v->dump(), 3)
                                     : Result<int64_t>(InvalidInput("not a number"));
  if (!x.ok() || *x < 0 || *x > 1'000'000'000) {
    o.Fail(key, std::string("expected ") + what +
                    " of 0 or more (at most 1000000, to the thousandth), found " +
                    http::DescribeJson(*v));
    return 0;
  }
  return *x;
}

constexpr const char* kViewerReadsOnly = "a viewer's token reads only; this is a change";

const char* RoleName(Role r) {
  switch (r) {
    case Role::kAdmin:
      return "admin";
    case Role::kOperator:
      return "operator";
    case Role::kViewer:
      return "viewer";
    case Role::kTenant:
      return "tenant";
  }
  return "tenant";
}

json TimeOrNull(Time t) {
  if (t == Time::Min() || t == Time::Max()) return json();
  return FormatTimeFull(t);
}

// The dashboard's files: compiled in (report/html.h), each with a strong
// ETag of its bytes. The page runs only its own scripts and styles and talks
// only to this server (docs/api.md, "The dashboard").
constexpr std::string_view kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

struct StaticFile {
  std::string_view content_type;
  std::string_view body;
  std::string etag;  // "\"<first 32 hex of SHA-256>\""
};

StaticFile MakeStatic(std::string_view content_type, std::string_view body) {
  return {content_type, body, "\"" + http::Sha256Hex(body).substr(0, 32) + "\""};
}

// 200 with the file, or 304 when the client's If-None-Match names its ETag.
// "no-cache": a browser may keep it but asks again each time, so a new
// binary's page is never mixed with an old one's scripts.
Response ServeStatic(const Request& r, const StaticFile& f) {
  Response out;
  const std::optional<std::string_view> match = r.Header("If-None-Match");
  const bool fresh = match && (match->find(f.etag) != std::string_view::npos || *match == "*");
  out = fresh ? Response::Text(304, "", std::string(f.content_type))
              : Response::Text(200, std::string(f.body), std::string(f.content_type));
  out.headers.push_back({"ETag", f.etag});
  out.headers.push_back({"Cache-Control", "no-cache"});
  out.headers.push_back({"Content-Security-Policy", std::string(kContentSecurityPolicy)});
  out.headers.push_back({"X-Content-Type-Options", "nosniff"});
  out.headers.push_back({"Referrer-Policy", "no-referrer"});
  out.headers.push_back({"X-Frame-Options", "DENY"});
  return out;
}

}  // namespace

Api::Api(Broker* broker, store::Store* store, const Clock* clock)
    : broker_(broker), store_(store), clock_(clock) {}

http::Router Api::MakeRouter() {
  http::Router router;
  Broker* broker = broker_;
  store::Store* store = store_;
  const Clock* clock = clock_;
  auto* ready = &ready_;
  auto* server = &server_;

  // Who is asking: the bearer token's principal, or the 401/403 to answer.
  auto authenticate = [store](const Request& r, Role need) -> http::ApiResult<Principal> {
    if (!r.bearer_token) {
      return http::Unauthorized("a bearer token is required (Authorization: Bearer <token>)");
    }
    Result<std::optional<store::Token>> t = store->FindTokenByHash(HashToken(*r.bearer_token));
    if (!t.ok()) return http::FromStatus(t.status());
    if (!*t || (*t)->revoked) return http::Unauthorized("the token is not valid");
    Principal p;
    p.role = ParseRole((*t)->role).value_or(Role::kTenant);
    p.tenant = (*t)->tenant;
    p.token_id = (*t)->id;
    if (static_cast<int>(p.role) < static_cast<int>(need)) {
      return http::Forbidden(need == Role::kAdmin ? "this needs the admin role"
                             : need == Role::kOperator
                                 ? "this needs the operator or admin role"
                                 : "this needs a viewer, operator or admin role");
    }
    return p;
  };
  auto audit = [store, clock](const Principal& p, const Request& r, std::string target,
                              const std::string& outcome) {
    store::AuditEntry e;
    e.at_unix = clock->Now().unix_seconds();
    e.token_id = p.token_id;
    e.action = r.method + " " + r.route;
    e.target = std::move(target);
    e.outcome = outcome;
    (void)store->AppendAudit(e);  // the mutation stands; a lost audit line is logged by the store
  };

  router.Add("GET", "/healthz", [](const Request&) {
    return Response::Json(200, {{"status", "ok"}});
  });
  router.Add("GET", "/readyz", [ready](const Request&) {
    if (!ready->load()) {
      ApiError e{
          503, std::string(http::code::kUnavailable), "not ready: the broker is starting", {}, {}};
      return Error(e);
    }
    return Response::Json(200, {{"status", "ready"}});
  });
  router.Add("GET", "/v1/openapi.json",
             [](const Request&) { return Response::Json(200, OpenApiDocument()); });

  // The dashboard (no token: the page asks for one and sends it to the API).
  auto page = std::make_shared<const StaticFile>(
      MakeStatic("text/html; charset=utf-8", report::DashboardHtml()));
  auto assets = std::make_shared<std::map<std::string, StaticFile, std::less<>>>();
  for (const report::WebAsset& a : report::DashboardAssets()) {
    assets->emplace(std::string(a.name), MakeStatic(a.content_type, a.body));
  }
  router.Add("GET", "/", [page](const Request& r) { return ServeStatic(r, *page); });
  router.Add("GET", "/dashboard", [page](const Request& r) { return ServeStatic(r, *page); });
  router.Add("GET", "/assets/{name}", [assets](const Request& r) {
    auto it = assets->find(r.Param("name"));
    if (it == assets->end()) {
      return Error(http::NotFoundError("no asset \"" + std::string(r.Param("name")) + "\""));
    }
    return ServeStatic(r, it->second);
  });

  // Asynchronous: the handler parses and queues the submission; the broker's
  // committer answers after the commit that holds it (and its audit row), so
  // a server thread is never held for an fsync and many submissions share one.
  router.AddAsync("POST", "/v1/jobs", [=](Request r, http::Reply reply) {
    auto who = authenticate(r, Role::kTenant);
    if (!who.ok()) return reply(Error(who.error()));
    if (who->role == Role::kViewer) return reply(Error(http::Forbidden(kViewerReadsOnly)));
    auto doc = http::ReadJsonBody(r);
    if (!doc.ok()) return reply(Error(doc.error()));
    http::JsonReader reader(*doc);
    JsonObject root = reader.Root();
    world::Job job;
    job.id = root.String("id", Need::kOptional, {.max_bytes = 200}).value_or("");
    const std::string kind =
        root.Enum("kind", {"training", "batch"}, Need::kOptional).value_or("training");
    job.kind = kind == "batch" ? world::WorkloadKind::kBatch : world::WorkloadKind::kTraining;
    job.workload_class = root.String("class", Need::kOptional, {.max_bytes = 200}).value_or(kind);
    job.model_family =
        root.String("model_family", Need::kOptional, {.max_bytes = 200}).value_or("");
    job.gpus = root.Int("gpus", 1, int64_t{1} << 26).value_or(1);
    job.work_gpu_seconds = root.Int("work_gpu_hours", 1, 1'000'000'000).value_or(1) * 3600;
    if (auto list = root.Array("accelerators", Need::kOptional, 64)) {
      for (size_t i = 0; i < list->size(); ++i) {
        const std::string name = list->String(i).value_or("");
        const world::AcceleratorIndex a = broker->world().FindAccelerator(name);
        if (a == world::kNone && !name.empty()) {
          list->Fail(i, "expected an accelerator of the scenario, found \"" + name + "\"");
        } else if (a != world::kNone) {
          job.accelerators.push_back(a);
        }
      }
    }
    if (auto every = root.String("checkpoint_every", Need::kOptional)) {
      Result<Duration> d = ParseDuration(*every);
      if (!d.ok()) {
        root.Fail("checkpoint_every",
                  "expected a duration such as \"2h\", found \"" + *every + "\"");
      } else {
        job.checkpoint_interval = *d;
      }
    }
    // The scenario's defaults (docs/scenario.md): training 100, batch 0 and preemptible.
    const bool batch = job.kind == world::WorkloadKind::kBatch;
    job.priority = static_cast<int32_t>(
        root.Int("priority", -1'000'000, 1'000'000, Need::kOptional).value_or(batch ? 0 : 100));
    job.preemptible = root.Bool("preemptible", Need::kOptional).value_or(batch);
    // A share of one GPU, CPU and memory: the scenario's job keys and rules.
    if (auto milli = root.Int("gpu_milli", 1, 999, Need::kOptional)) {
      job.gpu_milli = *milli;
      if (job.gpus != 1) {
        root.Fail("gpu_milli",
                  "a share of a GPU needs gpus 1, found gpus " + std::to_string(job.gpus));
      }
    }
    job.cpu_milli = Thousandths(root, "cpus", "a number of CPUs");
    job.memory_mib = (Thousandths(root, "memory_gib", "GiB") * 1024 + 500) / 1000;
    std::string tenant = who->tenant;
    const std::optional<std::string> asked =
        root.String("tenant", Need::kOptional, {.max_bytes = 200});
    if (auto error = reader.Finish()) return reply(Error(*error));
    if (asked) {
      if (who->role == Role::kTenant && *asked != who->tenant) {
        ApiError e = http::Forbidden("a tenant's token submits for its own tenant only");
        e.pointer = "/tenant";
        return reply(Error(e));
      }
      tenant = *asked;
    }
    const std::string key(r.Header("Idempotency-Key").value_or(""));
    if (key.size() > 200) {
      return reply(Error(http::BadRequest(http::code::kInvalidValue,
                                          "the Idempotency-Key header is longer than 200 bytes")));
    }
    store::AuditEntry entry;
    entry.at_unix = clock->Now().unix_seconds();
    entry.token_id = who->token_id;
    entry.action = r.method + " " + r.route;
    broker->SubmitJobAsync(std::move(job), tenant, key, std::move(entry),
                           [reply](Result<Broker::SubmittedJob> out) {
                             if (!out.ok()) return reply(Error(http::FromStatus(out.status())));
                             reply(Response::Json(out->existing ? 200 : 201, JobJson(out->view)));
                           });
  });

  router.Add("GET", "/v1/whoami", [=](const Request& r) {
    auto who = authenticate(r, Role::kTenant);
    if (!who.ok()) return Error(who.error());
    return Response::Json(200, {{"id", who->token_id},
                                {"role", RoleName(who->role)},
                                {"tenant", who->tenant.empty() ? json() : json(who->tenant)}});
  });

  // The report of the run so far (the dashboard's charts): every tenant's
  // work and the contracts' money, so operators and admins only.
  router.Add("GET", "/v1/report", [=](const Request& r) {
    auto who = authenticate(r, Role::kViewer);
    if (!who.ok()) return Error(who.error());
    if (!r.query.empty()) {
      return Error(http::BadRequest(
          http::code::kInvalidQuery,
          "unknown query parameter \"" + r.query.begin()->first + "\" (/v1/report takes none)"));
    }
    Result<std::string> text = broker->ReportJson();
    if (!text.ok()) return Error(http::FromStatus(text.status()));
    Response out = Response::JsonText(200, std::move(*text));
    out.headers.push_back({"Cache-Control", "no-store"});
    return out;
  });

  router.Add("GET", "/v1/jobs", [=](const Request& r) {
    auto who = authenticate(r, Role::kTenant);
    if (!who.ok()) return Error(who.error());
    JobFilter f;
    for (const auto& [k, v] : r.query) {
      if (k == "status") {
        if (v != "queued" && v != "running" && v != "done" && v != "cancelled") {
          return Error(http::BadRequest(
              http::code::kInvalidQuery,
              "status: expected queued, running, done or cancelled, found \"" + v + "\""));
        }
        f.status = v;
      } else if (k == "tenant") {
        f.tenant = v;
      } else if (k == "after") {
        f.after = v;
      } else if (k == "limit") {
        Result<int64_t> n = ParseInteger(v);
        if (!n.ok() || *n < 1 || *n > 1000) {
          return Error(
              http::BadRequest(http::code::kInvalidQuery,
                               "limit: expected an integer from 1 to 1000, found \"" + v + "\""));
        }
        f.limit = static_cast<size_t>(*n);
      } else {
        return Error(http::BadRequest(
            http::code::kInvalidQuery,
            "unknown query parameter \"" + k + "\" (expected status, tenant, after, limit)"));
      }
    }
    if (who->role == Role::kTenant) f.tenant = who->tenant;  // a tenant sees its own work only
    std::vector<JobView> jobs = broker->ListJobs(f);
    json out{{"jobs", json::array()}};
    for (const JobView& v : jobs) out["jobs"].push_back(JobJson(v));
    out["next"] = jobs.size() == f.limit ? json(jobs.back().id) : json();
    return Response::Json(200, out);
  });

  auto own_job = [=](const Request& r, const Principal& p) -> http::ApiResult<JobView> {
    Result<JobView> v = broker->GetJob(r.Param("id"));
    if (!v.ok() || (p.role == Role::kTenant && v->tenant != p.tenant)) {
      return http::NotFoundError("no job \"" + std::string(r.Param("id")) + "\"");
    }
    return *v;
  };
  router.Add("GET", "/v1/jobs/{id}", [=](const Request& r) {
    auto who = authenticate(r, Role::kTenant);
    if (!who.ok()) return Error(who.error());
    auto v = own_job(r, *who);
    if (!v.ok()) return Error(v.error());
    return Response::Json(200, JobJson(*v));
  });
  router.Add("DELETE", "/v1/jobs/{id}", [=](const Request& r) {
    auto who = authenticate(r, Role::kTenant);
    if (!who.ok()) return Error(who.error());
    if (who->role == Role::kViewer) return Error(http::Forbidden(kViewerReadsOnly));
    auto v = own_job(r, *who);
    if (!v.ok()) return Error(v.error());
    const Status s = broker->CancelJob(v->id);
    audit(*who, r, v->id, s.ok() ? "ok" : s.message().substr(0, 200));
    if (!s.ok()) return Error(http::FromStatus(s));
    return Response::Json(200, JobJson(broker->GetJob(v->id).value()));
  });
  router.Add("GET", "/v1/jobs/{id}/explain", [=](const Request& r) {
    auto who = authenticate(r, Role::kTenant);
    if (!who.ok()) return Error(who.error());
    auto v = own_job(r, *who);
    if (!v.ok()) return Error(v.error());
    Result<std::string> text = broker->Explain(v->id);
    if (!text.ok()) return Error(http::FromStatus(text.status()));
    return Response::Json(200, {{"id", v->id}, {"explanation", *text}});
  });

  router.Add("GET", "/v1/services/{id}/explain", [=](const Request& r) {
    auto who = authenticate(r, Role::kViewer);
    if (!who.ok()) return Error(who.error());
    Result<std::string> text = broker->Explain(r.Param("id"));
    if (!text.ok()) return Error(http::FromStatus(text.status()));
    return Response::Json(200, {{"id", r.Param("id")}, {"explanation", *text}});
  });
  router.Add("POST", "/v1/services/{id}/demand", [=](const Request& r) {
    auto who = authenticate(r, Role::kOperator);
    if (!who.ok()) return Error(who.error());
    auto doc = http::ReadJsonBody(r);
    if (!doc.ok()) return Error(doc.error());
    http::JsonReader reader(*doc);
    JsonObject root = reader.Root();
    const int64_t tps = root.Int("tokens_per_s", 0, int64_t{1} << 50).value_or(0);
    if (auto error = reader.Finish()) return Error(*error);
    const Status s = broker->SetDemand(r.Param("id"), tps);
    audit(*who, r, std::string(r.Param("id")), s.ok() ? "ok" : s.message().substr(0, 200));
    if (!s.ok()) return Error(http::FromStatus(s));
    return Response::Json(200, {{"service", r.Param("id")}, {"tokens_per_s", tps}});
  });

  router.Add("GET", "/v1/tenants", [=](const Request& r) {
    auto who = authenticate(r, Role::kAdmin);
    if (!who.ok()) return Error(who.error());
    return Response::Json(200, broker->TenantsJson());
  });
  router.Add("GET", "/v1/pools", [=](const Request& r) {
    auto who = authenticate(r, Role::kViewer);
    if (!who.ok()) return Error(who.error());
    json out{{"pools", json::array()}};
    for (const PoolView& p : broker->Pools()) {
      out["pools"].push_back({{"id", p.id},
                              {"site", p.site},
                              {"provider", p.provider},
                              {"accelerator", p.accelerator},
                              {"installed_gpus", p.installed},
                              {"usable_gpus", p.usable},
                              {"used_gpus", p.used},
                              {"site_down", p.site_down}});
    }
    return Response::Json(200, out);
  });
  router.Add("GET", "/v1/sites", [=](const Request& r) {
    auto who = authenticate(r, Role::kViewer);
    if (!who.ok()) return Error(who.error());
    json out{{"sites", json::array()}};
    for (const SiteHealth& s : broker->Sites()) {
      out["sites"].push_back({{"id", s.id},
                              {"backend", s.backend},
                              {"down", s.down},
                              {"consecutive_failures", s.consecutive_failures},
                              {"last_error", s.last_error},
                              {"last_answer", TimeOrNull(s.last_answer)},
                              {"down_since", TimeOrNull(s.down_since)}});
    }
    return Response::Json(200, out);
  });
  router.Add("GET", "/v1/contracts", [=](const Request& r) {
    auto who = authenticate(r, Role::kViewer);
    if (!who.ok()) return Error(who.error());
    // Token-priced spend that `polycloud gateway` wrote to the same store
    // (docs/gateway.md, "Keys: limits and accounting") counts toward the
    // contract its deployment names: in its spend, and in its obligations'
    // shortfalls (per UTC day, projected like usage-billed pools).
    Result<std::vector<store::UsageRow>> usage = store->ReadUsage();
    if (!usage.ok()) {
      return Error(
          http::ApiError{503, "store_unavailable", usage.status().message(), std::nullopt, {}});
    }
    std::map<std::string, __int128> gateway_e6;  // micro-dollars × 10^6
    std::map<std::pair<std::string, int64_t>, __int128> by_day_e6;
    for (const store::UsageRow& u : *usage) {
      if (u.contract.empty()) continue;
      const __int128 cost = static_cast<__int128>(u.input_tokens) * u.input_price_micros +
                            static_cast<__int128>(u.output_tokens) * u.output_price_micros;
      gateway_e6[u.contract] += cost;
      if (Result<Time> day = ParseTime(u.day); day.ok()) {
        by_day_e6[{u.contract, day->unix_seconds() / 86'400}] += cost;
      }
    }
    std::vector<contracts::ExternalSpend> external(broker->world().contracts.size());
    for (const auto& [key, e6] : by_day_e6) {
      const world::ContractIndex c = broker->world().FindContract(key.first);
      if (c == world::kNone) continue;  // a contract the scenario no longer has
      external[c].by_day[key.second] =
          Money::FromMicros(static_cast<int64_t>((e6 + 500'000) / 1'000'000));
    }
    json out = broker->ContractsJson(&external);
    for (json& c : out["contracts"]) {
      const auto it = gateway_e6.find(c["id"].get<std::string>());
      const Money gateway = Money::FromMicros(
          it == gateway_e6.end() ? 0 : static_cast<int64_t>((it->second + 500'000) / 1'000'000));
      const Money gpus =
          Money::FromMicros(ParseScaledDecimal(c["spent_usd"].get<std::string>(), 6).value());
      c["gateway_spent_usd"] = FormatMoneyExact(gateway);
      c["total_spent_usd"] = FormatMoneyExact(gpus + gateway);
    }
    return Response::Json(200, out);
  });

  router.Add("GET", "/v1/events", [=](const Request& r) {
    auto who = authenticate(r, Role::kViewer);
    if (!who.ok()) return Error(who.error());
    int64_t after = 0;
    if (auto last = r.Header("Last-Event-ID")) {
      Result<int64_t> n = ParseInteger(*last);
      if (n.ok()) after = *n;
    }
    return Response::Stream([broker, after](std::shared_ptr<http::EventStream> stream) {
      // One thread per stream: few operators watch at once.
      std::thread([broker, stream, after]() mutable {
        int64_t seen = after;
        while (!stream->closed()) {
          for (const Broker::StreamEvent& e : broker->EventsAfter(seen, 1000)) {
            if (!stream->Send({std::to_string(e.sequence), "decision", e.json, std::nullopt}))
              return;
            seen = e.sequence;
          }
          broker->WaitForEvents(seen, std::chrono::milliseconds(500));
        }
      }).detach();
    });
  });

  router.Add("POST", "/v1/tokens", [=](const Request& r) {
    auto who = authenticate(r, Role::kAdmin);
    if (!who.ok()) return Error(who.error());
    auto doc = http::ReadJsonBody(r);
    if (!doc.ok()) return Error(doc.error());
    http::JsonReader reader(*doc);
    JsonObject root = reader.Root();
    const std::string role =
        root.Enum("role", {"admin", "operator", "viewer", "tenant"}).value_or("");
    const std::string tenant =
        root.String("tenant", Need::kOptional, {.max_bytes = 200}).value_or("");
    if (role == "tenant" && tenant.empty()) root.Fail("tenant", "a tenant token needs a tenant");
    if (role != "tenant" && !tenant.empty())
      root.Fail("tenant", "only a tenant token has a tenant");
    if (auto error = reader.Finish()) return Error(*error);
    const NewToken t = GenerateToken();
    store::Token token{t.id, HashToken(t.secret), role, tenant, clock->Now().unix_seconds(), false};
    const Status s = store->PutToken(token);
    audit(*who, r, t.id, s.ok() ? "ok" : s.message().substr(0, 200));
    if (!s.ok()) return Error(http::FromStatus(s));
    return Response::Json(201,
                          {{"id", t.id}, {"token", t.secret}, {"role", role}, {"tenant", tenant}});
  });

  router.Add("GET", "/metrics", [=](const Request&) {
    http::MetricsText out;
    const Counters c = broker->counters();
    out.Counter("polycloud_commands_total",
                "Commands the core accepted since this process started.",
                {{{}, static_cast<double>(c.commands)}});
    out.Counter("polycloud_group_commits_total", "Batches of commands committed to the store.",
                {{{}, static_cast<double>(c.batches)}});
    out.Counter("polycloud_dispatches_total", "Runs handed to sites.",
                {{{{"outcome", "submitted"}}, static_cast<double>(c.dispatched)},
                 {{{"outcome", "failed"}}, static_cast<double>(c.dispatch_failures)}});
    out.Counter("polycloud_site_cancels_total", "Runs stopped at their sites.",
                {{{}, static_cast<double>(c.site_cancels)}});
    out.Counter("polycloud_lost_runs_total",
                "Runs a site stopped listing without an outcome (failed and placed again).",
                {{{}, static_cast<double>(c.lost_runs)}});
    out.Counter("polycloud_scheduling_passes_total", "Scheduling passes run.",
                {{{}, static_cast<double>(c.passes)}});
    out.Counter("polycloud_placement_decisions_total",
                "Placement decisions (attempts) the scheduling passes made.",
                {{{}, static_cast<double>(c.placement_attempts)}});
    out.Counter("polycloud_scheduling_pass_seconds_total", "Wall time spent in scheduling passes.",
                {{{}, static_cast<double>(c.pass_nanos) / 1e9}});
    out.Counter("polycloud_scheduling_pass_cpu_seconds_total",
                "CPU time of the thread running the scheduling passes, in them.",
                {{{}, static_cast<double>(c.pass_cpu_nanos) / 1e9}});
    std::map<std::string, double> queued, running_by_provider;
    JobFilter all;
    all.limit = SIZE_MAX;
    for (const JobView& v : broker->ListJobs(all)) {
      if (v.status == "queued") queued[v.workload_class] += 1;
      if (v.status == "running") running_by_provider[v.provider] += v.gpus;
    }
    std::vector<http::Sample> q, run;
    for (const auto& [k, n] : queued) q.push_back({{{"class", k}}, n});
    for (const auto& [k, n] : running_by_provider) run.push_back({{{"provider", k}}, n});
    out.Gauge("polycloud_queue_length", "Jobs waiting, by workload class.", q);
    out.Gauge("polycloud_running_gpus", "GPUs held by running jobs, by provider.", run);
    std::vector<http::Sample> rate;
    for (const auto& [contract, micros_per_day] : broker->SpendRates()) {
      rate.push_back({{{"contract", contract}}, static_cast<double>(micros_per_day) / 1e6});
    }
    out.Gauge("polycloud_spend_rate_usd_per_day", "Spend rate now, by contract.", rate);
    std::vector<http::Sample> down;
    for (const SiteHealth& s : broker->Sites())
      down.push_back({{{"site", s.id}}, s.down ? 1.0 : 0.0});
    out.Gauge("polycloud_site_down", "1 when a site's controller has stopped answering.", down);
    if (const http::Server* s = server->load()) http::WriteHttpMetrics(out, s->Stats());
    return Response::Text(200, out.Take(), std::string(http::kPrometheusContentType));
  });
  return router;
}

}  // namespace polycloud::serve
