#include "polycloud/sites/local.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "polycloud/sites/naming.h"
#include "src/sites/test_requests.h"

namespace polycloud::sites {
namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

// Each test gets a site tag no other test (or test process running beside)
// uses, so adoption finds only its own runs, and a scratch directory for the
// runs' output, removed afterwards.
class LocalDriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    dir_ = ::testing::TempDir() + "/local-driver-" + name + "-" + std::to_string(::getpid());
    ASSERT_EQ(::mkdir(dir_.c_str(), 0755), 0) << dir_;
    options_.site = "test-" + name + "-" + std::to_string(::getpid());
    options_.output_dir = dir_;
  }
  void TearDown() override {
    if (std::system(("rm -rf '" + dir_ + "'").c_str()) != 0) ADD_FAILURE() << "rm " << dir_;
  }
  LocalOptions Options() const { return options_; }

  std::string dir_;
  LocalOptions options_;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

bool Running(pid_t pid) {
  const std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  const size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
}

// A process's environment shows in /proc only once exec has laid out its
// stack, which can be just after posix_spawn returns; a broker restarting
// later never sees that instant, a test adopting at once can.
void WaitForEnviron(const std::string& pid) {
  for (int i = 0; i < 500; ++i) {
    if (ReadFile("/proc/" + pid + "/environ").find("POLYCLOUD_SITE_JOB=") != std::string::npos) {
      return;
    }
    std::this_thread::sleep_for(milliseconds(2));
  }
  ADD_FAILURE() << "no POLYCLOUD_SITE_JOB in the environment of " << pid;
}

// Polls List until `id` is in a final state or 10 s pass.
SiteJob WaitForEnd(LocalDriver& site, const std::string& id) {
  const auto deadline = SteadyClock::now() + std::chrono::seconds(10);
  for (;;) {
    Result<std::vector<SiteJob>> jobs = site.List();
    EXPECT_TRUE(jobs.ok());
    for (const SiteJob& j : *jobs) {
      if (j.external_id == id && (IsFinal(j.state) || SteadyClock::now() > deadline)) return j;
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
}

TEST_F(LocalDriverTest, SleepsForTheExpectedTimeWhenThereIsNoCommand) {
  WallClock clock;
  LocalDriver site(Options(), clock);
  const Time before = clock.Now();
  Result<std::string> id = site.Submit(Request("j1", 2, Gpus(4, Duration::Seconds(1))));
  ASSERT_TRUE(id.ok()) << id.status().message();
  Result<std::vector<SiteJob>> now = site.List();
  ASSERT_TRUE(now.ok());
  ASSERT_EQ(now->size(), 1u);
  EXPECT_EQ((*now)[0].state, SiteJobState::kRunning);
  EXPECT_EQ((*now)[0].job, "j1");
  EXPECT_EQ((*now)[0].run, 2u);
  EXPECT_EQ(site.running(), 1);
  const SiteJob done = WaitForEnd(site, *id);
  EXPECT_EQ(done.state, SiteJobState::kCompleted);
  EXPECT_GE(done.started, before);
  const int64_t took = (done.ended - done.started).seconds();
  EXPECT_GE(took, 1);
  EXPECT_LE(took, 3);
  EXPECT_EQ(site.running(), 0);
}

TEST_F(LocalDriverTest, ExitStatusDecidesCompletedOrFailed) {
  WallClock clock;
  LocalDriver site(Options(), clock);
  Result<std::string> ok = site.Submit(Request("ok", 1, Command("exit 0")));
  Result<std::string> bad = site.Submit(Request("bad", 1, Command("exit 3")));
  Result<std::string> killed = site.Submit(Request("sig", 1, Command("kill -9 $$")));
  ASSERT_TRUE(ok.ok() && bad.ok() && killed.ok());
  EXPECT_EQ(WaitForEnd(site, *ok).state, SiteJobState::kCompleted);
  EXPECT_EQ(WaitForEnd(site, *bad).state, SiteJobState::kFailed);
  EXPECT_EQ(WaitForEnd(site, *killed).state, SiteJobState::kFailed);
}

TEST_F(LocalDriverTest, RunSeesItsNameGpusAndNothingOfTheBrokersEnvironment) {
  WallClock clock;
  LocalOptions o = Options();
  LocalDriver site(o, clock);
  ::setenv("POLYCLOUD_TOKEN", "secret", 1);
  Result<std::string> id = site.Submit(Request("env job", 7, [] {
    RequestSpec s = Command("env | sort", 3);
    s.pool = "p1";
    return s;
  }()));
  ::unsetenv("POLYCLOUD_TOKEN");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(WaitForEnd(site, *id).state, SiteJobState::kCompleted);
  const std::string out = ReadFile(o.output_dir + "/" + SiteJobName("env job", 7) + ".out");
  EXPECT_NE(out.find("POLYCLOUD_SITE_JOB=pc-env%20job-r7\n"), std::string::npos) << out;
  EXPECT_NE(out.find("POLYCLOUD_JOB=env job\n"), std::string::npos);
  EXPECT_NE(out.find("POLYCLOUD_GPUS=3\n"), std::string::npos);
  EXPECT_NE(out.find("POLYCLOUD_POOL=p1\n"), std::string::npos);
  EXPECT_NE(out.find("POLYCLOUD_SITE=" + o.site + "\n"), std::string::npos);
  EXPECT_EQ(out.find("POLYCLOUD_TOKEN"), std::string::npos);
}

TEST_F(LocalDriverTest, CancelKillsTheWholeProcessGroup) {
  WallClock clock;
  LocalDriver site(Options(), clock);
  const std::string pidfile = dir_ + "/background.pid";
  Result<std::string> id =
      site.Submit(Request("c", 1, Command("sleep 100 & echo $! > " + pidfile + "; sleep 100")));
  ASSERT_TRUE(id.ok());
  pid_t background = 0;
  for (int i = 0; i < 200 && background == 0; ++i) {
    std::this_thread::sleep_for(milliseconds(10));
    std::ifstream(pidfile) >> background;
  }
  ASSERT_GT(background, 0);
  ASSERT_TRUE(Running(background));
  const auto start = SteadyClock::now();
  ASSERT_TRUE(site.Cancel(*id).ok());
  EXPECT_LT(SteadyClock::now() - start, milliseconds(1500));  // TERM was enough
  for (int i = 0; i < 200 && Running(background); ++i) std::this_thread::sleep_for(milliseconds(5));
  EXPECT_FALSE(Running(background));
  Result<std::vector<SiteJob>> jobs = site.List();
  ASSERT_TRUE(jobs.ok());
  EXPECT_EQ((*jobs)[0].state, SiteJobState::kCancelled);
  EXPECT_GE((*jobs)[0].ended, (*jobs)[0].started);
  EXPECT_TRUE(site.Cancel(*id).ok());  // again: already finished
}

TEST_F(LocalDriverTest, CancelEscalatesToKillAfterTheGrace) {
  WallClock clock;
  LocalOptions o = Options();
  o.kill_grace = milliseconds(300);
  LocalDriver site(o, clock);
  Result<std::string> id =
      site.Submit(Request("stubborn", 1, Command("trap '' TERM; sleep 100; sleep 100")));
  ASSERT_TRUE(id.ok());
  std::this_thread::sleep_for(milliseconds(100));  // let the trap be set
  const auto start = SteadyClock::now();
  ASSERT_TRUE(site.Cancel(*id).ok());
  const auto took = SteadyClock::now() - start;
  EXPECT_GE(took, milliseconds(300));
  EXPECT_LT(took, milliseconds(3000));
  EXPECT_EQ(WaitForEnd(site, *id).state, SiteJobState::kCancelled);
}

TEST_F(LocalDriverTest, CancelOfUnknownOrMalformedIdsIsOk) {
  WallClock clock;
  LocalDriver site(Options(), clock);
  EXPECT_TRUE(site.Cancel("1").ok());
  EXPECT_TRUE(site.Cancel("not-a-pid").ok());
  EXPECT_TRUE(site.Cancel("").ok());
}

TEST_F(LocalDriverTest, UnstartableCommandIsAnIoError) {
  WallClock clock;
  LocalOptions o = Options();
  o.shell = "/nonexistent/sh";
  LocalDriver site(o, clock);
  Result<std::string> id = site.Submit(Request("x", 1, Command("true")));
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), StatusCode::kIoError);
  EXPECT_EQ(site.Submit(Request("", 1)).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(LocalDriverTest, ADriverAfterARestartFindsTheSitesRunningRuns) {
  WallClock clock;
  const LocalOptions o = Options();
  std::string id;
  {
    LocalDriver before(o, clock);
    Result<std::string> r = before.Submit(Request("survivor", 4, Command("sleep 100")));
    ASSERT_TRUE(r.ok());
    id = *r;
    WaitForEnviron(id);
  }  // the broker "crashes": the run goes on
  LocalOptions other = o;
  other.site += "-other";
  LocalDriver stranger(other, clock);
  ASSERT_TRUE(stranger.List().ok());
  EXPECT_TRUE(stranger.List()->empty()) << "adopted another site's run";

  LocalDriver after(o, clock);
  Result<std::vector<SiteJob>> jobs = after.List();
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs->size(), 1u);
  EXPECT_EQ((*jobs)[0].external_id, id);
  EXPECT_EQ((*jobs)[0].job, "survivor");
  EXPECT_EQ((*jobs)[0].run, 4u);
  EXPECT_EQ((*jobs)[0].state, SiteJobState::kRunning);
  EXPECT_LE(std::abs(((*jobs)[0].started - clock.Now()).seconds()), 2);  // from /proc
  ASSERT_TRUE(after.Cancel(id).ok());
  jobs = after.List();
  ASSERT_EQ(jobs->size(), 1u);
  EXPECT_EQ((*jobs)[0].state, SiteJobState::kCancelled);
  const pid_t pid = std::stoi(id);
  EXPECT_FALSE(Running(pid));
  ::waitpid(pid, nullptr, 0);  // this test process is still its parent
}

TEST_F(LocalDriverTest, AnAdoptedRunThatEndsDropsOutOfList) {
  WallClock clock;
  const LocalOptions o = Options();
  std::string id;
  {
    LocalDriver before(o, clock);
    id = *before.Submit(Request("short", 1, Command("sleep 1")));
    WaitForEnviron(id);
  }
  LocalDriver after(o, clock);
  ASSERT_EQ(after.List()->size(), 1u);
  ::waitpid(std::stoi(id), nullptr, 0);  // ends; its parent (this test) reaps it
  EXPECT_TRUE(after.List()->empty());
}

}  // namespace
}  // namespace polycloud::sites
