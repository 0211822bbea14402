#include "polycloud/traces/trace_format.h"

#include <algorithm>
#include <utility>

namespace polycloud::traces {
namespace {

bool HasColumn(const std::vector<std::string>& header, std::string_view name) {
  return std::find(header.begin(), header.end(), name) != header.end();
}

// SkyPilot keeps one catalog per cloud: ".../v7/<cloud>/vms.csv".
std::string ParentFolderName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos || slash == 0) return {};
  size_t start = path.find_last_of('/', slash - 1);
  start = start == std::string::npos ? 0 : start + 1;
  return path.substr(start, slash - start);
}

template <typename T>
Result<TraceContents> Wrap(Result<T> result) {
  if (!result.ok()) return result.status();
  return TraceContents(std::move(result).value());
}

}  // namespace

std::string_view TraceFormatName(TraceFormat format) {
  switch (format) {
    case TraceFormat::kPhilly:
      return "philly";
    case TraceFormat::kAlibabaGpu:
      return "alibaba-gpu";
    case TraceFormat::kAlibabaSpot:
      return "alibaba-spot";
    case TraceFormat::kAzureLlm:
      return "azure-llm";
    case TraceFormat::kSkyPilot:
      return "skypilot";
  }
  return "?";
}

const std::vector<TraceFormat>& AllTraceFormats() {
  static const std::vector<TraceFormat> kAll = {TraceFormat::kPhilly, TraceFormat::kAlibabaGpu,
                                                TraceFormat::kAlibabaSpot, TraceFormat::kAzureLlm,
                                                TraceFormat::kSkyPilot};
  return kAll;
}

Result<TraceFormat> ParseTraceFormat(std::string_view name) {
  std::string known;
  for (TraceFormat format : AllTraceFormats()) {
    if (TraceFormatName(format) == name) return format;
    if (!known.empty()) known += ", ";
    known += TraceFormatName(format);
  }
  return InvalidArgument("unknown trace format \"" + std::string(name) +
                         "\" (expected one of: " + known + ")");
}

Result<TraceSpec> ParseTraceSpec(std::string_view text) {
  size_t colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size()) {
    return InvalidArgument(
        "expected a trace as FORMAT:PATH (e.g. philly:data/philly.csv.gz), "
        "found \"" +
        std::string(text) + "\"");
  }
  POLYCLOUD_ASSIGN_OR_RETURN(TraceFormat format, ParseTraceFormat(text.substr(0, colon)));
  return TraceSpec{format, std::string(text.substr(colon + 1))};
}

Result<TraceContents> ReadTrace(const TraceSpec& spec, const TraceOptions& options) {
  if (spec.format == TraceFormat::kSkyPilot && options.catalog.provider_id.empty()) {
    TraceOptions with_provider = options;
    with_provider.catalog.provider_id = ParentFolderName(spec.path);
    return ReadTrace(spec.format, TraceInput::File(spec.path), with_provider);
  }
  return ReadTrace(spec.format, TraceInput::File(spec.path), options);
}

Result<TraceContents> ReadTrace(TraceFormat format, const TraceInput& input,
                                const TraceOptions& options) {
  if (input.kind() == TraceInput::Kind::kStream &&
      (format == TraceFormat::kPhilly || format == TraceFormat::kAlibabaGpu)) {
    // These formats pick a schema by peeking at the header, which reads twice.
    return InvalidArgument(input.name() + ": reading " + std::string(TraceFormatName(format)) +
                           " by name needs a file or memory input, not a stream");
  }
  auto header = [&]() { return CsvReader::ReadHeader(input, options.read); };
  switch (format) {
    case TraceFormat::kPhilly: {
      POLYCLOUD_ASSIGN_OR_RETURN(std::vector<std::string> columns, header());
      if (HasColumn(columns, "vc")) {
        PhillyVcOptions vc = options.philly_vcs;
        vc.read = options.read;
        return Wrap(ReadPhillyVirtualClusters(input, vc));
      }
      PhillyOptions philly = options.philly;
      philly.read = options.read;
      philly.accelerators = options.accelerators;
      return Wrap(ReadPhillyJobs(input, philly));
    }
    case TraceFormat::kAlibabaGpu: {
      POLYCLOUD_ASSIGN_OR_RETURN(std::vector<std::string> columns, header());
      if (HasColumn(columns, "sn")) {
        return Wrap(ReadAlibabaGpuNodes(input, {options.read, options.accelerators}));
      }
      AlibabaPodOptions pods = options.alibaba_pods;
      pods.read = options.read;
      pods.accelerators = options.accelerators;
      return Wrap(ReadAlibabaPods(input, pods));
    }
    case TraceFormat::kAlibabaSpot:
      return Wrap(ReadAlibabaSpotNodes(input, {options.read, options.accelerators}));
    case TraceFormat::kAzureLlm: {
      AzureLlmOptions azure = options.azure_llm;
      azure.read = options.read;
      return Wrap(ReadAzureLlmDemand(input, azure));
    }
    case TraceFormat::kSkyPilot: {
      CatalogOptions catalog = options.catalog;
      catalog.read = options.read;
      catalog.accelerators = options.accelerators;
      return Wrap(ReadSkyPilotCatalog(input, catalog));
    }
  }
  return Internal("unknown trace format");
}

const ReadStats& StatsOf(const TraceContents& contents) {
  return std::visit([](const auto& c) -> const ReadStats& { return c.stats; }, contents);
}

}  // namespace polycloud::traces
