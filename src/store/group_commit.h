// Group commit: concurrent writers' requests are gathered into one batch that
// one thread commits in one transaction, and every writer returns only after
// the batch holding its request is done. Leader/follower: the first caller
// that finds no batch running becomes the leader, takes everything queued
// and runs it; callers arriving meanwhile queue up, and when the batch ends
// the oldest waiting one leads the next. No thread of its own, so a lone
// writer pays no hand-off, and a batch grows with the load (one fsync for
// everyone who arrived during the previous one). Private to src/store.
//
// Thread-safety: Submit may be called from any number of threads; the runner
// is called by one thread at a time.
#ifndef POLYCLOUD_SRC_STORE_GROUP_COMMIT_H_
#define POLYCLOUD_SRC_STORE_GROUP_COMMIT_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <span>

namespace polycloud::store {

// One caller's request. The runner reads it and records its outcome in it
// (the fields it adds: see sql_store.cc); Submit marks it done.
struct GroupRequest {
  virtual ~GroupRequest() = default;

 private:
  friend class GroupCommitter;
  std::condition_variable wake_;
  bool done_ = false;
};

struct GroupCommitStats {
  int64_t batches = 0;
  int64_t requests = 0;
  int64_t largest_batch = 0;
};

class GroupCommitter {
 public:
  // Runs one batch (requests in arrival order) and records each request's
  // outcome in it.
  using Runner = std::function<void(std::span<GroupRequest* const>)>;

  GroupCommitter(Runner runner, size_t max_batch)
      : runner_(std::move(runner)), max_batch_(max_batch) {}

  // Queues `request` and returns once a batch holding it has run (on this
  // thread, as the leader, or on another).
  void Submit(GroupRequest& request);

  GroupCommitStats stats() const;
  // Requests waiting for a batch (not the running one); for tests.
  size_t queued() const;

 private:
  Runner runner_;
  const size_t max_batch_;
  mutable std::mutex mu_;
  std::deque<GroupRequest*> queue_;
  bool leader_active_ = false;
  GroupCommitStats stats_;
};

}  // namespace polycloud::store

#endif  // POLYCLOUD_SRC_STORE_GROUP_COMMIT_H_
