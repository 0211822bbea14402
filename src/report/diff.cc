#include "polycloud/report/diff.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "polycloud/base/text.h"
#include "render.h"

namespace polycloud::report {
namespace {

// Sections compared first, in this order; the report's other objects and
// lists follow in key order. Excluded: identity, inputs, the time series and
// listed workloads (what they sum up is compared), and per-pool, per-site and
// per-fault detail.
const std::vector<std::string>& PreferredSections() {
  static const std::vector<std::string> k = {"cost",  "cost_by_policy", "contracts",
                                             "jobs",  "services",       "providers",
                                             "total", "events",         "compliance"};
  return k;
}
bool Excluded(const std::string& key) {
  static const std::set<std::string> k = {
      "schema",    "scenario",   "policy",    "seed",   "start", "end",   "inputs",
      "overrides", "timeseries", "workloads", "faults", "sites", "pools", "capacity_requests"};
  return k.count(key) > 0;
}

std::string Escape(const std::string& key) {  // RFC 6901
  std::string out;
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

struct Reader {
  std::string name;
  Status error = Status::Ok();

  bool Fail(const std::string& pointer, const std::string& message) {
    if (error.ok())
      error = InvalidInput(name + ": " + (pointer.empty() ? "/" : pointer) + ": " + message);
    return false;
  }

  // A money object {micros, usd}?
  static bool IsMoney(const Json& j) {
    return j.is_object() && j.size() == 2 && j.contains("micros") && j.contains("usd");
  }

  void Flatten(const Json& j, const std::string& pointer, const std::string& section,
               const std::string& item, const std::string& field, std::vector<DiffRow>& rows) {
    if (!error.ok()) return;
    auto add = [&](DiffValue v) {
      DiffRow row;
      row.section = section;
      row.item = item;
      row.field = field;
      row.a = v;
      rows.push_back(std::move(row));
    };
    if (IsMoney(j)) {
      const Json& m = j["micros"];
      if (!m.is_number_integer() ||
          (m.is_number_unsigned() && m.get<uint64_t>() > uint64_t{INT64_MAX})) {
        Fail(pointer + "/micros", "expected an integer number of micro-dollars");
        return;
      }
      add({DiffValue::Kind::kMoney, m.get<int64_t>(), 0});
      return;
    }
    if (j.is_object()) {
      for (auto it = j.begin(); it != j.end(); ++it) {
        Flatten(it.value(), pointer + "/" + Escape(it.key()), section, item,
                field.empty() ? it.key() : field + "." + it.key(), rows);
      }
      return;
    }
    if (j.is_number_unsigned() && j.get<uint64_t>() > uint64_t{INT64_MAX}) {
      add({DiffValue::Kind::kNumber, 0, static_cast<double>(j.get<uint64_t>())});
    } else if (j.is_number_integer()) {
      add({DiffValue::Kind::kInteger, j.get<int64_t>(), 0});
    } else if (j.is_number_float()) {
      const double d = j.get<double>();
      if (std::isfinite(d)) add({DiffValue::Kind::kNumber, 0, d});
    }
    // strings, booleans, null and nested lists are not figures to compare
  }

  static std::string ItemName(const Json& item, size_t index) {
    for (const char* key : {"id", "class", "policy"}) {
      if (item.contains(key) && item[key].is_string()) return item[key].get<std::string>();
    }
    return "[" + std::to_string(index) + "]";
  }

  // Every figure of a report, with its section order.
  bool Read(std::string_view text, Json& j, std::vector<DiffRow>& rows, ReportSide& side) {
    try {
      j = Json::parse(text.begin(), text.end());
    } catch (const Json::exception& e) {
      return Fail("", std::string("not JSON: ") + Excerpt(e.what(), 160));
    }
    if (!j.is_object())
      return Fail("", "expected a report (a JSON object), found " + std::string(j.type_name()));
    if (!j.contains("schema") || !j["schema"].is_string() ||
        j["schema"].get<std::string>() != "polycloud.report/1") {
      return Fail(
          "/schema",
          "expected \"polycloud.report/1\" (a report of simulate --json), found " +
              (j.contains("schema") ? Excerpt(j["schema"].dump(), 60) : std::string("none")));
    }
    if (!j.contains("cost") || !j["cost"].is_object() || !j["cost"].contains("total") ||
        !IsMoney(j["cost"]["total"])) {
      return Fail("/cost/total", "expected money {micros, usd}");
    }
    if (j.contains("scenario") && j["scenario"].is_string()) side.scenario = j["scenario"];
    if (j.contains("policy") && j["policy"].is_string()) side.policy = j["policy"];
    if (j.contains("overrides")) {
      if (!j["overrides"].is_array()) return Fail("/overrides", "expected a list of strings");
      for (const Json& o : j["overrides"]) {
        if (!o.is_string()) return Fail("/overrides", "expected a list of strings");
        side.overrides.push_back(o.get<std::string>());
      }
    }
    std::vector<std::string> order;
    for (const std::string& s : PreferredSections()) {
      if (j.contains(s)) order.push_back(s);
    }
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (Excluded(it.key())) continue;
      if (std::find(order.begin(), order.end(), it.key()) == order.end()) order.push_back(it.key());
    }
    for (const std::string& s : order) {
      const Json& v = j[s];
      const std::string pointer = "/" + Escape(s);
      if (v.is_object()) {
        Flatten(v, pointer, s, "", "", rows);
      } else if (v.is_array()) {
        std::set<std::string> seen;
        for (size_t i = 0; i < v.size(); ++i) {
          if (!v[i].is_object()) continue;
          std::string item = ItemName(v[i], i);
          if (!seen.insert(item).second) item += " [" + std::to_string(i) + "]";
          Flatten(v[i], pointer + "/" + std::to_string(i), s, item, "", rows);
        }
      }
      if (!error.ok()) return false;
    }
    return true;
  }
};

std::string Key(const DiffRow& r) { return r.section + '\x1f' + r.item + '\x1f' + r.field; }

std::string WithSign(const std::string& s, bool negative) { return (negative ? "-" : "+") + s; }

std::string FormatNumber(double d) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", d);
  std::string s = buf;
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s == "-0" ? "0" : s;
}

std::string FormatValue(const std::optional<DiffValue>& v) {
  if (!v) return "—";
  switch (v->kind) {
    case DiffValue::Kind::kMoney:
      return FormatUsdExact(v->exact);
    case DiffValue::Kind::kInteger:
      return std::to_string(v->exact);
    case DiffValue::Kind::kNumber:
      return FormatNumber(v->number);
  }
  return "";
}

// B − A: exact for money and integers (as a decimal string), or nullopt when
// it is not defined (a side missing, kinds differ, or the difference does not
// fit in 64 bits).
std::optional<std::string> Change(const DiffRow& r) {
  if (!r.a || !r.b || r.a->kind != r.b->kind) return std::nullopt;
  if (r.a->kind == DiffValue::Kind::kNumber) {
    const double d = r.b->number - r.a->number;
    return (d >= 0 ? "+" : "") + FormatNumber(d);
  }
  const __int128 d = static_cast<__int128>(r.b->exact) - r.a->exact;
  if (d > INT64_MAX || d < -INT64_MAX) return std::nullopt;
  const int64_t v = static_cast<int64_t>(d);
  if (r.a->kind == DiffValue::Kind::kMoney) return WithSign(FormatUsdExact(v < 0 ? -v : v), v < 0);
  return (v >= 0 ? "+" : "") + std::to_string(v);
}

std::optional<double> Relative(const DiffRow& r) {
  if (!r.a || !r.b || r.a->kind != r.b->kind) return std::nullopt;
  const double a =
      r.a->kind == DiffValue::Kind::kNumber ? r.a->number : static_cast<double>(r.a->exact);
  const double b =
      r.b->kind == DiffValue::Kind::kNumber ? r.b->number : static_cast<double>(r.b->exact);
  if (a == 0) return std::nullopt;
  return (b - a) / std::fabs(a);
}

std::string FormatRelative(const DiffRow& r) {
  auto rel = Relative(r);
  if (!rel) return r.a && r.b ? "new" : "";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%+.1f%%", *rel * 100);
  return buf;
}

Json ValueJson(const std::optional<DiffValue>& v) {
  if (!v) return nullptr;
  switch (v->kind) {
    case DiffValue::Kind::kMoney: {
      std::string usd = FormatUsdExact(v->exact);
      usd.erase(std::remove(usd.begin(), usd.end(), ','), usd.end());
      usd.erase(std::remove(usd.begin(), usd.end(), '$'), usd.end());
      return Json{{"micros", v->exact}, {"usd", usd}};
    }
    case DiffValue::Kind::kInteger:
      return v->exact;
    case DiffValue::Kind::kNumber:
      return v->number;
  }
  return nullptr;
}

const char* KindName(const DiffRow& r) {
  const DiffValue& v = r.a ? *r.a : *r.b;
  switch (v.kind) {
    case DiffValue::Kind::kMoney:
      return "money";
    case DiffValue::Kind::kInteger:
      return "integer";
    case DiffValue::Kind::kNumber:
      return "number";
  }
  return "";
}

Json SideJson(const ReportSide& s) {
  return Json{
      {"path", s.path}, {"scenario", s.scenario}, {"policy", s.policy}, {"overrides", s.overrides}};
}

std::string SideLine(const ReportSide& s) {
  std::string out = s.path + " (" + s.scenario;
  if (!s.policy.empty()) out += ", " + s.policy;
  for (const std::string& o : s.overrides) out += "; " + o;
  return out + ")";
}

}  // namespace

std::string FormatUsdExact(int64_t micros) {
  const bool negative = micros < 0;
  const uint64_t m =
      negative ? uint64_t{0} - static_cast<uint64_t>(micros) : static_cast<uint64_t>(micros);
  std::string whole = std::to_string(m / 1'000'000);
  char frac[8];
  std::snprintf(frac, sizeof frac, "%06" PRIu64, m % 1'000'000);
  std::string grouped;
  for (size_t i = 0; i < whole.size(); ++i) {
    if (i > 0 && (whole.size() - i) % 3 == 0) grouped += ',';
    grouped += whole[i];
  }
  return std::string(negative ? "-" : "") + "$" + grouped + "." + frac;
}

Result<ReportDiff> DiffReports(std::string_view a_text, std::string_view a_name,
                               std::string_view b_text, std::string_view b_name) {
  ReportDiff diff;
  diff.a.path = std::string(a_name);
  diff.b.path = std::string(b_name);
  std::vector<DiffRow> a_rows, b_rows;
  Json a_json, b_json;
  Reader ra{std::string(a_name)}, rb{std::string(b_name)};
  if (!ra.Read(a_text, a_json, a_rows, diff.a)) return ra.error;
  if (!rb.Read(b_text, b_json, b_rows, diff.b)) return rb.error;
  // A's rows in order, each B-only row after the last row of its section.
  std::map<std::string, size_t> index;
  std::vector<std::string> sections;
  std::map<std::string, std::vector<DiffRow>> by_section;
  auto section_of = [&](const std::string& s) -> std::vector<DiffRow>& {
    if (!by_section.count(s)) sections.push_back(s);
    return by_section[s];
  };
  for (DiffRow& r : a_rows) section_of(r.section).push_back(r);
  for (auto& [s, rows] : by_section) {
    for (size_t i = 0; i < rows.size(); ++i) index[Key(rows[i])] = i;
  }
  for (DiffRow& r : b_rows) {
    auto& rows = section_of(r.section);
    auto it = index.find(Key(r));
    if (it != index.end() && it->second < rows.size() && Key(rows[it->second]) == Key(r)) {
      rows[it->second].b = r.a;
    } else {
      DiffRow only_b = r;
      only_b.b = r.a;
      only_b.a.reset();
      rows.push_back(std::move(only_b));
    }
  }
  for (const std::string& s : sections) {
    for (DiffRow& r : by_section[s]) {
      if (r.changed()) ++diff.changed;
      diff.rows.push_back(std::move(r));
    }
  }
  return diff;
}

void WriteDiffText(const ReportDiff& diff, bool all, std::ostream& out) {
  out << "polycloud diff\n  A: " << SideLine(diff.a) << "\n  B: " << SideLine(diff.b) << "\n";
  out << diff.changed << " of " << diff.rows.size() << " figures changed"
      << (diff.changed == 0 ? ": the reports agree.\n" : ".\n");
  if (diff.changed == 0 && !all) return;
  Table table({"section", "item", "figure", "A", "B", "B − A", "change"});
  for (const DiffRow& r : diff.rows) {
    if (!all && !r.changed()) continue;
    table.Row({r.section, r.item, r.field, FormatValue(r.a), FormatValue(r.b),
               Change(r).value_or(""), FormatRelative(r)});
  }
  out << "\n";
  table.Print(out);
}

void WriteDiffJson(const ReportDiff& diff, bool all, std::ostream& out) {
  Json j;
  j["schema"] = "polycloud.diff/1";
  j["a"] = SideJson(diff.a);
  j["b"] = SideJson(diff.b);
  j["figures"] = diff.rows.size();
  j["changed"] = diff.changed;
  Json& rows = j["rows"] = Json::array();
  for (const DiffRow& r : diff.rows) {
    if (!all && !r.changed()) continue;
    Json row = {{"section", r.section}, {"item", r.item},      {"figure", r.field},
                {"kind", KindName(r)},  {"a", ValueJson(r.a)}, {"b", ValueJson(r.b)}};
    if (r.a && r.b && r.a->kind == r.b->kind) {
      if (r.a->kind == DiffValue::Kind::kNumber) {
        row["change"] = r.b->number - r.a->number;
      } else {
        const __int128 d = static_cast<__int128>(r.b->exact) - r.a->exact;
        if (d <= INT64_MAX && d >= -INT64_MAX) {
          DiffValue c{r.a->kind, static_cast<int64_t>(d), 0};
          row["change"] = ValueJson(c);
        }
      }
    }
    if (!row.contains("change")) row["change"] = nullptr;
    auto rel = Relative(r);
    row["relative"] = rel ? Json(std::round(*rel * 1e6) / 1e6) : Json(nullptr);
    rows.push_back(std::move(row));
  }
  out << j.dump(2) << "\n";
}

Result<ReportSummary> SummarizeReport(std::string_view text, std::string_view name) {
  Reader reader{std::string(name)};
  Json j;
  std::vector<DiffRow> rows;
  ReportSide side;
  if (!reader.Read(text, j, rows, side)) return reader.error;
  ReportSummary s;
  s.scenario = side.scenario;
  s.overrides = side.overrides;
  __int128 demand = 0, served = 0;
  for (const DiffRow& r : rows) {
    if (!r.a) continue;
    const DiffValue& v = *r.a;
    if (r.section == "cost" && r.item.empty() && v.kind == DiffValue::Kind::kMoney) {
      if (r.field == "total") s.total_cost_micros = v.exact;
      if (r.field == "spend") s.spend_micros = v.exact;
      if (r.field == "take_or_pay_shortfall") s.shortfall_micros = v.exact;
    }
    if (r.section == "jobs" && r.item == "all") {
      const double x = v.kind == DiffValue::Kind::kNumber ? v.number : static_cast<double>(v.exact);
      if (r.field == "queue_wait.mean_s") s.mean_wait_s = x;
      if (r.field == "queue_wait.p99_s") s.p99_wait_s = x;
    }
    if (r.section == "services" && v.kind == DiffValue::Kind::kInteger) {
      if (r.field == "demand_token_seconds") demand += v.exact;
      if (r.field == "served_token_seconds") served += v.exact;
    }
  }
  if (demand > 0)
    s.service_level_milli = static_cast<int64_t>((served * 1000 + demand / 2) / demand);
  return s;
}

}  // namespace polycloud::report
