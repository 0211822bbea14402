// Test helper: an Observer that keeps every scheduler event, with counts
// and lookups by type, for tests that drive the scheduler directly.
#ifndef POLYCLOUD_TESTS_TESTING_EVENT_RECORDER_H_
#define POLYCLOUD_TESTS_TESTING_EVENT_RECORDER_H_

#include <vector>

#include "polycloud/scheduler/scheduler.h"

namespace polycloud::testing {

class EventRecorder final : public scheduler::Observer {
 public:
  void OnEvent(const scheduler::Event& e) override { events.push_back(e); }
  int Count(scheduler::EventType type) const {
    int n = 0;
    for (const scheduler::Event& e : events) n += e.type == type;
    return n;
  }
  const scheduler::Event* First(scheduler::EventType type) const {
    for (const scheduler::Event& e : events) {
      if (e.type == type) return &e;
    }
    return nullptr;
  }
  const scheduler::Event* Last(scheduler::EventType type) const {
    for (auto it = events.rbegin(); it != events.rend(); ++it) {
      if (it->type == type) return &*it;
    }
    return nullptr;
  }
  std::vector<scheduler::Event> events;
};

}  // namespace polycloud::testing

#endif  // POLYCLOUD_TESTS_TESTING_EVENT_RECORDER_H_
