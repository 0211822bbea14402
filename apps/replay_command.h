// The `polycloud replay` subcommand (trace replays, docs/traces.md "Replays").
#ifndef POLYCLOUD_APPS_REPLAY_COMMAND_H_
#define POLYCLOUD_APPS_REPLAY_COMMAND_H_

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

#include "polycloud/base/status.h"
#include "polycloud/replay/replay.h"
#include "polycloud/world/world.h"

namespace polycloud {

// Registers `replay` on `app`. The returned function runs it and returns the
// exit code; call it when the subcommand was given (`*app.get_subcommand("replay")`).
std::function<int()> AddReplayCommand(CLI::App& app);

// `--trace FORMAT:PATH` (repeatable) and `--skip-bad-rows` for validate, simulate and explain.
void AddTraceOptions(CLI::App* cmd, std::vector<std::string>& traces, bool& skip_bad_rows);
// Adds each trace to `world` (replay::AddTraceToWorldReported) and says what
// each read (the caller reports skipped bad rows).
Result<std::vector<replay::AppliedTrace>> AddTraces(const std::vector<std::string>& traces,
                                                    bool skip_bad_rows, world::World& world);

}  // namespace polycloud

#endif  // POLYCLOUD_APPS_REPLAY_COMMAND_H_
