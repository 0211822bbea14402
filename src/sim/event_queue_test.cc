#include "polycloud/sim/event_queue.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <vector>

#include "polycloud/base/rng.h"

namespace polycloud::sim {
namespace {

std::vector<uint64_t> Drain(EventQueue& q) {
  std::vector<uint64_t> out;
  while (!q.empty()) {
    out.push_back(q.top().payload);
    q.Pop();
  }
  return out;
}

TEST(EventQueueTest, EqualTimesComeOutInInsertionOrder) {
  EventQueue q;
  const Time t = Time::FromUnixSeconds(100);
  q.Push(t, 1);
  q.Push(Time::FromUnixSeconds(50), 0);
  q.Push(t, 2);
  q.Push(t, 3);
  EXPECT_EQ(Drain(q), (std::vector<uint64_t>{0, 1, 2, 3}));
}

// More events at one instant than a chunk holds, pushed before and after the
// queue has moved them between buckets.
TEST(EventQueueTest, ThousandsAtOneInstantKeepTheirOrderAcrossChunks) {
  EventQueue q;
  const Time t = Time::FromUnixSeconds(1'000'000);
  std::vector<uint64_t> want;
  for (uint64_t i = 0; i < 1000; ++i) {
    q.Push(t, i);
    q.Push(t + Duration::Seconds(1), 10'000 + i);
  }
  q.Push(t - Duration::Seconds(1), 99);
  EXPECT_EQ(q.top().payload, 99u);
  q.Pop();  // moves everything down around t
  for (uint64_t i = 1000; i < 2000; ++i) q.Push(t, i);
  for (uint64_t i = 0; i < 2000; ++i) want.push_back(i);
  for (uint64_t i = 0; i < 1000; ++i) want.push_back(10'000 + i);
  EXPECT_EQ(Drain(q), want);
}

// The simulator peeks, then an arrival that comes first may schedule an event
// before the one it peeked (but not before the last one popped).
TEST(EventQueueTest, AnEventPushedBeforeThePeekedTopComesOutFirst) {
  EventQueue q;
  q.Push(Time::FromUnixSeconds(10), 0);
  q.Pop();
  q.Push(Time::FromUnixSeconds(1000), 1);
  q.Push(Time::FromUnixSeconds(1000), 2);
  EXPECT_EQ(q.top().at, Time::FromUnixSeconds(1000));
  q.Push(Time::FromUnixSeconds(500), 3);
  EXPECT_EQ(q.top().payload, 3u);
  q.Push(Time::FromUnixSeconds(10), 4);  // the last popped instant again
  EXPECT_EQ(q.top().payload, 4u);
  q.Pop();
  q.Push(Time::FromUnixSeconds(999), 5);
  EXPECT_EQ(Drain(q), (std::vector<uint64_t>{3, 5, 1, 2}));
}

TEST(EventQueueTest, OrdersTimesAcrossTheWholeRange) {
  EventQueue q;
  q.Push(Time::Max(), 5);
  q.Push(Time::FromUnixSeconds(0), 3);
  q.Push(Time::Min(), 0);
  q.Push(Time::FromUnixSeconds(-1), 2);
  q.Push(Time::FromUnixSeconds(1), 4);
  q.Push(Time::Min() + Duration::Seconds(1), 1);
  q.Push(Time::Max(), 6);
  EXPECT_EQ(q.size(), 7u);
  EXPECT_EQ(Drain(q), (std::vector<uint64_t>{0, 1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(q.size(), 0u);
}

TEST(EventQueueTest, ReserveDoesNotChangeTheOrder) {
  EventQueue q;
  q.reserve(10'000);
  for (uint64_t i = 0; i < 600; ++i) q.Push(Time::FromUnixSeconds(600 - i / 2), i);
  std::vector<uint64_t> want;
  for (uint64_t i = 600; i > 0; i -= 2) {
    want.push_back(i - 2);
    want.push_back(i - 1);
  }
  EXPECT_EQ(Drain(q), want);
}

TEST(EventQueueDeathTest, PushingBeforeTheLastPoppedTimeIsAProgrammerError) {
  EventQueue q;
  q.Push(Time::FromUnixSeconds(100), 0);
  q.Pop();
  EXPECT_DEATH(q.Push(Time::FromUnixSeconds(99), 1), "check failed");
}

// Differential test against std::multimap, which keeps equal keys in
// insertion order: random pushes (at the last popped instant, just after it,
// up to a day and up to 35,000 years later, at Time::Max(), the latest time
// pushed, and between the last pop and the peeked top), pops in bursts, over
// several seeds and starting times either side of the epoch.
TEST(EventQueueTest, AgreesWithAMultimapUnderRandomPushesAndPops) {
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    SCOPED_TRACE(seed);
    Rng rng(seed);
    EventQueue q;
    std::multimap<int64_t, uint64_t> reference;
    int64_t now = seed % 2 == 0 ? -5'000'000'000 : 1'700'000'000;  // the last popped time
    uint64_t payload = 0;
    int pops_left = 0;
    for (int step = 0; step < 60'000; ++step) {
      if (pops_left == 0 && rng.Below(50) == 0) pops_left = static_cast<int>(rng.Below(2000));
      const bool pop = !reference.empty() && (pops_left > 0 || rng.Below(5) < 2);
      if (pop) {
        if (pops_left > 0) --pops_left;
        ASSERT_EQ(q.top().at.unix_seconds(), reference.begin()->first) << "step " << step;
        ASSERT_EQ(q.top().payload, reference.begin()->second) << "step " << step;
        now = reference.begin()->first;
        q.Pop();
        reference.erase(reference.begin());
      } else {
        int64_t at = now;
        switch (rng.Below(6)) {
          case 0:  // the last popped instant
            break;
          case 1:
            at = now + static_cast<int64_t>(rng.Below(4));
            break;
          case 2:
            at = now + static_cast<int64_t>(rng.Below(86'400));
            break;
          case 3:
            at = now + static_cast<int64_t>(rng.Below(uint64_t{1} << 40));
            break;
          case 4:
            at = rng.Below(20) == 0 ? Time::Max().unix_seconds()
                                    : now + static_cast<int64_t>(rng.Below(1'000'000));
            break;
          case 5:  // after the last pop but before the current top
            if (!reference.empty() && reference.begin()->first > now) {
              at = now + static_cast<int64_t>(
                             rng.Below(static_cast<uint64_t>(reference.begin()->first - now)));
            }
            break;
        }
        at = std::min(at, Time::Max().unix_seconds());
        q.Push(Time::FromUnixSeconds(at), payload);
        reference.emplace(at, payload);
        ++payload;
      }
      ASSERT_EQ(q.size(), reference.size());
      ASSERT_EQ(q.empty(), reference.empty());
    }
    for (const auto& [at, p] : reference) {
      ASSERT_EQ(q.top().at.unix_seconds(), at);
      ASSERT_EQ(q.top().payload, p);
      q.Pop();
    }
    EXPECT_TRUE(q.empty());
  }
}

}  // namespace
}  // namespace polycloud::sim
