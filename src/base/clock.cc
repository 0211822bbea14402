#include "polycloud/base/clock.h"

#include <chrono>

#include "polycloud/base/status.h"

namespace polycloud {

void VirtualClock::AdvanceTo(Time t) {
  POLYCLOUD_CHECK(t >= now_);
  now_ = t;
}

Time WallClock::Now() const {
  auto s = std::chrono::duration_cast<std::chrono::seconds>(
      std::chrono::system_clock::now().time_since_epoch());
  return Time::FromUnixSeconds(s.count());
}

}  // namespace polycloud
