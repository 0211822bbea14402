#include "polycloud/traces/philly.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "polycloud/base/parse.h"
#include "test_util.h"

namespace polycloud::traces {
namespace {

using testing::Gzip;
using testing::SharedData;

constexpr std::string_view kHeader = "timestamp,duration,num_gpus,gpu_time,cluster\n";

Result<PhillyTrace> Read(std::string_view text, const PhillyOptions& options = {}) {
  return ReadPhillyJobs(TraceInput::Memory(text, "philly.csv"), options);
}

TEST(PhillyReaderTest, MapsGpuTimeToReferenceWork) {
  // 3600 s on 4 GPUs = 14,400 P100 GPU-seconds; the P100 runs at 80/1000 of
  // the H100 reference, so the job is 1,152 reference GPU-seconds of work.
  std::string text = std::string(kHeader) + "2017-10-09 07:01:55,3600.0,4,14400.0,11cb48\n";
  Result<PhillyTrace> trace = Read(text);
  ASSERT_TRUE(trace.ok()) << trace.status().message();
  ASSERT_EQ(trace->jobs.size(), 1u);
  const PhillyJob& job = trace->jobs[0];
  EXPECT_EQ(job.job.gpus, 4);
  EXPECT_EQ(job.job.work_gpu_seconds, 3600 * 4 * 80 / 1000);
  EXPECT_EQ(job.duration.seconds(), 3600);
  EXPECT_EQ(job.job.kind, world::WorkloadKind::kTraining);
  EXPECT_TRUE(job.job.accelerators.empty());

  // The trace accelerator is a choice: on V100 speed the same run is more work.
  PhillyOptions v100;
  v100.trace_accelerator = "V100";
  trace = Read(text, v100);
  ASSERT_TRUE(trace.ok());
  EXPECT_EQ(trace->jobs[0].job.work_gpu_seconds, 3600 * 4 * 150 / 1000);
}

TEST(PhillyReaderTest, ArrivalIsTheTimestampInUtcPlusTheShift) {
  std::string text = std::string(kHeader) + "2017-10-09 07:01:55,66.0,1,66.0,11cb48\n";
  PhillyOptions options;
  options.time_shift = Duration::Days(1);
  Result<PhillyTrace> trace = Read(text, options);
  ASSERT_TRUE(trace.ok());
  EXPECT_EQ(trace->jobs[0].job.arrival, *ParseTime("2017-10-10T07:01:55Z"));
}

TEST(PhillyReaderTest, KeepsTheVirtualClusterAndNumbersJobsByRow) {
  std::string text = std::string(kHeader) +
                     "2017-10-09 07:01:55,66.0,1,66.0,11cb48\n"
                     "2017-10-09 06:13:03,2951.0,2,5902.0,6214e9\n";
  Result<PhillyTrace> trace = Read(text);
  ASSERT_TRUE(trace.ok());
  ASSERT_EQ(trace->jobs.size(), 2u);
  EXPECT_EQ(trace->jobs[0].virtual_cluster, "11cb48");
  EXPECT_EQ(trace->jobs[1].virtual_cluster, "6214e9");
  EXPECT_EQ(trace->jobs[0].job.id, "philly-1");
  EXPECT_EQ(trace->jobs[1].job.id, "philly-2");
  EXPECT_EQ(trace->jobs[1].line, 3);
}

TEST(PhillyReaderTest, RejectsGpuTimeThatIsNotDurationTimesGpus) {
  std::string text = std::string(kHeader) + "2017-10-09 07:01:55,100.0,2,500.0,11cb48\n";
  Result<PhillyTrace> trace = Read(text);
  ASSERT_FALSE(trace.ok());
  EXPECT_EQ(trace.status().message(),
            "philly.csv:2: column 'gpu_time': expected duration x num_gpus = 200 GPU-seconds, "
            "found \"500.0\"");
}

TEST(PhillyReaderTest, StopsAtTheFirstBadRowWithPathLineAndExpectation) {
  std::string text = std::string(kHeader) +
                     "2017-10-09 07:01:55,66.0,1,66.0,11cb48\n"
                     "2017-10-09 07:01:55,66.0,0,0.0,11cb48\n"
                     "yesterday,66.0,1,66.0,11cb48\n";
  Result<PhillyTrace> trace = Read(text);
  ASSERT_FALSE(trace.ok());
  EXPECT_EQ(trace.status().code(), StatusCode::kInvalidInput);
  EXPECT_EQ(trace.status().message(),
            "philly.csv:3: column 'num_gpus': expected an integer from 1 to 1000000, found \"0\"");
}

TEST(PhillyReaderTest, SkipsAndCountsBadRowsWhenAsked) {
  std::string text = std::string(kHeader) +
                     "2017-10-09 07:01:55,66.0,1,66.0,11cb48\n"
                     "2017-10-09 07:01:55,-3,1,66.0,11cb48\n"
                     "yesterday,66.0,1,66.0,11cb48\n"
                     "2017-10-09 07:01:55,66.0,1,66.0,\n"
                     "2017-10-09 07:01:56,1.5,2,3.0,11cb48\n";
  PhillyOptions options;
  options.read.skip_bad_rows = true;
  Result<PhillyTrace> trace = Read(text, options);
  ASSERT_TRUE(trace.ok()) << trace.status().message();
  ASSERT_EQ(trace->jobs.size(), 2u);
  EXPECT_EQ(trace->jobs[1].job.id, "philly-5");     // ids do not shift when rows are skipped
  EXPECT_EQ(trace->jobs[1].duration.seconds(), 2);  // 1.5 s rounds half away from zero
  EXPECT_EQ(trace->stats.bad_rows, 3);
  EXPECT_EQ(trace->stats.accepted, 2);
  ASSERT_EQ(trace->stats.bad_row_messages.size(), 3u);
  EXPECT_EQ(trace->stats.bad_row_messages[0],
            "philly.csv:3: column 'duration': expected a non-negative decimal number up to "
            "1000000000 with at most 3 decimal places, found \"-3\"");
  EXPECT_EQ(trace->stats.bad_row_messages[1],
            "philly.csv:4: column 'timestamp': expected a UTC time \"YYYY-MM-DD "
            "HH:MM:SS[.fraction]\", found \"yesterday\"");
  EXPECT_EQ(trace->stats.bad_row_messages[2],
            "philly.csv:5: column 'cluster': expected a value, found an empty field");
}

TEST(PhillyReaderTest, ReadsGzipAndStreamsRecordByRecord) {
  std::string gz = Gzip(std::string(kHeader) + "2017-10-09 07:01:55,66.0,1,66.0,11cb48\r\n");
  Result<RecordReader<PhillyJob>> reader =
      OpenPhillyJobs(TraceInput::Memory(gz, "philly.csv.gz"), {});
  ASSERT_TRUE(reader.ok());
  Result<std::optional<PhillyJob>> job = reader->Next();
  ASSERT_TRUE(job.ok());
  ASSERT_TRUE(job->has_value());
  EXPECT_EQ((*job)->virtual_cluster, "11cb48");
  job = reader->Next();
  ASSERT_TRUE(job.ok());
  EXPECT_FALSE(job->has_value());
  EXPECT_TRUE(reader->stats().gzip);
}

TEST(PhillyReaderTest, UnknownTraceAcceleratorIsAnArgumentError) {
  PhillyOptions options;
  options.trace_accelerator = "K80";
  Result<PhillyTrace> trace = Read(kHeader, options);
  ASSERT_FALSE(trace.ok());
  EXPECT_EQ(trace.status().code(), StatusCode::kInvalidArgument);
}

TEST(PhillyVirtualClusterTest, ReadsNodeCountsAndRejectsDuplicates) {
  Result<PhillyVirtualClusters> vcs = ReadPhillyVirtualClusters(
      TraceInput::Memory("vc,node num\n6214e9,64\n7f04ca,32\n", "vc_nodes.csv"), {});
  ASSERT_TRUE(vcs.ok()) << vcs.status().message();
  ASSERT_EQ(vcs->clusters.size(), 2u);
  EXPECT_EQ(vcs->Find("6214e9")->gpus, 512);
  EXPECT_EQ(vcs->Find("nope"), nullptr);

  vcs =
      ReadPhillyVirtualClusters(TraceInput::Memory("vc,node num\na,1\na,2\n", "vc_nodes.csv"), {});
  ASSERT_FALSE(vcs.ok());
  EXPECT_EQ(vcs.status().message(),
            "vc_nodes.csv:3: column 'vc': virtual cluster \"a\" is listed twice (first at line 2)");
}

TEST(PhillyVirtualClusterTest, FleetHasOnePoolPerVirtualCluster) {
  Result<PhillyVirtualClusters> vcs =
      ReadPhillyVirtualClusters(TraceInput::Memory("vc,node num\n6214e9,64\n7f04ca,32\n"), {});
  ASSERT_TRUE(vcs.ok());
  Result<Fleet> fleet = PhillyVirtualClusterFleet(*vcs, AcceleratorNames());
  ASSERT_TRUE(fleet.ok());
  ASSERT_EQ(fleet->pools.size(), 2u);
  EXPECT_EQ(fleet->pools[1].id, "philly/7f04ca");
  EXPECT_EQ(fleet->pools[1].gpus.Max(), 256);
  EXPECT_EQ(fleet->pools[1].gpus_per_node, 8);
  EXPECT_EQ(fleet->accelerators[fleet->pools[1].accelerator].name, "P100");

  world::World world;
  ASSERT_TRUE(AddFleetToWorld(*fleet, world).ok());
  EXPECT_NE(world.FindPool("philly/6214e9"), world::kNone);
  EXPECT_EQ(world.pools[world.FindPool("philly/6214e9")].site, world.FindSite("philly/6214e9"));
  EXPECT_FALSE(AddFleetToWorld(*fleet, world).ok());  // ids are taken now
}

// --- The shipped trace (../shared/data/philly) ---------------------------------

TEST(PhillySharedDataTest, ReadsAllJobsOfTheShippedTrace) {
  const std::string path = SharedData("philly/philly.csv.gz");
  POLYCLOUD_SKIP_WITHOUT_SHARED_DATA(path);
  Result<PhillyTrace> trace = ReadPhillyJobs(TraceInput::File(path), {});
  ASSERT_TRUE(trace.ok()) << trace.status().message();
  // The data README says 82,248 jobs; the file holds 82,247 rows plus a blank
  // last line (82,249 lines with the header), so the README counted lines.
  EXPECT_EQ(trace->jobs.size(), 82'247u);
  EXPECT_EQ(trace->stats.records, 82'247);
  EXPECT_EQ(trace->stats.bad_rows, 0);
  EXPECT_TRUE(trace->stats.gzip);

  std::map<std::string, int64_t> per_vc;
  int64_t gpus = 0, work = 0, max_gang = 0;
  Time first = Time::Max(), last = Time::Min();
  for (const PhillyJob& job : trace->jobs) {
    ++per_vc[job.virtual_cluster];
    gpus += job.job.gpus;
    work += job.job.work_gpu_seconds;
    max_gang = std::max(max_gang, job.job.gpus);
    first = std::min(first, job.job.arrival);
    last = std::max(last, job.job.arrival);
  }
  EXPECT_EQ(per_vc.size(), 15u);
  EXPECT_EQ(per_vc["6214e9"], 41'226);
  EXPECT_EQ(gpus, 107'235);
  EXPECT_EQ(max_gang, 128);
  EXPECT_EQ(work, 281'686'711);  // P100 reference GPU-seconds
  EXPECT_EQ(first, *ParseTime("2017-09-04T10:30:41Z"));
  EXPECT_EQ(last, *ParseTime("2017-12-22T08:02:11Z"));
  const PhillyJob& job = trace->jobs[0];
  EXPECT_EQ(job.job.arrival, *ParseTime("2017-10-09T07:01:55Z"));
  EXPECT_EQ(job.duration.seconds(), 66);
  EXPECT_EQ(job.virtual_cluster, "11cb48");
}

TEST(PhillySharedDataTest, VirtualClustersCoverAllButFourSmallOnes) {
  const std::string path = SharedData("philly/vc_nodes.csv");
  POLYCLOUD_SKIP_WITHOUT_SHARED_DATA(path);
  Result<PhillyVirtualClusters> vcs = ReadPhillyVirtualClusters(TraceInput::File(path), {});
  ASSERT_TRUE(vcs.ok()) << vcs.status().message();
  ASSERT_EQ(vcs->clusters.size(), 11u);
  int64_t gpus = 0;
  for (const PhillyVirtualCluster& vc : vcs->clusters) gpus += vc.gpus;
  EXPECT_EQ(gpus, 352 * 8);
  EXPECT_EQ(vcs->Find("6214e9")->nodes, 64);
  // 23dbec, 51b7ef, 925e2b and 795a4c appear in the job trace (18 jobs) but
  // have no node count; a per-VC replay has to say what it does with them.
  EXPECT_EQ(vcs->Find("23dbec"), nullptr);
}

}  // namespace
}  // namespace polycloud::traces
