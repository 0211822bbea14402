// Group commit's batching, with a runner that records batches instead of a
// database (the store tests run it against real ones).
#include "src/store/group_commit.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace polycloud::store {
namespace {

struct CountedRequest : GroupRequest {
  int runs = 0;
};

TEST(GroupCommitterTest, CallersArrivingDuringABatchShareTheNextOne) {
  constexpr int kWriters = 6;
  std::vector<size_t> batch_sizes;
  GroupCommitter* self = nullptr;
  GroupCommitter committer(
      [&](std::span<GroupRequest* const> batch) {
        // Hold the first batch until every other writer has queued, so the
        // second batch must hold them all.
        if (batch_sizes.empty()) {
          while (self->queued() < kWriters - 1) std::this_thread::yield();
        }
        batch_sizes.push_back(batch.size());
        for (GroupRequest* r : batch) ++static_cast<CountedRequest*>(r)->runs;
      },
      /*max_batch=*/64);
  self = &committer;
  std::vector<CountedRequest> requests(kWriters);
  std::vector<std::thread> threads;
  threads.reserve(kWriters);
  for (int i = 0; i < kWriters; ++i) {
    threads.emplace_back([&, i] { committer.Submit(requests[i]); });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(batch_sizes.size(), 2u);
  EXPECT_EQ(batch_sizes[0], 1u);
  EXPECT_EQ(batch_sizes[1], static_cast<size_t>(kWriters - 1));
  for (const CountedRequest& r : requests) EXPECT_EQ(r.runs, 1);
  EXPECT_EQ(committer.stats().batches, 2);
  EXPECT_EQ(committer.stats().largest_batch, kWriters - 1);
}

TEST(GroupCommitterTest, BatchesNeverExceedTheirLimitAndEveryRequestRunsOnce) {
  constexpr int kWriters = 16, kPerWriter = 200;
  std::atomic<size_t> largest{0};
  GroupCommitter committer(
      [&](std::span<GroupRequest* const> batch) {
        largest = std::max(largest.load(), batch.size());
        for (GroupRequest* r : batch) ++static_cast<CountedRequest*>(r)->runs;
      },
      /*max_batch=*/4);
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  threads.reserve(kWriters);
  for (int i = 0; i < kWriters; ++i) {
    threads.emplace_back([&] {
      for (int k = 0; k < kPerWriter; ++k) {
        CountedRequest r;
        committer.Submit(r);
        if (r.runs != 1) ++wrong;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong, 0);
  EXPECT_LE(largest, 4u);
  EXPECT_EQ(committer.stats().requests, kWriters * kPerWriter);
}

}  // namespace
}  // namespace polycloud::store
