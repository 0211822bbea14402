#include "polycloud/traces/trace_format.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "test_util.h"

namespace polycloud::traces {
namespace {

using testing::SharedData;

TEST(TraceFormatTest, ParsesEveryFormatNameAndRejectsOthers) {
  for (TraceFormat format : AllTraceFormats()) {
    Result<TraceFormat> parsed = ParseTraceFormat(TraceFormatName(format));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, format);
  }
  Result<TraceFormat> bad = ParseTraceFormat("google");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "unknown trace format \"google\" (expected one of: philly, alibaba-gpu, "
            "alibaba-spot, azure-llm, skypilot)");
}

TEST(TraceFormatTest, ParsesFormatColonPath) {
  Result<TraceSpec> spec = ParseTraceSpec("azure-llm:C:/data/trace.csv.gz");
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(spec->format, TraceFormat::kAzureLlm);
  EXPECT_EQ(spec->path, "C:/data/trace.csv.gz");
  EXPECT_FALSE(ParseTraceSpec("philly").ok());
  EXPECT_FALSE(ParseTraceSpec("philly:").ok());
  EXPECT_FALSE(ParseTraceSpec(":x.csv").ok());
}

TEST(TraceFormatTest, TellsTheTwoFilesOfAFormatApartByHeader) {
  TraceOptions options;
  Result<TraceContents> jobs =
      ReadTrace(TraceFormat::kPhilly,
                TraceInput::Memory("timestamp,duration,num_gpus,gpu_time,cluster\n"
                                   "2017-10-09 07:01:55,66.0,1,66.0,11cb48\n"),
                options);
  ASSERT_TRUE(jobs.ok()) << jobs.status().message();
  EXPECT_TRUE(std::holds_alternative<PhillyTrace>(*jobs));
  EXPECT_EQ(StatsOf(*jobs).accepted, 1);

  Result<TraceContents> vcs =
      ReadTrace(TraceFormat::kPhilly, TraceInput::Memory("vc,node num\na,2\n"), options);
  ASSERT_TRUE(vcs.ok());
  EXPECT_EQ(std::get<PhillyVirtualClusters>(*vcs).clusters[0].gpus, 16);

  Result<TraceContents> nodes =
      ReadTrace(TraceFormat::kAlibabaGpu,
                TraceInput::Memory("sn,cpu_milli,memory_mib,gpu,model\nn,1,1,2,T4\n"), options);
  ASSERT_TRUE(nodes.ok());
  EXPECT_EQ(std::get<NodeList>(*nodes).TotalGpus(), 2);
}

TEST(TraceFormatTest, WrongFormatShowsAsUnknownColumns) {
  Result<TraceContents> contents =
      ReadTrace(TraceFormat::kAzureLlm, TraceInput::Memory("vc,node num\na,2\n", "vc_nodes.csv"),
                TraceOptions{});
  ASSERT_FALSE(contents.ok());
  EXPECT_EQ(contents.status().message(),
            "vc_nodes.csv:1: missing required column 'TIMESTAMP' (expected columns: TIMESTAMP, "
            "ContextTokens, GeneratedTokens; found: vc, node num)");
}

TEST(TraceFormatTest, TopLevelReadOptionsApplyToEveryFormat) {
  TraceOptions options;
  options.read.skip_bad_rows = true;
  Result<TraceContents> contents = ReadTrace(
      TraceFormat::kAlibabaSpot,
      TraceInput::Memory("gpu_model,gpu_capacity_num,cpu_num,node_name\nA10,x,1,0\nA10,1,1,1\n"),
      options);
  ASSERT_TRUE(contents.ok());
  EXPECT_EQ(StatsOf(*contents).bad_rows, 1);
  EXPECT_EQ(std::get<NodeList>(*contents).nodes.size(), 1u);
}

TEST(TraceFormatTest, StreamsCannotBeSniffedTwice) {
  std::istringstream stream("vc,node num\na,2\n");
  Result<TraceContents> contents =
      ReadTrace(TraceFormat::kPhilly, TraceInput::Stream(stream, "pipe"), TraceOptions{});
  EXPECT_EQ(contents.status().code(), StatusCode::kInvalidArgument);
}

TEST(TraceFormatSharedDataTest, EveryShippedFileReadsByName) {
  const std::string root = SharedData("");
  POLYCLOUD_SKIP_WITHOUT_SHARED_DATA(root + "README.md");
  struct Case {
    std::string spec;
    int64_t accepted;
  };
  const Case cases[] = {
      {"philly:" + root + "philly/philly.csv.gz", 82'247},
      {"philly:" + root + "philly/vc_nodes.csv", 11},
      {"alibaba-gpu:" + root + "alibaba-gpu-2023/openb_pod_list_default.csv", 7'064},
      {"alibaba-gpu:" + root + "alibaba-gpu-2023/openb_pod_list_multigpu50.csv", 7'973},
      {"alibaba-gpu:" + root + "alibaba-gpu-2023/openb_node_list_gpu_node.csv", 1'213},
      {"alibaba-gpu:" + root + "alibaba-gpu-2023/openb_node_list_all_node.csv", 1'523},
      {"alibaba-spot:" + root + "alibaba-spot-gpu-2026/node_info_df.csv", 4'278},
      {"azure-llm:" + root + "azure-llm-2023/AzureLLMInferenceTrace_code.csv.gz", 8'819},
      {"skypilot:" + root + "skypilot-catalog/v7/aws/vms.csv", 118},
      {"skypilot:" + root + "skypilot-catalog/v7/gcp/vms.csv", 372},
      {"skypilot:" + root + "skypilot-catalog/v7/lambda/vms.csv", 323},
      {"skypilot:" + root + "skypilot-catalog/v7/simplepod/vms.csv", 52},
  };
  for (const Case& c : cases) {
    Result<TraceSpec> spec = ParseTraceSpec(c.spec);
    ASSERT_TRUE(spec.ok()) << c.spec;
    Result<TraceContents> contents = ReadTrace(*spec, TraceOptions{});
    ASSERT_TRUE(contents.ok()) << c.spec << ": " << contents.status().message();
    EXPECT_EQ(StatsOf(*contents).accepted, c.accepted) << c.spec;
    EXPECT_EQ(StatsOf(*contents).bad_rows, 0) << c.spec;
  }
  // The provider id of a catalog defaults to its folder name.
  Result<TraceContents> gcp =
      ReadTrace(*ParseTraceSpec("skypilot:" + root + "skypilot-catalog/v7/gcp/vms.csv"), {});
  ASSERT_TRUE(gcp.ok());
  EXPECT_EQ(std::get<Catalog>(*gcp).fleet.providers[0].id, "gcp");
}

}  // namespace
}  // namespace polycloud::traces
