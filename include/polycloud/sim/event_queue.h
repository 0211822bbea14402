// EventQueue: the simulator's pending events, ordered by (time, insertion
// order), so events at the same instant come out in the order they were
// pushed and a run is reproducible byte for byte.
//
// It is a monotone queue: Push(at) requires `at` no earlier than the last
// popped event (checked). The simulator never schedules into the past (its
// clock would refuse to go back), and it may push an event earlier than
// top() after peeking, which is allowed.
//
// The structure is a radix heap over the integer seconds of Time (Ahuja,
// Mehlhorn, Orlin and Tarjan, 1990) with FIFO buckets. Bucket 0 holds events
// at the last popped time; bucket b > 0 those whose time first differs from it
// in bit b - 1. Pop takes the front of bucket 0; when bucket 0 is empty it
// moves the first non-empty bucket down around that bucket's earliest time,
// and every event moved lands in a strictly lower bucket. So an event is moved
// about log2(how far ahead it was pushed) times at most, each move a
// sequential copy, and Pop never searches: memory is touched in time order
// instead of all over a 24 MB heap (the 4-ary heap this replaces took a cache
// miss per level, ~10 levels a pop, with a million events pending).
// Events at one time always share a bucket and a move keeps bucket order, so
// the first pushed of equals comes out first with no sequence number stored.
// Each bucket remembers where its earliest event is, so top() is O(1) and
// moves nothing.
//
// Buckets are lists of 4 KiB chunks (255 events of 16 bytes) drawn from one
// free list: 16 bytes an event, plus at most one part-filled chunk per
// bucket (65); chunks are kept for reuse until the queue is destroyed.
// docs/performance.md has the figures (hold model, a million pending).
//
//   sim::EventQueue q;
//   q.Push(t, payload);
//   while (!q.empty() && q.top().at == now) { auto e = q.top(); q.Pop(); ... }
//
// Thread-safety: not thread-safe.
#ifndef POLYCLOUD_SIM_EVENT_QUEUE_H_
#define POLYCLOUD_SIM_EVENT_QUEUE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "polycloud/base/status.h"
#include "polycloud/base/units.h"

namespace polycloud::sim {

class EventQueue {
 public:
  struct Entry {
    Time at;
    uint64_t payload;  // packed by the owner
  };

  EventQueue() = default;
  // Buckets point into chunks the queue owns.
  EventQueue(const EventQueue&) = delete;
  EventQueue& operator=(const EventQueue&) = delete;

  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  // Allocates room for `n` events at once (optional).
  void reserve(size_t n) {
    while (chunks_.size() * kChunkEvents < n) Free(Allocate());
  }
  // The earliest entry (the first pushed among equals). Requires !empty().
  const Entry& top() const {
    if (buckets_[0].head != nullptr) return buckets_[0].head->events[buckets_[0].head_pos];
    return *earliest_[LowestBucket()];
  }

  // Adds an event at `at`. Requires `at` no earlier than the last popped
  // event's time (any time before the first Pop).
  void Push(Time at, uint64_t payload) {
    const uint64_t key = Key(at);
    POLYCLOUD_CHECK(key >= last_);
    Place(Entry{at, payload}, key);
    ++size_;
  }

  // Removes top(). Requires !empty().
  void Pop() {
    --size_;
    Bucket& b = buckets_[0];
    if (b.head == nullptr) Redistribute();
    if (++b.head_pos == b.tail_pos && b.head == b.tail) {
      Free(b.head);
      b = Bucket{};
    } else if (b.head_pos == kChunkEvents) {
      Chunk* done = b.head;
      b.head = done->next;
      b.head_pos = 0;
      Free(done);
    }
  }

 private:
  static constexpr uint32_t kChunkEvents = 255;  // a chunk is 4 KiB
  static constexpr int kBuckets = 65;            // equal, then one per differing bit

  struct Chunk {
    Entry events[kChunkEvents];
    Chunk* next;
  };
  static_assert(sizeof(Chunk) <= 4096);
  // A FIFO list of chunks: read at (head, head_pos), written at (tail,
  // tail_pos). Empty: head == nullptr, and tail_pos == kChunkEvents so the
  // first write takes a chunk.
  struct Bucket {
    Chunk* head = nullptr;
    Chunk* tail = nullptr;
    uint32_t head_pos = 0;
    uint32_t tail_pos = kChunkEvents;
  };

  // Time as an unsigned key with the same order.
  static uint64_t Key(Time t) {
    return static_cast<uint64_t>(t.unix_seconds()) ^ (uint64_t{1} << 63);
  }
  // 0 for the last popped time, else 1 + the highest bit where `key` differs.
  int BucketOf(uint64_t key) const {
    const uint64_t diff = key ^ last_;
    return diff == 0 ? 0 : 64 - __builtin_clzll(diff);
  }
  // The first non-empty bucket above 0. Requires one.
  int LowestBucket() const { return __builtin_ctzll(nonempty_) + 1; }

  Chunk* NewChunk() {
    if (free_ != nullptr) {
      Chunk* c = free_;
      free_ = c->next;
      return c;
    }
    return Allocate();
  }
  Chunk* Allocate() {
    chunks_.push_back(std::make_unique<Chunk>());
    return chunks_.back().get();
  }
  void Free(Chunk* c) {
    c->next = free_;
    free_ = c;
  }

  void Place(const Entry& e, uint64_t key) {
    const int i = BucketOf(key);
    Bucket& b = buckets_[i];
    const bool was_empty = b.head == nullptr;
    if (b.tail_pos == kChunkEvents) {
      Chunk* c = NewChunk();
      c->next = nullptr;
      if (was_empty) {
        b.head = c;
      } else {
        b.tail->next = c;
      }
      b.tail = c;
      b.tail_pos = 0;
    }
    Entry* slot = &b.tail->events[b.tail_pos++];
    *slot = e;
    // Strictly earlier only: among equals the first pushed stays earliest.
    if (i > 0 && (was_empty || key < Key(earliest_[i]->at))) {
      earliest_[i] = slot;
      nonempty_ |= uint64_t{1} << (i - 1);
    }
  }

  // Bucket 0 is empty: makes the earliest time the last popped one and moves
  // the first non-empty bucket down around it, in order, so that bucket 0
  // holds the events at that time.
  void Redistribute() {
    const int i = LowestBucket();
    nonempty_ &= nonempty_ - 1;
    last_ = Key(earliest_[i]->at);
    const Bucket from = buckets_[i];
    buckets_[i] = Bucket{};
    for (Chunk* c = from.head; c != nullptr;) {
      const uint32_t end = c == from.tail ? from.tail_pos : kChunkEvents;
      for (uint32_t j = 0; j < end; ++j) Place(c->events[j], Key(c->events[j].at));
      Chunk* next = c->next;
      Free(c);
      c = next;
    }
  }

  Bucket buckets_[kBuckets];
  Entry* earliest_[kBuckets] = {};  // the earliest event of each non-empty bucket > 0
  uint64_t nonempty_ = 0;           // bit b - 1 set: bucket b > 0 is non-empty
  uint64_t last_ = 0;               // Key() of the last popped time
  size_t size_ = 0;
  Chunk* free_ = nullptr;
  std::vector<std::unique_ptr<Chunk>> chunks_;  // owns every chunk
};

}  // namespace polycloud::sim

#endif  // POLYCLOUD_SIM_EVENT_QUEUE_H_
