#include "polycloud/sites/sim.h"

#include <gtest/gtest.h>

#include "polycloud/base/parse.h"
#include "src/sites/test_requests.h"

namespace polycloud::sites {
namespace {

const Time kT0 = *ParseTime("2026-03-01T00:00:00Z");

TEST(SimDriverTest, RunsEndAfterTheirExpectedTimeOnTheClock) {
  VirtualClock clock(kT0);
  SimDriver site(clock);
  Result<std::string> a = site.Submit(Request("a", 1, Gpus(8, Duration::Hours(2))));
  Result<std::string> b = site.Submit(Request("b", 3, Gpus(0, Duration::Hours(5))));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, "sim-1");
  EXPECT_EQ(*b, "sim-2");

  clock.AdvanceTo(kT0 + Duration::Hours(1));
  std::vector<SiteJob> jobs = *site.List();
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[0].state, SiteJobState::kRunning);
  EXPECT_EQ(jobs[0].started, kT0);
  EXPECT_EQ(jobs[0].ended, Time());

  clock.AdvanceTo(kT0 + Duration::Hours(2));
  jobs = *site.List();
  EXPECT_EQ(jobs[0].state, SiteJobState::kCompleted);
  EXPECT_EQ(jobs[0].ended, kT0 + Duration::Hours(2));
  EXPECT_EQ(jobs[1].state, SiteJobState::kRunning);
  EXPECT_EQ(jobs[1].job, "b");
  EXPECT_EQ(jobs[1].run, 3u);
}

TEST(SimDriverTest, CancelEndsARunningRunNow) {
  VirtualClock clock(kT0);
  SimDriver site(clock);
  const std::string id = *site.Submit(Request("a", 1, Gpus(0, Duration::Hours(2))));
  clock.AdvanceTo(kT0 + Duration::Minutes(30));
  ASSERT_TRUE(site.Cancel(id).ok());
  clock.AdvanceTo(kT0 + Duration::Hours(3));
  ASSERT_TRUE(site.Cancel(id).ok());  // again: no change
  const SiteJob j = site.List()->at(0);
  EXPECT_EQ(j.state, SiteJobState::kCancelled);
  EXPECT_EQ(j.ended, kT0 + Duration::Minutes(30));
}

TEST(SimDriverTest, CancelAfterTheEndLeavesItCompleted) {
  VirtualClock clock(kT0);
  SimDriver site(clock);
  const std::string id = *site.Submit(Request("a", 1, Gpus(0, Duration::Hours(1))));
  clock.AdvanceTo(kT0 + Duration::Hours(1));
  ASSERT_TRUE(site.Cancel(id).ok());
  EXPECT_EQ(site.List()->at(0).state, SiteJobState::kCompleted);
}

TEST(SimDriverTest, UnknownIdsAreOkAndBadRequestsRefused) {
  VirtualClock clock(kT0);
  SimDriver site(clock);
  for (const char* id : {"", "sim-", "sim-0", "sim-1", "sim-99999999999999999999", "x"}) {
    EXPECT_TRUE(site.Cancel(id).ok()) << id;
  }
  EXPECT_EQ(site.Submit(Request("a", 0, Gpus(-1))).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(site.List()->empty());
}

TEST(SimDriverTest, ZeroExpectedTimeCompletesAtOnce) {
  VirtualClock clock(kT0);
  SimDriver site(clock);
  ASSERT_TRUE(site.Submit(Request("a", 1)).ok());
  EXPECT_EQ(site.List()->at(0).state, SiteJobState::kCompleted);
  EXPECT_EQ(site.List()->at(0).ended, kT0);
}

}  // namespace
}  // namespace polycloud::sites
