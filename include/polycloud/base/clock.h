// Clock: where "now" comes from. The scheduler core never reads the system
// time; the simulator passes a VirtualClock it advances event by event, the
// live broker a WallClock. Thread-safety: VirtualClock is not thread-safe;
// WallClock is.
#ifndef POLYCLOUD_BASE_CLOCK_H_
#define POLYCLOUD_BASE_CLOCK_H_

#include "polycloud/base/units.h"

namespace polycloud {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Time Now() const = 0;
};

// Time stands still until the owner advances it; it never goes backwards.
class VirtualClock final : public Clock {
 public:
  explicit VirtualClock(Time start) : now_(start) {}
  Time Now() const override { return now_; }
  // Moves to `t`; a `t` earlier than Now() is a programmer error.
  void AdvanceTo(Time t);

 private:
  Time now_;
};

class WallClock final : public Clock {
 public:
  Time Now() const override;
};

}  // namespace polycloud

#endif  // POLYCLOUD_BASE_CLOCK_H_
