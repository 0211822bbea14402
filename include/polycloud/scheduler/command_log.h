// The command log as text: one JSON object per line, each an accepted
// command stamped with the instant it was applied (docs/commands.md). Jobs,
// services, pools, sites and faults are named by their ids, so a log reads
// on its own and survives a reordering of the scenario file. Replaying a log
// into a fresh core of the same World and options rebuilds its state exactly
// (sim::Simulator::Restore); this is what `simulate --command-log` writes,
// `simulate --restore` reads, and what `serve` will persist.
//
//   {"at":"2026-01-02T00:00:00Z","command":"submit-job","job":{"id":"j1","gpus":8,...}}
//   {"at":"2026-01-02T00:00:00Z","command":"place"}
//
//   std::ofstream out("run.log");
//   JsonCommandLog log(scheduler, out);
//   scheduler.AttachLog(&log);
//   ...
//   Result<std::vector<LoggedCommand>> commands = ParseCommandLog(text, world, "run.log");
//
// Thread-safety: JsonCommandLog is not thread-safe; ParseCommandLog is pure.
#ifndef POLYCLOUD_SCHEDULER_COMMAND_LOG_H_
#define POLYCLOUD_SCHEDULER_COMMAND_LOG_H_

#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "polycloud/base/status.h"
#include "polycloud/scheduler/command.h"
#include "polycloud/scheduler/scheduler.h"

namespace polycloud::scheduler {

// Writes every command it is given as one JSON line to `out`, naming jobs and
// services through `scheduler`'s registry. The stream's state is the
// caller's to check (a failed write sets its badbit).
class JsonCommandLog final : public CommandLog {
 public:
  JsonCommandLog(const Scheduler& scheduler, std::ostream& out)
      : scheduler_(scheduler), out_(out) {}
  void Append(Time now, const Command& command) override;

 private:
  const Scheduler& scheduler_;
  std::ostream& out_;
};

// One JSON line for `command` applied at `now` (no newline).
std::string CommandToJson(const Scheduler& scheduler, Time now, const Command& command);

// Parses a whole log written by JsonCommandLog against `world`. Ids are
// resolved as a replay would see them: the world's jobs and services, then
// those the log itself submitted, in order. Errors (InvalidInput):
// "<name>:<line>:<column>: <JSON pointer>: expected ..., found ..." for bad
// JSON, unknown keys, wrong types, unknown ids, duplicate submissions, or
// instants that go backwards. Nothing is returned from an invalid log.
Result<std::vector<LoggedCommand>> ParseCommandLog(std::string_view text, const world::World& world,
                                                   const std::string& name);

}  // namespace polycloud::scheduler

#endif  // POLYCLOUD_SCHEDULER_COMMAND_LOG_H_
