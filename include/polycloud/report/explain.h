// Explain: why a workload is where it is, or why it waits.
//
// Runs the (deterministic) simulation up to an instant while the scheduler
// records a full explanation of every placement attempt of one workload —
// each pool's verdict from each filter, and each survivor's raw and
// normalised scores — then renders the workload's timeline, its state at that
// instant and its decisions, the latest in full.
//
//   Result<std::string> text = report::Explain(world, options, "frontier-1", at);
//
// Thread-safety: reentrant.
#ifndef POLYCLOUD_REPORT_EXPLAIN_H_
#define POLYCLOUD_REPORT_EXPLAIN_H_

#include <optional>
#include <ostream>
#include <string>

#include "polycloud/base/status.h"
#include "polycloud/sim/simulator.h"
#include "polycloud/world/world.h"

namespace polycloud::report {

// Writes the explanation of workload `id` (a job or a service) at `at`
// (default: the end of the run) to `out`. kNotFound when no workload has that
// id (the message suggests close ids).
Status Explain(const world::World& world, const sim::Options& options, const std::string& id,
               std::optional<Time> at, std::ostream& out);

// Explain on demand (the live broker's explain): the workload `id` (a job or
// service of `scheduler`'s registry) from the scheduler's current state — its
// status, its last recorded decision (Options::record_decisions) and every
// pool's verdict for placing it at `now` — without re-running anything.
// kNotFound when no workload has that id.
Status ExplainNow(scheduler::Scheduler& scheduler, const std::string& id, Time now,
                  std::ostream& out);

}  // namespace polycloud::report

#endif  // POLYCLOUD_REPORT_EXPLAIN_H_
