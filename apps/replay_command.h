// The `polycloud replay` subcommand (trace replays, docs/traces.md "Replays").
#ifndef POLYCLOUD_APPS_REPLAY_COMMAND_H_
#define POLYCLOUD_APPS_REPLAY_COMMAND_H_

#include <CLI/CLI.hpp>
#include <functional>

namespace polycloud {

// Registers `replay` on `app`. The returned function runs it and returns the
// exit code; call it when the subcommand was given (`*app.get_subcommand("replay")`).
std::function<int()> AddReplayCommand(CLI::App& app);

}  // namespace polycloud

#endif  // POLYCLOUD_APPS_REPLAY_COMMAND_H_
