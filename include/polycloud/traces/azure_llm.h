// Reader for the Azure LLM inference trace (AzurePublicDataset,
// AzureLLMInferenceTrace_{code,conv}.csv, Nov 2023) and its conversion into
// service demand over time. See docs/traces.md.
//
// Columns (by header name): TIMESTAMP,ContextTokens,GeneratedTokens
//   TIMESTAMP        "YYYY-MM-DD HH:MM:SS.fffffff", no zone: read as UTC
//   ContextTokens    prompt tokens of the request
//   GeneratedTokens  output tokens of the request
// Demand: requests are summed per bucket of bucket_width (buckets start at
// multiples of the width since the Unix epoch, so minute buckets start on the
// minute); a bucket's rate is its tokens / width in seconds, rounded up so a
// bucket with any tokens never shows zero demand. The result's tokens_per_s is
// a StepSchedule usable as world::Service::demand_tokens_per_s: each non-empty
// bucket's rate from its start, 0 in gaps and after the last bucket.
//
//   AzureLlmOptions options;
//   options.bucket_width = Duration::Minutes(1);
//   POLYCLOUD_ASSIGN_OR_RETURN(InferenceDemand demand, ReadAzureLlmDemand(
//       TraceInput::File(dir + "/AzureLLMInferenceTrace_code.csv.gz"), options));
//   service.demand_tokens_per_s = demand.tokens_per_s;
//
// Memory is bounded by the number of non-empty buckets, not by the requests.
// Thread-safety: plain values and free functions; a reader or a DemandBuilder
// is used by one thread at a time.
#ifndef POLYCLOUD_TRACES_AZURE_LLM_H_
#define POLYCLOUD_TRACES_AZURE_LLM_H_

#include <cstdint>
#include <map>
#include <vector>

#include "polycloud/base/status.h"
#include "polycloud/base/units.h"
#include "polycloud/traces/line_reader.h"
#include "polycloud/traces/read_options.h"
#include "polycloud/traces/record_reader.h"
#include "polycloud/world/schedule.h"

namespace polycloud::traces {

// Which tokens count as demand.
enum class DemandTokens {
  kContextAndGenerated,  // prompt + output: the work a replica does (default)
  kGenerated,            // output only (decode throughput)
  kContext,              // prompt only (prefill throughput)
};

struct AzureLlmOptions {
  ReadOptions read;
  Duration bucket_width = Duration::Seconds(60);  // must be positive
  DemandTokens tokens = DemandTokens::kContextAndGenerated;
  // Added to every timestamp, e.g. to move Nov 2023 into a scenario's period.
  Duration time_shift;
};

struct InferenceRequest {
  Time at;            // whole seconds (time_shift applied)
  int32_t nanos = 0;  // the sub-second part
  int64_t context_tokens = 0;
  int64_t generated_tokens = 0;
  int64_t line = 0;
};

struct DemandBucket {
  Time start;
  int64_t requests = 0;
  int64_t context_tokens = 0;
  int64_t generated_tokens = 0;
  int64_t tokens_per_s = 0;  // counted tokens / bucket width, rounded up
};

struct InferenceDemand {
  Duration bucket_width;
  std::vector<DemandBucket> buckets;  // non-empty buckets in time order
  world::StepSchedule<int64_t> tokens_per_s;
  int64_t requests = 0;
  int64_t context_tokens = 0;
  int64_t generated_tokens = 0;
  Time first_request;  // whole seconds; equal to last_request when there is none
  Time last_request;
  ReadStats stats;
};

// Aggregates requests (in any order) into buckets; what ReadAzureLlmDemand uses.
class DemandBuilder {
 public:
  // `bucket_width` must be positive (checked).
  DemandBuilder(Duration bucket_width, DemandTokens tokens);
  void Add(const InferenceRequest& request);
  // The demand so far (stats left empty for the caller).
  InferenceDemand Build() const;

 private:
  Duration width_;
  DemandTokens tokens_;
  std::map<int64_t, DemandBucket> buckets_;  // by bucket number since the epoch
  int64_t requests_ = 0;
  Time first_, last_;
};

// A streaming reader of the requests. Errors: InvalidArgument for a
// non-positive bucket width; those of CsvReader::Open.
Result<RecordReader<InferenceRequest>> OpenAzureLlmRequests(const TraceInput& input,
                                                            const AzureLlmOptions& options);
// Reads every request into demand buckets.
Result<InferenceDemand> ReadAzureLlmDemand(const TraceInput& input, const AzureLlmOptions& options);

}  // namespace polycloud::traces

#endif  // POLYCLOUD_TRACES_AZURE_LLM_H_
