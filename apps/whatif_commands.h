// The what-if commands (docs/whatif.md): `polycloud diff A.json B.json` and
// `polycloud sweep SCENARIO --vary PATH=v1,v2 ...` (locally in parallel, or as
// a Slurm job array).
#ifndef POLYCLOUD_APPS_WHATIF_COMMANDS_H_
#define POLYCLOUD_APPS_WHATIF_COMMANDS_H_

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace polycloud {

// Registers `diff` and `sweep` on `app`. The returned function runs the one
// given and returns its exit code, or -1 when neither was.
std::function<int()> AddWhatIfCommands(CLI::App& app);

// "a,[b, c],{d: e}" → {"a", "[b, c]", "{d: e}"}: commas inside brackets,
// braces or quotes do not split. Used for --vary.
std::vector<std::string> SplitVaryValues(const std::string& text);

}  // namespace polycloud

#endif  // POLYCLOUD_APPS_WHATIF_COMMANDS_H_
