// The slurm driver's own logic (command lines, environment, merging squeue
// with the history, telling a refusal from an unreachable controller,
// deadlines) against stand-in tools: shell scripts named sbatch, squeue,
// sacct, scontrol and scancel that print recorded Slurm output. The real
// cluster is tests/integration/slurm_driver_test.cc (label slurm).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>

#include "polycloud/sites/slurm.h"
#include "src/sites/test_requests.h"

namespace polycloud::sites {
namespace {

using std::chrono::milliseconds;

class FakeSlurmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/fake-slurm-" + std::to_string(::getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    ASSERT_EQ(std::system(("rm -rf '" + dir_ + "' && mkdir -p '" + dir_ + "'").c_str()), 0);
    for (const char* tool : {"sbatch", "squeue", "sacct", "scontrol", "scancel"}) {
      const std::string path = dir_ + "/" + tool;
      std::ofstream(path) << "#!/bin/sh\n"
                          << "D='" << dir_ << "'; T=" << tool << "\n"
                          << "printf '%s\\n' \"$@\" > \"$D/$T.args\"\n"
                          << "env | sort > \"$D/$T.env\"\n"
                          << "[ -f \"$D/$T.sleep\" ] && sleep \"$(cat \"$D/$T.sleep\")\"\n"
                          << "[ -f \"$D/$T.out\" ] && cat \"$D/$T.out\"\n"
                          << "[ -f \"$D/$T.err\" ] && cat \"$D/$T.err\" >&2\n"
                          << "exit \"$(cat \"$D/$T.rc\" 2>/dev/null || echo 0)\"\n";
      ::chmod(path.c_str(), 0755);
    }
    options_.slurm_conf = "/site/alpha/slurm.conf";
    options_.history = SlurmHistory::kJobcomp;
    options_.path = dir_ + ":/usr/bin:/bin";  // the stand-ins first
    options_.timeout = milliseconds(5000);
  }

  void TearDown() override { std::system(("rm -rf '" + dir_ + "'").c_str()); }

  void Say(const std::string& tool, const std::string& out, int rc = 0,
           const std::string& err = "") {
    std::ofstream(dir_ + "/" + tool + ".out") << out;
    std::ofstream(dir_ + "/" + tool + ".err") << err;
    std::ofstream(dir_ + "/" + tool + ".rc") << rc;
  }
  std::string Read(const std::string& file) {
    std::ifstream in(dir_ + "/" + file);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }

  std::string dir_;
  SlurmOptions options_;
};

TEST_F(FakeSlurmTest, SubmitRunsSbatchWithNameGresCommentAndTheClustersConf) {
  Say("sbatch", "4711\n");
  SlurmDriver site(options_);
  RequestSpec spec = Gpus(4, Duration::Seconds(90));
  spec.partition = "gpu";
  spec.pool = "azure h100";
  ::setenv("POLYCLOUD_TOKEN", "secret", 1);
  ::setenv("SBATCH_PARTITION", "wrong", 1);
  Result<std::string> id = site.Submit(Request("train/1", 3, spec));
  ::unsetenv("POLYCLOUD_TOKEN");
  ::unsetenv("SBATCH_PARTITION");
  ASSERT_TRUE(id.ok()) << id.status().message();
  EXPECT_EQ(*id, "4711");
  EXPECT_EQ(Read("sbatch.args"),
            "--parsable\n--job-name=pc-train%2F1-r3\n"
            "--comment=polycloud job=train%2F1 run=3 pool=azure%20h100\n"
            "--partition=gpu\n--gres=gpu:4\n--no-requeue\n--output=/dev/null\n"
            "--wrap=sleep 90\n");
  const std::string env = Read("sbatch.env");
  EXPECT_NE(env.find("SLURM_CONF=/site/alpha/slurm.conf\n"), std::string::npos) << env;
  EXPECT_EQ(env.find("POLYCLOUD_TOKEN"), std::string::npos) << env;
  EXPECT_EQ(env.find("SBATCH_"), std::string::npos) << env;
  EXPECT_EQ(env.find("SLURM_TIME_FORMAT"), std::string::npos) << "leaks into the job: " << env;
}

TEST_F(FakeSlurmTest, SbatchArgvCarriesTheOptions) {
  options_.time_limit = true;
  options_.requeue = true;
  options_.workdir = "/scratch";
  options_.sbatch_args = {"--account=lab"};
  SlurmDriver site(options_);
  const std::vector<std::string> argv =
      site.SbatchArgv(Request("j", 1, Command("python train.py", 0)));
  const std::vector<std::string> want = {"sbatch",
                                         "--parsable",
                                         "--job-name=pc-j-r1",
                                         "--comment=polycloud job=j run=1 pool=",
                                         "--time=1",
                                         "--requeue",
                                         "--output=/dev/null",
                                         "--chdir=/scratch",
                                         "--account=lab",
                                         "--wrap=python train.py"};
  EXPECT_EQ(argv, want);
  RequestSpec spec = Gpus(0, Duration::Seconds(61));
  EXPECT_EQ(site.SbatchArgv(Request("j", 1, spec))[4], "--time=2");  // whole minutes, up
}

TEST_F(FakeSlurmTest, ARefusalIsAFailedPreconditionAndSilenceAnIoError) {
  SlurmDriver site(options_);
  Say("sbatch", "", 1,
      "sbatch: error: Batch job submission failed: Requested node configuration is not "
      "available\n");
  Result<std::string> refused = site.Submit(Request("j", 1, Gpus(9)));
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("Requested node configuration is not available"),
            std::string::npos)
      << refused.status().message();
  EXPECT_NE(refused.status().message().find("pc-j-r1"), std::string::npos);

  Say("sbatch", "", 1,
      "sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect "
      "failure)\n");
  EXPECT_EQ(site.Submit(Request("j", 1)).status().code(), StatusCode::kIoError);
  Say("sbatch", "", 1,
      "sbatch: error: _establish_config_source: failed to fetch config\n"
      "sbatch: fatal: Could not establish a configuration source\n");
  Result<std::string> unconfigured = site.Submit(Request("j", 1));
  EXPECT_EQ(unconfigured.status().code(), StatusCode::kIoError);
  EXPECT_NE(unconfigured.status().message().find("(exit 1): Could not establish a configuration "
                                                 "source"),
            std::string::npos)
      << unconfigured.status().message();
  Say("sbatch", "Submitted batch job 5\n");  // not --parsable output
  EXPECT_EQ(site.Submit(Request("j", 1)).status().code(), StatusCode::kIoError);
  EXPECT_EQ(site.Submit(Request("", 1)).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(FakeSlurmTest, AHungToolCostsTheTimeoutThenIoError) {
  options_.timeout = milliseconds(300);
  SlurmDriver site(options_);
  std::ofstream(dir_ + "/sbatch.sleep") << "30";
  std::ofstream(dir_ + "/squeue.sleep") << "30";
  const auto start = std::chrono::steady_clock::now();
  Result<std::string> id = site.Submit(Request("j", 1));
  Result<std::vector<SiteJob>> jobs = site.List();
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(id.status().code(), StatusCode::kIoError);
  EXPECT_EQ(jobs.status().code(), StatusCode::kIoError);
  EXPECT_NE(jobs.status().message().find("did not finish within 300 ms"), std::string::npos)
      << jobs.status().message();
  EXPECT_LT(took, milliseconds(3000));
}

TEST_F(FakeSlurmTest, ListMergesSqueueWithTheHistory) {
  // squeue knows 7 (running) and 9 (finished, within MinJobAge); the history
  // knows 9 and 3 (forgotten by squeue), and an older job 7 with another name
  // (an id handed out again after a controller crash).
  Say("squeue",
      "7|RUNNING|1796653709|NONE|pc-b-r2\n"
      "9|COMPLETED|1796653600|1796653700|pc-c-r1\n"
      "11|RUNNING|1796653709|NONE|not-ours\n");
  Say("sacct",
      "3|COMPLETED|1796650000|1796651000|pc-a-r1\n"
      "7|CANCELLED|1796640000|1796641000|pc-z-r9\n"
      "9|COMPLETING|1796653600|1796653700|pc-c-r1\n");
  SlurmDriver site(options_);
  Result<std::vector<SiteJob>> jobs = site.List();
  ASSERT_TRUE(jobs.ok()) << jobs.status().message();
  ASSERT_EQ(jobs->size(), 4u);
  EXPECT_EQ((*jobs)[0].job, "a");
  EXPECT_EQ((*jobs)[0].state, SiteJobState::kCompleted);
  EXPECT_EQ((*jobs)[1].job, "b");
  EXPECT_EQ((*jobs)[2].job, "c");
  EXPECT_EQ((*jobs)[2].state, SiteJobState::kCompleted);  // squeue wins
  EXPECT_EQ((*jobs)[3].job, "z");
  EXPECT_EQ((*jobs)[3].external_id, "7");
  EXPECT_EQ(Read("sacct.args"),
            "-c\n-n\n-X\n-P\n-S\nnow-604800\n-E\nnow\n-o\njobid,state,start,end,jobname\n");
  EXPECT_EQ(Read("squeue.args"), "-h\n-a\n--me\n-t\nall\n-o\n%i|%T|%S|%e|%j\n");
  const std::string env = Read("squeue.env");
  EXPECT_NE(env.find("SLURM_TIME_FORMAT=%s\n"), std::string::npos) << env;
  EXPECT_NE(env.find("TZ=UTC\n"), std::string::npos);
}

TEST_F(FakeSlurmTest, ListFailsWhenAnyToolFails) {
  SlurmDriver site(options_);
  Say("scontrol", "Slurmctld(primary) at vm is DOWN\n", 1);
  Result<std::vector<SiteJob>> down = site.List();
  EXPECT_EQ(down.status().code(), StatusCode::kIoError);
  EXPECT_NE(down.status().message().find("is DOWN"), std::string::npos) << down.status().message();

  Say("scontrol", "Slurmctld(primary) at vm is UP\n");
  Say("squeue", "", 1, "squeue: error: Unable to contact slurm controller (connect failure)\n");
  EXPECT_EQ(site.List().status().code(), StatusCode::kIoError);

  Say("squeue", "7|RUNNING|1|NONE|pc-b-r2\n");
  Say("sacct", "", 1, "Slurm accounting storage is disabled\n");
  Result<std::vector<SiteJob>> no_history = site.List();
  EXPECT_EQ(no_history.status().code(), StatusCode::kIoError);
  EXPECT_NE(no_history.status().message().find("accounting storage is disabled"),
            std::string::npos);

  Say("sacct", "");
  Say("squeue", "7|RUNNING|yesterday|NONE|pc-b-r2\n");
  Result<std::vector<SiteJob>> garbled = site.List();
  EXPECT_EQ(garbled.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(garbled.status().message().find("squeue output line 1"), std::string::npos);
}

TEST_F(FakeSlurmTest, HistoryNoneAndPingOffRunOnlySqueue) {
  options_.history = SlurmHistory::kNone;
  options_.ping = false;
  Say("scontrol", "", 1);
  Say("sacct", "", 1);
  Say("squeue", "7|RUNNING|1|NONE|pc-b-r2\n");
  SlurmDriver site(options_);
  Result<std::vector<SiteJob>> jobs = site.List();
  ASSERT_TRUE(jobs.ok()) << jobs.status().message();
  EXPECT_EQ(jobs->size(), 1u);
}

TEST_F(FakeSlurmTest, CancelIsOkForGoneJobsAndIoErrorForASilentController) {
  SlurmDriver site(options_);
  EXPECT_TRUE(site.Cancel("42").ok());
  EXPECT_EQ(Read("scancel.args"), "42\n");
  Say("scancel", "", 1, "scancel: error: Kill job error on job id 42: Invalid job id specified\n");
  EXPECT_TRUE(site.Cancel("42").ok());
  Say("scancel", "", 8,
      "scancel: error: Kill job error on job id 42: Unable to contact slurm controller (connect "
      "failure)\n");
  EXPECT_EQ(site.Cancel("42").code(), StatusCode::kIoError);
  EXPECT_EQ(site.Cancel("42; rm -rf /").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(site.Cancel("").code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace polycloud::sites
