// polycloud diff and polycloud sweep: argument handling, processes and output
// routing; the comparison and the report summary live in polycloud_report
// (report/diff.h), the overrides in polycloud_io (io/overlay.h).
#include "whatif_commands.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>

#include "output.h"
#include "polycloud/base/status.h"
#include "polycloud/base/text.h"
#include "polycloud/base/units.h"
#include "polycloud/io/overlay.h"
#include "polycloud/io/scenario.h"
#include "polycloud/report/diff.h"
#include "replay_command.h"

extern char** environ;

namespace polycloud {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

// Exit code of `diff --exit-code` when the reports differ (docs/cli.md).
constexpr int kExitDiffer = 6;
// The largest grid a sweep runs.
constexpr size_t kMaxVariants = 10'000;
// Reports are read whole; a year of the flagship with --json is ~100 MB.
constexpr int64_t kMaxReportBytes = int64_t{1} << 30;

// Display width: UTF-8 code points (the table's "—").
size_t Utf8Width(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

int Fail(const Status& status) {
  std::cerr << "polycloud: " << status.message() << "\n";
  return ExitCodeFor(status);
}

// ------------------------------------------------------------------ diff

struct DiffArgs {
  std::string a, b;
  std::string json_path;
  bool all = false;
  bool exit_code = false;
};

int RunDiff(const DiffArgs& args) {
  auto a = ReadRegularFile(args.a, kMaxReportBytes, "report");
  if (!a.ok()) return Fail(a.status());
  auto b = ReadRegularFile(args.b, kMaxReportBytes, "report");
  if (!b.ok()) return Fail(b.status());
  auto diff = report::DiffReports(*a, args.a, *b, args.b);
  if (!diff.ok()) return Fail(diff.status());
  if (!args.json_path.empty()) {
    Status s = WriteTo(args.json_path,
                       [&](std::ostream& out) { report::WriteDiffJson(*diff, args.all, out); });
    if (!s.ok()) return Fail(s);
  }
  if (args.json_path != "-") report::WriteDiffText(*diff, args.all, std::cout);
  return args.exit_code && diff->changed > 0 ? kExitDiffer : kExitOk;
}

// ------------------------------------------------------------------ sweep

struct SweepArgs {
  std::string scenario;
  std::vector<std::string> vary, with, set, unset;
  std::optional<uint64_t> seed;
  std::string policy;
  int64_t jobs = 0;  // 0: one per core
  std::string out_dir, json_path, csv_path;
  bool slurm = false;
  std::string slurm_conf, partition;
};

struct Vary {
  std::string path;
  std::vector<std::string> values;
};

struct Variant {
  std::vector<std::string> values;  // one per Vary
  std::string report, err;          // files
  std::optional<report::ReportSummary> summary;
  std::string failure;  // "" when it ran
  int exit_code = 0;
};

Result<std::vector<Vary>> ParseVaries(const std::vector<std::string>& texts) {
  std::vector<Vary> out;
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::string where =
        "--vary #" + std::to_string(i + 1) + " " + QuoteExcerpt(texts[i], 120);
    io::SetArgument parsed;
    if (auto e = io::ParseSetArgument(texts[i], true, &parsed)) {
      return InvalidArgument(where + ", column " + std::to_string(e->column) + ": " + e->message);
    }
    Vary v;
    v.path = texts[i].substr(0, static_cast<size_t>(parsed.value_column) - 2);
    v.values = SplitVaryValues(parsed.value);
    for (const std::string& value : v.values) {
      if (value.empty()) {
        return InvalidArgument(where + ": an empty value in the list (expected PATH=v1,v2,...)");
      }
    }
    out.push_back(std::move(v));
  }
  if (out.empty()) return InvalidArgument("sweep: give at least one --vary PATH=v1,v2,...");
  return out;
}

std::string SelfPath() {
  std::error_code ec;
  fs::path p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("polycloud") : p.string();
}

// The `simulate` command line of one variant (without the program).
std::vector<std::string> SimulateArgs(const SweepArgs& a, const std::vector<Vary>& varies,
                                      const Variant& v) {
  std::vector<std::string> args = {"simulate", a.scenario};
  if (a.seed) args.insert(args.end(), {"--seed", std::to_string(*a.seed)});
  if (!a.policy.empty()) args.insert(args.end(), {"--policy", a.policy});
  for (const std::string& w : a.with) args.insert(args.end(), {"--with", w});
  for (const std::string& s : a.set) args.insert(args.end(), {"--set", s});
  for (size_t i = 0; i < varies.size(); ++i)
    args.insert(args.end(), {"--set", varies[i].path + "=" + v.values[i]});
  for (const std::string& u : a.unset) args.insert(args.end(), {"--unset", u});
  args.insert(args.end(), {"--json", v.report, "--quiet", "--no-compare"});
  return args;
}

std::vector<io::Override> OverridesOf(const SweepArgs& a, const std::vector<Vary>& varies,
                                      const Variant& v) {
  std::vector<io::Override> out;
  for (const std::string& w : a.with) out.push_back({io::Override::Kind::kWith, w, std::nullopt});
  for (const std::string& s : a.set) out.push_back({io::Override::Kind::kSet, s, std::nullopt});
  for (size_t i = 0; i < varies.size(); ++i) {
    out.push_back({io::Override::Kind::kSet, varies[i].path + "=" + v.values[i], std::nullopt});
  }
  for (const std::string& u : a.unset) out.push_back({io::Override::Kind::kUnset, u, std::nullopt});
  return out;
}

std::string VariantName(const std::vector<Vary>& varies, const Variant& v) {
  std::string out;
  for (size_t i = 0; i < varies.size(); ++i)
    out += (i ? ", " : "") + varies[i].path + "=" + v.values[i];
  return out;
}

// Spawns `self args...` with standard output to /dev/null and standard error
// to `err`. Returns the pid, or an error.
Result<pid_t> Spawn(const std::string& program, const std::vector<std::string>& args,
                    const std::string& err, const std::string& out = "/dev/null",
                    char** env = environ, bool search_path = false) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<std::string> all = {program};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& s : all) argv.push_back(s.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = search_path
                     ? posix_spawnp(&pid, program.c_str(), &actions, nullptr, argv.data(), env)
                     : posix_spawn(&pid, program.c_str(), &actions, nullptr, argv.data(), env);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return IoError(program + ": cannot start (" + std::strerror(rc) + ")");
  return pid;
}

int ExitCodeOfWait(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return kExitInternal;
}

std::string Tail(const std::string& path) {
  auto text = ReadRegularFile(path, int64_t{1} << 20, "log");
  if (!text.ok()) return "";
  std::string s = *text;
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  if (s.size() > 600) s = "…" + s.substr(s.size() - 600);
  return s;
}

// Runs every variant here, `parallel` at a time.
Status RunLocally(const SweepArgs& a, const std::vector<Vary>& varies, std::vector<Variant>& vs,
                  int64_t parallel) {
  const std::string self = SelfPath();
  std::map<pid_t, size_t> running;
  size_t next = 0;
  while (next < vs.size() || !running.empty()) {
    while (next < vs.size() && static_cast<int64_t>(running.size()) < parallel) {
      auto pid = Spawn(self, SimulateArgs(a, varies, vs[next]), vs[next].err);
      if (!pid.ok()) {
        for (auto& [p, i] : running) kill(p, SIGTERM);
        return pid.status();
      }
      running[*pid] = next++;
    }
    int status = 0;
    const pid_t done = waitpid(-1, &status, 0);
    if (done < 0) {
      if (errno == EINTR) continue;
      return IoError(std::string("waiting for the variants: ") + std::strerror(errno));
    }
    auto it = running.find(done);
    if (it == running.end()) continue;
    vs[it->second].exit_code = ExitCodeOfWait(status);
    running.erase(it);
  }
  return Status::Ok();
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

// Submits the grid as one Slurm job array (sbatch --array --wait) and waits
// for it. Each task runs `polycloud simulate` for its variant and writes its
// report into the output folder, which every node must see.
Status RunOnSlurm(const SweepArgs& a, const std::vector<Vary>& varies, std::vector<Variant>& vs,
                  const fs::path& dir, int64_t parallel_limit) {
  const std::string self = SelfPath();
  for (size_t i = 0; i < vs.size(); ++i) {
    std::ofstream task(dir / ("variant-" + std::to_string(i) + ".sh"), std::ios::binary);
    task << "#!/bin/sh\n# polycloud sweep: variant " << i << ": " << VariantName(varies, vs[i])
         << "\nexec " << ShellQuote(self);
    for (const std::string& arg : SimulateArgs(a, varies, vs[i])) task << " " << ShellQuote(arg);
    task << " 2> " << ShellQuote(vs[i].err) << "\n";
    task.close();
    if (!task)
      return IoError((dir / ("variant-" + std::to_string(i) + ".sh")).string() + ": write failed");
  }
  const fs::path array = dir / "sweep-array.sh";
  {
    std::ofstream s(array, std::ios::binary);
    s << "#!/bin/sh\n# polycloud sweep: one array task per variant\nexec /bin/sh "
      << ShellQuote(dir.string()) << "/variant-\"$SLURM_ARRAY_TASK_ID\".sh\n";
    s.close();
    if (!s) return IoError(array.string() + ": write failed");
  }
  std::vector<std::string> args = {"--parsable",
                                   "--wait",
                                   "--job-name=polycloud-sweep",
                                   "--chdir=" + fs::current_path().string(),
                                   "--output=" + (dir / "slurm-%A_%a.out").string(),
                                   "--ntasks=1",
                                   "--cpus-per-task=1"};
  std::string range = "--array=0-" + std::to_string(vs.size() - 1);
  if (parallel_limit > 0) range += "%" + std::to_string(parallel_limit);
  args.push_back(range);
  if (!a.partition.empty()) args.push_back("--partition=" + a.partition);
  args.push_back(array.string());
  // The cluster: --slurm-conf, else the environment's SLURM_CONF.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) {
    if (!a.slurm_conf.empty() && std::string_view(*e).rfind("SLURM_CONF=", 0) == 0) continue;
    env_strings.push_back(*e);
  }
  if (!a.slurm_conf.empty()) env_strings.push_back("SLURM_CONF=" + a.slurm_conf);
  std::vector<char*> env;
  for (std::string& s : env_strings) env.push_back(s.data());
  env.push_back(nullptr);
  const std::string out = (dir / "sbatch.out").string(), err = (dir / "sbatch.err").string();
  auto pid = Spawn("sbatch", args, err, out, env.data(), /*search_path=*/true);
  if (!pid.ok()) {
    return IoError(
        "sbatch: cannot start it (is Slurm's client installed? "
        "scripts/slurm-clusters.sh install): " +
        pid.status().message());
  }
  int status = 0;
  while (waitpid(*pid, &status, 0) < 0) {
    if (errno != EINTR) return IoError(std::string("waiting for sbatch: ") + std::strerror(errno));
  }
  const int code = ExitCodeOfWait(status);
  const std::string job = Tail(out);
  if (job.empty()) {
    return IoError("sbatch did not submit the job array (exit " + std::to_string(code) +
                   "): " + Tail(err));
  }
  // With --wait, sbatch exits non-zero when any task failed; each variant's
  // own report (or its absence) says which.
  for (Variant& v : vs) v.exit_code = fs::exists(v.report) ? 0 : -1;
  std::cerr << "polycloud: sweep ran as Slurm job array " << job << " (" << vs.size()
            << " tasks)\n";
  return Status::Ok();
}

std::string ShortUsd(int64_t micros) { return FormatMoneyShort(Money::FromMicros(micros)); }

std::string Seconds(const std::optional<double>& s) {
  if (!s) return "—";
  return FormatDuration(Duration::Seconds(static_cast<int64_t>(*s + 0.5)));
}

std::string Level(const std::optional<int64_t>& milli) {
  if (!milli) return "—";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%" PRId64 ".%" PRId64 "%%", *milli / 10, *milli % 10);
  return buf;
}

std::string UsdPlain(int64_t micros) {
  std::string s = report::FormatUsdExact(micros);
  s.erase(std::remove(s.begin(), s.end(), ','), s.end());
  s.erase(std::remove(s.begin(), s.end(), '$'), s.end());
  return s;
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

Json MoneyJson(int64_t micros) { return Json{{"micros", micros}, {"usd", UsdPlain(micros)}}; }

void WriteSweepText(const std::string& scenario, const std::vector<Vary>& varies,
                    const std::vector<Variant>& vs, std::ostream& out) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header;
  for (const Vary& v : varies) header.push_back(v.path);
  for (const char* h :
       {"total cost", "vs first", "spend", "shortfall", "mean wait", "p99 wait", "demand served"})
    header.push_back(h);
  rows.push_back(header);
  std::optional<int64_t> first;
  for (const Variant& v : vs) {
    std::vector<std::string> row = v.values;
    if (!v.summary) {
      row.push_back("failed");
      rows.push_back(row);
      continue;
    }
    const report::ReportSummary& s = *v.summary;
    if (!first) first = s.total_cost_micros;
    std::string rel = "";
    if (*first != 0) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%+.1f%%",
                    (static_cast<double>(s.total_cost_micros) - static_cast<double>(*first)) /
                        static_cast<double>(*first) * 100);
      rel = buf;
    }
    row.insert(row.end(), {ShortUsd(s.total_cost_micros), rel, ShortUsd(s.spend_micros),
                           ShortUsd(s.shortfall_micros), Seconds(s.mean_wait_s),
                           Seconds(s.p99_wait_s), Level(s.service_level_milli)});
    rows.push_back(row);
  }
  std::vector<size_t> width(header.size(), 0);
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], Utf8Width(r[i]));
  }
  out << "polycloud sweep: " << scenario << ", " << vs.size() << " variant"
      << (vs.size() == 1 ? "" : "s") << "\n";
  for (const auto& r : rows) {
    std::string line = " ";
    for (size_t i = 0; i < r.size(); ++i) {
      const std::string pad(width[i] - Utf8Width(r[i]), ' ');
      line += " " + (i < varies.size() ? r[i] + pad : pad + r[i]);
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << "\n";
  }
}

void WriteSweepJson(const SweepArgs& a, const std::vector<Vary>& varies,
                    const std::vector<Variant>& vs, std::ostream& out) {
  Json j;
  j["schema"] = "polycloud.sweep/1";
  j["scenario"] = a.scenario;
  std::vector<std::string> common;
  for (const std::string& w : a.with) common.push_back("--with " + w);
  for (const std::string& s : a.set) common.push_back("--set " + s);
  for (const std::string& u : a.unset) common.push_back("--unset " + u);
  j["overrides"] = common;
  Json& vary = j["vary"] = Json::array();
  for (const Vary& v : varies) vary.push_back({{"path", v.path}, {"values", v.values}});
  Json& rows = j["variants"] = Json::array();
  for (size_t i = 0; i < vs.size(); ++i) {
    const Variant& v = vs[i];
    Json values = Json::object();
    for (size_t k = 0; k < varies.size(); ++k) values[varies[k].path] = v.values[k];
    Json row = {{"index", i}, {"values", values}};
    if (!a.out_dir.empty()) row["report"] = v.report;
    if (!v.summary) {
      row["failed"] = v.failure;
    } else {
      const report::ReportSummary& s = *v.summary;
      row["total_cost"] = MoneyJson(s.total_cost_micros);
      row["spend"] = MoneyJson(s.spend_micros);
      row["take_or_pay_shortfall"] = MoneyJson(s.shortfall_micros);
      row["mean_wait_s"] = s.mean_wait_s ? Json(*s.mean_wait_s) : Json(nullptr);
      row["p99_wait_s"] = s.p99_wait_s ? Json(*s.p99_wait_s) : Json(nullptr);
      row["demand_served"] = s.service_level_milli
                                 ? Json(static_cast<double>(*s.service_level_milli) / 1000)
                                 : Json(nullptr);
    }
    rows.push_back(std::move(row));
  }
  out << j.dump(2) << "\n";
}

void WriteSweepCsv(const std::vector<Vary>& varies, const std::vector<Variant>& vs,
                   std::ostream& out) {
  std::string header = "variant";
  for (const Vary& v : varies) header += "," + CsvField(v.path);
  out << header
      << ",total_cost_usd,spend_usd,take_or_pay_shortfall_usd,mean_wait_s,p99_wait_s,"
         "demand_served,failed\n";
  for (size_t i = 0; i < vs.size(); ++i) {
    const Variant& v = vs[i];
    out << i;
    for (const std::string& value : v.values) out << "," << CsvField(value);
    if (!v.summary) {
      out << ",,,,,,," << CsvField(v.failure) << "\n";
      continue;
    }
    const report::ReportSummary& s = *v.summary;
    auto num = [](const std::optional<double>& d) {
      if (!d) return std::string();
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.1f", *d);
      return std::string(buf);
    };
    std::string level;
    if (s.service_level_milli) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%" PRId64 ".%03" PRId64, *s.service_level_milli / 1000,
                    *s.service_level_milli % 1000);
      level = buf;
    }
    out << "," << UsdPlain(s.total_cost_micros) << "," << UsdPlain(s.spend_micros) << ","
        << UsdPlain(s.shortfall_micros) << "," << num(s.mean_wait_s) << "," << num(s.p99_wait_s)
        << "," << level << ",\n";
  }
}

int RunSweep(const SweepArgs& a) {
  auto varies = ParseVaries(a.vary);
  if (!varies.ok()) return Fail(varies.status());
  if ((a.json_path == "-") + (a.csv_path == "-") > 1) {
    return Fail(
        InvalidArgument("--json - and --csv - would interleave on standard output: send "
                        "one of them to a file"));
  }
  if (!a.slurm && (!a.slurm_conf.empty() || !a.partition.empty())) {
    return Fail(InvalidArgument("--slurm-conf and --partition go with --slurm"));
  }
  // The grid, first --vary slowest.
  std::vector<Variant> vs(1);
  for (const Vary& v : *varies) {
    if (vs.size() * v.values.size() > kMaxVariants) {
      return Fail(InvalidArgument("sweep: the grid has more than " + std::to_string(kMaxVariants) +
                                  " variants"));
    }
    std::vector<Variant> grown;
    for (const Variant& base : vs) {
      for (const std::string& value : v.values) {
        Variant next = base;
        next.values.push_back(value);
        grown.push_back(std::move(next));
      }
    }
    vs = std::move(grown);
  }
  // Every variant is checked before any runs: nothing is submitted for a grid
  // with a bad variant.
  for (const Variant& v : vs) {
    io::LoadOptions options;
    options.seed = a.seed;
    options.expand_job_streams = false;
    options.overrides = OverridesOf(a, *varies, v);
    auto loaded = io::LoadScenarioFile(a.scenario, options);
    if (!loaded.ok()) {
      std::cerr << "polycloud: sweep variant " << VariantName(*varies, v) << ":\n";
      return Fail(loaded.status());
    }
  }
  // Where the variants' reports go.
  fs::path dir;
  bool remove_dir = false;
  if (a.out_dir.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/polycloud-sweep-XXXXXX";
    if (!mkdtemp(templ.data())) return Fail(IoError(templ + ": cannot create a folder"));
    dir = fs::absolute(templ);
    remove_dir = true;
  } else {
    std::error_code ec;
    fs::create_directories(a.out_dir, ec);
    if (ec || !fs::is_directory(a.out_dir))
      return Fail(IoError(a.out_dir + ": cannot create the folder (" + ec.message() + ")"));
    dir = fs::absolute(a.out_dir);
  }
  for (size_t i = 0; i < vs.size(); ++i) {
    vs[i].report = (dir / ("variant-" + std::to_string(i) + ".json")).string();
    vs[i].err = (dir / ("variant-" + std::to_string(i) + ".err")).string();
    std::error_code ec;
    fs::remove(vs[i].report, ec);  // a stale report must not pass for this run's
  }
  int64_t parallel =
      a.jobs > 0 ? a.jobs : std::max<int64_t>(1, std::thread::hardware_concurrency());
  Status ran =
      a.slurm ? RunOnSlurm(a, *varies, vs, dir, a.jobs) : RunLocally(a, *varies, vs, parallel);
  if (!ran.ok()) return Fail(ran);
  int failed_code = kExitOk;
  for (Variant& v : vs) {
    if (v.exit_code == 0) {
      auto text = ReadRegularFile(v.report, kMaxReportBytes, "report");
      if (text.ok()) {
        auto summary = report::SummarizeReport(*text, v.report);
        if (summary.ok()) {
          v.summary = std::move(*summary);
          continue;
        }
        v.failure = summary.status().message();
      } else {
        v.failure = text.status().message();
      }
    } else {
      v.failure = Tail(v.err);
      if (v.failure.empty()) v.failure = "no report (exit " + std::to_string(v.exit_code) + ")";
    }
    std::cerr << "polycloud: sweep variant " << VariantName(*varies, v) << " failed: " << v.failure
              << "\n";
    if (failed_code == kExitOk)
      failed_code = v.exit_code >= 1 && v.exit_code <= 5 ? v.exit_code : kExitInternal;
  }
  Status written = Status::Ok();
  if (!a.json_path.empty() && written.ok()) {
    written = WriteTo(a.json_path, [&](std::ostream& out) { WriteSweepJson(a, *varies, vs, out); });
  }
  if (!a.csv_path.empty() && written.ok()) {
    written = WriteTo(a.csv_path, [&](std::ostream& out) { WriteSweepCsv(*varies, vs, out); });
  }
  if (a.json_path != "-" && a.csv_path != "-") {
    WriteSweepText(a.scenario, *varies, vs, std::cout);
  }
  if (remove_dir) {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  if (!written.ok()) return Fail(written);
  return failed_code;
}

}  // namespace

std::vector<std::string> SplitVaryValues(const std::string& text) {
  std::vector<std::string> out;
  std::string current;
  int depth = 0;
  char quote = 0;
  for (char c : text) {
    if (quote) {
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '[' || c == '{') {
      ++depth;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    } else if (c == ',' && depth == 0) {
      out.push_back(current);
      current.clear();
      continue;
    }
    current += c;
  }
  out.push_back(current);
  for (std::string& s : out) {
    const size_t b = s.find_first_not_of(' ');
    const size_t e = s.find_last_not_of(' ');
    s = b == std::string::npos ? "" : s.substr(b, e - b + 1);
  }
  return out;
}

std::function<int()> AddWhatIfCommands(CLI::App& app) {
  auto diff = std::make_shared<DiffArgs>();
  CLI::App* diff_cmd = app.add_subcommand(
      "diff", "Compare two reports (simulate --json): what changed in cost, waits, service levels");
  diff_cmd->add_option("a", diff->a, "The first report (JSON from simulate --json)")->required();
  diff_cmd->add_option("b", diff->b, "The second report")->required();
  diff_cmd->add_option("--json", diff->json_path,
                       "Also write the comparison as JSON to FILE ('-' for standard output only)");
  diff_cmd->add_flag("--all", diff->all, "List every figure compared, not only those that changed");
  diff_cmd->add_flag("--exit-code", diff->exit_code,
                     "Exit with 6 when the reports differ (0 when they agree)");

  auto sweep = std::make_shared<SweepArgs>();
  CLI::App* sweep_cmd = app.add_subcommand(
      "sweep",
      "Simulate a grid of what-if variants in parallel (or as a Slurm job array) and "
      "gather one table");
  sweep_cmd->add_option("scenario", sweep->scenario, "Scenario YAML file")->required();
  sweep_cmd
      ->add_option("--vary", sweep->vary,
                   "PATH=v1,v2,...: one axis of the grid (repeatable; every combination runs); "
                   "paths as for --set (docs/whatif.md), e.g. services.*.demand.scale=1,1.3")
      ->allow_extra_args(false)
      ->required();
  sweep_cmd->add_option("--with", sweep->with, "Overlay a fragment on every variant (repeatable)")
      ->allow_extra_args(false);
  sweep_cmd->add_option("--set", sweep->set, "Set PATH=VALUE in every variant (repeatable)")
      ->allow_extra_args(false);
  sweep_cmd->add_option("--unset", sweep->unset, "Remove PATH in every variant (repeatable)")
      ->allow_extra_args(false);
  sweep_cmd->add_option("--seed", sweep->seed, "Replace the scenario's seed")
      ->transform(AnyUint64());
  sweep_cmd->add_option("--policy", sweep->policy, "Scheduler policy for every variant");
  sweep_cmd
      ->add_option("-j,--jobs", sweep->jobs,
                   "Variants run at once (default: one per core; with --slurm: the array's "
                   "task limit, default none)")
      ->transform(IntegerIn(1, 4096));
  sweep_cmd->add_option("--out", sweep->out_dir,
                        "Keep each variant's report in this folder (variant-N.json); with --slurm "
                        "it must be visible to every node (default: a temporary folder, removed)");
  sweep_cmd->add_option("--json", sweep->json_path,
                        "Also write the table as JSON to FILE ('-' for standard output only)");
  sweep_cmd->add_option("--csv", sweep->csv_path,
                        "Also write the table as CSV to FILE ('-' for standard output only)");
  sweep_cmd->add_flag("--slurm", sweep->slurm,
                      "Run the grid as one Slurm job array (sbatch --array --wait) on the cluster "
                      "of $SLURM_CONF or --slurm-conf");
  sweep_cmd->add_option("--slurm-conf", sweep->slurm_conf, "The cluster's slurm.conf (--slurm)");
  sweep_cmd->add_option("--partition", sweep->partition, "The Slurm partition (--slurm)");

  return [diff, diff_cmd, sweep, sweep_cmd]() -> int {
    if (*diff_cmd) return RunDiff(*diff);
    if (*sweep_cmd) return RunSweep(*sweep);
    return -1;
  };
}

}  // namespace polycloud
