// Fuzz target: reading two reports for `polycloud diff` and `sweep`
// (report/diff.h). The input is two JSON texts separated by the first NUL
// byte (or cut in half without one). Any input must compare or fail with
// kInvalidInput naming the file — never crash or throw. Run in the regular
// suite by ReportDiffFuzzTargetTest; under libFuzzer with the fuzz preset:
//   cmake --build --preset fuzz --target report_diff_fuzz
//   build/fuzz/src/report/report_diff_fuzz -max_total_time=60
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "polycloud/report/diff.h"

extern "C" int PolycloudFuzzReportDiff(const uint8_t* data, size_t size) {
  using namespace polycloud;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t cut = input.find('\0');
  const size_t skip = cut == std::string_view::npos ? 0 : 1;
  if (cut == std::string_view::npos) cut = size / 2;
  const std::string_view a = input.substr(0, cut), b = input.substr(cut + skip);
  auto diff = report::DiffReports(a, "a.json", b, "b.json");
  if (!diff.ok()) {
    POLYCLOUD_CHECK(diff.status().code() == StatusCode::kInvalidInput);
    const std::string& m = diff.status().message();
    POLYCLOUD_CHECK(m.rfind("a.json: /", 0) == 0 || m.rfind("b.json: /", 0) == 0);
  } else {
    std::ostringstream text, json;
    report::WriteDiffText(*diff, true, text);
    report::WriteDiffJson(*diff, true, json);
    int64_t changed = 0;
    for (const auto& r : diff->rows) changed += r.changed();
    POLYCLOUD_CHECK(changed == diff->changed);
  }
  auto summary = report::SummarizeReport(a, "a.json");
  POLYCLOUD_CHECK(summary.ok() || summary.status().code() == StatusCode::kInvalidInput);
  return 0;
}

#ifdef POLYCLOUD_LIBFUZZER_MAIN
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return PolycloudFuzzReportDiff(data, size);
}
#endif
