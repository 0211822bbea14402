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
// The broker's dashboard (`polycloud serve`, GET /) is the same page code
// served as files rather than inlined: DashboardHtml() and
// DashboardAssets(), compiled in from the same generated header, so the
// binary needs no web/ folder and no network at run time.
//
// Thread-safety: plain functions.
#ifndef POLYCLOUD_REPORT_HTML_H_
#define POLYCLOUD_REPORT_HTML_H_

#include <ostream>
#include <span>
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

// A file the dashboard loads, compiled into the binary (web/build.mjs).
struct WebAsset {
  std::string_view name;          // "report.js": served as /assets/report.js
  std::string_view content_type;  // "text/javascript; charset=utf-8"
  std::string_view body;
};
// The dashboard's HTML (web/dashboard.html): it loads /assets/<name> for
// uPlot, the report's page code and styles, and the dashboard's own.
std::string_view DashboardHtml();
// Every file under /assets/, in a fixed order; static storage.
std::span<const WebAsset> DashboardAssets();

}  // namespace polycloud::report

#endif  // POLYCLOUD_REPORT_HTML_H_
