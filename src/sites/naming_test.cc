#include "polycloud/sites/naming.h"

#include <gtest/gtest.h>

#include "polycloud/base/rng.h"
#include "src/sites/test_requests.h"

namespace polycloud::sites {
namespace {

TEST(SiteJobNameTest, PlainIdsStayReadable) {
  EXPECT_EQ(SiteJobName("frontier-1", 3), "pc-frontier-1-r3");
  EXPECT_EQ(SiteJobName("a.b_c", 0), "pc-a.b_c-r0");
  EXPECT_EQ(SiteJobName("j", 4294967295u), "pc-j-r4294967295");
}

TEST(SiteJobNameTest, EscapesEverythingASchedulerCouldMisread) {
  EXPECT_EQ(SiteJobName("a b", 1), "pc-a%20b-r1");
  EXPECT_EQ(SiteJobName("x|y", 1), "pc-x%7Cy-r1");
  EXPECT_EQ(SiteJobName("100%", 1), "pc-100%25-r1");
  EXPECT_EQ(SiteJobName("line\nbreak", 2), "pc-line%0Abreak-r2");
  EXPECT_EQ(SiteJobName("caf\xc3\xa9", 1), "pc-caf%C3%A9-r1");
}

TEST(ParseSiteJobNameTest, InvertsSiteJobName) {
  for (const char* job : {"frontier-1", "a-r5", "a-r", "x-", "-", "a b|c%d\n", "r", "pc-x-r1"}) {
    for (uint32_t run : {0u, 1u, 42u, 4294967295u}) {
      Result<RunName> back = ParseSiteJobName(SiteJobName(job, run));
      ASSERT_TRUE(back.ok()) << job << " " << back.status().message();
      EXPECT_EQ(back->job, job);
      EXPECT_EQ(back->run, run);
    }
  }
}

TEST(ParseSiteJobNameTest, RoundTripsRandomBytes) {
  Rng rng(5);
  for (int i = 0; i < 2000; ++i) {
    std::string job(1 + rng.Below(12), ' ');
    for (char& c : job) c = static_cast<char>(rng.Below(256));
    const auto run = static_cast<uint32_t>(rng.Below(1u << 31));
    Result<RunName> back = ParseSiteJobName(SiteJobName(job, run));
    ASSERT_TRUE(back.ok()) << back.status().message();
    EXPECT_EQ(back->job, job);
    EXPECT_EQ(back->run, run);
  }
}

TEST(ParseSiteJobNameTest, RejectsNamesItDidNotWrite) {
  for (const char* name : {"",
                           "pc-",
                           "pc--r1",
                           "job-r1",
                           "PC-a-r1",
                           "pc-a",
                           "pc-a-r",
                           "pc-a-r01",
                           "pc-a-r+1",
                           "pc-a-r-1",
                           "pc-a-r4294967296",
                           "pc-a-r99999999999999999999",
                           "pc-a-r1x",
                           "pc-a b-r1",
                           "pc-a|b-r1",
                           "pc-a%2-r1",
                           "pc-a%2f-r1",
                           "pc-a%41-r1",
                           "pc-a%-r1",
                           "pc-a%G0-r1",
                           "pc-caf\xc3\xa9-r1",
                           "user-job",
                           "wrap"}) {
    Result<RunName> r = ParseSiteJobName(name);
    EXPECT_FALSE(r.ok()) << name;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
      EXPECT_NE(r.status().message().find("site job name"), std::string::npos);
    }
  }
}

TEST(CheckDispatchRequestTest, RefusesWhatNoSiteCouldRun) {
  RequestSpec spec = Gpus(2);
  spec.partition = "gpu";
  const DispatchRequest ok = Request("j", 1, spec);
  EXPECT_TRUE(CheckDispatchRequest(ok).ok());
  auto bad = [&](auto change) {
    DispatchRequest r = ok;
    change(r);
    Status s = CheckDispatchRequest(r);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  };
  bad([](DispatchRequest& r) { r.job.clear(); });
  bad([](DispatchRequest& r) { r.job = std::string("a\0b", 3); });
  bad([](DispatchRequest& r) { r.gpus = -1; });
  bad([](DispatchRequest& r) { r.expected = Duration::Seconds(-1); });
  bad([](DispatchRequest& r) { r.job = std::string(1000, 'x'); });
  bad([](DispatchRequest& r) { r.partition = "gpu fast"; });
  bad([](DispatchRequest& r) { r.command = std::string("echo\0x", 6); });
}

TEST(SiteJobStateNameTest, NamesEveryState) {
  EXPECT_STREQ(SiteJobStateName(SiteJobState::kPending), "pending");
  EXPECT_STREQ(SiteJobStateName(SiteJobState::kRunning), "running");
  EXPECT_STREQ(SiteJobStateName(SiteJobState::kCompleted), "completed");
  EXPECT_STREQ(SiteJobStateName(SiteJobState::kFailed), "failed");
  EXPECT_STREQ(SiteJobStateName(SiteJobState::kCancelled), "cancelled");
  EXPECT_FALSE(IsFinal(SiteJobState::kRunning));
  EXPECT_TRUE(IsFinal(SiteJobState::kCancelled));
}

}  // namespace
}  // namespace polycloud::sites
