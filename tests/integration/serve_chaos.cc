// kill -9 under load for `polycloud serve` (issue 12). Several client
// processes submit jobs with unique idempotency keys and record every
// acknowledged (2xx) key and job id, while this driver SIGKILLs the broker at
// random moments and starts it again on the same store; clients retry what
// was not acknowledged. Then it checks, against the real broker and its
// sites (local processes, or Slurm clusters that scripts/serve-chaos.sh
// started):
//   - 0 acknowledged submissions lost: every acknowledged id exists after the
//     final restart, and the broker holds exactly one job per key;
//   - a key always names one job: re-submitting every acknowledged key
//     answers 200 with the id first acknowledged;
//   - 0 runs dispatched twice: no run name pc-<job>-r<run> reached a site
//     twice (local: a `sleep` on the sites' PATH records every start; slurm:
//     squeue and the jobcomp history), and no job was ever seen live twice at
//     once, at one site or two (the sites sampled every 200-500 ms);
//   - 0 left disagreeing with the sites after reconciliation: no run the
//     broker thinks is running that the site lacks, or the reverse, for
//     longer than 5 s; with local sites, every job ends done and no process
//     of ours is left.
//
// The driver is the child subreaper of the broker, so the local runs a
// killed broker leaves behind are reaped here when they end.
//
//   serve_chaos --polycloud build/release/apps/polycloud [--store sqlite|URL]
//               [--sites local|slurm --slurm-dir DIR] [--submissions 500]
//               [--clients 4] [--kills 3] [--run-kills 2] [--seed 1] [--keep]
// Prints a table of figures and PASS, or FAIL with what broke (exit 1).
// `serve_chaos client ...` is one client process (started by the driver).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "polycloud/base/rng.h"
#include "polycloud/http/client.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using polycloud::Rng;
using std::chrono::milliseconds;

int64_t NowMs() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
void SleepMs(int64_t ms) { std::this_thread::sleep_for(milliseconds(ms)); }

[[noreturn]] void Die(const std::string& why) {
  std::cerr << "serve_chaos: " << why << "\n";
  std::exit(2);
}

// "--name value" pairs after the subcommand.
std::map<std::string, std::string> ParseFlags(int argc, char** argv, int from,
                                              const std::set<std::string>& known,
                                              const std::set<std::string>& switches) {
  std::map<std::string, std::string> out;
  for (int i = from; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0) Die("unexpected argument " + a);
    a = a.substr(2);
    if (switches.contains(a)) {
      out[a] = "1";
      continue;
    }
    if (!known.contains(a)) Die("unknown option --" + a);
    if (i + 1 >= argc) Die("--" + a + " needs a value");
    out[a] = argv[++i];
  }
  return out;
}
std::string Flag(const std::map<std::string, std::string>& f, const std::string& k,
                 const std::string& def) {
  auto it = f.find(k);
  return it == f.end() ? def : it->second;
}
int64_t IntFlag(const std::map<std::string, std::string>& f, const std::string& k, int64_t def) {
  auto it = f.find(k);
  if (it == f.end()) return def;
  char* end = nullptr;
  const long long v = std::strtoll(it->second.c_str(), &end, 10);
  if (end == it->second.c_str() || *end != '\0') Die("--" + k + ": expected an integer");
  return v;
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs `command` under /bin/sh and returns its stdout ("" on failure).
std::string Capture(const std::string& command, int* rc = nullptr) {
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) return "";
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = ::pclose(p);
  if (rc != nullptr) *rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  return out;
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

pid_t Spawn(const std::vector<std::string>& args, const fs::path& log) {
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) Die("cannot start " + args[0] + ": " + std::strerror(rc));
  return pid;
}

// ---------------------------------------------------------------- a client

std::unique_ptr<polycloud::http::Client> MakeClient(const polycloud::http::ServerAddress& at,
                                                    const std::string& token) {
  polycloud::http::ClientOptions o;
  o.address = at;
  o.bearer_token = token;
  o.timeout = milliseconds(10'000);
  return std::make_unique<polycloud::http::Client>(o);
}

polycloud::Result<polycloud::http::ClientResponse> PostJob(polycloud::http::Client& c,
                                                           const std::string& key,
                                                           const std::string& body) {
  polycloud::http::ClientRequest r;
  r.method = "POST";
  r.target = "/v1/jobs";
  r.body = body;
  r.content_type = "application/json";
  r.headers.push_back({"Idempotency-Key", key});
  return c.Send(r);
}

// Submits keys prefix<from> .. prefix<to-1>, each until the broker
// acknowledges it; appends "key id status attempts" per acknowledgement to
// --out (and "ERR key status message" for a refusal, which is a failure).
int ClientMain(int argc, char** argv) {
  const auto f = ParseFlags(argc, argv, 2,
                            {"url", "token", "from", "to", "prefix", "out", "seed", "gpus-min",
                             "gpus-max", "give-up-after"},
                            {});
  auto at = polycloud::http::ParseServerUrl(Flag(f, "url", ""));
  if (!at.ok()) Die(at.status().message());
  const std::string token = Flag(f, "token", "");
  const int64_t from = IntFlag(f, "from", 0), to = IntFlag(f, "to", 0);
  const int64_t gmin = IntFlag(f, "gpus-min", 64), gmax = IntFlag(f, "gpus-max", 64);
  const int64_t give_up_ms = IntFlag(f, "give-up-after", 300) * 1000;
  Rng rng(static_cast<uint64_t>(IntFlag(f, "seed", 1)));
  FILE* out = std::fopen(Flag(f, "out", "").c_str(), "a");
  if (out == nullptr) Die("cannot write " + Flag(f, "out", ""));
  auto client = MakeClient(*at, token);
  int errors = 0;
  for (int64_t i = from; i < to; ++i) {
    const std::string key = Flag(f, "prefix", "k-") + std::to_string(i);
    const int64_t gpus = gmin + static_cast<int64_t>(rng.Below(static_cast<uint64_t>(gmax - gmin + 1)));
    const std::string body =
        json{{"gpus", gpus}, {"work_gpu_hours", 1}, {"class", "training"}}.dump();
    const int64_t deadline = NowMs() + give_up_ms;
    for (int attempt = 1;; ++attempt) {
      auto r = PostJob(*client, key, body);
      if (r.ok() && (r->status == 200 || r->status == 201)) {
        auto j = r->Json();
        const std::string id = j.ok() && (*j)["id"].is_string() ? (*j)["id"].get<std::string>() : "?";
        std::fprintf(out, "%s %s %d %d\n", key.c_str(), id.c_str(), r->status, attempt);
        std::fflush(out);
        break;
      }
      // Not acknowledged: the broker is down (connection refused or reset,
      // no answer) or unavailable (503): retry the same key.
      if (r.ok() && r->status != 503 && r->status < 500) {
        std::fprintf(out, "ERR %s %d %s\n", key.c_str(), r->status, r->body.substr(0, 200).c_str());
        std::fflush(out);
        ++errors;
        break;
      }
      if (NowMs() > deadline) {
        std::fprintf(out, "ERR %s 0 not acknowledged after %lld s\n", key.c_str(),
                     static_cast<long long>(give_up_ms / 1000));
        std::fflush(out);
        ++errors;
        break;
      }
      if (!r.ok()) client = MakeClient(*at, token);
      SleepMs(10 + static_cast<int64_t>(rng.Below(20)));
    }
  }
  std::fclose(out);
  return errors == 0 ? 0 : 1;
}

// ---------------------------------------------------------------- the sites

// A run name pc-<job>-r<run> (job ids here are j-N: nothing to unescape).
std::string JobOfName(const std::string& name) {
  const size_t r = name.rfind("-r");
  if (name.rfind("pc-", 0) != 0 || r == std::string::npos || r < 3) return "";
  return name.substr(3, r - 3);
}

struct LiveRun {
  std::string site, name;
  bool operator<(const LiveRun& o) const { return std::tie(site, name) < std::tie(o.site, o.name); }
  bool operator==(const LiveRun& o) const { return site == o.site && name == o.name; }
};

class Sites {
 public:
  Sites(std::string kind, std::vector<std::string> ids, std::vector<std::string> confs)
      : kind_(std::move(kind)), ids_(std::move(ids)), confs_(std::move(confs)) {}

  // Runs of ours alive at the sites now (ok = false when a site did not answer).
  std::set<LiveRun> Live(bool* ok) const {
    *ok = true;
    return kind_ == "local" ? LocalLive() : SlurmLive(ok);
  }

  // Every run name that ever reached a site with how many times it did.
  std::map<std::string, int> Dispatched(const fs::path& dir) const {
    std::map<std::string, int> out;
    if (kind_ == "local") {
      std::ifstream in(dir / "dispatch.log");
      for (std::string name, site, pid; in >> name >> site >> pid;) ++out[name];
      return out;
    }
    for (const std::string& conf : confs_) {
      // A job may be in both squeue (recent) and the jobcomp file: by Slurm id.
      std::map<std::string, std::string> by_id;
      std::istringstream q(Capture("SLURM_CONF=" + ShellQuote(conf) +
                                   " squeue -h -a -t all -o '%i|%j' 2>/dev/null"));
      for (std::string line; std::getline(q, line);) {
        const size_t bar = line.find('|');
        if (bar != std::string::npos) by_id[line.substr(0, bar)] = line.substr(bar + 1);
      }
      std::istringstream h(Capture("SLURM_CONF=" + ShellQuote(conf) +
                                   " sacct -c -n -P -o jobid,jobname 2>/dev/null"));
      for (std::string line; std::getline(h, line);) {
        const size_t bar = line.find('|');
        if (bar != std::string::npos) by_id[line.substr(0, bar)] = line.substr(bar + 1);
      }
      for (const auto& [id, name] : by_id) {
        if (name.rfind("pc-", 0) == 0) ++out[name];
      }
    }
    return out;
  }

  // Kills what is left of our local runs (their groups).
  void KillLeftovers() const {
    if (kind_ != "local") return;
    for (const auto& [pid, run] : LocalProcesses()) ::kill(-pid, SIGKILL);
  }

  const std::string& kind() const { return kind_; }

 private:
  std::map<pid_t, LiveRun> LocalProcesses() const {
    std::map<pid_t, LiveRun> out;
    for (const auto& e : fs::directory_iterator("/proc", fs::directory_options::skip_permission_denied)) {
      const std::string d = e.path().filename();
      if (d.empty() || !std::all_of(d.begin(), d.end(), ::isdigit)) continue;
      const pid_t pid = std::atoi(d.c_str());
      // Group leaders that are not zombies: a run is its group (the local
      // driver's rule), and a zombie has ended.
      const std::string stat = ReadFile(e.path() / "stat");
      const size_t close = stat.rfind(')');
      if (close == std::string::npos) continue;
      std::istringstream fields(stat.substr(close + 2));
      char state = 0;
      long ppid = 0, pgrp = 0;
      fields >> state >> ppid >> pgrp;
      if (state == 'Z' || pgrp != pid) continue;
      const std::string env = ReadFile(e.path() / "environ");
      std::string site, name;
      size_t at = 0;
      while (at < env.size()) {
        size_t end = env.find('\0', at);
        if (end == std::string::npos) end = env.size();
        const std::string_view v(env.data() + at, end - at);
        if (v.rfind("POLYCLOUD_SITE=", 0) == 0) site = std::string(v.substr(15));
        if (v.rfind("POLYCLOUD_SITE_JOB=", 0) == 0) name = std::string(v.substr(19));
        at = end + 1;
      }
      if (name.empty() || std::find(ids_.begin(), ids_.end(), site) == ids_.end()) continue;
      out[pid] = {site, name};
    }
    return out;
  }
  std::set<LiveRun> LocalLive() const {
    std::set<LiveRun> out;
    for (const auto& [pid, run] : LocalProcesses()) out.insert(run);
    return out;
  }
  std::set<LiveRun> SlurmLive(bool* ok) const {
    std::set<LiveRun> out;
    for (size_t s = 0; s < ids_.size(); ++s) {
      int rc = 0;
      std::istringstream q(Capture("SLURM_CONF=" + ShellQuote(confs_[s]) +
                                       " squeue -h -a -t pending,configuring,running,completing,"
                                       "suspended,requeued -o '%j' 2>/dev/null",
                                   &rc));
      if (rc != 0) *ok = false;
      for (std::string name; std::getline(q, name);) {
        if (name.rfind("pc-", 0) == 0) out.insert({ids_[s], name});
      }
    }
    return out;
  }

  std::string kind_;
  std::vector<std::string> ids_, confs_;
};

// ---------------------------------------------------------------- the driver

struct Config {
  std::string polycloud, store = "sqlite", sites = "local", slurm_dir, slurm_clusters = "alpha,beta";
  int64_t submissions = 500, clients = 4, kills = 3, run_kills = 2, seed = 1;
  int64_t site_gpus = 0, gpus_min = 0, gpus_max = 0, settle_s = 120, observe_s = 10;
  bool keep = false;
  fs::path dir;
};

class Chaos {
 public:
  explicit Chaos(Config c) : c_(std::move(c)), rng_(static_cast<uint64_t>(c_.seed)) {}

  int Run();

 private:
  void WriteScenario();
  std::string Token(const std::string& role, const std::string& tenant);
  void StartBroker();
  void KillAndRestart(const char* when);
  bool WaitReady(int64_t timeout_ms);
  void Reap();
  int64_t CountAcks();
  void Sample();
  std::set<LiveRun> BrokerRunning(bool* ok);
  void Observe(int64_t seconds, bool until_all_done);
  void Check(bool ok, const std::string& what);

  Config c_;
  Rng rng_;
  std::string store_, url_, tenant_token_, admin_token_;
  polycloud::http::ServerAddress address_{"127.0.0.1", 0};
  std::unique_ptr<Sites> sites_;
  pid_t broker_ = -1;
  int incarnation_ = 0;
  std::vector<int64_t> ready_ms_;
  std::map<pid_t, int> clients_;  // pid -> exit status (-1 while running)
  std::vector<fs::path> outs_;
  std::vector<std::pair<size_t, int64_t>> out_offsets_;
  int kills_done_ = 0;
  std::atomic<bool> sampling_{false};
  std::mutex sample_mu_;
  int64_t samples_ = 0, max_live_ = 0;
  std::vector<std::string> twice_;  // "job: site/name, site/name" seen live at once
  std::vector<std::string> failures_;
  bool all_done_ = false;
  int64_t disagreements_ = 0, left_over_ = 0;
};

void Chaos::Check(bool ok, const std::string& what) {
  if (!ok) failures_.push_back(what);
}

void Chaos::WriteScenario() {
  const std::string tag = std::to_string(::getpid());
  std::vector<std::string> ids, confs;
  std::ostringstream sites, pools;
  const bool local = c_.sites == "local";
  std::vector<std::string> clusters;
  if (local) {
    clusters = {"a", "b"};
  } else {
    std::istringstream in(c_.slurm_clusters);
    for (std::string x; std::getline(in, x, ',');) clusters.push_back(x);
  }
  // The sites' `sleep` (local runs are `sleep <seconds>` found on the
  // site's PATH) records each start, then becomes the real sleep.
  fs::create_directories(c_.dir / "bin");
  {
    std::ofstream w(c_.dir / "bin" / "sleep");
    w << "#!/bin/sh\necho \"$POLYCLOUD_SITE_JOB $POLYCLOUD_SITE $$\" >>" << (c_.dir / "dispatch.log")
      << "\nexec /bin/sleep \"$@\"\n";
  }
  fs::permissions(c_.dir / "bin" / "sleep", fs::perms::owner_all | fs::perms::group_read |
                                                fs::perms::group_exec | fs::perms::others_read |
                                                fs::perms::others_exec);
  for (size_t i = 0; i < clusters.size(); ++i) {
    const std::string id = "chaos" + tag + "-" + clusters[i];
    ids.push_back(id);
    std::string backend;
    if (local) {
      backend = "{kind: local, path: \"" + (c_.dir / "bin").string() +
                ":/usr/bin:/bin\", kill_grace: 1s}";
    } else {
      confs.push_back((fs::path(c_.slurm_dir) / clusters[i] / "slurm.conf").string());
      backend = "{kind: slurm, slurm_conf: \"" + confs.back() + "\", history: jobcomp, timeout: 20s}";
    }
    sites << "  - {id: " << id << ", provider: p" << i << ", backend: " << backend << "}\n";
    pools << "  - {id: " << id << "-gpu, site: " << id
          << ", accelerator: FAST, pricing: on-demand, gpus: " << c_.site_gpus
          << ", price_per_gpu_hour: " << 2 + i << (local ? "" : ", partition: gpu") << "}\n";
  }
  std::ofstream y(c_.dir / "fleet.yaml");
  // FAST: 100 times an H100, so that 1 reference GPU-hour on g GPUs runs
  // ceil(36 / g) seconds.
  y << "name: serve-chaos\nstart: 2026-01-01\nend: 2031-01-01\n"
    << "accelerators:\n  - {name: FAST, memory_gb: 80, watts: 700, speed: 100}\n"
    << "providers:\n";
  for (size_t i = 0; i < clusters.size(); ++i) y << "  - {id: p" << i << "}\n";
  y << "sites:\n" << sites.str() << "pools:\n" << pools.str();
  sites_ = std::make_unique<Sites>(c_.sites, ids, confs);
}

std::string Chaos::Token(const std::string& role, const std::string& tenant) {
  int rc = 0;
  std::string cmd = ShellQuote(c_.polycloud) + " token create --store " + ShellQuote(store_) +
                    " --role " + role + (tenant.empty() ? "" : " --tenant " + tenant) + " 2>>" +
                    ShellQuote((c_.dir / "tokens.err").string());
  std::string t = Capture(cmd, &rc);
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
  if (rc != 0 || t.empty()) Die("token create failed: " + ReadFile(c_.dir / "tokens.err"));
  return t;
}

void Chaos::StartBroker() {
  ++incarnation_;
  const fs::path log = c_.dir / ("serve-" + std::to_string(incarnation_) + ".log");
  broker_ = Spawn({c_.polycloud, "serve", "--scenario", (c_.dir / "fleet.yaml").string(), "--store",
                   store_, "--listen", "127.0.0.1:" + std::to_string(address_.port), "--tick", "0s",
                   "--site-grace", "60s"},
                  log);
  const int64_t t0 = NowMs();
  if (!WaitReady(120'000)) {
    Die("broker " + std::to_string(incarnation_) + " not ready; its log:\n" + ReadFile(log));
  }
  ready_ms_.push_back(NowMs() - t0);
}

bool Chaos::WaitReady(int64_t timeout_ms) {
  const int64_t end = NowMs() + timeout_ms;
  while (NowMs() < end) {
    Reap();
    if (broker_ < 0) return false;  // it exited
    polycloud::http::ClientOptions o;
    o.address = address_;
    o.timeout = milliseconds(1000);
    polycloud::http::Client c(o);
    auto r = c.Get("/readyz");
    if (r.ok() && r->status == 200) return true;
    SleepMs(5);
  }
  return false;
}

void Chaos::Reap() {
  for (;;) {
    int status = 0;
    const pid_t p = ::waitpid(-1, &status, WNOHANG);
    if (p <= 0) return;
    if (p == broker_) {
      broker_ = -1;
    } else if (clients_.contains(p)) {
      clients_[p] = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    // Anything else: a local run the killed broker left, now ended.
  }
}

void Chaos::KillAndRestart(const char* when) {
  if (broker_ > 0) {
    ::kill(broker_, SIGKILL);
    int status = 0;
    ::waitpid(broker_, &status, 0);
    broker_ = -1;
  }
  ++kills_done_;
  std::cout << "  kill -9 #" << kills_done_ << " " << when << std::endl;
  SleepMs(static_cast<int64_t>(rng_.Below(150)));
  StartBroker();
}

int64_t Chaos::CountAcks() {
  int64_t total = 0;
  for (size_t i = 0; i < outs_.size(); ++i) {
    auto& [offset, lines] = out_offsets_[i];
    std::ifstream in(outs_[i], std::ios::binary);
    in.seekg(static_cast<std::streamoff>(offset));
    std::string more((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const size_t last = more.rfind('\n');
    if (last != std::string::npos) {
      lines += std::count(more.begin(), more.begin() + static_cast<std::ptrdiff_t>(last) + 1, '\n');
      offset += last + 1;
    }
    total += lines;
  }
  return total;
}

// One look at the sites: a job live under two names (two runs, or two sites)
// at once is a run dispatched twice.
void Chaos::Sample() {
  bool ok = true;
  const std::set<LiveRun> live = sites_->Live(&ok);
  std::map<std::string, std::vector<LiveRun>> by_job;
  for (const LiveRun& r : live) by_job[JobOfName(r.name)].push_back(r);
  std::lock_guard<std::mutex> lock(sample_mu_);
  ++samples_;
  max_live_ = std::max<int64_t>(max_live_, static_cast<int64_t>(live.size()));
  for (const auto& [job, runs] : by_job) {
    if (runs.size() < 2) continue;
    std::string s = job + ":";
    for (const LiveRun& r : runs) s += " " + r.site + "/" + r.name;
    if (twice_.size() < 20) twice_.push_back(s);
  }
}

// The broker's running runs as (site, name), from GET /v1/jobs?status=running.
std::set<LiveRun> Chaos::BrokerRunning(bool* ok) {
  std::set<LiveRun> out;
  *ok = true;
  auto client = MakeClient(address_, admin_token_);
  std::string after;
  for (;;) {
    auto r = client->Get("/v1/jobs?status=running&limit=1000" + (after.empty() ? "" : "&after=" + after));
    if (!r.ok() || r->status != 200) {
      *ok = false;
      return out;
    }
    auto j = r->Json();
    if (!j.ok()) {
      *ok = false;
      return out;
    }
    for (const json& job : (*j)["jobs"]) {
      if (!job["site"].is_string()) continue;
      out.insert({job["site"].get<std::string>(),
                  "pc-" + job["id"].get<std::string>() + "-r" + std::to_string(job["run"].get<int64_t>())});
    }
    if (!(*j)["next"].is_string()) return out;
    after = (*j)["next"].get<std::string>();
  }
}

// Compares the broker's running runs with the sites' live ones every 500 ms.
// A difference that lasts 5 s is a disagreement (shorter ones are a look or
// a tick in flight). With `until_all_done`, stops once no job is queued or
// running and the sites have nothing of ours.
void Chaos::Observe(int64_t seconds, bool until_all_done) {
  std::map<LiveRun, int64_t> since;  // difference -> first seen
  std::set<LiveRun> reported;
  const int64_t end = NowMs() + seconds * 1000;
  auto client = MakeClient(address_, admin_token_);
  while (NowMs() < end) {
    Reap();
    bool ok_b1 = true, ok_s = true, ok_b2 = true;
    const std::set<LiveRun> b1 = BrokerRunning(&ok_b1);
    const std::set<LiveRun> site = sites_->Live(&ok_s);
    const std::set<LiveRun> b2 = BrokerRunning(&ok_b2);
    if (ok_b1 && ok_s && ok_b2) {
      std::set<LiveRun> diff;
      // Running in the broker before and after the look, not at the site; or
      // at the site while the broker had it running neither before nor after.
      for (const LiveRun& r : b1) {
        if (b2.contains(r) && !site.contains(r)) diff.insert(r);
      }
      for (const LiveRun& r : site) {
        if (!b1.contains(r) && !b2.contains(r)) diff.insert(r);
      }
      const int64_t now = NowMs();
      for (auto it = since.begin(); it != since.end();) {
        it = diff.contains(it->first) ? std::next(it) : since.erase(it);
      }
      for (const LiveRun& r : diff) {
        auto [it, fresh] = since.emplace(r, now);
        if (now - it->second >= 5000 && reported.insert(r).second) {
          ++disagreements_;
          failures_.push_back("disagreement for 5 s: " + r.site + "/" + r.name +
                              (site.contains(r) ? " live at the site, not running in the broker"
                                                : " running in the broker, not at the site"));
        }
      }
      if (until_all_done && b2.empty() && site.empty()) {
        auto q = client->Get("/v1/jobs?status=queued&limit=1");
        if (q.ok() && q->status == 200) {
          auto j = q->Json();
          if (j.ok() && (*j)["jobs"].empty()) {
            all_done_ = true;
            return;
          }
        }
      }
    }
    SleepMs(500);
  }
}

int Chaos::Run() {
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) Die("prctl(PR_SET_CHILD_SUBREAPER) failed");
  fs::create_directories(c_.dir);
  const bool local = c_.sites == "local";
  if (c_.site_gpus == 0) c_.site_gpus = local ? 2048 : 16;
  if (c_.gpus_min == 0) c_.gpus_min = local ? 36 : 8;
  if (c_.gpus_max == 0) c_.gpus_max = local ? 64 : 8;
  store_ = c_.store == "sqlite" ? "sqlite:" + (c_.dir / "broker.db").string() : c_.store;
  WriteScenario();
  {
    // A free port below the ephemeral range (so that no client's own end of a
    // connection takes it while the broker is down), kept for every
    // incarnation: the clients keep one URL.
    Rng ports(static_cast<uint64_t>(::getpid()) * 7919 + static_cast<uint64_t>(NowMs()));
    for (int tries = 0; tries < 200 && address_.port == 0; ++tries) {
      const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a.sin_port = htons(static_cast<uint16_t>(20000 + ports.Below(12000)));
      if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
        address_.port = ntohs(a.sin_port);
      }
      if (fd >= 0) ::close(fd);
    }
    if (address_.port == 0) Die("no free port in 20000-32000");
    url_ = "http://127.0.0.1:" + std::to_string(address_.port);
  }
  tenant_token_ = Token("tenant", "chaos");
  admin_token_ = Token("admin", "");
  std::cout << "serve_chaos: " << c_.submissions << " submissions from " << c_.clients
            << " clients; store " << (c_.store == "sqlite" ? "sqlite" : "postgresql") << "; sites "
            << c_.sites << "; " << c_.kills << " kills while submitting, " << c_.run_kills
            << " after; " << c_.dir.string() << std::endl;
  StartBroker();

  sampling_ = true;
  std::thread sampler([this, local] {
    while (sampling_) {
      Sample();
      SleepMs(local ? 200 : 500);
    }
  });

  // Kill points: acknowledged counts drawn between 5% and 90% of the total.
  std::vector<int64_t> at;
  for (int64_t k = 0; k < c_.kills; ++k) {
    at.push_back(c_.submissions / 20 +
                 static_cast<int64_t>(rng_.Below(static_cast<uint64_t>(c_.submissions * 17 / 20 + 1))));
  }
  std::sort(at.begin(), at.end());
  const std::string prefix = "chaos-" + std::to_string(::getpid()) + "-";
  const int64_t t_submit = NowMs();
  for (int64_t i = 0; i < c_.clients; ++i) {
    const int64_t from = c_.submissions * i / c_.clients, to = c_.submissions * (i + 1) / c_.clients;
    outs_.push_back(c_.dir / ("client-" + std::to_string(i) + ".acks"));
    out_offsets_.push_back({0, 0});
    std::ofstream(outs_.back()).close();
    const pid_t p = Spawn({fs::read_symlink("/proc/self/exe").string(), "client", "--url", url_,
                           "--token", tenant_token_, "--from", std::to_string(from), "--to",
                           std::to_string(to), "--prefix", prefix, "--out", outs_.back().string(),
                           "--seed", std::to_string(c_.seed * 1000 + i), "--gpus-min",
                           std::to_string(c_.gpus_min), "--gpus-max", std::to_string(c_.gpus_max)},
                          c_.dir / ("client-" + std::to_string(i) + ".log"));
    clients_[p] = -1;
  }
  size_t next = 0;
  while (std::any_of(clients_.begin(), clients_.end(), [](const auto& kv) { return kv.second == -1; })) {
    Reap();
    if (broker_ < 0) Die("the broker exited on its own; see " + c_.dir.string());
    const int64_t acked = CountAcks();
    if (next < at.size() && acked >= at[next]) {
      KillAndRestart(("at " + std::to_string(acked) + " acknowledged").c_str());
      ++next;
    }
    SleepMs(2);
  }
  const int64_t submit_ms = NowMs() - t_submit;
  for (; next < at.size(); ++next) KillAndRestart("after the last acknowledgement");
  for (const auto& [pid, status] : clients_) {
    Check(status == 0, "client " + std::to_string(pid) + " exited " + std::to_string(status));
  }
  // While the runs go on: kills at random moments.
  for (int64_t k = 0; k < c_.run_kills; ++k) {
    const int64_t wait = 300 + static_cast<int64_t>(rng_.Below(1500));
    for (const int64_t end = NowMs() + wait; NowMs() < end;) {
      Reap();
      SleepMs(10);
    }
    KillAndRestart("while jobs run");
  }

  // ---- checks
  // Acknowledgements: one id per key, no refusals.
  std::map<std::string, std::string> ack;
  int64_t acks = 0, refusals = 0, found_on_retry = 0, retries = 0, keys_two_ids = 0;
  for (const fs::path& p : outs_) {
    std::ifstream in(p);
    for (std::string line; std::getline(in, line);) {
      std::istringstream f(line);
      std::string key, id;
      int code = 0, attempts = 0;
      f >> key >> id;
      if (key == "ERR") {
        ++refusals;
        if (refusals <= 5) failures_.push_back("refused or given up: " + line);
        continue;
      }
      f >> code >> attempts;
      ++acks;
      retries += attempts - 1;
      if (code == 200) ++found_on_retry;
      auto [it, fresh] = ack.emplace(key, id);
      if (!fresh && it->second != id) ++keys_two_ids;
    }
  }
  Check(acks == c_.submissions, "acknowledged " + std::to_string(acks) + " of " +
                                    std::to_string(c_.submissions) + " submissions");
  Check(keys_two_ids == 0, std::to_string(keys_two_ids) + " keys acknowledged with two ids");

  // The broker after the last restart: every acknowledged id, one job per key.
  auto client = MakeClient(address_, admin_token_);
  std::set<std::string> ids;
  for (std::string after;;) {
    auto r = client->Get("/v1/jobs?limit=1000" + (after.empty() ? "" : "&after=" + after));
    if (!r.ok() || r->status != 200) Die("GET /v1/jobs failed");
    const json j = r->Json().value();
    for (const json& job : j["jobs"]) ids.insert(job["id"].get<std::string>());
    if (!j["next"].is_string()) break;
    after = j["next"].get<std::string>();
  }
  int64_t lost = 0;
  for (const auto& [key, id] : ack) {
    if (!ids.contains(id)) {
      if (++lost <= 5) failures_.push_back("acknowledged " + key + " -> " + id + " is gone");
    }
  }
  Check(lost == 0, std::to_string(lost) + " acknowledged submissions lost");
  Check(ids.size() == ack.size(), "the broker holds " + std::to_string(ids.size()) + " jobs for " +
                                      std::to_string(ack.size()) + " keys");
  // Retrying a key answers its first id.
  int64_t other_id = 0;
  auto tenant = MakeClient(address_, tenant_token_);
  for (const auto& [key, id] : ack) {
    auto r = PostJob(*tenant, key, json{{"gpus", 1}, {"work_gpu_hours", 1}}.dump());
    std::string got;
    if (r.ok() && r->status == 200) {
      auto j = r->Json();
      if (j.ok() && (*j)["id"].is_string()) got = (*j)["id"].get<std::string>();
    }
    if (got != id && ++other_id <= 5) {
      failures_.push_back("re-submitting " + key + " answered " +
                          (r.ok() ? std::to_string(r->status) + " " + got : r.status().message()) +
                          ", not 200 " + id);
    }
  }
  Check(other_id == 0, std::to_string(other_id) + " keys answered another id on a retry");

  // Reconciliation after the final restart, then (local) the end of every run.
  Observe(local ? c_.settle_s : c_.observe_s, local);
  if (local) Check(all_done_, "not every job ended within " + std::to_string(c_.settle_s) + " s");
  sampling_ = false;
  sampler.join();
  Check(twice_.empty(), std::to_string(twice_.size()) + "+ jobs seen live twice at once" +
                            (twice_.empty() ? "" : ", e.g. " + twice_[0]));
  const std::map<std::string, int> dispatched = sites_->Dispatched(c_.dir);
  int64_t twice = 0, runs = 0;
  for (const auto& [name, n] : dispatched) {
    runs += n;
    if (n > 1 && ++twice <= 5) failures_.push_back("sent twice: " + name);
  }
  Check(twice == 0, std::to_string(twice) + " run names sent to a site twice");
  bool ok = true;
  const std::set<LiveRun> left = sites_->Live(&ok);
  if (local) {
    left_over_ = static_cast<int64_t>(left.size());
    Check(left.empty(), std::to_string(left.size()) + " local runs still alive at the end");
  }

  std::vector<int64_t> ready = ready_ms_;
  std::sort(ready.begin(), ready.end());
  std::cout << "\n| figure | value |\n|---|---|\n"
            << "| submissions acknowledged | " << acks << " of " << c_.submissions << " in "
            << submit_ms << " ms (" << (submit_ms > 0 ? acks * 1000 / submit_ms : 0) << "/s, kills included) |\n"
            << "| broker SIGKILLs | " << kills_done_ << " (" << c_.kills << " while submitting, "
            << c_.run_kills << " while jobs ran) |\n"
            << "| restart to ready (p50 / max) | " << ready[ready.size() / 2] << " / " << ready.back()
            << " ms |\n"
            << "| client retries (not acknowledged while the broker was down) | " << retries << " |\n"
            << "| committed but not acknowledged before a kill, found by the retry (200) | "
            << found_on_retry << " |\n"
            << "| acknowledged submissions lost | " << lost << " |\n"
            << "| keys answering another id on a retry | " << other_id + keys_two_ids << " |\n"
            << "| jobs in the broker / distinct keys | " << ids.size() << " / " << ack.size() << " |\n"
            << "| runs started at the sites | " << runs << " (" << dispatched.size() << " names) |\n"
            << "| run names sent twice | " << twice << " |\n"
            << "| jobs live twice at once (" << samples_ << " samples, up to " << max_live_
            << " runs live) | " << twice_.size() << " |\n"
            << "| disagreements with the sites lasting 5 s after the final restart | "
            << disagreements_ << " |\n";
  if (local) {
    std::cout << "| every job done, local processes left | " << (all_done_ ? "yes" : "no") << ", "
              << left_over_ << " |\n";
  }
  // Stop: the broker cleanly, then whatever is left of our runs.
  if (broker_ > 0) {
    ::kill(broker_, SIGTERM);
    for (const int64_t end = NowMs() + 10'000; broker_ > 0 && NowMs() < end;) {
      Reap();
      SleepMs(10);
    }
    if (broker_ > 0) ::kill(broker_, SIGKILL);
  }
  sites_->KillLeftovers();
  SleepMs(100);
  Reap();
  if (!failures_.empty()) {
    std::cout << "\nFAIL serve_chaos:\n";
    for (const std::string& f : failures_) std::cout << "  " << f << "\n";
    std::cout << "kept " << c_.dir.string() << "\n";
    return 1;
  }
  if (!c_.keep) fs::remove_all(c_.dir);
  std::cout << "\nPASS serve_chaos" << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "client") return ClientMain(argc, argv);
  const auto f = ParseFlags(argc, argv, 1,
                            {"polycloud", "store", "sites", "slurm-dir", "slurm-clusters",
                             "submissions", "clients", "kills", "run-kills", "seed", "site-gpus",
                             "gpus-min", "gpus-max", "settle", "observe", "dir"},
                            {"keep"});
  Config c;
  c.polycloud = Flag(f, "polycloud", "");
  if (c.polycloud.empty() || ::access(c.polycloud.c_str(), X_OK) != 0) {
    Die("--polycloud: the polycloud binary to run (build/release/apps/polycloud)");
  }
  c.polycloud = fs::absolute(c.polycloud).string();
  c.store = Flag(f, "store", "sqlite");
  c.sites = Flag(f, "sites", "local");
  if (c.sites != "local" && c.sites != "slurm") Die("--sites: local or slurm");
  c.slurm_dir = Flag(f, "slurm-dir", "");
  if (c.sites == "slurm" && c.slurm_dir.empty()) Die("--sites slurm needs --slurm-dir");
  c.slurm_clusters = Flag(f, "slurm-clusters", c.slurm_clusters);
  c.submissions = IntFlag(f, "submissions", c.submissions);
  c.clients = std::max<int64_t>(1, IntFlag(f, "clients", c.clients));
  c.kills = IntFlag(f, "kills", c.kills);
  c.run_kills = IntFlag(f, "run-kills", c.run_kills);
  c.seed = IntFlag(f, "seed", c.seed);
  c.site_gpus = IntFlag(f, "site-gpus", 0);
  c.gpus_min = IntFlag(f, "gpus-min", 0);
  c.gpus_max = IntFlag(f, "gpus-max", 0);
  c.settle_s = IntFlag(f, "settle", c.settle_s);
  c.observe_s = IntFlag(f, "observe", c.observe_s);
  c.keep = f.contains("keep");
  c.dir = Flag(f, "dir", "");
  if (c.dir.empty()) {
    char tmpl[] = "/tmp/polycloud-chaos.XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) Die("mkdtemp failed");
    c.dir = tmpl;
  }
  c.dir = fs::absolute(c.dir);
  return Chaos(c).Run();
}
