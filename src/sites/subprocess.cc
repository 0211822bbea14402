#include "polycloud/sites/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "polycloud/base/text.h"

namespace polycloud::sites {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::string Errno(int e) { return std::strerror(e); }

std::string PathOf(const std::vector<std::string>& env) {
  for (const std::string& e : env) {
    if (e.rfind("PATH=", 0) == 0) return e.substr(5);
  }
  const char* p = std::getenv("PATH");
  return p != nullptr ? p : "/usr/bin:/bin";
}

// A file descriptor closed when it goes out of scope.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { Close(); }
  int get() const { return fd_; }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int* out() { return &fd_; }

 private:
  int fd_ = -1;
};

// posix_spawn's attributes and file actions, destroyed on every path.
class SpawnSetup {
 public:
  SpawnSetup() {
    posix_spawnattr_init(&attr_);
    posix_spawn_file_actions_init(&actions_);
    // Own process group, so a timeout or cancel can kill the child's children.
    short flags = POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    posix_spawnattr_setflags(&attr_, flags);
    posix_spawnattr_setpgroup(&attr_, 0);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr_, &none);
    // A caller that ignores SIGPIPE or SIGCHLD would otherwise pass that on
    // to the job through exec.
    posix_spawnattr_setsigdefault(&attr_, &all);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions_);
    posix_spawnattr_destroy(&attr_);
  }
  posix_spawn_file_actions_t* actions() { return &actions_; }
  const posix_spawnattr_t* attr() const { return &attr_; }

 private:
  posix_spawnattr_t attr_;
  posix_spawn_file_actions_t actions_;
};

Result<pid_t> Spawn(const ProcessSpec& spec, SpawnSetup& setup) {
  if (spec.argv.empty()) return InvalidArgument("no program to run");
  POLYCLOUD_ASSIGN_OR_RETURN(std::string program, FindProgram(spec.argv[0], PathOf(spec.env)));
  posix_spawn_file_actions_t* fa = setup.actions();
  posix_spawn_file_actions_addopen(fa, 0, "/dev/null", O_RDONLY, 0);
  // Nothing the caller holds open (sockets, the store's files) reaches the child.
  posix_spawn_file_actions_addclosefrom_np(fa, 3);
  if (!spec.cwd.empty()) posix_spawn_file_actions_addchdir_np(fa, spec.cwd.c_str());
  std::vector<char*> argv, envp;
  for (const std::string& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const std::string& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, program.c_str(), fa, setup.attr(), argv.data(), envp.data());
  if (rc != 0) return IoError("cannot start " + program + ": " + Errno(rc));
  return pid;
}

void KillGroup(pid_t pid) {
  ::kill(-pid, SIGKILL);
  ::kill(pid, SIGKILL);  // in case it left its group
}

// Waits for `pid` until `deadline`; true when it was reaped into *status.
bool WaitUntil(pid_t pid, Clock::time_point deadline, int* status) {
  milliseconds nap(1);
  for (;;) {
    const pid_t r = ::waitpid(pid, status, WNOHANG);
    if (r == pid) return true;
    if (r < 0 && errno != EINTR) return true;  // not ours any more: nothing to wait for
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(nap);
    if (nap < milliseconds(10)) nap *= 2;
  }
}

}  // namespace

Result<std::string> FindProgram(const std::string& name, const std::string& path) {
  const auto runnable = [](const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0;
  };
  if (name.empty()) return IoError("empty program name");
  if (name.find('/') != std::string::npos) {
    if (runnable(name)) return name;
    return IoError(name + ": not an executable file");
  }
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t colon = path.find(':', pos);
    if (colon == std::string::npos) colon = path.size();
    const std::string dir = path.substr(pos, colon - pos);
    pos = colon + 1;
    if (dir.empty()) continue;  // no implicit current directory
    std::string candidate = dir;
    candidate += '/';
    candidate += name;
    if (runnable(candidate)) return candidate;
  }
  return IoError(name + ": not found in PATH=" + path);
}

std::string FirstLine(const std::string& text) {
  return Excerpt(std::string_view(text).substr(0, text.find('\n')), 200);
}

Result<ProcessResult> RunProcess(const ProcessSpec& spec) {
  const Clock::time_point start = Clock::now();
  const Clock::time_point deadline = start + spec.timeout;
  Fd out_r, out_w, err_r, err_w;
  {
    std::array<int, 2> o{}, e{};
    if (::pipe2(o.data(), O_CLOEXEC) != 0) return IoError("pipe: " + Errno(errno));
    *out_r.out() = o[0];
    *out_w.out() = o[1];
    if (::pipe2(e.data(), O_CLOEXEC) != 0) return IoError("pipe: " + Errno(errno));
    *err_r.out() = e[0];
    *err_w.out() = e[1];
  }
  SpawnSetup setup;
  posix_spawn_file_actions_adddup2(setup.actions(), out_w.get(), 1);
  posix_spawn_file_actions_adddup2(setup.actions(), err_w.get(), 2);
  POLYCLOUD_ASSIGN_OR_RETURN(pid_t pid, Spawn(spec, setup));
  out_w.Close();
  err_w.Close();

  ProcessResult result;
  std::string* sinks[2] = {&result.out, &result.err};
  Fd* sources[2] = {&out_r, &err_r};
  std::string failure;
  while (out_r.get() >= 0 || err_r.get() >= 0) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      failure = "did not finish within " + std::to_string(spec.timeout.count()) + " ms";
      break;
    }
    std::array<pollfd, 2> fds{};
    for (int i = 0; i < 2; ++i) fds[i] = {sources[i]->get(), POLLIN, 0};
    const int n = ::poll(fds.data(), fds.size(), static_cast<int>(left.count()) + 1);
    if (n < 0 && errno != EINTR) {
      failure = "poll: " + Errno(errno);
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buf[65536];
      const ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
      if (got > 0) {
        sinks[i]->append(buf, static_cast<size_t>(got));
        if (sinks[i]->size() > spec.max_output) {
          failure = "wrote more than " + std::to_string(spec.max_output) + " bytes";
        }
      } else if (got == 0 || errno != EINTR) {
        sources[i]->Close();
      }
    }
    if (!failure.empty()) break;
  }
  int status = 0;
  if (failure.empty() && !WaitUntil(pid, deadline, &status)) {
    failure = "did not exit within " + std::to_string(spec.timeout.count()) + " ms";
  }
  if (!failure.empty()) {
    KillGroup(pid);
    ::waitpid(pid, &status, 0);
    return IoError(spec.argv[0] + " " + failure + "; killed");
  }
  result.elapsed = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.term_signal = WTERMSIG(status);
  }
  return result;
}

Result<pid_t> StartProcess(const ProcessSpec& spec, const std::string& output_path) {
  SpawnSetup setup;
  posix_spawn_file_actions_addopen(setup.actions(), 1, output_path.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(setup.actions(), 1, 2);
  return Spawn(spec, setup);
}

}  // namespace polycloud::sites
