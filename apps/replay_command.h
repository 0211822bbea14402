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

// A check for an integer option (add it with ->transform(), which may rewrite
// the text), run on its text before CLI11 converts it:
// plain decimal digits (a leading '-' when min < 0) whose value lies in
// [min, max]. CLI11's own conversion (strtoull, base 0) reads "010" as octal,
// clamps values out of range and wraps "-1" to 2^64-1; a check keeps all of
// those from being silently coerced.
CLI::Validator IntegerIn(int64_t min, int64_t max);
// The same for the full range of uint64_t (seeds).
CLI::Validator AnyUint64();

// `--trace FORMAT:PATH` (repeatable) and `--skip-bad-rows` for validate, simulate and explain.
void AddTraceOptions(CLI::App* cmd, std::vector<std::string>& traces, bool& skip_bad_rows);
// Adds each trace to `world` (replay::AddTraceToWorldReported) and says what
// each read (the caller reports skipped bad rows).
Result<std::vector<replay::AppliedTrace>> AddTraces(const std::vector<std::string>& traces,
                                                    bool skip_bad_rows, world::World& world);

}  // namespace polycloud

#endif  // POLYCLOUD_APPS_REPLAY_COMMAND_H_
