// Rendering pieces shared by the report writers of src/report (the simulate
// report and the contracts view): a plain text table, percentages, money in
// JSON, and the obligation and capacity-request sections both print.
// Internal to src/report; not part of the public API.
//
// Thread-safety: plain functions and a value type.
#ifndef POLYCLOUD_SRC_REPORT_RENDER_H_
#define POLYCLOUD_SRC_REPORT_RENDER_H_

#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <ostream>
#include <span>
#include <string>
#include <vector>

#include "polycloud/base/units.h"
#include "polycloud/contracts/ledger.h"
#include "polycloud/report/contracts_view.h"
#include "polycloud/report/report.h"

namespace polycloud::report {

// A plain text table: first column left-aligned, the rest right-aligned.
class Table {
 public:
  explicit Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void Row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  void Print(std::ostream& out) const {
    std::vector<size_t> width;
    for (const auto& row : rows_) {
      if (width.size() < row.size()) width.resize(row.size(), 0);
      for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], Utf8Width(row[i]));
    }
    for (size_t r = 0; r < rows_.size(); ++r) {
      std::string line = "  ";
      for (size_t i = 0; i < rows_[r].size(); ++i) {
        const std::string& cell = rows_[r][i];
        std::string pad(width[i] - Utf8Width(cell), ' ');
        line += i == 0 ? cell + pad : pad + cell;
        if (i + 1 < rows_[r].size()) line += "  ";
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      out << line << '\n';
    }
  }

 private:
  static size_t Utf8Width(const std::string& s) {
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
  }
  std::vector<std::vector<std::string>> rows_;
};

// "12.5%" from thousandths.
std::string Pct(int64_t milli);

// "take-or-pay, 20.0% off": the contract's commitment kind and discount.
std::string CommitmentLabel(const ContractRow& c);

// "met", "on track", "missed", "short", with " (not payable)" for a
// discount-only commitment's shortfall.
std::string ObligationStatus(const ContractRow& c, const contracts::ObligationRow& o);

// The Commitments table (every minimum, then the term, of each contract) and
// the footnote on pro-rated periods when one is.
void WriteObligations(std::span<const ContractRow> contracts, std::ostream& out);

using Json = nlohmann::ordered_json;

// Money as {"micros": INT, "usd": "DECIMAL"} (exact).
Json MoneyJson(Money m);
Json ObligationJson(const contracts::ObligationRow& o);
// A contract's terms and ledger totals (id through shortfall_not_payable), the
// head both the report and the contracts view write before their own keys.
Json ContractTermsJson(const ContractRow& c);
// Spend projected after the run, by kind, and its total.
Json ProjectedJson(const contracts::ProjectedSpend& p);
// A contract's (or a provider's) calendar years: spent, projected, shortfall, total.
Json YearsJson(const std::vector<contracts::YearRow>& years);
// A capacity request: its class, size, ROFR offer and answer, and award.
Json RequestJson(const RequestRow& q);

// The documents the writers dump (WriteJson) and the HTML report embeds.
Json ReportJson(const Report& r);
Json ContractsViewJson(const ContractsView& v);
// The report's `timeseries` and `workloads` sections (docs/report.md).
Json TimeSeriesJson(const TimeSeries& ts);
Json WorkloadsJson(const Workloads& w);

// The ledger's days of a run that ends at `end`: up to the last one that
// begins before it (at least one).
int64_t RunDays(const contracts::CommitmentLedger& ledger, Time end);
// The first `days` of a ledger series with their running sums, anything
// after them (nothing, since the ledger accrues nothing past the run's end)
// folded into the last.
std::vector<DaySpend> DaysOf(const contracts::CommitmentLedger& ledger,
                             const std::vector<Money>& series, int64_t days);

// Writes `j` as nlohmann's dump(2) does, except that an array of numbers,
// strings, booleans or nulls stays on one line ("[1, 2, 3]"): the report's
// time series are hundreds of numbers each, one per line in dump(2).
void WritePretty(const Json& j, std::ostream& out);

// `text` made safe inside an HTML element or a double-quoted attribute.
std::string HtmlEscape(std::string_view text);

}  // namespace polycloud::report

#endif  // POLYCLOUD_SRC_REPORT_RENDER_H_
