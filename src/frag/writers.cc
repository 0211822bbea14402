// Text and JSON output of the fragmentation experiment. Figures are integers
// rounded once to what is shown, so the output is the same on every machine.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "polycloud/frag/experiment.h"

namespace polycloud::frag {
namespace {

// `value` / `unit` with `decimals` decimals, rounded half up (value >= 0).
std::string Fixed(int64_t value, int64_t unit, int decimals) {
  int64_t scale = 1;
  for (int i = 0; i < decimals; ++i) scale *= 10;
  const int64_t scaled = (2 * value * scale / unit + 1) / 2;  // value, unit small enough here
  std::string s = std::to_string(scaled / scale);
  if (decimals > 0) {
    std::string frac = std::to_string(scaled % scale);
    s += "." + std::string(decimals - frac.size(), '0') + frac;
  }
  return s;
}

// A JSON number with two decimals (the double nearest to it; its shortest
// printed form is the two-decimal text).
double Hundredths(int64_t value, int64_t unit) {
  return static_cast<double>((2 * value * 100 / unit + 1) / 2) / 100.0;
}

std::string Padded(const std::string& s, size_t width) {
  return s.size() >= width ? s : std::string(width - s.size(), ' ') + s;
}

}  // namespace

void WriteText(const ExperimentResult& r, std::ostream& out) {
  const ExperimentOptions& o = r.options;
  const int64_t capacity = r.gpus * kMilliPerGpu;
  out << "fragmentation experiment: " << o.pods_path << " on " << o.nodes_path << "\n";
  out << "cluster: " << r.nodes << " nodes (" << r.gpu_nodes << " with GPUs), " << r.gpus
      << " GPUs; models";
  for (const std::string& m : r.models) out << " " << m;
  out << "\n";
  out << "workload: " << r.pods << " pods (" << r.cpu_only_pods << " CPU-only) asking "
      << Fixed(r.requested_gpu_milli, kMilliPerGpu, 1) << " GPUs ("
      << Fixed(r.requested_gpu_milli * 100, capacity, 1) << " % of the cluster)\n";
  out << "FGD task mix: " << r.mix.types.size() << " of " << r.mix.distinct_types << " task types, "
      << Fixed(r.mix.total_weight * 100, std::max<int64_t>(r.mix.pods, 1), 1) << " % of pods\n";
  out << "arrivals until " << o.target_percent << " % of the GPUs; seeds " << o.first_seed << ".."
      << o.first_seed + static_cast<uint64_t>(o.seeds) - 1 << "\n";
  if (r.bad_rows > 0) out << "skipped " << r.bad_rows << " bad rows\n";
  out << "\nGPU allocation ratio (%), mean over " << o.seeds << " seeds\n";
  constexpr size_t kWidth = 11;
  out << Padded("arrived %", 10);
  for (const PolicySeries& s : r.series) out << Padded(PolicyName(s.policy), kWidth);
  out << "\n";
  for (int k = 0; k <= o.target_percent; ++k) {
    if (k % 10 != 0 && k != o.target_percent) continue;
    out << Padded(std::to_string(k), 10);
    for (const PolicySeries& s : r.series) {
      out << Padded(Fixed(s.alloc_micro_pct[k], kMicroPercent, 2), kWidth);
    }
    out << "\n";
  }
  out << Padded("unalloc.", 10);
  for (const PolicySeries& s : r.series) {
    out << Padded(Fixed(s.unallocated_gpu_milli, kMilliPerGpu, 1), kWidth);
  }
  out << "   GPUs left unallocated at the end\n";
  out << Padded("failed", 10);
  for (const PolicySeries& s : r.series) out << Padded(Fixed(s.failed_pods_centi, 100, 1), kWidth);
  out << "   pods that fitted nowhere (mean of "
      << Fixed(r.series.empty() ? 0 : r.series[0].arrived_pods_centi, 100, 1) << " arrivals)\n";
}

void WriteJson(const ExperimentResult& r, std::ostream& out) {
  using Json = nlohmann::ordered_json;
  const ExperimentOptions& o = r.options;
  Json doc;
  doc["schema"] = kFragmentationSchema;
  doc["pods_file"] = o.pods_path;
  doc["nodes_file"] = o.nodes_path;
  doc["seeds"] = {{"first", o.first_seed}, {"count", o.seeds}};
  doc["target_pct"] = o.target_percent;
  doc["cluster"] = {
      {"nodes", r.nodes}, {"gpu_nodes", r.gpu_nodes}, {"gpus", r.gpus}, {"models", r.models}};
  doc["workload"] = {{"pods", r.pods},
                     {"cpu_only_pods", r.cpu_only_pods},
                     {"requested_gpu_milli", r.requested_gpu_milli},
                     {"task_types", r.mix.distinct_types},
                     {"typical_task_types", r.mix.types.size()},
                     {"typical_pods", r.mix.total_weight},
                     {"coverage_pct", o.coverage_percent}};
  Json arrived = Json::array();
  for (int k = 0; k <= o.target_percent; ++k) arrived.push_back(k);
  doc["arrived_pct"] = std::move(arrived);
  Json policies = Json::array();
  for (const PolicySeries& s : r.series) {
    Json series = Json::array();
    for (int64_t v : s.alloc_micro_pct) series.push_back(Hundredths(v, kMicroPercent));
    Json by_seed = Json::array();
    for (int64_t v : s.final_micro_pct) by_seed.push_back(Hundredths(v, kMicroPercent));
    policies.push_back(
        {{"policy", PolicyName(s.policy)},
         {"alloc_pct", std::move(series)},
         {"alloc_pct_at_target", Hundredths(s.alloc_micro_pct.back(), kMicroPercent)},
         {"alloc_pct_at_target_by_seed", std::move(by_seed)},
         {"unallocated_gpus", Hundredths(s.unallocated_gpu_milli, kMilliPerGpu)},
         {"failed_pods", Hundredths(s.failed_pods_centi, 100)},
         {"arrived_pods", Hundredths(s.arrived_pods_centi, 100)}});
  }
  doc["policies"] = std::move(policies);
  doc["bad_rows"] = r.bad_rows;
  doc["bad_row_messages"] = r.bad_row_messages;
  out << doc.dump(2) << "\n";
}

}  // namespace polycloud::frag
