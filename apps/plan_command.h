#ifndef POLYCLOUD_APPS_PLAN_COMMAND_H_
#define POLYCLOUD_APPS_PLAN_COMMAND_H_

#include <CLI/CLI.hpp>
#include <functional>

namespace polycloud {

// Registers `plan` on `app`. The returned function runs it and returns the
// exit code; call it when the subcommand was given.
std::function<int()> AddPlanCommand(CLI::App& app);

}  // namespace polycloud

#endif  // POLYCLOUD_APPS_PLAN_COMMAND_H_
