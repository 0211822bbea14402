// AcceleratorNames: how a GPU model name found in a trace or catalog
// ("A100-SXM4-80GB", "V100M32", "P40", Alibaba's undisclosed "G2") becomes an
// entry of polycloud's accelerator table (world::BuiltinAccelerators() plus
// whatever the caller adds).
//
// Resolution, case-insensitive with '_' and ' ' read as '-':
//   1. an entry of the table with that exact name (so a caller-supplied
//      Accelerator{"P40", ...} wins over any alias), then
//   2. the alias table: DefaultAliases() (documented in docs/traces.md, each
//      with its reason) and any AddAlias() calls, mapping to the nearest
//      built-in type.
// Anything else is unknown (kNone); readers report it.
//
// Collapsing variants (V100M16 and V100M32 both become V100) is right for
// pricing and speed but loses a distinction a trace may rely on (gpu_spec
// constraints); KeepDistinct("V100M32") adds a separate table entry with the
// specs of its alias target, so the name survives as its own type.
//
//   AcceleratorNames names;                       // built-ins + default aliases
//   POLYCLOUD_RETURN_IF_ERROR(names.AddAccelerator({"P40", 24, Power::Watts(250), 70}));
//   world::AcceleratorIndex a = names.Resolve("A100-SXM4-80GB");  // -> "A100"
//
// Indices returned refer to table(). Build it from a World's accelerators
// (AcceleratorNames(world.accelerators)) to get indices valid in that World.
// Thread-safety: const methods are safe to call concurrently.
#ifndef POLYCLOUD_TRACES_ACCELERATOR_NAMES_H_
#define POLYCLOUD_TRACES_ACCELERATOR_NAMES_H_

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "polycloud/base/status.h"
#include "polycloud/world/world.h"

namespace polycloud::traces {

struct AcceleratorAlias {
  std::string_view trace_name;  // as it appears in traces and catalogs
  std::string_view table_name;  // the built-in it maps to
  std::string_view why;         // the reason, shown in docs/traces.md
};

class AcceleratorNames {
 public:
  // world::BuiltinAccelerators() with DefaultAliases().
  AcceleratorNames();
  // `table` (e.g. a World's accelerators) with those DefaultAliases() whose
  // target is in `table`.
  explicit AcceleratorNames(std::vector<world::Accelerator> table);

  // The built-in alias list.
  static const std::vector<AcceleratorAlias>& DefaultAliases();

  // Maps `trace_name` to the table entry `table_name` (replacing an alias of
  // the same name). Errors: InvalidArgument if `table_name` is not in the table.
  Status AddAlias(std::string_view trace_name, std::string_view table_name);
  // Appends an entry. Errors: InvalidArgument if the name is already in the table.
  Status AddAccelerator(world::Accelerator accelerator);
  // Appends an entry named `trace_name` with the specs of the entry it resolves
  // to now. Errors: InvalidArgument if it does not resolve or is already an entry.
  Status KeepDistinct(std::string_view trace_name);

  // The table index for `trace_name`, or world::kNone when unknown.
  world::AcceleratorIndex Resolve(std::string_view trace_name) const;

  const std::vector<world::Accelerator>& table() const { return table_; }
  const world::Accelerator& at(world::AcceleratorIndex index) const { return table_[index]; }

 private:
  static std::string Key(std::string_view name);

  std::vector<world::Accelerator> table_;
  std::unordered_map<std::string, world::AcceleratorIndex> exact_;
  std::unordered_map<std::string, world::AcceleratorIndex> aliases_;
};

}  // namespace polycloud::traces

#endif  // POLYCLOUD_TRACES_ACCELERATOR_NAMES_H_
