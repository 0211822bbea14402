#include "polycloud/traces/azure_llm.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include "fields.h"

namespace polycloud::traces {
namespace {

enum Column { kTimestamp, kContextTokens, kGeneratedTokens };
const CsvSchema kSchema = {{"TIMESTAMP", true}, {"ContextTokens", true}, {"GeneratedTokens", true}};

// A billion tokens in one request is far beyond any context window; the bound
// keeps per-bucket sums far from overflow.
constexpr int64_t kMaxTokens = 1'000'000'000;

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

struct RequestMapper {
  Duration time_shift;

  Result<std::optional<InferenceRequest>> operator()(const CsvReader& csv) const {
    InferenceRequest request;
    request.line = csv.line();
    Result<internal::Timestamp> at =
        internal::ParseTimestamp(internal::TrimField(csv.Field(kTimestamp)));
    if (!at.ok()) return internal::ColumnError(csv, kTimestamp, at.status().message());
    request.at = at->seconds + time_shift;
    request.nanos = at->nanos;
    POLYCLOUD_ASSIGN_OR_RETURN(request.context_tokens,
                               internal::IntField(csv, kContextTokens, 0, kMaxTokens));
    POLYCLOUD_ASSIGN_OR_RETURN(request.generated_tokens,
                               internal::IntField(csv, kGeneratedTokens, 0, kMaxTokens));
    return std::optional<InferenceRequest>(request);
  }
};

}  // namespace

DemandBuilder::DemandBuilder(Duration bucket_width, DemandTokens tokens)
    : width_(bucket_width), tokens_(tokens) {
  POLYCLOUD_CHECK(bucket_width.seconds() > 0);
}

void DemandBuilder::Add(const InferenceRequest& request) {
  const int64_t number = FloorDiv(request.at.unix_seconds(), width_.seconds());
  DemandBucket& bucket = buckets_[number];
  bucket.start = Time::FromUnixSeconds(number * width_.seconds());
  ++bucket.requests;
  bucket.context_tokens += request.context_tokens;
  bucket.generated_tokens += request.generated_tokens;
  if (requests_ == 0) {
    first_ = last_ = request.at;
  } else {
    first_ = std::min(first_, request.at);
    last_ = std::max(last_, request.at);
  }
  ++requests_;
}

InferenceDemand DemandBuilder::Build() const {
  InferenceDemand demand;
  demand.bucket_width = width_;
  demand.first_request = first_;
  demand.last_request = last_;
  demand.requests = requests_;
  const int64_t width = width_.seconds();
  for (auto it = buckets_.begin(); it != buckets_.end(); ++it) {
    DemandBucket bucket = it->second;
    int64_t counted = 0;
    switch (tokens_) {
      case DemandTokens::kContextAndGenerated:
        counted = bucket.context_tokens + bucket.generated_tokens;
        break;
      case DemandTokens::kGenerated:
        counted = bucket.generated_tokens;
        break;
      case DemandTokens::kContext:
        counted = bucket.context_tokens;
        break;
    }
    bucket.tokens_per_s = (counted + width - 1) / width;  // rounded up
    demand.context_tokens += bucket.context_tokens;
    demand.generated_tokens += bucket.generated_tokens;
    demand.tokens_per_s.Set(bucket.start, bucket.tokens_per_s);
    auto next = std::next(it);
    if (next == buckets_.end() || next->first != it->first + 1) {
      demand.tokens_per_s.Set(bucket.start + width_, 0);
    }
    demand.buckets.push_back(bucket);
  }
  return demand;
}

Result<RecordReader<InferenceRequest>> OpenAzureLlmRequests(const TraceInput& input,
                                                            const AzureLlmOptions& options) {
  if (options.bucket_width.seconds() <= 0) {
    return InvalidArgument("azure-llm: the demand bucket width must be positive");
  }
  POLYCLOUD_ASSIGN_OR_RETURN(CsvReader csv, CsvReader::Open(input, kSchema, options.read));
  return RecordReader<InferenceRequest>(std::move(csv), RequestMapper{options.time_shift});
}

Result<InferenceDemand> ReadAzureLlmDemand(const TraceInput& input,
                                           const AzureLlmOptions& options) {
  POLYCLOUD_ASSIGN_OR_RETURN(RecordReader<InferenceRequest> reader,
                             OpenAzureLlmRequests(input, options));
  DemandBuilder builder(options.bucket_width, options.tokens);
  while (true) {
    POLYCLOUD_ASSIGN_OR_RETURN(std::optional<InferenceRequest> request, reader.Next());
    if (!request) break;
    builder.Add(*request);
  }
  InferenceDemand demand = builder.Build();
  demand.stats = reader.stats();
  return demand;
}

}  // namespace polycloud::traces
