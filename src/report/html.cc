#include "polycloud/report/html.h"

#include <string>

#include "html_assets.h"
#include "render.h"

namespace polycloud::report {
namespace {

// JSON inside <script type="application/json">: the text must not close the
// element ("</script") or open a comment ("<!--"). In JSON a '<' can only sit
// inside a string, where "\u003c" means the same.
void WriteScriptSafe(std::string_view json, std::ostream& out) {
  size_t from = 0;
  for (size_t i = json.find('<'); i != std::string_view::npos; i = json.find('<', from)) {
    out << json.substr(from, i - from) << "\\u003c";
    from = i + 1;
  }
  out << json.substr(from);
}

std::string Compact(const Json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

void WriteHtmlPage(std::string_view title, std::string_view json, std::ostream& out) {
  using namespace html_assets;
  out << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
         "<meta name=\"generator\" content=\"polycloud\">\n<title>"
      << HtmlEscape(title) << "</title>\n<!--\nCharts: uPlot " << kUplotVersion
      << ", inlined below under its licence:\n\n"
      << kUplotLicense << "\n-->\n<style>\n"
      << kUplotCss << "\n</style>\n<style>\n"
      << kReportCss << "</style>\n</head>\n<body>\n"
      << "<noscript>This report draws its charts and tables with JavaScript; its data is the JSON "
         "in the element #polycloud-data.</noscript>\n"
      << "<div id=\"polycloud-report\"></div>\n"
      << "<script type=\"application/json\" id=\"polycloud-data\">";
  WriteScriptSafe(json, out);
  out << "</script>\n<script>\n"
      << kUplotJs << "\n</script>\n<script>\n"
      << kReportJs
      << "</script>\n<script>\nPolycloudReport.mount(document.getElementById('polycloud-report'), "
         "JSON.parse(document.getElementById('polycloud-data').textContent));\n</script>\n"
         "</body>\n</html>\n";
}

void WriteHtml(const Report& report, std::ostream& out) {
  WriteHtmlPage("polycloud report: " + report.scenario, Compact(ReportJson(report)), out);
}

void WriteHtml(const ContractsView& view, std::ostream& out) {
  WriteHtmlPage("polycloud contracts: " + view.scenario, Compact(ContractsViewJson(view)), out);
}

std::string_view DashboardHtml() { return html_assets::kDashboardHtml; }

std::span<const WebAsset> DashboardAssets() {
  using namespace html_assets;
  static constexpr std::string_view kJs = "text/javascript; charset=utf-8";
  static constexpr std::string_view kCss = "text/css; charset=utf-8";
  static constexpr WebAsset kAssets[] = {
      {"uPlot.iife.min.js", kJs, kUplotJs},
      {"uPlot.min.css", kCss, kUplotCss},
      {"uPlot-LICENSE.txt", "text/plain; charset=utf-8", kUplotLicense},
      {"report.js", kJs, kReportJs},
      {"report.css", kCss, kReportCss},
      {"dashboard.js", kJs, kDashboardJs},
      {"dashboard.css", kCss, kDashboardCss},
  };
  return kAssets;
}

}  // namespace polycloud::report
