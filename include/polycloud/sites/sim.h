// The `sim` site driver: a dry run with no side effects. A run starts when it
// is submitted and completes `expected` later on the clock passed in (the
// broker's wall clock, or a test's VirtualClock); Cancel before then ends it
// as cancelled. Ids are "sim-1", "sim-2", ... in submission order.
//
//   VirtualClock clock(t0);
//   SimDriver site(clock);
//   site.Submit({.job = "j1", .run = 1, .gpus = 8, .expected = Duration::Hours(2)});
//   clock.AdvanceTo(t0 + Duration::Hours(2));   // List: j1 completed, ended t0+2h
//
// Thread-safety: not thread-safe.
#ifndef POLYCLOUD_SITES_SIM_H_
#define POLYCLOUD_SITES_SIM_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "polycloud/base/clock.h"
#include "polycloud/base/status.h"
#include "polycloud/sites/driver.h"

namespace polycloud::sites {

class SimDriver final : public SiteDriver {
 public:
  explicit SimDriver(const Clock& clock) : clock_(clock) {}  // not owned

  // kInvalidArgument as CheckDispatchRequest; never fails otherwise.
  Result<std::string> Submit(const DispatchRequest& request) override;
  // Unknown or finished ids: Ok.
  Status Cancel(std::string_view external_id) override;
  // Every run submitted, in submission order, as of clock.Now().
  Result<std::vector<SiteJob>> List() override;

 private:
  struct Run {
    std::string job;
    uint32_t run = 0;
    Time started;
    Time ends;  // started + expected
    bool cancelled = false;
    Time cancelled_at;
  };
  const Clock& clock_;
  std::vector<Run> runs_;
};

}  // namespace polycloud::sites

#endif  // POLYCLOUD_SITES_SIM_H_
