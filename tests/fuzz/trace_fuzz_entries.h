// Entry points of the trace-reader fuzz targets (tests/fuzz/trace_*_fuzz.cc).
//
// Each target is an ordinary function with a distinct name, so the regular
// test binary links all of them (TraceFuzzTargetsTest runs them over truncated
// and corrupted seeds); a libFuzzer build (-DPOLYCLOUD_FUZZ=ON, clang) compiles
// each file alone with POLYCLOUD_LIBFUZZER_MAIN, which adds the
// LLVMFuzzerTestOneInput that calls it. Every target reads the bytes from
// memory under both bad-row policies and checks the readers' invariants; a
// broken invariant aborts, anything else returns 0.
//
//   PolycloudFuzzTracePhilly(data, size);   // from a test
//   ./build/fuzz/trace_philly_fuzz corpus/  // under libFuzzer
//
// Thread-safety: each call is independent.
#ifndef POLYCLOUD_TESTS_FUZZ_TRACE_FUZZ_ENTRIES_H_
#define POLYCLOUD_TESTS_FUZZ_TRACE_FUZZ_ENTRIES_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "polycloud/base/status.h"
#include "polycloud/traces/line_reader.h"
#include "polycloud/traces/read_options.h"

extern "C" {
int PolycloudFuzzTraceLines(const uint8_t* data, size_t size);
int PolycloudFuzzTracePhilly(const uint8_t* data, size_t size);
int PolycloudFuzzTraceAlibabaGpu(const uint8_t* data, size_t size);
int PolycloudFuzzTraceAlibabaSpot(const uint8_t* data, size_t size);
int PolycloudFuzzTraceAzureLlm(const uint8_t* data, size_t size);
int PolycloudFuzzTraceSkyPilot(const uint8_t* data, size_t size);
}

namespace polycloud::traces::fuzz {

inline TraceInput Input(const uint8_t* data, size_t size) {
  return TraceInput::Memory(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
}

// The two bad-row policies, with a small line cap so long lines are exercised.
inline ReadOptions Policy(bool skip) {
  ReadOptions options;
  options.skip_bad_rows = skip;
  options.max_reported_bad_rows = 3;
  options.max_line_bytes = 4096;
  return options;
}

// What every successful read must satisfy.
inline void CheckStats(const ReadStats& stats, const ReadOptions& options) {
  POLYCLOUD_CHECK(stats.records == stats.accepted + stats.filtered + stats.bad_rows);
  POLYCLOUD_CHECK(options.skip_bad_rows || stats.bad_rows == 0);
  POLYCLOUD_CHECK(static_cast<int64_t>(stats.bad_row_messages.size()) <= stats.bad_rows);
  POLYCLOUD_CHECK(stats.bad_row_messages.size() <=
                  static_cast<size_t>(options.max_reported_bad_rows));
}

// A failed read must say why, starting with the input's name.
inline void CheckError(const Status& status) {
  POLYCLOUD_CHECK(!status.ok());
  POLYCLOUD_CHECK(status.message().rfind("fuzz", 0) == 0);
}

}  // namespace polycloud::traces::fuzz

#endif  // POLYCLOUD_TESTS_FUZZ_TRACE_FUZZ_ENTRIES_H_
