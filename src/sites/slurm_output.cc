#include "polycloud/sites/slurm_output.h"

#include <array>
#include <optional>

#include "polycloud/base/text.h"
#include "polycloud/sites/naming.h"

namespace polycloud::sites {
namespace {

struct StateName {
  std::string_view slurm;
  SiteJobState ours;
};

// squeue(1) "JOB STATE CODES" of Slurm 22.05, every one of them.
constexpr std::array<StateName, 24> kStates = {{
    {"PENDING", SiteJobState::kPending},
    {"CONFIGURING", SiteJobState::kPending},  // allocated, nodes not ready: nothing runs yet
    {"REQUEUED", SiteJobState::kPending},
    {"REQUEUE_FED", SiteJobState::kPending},
    {"REQUEUE_HOLD", SiteJobState::kPending},
    {"RESV_DEL_HOLD", SiteJobState::kPending},
    {"SPECIAL_EXIT", SiteJobState::kPending},  // requeued and held
    {"RUNNING", SiteJobState::kRunning},
    {"COMPLETING", SiteJobState::kRunning},  // final state not decided until epilogs end
    {"SUSPENDED", SiteJobState::kRunning},   // holds its GPUs
    {"STOPPED", SiteJobState::kRunning},
    {"RESIZING", SiteJobState::kRunning},
    {"SIGNALING", SiteJobState::kRunning},
    {"STAGE_OUT", SiteJobState::kRunning},
    {"COMPLETED", SiteJobState::kCompleted},
    {"FAILED", SiteJobState::kFailed},
    {"TIMEOUT", SiteJobState::kFailed},
    {"NODE_FAIL", SiteJobState::kFailed},
    {"OUT_OF_MEMORY", SiteJobState::kFailed},
    {"BOOT_FAIL", SiteJobState::kFailed},
    {"DEADLINE", SiteJobState::kFailed},
    {"PREEMPTED", SiteJobState::kFailed},  // ended by the site, not by us: the run is lost
    {"CANCELLED", SiteJobState::kCancelled},
    {"REVOKED", SiteJobState::kCancelled},  // federation: runs on a sibling instead
}};

constexpr int64_t kMaxUnixSeconds = int64_t{1} << 40;

bool IsDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// std::nullopt when the tool says the time is not known.
Result<std::optional<Time>> ParseSlurmTime(std::string_view s) {
  if (s == "N/A" || s == "NONE" || s == "None" || s == "Unknown" || s == "0") {
    return std::optional<Time>();
  }
  if (!IsDigits(s) || s.size() > 13 || (s.size() > 1 && s[0] == '0')) {
    return InvalidInput("expected Unix seconds (SLURM_TIME_FORMAT=%s) or N/A, found " +
                        QuoteExcerpt(s));
  }
  int64_t v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  if (v > kMaxUnixSeconds) return InvalidInput("time " + QuoteExcerpt(s) + " is out of range");
  return std::optional<Time>(Time::FromUnixSeconds(v));
}

// One line: id|state|start|end|name, the name being the rest of the line.
// Returns nullopt for a job that is not ours.
Result<std::optional<SiteJob>> ParseLine(std::string_view line) {
  std::array<std::string_view, 4> f;
  size_t pos = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    const size_t bar = line.find('|', pos);
    if (bar == std::string_view::npos) {
      return InvalidInput("expected 5 '|'-separated fields (id|state|start|end|name), found " +
                          std::to_string(i + 1) + ": " + QuoteExcerpt(line));
    }
    f[i] = line.substr(pos, bar - pos);
    pos = bar + 1;
  }
  const std::string_view name = line.substr(pos);
  Result<RunName> run = ParseSiteJobName(name);
  if (!run.ok()) return std::optional<SiteJob>();
  if (!IsSlurmJobId(f[0])) {
    return InvalidInput("expected a Slurm job id, found " + QuoteExcerpt(f[0]));
  }
  POLYCLOUD_ASSIGN_OR_RETURN(SiteJobState state, ParseSlurmJobState(f[1]));
  POLYCLOUD_ASSIGN_OR_RETURN(std::optional<Time> start, ParseSlurmTime(f[2]));
  POLYCLOUD_ASSIGN_OR_RETURN(std::optional<Time> end, ParseSlurmTime(f[3]));
  SiteJob job;
  job.external_id = std::string(f[0]);
  job.job = std::move(run->job);
  job.run = run->run;
  job.state = state;
  if (state != SiteJobState::kPending && start) job.started = *start;
  if (IsFinal(state) && end) job.ended = *end;
  return std::optional<SiteJob>(std::move(job));
}

Result<std::vector<SiteJob>> ParseLines(std::string_view text, std::string_view tool) {
  std::vector<SiteJob> jobs;
  size_t pos = 0;
  int64_t line_no = 0;
  while (pos < text.size()) {
    ++line_no;
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    const std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    auto parsed = ParseLine(line);
    if (!parsed.ok()) {
      return InvalidInput(std::string(tool) + " output line " + std::to_string(line_no) + ": " +
                          parsed.status().message());
    }
    if (*parsed) jobs.push_back(std::move(**parsed));
  }
  return jobs;
}

}  // namespace

bool IsSlurmJobId(std::string_view s) {
  if (s.size() > 40) return false;
  const size_t sep = s.find_first_of("_+");
  if (sep == std::string_view::npos) return IsDigits(s);
  return IsDigits(s.substr(0, sep)) && IsDigits(s.substr(sep + 1));
}

Result<SiteJobState> ParseSlurmJobState(std::string_view text) {
  std::string_view s = text;
  // sacct writes who cancelled: "CANCELLED by 1000".
  if (const size_t by = s.find(" by "); by != std::string_view::npos) {
    if (!IsDigits(s.substr(by + 4))) {
      return InvalidInput("expected a Slurm job state, found " + QuoteExcerpt(text));
    }
    s = s.substr(0, by);
  }
  for (const StateName& n : kStates) {
    if (n.slurm == s) return n.ours;
  }
  return InvalidInput("expected a Slurm job state (PENDING, RUNNING, COMPLETED, ...), found " +
                      QuoteExcerpt(text));
}

Result<std::vector<SiteJob>> ParseSqueueOutput(std::string_view text) {
  return ParseLines(text, "squeue");
}

Result<std::vector<SiteJob>> ParseSacctOutput(std::string_view text) {
  return ParseLines(text, "sacct");
}

Result<std::string> ParseSbatchParsable(std::string_view text) {
  std::string_view s = text;
  if (!s.empty() && s.back() == '\n') s.remove_suffix(1);
  const size_t semi = s.find(';');
  const std::string_view id = s.substr(0, semi);
  const bool cluster_ok =
      semi == std::string_view::npos ||
      (semi + 1 < s.size() && s.find_first_of("; \t\n", semi + 1) == std::string_view::npos);
  if (!IsDigits(id) || id.size() > 18 || !cluster_ok) {
    return InvalidInput(
        "sbatch --parsable: expected \"<job id>\" or \"<job id>;<cluster>\", found " +
        QuoteExcerpt(text));
  }
  return std::string(id);
}

}  // namespace polycloud::sites
