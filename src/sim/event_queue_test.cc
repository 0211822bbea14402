#include "polycloud/sim/event_queue.h"

#include <gtest/gtest.h>

#include <queue>
#include <tuple>

#include "polycloud/base/rng.h"

namespace polycloud::sim {
namespace {

TEST(EventQueueTest, EqualTimesComeOutInInsertionOrder) {
  EventQueue q;
  const Time t = Time::FromUnixSeconds(100);
  q.Push(t, 1);
  q.Push(Time::FromUnixSeconds(50), 0);
  q.Push(t, 2);
  q.Push(t, 3);
  std::vector<uint64_t> out;
  while (!q.empty()) {
    out.push_back(q.top().payload);
    q.Pop();
  }
  EXPECT_EQ(out, (std::vector<uint64_t>{0, 1, 2, 3}));
}

TEST(EventQueueTest, AgreesWithABinaryHeapUnderRandomPushesAndPops) {
  using Key = std::tuple<int64_t, uint64_t, uint64_t>;  // time, order, payload
  std::priority_queue<Key, std::vector<Key>, std::greater<Key>> reference;
  EventQueue q;
  Rng rng(11);
  uint64_t order = 0;
  for (int i = 0; i < 20'000; ++i) {
    if (rng.Below(3) != 0 || q.empty()) {
      const int64_t at = static_cast<int64_t>(rng.Below(500));  // many ties
      q.Push(Time::FromUnixSeconds(at), order);
      reference.emplace(at, order, order);
      ++order;
    } else {
      ASSERT_EQ(q.top().payload, std::get<2>(reference.top()));
      ASSERT_EQ(q.top().at.unix_seconds(), std::get<0>(reference.top()));
      q.Pop();
      reference.pop();
    }
    ASSERT_EQ(q.size(), reference.size());
  }
}

}  // namespace
}  // namespace polycloud::sim
