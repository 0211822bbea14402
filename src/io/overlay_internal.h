// The YAML-tree half of the what-if overrides (polycloud/io/overlay.h), for
// the scenario loader only: it needs yaml-cpp types, which the public headers
// do not expose.
//
// Marks: every node an override adds carries a mark whose line is the
// override's own line in the loader's line space (each input — the scenario,
// each fragment, each argument — occupies its own range of lines), so the
// loader's diagnostics can say which input a value came from.
#ifndef POLYCLOUD_IO_OVERLAY_INTERNAL_H_
#define POLYCLOUD_IO_OVERLAY_INTERNAL_H_

#include <yaml-cpp/yaml.h>

#include <functional>
#include <string>
#include <string_view>

#include "polycloud/io/overlay.h"

namespace polycloud::io::internal {

// Receives one error at a mark in the loader's line space.
using ErrorSink = std::function<void(const YAML::Mark&, const std::string&)>;

// Parses `yaml` as if it started at (line, column), both from 0, so the
// node's marks point there. Throws YAML::Exception on bad YAML.
YAML::Node ParseAt(std::string_view yaml, int line, int column);

// Merges the mapping `overlay` into the mapping `base` (docs/whatif.md):
// mappings merge key by key, lists whose items all have an `id` merge item by
// item (an item `{id: X, remove: true}` removes X), anything else replaces.
// The overlay's nodes are kept, marks and all.
void MergeOverlay(YAML::Node base, const YAML::Node& overlay, const ErrorSink& error);

// Applies one --set or --unset to the scenario tree `root`; `line` is the
// argument's line in the loader's line space. Reports through `error` and
// returns false when the argument cannot be applied; the tree may then be
// partly edited, and the loader does not read it.
bool ApplyEdit(YAML::Node root, const Override& edit, int line, const ErrorSink& error);

}  // namespace polycloud::io::internal

#endif  // POLYCLOUD_IO_OVERLAY_INTERNAL_H_
