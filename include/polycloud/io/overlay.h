// What-if overrides of a scenario: overlay fragments (`--with FILE`), edits of
// one value (`--set PATH=VALUE`) and removals (`--unset PATH`), applied to the
// scenario's YAML tree before it is validated, so everything downstream sees
// an ordinary scenario (docs/whatif.md).
//
//   io::LoadOptions options;
//   options.overrides.push_back({io::Override::Kind::kWith, "plan.yaml"});
//   options.overrides.push_back({io::Override::Kind::kSet, "pools.aws-gb200.gpus.shift=+180d"});
//   Result<io::Scenario> s = io::LoadScenarioFile("examples/openai-2025.yaml", options);
//
// Paths are dotted keys; a list item is named by its `id` (or `name`), by an
// index in brackets (`jobs[3]`), or `*` for every item; a segment with a `*`
// in it (`aws-*`) names every item or key it matches. A last segment
// `shift` (a signed duration) moves every time below the node; `scale` (a
// decimal factor) multiplies a number or every value of a schedule.
//
// Errors name the argument (`--set #2 \`TEXT\`, column 7: ...`) or the
// fragment's file:line:column; they are collected with the scenario's own
// diagnostics, and nothing is loaded when there is any.
//
// Thread-safety: the functions are reentrant.
#ifndef POLYCLOUD_IO_OVERLAY_H_
#define POLYCLOUD_IO_OVERLAY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "polycloud/base/status.h"

namespace polycloud::io {

// One override, as given on the command line.
struct Override {
  enum class Kind { kWith, kSet, kUnset };
  Kind kind = Kind::kSet;
  // kWith: the fragment's path; kSet: "PATH=VALUE"; kUnset: "PATH".
  std::string argument;
  // kWith only: the fragment's text when already in memory (tests, the fuzz
  // target); the file at `argument` is read otherwise.
  std::optional<std::string> content;

  // "--with plan.yaml", "--set pools.x.gpus=8", "--unset contracts.a.rofr".
  std::string ToString() const;
};

// One segment of a path.
struct PathSegment {
  enum class Kind {
    kKey,    // a mapping key, or a list item's id or name
    kIndex,  // [N]: a list item by position (from 0)
    kAll,    // * or [*]: every item of a list, every value of a mapping
  };
  Kind kind = Kind::kKey;
  std::string key;      // kKey
  int64_t index = 0;    // kIndex
  int column = 0;       // where the segment starts in the argument, from 1
  bool quoted = false;  // kKey written in double quotes ("a.b")
};

// A parsed `--set` or `--unset` argument.
struct SetArgument {
  std::vector<PathSegment> path;
  bool has_value = false;  // false for --unset
  std::string value;       // the text after the first '=' outside quotes and brackets
  int value_column = 0;    // where the value starts, from 1
};

// An argument that cannot be parsed: what is wrong and the column (from 1).
struct ArgumentError {
  int column = 0;
  std::string message;
};

// Parses "PATH=VALUE" (with_value) or "PATH". Grammar:
//   path    := segment ('.' segment)*
//   segment := (name | '"' text '"' | '*') ('[' (digits | '*' | id) ']')*
// A name is any run of characters other than . [ ] = " and control bytes.
// Returns the error with its column when the text is not a path.
std::optional<ArgumentError> ParseSetArgument(std::string_view text, bool with_value,
                                              SetArgument* out);

// The largest shift accepted (100 years), and the largest scale factor.
inline constexpr int64_t kMaxShiftSeconds = int64_t{100} * 366 * 86400;
inline constexpr int64_t kMaxScaleMillionths = int64_t{1'000'000} * 1'000'000;

}  // namespace polycloud::io

#endif  // POLYCLOUD_IO_OVERLAY_H_
