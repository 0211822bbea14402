#include "polycloud/sites/slurm.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <map>
#include <tuple>

#include "polycloud/base/text.h"
#include "polycloud/sites/naming.h"
#include "polycloud/sites/slurm_output.h"

namespace polycloud::sites {
namespace {

// stderr phrases of a controller that could not be reached or did not answer
// (slurm_strerror texts of 22.05); anything else after "submission failed"
// is the controller refusing the job.
constexpr std::array<std::string_view, 8> kUnreachable = {
    "Unable to contact slurm controller",      "Socket timed out",
    "Communication connection failure",        "Protocol authentication error",
    "Zero Bytes were transmitted or received", "Connection refused",
    "Slurm backup controller in standby mode", "Could not establish a configuration source",
};

bool Unreachable(const std::string& err) {
  return std::any_of(kUnreachable.begin(), kUnreachable.end(),
                     [&](std::string_view p) { return err.find(p) != std::string::npos; });
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : "";
}

// What the tool said, for a message: the last line of stderr without the
// tool's "sbatch: error: " prefix (Slurm prints the reason last), else stdout.
std::string Said(const ProcessResult& r) {
  std::string_view text = r.err;
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  if (text.empty()) text = r.out;
  if (text.empty()) return "no output";
  const size_t nl = text.rfind('\n');
  if (nl != std::string_view::npos && nl + 1 < text.size()) text = text.substr(nl + 1);
  for (std::string_view tag : {": error: ", ": fatal: "}) {
    const size_t at = text.find(tag);
    if (at != std::string_view::npos && at < 16) {
      text = text.substr(at + tag.size());
      break;
    }
  }
  return FirstLine(std::string(text));
}

std::string ExitOf(const ProcessResult& r) {
  if (r.term_signal != 0) return "killed by signal " + std::to_string(r.term_signal);
  return "exit " + std::to_string(r.exit_code);
}

}  // namespace

SlurmDriver::SlurmDriver(SlurmOptions options) : options_(std::move(options)) {
  const std::string path =
      !options_.path.empty() ? options_.path
                             : (Env("PATH").empty() ? "/usr/local/bin:/usr/bin:/bin" : Env("PATH"));
  submit_env_ = {"PATH=" + path, "SLURM_CONF=" + options_.slurm_conf};
  for (const char* name : {"HOME", "USER", "LOGNAME", "LANG"}) {
    if (!Env(name).empty()) submit_env_.push_back(std::string(name) + "=" + Env(name));
  }
  query_env_ = submit_env_;
  query_env_.insert(query_env_.end(), {"LC_ALL=C", "TZ=UTC", "SLURM_TIME_FORMAT=%s"});
}

Result<ProcessResult> SlurmDriver::Run(std::vector<std::string> argv, bool query) const {
  ProcessSpec spec;
  spec.argv = std::move(argv);
  spec.env = query ? query_env_ : submit_env_;
  spec.timeout = options_.timeout;
  Result<ProcessResult> r = RunProcess(spec);
  if (!r.ok()) {
    return IoError("slurm site " + options_.slurm_conf + ": " + r.status().message());
  }
  return r;
}

std::vector<std::string> SlurmDriver::SbatchArgv(const DispatchRequest& r) const {
  std::vector<std::string> argv = {
      "sbatch",
      "--parsable",
      "--job-name=" + SiteJobName(r.job, r.run),
      "--comment=polycloud job=" + EscapeSiteJobId(r.job) + " run=" + std::to_string(r.run) +
          " pool=" + EscapeSiteJobId(r.pool),
  };
  if (!r.partition.empty()) argv.push_back("--partition=" + r.partition);
  if (r.gpus > 0) argv.push_back("--gres=gpu:" + std::to_string(r.gpus));
  if (options_.time_limit) {
    const int64_t minutes = std::max<int64_t>(1, (r.expected.seconds() + 59) / 60);
    argv.push_back("--time=" + std::to_string(minutes));
  }
  argv.push_back(options_.requeue ? "--requeue" : "--no-requeue");
  argv.push_back("--output=" + options_.output);
  if (!options_.workdir.empty()) argv.push_back("--chdir=" + options_.workdir);
  argv.insert(argv.end(), options_.sbatch_args.begin(), options_.sbatch_args.end());
  argv.push_back("--wrap=" +
                 (r.command.empty() ? "sleep " + std::to_string(r.expected.seconds()) : r.command));
  return argv;
}

Result<std::string> SlurmDriver::Submit(const DispatchRequest& request) {
  POLYCLOUD_RETURN_IF_ERROR(CheckDispatchRequest(request));
  POLYCLOUD_ASSIGN_OR_RETURN(ProcessResult r, Run(SbatchArgv(request), /*query=*/false));
  const std::string what =
      "slurm site " + options_.slurm_conf + ": sbatch of " + SiteJobName(request.job, request.run);
  if (r.exit_code != 0) {
    const bool refused =
        r.err.find("Batch job submission failed: ") != std::string::npos && !Unreachable(r.err);
    const std::string message = what + " failed (" + ExitOf(r) + "): " + Said(r);
    return refused ? FailedPrecondition(message) : IoError(message);
  }
  Result<std::string> id = ParseSbatchParsable(r.out);
  if (!id.ok()) return IoError(what + ": " + id.status().message());
  return id;
}

Status SlurmDriver::Cancel(std::string_view external_id) {
  if (!IsSlurmJobId(external_id)) {
    return InvalidArgument("slurm site " + options_.slurm_conf +
                           ": cancel: " + QuoteExcerpt(external_id) + " is not a Slurm job id");
  }
  POLYCLOUD_ASSIGN_OR_RETURN(ProcessResult r,
                             Run({"scancel", std::string(external_id)}, /*query=*/true));
  if (r.exit_code == 0) return Status::Ok();
  // The interface's contract: an unknown or finished run is already stopped.
  if (r.err.find("Invalid job id specified") != std::string::npos ||
      r.err.find("already completing or completed") != std::string::npos) {
    return Status::Ok();
  }
  return IoError("slurm site " + options_.slurm_conf + ": scancel " + std::string(external_id) +
                 " failed (" + ExitOf(r) + "): " + Said(r));
}

Result<std::vector<SiteJob>> SlurmDriver::History() const {
  if (options_.history == SlurmHistory::kNone) return std::vector<SiteJob>();
  std::vector<std::string> argv = {"sacct"};
  if (options_.history == SlurmHistory::kJobcomp) argv.push_back("-c");
  argv.insert(argv.end(),
              {"-n", "-X", "-P", "-S", "now-" + std::to_string(options_.history_window.seconds()),
               "-E", "now", "-o", kSacctFields});
  POLYCLOUD_ASSIGN_OR_RETURN(ProcessResult r, Run(std::move(argv), /*query=*/true));
  if (r.exit_code != 0) {
    return IoError("slurm site " + options_.slurm_conf + ": sacct failed (" + ExitOf(r) +
                   "): " + Said(r));
  }
  Result<std::vector<SiteJob>> jobs = ParseSacctOutput(r.out);
  if (!jobs.ok()) {
    return InvalidInput("slurm site " + options_.slurm_conf + ": " + jobs.status().message());
  }
  return jobs;
}

Result<std::vector<SiteJob>> SlurmDriver::List() {
  const std::string site = "slurm site " + options_.slurm_conf;
  if (options_.ping) {
    POLYCLOUD_ASSIGN_OR_RETURN(ProcessResult r, Run({"scontrol", "ping"}, /*query=*/true));
    if (r.exit_code != 0) {
      return IoError(site + ": the controller does not answer scontrol ping: " +
                     FirstLine(r.out.empty() ? r.err : r.out));
    }
  }
  POLYCLOUD_ASSIGN_OR_RETURN(
      ProcessResult r,
      Run({"squeue", "-h", "-a", "--me", "-t", "all", "-o", kSqueueFormat}, /*query=*/true));
  if (r.exit_code != 0) {
    return IoError(site + ": squeue failed (" + ExitOf(r) + "): " + Said(r));
  }
  Result<std::vector<SiteJob>> live = ParseSqueueOutput(r.out);
  if (!live.ok()) return InvalidInput(site + ": " + live.status().message());
  POLYCLOUD_ASSIGN_OR_RETURN(std::vector<SiteJob> past, History());

  // A job both know: squeue is the controller's present, the history may be a
  // run before a requeue. Keyed by name too: after a controller crash Slurm
  // may hand the same id to another job (docs/slurm.md).
  using Key = std::tuple<std::string, uint32_t, size_t, std::string>;
  const auto key = [](const SiteJob& j) {
    return Key(j.job, j.run, j.external_id.size(), j.external_id);
  };
  std::map<Key, SiteJob> merged;
  for (SiteJob& j : *live) merged.insert_or_assign(key(j), std::move(j));
  for (SiteJob& j : past) merged.try_emplace(key(j), std::move(j));
  std::vector<SiteJob> out;
  out.reserve(merged.size());
  for (auto& [k, j] : merged) out.push_back(std::move(j));
  return out;
}

}  // namespace polycloud::sites
