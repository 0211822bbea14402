#include "serve_command.h"

#include <yaml-cpp/yaml.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "polycloud/base/parse.h"
#include "polycloud/base/text.h"
#include "polycloud/http/client.h"
#include "polycloud/http/server.h"
#include "polycloud/io/scenario.h"
#include "polycloud/serve/api.h"
#include "polycloud/serve/broker.h"
#include "polycloud/store/store.h"
#include "scheduler_options.h"

namespace polycloud {
namespace {

using nlohmann::json;

int Fail(const Status& status) {
  std::cerr << "polycloud: " << status.message() << "\n";
  return ExitCodeFor(status);
}

volatile std::sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

struct ServeArgs {
  std::string scenario;
  std::string store = "sqlite:polycloud.db";
  std::string listen = "127.0.0.1:8080";
  int threads = 16;
  std::string tick = "1s";
  std::string grace = "30s";
  std::string report_bucket = "1m";
  int64_t decision_log = 65536;
};

int Serve(const ServeArgs& a) {
  Result<io::Scenario> scenario = io::LoadScenarioFile(a.scenario);
  if (!scenario.ok()) return Fail(scenario.status());
  serve::BrokerOptions options;
  if (Status s = scheduler::SetPolicy(scenario->options.policy, &options.scheduler); !s.ok()) {
    return Fail(s);
  }
  options.scheduler.consolidate = scenario->options.consolidate;
  if (Status s = scheduler::SetNodeChoice(scenario->options.node_choice, &options.scheduler);
      !s.ok()) {
    return Fail(s);
  }
  ApplyRebalanceKeys(scenario->options.rebalance, &options.scheduler.rebalance);
  options.scheduler.record_decisions = true;  // explain shows each workload's last start
  if (a.decision_log < 1 || a.decision_log > 100'000'000) {
    return Fail(InvalidArgument("--decision-log: expected a count from 1 to 100000000, found " +
                                std::to_string(a.decision_log)));
  }
  options.scheduler.decision_log_limit = static_cast<size_t>(a.decision_log);
  Result<Duration> tick = ParseDuration(a.tick);
  if (!tick.ok() || tick->seconds() < 0) return Fail(InvalidArgument("--tick: " + a.tick));
  Result<Duration> grace = ParseDuration(a.grace);
  if (!grace.ok()) return Fail(InvalidArgument("--site-grace: " + a.grace));
  options.site_grace = *grace;
  Result<Duration> bucket = ParseDuration(a.report_bucket);
  if (!bucket.ok() || bucket->seconds() < 1) {
    return Fail(InvalidArgument("--report-bucket: expected a duration of 1s or more, found " +
                                a.report_bucket));
  }
  options.report_bucket = *bucket;
  const size_t colon = a.listen.rfind(':');
  Result<int64_t> port = colon == std::string::npos ? Result<int64_t>(InvalidArgument(""))
                                                    : ParseInteger(a.listen.substr(colon + 1));
  if (!port.ok() || *port < 0 || *port > 65535) {
    return Fail(
        InvalidArgument("--listen: expected HOST:PORT such as 127.0.0.1:8080, found " + a.listen));
  }
  Result<std::unique_ptr<store::Store>> store = store::OpenStore(a.store);
  if (!store.ok()) return Fail(store.status());
  // One active broker per store: a second one waits here until the first dies.
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  bool announced = false;
  while (!g_stop) {
    Result<bool> leader = (*store)->TryAcquireLeadership();
    if (!leader.ok()) return Fail(leader.status());
    if (*leader) break;
    if (!announced)
      std::cerr << "polycloud serve: another broker is active on " << a.store << "; standing by\n";
    announced = true;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  if (g_stop) return kExitOk;
  WallClock clock;
  auto drivers = serve::MakeSiteDrivers(scenario->world, clock);
  if (!drivers.ok()) return Fail(drivers.status());
  serve::Broker broker(std::move(scenario->world), options, store->get(), std::move(*drivers),
                       &clock);
  if (Status s = broker.Start(); !s.ok()) return Fail(s);
  serve::Api api(&broker, store->get(), &clock);
  http::ServerOptions server_options;
  server_options.host = a.listen.substr(0, colon);
  server_options.port = static_cast<uint16_t>(*port);
  server_options.threads = a.threads;
  auto server = http::Server::Start(server_options, api.MakeRouter());
  if (!server.ok()) return Fail(server.status());
  api.AttachServer(server->get());
  api.SetReady(true);
  const serve::Counters c = broker.counters();
  std::cout << "polycloud serve: listening on http://" << (*server)->address()
            << " (dashboard at http://" << (*server)->address() << "/; store " << a.store << "; "
            << c.restored_commands << " commands restored, " << broker.queued() << " jobs queued)"
            << std::endl;
  Status failed;
  auto last_lease = std::chrono::steady_clock::now();
  while (!g_stop) {
    // --tick 0s: as often as the broker keeps up, at most every 50 ms.
    const auto next = std::chrono::steady_clock::now() +
                      std::chrono::milliseconds(std::max<int64_t>(50, tick->seconds() * 1000));
    if (Status s = broker.Tick(); !s.ok()) {
      failed = s;
      break;
    }
    if (std::chrono::steady_clock::now() - last_lease > std::chrono::seconds(5)) {
      // A PostgreSQL lease can be lost with its session; then another broker
      // may be active and this one must stop writing.
      Result<bool> still = (*store)->TryAcquireLeadership();
      if (!still.ok() || !*still) {
        failed = IoError("lost the store's lease; another broker may be active");
        break;
      }
      last_lease = std::chrono::steady_clock::now();
    }
    // In slices: a signal does not cut a sleep short, and a long --tick
    // must not hold a SIGTERM for that long.
    while (!g_stop && std::chrono::steady_clock::now() < next) {
      std::this_thread::sleep_until(
          std::min(next, std::chrono::steady_clock::now() + std::chrono::milliseconds(50)));
    }
  }
  api.SetReady(false);
  (*server)->Stop();
  if (!failed.ok()) return Fail(failed);
  std::cout << "polycloud serve: stopped" << std::endl;
  return kExitOk;
}

struct TokenArgs {
  std::string store = "sqlite:polycloud.db";
  std::string role;
  std::string tenant;
};

int CreateToken(const TokenArgs& a) {
  if (a.role != "admin" && a.role != "operator" && a.role != "viewer" && a.role != "tenant") {
    return Fail(
        InvalidArgument("--role: expected admin, operator, viewer or tenant, found " + a.role));
  }
  if ((a.role == "tenant") != !a.tenant.empty()) {
    return Fail(InvalidArgument(a.role == "tenant" ? "a tenant token needs --tenant"
                                                   : "only a tenant token takes --tenant"));
  }
  Result<std::unique_ptr<store::Store>> store = store::OpenStore(a.store);
  if (!store.ok()) return Fail(store.status());
  const serve::NewToken t = serve::GenerateToken();
  const store::Token token{t.id,     serve::HashToken(t.secret),       a.role,
                           a.tenant, WallClock().Now().unix_seconds(), false};
  if (Status s = (*store)->PutToken(token); !s.ok()) return Fail(s);
  std::cerr << "token " << t.id << " (" << a.role << (a.tenant.empty() ? "" : " " + a.tenant)
            << "); the secret is shown once:\n";
  std::cout << t.secret << "\n";
  return kExitOk;
}

// ---- the client ---------------------------------------------------------------

struct ClientArgs {
  std::string server;
  bool json = false;
};

std::string DefaultServer() {
  const char* s = std::getenv("POLYCLOUD_SERVER");
  return s != nullptr && *s != '\0' ? s : "http://127.0.0.1:8080";
}

// Exit codes of the client commands (docs/cli.md): a request the server
// refused as malformed or forbidden is a usage error, a missing job is
// not-found, a server that cannot be reached an I/O error.
int ExitForHttp(int status) {
  if (status == 404) return kExitNotFound;
  if (status >= 400 && status < 500 && status != 409) return kExitUsage;
  if (status == 503) return kExitIoError;
  return kExitInternal;
}

Result<http::ClientResponse> Call(const ClientArgs& a, const http::ClientRequest& request) {
  Result<http::ServerAddress> address =
      http::ParseServerUrl(a.server.empty() ? DefaultServer() : a.server);
  if (!address.ok()) return address.status();
  http::ClientOptions o;
  o.address = *address;
  if (const char* t = std::getenv("POLYCLOUD_TOKEN")) o.bearer_token = t;
  http::Client client(o);
  return client.Send(request);
}

// Prints the body (with --json) or `text` of it, or the error; the exit code.
int Answer(const ClientArgs& a, const Result<http::ClientResponse>& r,
           const std::function<void(const json&)>& text) {
  if (!r.ok()) return Fail(r.status());
  if (r->status >= 400) {
    const auto e = r->Error();
    std::cerr << "polycloud: " << (e ? e->ToString() : "HTTP " + std::to_string(r->status)) << "\n";
    return ExitForHttp(r->status);
  }
  Result<json> body = r->Json();
  if (!body.ok()) return Fail(body.status());
  if (a.json) {
    std::cout << body->dump(2) << "\n";
  } else {
    text(*body);
  }
  return kExitOk;
}

std::string Str(const json& v) {
  return v.is_null() ? "-" : v.is_string() ? v.get<std::string>() : v.dump();
}

void PrintJob(const json& j) {
  std::cout << Str(j["id"]) << "  " << Str(j["status"]) << "  gpus=" << Str(j["gpus"])
            << "  site=" << Str(j["site"]) << "  pool=" << Str(j["pool"]) << "  spend=$"
            << Str(j["spend_usd"]) << "\n";
}

// A YAML (or JSON) job file to the API's JSON body: scalars that read as
// integers or booleans become numbers and booleans, the rest strings.
Result<json> JobFileToJson(const std::string& path) {
  Result<std::string> text = ReadRegularFile(path, 1 << 20, "job file");
  if (!text.ok()) return text.status();
  std::function<json(const YAML::Node&)> convert = [&](const YAML::Node& n) -> json {
    if (n.IsMap()) {
      json o = json::object();
      for (const auto& kv : n) o[kv.first.Scalar()] = convert(kv.second);
      return o;
    }
    if (n.IsSequence()) {
      json a = json::array();
      for (const auto& x : n) a.push_back(convert(x));
      return a;
    }
    if (n.IsNull()) return json();
    const std::string s = n.Scalar();
    if (n.Tag() != "!") {  // unquoted
      if (s == "true") return true;
      if (s == "false") return false;
      Result<int64_t> i = ParseInteger(s);
      if (i.ok()) return *i;
      // A decimal ("cpus: 2.5") is a JSON number, as the API reads it.
      if (s.find('.') != std::string::npos && ParseScaledDecimal(s, 9).ok()) {
        json number = json::parse(s, nullptr, /*allow_exceptions=*/false);
        if (number.is_number()) return number;
      }
    }
    return s;
  };
  try {
    YAML::Node root = YAML::Load(*text);
    if (!root.IsMap()) return InvalidInput(path + ": expected a mapping of job keys (docs/api.md)");
    return convert(root);
  } catch (const YAML::Exception& e) {
    return InvalidInput(path + ":" + std::to_string(e.mark.line + 1) + ":" +
                        std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
}

}  // namespace

int ExplainOnServer(const std::string& server, const std::string& job, bool as_json) {
  ClientArgs a{server, as_json};
  http::ClientRequest r;
  r.target = "/v1/jobs/" + job + "/explain";
  return Answer(a, Call(a, r), [](const json& j) { std::cout << Str(j["explanation"]); });
}

std::function<int()> AddServeCommands(CLI::App& app) {
  auto serve_args = std::make_shared<ServeArgs>();
  CLI::App* serve = app.add_subcommand(
      "serve", "Run the live broker: the HTTP API, durable state, work dispatched to the sites");
  serve
      ->add_option("--scenario", serve_args->scenario,
                   "The fleet, contracts and rules (scenario YAML; its jobs and faults are "
                   "simulate's and are not used)")
      ->required();
  serve
      ->add_option("--store", serve_args->store,
                   "sqlite:PATH, a path, or postgresql://... (docs/store.md)")
      ->capture_default_str();
  serve->add_option("--listen", serve_args->listen, "HOST:PORT to listen on")
      ->capture_default_str();
  serve->add_option("--threads", serve_args->threads, "HTTP threads")->capture_default_str();
  serve->add_option("--tick", serve_args->tick, "How often sites are asked and a pass is run")
      ->capture_default_str();
  serve
      ->add_option("--site-grace", serve_args->grace,
                   "A site that does not answer for this long is down and its work moves")
      ->capture_default_str();
  serve
      ->add_option("--report-bucket", serve_args->report_bucket,
                   "Width of the dashboard's time-series buckets (/v1/report keeps the latest 800)")
      ->capture_default_str();
  serve
      ->add_option("--decision-log", serve_args->decision_log,
                   "Starts kept in the in-memory decision log (a ring; each workload's latest "
                   "start is kept for explain regardless)")
      ->capture_default_str();

  auto token_args = std::make_shared<TokenArgs>();
  CLI::App* token = app.add_subcommand("token", "Manage the broker's bearer tokens");
  CLI::App* create = token->add_subcommand("create", "Create a token and print its secret once");
  create->add_option("--store", token_args->store, "The broker's store")->capture_default_str();
  create->add_option("--role", token_args->role, "admin, operator, viewer (reads only) or tenant")
      ->required();
  create->add_option("--tenant", token_args->tenant, "The tenant of a tenant token");
  token->require_subcommand(1);

  auto client = std::make_shared<ClientArgs>();
  auto add_client = [&](CLI::App* cmd) {
    cmd->add_option("--server", client->server,
                    "The broker (default $POLYCLOUD_SERVER or http://127.0.0.1:8080); the "
                    "token comes from $POLYCLOUD_TOKEN");
    cmd->add_flag("--json", client->json, "Print the server's JSON");
  };
  auto submit_file = std::make_shared<std::string>();
  auto submit_key = std::make_shared<std::string>();
  CLI::App* submit =
      app.add_subcommand("submit", "Submit a job (a YAML file of job keys) to a broker");
  submit->add_option("file", *submit_file, "Job file: gpus, work_gpu_hours, class, ...")
      ->required();
  submit->add_option("--key", *submit_key,
                     "Idempotency key: submitting again with it returns the first job");
  add_client(submit);
  auto jobs_status = std::make_shared<std::string>();
  CLI::App* jobs = app.add_subcommand("jobs", "List a broker's jobs");
  jobs->add_option("--status", *jobs_status, "queued, running, done or cancelled");
  add_client(jobs);
  auto job_id = std::make_shared<std::string>();
  CLI::App* status = app.add_subcommand("status", "Show one job on a broker");
  status->add_option("job", *job_id, "Job id")->required();
  add_client(status);
  CLI::App* cancel = app.add_subcommand("cancel", "Cancel a job on a broker");
  cancel->add_option("job", *job_id, "Job id")->required();
  add_client(cancel);

  return [=]() -> int {
    if (*serve) return Serve(*serve_args);
    if (*create) return CreateToken(*token_args);
    if (*submit) {
      Result<json> body = JobFileToJson(*submit_file);
      if (!body.ok()) return Fail(body.status());
      http::ClientRequest r;
      r.method = "POST";
      r.target = "/v1/jobs";
      r.body = body->dump();
      r.content_type = "application/json";
      if (!submit_key->empty()) r.headers.push_back({"Idempotency-Key", *submit_key});
      return Answer(*client, Call(*client, r),
                    [](const json& j) { std::cout << Str(j["id"]) << "\n"; });
    }
    if (*jobs) {
      http::ClientRequest r;
      r.target = "/v1/jobs?limit=1000" + (jobs_status->empty() ? "" : "&status=" + *jobs_status);
      return Answer(*client, Call(*client, r), [](const json& j) {
        for (const json& job : j["jobs"]) PrintJob(job);
      });
    }
    if (*status || *cancel) {
      http::ClientRequest r;
      r.method = *cancel ? "DELETE" : "GET";
      r.target = "/v1/jobs/" + *job_id;
      return Answer(*client, Call(*client, r), PrintJob);
    }
    return -1;
  };
}

}  // namespace polycloud
