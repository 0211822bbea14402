// The HTML report: one self-contained page — uPlot and the page code
// (web/src, inlined at build time from src/report/html_assets.h), their
// styles, and the document's JSON embedded as data — that draws the charts,
// tables and explanations of a run. It needs no network to open. The JSON
// is the same document the --json writers produce, so the page, and the
// broker's dashboard that fetches that JSON from its API, read one format
// (docs/report.md, "The HTML report").
//
//   report::WriteHtml(report, file);          // simulate --html
//   report::WriteHtml(contracts_view, file);  // contracts --html
//   report::WriteHtmlPage("title", json_text, file);  // any JSON with a known "schema"
//
// Thread-safety: plain functions.
#ifndef POLYCLOUD_REPORT_HTML_H_
#define POLYCLOUD_REPORT_HTML_H_

#include <ostream>
#include <string_view>

#include "polycloud/report/contracts_view.h"
#include "polycloud/report/report.h"

namespace polycloud::report {

// Writes the page for `json`, a JSON document whose "schema" the page code
// knows (polycloud.report/1, polycloud.contracts/1, polycloud.replay.philly/1,
// polycloud.replay.fidelity/1). `title` is the page's title (plain text).
void WriteHtmlPage(std::string_view title, std::string_view json, std::ostream& out);

void WriteHtml(const Report& report, std::ostream& out);
void WriteHtml(const ContractsView& view, std::ostream& out);

}  // namespace polycloud::report

#endif  // POLYCLOUD_REPORT_HTML_H_
