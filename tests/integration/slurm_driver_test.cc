// The slurm site driver against two real Slurm 22.05 clusters on loopback
// (scripts/slurm-clusters.sh, docs/slurm.md), started by this test in a fresh
// directory on free ports: a submission reaches the cluster with the right
// gres, name and comment, is seen in List and completes with times; another
// is cancelled; refusals are told apart from outages; a hung controller
// costs MessageTimeout and its timed-out submission still becomes a job; and
// with one cluster's slurmctld killed, Submit and List on it return kIoError within a bound
// while the other cluster works on. CTest: slurm_driver (label slurm).
//
// Needs root and the Debian Slurm packages (scripts/install-deps.sh test);
// without them, or when the clusters cannot be started, it skips and says why.
//   build/release/tests/polycloud_sites_slurm_test
//   KEEP=1 build/release/tests/polycloud_sites_slurm_test   # keep the directory (logs)
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <thread>

#include "polycloud/base/clock.h"
#include "polycloud/sites/factory.h"
#include "polycloud/sites/naming.h"
#include "polycloud/sites/subprocess.h"
#include "src/sites/test_requests.h"

#ifndef POLYCLOUD_SOURCE_DIR
#error "POLYCLOUD_SOURCE_DIR must name the source tree (scripts/slurm-clusters.sh)"
#endif

namespace polycloud::sites {
namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

const std::string kHarness = std::string(POLYCLOUD_SOURCE_DIR) + "/scripts/slurm-clusters.sh";
constexpr char kPath[] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
// MessageTimeout=3 in the harness's slurm.conf: a client of a dead controller
// gives up after about 2 s (docs/slurm.md). The bound leaves room for a loaded box.
constexpr milliseconds kOutageBound(8'000);

Result<ProcessResult> Shell(const std::vector<std::string>& argv, milliseconds timeout,
                            const std::string& slurm_conf = "") {
  ProcessSpec spec;
  spec.argv = argv;
  spec.env = {std::string("PATH=") + kPath};
  if (!slurm_conf.empty()) spec.env.push_back("SLURM_CONF=" + slurm_conf);
  spec.timeout = timeout;
  return RunProcess(spec);
}

bool PortFree(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return free;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void StopClusters(const std::string& dir) {
  Result<ProcessResult> r = Shell({"bash", kHarness, "stop", "--dir", dir}, milliseconds(30'000));
  if (!r.ok() || r->exit_code != 0) {
    std::fprintf(stderr, "stopping the clusters in %s failed: %s\n", dir.c_str(),
                 r.ok() ? r->err.c_str() : r.status().message().c_str());
  }
}

// The clusters, shared by the tests of the suite (about a second to start).
struct Clusters {
  std::string dir;
  std::string skip_reason;
  std::unique_ptr<SiteDriver> alpha, beta;
  WallClock clock;

  std::string Conf(const std::string& c) const { return dir + "/" + c + "/slurm.conf"; }
};
Clusters* clusters = nullptr;

std::string StartClusters(Clusters& c) {
  if (::geteuid() != 0) return "the Slurm clusters need root (slurmd runs jobs as root)";
  for (const char* tool :
       {"sbatch", "squeue", "sacct", "scancel", "scontrol", "slurmctld", "slurmd", "munged"}) {
    if (!FindProgram(tool, kPath).ok()) {
      return std::string(tool) + " is not installed; run scripts/install-deps.sh test";
    }
  }
  char tmpl[] = "/tmp/polycloud-slurm-driver-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return "mkdtemp failed";
  c.dir = tmpl;
  // Free ports above the harness test's range (20000-32000), so both can run at once.
  std::mt19937 rng(std::random_device{}());
  std::string last;
  for (int attempt = 0; attempt < 5; ++attempt) {
    const int base = 33000 + 10 * static_cast<int>(rng() % 700);
    if (!PortFree(base) || !PortFree(base + 1) || !PortFree(base + 10) || !PortFree(base + 11)) {
      continue;
    }
    Result<ProcessResult> r = Shell({"bash", kHarness, "start", "--dir", c.dir, "--clusters",
                                     "alpha,beta", "--port-base", std::to_string(base)},
                                    milliseconds(90'000));
    if (r.ok() && r->exit_code == 0) return "";
    last = r.ok() ? r->err : r.status().message();
    StopClusters(c.dir);
  }
  return "the Slurm clusters did not start: " + last;
}

class SlurmDriverTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    clusters = new Clusters;
    clusters->skip_reason = StartClusters(*clusters);
    if (!clusters->skip_reason.empty()) return;
    for (const char* name : {"alpha", "beta"}) {
      SiteDriverConfig config;
      config.site = name;
      config.backend = "slurm";
      config.options = {{"slurm_conf", clusters->Conf(name)},
                        {"history", "jobcomp"},
                        {"timeout", "20s"},
                        {"output", clusters->dir + "/%x-%j.out"},
                        {"workdir", clusters->dir}};
      auto d = MakeSiteDriver(config, clusters->clock);
      if (!d.ok()) {
        clusters->skip_reason = d.status().message();
        return;
      }
      (std::string(name) == "alpha" ? clusters->alpha : clusters->beta) = std::move(*d);
    }
  }

  static void TearDownTestSuite() {
    if (!clusters->dir.empty()) {
      StopClusters(clusters->dir);
      if (std::getenv("KEEP") == nullptr && !::testing::UnitTest::GetInstance()->Failed()) {
        if (std::system(("rm -rf '" + clusters->dir + "'").c_str()) != 0) {
          std::fprintf(stderr, "could not remove %s\n", clusters->dir.c_str());
        }
      } else {
        std::fprintf(stderr, "logs kept in %s\n", clusters->dir.c_str());
      }
    }
    delete clusters;
    clusters = nullptr;
  }

  void SetUp() override {
    if (!clusters->skip_reason.empty()) GTEST_SKIP() << clusters->skip_reason;
  }

  // The job's field from `scontrol -o show job`, e.g. "TresPerNode".
  static std::string JobField(const std::string& cluster, const std::string& id,
                              const std::string& field) {
    Result<ProcessResult> r =
        Shell({"scontrol", "-o", "show", "job", id}, milliseconds(20'000), clusters->Conf(cluster));
    if (!r.ok()) return "";
    const std::string key = " " + field + "=";
    const size_t at = r->out.find(key);
    if (at == std::string::npos) return "";
    const size_t start = at + key.size();
    // Comment= runs to the next " Key=" field; the others are single words.
    size_t end = r->out.find(' ', start);
    if (field == "Comment") end = r->out.find(" StdErr=", start);
    std::string value = r->out.substr(start, end - start);
    while (!value.empty() && value.back() == ' ') value.pop_back();
    return value;
  }

  // Polls List until the run (job, run) satisfies `done`, or `limit` passes.
  static std::optional<SiteJob> WaitFor(SiteDriver& site, const std::string& job, uint32_t run,
                                        const std::function<bool(const SiteJob&)>& done,
                                        milliseconds limit = milliseconds(30'000)) {
    const auto deadline = SteadyClock::now() + limit;
    std::optional<SiteJob> last;
    while (SteadyClock::now() < deadline) {
      Result<std::vector<SiteJob>> jobs = site.List();
      EXPECT_TRUE(jobs.ok()) << jobs.status().message();
      if (!jobs.ok()) return std::nullopt;
      for (const SiteJob& j : *jobs) {
        if (j.job == job && j.run == run) last = j;
      }
      if (last && done(*last)) return last;
      std::this_thread::sleep_for(milliseconds(200));
    }
    ADD_FAILURE() << job << " r" << run << " did not reach the wanted state; last seen "
                  << (last ? SiteJobStateName(last->state) : "nowhere");
    return last;
  }
};

TEST_F(SlurmDriverTest, SubmitGoesToTheClusterWithGresNameAndCommentAndCompletesWithTimes) {
  SiteDriver& alpha = *clusters->alpha;
  RequestSpec spec = Command("echo CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES; sleep 2", 4);
  spec.partition = "gpu";
  spec.pool = "alpha-h100";
  const Time before = clusters->clock.Now();
  Result<std::string> id = alpha.Submit(Request("train/1", 3, spec));
  ASSERT_TRUE(id.ok()) << id.status().message();

  EXPECT_EQ(JobField("alpha", *id, "JobName"), "pc-train%2F1-r3");
  EXPECT_EQ(JobField("alpha", *id, "TresPerNode"), "gres:gpu:4");
  EXPECT_EQ(JobField("alpha", *id, "Partition"), "gpu");
  EXPECT_EQ(JobField("alpha", *id, "Comment"), "polycloud job=train%2F1 run=3 pool=alpha-h100");

  std::optional<SiteJob> seen = WaitFor(
      alpha, "train/1", 3, [](const SiteJob& j) { return j.state != SiteJobState::kPending; });
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->external_id, *id);
  std::optional<SiteJob> done =
      WaitFor(alpha, "train/1", 3, [](const SiteJob& j) { return IsFinal(j.state); });
  ASSERT_TRUE(done);
  EXPECT_EQ(done->state, SiteJobState::kCompleted);
  EXPECT_GE(done->started, before);
  EXPECT_GE((done->ended - done->started).seconds(), 2);
  EXPECT_LE((done->ended - done->started).seconds(), 10);
  const std::string out =
      ReadFile(clusters->dir + "/" + SiteJobName("train/1", 3) + "-" + *id + ".out");
  const std::string devices = out.substr(out.find('=') + 1);
  EXPECT_EQ(std::count(devices.begin(), devices.end(), ','), 3) << out;  // four GPUs
}

TEST_F(SlurmDriverTest, CancelStopsARunningJob) {
  SiteDriver& beta = *clusters->beta;
  // No command: the driver sleeps for the expected time.
  Result<std::string> id = beta.Submit(Request("long", 1, Gpus(2, Duration::Seconds(600))));
  ASSERT_TRUE(id.ok()) << id.status().message();
  std::optional<SiteJob> running =
      WaitFor(beta, "long", 1, [](const SiteJob& j) { return j.state == SiteJobState::kRunning; });
  ASSERT_TRUE(running);
  EXPECT_NE(running->started, Time());
  ASSERT_TRUE(beta.Cancel(*id).ok());
  std::optional<SiteJob> cancelled =
      WaitFor(beta, "long", 1, [](const SiteJob& j) { return IsFinal(j.state); });
  ASSERT_TRUE(cancelled);
  EXPECT_EQ(cancelled->state, SiteJobState::kCancelled);
  EXPECT_GE(cancelled->ended, cancelled->started);
  EXPECT_TRUE(beta.Cancel(*id).ok()) << "a finished job";
  EXPECT_TRUE(beta.Cancel("999999").ok()) << "an unknown job";
}

TEST_F(SlurmDriverTest, FailedCommandAndRefusalsAreToldApart) {
  SiteDriver& beta = *clusters->beta;
  Result<std::string> id = beta.Submit(Request("fails", 1, Command("exit 3")));
  ASSERT_TRUE(id.ok()) << id.status().message();
  std::optional<SiteJob> failed =
      WaitFor(beta, "fails", 1, [](const SiteJob& j) { return IsFinal(j.state); });
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->state, SiteJobState::kFailed);

  Result<std::string> too_big = beta.Submit(Request("big", 1, Gpus(9)));
  EXPECT_EQ(too_big.status().code(), StatusCode::kFailedPrecondition) << too_big.status().message();
  RequestSpec nowhere = Gpus(1);
  nowhere.partition = "nope";
  Result<std::string> bad_partition = beta.Submit(Request("nowhere", 1, nowhere));
  EXPECT_EQ(bad_partition.status().code(), StatusCode::kFailedPrecondition)
      << bad_partition.status().message();
  EXPECT_NE(bad_partition.status().message().find("Invalid partition"), std::string::npos)
      << bad_partition.status().message();
}

// A controller that hangs (SIGSTOP) rather than dies: the tools time out
// after MessageTimeout, the driver returns kIoError, and yet the submission
// sits in the controller's socket and becomes a job once it resumes. This is
// why the broker reconciles by name before sending a run again (docs/sites.md).
TEST_F(SlurmDriverTest, HungControllerGivesIoErrorAndTheJobMayStillAppear) {
  const std::string pid_text = ReadFile(clusters->dir + "/beta/slurmctld.pid");
  const pid_t pid = static_cast<pid_t>(std::atol(pid_text.c_str()));
  ASSERT_GT(pid, 1);
  ASSERT_EQ(::kill(pid, SIGSTOP), 0);
  struct Resume {
    pid_t pid;
    ~Resume() { ::kill(pid, SIGCONT); }
  } resume{pid};
  SiteDriver& beta = *clusters->beta;
  auto start = SteadyClock::now();
  Result<std::string> id = beta.Submit(Request("limbo", 1, Command("true", 1)));
  const auto submit_took = SteadyClock::now() - start;
  EXPECT_EQ(id.status().code(), StatusCode::kIoError) << id.status().message();
  EXPECT_LT(submit_took, kOutageBound);
  start = SteadyClock::now();
  Result<std::vector<SiteJob>> jobs = beta.List();
  const auto list_took = SteadyClock::now() - start;
  EXPECT_EQ(jobs.status().code(), StatusCode::kIoError);
  EXPECT_LT(list_took, kOutageBound);
  ::kill(pid, SIGCONT);
  std::printf("beta hung: kIoError from Submit in %lld ms, List in %lld ms\n",
              static_cast<long long>(std::chrono::duration_cast<milliseconds>(submit_took).count()),
              static_cast<long long>(std::chrono::duration_cast<milliseconds>(list_took).count()));
  std::optional<SiteJob> appeared =
      WaitFor(beta, "limbo", 1, [](const SiteJob& j) { return IsFinal(j.state); });
  ASSERT_TRUE(appeared) << "the timed-out submission never became a job";
  EXPECT_EQ(appeared->state, SiteJobState::kCompleted);
}

// Last: it leaves alpha dark.
TEST_F(SlurmDriverTest, ZDeadControllerGivesIoErrorWithinABoundAndTheOtherSiteWorksOn) {
  Result<ProcessResult> kill = Shell(
      {"bash", kHarness, "kill-controller", "alpha", "--dir", clusters->dir}, milliseconds(30'000));
  ASSERT_TRUE(kill.ok() && kill->exit_code == 0) << (kill.ok() ? kill->err : "");
  SiteDriver& alpha = *clusters->alpha;

  auto start = SteadyClock::now();
  Result<std::string> submit = alpha.Submit(Request("after-dark", 1, Gpus(1)));
  const auto submit_took = SteadyClock::now() - start;
  EXPECT_EQ(submit.status().code(), StatusCode::kIoError) << submit.status().message();
  EXPECT_NE(submit.status().message().find("Unable to contact slurm controller"), std::string::npos)
      << submit.status().message();
  EXPECT_LT(submit_took, kOutageBound);

  start = SteadyClock::now();
  Result<std::vector<SiteJob>> list = alpha.List();
  const auto list_took = SteadyClock::now() - start;
  EXPECT_EQ(list.status().code(), StatusCode::kIoError) << list.status().message();
  EXPECT_LT(list_took, milliseconds(2'000)) << "scontrol ping answers at once";

  // Without the ping, squeue itself has to give up.
  SiteDriverConfig no_ping;
  no_ping.site = "alpha";
  no_ping.backend = "slurm";
  no_ping.options = {{"slurm_conf", clusters->Conf("alpha")}, {"ping", "false"}};
  auto blind = MakeSiteDriver(no_ping, clusters->clock);
  ASSERT_TRUE(blind.ok());
  start = SteadyClock::now();
  Result<std::vector<SiteJob>> blind_list = (*blind)->List();
  const auto blind_took = SteadyClock::now() - start;
  EXPECT_EQ(blind_list.status().code(), StatusCode::kIoError);
  EXPECT_LT(blind_took, kOutageBound);

  start = SteadyClock::now();
  Status cancel = alpha.Cancel("1");
  const auto cancel_took = SteadyClock::now() - start;
  EXPECT_EQ(cancel.code(), StatusCode::kIoError) << cancel.message();
  EXPECT_LT(cancel_took, 2 * kOutageBound);

  const auto ms = [](auto d) {
    return static_cast<long long>(std::chrono::duration_cast<milliseconds>(d).count());
  };
  std::printf(
      "alpha dark: kIoError from Submit in %lld ms, List in %lld ms, List without ping "
      "in %lld ms, Cancel in %lld ms\n",
      ms(submit_took), ms(list_took), ms(blind_took), ms(cancel_took));

  SiteDriver& beta = *clusters->beta;
  Result<std::string> id = beta.Submit(Request("moved", 1, Command("true", 2)));
  ASSERT_TRUE(id.ok()) << id.status().message();
  std::optional<SiteJob> done =
      WaitFor(beta, "moved", 1, [](const SiteJob& j) { return IsFinal(j.state); });
  ASSERT_TRUE(done);
  EXPECT_EQ(done->state, SiteJobState::kCompleted);
}

}  // namespace
}  // namespace polycloud::sites
