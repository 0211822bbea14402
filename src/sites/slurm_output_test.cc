#include "polycloud/sites/slurm_output.h"

#include <gtest/gtest.h>

namespace polycloud::sites {
namespace {

// Recorded on the loopback cluster of scripts/slurm-clusters.sh (Slurm
// 22.05.8), SLURM_TIME_FORMAT=%s, after jobs that completed, failed (exit 3),
// were cancelled running, pending and held, plus other tools' jobs ("wrap",
// "user-job") and one whose name holds '|' and a space.
constexpr char kSqueue[] =
    "2|CANCELLED|1796653396|1796653400|pc-x-r1\n"
    "7|CANCELLED|1796653709|1796653715|pc-train%2Fa-r1\n"
    "10|CANCELLED|1796653712|1796653712|pc-cancel-me-r7\n"
    "5|CANCELLED|1796653466|1796653466|pc-a%20b.c_d-r2\n"
    "1|COMPLETED|1796653396|1796653397|pc-a|b c-r3\n"
    "8|COMPLETED|1796653715|1796653715|pc-frontier-1-r2\n"
    "6|FAILED|1796653466|1796653466|wrap\n"
    "9|FAILED|1796653715|1796653715|pc-bad-r1\n"
    "12|PENDING|N/A|N/A|pc-held-r3\n"
    "11|RUNNING|1796653715|NONE|user-job\n"
    "13|RUNNING|1796653720|NONE|pc-long-r1\n";

// `sacct -c` (the jobcomp file) of the same cluster. Its reader splits a
// name at a space, so the "pc-a|b c-r3" record comes back broken.
constexpr char kSacct[] =
    "1||1796653396|1796653397|pc-a|b\n"
    "2|CANCELLED|1796653396|1796653400|pc-x-r1\n"
    "6|FAILED|1796653466|1796653466|wrap\n"
    "7|CANCELLED|1796653709|1796653715|pc-train%2Fa-r1\n"
    "8|COMPLETED|1796653715|1796653715|pc-frontier-1-r2\n"
    "9|FAILED|1796653715|1796653715|pc-bad-r1\n";

Time T(int64_t s) { return Time::FromUnixSeconds(s); }

TEST(ParseSqueueOutputTest, ReadsOurJobsAndSkipsOthers) {
  Result<std::vector<SiteJob>> jobs = ParseSqueueOutput(kSqueue);
  ASSERT_TRUE(jobs.ok()) << jobs.status().message();
  ASSERT_EQ(jobs->size(), 8u);
  const SiteJob& train = (*jobs)[1];
  EXPECT_EQ(train.external_id, "7");
  EXPECT_EQ(train.job, "train/a");
  EXPECT_EQ(train.run, 1u);
  EXPECT_EQ(train.state, SiteJobState::kCancelled);
  EXPECT_EQ(train.started, T(1796653709));
  EXPECT_EQ(train.ended, T(1796653715));
  EXPECT_EQ((*jobs)[3].job, "a b.c_d");
  const SiteJob& done = (*jobs)[4];
  EXPECT_EQ(done.job, "frontier-1");
  EXPECT_EQ(done.run, 2u);
  EXPECT_EQ(done.state, SiteJobState::kCompleted);
  EXPECT_EQ((*jobs)[5].state, SiteJobState::kFailed);
  const SiteJob& held = (*jobs)[6];
  EXPECT_EQ(held.state, SiteJobState::kPending);
  EXPECT_EQ(held.started, Time());
  const SiteJob& running = (*jobs)[7];
  EXPECT_EQ(running.state, SiteJobState::kRunning);
  EXPECT_EQ(running.started, T(1796653720));
  EXPECT_EQ(running.ended, Time());  // NONE: no time limit
}

TEST(ParseSqueueOutputTest, IgnoresExpectedTimesOfUnfinishedJobs) {
  // A pending job's %S is its expected start, a running job's %e its limit.
  Result<std::vector<SiteJob>> jobs = ParseSqueueOutput(
      "4|PENDING|1796660000|1796663600|pc-j-r1\n"
      "5|RUNNING|1796650000|1796653600|pc-k-r1\n");
  ASSERT_TRUE(jobs.ok());
  EXPECT_EQ((*jobs)[0].started, Time());
  EXPECT_EQ((*jobs)[0].ended, Time());
  EXPECT_EQ((*jobs)[1].started, T(1796650000));
  EXPECT_EQ((*jobs)[1].ended, Time());
}

TEST(ParseSqueueOutputTest, EmptyOutputIsNoJobs) {
  Result<std::vector<SiteJob>> jobs = ParseSqueueOutput("");
  ASSERT_TRUE(jobs.ok());
  EXPECT_TRUE(jobs->empty());
}

TEST(ParseSqueueOutputTest, ErrorsNameTheLineAndWhatWasExpected) {
  struct Case {
    const char* text;
    const char* message;
  };
  for (const Case& c : {
           Case{"7|RUNNING|1|2|pc-a-r1\n8|RUNNING|5\n", "squeue output line 2: expected 5"},
           Case{"7|RUNNING|1|pc-a-r1\n", "squeue output line 1: expected 5"},
           Case{"x7|RUNNING|1|2|pc-a-r1\n", "expected a Slurm job id, found \"x7\""},
           Case{"7|RUNNIN|1|2|pc-a-r1\n", "expected a Slurm job state"},
           Case{"7|running|1|2|pc-a-r1\n", "expected a Slurm job state"},
           Case{"7|CANCELLED by me|1|2|pc-a-r1\n", "expected a Slurm job state"},
           Case{"7|RUNNING|2026-12-07T14:23:16|2|pc-a-r1\n", "expected Unix seconds"},
           Case{"7|RUNNING|-5|2|pc-a-r1\n", "expected Unix seconds"},
           Case{"7|RUNNING|99999999999999|2|pc-a-r1\n", "expected Unix seconds"},
           Case{"7|COMPLETED|1|9999999999999|pc-a-r1\n", "out of range"},
           Case{"\n", "squeue output line 1: expected 5"},
       }) {
    Result<std::vector<SiteJob>> r = ParseSqueueOutput(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
    EXPECT_NE(r.status().message().find(c.message), std::string::npos)
        << r.status().message() << "\nwanted: " << c.message;
  }
}

TEST(ParseSacctOutputTest, ReadsTheJobcompHistory) {
  Result<std::vector<SiteJob>> jobs = ParseSacctOutput(kSacct);
  ASSERT_TRUE(jobs.ok()) << jobs.status().message();
  ASSERT_EQ(jobs->size(), 4u);
  EXPECT_EQ((*jobs)[0].external_id, "2");
  EXPECT_EQ((*jobs)[2].job, "frontier-1");
  EXPECT_EQ((*jobs)[2].state, SiteJobState::kCompleted);
  EXPECT_EQ((*jobs)[2].ended, T(1796653715));
}

TEST(ParseSacctOutputTest, ReadsSlurmdbdStatesWithWhoCancelled) {
  Result<std::vector<SiteJob>> jobs = ParseSacctOutput(
      "41|CANCELLED by 1000|1796653709|1796653715|pc-j-r2\n"
      "42_3|TIMEOUT|1796653709|1796653715|pc-k-r1\n");
  ASSERT_TRUE(jobs.ok()) << jobs.status().message();
  EXPECT_EQ((*jobs)[0].state, SiteJobState::kCancelled);
  EXPECT_EQ((*jobs)[1].external_id, "42_3");
  EXPECT_EQ((*jobs)[1].state, SiteJobState::kFailed);
  Result<std::vector<SiteJob>> bad = ParseSacctOutput("41|RUNNING|x|1|pc-j-r2\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().rfind("sacct output line 1: ", 0), 0u);
}

TEST(ParseSlurmJobStateTest, MapsEveryStateOfSqueueManual) {
  using S = SiteJobState;
  const std::pair<const char*, S> cases[] = {
      {"PENDING", S::kPending},          {"CONFIGURING", S::kPending},
      {"REQUEUED", S::kPending},         {"REQUEUE_FED", S::kPending},
      {"REQUEUE_HOLD", S::kPending},     {"RESV_DEL_HOLD", S::kPending},
      {"SPECIAL_EXIT", S::kPending},     {"RUNNING", S::kRunning},
      {"COMPLETING", S::kRunning},       {"SUSPENDED", S::kRunning},
      {"STOPPED", S::kRunning},          {"RESIZING", S::kRunning},
      {"SIGNALING", S::kRunning},        {"STAGE_OUT", S::kRunning},
      {"COMPLETED", S::kCompleted},      {"FAILED", S::kFailed},
      {"TIMEOUT", S::kFailed},           {"NODE_FAIL", S::kFailed},
      {"OUT_OF_MEMORY", S::kFailed},     {"BOOT_FAIL", S::kFailed},
      {"DEADLINE", S::kFailed},          {"PREEMPTED", S::kFailed},
      {"CANCELLED", S::kCancelled},      {"REVOKED", S::kCancelled},
      {"CANCELLED by 0", S::kCancelled},
  };
  for (const auto& [text, want] : cases) {
    Result<SiteJobState> got = ParseSlurmJobState(text);
    ASSERT_TRUE(got.ok()) << text;
    EXPECT_EQ(*got, want) << text;
  }
  for (const char* bad : {"", "CD", "Running", "CANCELLED by", "CANCELLED by x", " RUNNING"}) {
    EXPECT_FALSE(ParseSlurmJobState(bad).ok()) << bad;
  }
}

TEST(ParseSbatchParsableTest, ReadsTheJobId) {
  EXPECT_EQ(*ParseSbatchParsable("42\n"), "42");
  EXPECT_EQ(*ParseSbatchParsable("42"), "42");
  EXPECT_EQ(*ParseSbatchParsable("42;alpha\n"), "42");
  for (const char* bad : {"", "\n", "Submitted batch job 42\n", "42\n43\n", "42;\n", "-1\n",
                          "42 \n", "4x2\n", "42;a b\n", "1234567890123456789\n"}) {
    Result<std::string> r = ParseSbatchParsable(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
    }
  }
}

TEST(IsSlurmJobIdTest, AcceptsPlainArrayAndHetIds) {
  EXPECT_TRUE(IsSlurmJobId("1"));
  EXPECT_TRUE(IsSlurmJobId("12_3"));
  EXPECT_TRUE(IsSlurmJobId("12+0"));
  for (const char* bad : {"", "a", "12_", "_3", "12_[1-3]", "1 2", "-1", "12+x"}) {
    EXPECT_FALSE(IsSlurmJobId(bad)) << bad;
  }
}

}  // namespace
}  // namespace polycloud::sites
