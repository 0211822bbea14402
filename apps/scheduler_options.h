// The scenario's scheduler keys that the apps pass to the core: shared by
// simulate/explain/contracts (polycloud.cc) and serve (serve_command.cc), so
// the live broker runs the core exactly as the simulator does.
#ifndef POLYCLOUD_APPS_SCHEDULER_OPTIONS_H_
#define POLYCLOUD_APPS_SCHEDULER_OPTIONS_H_

#include "polycloud/io/scenario.h"
#include "polycloud/scheduler/scheduler.h"

namespace polycloud {

// Sets the rebalance options the scenario gives (scheduler.rebalance); keys
// it leaves out keep the core's defaults.
inline void ApplyRebalanceKeys(const io::ScenarioRebalance& keys,
                               scheduler::RebalanceOptions* options) {
  if (keys.enabled) options->enabled = *keys.enabled;
  if (keys.every) options->every = *keys.every;
  if (keys.horizon) options->horizon = *keys.horizon;
  if (keys.min_dwell) options->min_dwell = *keys.min_dwell;
  if (keys.min_saving) options->min_saving = *keys.min_saving;
  if (keys.max_moves) options->max_moves = *keys.max_moves;
}

}  // namespace polycloud

#endif  // POLYCLOUD_APPS_SCHEDULER_OPTIONS_H_
