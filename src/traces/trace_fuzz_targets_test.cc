// Runs every trace fuzz target (tests/fuzz/trace_*_fuzz.cc) over small seeds
// and their truncations and corruptions, plain and gzip-compressed, so the
// regular suite checks that no reader crashes or breaks an invariant on bad
// bytes, without needing clang or libFuzzer.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "test_util.h"
#include "trace_fuzz_entries.h"

namespace polycloud::traces {
namespace {

using testing::Gzip;
using testing::SharedData;

using FuzzEntry = int (*)(const uint8_t*, size_t);

struct Target {
  const char* name;
  FuzzEntry entry;
  std::vector<size_t> own_seeds;  // indices into Seeds() in this target's format
};

const Target kTargets[] = {
    {"lines", PolycloudFuzzTraceLines, {6}},
    {"philly", PolycloudFuzzTracePhilly, {0, 1}},
    {"alibaba-gpu", PolycloudFuzzTraceAlibabaGpu, {2, 3}},
    {"alibaba-spot", PolycloudFuzzTraceAlibabaSpot, {4}},
    {"azure-llm", PolycloudFuzzTraceAzureLlm, {5}},
    {"skypilot", PolycloudFuzzTraceSkyPilot, {6}},
};

// One small valid input per format; every target also gets the others'
// (truncated), as a wrong format name would feed it.
// Adjacent literals below are one seed split over lines, not a missing comma.
// NOLINTBEGIN(bugprone-suspicious-missing-comma)
const std::vector<std::string>& Seeds() {
  static const std::vector<std::string> kSeeds = {
      "timestamp,duration,num_gpus,gpu_time,cluster\n"
      "2017-10-09 07:01:55,66.0,1,66.0,11cb48\n"
      "2017-10-09 06:13:03,2951.0,8,23608.0,6214e9\n",
      "vc,node num\n6214e9,64\n7f04ca,32\n",
      "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,"
      "deletion_time,scheduled_time\n"
      "openb-pod-0001,6000,12288,1,460,,LS,Running,427061,12902960,427061\n"
      "openb-pod-0035,16000,32768,1,1000,V100M16|V100M32,LS,Running,9967058,9968575,9967063\n"
      "openb-pod-0061,11908,47104,1,1000,,BE,Pending,10001278,10001403,\n",
      "sn,cpu_milli,memory_mib,gpu,model\nopenb-node-0000,64000,262144,2,P100\nn1,1,1,0,\n",
      "gpu_model,gpu_capacity_num,cpu_num,node_name\nGPU-series-1,4,192,0\nA10,1,128,2\n",
      "TIMESTAMP,ContextTokens,GeneratedTokens\r\n2023-11-16 18:17:03.9799600,4808,10\r\n"
      "2023-11-16 18:17:04.0319600,3180,8\r\n",
      "InstanceType,vCPUs,MemoryGiB,AcceleratorName,AcceleratorCount,GpuInfo,Region,"
      "AvailabilityZone,Price,SpotPrice\n"
      "a2-highgpu-8g,96.0,680.0,,,,us-central1,us-central1-a,5.91582,2.36604\n"
      ",,,A100,8,\"{'Gpus': [{'MemoryInfo': {'SizeInMiB': 40960}}]}\",us-central1,"
      "us-central1-a,23.47126,9.1776\n"
      "p5e.48xlarge,H200,8.0,192.0,2048.0,,24.29,us-east-2,\n",
  };
  return kSeeds;
}
// NOLINTEND(bugprone-suspicious-missing-comma)

void Feed(const Target& target, const std::string& bytes) {
  target.entry(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

void FeedPrefixes(const Target& target, const std::string& seed) {
  for (size_t cut = 0; cut <= seed.size(); ++cut) Feed(target, seed.substr(0, cut));
}

// Every byte replaced by a few troublesome values.
void FeedMutations(const Target& target, const std::string& seed) {
  static constexpr char kReplacements[] = {'\0', '"', ',', '\n', '\r', '-', '9', '\xff'};
  std::string mutated = seed;
  for (size_t i = 0; i < seed.size(); ++i) {
    for (char c : kReplacements) {
      mutated[i] = c;
      Feed(target, mutated);
    }
    mutated[i] = seed[i];
  }
}

TEST(TraceFuzzTargetsTest, SurviveTruncatedAndCorruptedSeeds) {
  for (const Target& target : kTargets) {
    SCOPED_TRACE(target.name);
    for (const std::string& seed : Seeds()) FeedPrefixes(target, seed);
    for (size_t own : target.own_seeds) FeedMutations(target, Seeds()[own]);
  }
}

TEST(TraceFuzzTargetsTest, SurviveTruncatedAndCorruptedGzip) {
  for (const Target& target : kTargets) {
    SCOPED_TRACE(target.name);
    for (size_t own : target.own_seeds) {
      std::string gz = Gzip(Seeds()[own]);
      ASSERT_FALSE(gz.empty());
      for (size_t cut = 0; cut <= gz.size(); ++cut) Feed(target, gz.substr(0, cut));
      std::string mutated = gz;
      for (size_t i = 0; i < gz.size(); ++i) {
        mutated[i] = static_cast<char>(gz[i] ^ 0x41);
        Feed(target, mutated);
        mutated[i] = gz[i];
      }
      Feed(target, gz + gz);                // two members
      Feed(target, gz + "junk");            // trailing garbage
      Feed(target, gz.substr(0, 10) + gz);  // a header, then a whole member
    }
  }
}

TEST(TraceFuzzTargetsTest, SurviveHostileShapes) {
  // NOLINTBEGIN(bugprone-suspicious-missing-comma): adjacent literals are one input
  const std::vector<std::string> shapes = {
      "",
      "\n\n\n",
      "\xEF\xBB\xBF",
      std::string(10'000, '"'),
      std::string(10'000, ','),
      "a,b\n" + std::string(5'000, 'x') + "\n",  // longer than the fuzz line cap
      "\"unterminated,header\n1,2\n",
      "timestamp,timestamp\n",
      std::string("\x1f\x8b", 2),
      std::string("\x28\xb5\x2f\xfd", 4),
      "TIMESTAMP,ContextTokens,GeneratedTokens\n9999-12-31 23:59:59.999999999,1000000000,"
      "1000000000\n0000-01-01 00:00:00,0,0\n",
      "timestamp,duration,num_gpus,gpu_time,cluster\n"
      "2017-10-09 07:01:55,1000000000,1000000,1000000000000000,x\n",
  };
  // NOLINTEND(bugprone-suspicious-missing-comma)
  for (const Target& target : kTargets) {
    SCOPED_TRACE(target.name);
    for (const std::string& shape : shapes) Feed(target, shape);
  }
}

TEST(TraceFuzzTargetsTest, SurviveCutsOfTheShippedFiles) {
  const std::vector<std::pair<std::string, const Target*>> files = {
      {"philly/philly.csv.gz", &kTargets[1]},
      {"alibaba-gpu-2023/openb_pod_list_default.csv", &kTargets[2]},
      {"alibaba-spot-gpu-2026/node_info_df.csv", &kTargets[3]},
      {"azure-llm-2023/AzureLLMInferenceTrace_code.csv.gz", &kTargets[4]},
      {"skypilot-catalog/v7/lambda/vms.csv", &kTargets[5]},
  };
  POLYCLOUD_SKIP_WITHOUT_SHARED_DATA(SharedData(files[0].first));
  for (const auto& [relative, target] : files) {
    std::ifstream in(SharedData(relative), std::ios::binary);
    std::string head(4096, '\0');
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    head.resize(static_cast<size_t>(in.gcount()));
    ASSERT_FALSE(head.empty()) << relative;
    for (size_t cut = 0; cut <= head.size(); cut += 61) {
      Feed(*target, head.substr(0, cut));
      Feed(kTargets[0], head.substr(0, cut));
    }
  }
}

}  // namespace
}  // namespace polycloud::traces
