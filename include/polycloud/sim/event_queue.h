// EventQueue: the simulator's pending events, a 4-ary min-heap ordered by
// (time, insertion order), so events at the same instant come out in the
// order they were pushed and a run is reproducible byte for byte.
//
// A 4-ary heap is half as deep as a binary one and its four children share a
// cache line or two, which matters with a million events pending; each entry
// is 24 bytes (time, sequence number, and a 64-bit payload the owner packs).
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
#include <vector>

#include "polycloud/base/units.h"

namespace polycloud::sim {

class EventQueue {
 public:
  struct Entry {
    Time at;
    uint64_t seq;
    uint64_t payload;
  };

  bool empty() const { return heap_.empty(); }
  size_t size() const { return heap_.size(); }
  void reserve(size_t n) { heap_.reserve(n); }
  // The earliest entry (the first pushed among equals). Requires !empty().
  const Entry& top() const { return heap_.front(); }

  void Push(Time at, uint64_t payload) {
    heap_.push_back(Entry{at, seq_++, payload});
    SiftUp(heap_.size() - 1);
  }

  // Removes top(). Requires !empty().
  void Pop() {
    const Entry last = heap_.back();
    heap_.pop_back();
    if (!heap_.empty()) SiftDown(last);
  }

 private:
  static bool Before(const Entry& a, const Entry& b) {
    return a.at != b.at ? a.at < b.at : a.seq < b.seq;
  }
  void SiftUp(size_t i) {
    const Entry e = heap_[i];
    while (i > 0) {
      const size_t parent = (i - 1) / 4;
      if (!Before(e, heap_[parent])) break;
      heap_[i] = heap_[parent];
      i = parent;
    }
    heap_[i] = e;
  }
  // Places `e` (the former last entry) from the root down.
  void SiftDown(const Entry& e) {
    const size_t n = heap_.size();
    size_t i = 0;
    while (true) {
      const size_t first = 4 * i + 1;
      if (first >= n) break;
      size_t best = first;
      const size_t end = first + 4 < n ? first + 4 : n;
      for (size_t c = first + 1; c < end; ++c) {
        if (Before(heap_[c], heap_[best])) best = c;
      }
      if (!Before(heap_[best], e)) break;
      heap_[i] = heap_[best];
      i = best;
    }
    heap_[i] = e;
  }

  std::vector<Entry> heap_;
  uint64_t seq_ = 0;
};

}  // namespace polycloud::sim

#endif  // POLYCLOUD_SIM_EVENT_QUEUE_H_
