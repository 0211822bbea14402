#include "polycloud/sites/local.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "polycloud/sites/naming.h"
#include "polycloud/sites/subprocess.h"

namespace polycloud::sites {
namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : "";
}

std::optional<pid_t> ParsePid(std::string_view s) {
  if (s.empty() || s.size() > 9 || s[0] == '0') return std::nullopt;
  pid_t pid = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    pid = pid * 10 + (c - '0');
  }
  return pid;
}

// What /proc/<pid>/stat says of a process that may be ours.
struct ProcStat {
  char state = '?';
  pid_t pgrp = 0;
  uint64_t start_ticks = 0;
};

// The whole of a small /proc file, or "" when it cannot be read. With
// read(2), not a stream: a process that exits while its file is read makes
// read fail with ESRCH, which std::filebuf turns into an exception that
// istreambuf_iterator lets through (it took the broker down once).
std::string ReadProcFile(const std::string& path) {
  std::string text;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return text;
  char buf[4096];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      text.append(buf, static_cast<size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      if (n < 0) text.clear();  // a torn read is no answer
      break;
    }
  }
  ::close(fd);
  return text;
}

std::optional<ProcStat> ReadProcStat(pid_t pid) {
  const std::string text = ReadProcFile("/proc/" + std::to_string(pid) + "/stat");
  const size_t paren = text.rfind(')');  // the command name may hold spaces and parentheses
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream fields(text.substr(paren + 1));
  ProcStat st;
  std::string skip;
  fields >> st.state >> skip >> st.pgrp;  // fields 3, 4, 5
  for (int i = 6; i < 22; ++i) fields >> skip;
  fields >> st.start_ticks;  // field 22: start time in clock ticks after boot
  if (!fields) return std::nullopt;
  return st;
}

int64_t BootTime() {
  std::ifstream in("/proc/stat");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("btime ", 0) == 0) return std::atoll(line.c_str() + 6);
  }
  return 0;
}

bool AliveSince(pid_t pid, uint64_t start_ticks) {
  std::optional<ProcStat> st = ReadProcStat(pid);
  return st && st->state != 'Z' && st->start_ticks == start_ticks;
}

// NAME=value pairs of another process's environment (empty if unreadable).
std::vector<std::string> ReadEnviron(pid_t pid) {
  std::istringstream in(ReadProcFile("/proc/" + std::to_string(pid) + "/environ"));
  std::vector<std::string> vars;
  for (std::string v; std::getline(in, v, '\0');) vars.push_back(std::move(v));
  return vars;
}

// True when our unreaped child `pid` has exited (it stays a zombie, so its
// pid and process group cannot be reused until we reap it).
bool Exited(pid_t pid) {
  siginfo_t info{};
  if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
    return errno == ECHILD;  // reaped behind our back (SIGCHLD ignored): gone all the same
  }
  return info.si_pid == pid;
}

}  // namespace

LocalDriver::LocalDriver(LocalOptions options, const Clock& clock)
    : options_(std::move(options)), clock_(clock) {
  path_ = !options_.path.empty()
              ? options_.path
              : (Env("PATH").empty() ? "/usr/local/bin:/usr/bin:/bin" : Env("PATH"));
}

std::vector<std::string> LocalDriver::ChildEnv(const DispatchRequest& r) const {
  std::vector<std::string> env = {
      "PATH=" + path_,
      "POLYCLOUD_SITE=" + options_.site,
      "POLYCLOUD_SITE_JOB=" + SiteJobName(r.job, r.run),
      "POLYCLOUD_JOB=" + r.job,
      "POLYCLOUD_RUN=" + std::to_string(r.run),
      "POLYCLOUD_GPUS=" + std::to_string(r.gpus),
      "POLYCLOUD_POOL=" + r.pool,
  };
  for (const char* name : {"HOME", "USER", "LOGNAME", "LANG"}) {
    if (!Env(name).empty()) env.push_back(std::string(name) + "=" + Env(name));
  }
  return env;
}

Result<std::string> LocalDriver::Submit(const DispatchRequest& request) {
  POLYCLOUD_RETURN_IF_ERROR(CheckDispatchRequest(request));
  if (!adopted_ && options_.adopt) Adopt();
  ProcessSpec spec;
  if (request.command.empty()) {
    spec.argv = {"sleep", std::to_string(request.expected.seconds())};
  } else {
    spec.argv = {options_.shell, "-c", request.command};
  }
  spec.env = ChildEnv(request);
  spec.cwd = options_.workdir;
  const std::string name = SiteJobName(request.job, request.run);
  const std::string output =
      options_.output_dir.empty() ? "/dev/null" : options_.output_dir + "/" + name + ".out";
  Result<pid_t> pid = StartProcess(spec, output);
  if (!pid.ok()) {
    return IoError("local site " + options_.site + ": " + name + ": " + pid.status().message());
  }
  Run run;
  run.pid = *pid;
  run.job = request.job;
  run.run = request.run;
  run.started = clock_.Now();
  runs_.push_back(std::move(run));
  return std::to_string(*pid);
}

void LocalDriver::Finish(Run& run, int wait_status) {
  run.ended = clock_.Now();
  if (run.cancelled) {
    run.state = SiteJobState::kCancelled;
  } else if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0) {
    run.state = SiteJobState::kCompleted;
  } else {
    run.state = SiteJobState::kFailed;
  }
}

void LocalDriver::Poll(Run& run) {
  if (run.state != SiteJobState::kRunning || run.adopted) return;
  if (!Exited(run.pid)) return;
  // The run is over: whatever it left in its group goes too. The leader is
  // not reaped yet, so the group id still names only our processes.
  ::kill(-run.pid, SIGKILL);
  int status = 0;
  if (::waitpid(run.pid, &status, 0) != run.pid) status = W_EXITCODE(255, 0);
  Finish(run, status);
}

Status LocalDriver::Cancel(std::string_view external_id) {
  const std::optional<pid_t> pid = ParsePid(external_id);
  if (!pid) return Status::Ok();
  // Only a running run holds its pid; a finished one's may have been reused.
  auto it = std::find_if(runs_.begin(), runs_.end(), [&](const Run& r) {
    return r.pid == *pid && r.state == SiteJobState::kRunning;
  });
  if (it == runs_.end()) return Status::Ok();
  Run& run = *it;
  Poll(run);
  if (run.state != SiteJobState::kRunning) return Status::Ok();
  const auto gone = [&] {
    return run.adopted ? !AliveSince(run.pid, run.start_ticks) : Exited(run.pid);
  };
  run.cancelled = true;
  ::kill(-run.pid, SIGTERM);
  const auto deadline = SteadyClock::now() + options_.kill_grace;
  while (!gone() && SteadyClock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  if (!run.adopted) {
    ::kill(-run.pid, SIGKILL);  // leader unreaped: the group is still ours
    int status = 0;
    ::waitpid(run.pid, &status, 0);
    Finish(run, status);
    return Status::Ok();
  }
  if (AliveSince(run.pid, run.start_ticks)) ::kill(-run.pid, SIGKILL);
  run.state = SiteJobState::kCancelled;
  run.ended = clock_.Now();
  return Status::Ok();
}

void LocalDriver::Adopt() {
  adopted_ = true;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return;
  const std::string site_var = "POLYCLOUD_SITE=" + options_.site;
  const int64_t boot = BootTime();
  const int64_t hz = ::sysconf(_SC_CLK_TCK);
  std::vector<Run> found;
  while (const dirent* e = ::readdir(proc)) {
    const std::optional<pid_t> pid = ParsePid(e->d_name);
    if (!pid) continue;
    const std::optional<ProcStat> st = ReadProcStat(*pid);
    // Only a run's group leader: its children carry the same environment.
    if (!st || st->pgrp != *pid || st->state == 'Z') continue;
    const std::vector<std::string> env = ReadEnviron(*pid);
    if (std::find(env.begin(), env.end(), site_var) == env.end()) continue;
    for (const std::string& v : env) {
      if (v.rfind("POLYCLOUD_SITE_JOB=", 0) != 0) continue;
      Result<RunName> name = ParseSiteJobName(std::string_view(v).substr(19));
      if (!name.ok()) break;
      Run run;
      run.pid = *pid;
      run.job = std::move(name->job);
      run.run = name->run;
      run.adopted = true;
      run.start_ticks = st->start_ticks;
      run.started = Time::FromUnixSeconds(boot + static_cast<int64_t>(st->start_ticks) / hz);
      found.push_back(std::move(run));
      break;
    }
  }
  ::closedir(proc);
  std::sort(found.begin(), found.end(),
            [](const Run& a, const Run& b) { return a.start_ticks < b.start_ticks; });
  runs_.insert(runs_.begin(), found.begin(), found.end());
}

Result<std::vector<SiteJob>> LocalDriver::List() {
  if (!adopted_ && options_.adopt) Adopt();
  for (Run& run : runs_) Poll(run);
  // An adopted run that ended is not ours to reap: its outcome is unknown.
  std::erase_if(runs_, [](const Run& r) {
    return r.adopted && r.state == SiteJobState::kRunning && !AliveSince(r.pid, r.start_ticks);
  });
  std::vector<SiteJob> jobs;
  jobs.reserve(runs_.size());
  for (const Run& r : runs_) {
    SiteJob j;
    j.external_id = std::to_string(r.pid);
    j.job = r.job;
    j.run = r.run;
    j.state = r.state;
    j.started = r.started;
    j.ended = r.ended;
    jobs.push_back(std::move(j));
  }
  return jobs;
}

int32_t LocalDriver::running() const {
  return static_cast<int32_t>(std::count_if(
      runs_.begin(), runs_.end(), [](const Run& r) { return r.state == SiteJobState::kRunning; }));
}

}  // namespace polycloud::sites
