// The allocation table's finish index: its keys order a pool's jobs by the
// work they have left, within the band the scheduler's SRTF walks rely on.
#include "polycloud/scheduler/allocation_table.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "polycloud/base/rng.h"

namespace polycloud::scheduler {
namespace {

Allocation Job(int32_t owner, int64_t gang, int64_t speed_milli, int64_t work, Time start) {
  Allocation a;
  a.owner = owner;
  a.pool = 0;
  a.gpus = gang;
  a.gang = gang;
  a.start = start;
  a.work = work;
  a.rate_milli = gang * speed_milli;
  a.run_seconds = std::max<int64_t>(1, (work * 1000 + a.rate_milli - 1) / a.rate_milli);
  return a;
}

// For random jobs of one pool and random instants, RemainingSeconds(now) is
// within 1.002 s of (FinishKey − now × speed) ÷ 1000: the band the
// scheduler widens to 3 s (kFinishBand) before it trusts a key.
TEST(FinishIndexTest, KeysBoundRemainingTime) {
  Rng rng(7);
  for (int round = 0; round < 200; ++round) {
    const int64_t speed = 500 + static_cast<int64_t>(rng.Below(5000));
    AllocationTable table(1, /*index_by_finish=*/true);
    const Time t0 = Time::FromUnixSeconds(1'500'000'000);
    for (int i = 0; i < 50; ++i) {
      const int64_t gang = 1 + static_cast<int64_t>(rng.Below(64));
      const int64_t work = static_cast<int64_t>(rng.Below(int64_t{1} << 40));
      table.Add(Job(i, gang, speed, work, t0 + Duration::Seconds(rng.Below(100'000))));
    }
    const Time now = t0 + Duration::Seconds(rng.Below(200'000));
    const __int128 key_now = static_cast<__int128>(now.unix_seconds()) * speed;
    for (const auto& [key, id] : table.ByFinish(0)) {
      const Allocation& a = table[id];
      if (now < a.start) continue;  // runs are asked about after they start
      const __int128 w_milli = key - key_now;
      const __int128 r_milli = static_cast<__int128>(a.RemainingSeconds(now)) * 1000;
      if (a.WorkLeft(now) == 0) {
        EXPECT_LE(w_milli, 1002) << "a finished run keys as finished";
        continue;
      }
      EXPECT_GT(r_milli, w_milli - 1002) << "round " << round << " job " << id;
      EXPECT_LT(r_milli, w_milli + 1002) << "round " << round << " job " << id;
    }
  }
}

// The index follows Add, Remove and a reported start.
TEST(FinishIndexTest, FollowsAddRemoveAndStart) {
  AllocationTable table(1, /*index_by_finish=*/true);
  const Time t0 = Time::FromUnixSeconds(1'000'000);
  const int32_t a = table.Add(Job(0, 1, 1000, 100, t0));
  const int32_t b = table.Add(Job(1, 1, 1000, 50, t0));
  ASSERT_EQ(table.ByFinish(0).size(), 2u);
  EXPECT_EQ(table.ByFinish(0).rbegin()->second, a);  // more work left
  table.SetStart(b, t0 + Duration::Seconds(80));     // b started late: it now ends last
  EXPECT_EQ(table.ByFinish(0).rbegin()->second, b);
  table.Remove(b);
  ASSERT_EQ(table.ByFinish(0).size(), 1u);
  EXPECT_EQ(table.ByFinish(0).begin()->second, a);
}

}  // namespace
}  // namespace polycloud::scheduler
