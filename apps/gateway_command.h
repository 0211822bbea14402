// `polycloud gateway`: the OpenAI-compatible gateway that routes model
// requests under the scenario's contracts, and `gateway key create`
// (docs/gateway.md).
#ifndef POLYCLOUD_APPS_GATEWAY_COMMAND_H_
#define POLYCLOUD_APPS_GATEWAY_COMMAND_H_

#include <CLI/CLI.hpp>
#include <functional>

namespace polycloud {

// Registers the subcommand on `app`. The returned function runs it when it
// was given and returns its exit code, or -1 when it was not.
std::function<int()> AddGatewayCommands(CLI::App& app);

}  // namespace polycloud

#endif  // POLYCLOUD_APPS_GATEWAY_COMMAND_H_
