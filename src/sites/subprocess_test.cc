#include "polycloud/sites/subprocess.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <thread>

namespace polycloud::sites {
namespace {

using std::chrono::milliseconds;

ProcessSpec Sh(const std::string& script, milliseconds timeout = milliseconds(10'000)) {
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", script};
  spec.env = {"PATH=/usr/bin:/bin", "ONLY=this"};
  spec.timeout = timeout;
  return spec;
}

// Running, not a zombie (a container's init may be slow to reap orphans).
bool Running(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t paren = text.rfind(')');
  return paren != std::string::npos && paren + 2 < text.size() && text[paren + 2] != 'Z';
}

TEST(RunProcessTest, CapturesOutputAndExitCode) {
  Result<ProcessResult> r = RunProcess(Sh("echo out; echo err >&2; exit 3"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->term_signal, 0);
  EXPECT_EQ(r->out, "out\n");
  EXPECT_EQ(r->err, "err\n");
}

TEST(RunProcessTest, PassesExactlyTheEnvironmentGiven) {
  ::setenv("POLYCLOUD_SECRET_FOR_TEST", "leak", 1);
  Result<ProcessResult> r = RunProcess(Sh("env | sort"));
  ::unsetenv("POLYCLOUD_SECRET_FOR_TEST");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->out.find("POLYCLOUD_SECRET_FOR_TEST"), std::string::npos) << r->out;
  EXPECT_NE(r->out.find("ONLY=this"), std::string::npos) << r->out;
}

TEST(RunProcessTest, ChildSeesNoInheritedDescriptorsAndEmptyStdin) {
  const int leak = ::fcntl(1, F_DUPFD, 100);  // not close-on-exec
  ASSERT_GE(leak, 100);
  Result<ProcessResult> r = RunProcess(Sh("ls /proc/self/fd | sort -n | tr '\\n' ' '; cat"));
  ::close(leak);
  ASSERT_TRUE(r.ok());
  // 0, 1, 2, and the fd `ls` opens for the directory it lists.
  EXPECT_EQ(r->out.substr(0, 6), "0 1 2 ") << r->out;
  EXPECT_EQ(r->out.find(" " + std::to_string(leak) + " "), std::string::npos) << r->out;
}

TEST(RunProcessTest, ReportsDeathBySignal) {
  Result<ProcessResult> r = RunProcess(Sh("kill -TERM $$"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, -1);
  EXPECT_EQ(r->term_signal, SIGTERM);
}

TEST(RunProcessTest, KillsTheWholeGroupAtTheTimeout) {
  const auto start = std::chrono::steady_clock::now();
  // The grandchild writes its pid, then both would sleep far past the timeout.
  const std::string pidfile =
      ::testing::TempDir() + "/grandchild-" + std::to_string(::getpid()) + ".pid";
  Result<ProcessResult> r =
      RunProcess(Sh("sleep 100 & echo $! > " + pidfile + "; sleep 100", milliseconds(300)));
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIoError);
  EXPECT_NE(r.status().message().find("did not finish within 300 ms"), std::string::npos)
      << r.status().message();
  EXPECT_LT(took, milliseconds(3000));
  pid_t grandchild = 0;
  std::ifstream(pidfile) >> grandchild;
  ASSERT_GT(grandchild, 0);
  for (int i = 0; i < 100 && Running(grandchild); ++i) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_FALSE(Running(grandchild));
  std::remove(pidfile.c_str());
}

TEST(RunProcessTest, TimesOutAChildThatClosesItsOutputButRunsOn) {
  Result<ProcessResult> r = RunProcess(Sh("exec >&- 2>&-; sleep 100", milliseconds(300)));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIoError);
}

TEST(RunProcessTest, BoundsTheOutput) {
  ProcessSpec spec = Sh("head -c 100000 /dev/zero");
  spec.max_output = 1000;
  Result<ProcessResult> r = RunProcess(spec);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("more than 1000 bytes"), std::string::npos);
}

TEST(RunProcessTest, MissingProgramIsAnIoError) {
  ProcessSpec spec;
  spec.argv = {"polycloud-no-such-tool"};
  spec.env = {"PATH=/usr/bin:/bin"};
  Result<ProcessResult> r = RunProcess(spec);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIoError);
  EXPECT_NE(r.status().message().find("not found in PATH=/usr/bin:/bin"), std::string::npos);
}

TEST(RunProcessTest, RunsInTheGivenDirectory) {
  ProcessSpec spec = Sh("pwd");
  spec.cwd = "/";
  Result<ProcessResult> r = RunProcess(spec);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->out, "/\n");
}

TEST(FindProgramTest, SearchesPathAndChecksExplicitPaths) {
  EXPECT_EQ(*FindProgram("sh", "/nonexistent::/bin"), "/bin/sh");
  EXPECT_FALSE(FindProgram("/etc/passwd", "").ok());
  EXPECT_FALSE(FindProgram("", "/bin").ok());
}

TEST(StartProcessTest, StartsALeaderOfItsOwnGroupWritingToAFile) {
  ProcessSpec spec = Sh("echo started; echo oops >&2");
  const std::string out =
      ::testing::TempDir() + "/start-process-" + std::to_string(::getpid()) + ".out";
  std::remove(out.c_str());
  Result<pid_t> pid = StartProcess(spec, out);
  ASSERT_TRUE(pid.ok()) << pid.status().message();
  EXPECT_EQ(::getpgid(*pid), *pid);
  int status = 0;
  ASSERT_EQ(::waitpid(*pid, &status, 0), *pid);
  std::ifstream in(out);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "started\noops\n");
  std::remove(out.c_str());
}

}  // namespace
}  // namespace polycloud::sites
