#include "polycloud/traces/accelerator_names.h"

#include <cctype>
#include <utility>

namespace polycloud::traces {

const std::vector<AcceleratorAlias>& AcceleratorNames::DefaultAliases() {
  static const std::vector<AcceleratorAlias> kAliases = {
      // A100 family: the built-in A100 is the 80 GB SXM part; the 40 GB and PCIe
      // parts have the same compute. A800 is the export variant (same silicon,
      // NVLink capped at 400 GB/s).
      {"A100-40GB", "A100", "A100 with 40 GB HBM; same compute"},
      {"A100-80GB", "A100", "the built-in A100 is the 80 GB part"},
      {"A100-SXM4-40GB", "A100", "A100 SXM with 40 GB HBM; same compute"},
      {"A100-SXM4-80GB", "A100", "nvidia-smi name of the 80 GB A100"},
      {"A100-PCIE-40GB", "A100", "PCIe A100; same compute, lower power"},
      {"A100-PCIE-80GB", "A100", "PCIe A100; same compute, lower power"},
      {"A100-80GB-PCIE", "A100", "PCIe A100; same compute, lower power"},
      {"A800", "A100", "export variant of A100: same silicon, slower NVLink"},
      {"A800-SXM4-80GB", "A100", "export variant of A100: same silicon, slower NVLink"},
      // H100 family.
      {"H100-80GB", "H100", "the built-in H100 is the 80 GB SXM part"},
      {"H100-SXM", "H100", "the built-in H100 is the SXM part"},
      {"H100-SXM5-80GB", "H100", "nvidia-smi name of the SXM H100"},
      {"H100-PCIE", "H100", "PCIe H100; nearest is the SXM part"},
      {"H100-NVL", "H100", "H100 NVL (94 GB); nearest is the SXM part"},
      {"H100-MEGA", "H100", "GCP a3-megagpu: H100 SXM with a faster network"},
      {"H800", "H100", "export variant of H100: same silicon, slower NVLink"},
      {"H800-SXM5-80GB", "H100", "export variant of H100: same silicon, slower NVLink"},
      {"GH200", "H100", "Grace Hopper: an H100-class GPU with a Grace CPU"},
      {"H200-141GB", "H200", "the built-in H200"},
      // V100 family: 16 and 32 GB parts have the same compute.
      {"V100-16GB", "V100", "V100 with 16 GB HBM; same compute"},
      {"V100-32GB", "V100", "the built-in V100 is the 32 GB part"},
      {"V100-SXM2-16GB", "V100", "nvidia-smi name of the 16 GB V100"},
      {"V100-SXM2-32GB", "V100", "nvidia-smi name of the 32 GB V100"},
      {"V100M16", "V100", "Alibaba code for the 16 GB V100"},
      {"V100M32", "V100", "Alibaba code for the 32 GB V100"},
      // Older and smaller parts.
      {"P40", "P100", "Pascal P40 (Philly): nearest built-in is the Pascal P100"},
      {"A10G", "A10", "AWS variant of A10"},
      // Undisclosed internal codes: an assumption, stated in docs/traces.md.
      // Override with AddAccelerator() when you know better.
      {"G1", "V100", "Alibaba undisclosed code; assumed a V100-class training GPU"},
      {"G2", "V100", "Alibaba undisclosed code; assumed a V100-class training GPU"},
      {"G3", "V100", "Alibaba undisclosed code; assumed a V100-class training GPU"},
      {"GPU-series-1", "A100", "Alibaba undisclosed code; assumed A100-class like its fleet"},
      {"GPU-series-2", "A100", "Alibaba undisclosed code; assumed A100-class like its fleet"},
  };
  return kAliases;
}

std::string AcceleratorNames::Key(std::string_view name) {
  std::string key;
  key.reserve(name.size());
  for (char c : name) {
    if (c == '_' || c == ' ') {
      key += '-';
    } else {
      key += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
  }
  return key;
}

AcceleratorNames::AcceleratorNames() : AcceleratorNames(world::BuiltinAccelerators()) {}

AcceleratorNames::AcceleratorNames(std::vector<world::Accelerator> table)
    : table_(std::move(table)) {
  for (size_t i = 0; i < table_.size(); ++i) {
    exact_.emplace(Key(table_[i].name), static_cast<world::AcceleratorIndex>(i));
  }
  for (const AcceleratorAlias& alias : DefaultAliases()) {
    auto it = exact_.find(Key(alias.table_name));
    if (it != exact_.end()) aliases_[Key(alias.trace_name)] = it->second;
  }
}

Status AcceleratorNames::AddAlias(std::string_view trace_name, std::string_view table_name) {
  auto it = exact_.find(Key(table_name));
  if (it == exact_.end()) {
    return InvalidArgument("alias " + std::string(trace_name) + " -> " + std::string(table_name) +
                           ": no accelerator named '" + std::string(table_name) + "' in the table");
  }
  aliases_[Key(trace_name)] = it->second;
  return Status::Ok();
}

Status AcceleratorNames::AddAccelerator(world::Accelerator accelerator) {
  std::string key = Key(accelerator.name);
  if (accelerator.name.empty()) return InvalidArgument("an accelerator needs a name");
  if (accelerator.idle_watts == Power())
    accelerator.idle_watts = world::DefaultIdleWatts(accelerator.watts);
  if (exact_.count(key) != 0) {
    return InvalidArgument("accelerator '" + accelerator.name + "' is already in the table");
  }
  exact_.emplace(std::move(key), static_cast<world::AcceleratorIndex>(table_.size()));
  table_.push_back(std::move(accelerator));
  return Status::Ok();
}

Status AcceleratorNames::KeepDistinct(std::string_view trace_name) {
  world::AcceleratorIndex index = Resolve(trace_name);
  if (index == world::kNone) {
    return InvalidArgument("cannot keep '" + std::string(trace_name) +
                           "' distinct: it is not a known accelerator or alias");
  }
  world::Accelerator copy = table_[index];
  copy.name = std::string(trace_name);
  return AddAccelerator(std::move(copy));
}

world::AcceleratorIndex AcceleratorNames::Resolve(std::string_view trace_name) const {
  std::string key = Key(trace_name);
  if (auto it = exact_.find(key); it != exact_.end()) return it->second;
  if (auto it = aliases_.find(key); it != aliases_.end()) return it->second;
  return world::kNone;
}

}  // namespace polycloud::traces
