// The live broker's subcommands: `serve`, `token create`, and the client
// commands `submit`, `jobs`, `status`, `cancel` (and `explain --server`,
// registered with explain in polycloud.cc). docs/cli.md, docs/api.md.
#ifndef POLYCLOUD_APPS_SERVE_COMMAND_H_
#define POLYCLOUD_APPS_SERVE_COMMAND_H_

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

namespace polycloud {

// Registers the subcommands on `app`. The returned function runs whichever
// was given and returns its exit code, or -1 when none of them was.
std::function<int()> AddServeCommands(CLI::App& app);

// `polycloud explain JOB --server URL`: the server's explanation of a job.
int ExplainOnServer(const std::string& server, const std::string& job, bool as_json);

}  // namespace polycloud

#endif  // POLYCLOUD_APPS_SERVE_COMMAND_H_
