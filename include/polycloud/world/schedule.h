// StepSchedule<V>: a value that changes at given instants and holds between
// them (a pool's GPUs as it ramps, a site's power, a service's demand).
//
// Before the first point the value is `initial` (0 unless set). Linear ramps are
// turned into steps by the loader, so the simulator only sees steps and every
// change is an event at an exact second.
//
//   StepSchedule<int64_t> gpus;
//   gpus.Set(Time::Min(), 0); gpus.Set(ParseTime("2026-01-01").value(), 1000);
//   gpus.At(t);
#ifndef POLYCLOUD_WORLD_SCHEDULE_H_
#define POLYCLOUD_WORLD_SCHEDULE_H_

#include <algorithm>
#include <utility>
#include <vector>

#include "polycloud/base/units.h"

namespace polycloud::world {

template <typename V>
class StepSchedule {
 public:
  struct Point {
    Time at;
    V value;
  };

  StepSchedule() = default;
  explicit StepSchedule(V constant) { points_.push_back({Time::Min(), constant}); }

  // Adds or replaces the value from `at` on. Points may be added in any order.
  void Set(Time at, V value) {
    auto it = std::lower_bound(points_.begin(), points_.end(), at,
                               [](const Point& p, Time t) { return p.at < t; });
    if (it != points_.end() && it->at == at) {
      it->value = value;
    } else {
      points_.insert(it, Point{at, value});
    }
  }

  // The value in force at `t`.
  V At(Time t) const {
    auto it = std::upper_bound(points_.begin(), points_.end(), t,
                               [](Time x, const Point& p) { return x < p.at; });
    if (it == points_.begin()) return V{};
    return std::prev(it)->value;
  }

  // The largest value ever in force.
  V Max() const {
    V m{};
    for (const Point& p : points_) m = std::max(m, p.value);
    return m;
  }

  const std::vector<Point>& points() const { return points_; }
  bool empty() const { return points_.empty(); }

 private:
  std::vector<Point> points_;  // sorted by `at`, unique
};

}  // namespace polycloud::world

#endif  // POLYCLOUD_WORLD_SCHEDULE_H_
