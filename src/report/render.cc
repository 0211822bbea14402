#include "render.h"

#include <sstream>

#include "polycloud/base/parse.h"

namespace polycloud::report {

std::string Pct(int64_t milli) {
  return std::to_string(milli / 10) + "." + std::to_string(milli % 10) + "%";
}

std::string CommitmentLabel(const ContractRow& c) {
  std::string kind = c.kind;
  if (c.discount_milli > 0) kind += ", " + Pct(c.discount_milli) + " off";
  return kind;
}

std::string ObligationStatus(const ContractRow& c, const contracts::ObligationRow& o) {
  std::string status = o.shortfall > Money() ? (o.due_in_run ? "missed" : "short")
                                             : (o.due_in_run ? "met" : "on track");
  if (o.shortfall > Money() && c.kind == "discount-only") status += " (not payable)";
  return status;
}

void WriteObligations(std::span<const ContractRow> contracts, std::ostream& out) {
  Table obligations(
      {"contract", "period", "due", "required", "spent (run)", "projected", "shortfall", "status"});
  bool prorated = false;
  for (const ContractRow& c : contracts) {
    for (const contracts::ObligationRow& o : c.obligations) {
      obligations.Row({c.id, std::string(o.term ? "term" : "minimum") + (o.prorated ? "*" : ""),
                       FormatTime(o.until), FormatMoneyShort(o.required), FormatMoneyShort(o.spent),
                       FormatMoneyShort(o.projected), FormatMoneyShort(o.shortfall),
                       ObligationStatus(c, o)});
      prorated |= o.prorated;
    }
  }
  obligations.Print(out);
  if (prorated) {
    out << "  * began before the scenario start: the requirement is pro-rated to the part "
           "inside the run\n";
  }
}

Json MoneyJson(Money m) { return Json{{"micros", m.micros()}, {"usd", FormatMoneyExact(m)}}; }

Json ContractTermsJson(const ContractRow& c) {
  return {{"id", c.id},
          {"provider", c.provider},
          {"start", FormatTimeFull(c.start)},
          {"end", FormatTimeFull(c.end)},
          {"commitment", c.kind},
          {"committed", MoneyJson(c.committed)},
          {"discount_milli", c.discount_milli},
          {"take_or_pay", c.take_or_pay},
          {"spent", MoneyJson(c.spent)},
          {"rate_per_day_at_end", MoneyJson(c.rate_per_day)},
          {"shortfall_due", MoneyJson(c.shortfall_due)},
          {"shortfall_projected", MoneyJson(c.shortfall_projected)},
          {"shortfall_not_payable", MoneyJson(c.shortfall_not_payable)},
          {"projected_after", ProjectedJson(c.projected_after)},
          {"lifetime_cost", MoneyJson(c.lifetime_cost)},
          {"years", YearsJson(c.years)}};
}

Json ProjectedJson(const contracts::ProjectedSpend& p) {
  return Json{{"usage", MoneyJson(p.usage)},
              {"reserved", MoneyJson(p.reserved)},
              {"procured", MoneyJson(p.procured)},
              {"total", MoneyJson(p.total())}};
}

Json YearsJson(const std::vector<contracts::YearRow>& years) {
  Json out = Json::array();
  for (const contracts::YearRow& y : years) {
    out.push_back({{"year", y.year},
                   {"spent", MoneyJson(y.spent)},
                   {"projected", MoneyJson(y.projected)},
                   {"shortfall", MoneyJson(y.shortfall)},
                   {"total", MoneyJson(y.spent + y.projected + y.shortfall)}});
  }
  return out;
}

Json ObligationJson(const contracts::ObligationRow& o) {
  return Json{{"kind", o.term ? "term" : "minimum"},
              {"from", FormatTimeFull(o.from)},
              {"due", FormatTimeFull(o.until)},
              {"required", MoneyJson(o.required)},
              {"spent", MoneyJson(o.spent)},
              {"projected", MoneyJson(o.projected)},
              {"shortfall", MoneyJson(o.shortfall)},
              {"due_in_run", o.due_in_run},
              {"prorated", o.prorated}};
}

int64_t RunDays(const contracts::CommitmentLedger& ledger, Time end) {
  int64_t days = 1;
  while (days < ledger.days() && ledger.DayStart(days) < end) ++days;
  return days;
}

std::vector<DaySpend> DaysOf(const contracts::CommitmentLedger& ledger,
                             const std::vector<Money>& series, int64_t days) {
  std::vector<DaySpend> out(static_cast<size_t>(days));
  Money cumulative;
  for (size_t d = 0; d < series.size(); ++d) {
    const size_t k = std::min(d, out.size() - 1);
    out[k].spend += series[d];
  }
  for (size_t d = 0; d < out.size(); ++d) {
    out[d].date = ledger.DayStart(static_cast<int64_t>(d));
    cumulative += out[d].spend;
    out[d].cumulative = cumulative;
  }
  return out;
}

namespace {

std::string Scalar(const Json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Integers (most of the time series) written directly; the rest as dump().
void WriteScalar(const Json& j, std::ostream& out) {
  if (j.is_number_integer() && !j.is_number_unsigned()) {
    out << j.get<int64_t>();
  } else if (j.is_number_unsigned()) {
    out << j.get<uint64_t>();
  } else {
    out << Scalar(j);
  }
}

void WritePretty(const Json& j, std::ostream& out, int indent) {
  const std::string pad(static_cast<size_t>(indent) + 2, ' ');
  if (j.is_object()) {
    if (j.empty()) {
      out << "{}";
      return;
    }
    out << "{\n";
    size_t i = 0;
    for (auto it = j.begin(); it != j.end(); ++it, ++i) {
      out << pad << Scalar(Json(it.key())) << ": ";
      WritePretty(it.value(), out, indent + 2);
      out << (i + 1 < j.size() ? ",\n" : "\n");
    }
    out << std::string(static_cast<size_t>(indent), ' ') << '}';
    return;
  }
  if (j.is_array()) {
    if (j.empty()) {
      out << "[]";
      return;
    }
    const bool flat =
        std::none_of(j.begin(), j.end(), [](const Json& e) { return e.is_structured(); });
    if (flat) {
      out << '[';
      for (size_t i = 0; i < j.size(); ++i) {
        if (i) out << ", ";
        WriteScalar(j[i], out);
      }
      out << ']';
      return;
    }
    out << "[\n";
    for (size_t i = 0; i < j.size(); ++i) {
      out << pad;
      WritePretty(j[i], out, indent + 2);
      out << (i + 1 < j.size() ? ",\n" : "\n");
    }
    out << std::string(static_cast<size_t>(indent), ' ') << ']';
    return;
  }
  WriteScalar(j, out);
}

}  // namespace

void WritePretty(const Json& j, std::ostream& out) {
  // One write: the document is built in memory (a few megabytes at most).
  std::ostringstream text;
  WritePretty(j, text, 0);
  out << text.view();
}

std::string HtmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

Json RequestJson(const RequestRow& q) {
  Json x = {{"id", q.id},
            {"class", q.capacity_class},
            {"gpus", q.gpus},
            {"waiting_jobs", q.waiting_jobs},
            {"oldest_job", q.oldest_job},
            {"raised", FormatTimeFull(q.raised)},
            {"outcome", q.outcome}};
  if (!q.holder.empty()) {
    x["rofr"] = {
        {"contract", q.rofr_contract},
        {"holder", q.holder},
        {"window_closes", FormatTimeFull(q.window_closes)},
        {"answer", q.answer},
        {"answered", q.answered == Time::Min() ? Json(nullptr) : Json(FormatTimeFull(q.answered))},
        {"decline_reason", q.decline_reason}};
  }
  if (!q.provider.empty()) {
    x["award"] = {{"provider", q.provider},
                  {"pool", q.pool},
                  {"via", q.via_rofr ? "rofr" : "market"},
                  {"gpus", q.awarded_gpus},
                  {"price_per_gpu_hour", MoneyJson(q.price_per_gpu_hour)},
                  {"awarded", FormatTimeFull(q.awarded)},
                  {"arrives", FormatTimeFull(q.arrives)},
                  {"ends", FormatTimeFull(q.ends)},
                  {"arrived", q.arrived},
                  {"spend", MoneyJson(q.spend)}};
  }
  return x;
}

}  // namespace polycloud::report
