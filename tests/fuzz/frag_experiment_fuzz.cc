// Fuzz target: the fragmentation experiment (src/frag) on an arbitrary node
// list and pod list. The input is the node list's CSV, a line "--", then the
// pod list's; both are read from memory by the trace readers, and every
// policy runs one seed on what they accept. Invariants: the allocation never
// exceeds the cluster, every series has one point per step and never falls,
// the JSON is written. Bad input must be an InvalidInput error, never a crash.
#include <sstream>
#include <string>
#include <string_view>

#include "polycloud/frag/experiment.h"
#include "polycloud/traces/alibaba.h"

extern "C" int PolycloudFuzzFragExperiment(const uint8_t* data, size_t size) {
  using namespace polycloud;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const size_t cut = text.find("\n--\n");
  if (cut == std::string_view::npos) return 0;
  traces::ReadOptions read;
  read.skip_bad_rows = size % 2 == 1;  // both policies, decided by the input
  auto nodes = traces::ReadAlibabaGpuNodes(
      traces::TraceInput::Memory(text.substr(0, cut + 1), "nodes"), {read, {}});
  traces::AlibabaPodOptions pod_options;
  pod_options.read = read;
  pod_options.keep_cpu_only = true;
  auto pods = traces::ReadAlibabaPods(traces::TraceInput::Memory(text.substr(cut + 4), "pods"),
                                      pod_options);
  if (!nodes.ok() || !pods.ok()) return 0;
  // Bound the work: a run arrives about 1.3 x the cluster's GPUs in pods.
  if (nodes->nodes.size() > 64 || pods->pods.empty()) return 0;
  frag::ExperimentOptions options;
  options.pods_path = "pods";
  options.nodes_path = "nodes";
  options.seeds = 1;
  options.policies = {frag::Policy::kRandom,   frag::Policy::kDotProd, frag::Policy::kClustering,
                      frag::Policy::kPacking,  frag::Policy::kBestFit, frag::Policy::kFgd,
                      frag::Policy::kFgdExact, frag::Policy::kSpread};
  for (frag::TieBreak tie : {frag::TieBreak::kFirst, frag::TieBreak::kRandom}) {
    options.tie_break = tie;
    Result<frag::ExperimentResult> r = frag::RunExperimentOn(*nodes, *pods, options);
    if (!r.ok()) {
      POLYCLOUD_CHECK(r.status().code() == StatusCode::kInvalidInput);
      return 0;
    }
    for (const frag::PolicySeries& s : r->series) {
      POLYCLOUD_CHECK(static_cast<int>(s.alloc_micro_pct.size()) == options.target_percent + 1);
      for (size_t k = 0; k < s.alloc_micro_pct.size(); ++k) {
        POLYCLOUD_CHECK(s.alloc_micro_pct[k] >= 0 &&
                        s.alloc_micro_pct[k] <= 100 * frag::kMicroPercent);
        if (k > 0) POLYCLOUD_CHECK(s.alloc_micro_pct[k] >= s.alloc_micro_pct[k - 1]);
      }
      POLYCLOUD_CHECK(s.unallocated_gpu_milli >= 0 && s.unallocated_gpu_milli <= r->gpus * 1000);
    }
    std::ostringstream json, text_out;
    frag::WriteJson(*r, json);
    frag::WriteText(*r, text_out);
    POLYCLOUD_CHECK(!json.str().empty());
  }
  return 0;
}

#ifdef POLYCLOUD_LIBFUZZER_MAIN
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return PolycloudFuzzFragExperiment(data, size);
}
#endif
