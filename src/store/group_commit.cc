#include "src/store/group_commit.h"

#include <algorithm>
#include <vector>

namespace polycloud::store {

void GroupCommitter::Submit(GroupRequest& request) {
  std::unique_lock lock(mu_);
  queue_.push_back(&request);
  while (!request.done_) {
    if (leader_active_) {
      request.wake_.wait(lock);
      continue;
    }
    // Lead: take what is queued (ours among it), run it without the lock.
    leader_active_ = true;
    const size_t n = std::min(queue_.size(), max_batch_);
    std::vector<GroupRequest*> batch(queue_.begin(), queue_.begin() + static_cast<ptrdiff_t>(n));
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<ptrdiff_t>(n));
    lock.unlock();
    runner_(batch);
    lock.lock();
    ++stats_.batches;
    stats_.requests += static_cast<int64_t>(n);
    stats_.largest_batch = std::max(stats_.largest_batch, static_cast<int64_t>(n));
    leader_active_ = false;
    for (GroupRequest* r : batch) {
      r->done_ = true;
      if (r != &request) r->wake_.notify_one();
    }
    // Hand the lead to the oldest waiter (a new arrival may take it first;
    // then the waiter rides in that batch).
    if (!queue_.empty()) queue_.front()->wake_.notify_one();
  }
}

GroupCommitStats GroupCommitter::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

size_t GroupCommitter::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

}  // namespace polycloud::store
