// The `polycloud fragmentation` subcommand: the FGD paper's fragmentation
// experiment (docs/traces.md, "The fragmentation experiment").
#ifndef POLYCLOUD_APPS_FRAGMENTATION_COMMAND_H_
#define POLYCLOUD_APPS_FRAGMENTATION_COMMAND_H_

#include <CLI/CLI.hpp>
#include <functional>

namespace polycloud {

// Registers `fragmentation` on `app`. The returned function runs it and returns
// the exit code; call it when the subcommand was given.
std::function<int()> AddFragmentationCommand(CLI::App& app);

}  // namespace polycloud

#endif  // POLYCLOUD_APPS_FRAGMENTATION_COMMAND_H_
