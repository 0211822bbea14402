#include "polycloud/traces/azure_llm.h"

#include <gtest/gtest.h>

#include <string>

#include "polycloud/base/parse.h"
#include "polycloud/world/world.h"
#include "test_util.h"

namespace polycloud::traces {
namespace {

using testing::Gzip;
using testing::SharedData;

constexpr std::string_view kHeader = "TIMESTAMP,ContextTokens,GeneratedTokens\r\n";

Result<InferenceDemand> Read(std::string_view text, const AzureLlmOptions& options = {}) {
  return ReadAzureLlmDemand(TraceInput::Memory(text, "azure.csv"), options);
}

Time At(std::string_view text) { return *ParseTime(text); }

TEST(AzureLlmReaderTest, SumsTokensPerBucketAsTokensPerSecondRoundedUp) {
  std::string text = std::string(kHeader) +
                     "2023-11-16 18:17:03.9799600,4808,10\r\n"
                     "2023-11-16 18:17:59.9999999,100,2\r\n"
                     "2023-11-16 18:18:00.0000001,59,1\r\n";
  Result<InferenceDemand> demand = Read(text);
  ASSERT_TRUE(demand.ok()) << demand.status().message();
  ASSERT_EQ(demand->buckets.size(), 2u);
  EXPECT_EQ(demand->buckets[0].start, At("2023-11-16T18:17:00Z"));
  EXPECT_EQ(demand->buckets[0].requests, 2);
  EXPECT_EQ(demand->buckets[0].tokens_per_s, 82);  // (4808 + 10 + 100 + 2) / 60 s
  EXPECT_EQ(demand->buckets[1].tokens_per_s, 1);   // 60 tokens in 60 s
  EXPECT_EQ(demand->requests, 3);
  EXPECT_EQ(demand->context_tokens, 4967);
  EXPECT_EQ(demand->generated_tokens, 13);
  EXPECT_EQ(demand->first_request, At("2023-11-16T18:17:03Z"));
  EXPECT_EQ(demand->last_request, At("2023-11-16T18:18:00Z"));
}

TEST(AzureLlmReaderTest, DemandScheduleDropsToZeroInGapsAndAfterTheLastBucket) {
  std::string text = std::string(kHeader) +
                     "2023-11-16 18:17:10.5,600,0\r\n"
                     "2023-11-16 18:20:10.5,1200,0\r\n";
  Result<InferenceDemand> demand = Read(text);
  ASSERT_TRUE(demand.ok());
  const world::StepSchedule<int64_t>& s = demand->tokens_per_s;
  EXPECT_EQ(s.At(At("2023-11-16T18:16:59Z")), 0);
  EXPECT_EQ(s.At(At("2023-11-16T18:17:00Z")), 10);
  EXPECT_EQ(s.At(At("2023-11-16T18:18:00Z")), 0);
  EXPECT_EQ(s.At(At("2023-11-16T18:20:30Z")), 20);
  EXPECT_EQ(s.At(At("2023-11-16T18:21:00Z")), 0);
  EXPECT_EQ(s.Max(), 20);

  // Usable as a service's demand as is.
  world::Service service;
  service.demand_tokens_per_s = demand->tokens_per_s;
  EXPECT_EQ(service.demand_tokens_per_s.At(At("2023-11-16T18:20:00Z")), 20);
}

TEST(AzureLlmReaderTest, BucketWidthTokenChoiceAndShiftAreOptions) {
  std::string text = std::string(kHeader) +
                     "2023-11-16 18:17:03.25,100,7\r\n"
                     "2023-11-16 18:17:03.75,100,8\r\n";
  AzureLlmOptions options;
  options.bucket_width = Duration::Seconds(1);
  options.tokens = DemandTokens::kGenerated;
  options.time_shift = Duration::Days(1);
  Result<InferenceDemand> demand = Read(text, options);
  ASSERT_TRUE(demand.ok());
  ASSERT_EQ(demand->buckets.size(), 1u);  // both sub-second requests fall in 18:17:03
  EXPECT_EQ(demand->buckets[0].start, At("2023-11-17T18:17:03Z"));
  EXPECT_EQ(demand->buckets[0].tokens_per_s, 15);

  options.bucket_width = Duration::Seconds(0);
  EXPECT_EQ(Read(text, options).status().code(), StatusCode::kInvalidArgument);
}

TEST(AzureLlmReaderTest, StreamingReaderKeepsSubSecondPart) {
  std::string gz = Gzip(std::string(kHeader) + "2023-11-16 18:17:04.0319600,3180,8\r\n");
  Result<RecordReader<InferenceRequest>> reader =
      OpenAzureLlmRequests(TraceInput::Memory(gz, "azure.csv.gz"), {});
  ASSERT_TRUE(reader.ok());
  Result<std::optional<InferenceRequest>> request = reader->Next();
  ASSERT_TRUE(request.ok() && request->has_value());
  EXPECT_EQ((*request)->at, At("2023-11-16T18:17:04Z"));
  EXPECT_EQ((*request)->nanos, 31'960'000);
  EXPECT_EQ((*request)->context_tokens, 3180);
  EXPECT_EQ((*request)->line, 2);
}

TEST(AzureLlmReaderTest, ReportsBadRowsWithLine) {
  std::string text = std::string(kHeader) +
                     "2023-11-16 18:17:03.9799600,4808,10\r\n"
                     "2023-11-16 18:17:04.0319600,many,8\r\n"
                     "2023-11-16 18:17:04.0781490.1,110,27\r\n";
  Result<InferenceDemand> demand = Read(text);
  ASSERT_FALSE(demand.ok());
  EXPECT_EQ(demand.status().message(),
            "azure.csv:3: column 'ContextTokens': expected an integer from 0 to 1000000000, "
            "found \"many\"");
  AzureLlmOptions options;
  options.read.skip_bad_rows = true;
  demand = Read(text, options);
  ASSERT_TRUE(demand.ok());
  EXPECT_EQ(demand->requests, 1);
  EXPECT_EQ(demand->stats.bad_rows, 2);
  EXPECT_EQ(demand->stats.bad_row_messages[1],
            "azure.csv:4: column 'TIMESTAMP': expected a UTC time \"YYYY-MM-DD "
            "HH:MM:SS[.fraction]\", found \"2023-11-16 18:17:04.0781490.1\"");
}

// --- The shipped trace (../shared/data/azure-llm-2023) ------------------------

TEST(AzureLlmSharedDataTest, ReadsTheGzippedCrlfCodeTrace) {
  const std::string path = SharedData("azure-llm-2023/AzureLLMInferenceTrace_code.csv.gz");
  POLYCLOUD_SKIP_WITHOUT_SHARED_DATA(path);
  Result<InferenceDemand> demand = ReadAzureLlmDemand(TraceInput::File(path), {});
  ASSERT_TRUE(demand.ok()) << demand.status().message();
  // The data README says 8,818 requests; the file has 8,819 rows after the
  // header (the last without a final newline, so `wc -l` shows 8,819 lines).
  EXPECT_EQ(demand->requests, 8'819);
  EXPECT_EQ(demand->stats.bad_rows, 0);
  EXPECT_TRUE(demand->stats.gzip);
  EXPECT_EQ(demand->context_tokens, 18'059'974);
  EXPECT_EQ(demand->generated_tokens, 245'896);
  EXPECT_EQ(demand->first_request, At("2023-11-16T18:17:03Z"));
  EXPECT_EQ(demand->last_request, At("2023-11-16T19:14:19Z"));
  ASSERT_EQ(demand->buckets.size(), 45u);  // minutes with requests, out of 58
  EXPECT_EQ(demand->buckets[0].requests, 63);
  EXPECT_EQ(demand->buckets[0].tokens_per_s, 2'485);
  EXPECT_EQ(demand->tokens_per_s.Max(), 20'965);
}

}  // namespace
}  // namespace polycloud::traces
