// Trace formats by name, for `--trace FORMAT:PATH` and a scenario's `traces:`
// section: one call reads any supported file into its typed contents.
//
//   name         file                                   contents
//   philly       philly.csv(.gz) job trace              PhillyTrace
//                vc_nodes.csv (header "vc,node num")    PhillyVirtualClusters
//   alibaba-gpu  openb_pod_list_*.csv (header "name,")  AlibabaPodTrace
//                openb_node_list_*.csv (header "sn,")   NodeList
//   alibaba-spot node_info_df.csv                       NodeList
//   azure-llm    AzureLLMInferenceTrace_*.csv(.gz)      InferenceDemand
//   skypilot     vms.csv catalog                        Catalog
// Where a format has two files, the header's columns tell them apart.
//
//   POLYCLOUD_ASSIGN_OR_RETURN(TraceSpec spec, ParseTraceSpec("philly:data/philly.csv.gz"));
//   POLYCLOUD_ASSIGN_OR_RETURN(TraceContents contents, ReadTrace(spec, options));
//   if (auto* trace = std::get_if<PhillyTrace>(&contents)) { ... }
//   Report(StatsOf(contents));
//
// Thread-safety: plain values and free functions.
#ifndef POLYCLOUD_TRACES_TRACE_FORMAT_H_
#define POLYCLOUD_TRACES_TRACE_FORMAT_H_

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "polycloud/base/status.h"
#include "polycloud/traces/accelerator_names.h"
#include "polycloud/traces/alibaba.h"
#include "polycloud/traces/azure_llm.h"
#include "polycloud/traces/fleet.h"
#include "polycloud/traces/philly.h"
#include "polycloud/traces/read_options.h"
#include "polycloud/traces/skypilot.h"

namespace polycloud::traces {

enum class TraceFormat { kPhilly, kAlibabaGpu, kAlibabaSpot, kAzureLlm, kSkyPilot };

// "philly", "alibaba-gpu", "alibaba-spot", "azure-llm", "skypilot".
std::string_view TraceFormatName(TraceFormat format);
// Every format, in the order above.
const std::vector<TraceFormat>& AllTraceFormats();
// Errors: InvalidArgument naming the known formats.
Result<TraceFormat> ParseTraceFormat(std::string_view name);

struct TraceSpec {
  TraceFormat format = TraceFormat::kPhilly;
  std::string path;
};
// "FORMAT:PATH" (the path may itself contain ':'). Errors: InvalidArgument.
Result<TraceSpec> ParseTraceSpec(std::string_view text);

// Options for ReadTrace. `read` and `accelerators` override the ones inside
// the per-format options, so a caller sets them once.
struct TraceOptions {
  ReadOptions read;
  AcceleratorNames accelerators;
  PhillyOptions philly;
  PhillyVcOptions philly_vcs;
  AlibabaPodOptions alibaba_pods;
  AzureLlmOptions azure_llm;
  CatalogOptions catalog;  // provider_id defaults to the file's parent folder name
};

using TraceContents = std::variant<PhillyTrace, PhillyVirtualClusters, AlibabaPodTrace, NodeList,
                                   InferenceDemand, Catalog>;

// Reads `spec.path` as `spec.format`. Errors: those of the format's reader;
// InvalidInput "path:1: ..." when the header fits none of the format's files.
Result<TraceContents> ReadTrace(const TraceSpec& spec, const TraceOptions& options);
// Same, from any input (the fuzz targets read from memory).
Result<TraceContents> ReadTrace(TraceFormat format, const TraceInput& input,
                                const TraceOptions& options);

// The row counts and bad-row messages of whatever was read.
const ReadStats& StatsOf(const TraceContents& contents);

}  // namespace polycloud::traces

#endif  // POLYCLOUD_TRACES_TRACE_FORMAT_H_
