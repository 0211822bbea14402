// Comparing two reports (`simulate --json` output, docs/report.md): what
// changed in cost and its parts, per contract, waits per class, service levels
// per service, placements per provider, events and compliance counts — the
// `polycloud diff` command (docs/whatif.md), and the one-row summary of a
// report that `polycloud sweep` gathers.
//
//   Result<ReportDiff> d = DiffReports(a_text, "base.json", b_text, "slip.json");
//   if (d.ok()) WriteDiffText(*d, /*all=*/false, std::cout);
//
// Sections are read generically: every number and money value of the report's
// objects (and of its lists of objects, item by item, by `id`, `class` or
// `policy`) is compared, so sections added to the report later are compared
// too. Money is exact (integer micro-dollars). Thread-safety: reentrant.
#ifndef POLYCLOUD_REPORT_DIFF_H_
#define POLYCLOUD_REPORT_DIFF_H_

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "polycloud/base/status.h"

namespace polycloud::report {

// One figure of a report.
struct DiffValue {
  enum class Kind { kMoney, kInteger, kNumber };
  Kind kind = Kind::kInteger;
  int64_t exact = 0;  // kMoney: micro-dollars; kInteger: the integer
  double number = 0;  // kNumber (a ratio or a rounded mean, as in the report)
  bool operator==(const DiffValue& o) const {
    return kind == o.kind && (kind == Kind::kNumber ? number == o.number : exact == o.exact);
  }
};

// One figure in both reports; absent on the side whose report lacks it.
struct DiffRow {
  std::string section;  // "cost", "contracts", "jobs", ...
  std::string item;     // the list item ("azure-2025", "all"), "" for an object section
  std::string field;    // dotted path inside it: "spend", "queue_wait.mean_s"
  std::optional<DiffValue> a, b;
  bool changed() const { return !(a && b && *a == *b); }
};

struct ReportSide {
  std::string path;      // as given
  std::string scenario;  // the report's `scenario`
  std::string policy;
  std::vector<std::string> overrides;
};

struct ReportDiff {
  ReportSide a, b;
  std::vector<DiffRow> rows;  // every figure, in report order (cost first)
  int64_t changed = 0;        // rows with changed()
};

// Reads two report JSON texts and compares them. Errors: kInvalidInput
// "NAME: ..." with a JSON pointer when a text is not a polycloud.report/1
// report ("/cost/total: expected money {micros, usd}").
Result<ReportDiff> DiffReports(std::string_view a_text, std::string_view a_name,
                               std::string_view b_text, std::string_view b_name);

// The changed rows (all rows with `all`) as a table grouped by section: A, B,
// the change (exact for money and integers) and the relative change.
void WriteDiffText(const ReportDiff& diff, bool all, std::ostream& out);
// The same as JSON ("schema": "polycloud.diff/1", docs/whatif.md).
void WriteDiffJson(const ReportDiff& diff, bool all, std::ostream& out);

// The headline figures of one report, for sweeps.
struct ReportSummary {
  std::string scenario;
  std::vector<std::string> overrides;
  int64_t total_cost_micros = 0;      // cost.total
  int64_t spend_micros = 0;           // cost.spend
  int64_t shortfall_micros = 0;       // cost.take_or_pay_shortfall
  std::optional<double> mean_wait_s;  // jobs[class=all].queue_wait.mean_s (none without jobs)
  std::optional<double> p99_wait_s;
  // Demand served over all services, in thousandths (served ÷ demanded
  // token-seconds); none without service demand.
  std::optional<int64_t> service_level_milli;
};
Result<ReportSummary> SummarizeReport(std::string_view text, std::string_view name);

// "$1,234,567.890000": exact dollars with thousands separators.
std::string FormatUsdExact(int64_t micros);

}  // namespace polycloud::report

#endif  // POLYCLOUD_REPORT_DIFF_H_
