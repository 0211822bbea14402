#include "polycloud/report/contracts_view.h"

#include <algorithm>

#include "polycloud/base/parse.h"
#include "render.h"

namespace polycloud::report {
namespace {

constexpr int64_t kDaySeconds = 86400;

// One period of the run: days [first_day, end_day) of the ledger.
struct Span {
  std::string label;
  int64_t first_day = 0, end_day = 0;
  Time from, until;
};

int64_t FloorMod(int64_t a, int64_t b) { return ((a % b) + b) % b; }

// The run's periods. Days are the ledger's (day 0 = the day of the start),
// up to the last one beginning before the run's end.
std::vector<Span> RunSpans(const contracts::CommitmentLedger& ledger, Time start, Time end,
                           Period by, int64_t days) {
  std::vector<Span> spans;
  std::string key;
  for (int64_t d = 0; d < days; ++d) {
    const Time day = ledger.DayStart(d);
    const std::string date = FormatTime(day);  // "YYYY-MM-DD"
    std::string day_key;
    switch (by) {
      case Period::kDay:
        day_key = date;
        break;
      case Period::kWeek: {
        const int64_t epoch_day = day.unix_seconds() / kDaySeconds;
        day_key = std::to_string(epoch_day - FloorMod(epoch_day + 3, 7));  // 1970-01-01: Thursday
        break;
      }
      case Period::kMonth:
        day_key = date.substr(0, 7);
        break;
    }
    if (spans.empty() || day_key != key) {
      key = day_key;
      Span s;
      s.label = by == Period::kMonth ? day_key : date;
      s.first_day = d;
      s.from = std::max(day, start);
      spans.push_back(std::move(s));
    }
    spans.back().end_day = d + 1;
    spans.back().until = std::min(day + Duration::Seconds(kDaySeconds), end);
  }
  return spans;
}

PeriodRow RowOf(const Span& s, const std::vector<DaySpend>& days) {
  PeriodRow row;
  row.label = s.label;
  row.from = s.from;
  row.until = s.until;
  for (int64_t d = s.first_day; d < s.end_day; ++d) row.spend += days[d].spend;
  row.cumulative = days[s.end_day - 1].cumulative;
  return row;
}

ContractTimeline TimelineOf(const world::World& world, const scheduler::Scheduler& sched,
                            world::ContractIndex c, Time end, const std::vector<Span>& spans,
                            int64_t run_days) {
  const contracts::CommitmentLedger& ledger = sched.ledger();
  const world::Contract& contract = world.contracts[c];
  ContractTimeline t;
  t.contract = ContractRowOf(world, sched, c, end);
  for (size_t i = 0; i < sched.requests().size(); ++i) {
    if (sched.requests()[i].rofr_contract != c) continue;
    t.offers.push_back(RequestRowOf(world, sched, static_cast<int32_t>(i)));
  }
  const std::vector<DaySpend> all = DaysOf(ledger, ledger.ContractDays(c), run_days);

  // Days shown: those in the term or with spend under the contract.
  int64_t first = run_days, last = -1;
  for (int64_t d = 0; d < run_days; ++d) {
    const Time day = all[d].date;
    const bool in_term =
        day < contract.end && day + Duration::Seconds(kDaySeconds) > contract.start;
    if (in_term || all[d].spend != Money()) {
      first = std::min(first, d);
      last = d;
    }
  }
  if (last >= first) t.days.assign(all.begin() + first, all.begin() + last + 1);

  for (const Span& s : spans) {
    PeriodRow row = RowOf(s, all);
    const auto& obligations = t.contract.obligations;
    for (size_t k = 0; k < obligations.size(); ++k) {
      const Time due = obligations[k].until;
      if (due > s.from && due <= s.until) row.obligations_due.push_back(static_cast<int32_t>(k));
    }
    for (size_t k = 0; k < t.offers.size(); ++k) {
      const Time raised = t.offers[k].raised;
      // An offer raised at the run's very end belongs to the last period.
      if (raised >= s.from && (raised < s.until || (raised == end && s.until == end)))
        row.offers.push_back(static_cast<int32_t>(k));
    }
    const bool shown_days = s.end_day > first && s.first_day <= last;
    if (shown_days || !row.obligations_due.empty() || !row.offers.empty())
      t.periods.push_back(std::move(row));
  }
  return t;
}

std::string OfferCell(const RequestRow& q) {
  return q.id + " " + (q.answer.empty() ? q.outcome : q.answer);
}

// What the holder was offered and what came of it, one row per request.
void WriteOffers(const std::vector<RequestRow>& offers, std::ostream& out) {
  Table table({"request", "raised", "class", "GPUs", "answer", "reason", "awarded to", "via",
               "$/GPU-h", "arrives"});
  for (const RequestRow& q : offers) {
    const bool awarded = !q.provider.empty();
    table.Row(
        {q.id, FormatTime(q.raised), q.capacity_class, std::to_string(q.gpus),
         q.answer.empty() ? q.outcome : q.answer, q.decline_reason.empty() ? "-" : q.decline_reason,
         awarded ? q.provider + " (" + q.pool + ")" : q.outcome,
         awarded ? (q.via_rofr ? "rofr" : "market") : "-",
         awarded ? FormatMoney(q.price_per_gpu_hour) : "-", awarded ? FormatTime(q.arrives) : "-"});
  }
  table.Print(out);
}

void WriteContract(const ContractTimeline& t, std::ostream& out) {
  const ContractRow& c = t.contract;
  out << c.id << " — " << c.provider << ", " << FormatTime(c.start) << " to " << FormatTime(c.end)
      << ", " << CommitmentLabel(c);
  if (c.kind != "none") out << ", committed " << FormatMoneyShort(c.committed);
  out << "\n  spent in the run " << FormatMoneyShort(c.spent) << " (rate/day at end "
      << FormatMoneyShort(c.rate_per_day) << ")";
  if (c.take_or_pay) {
    out << "; take-or-pay shortfall due in the run " << FormatMoneyShort(c.shortfall_due)
        << ", projected after it " << FormatMoneyShort(c.shortfall_projected);
  } else if (c.kind == "discount-only") {
    out << "; shortfall " << FormatMoneyShort(c.shortfall_not_payable)
        << " (discount-only: not payable)";
  }
  out << "\n";
  if (t.periods.empty()) {
    out << "  (its term is outside the run and nothing was spent under it)\n";
  } else {
    // Columns for minimums and offers only when some period has one.
    bool any_due = false, any_offer = false;
    for (const PeriodRow& p : t.periods) {
      any_due |= !p.obligations_due.empty();
      any_offer |= !p.offers.empty();
    }
    std::vector<std::string> header = {"period", "spend", "cumulative"};
    if (any_due)
      header.insert(header.end(), {"falls due", "required", "spent", "shortfall", "status"});
    if (any_offer) header.push_back("ROFR offers");
    Table table(header);
    Money total;
    for (const PeriodRow& p : t.periods) {
      total += p.spend;
      std::string offers;
      for (int32_t k : p.offers) offers += (offers.empty() ? "" : ", ") + OfferCell(t.offers[k]);
      if (offers.empty()) offers = "-";
      const size_t lines = std::max<size_t>(1, p.obligations_due.size());
      for (size_t i = 0; i < lines; ++i) {
        std::vector<std::string> cells = {"", "", ""};
        if (i == 0) cells = {p.label, FormatMoneyShort(p.spend), FormatMoneyShort(p.cumulative)};
        if (any_due && i < p.obligations_due.size()) {
          const contracts::ObligationRow& o = c.obligations[p.obligations_due[i]];
          cells.insert(cells.end(), {std::string(o.term ? "term " : "minimum ") +
                                         FormatTime(o.until) + (o.prorated ? "*" : ""),
                                     FormatMoneyShort(o.required), FormatMoneyShort(o.spent),
                                     FormatMoneyShort(o.shortfall), ObligationStatus(c, o)});
        } else if (any_due) {
          cells.insert(cells.end(), {"-", "", "", "", ""});
        }
        if (any_offer) cells.push_back(i == 0 ? offers : "");
        table.Row(std::move(cells));
      }
    }
    table.Row({"total", FormatMoneyShort(total)});
    table.Print(out);
  }
  if (!c.obligations.empty()) {
    out << "  Obligations (after the run's end, projected: reserved per schedule, awards to their "
           "ends, on-demand at the last "
        << contracts::kProjectionDays << " days' mean)\n";
    WriteObligations(std::span<const ContractRow>(&c, 1), out);
  }
  if (c.rofr_clauses > 0 || !t.offers.empty()) {
    out << "  ROFR offers (" << c.rofr_clauses << " clause" << (c.rofr_clauses == 1 ? "" : "s")
        << ")\n";
    if (t.offers.empty()) {
      out << "  none: no capacity request fell under its right of first refusal\n";
    } else {
      WriteOffers(t.offers, out);
    }
  }
}

Json DaysJson(const std::vector<DaySpend>& days) {
  Json out = Json::array();
  for (const DaySpend& d : days) {
    out.push_back({{"date", FormatTime(d.date)},
                   {"spend", MoneyJson(d.spend)},
                   {"cumulative", MoneyJson(d.cumulative)}});
  }
  return out;
}

Json PeriodsJson(const std::vector<PeriodRow>& periods, const std::vector<RequestRow>* offers) {
  Json out = Json::array();
  for (const PeriodRow& p : periods) {
    Json x = {{"period", p.label},
              {"from", FormatTimeFull(p.from)},
              {"until", FormatTimeFull(p.until)},
              {"spend", MoneyJson(p.spend)},
              {"cumulative", MoneyJson(p.cumulative)}};
    if (offers != nullptr) {
      x["obligations_due"] = p.obligations_due;
      Json ids = Json::array();
      for (int32_t k : p.offers) ids.push_back((*offers)[k].id);
      x["offers"] = std::move(ids);
    }
    out.push_back(std::move(x));
  }
  return out;
}

}  // namespace

Result<Period> ParsePeriod(std::string_view name) {
  if (name == "day") return Period::kDay;
  if (name == "week") return Period::kWeek;
  if (name == "month") return Period::kMonth;
  return InvalidArgument("--by: unknown period '" + std::string(name) +
                         "' (expected day, week or month)");
}

const char* PeriodName(Period period) {
  switch (period) {
    case Period::kDay:
      return "day";
    case Period::kWeek:
      return "week";
    case Period::kMonth:
      return "month";
  }
  return "month";
}

ContractsView BuildContractsView(const world::World& world, const scheduler::Scheduler& sched,
                                 const sim::RunStats& stats, const std::string& policy, Period by) {
  const contracts::CommitmentLedger& ledger = sched.ledger();
  ContractsView v;
  v.scenario = world.name;
  v.policy = policy;
  v.seed = world.seed;
  v.start = world.start;
  v.end = stats.end;
  v.by = by;
  const int64_t run_days = RunDays(ledger, v.end);
  const std::vector<Span> spans = RunSpans(ledger, v.start, v.end, by, run_days);
  for (size_t c = 0; c < world.contracts.size(); ++c) {
    v.contracts.push_back(
        TimelineOf(world, sched, static_cast<world::ContractIndex>(c), v.end, spans, run_days));
  }
  for (size_t p = 0; p < world.providers.size(); ++p) {
    const std::vector<Money> series = ledger.ProviderDays(static_cast<world::ProviderIndex>(p));
    UncontractedTimeline u;
    u.provider = world.providers[p].id;
    u.days = DaysOf(ledger, series, run_days);
    u.spent = u.days.back().cumulative;
    if (u.spent == Money()) continue;
    for (const Span& s : spans) u.periods.push_back(RowOf(s, u.days));
    v.uncontracted.push_back(std::move(u));
  }
  return v;
}

void WriteText(const ContractsView& v, std::ostream& out) {
  out << "polycloud contracts: " << v.scenario << "  (" << FormatTime(v.start) << " to "
      << FormatTime(v.end) << ", policy " << v.policy << ", seed " << v.seed << ", by "
      << PeriodName(v.by) << ")\n";
  if (v.contracts.empty()) out << "\nNo contracts.\n";
  for (const ContractTimeline& t : v.contracts) {
    out << "\n";
    WriteContract(t, out);
  }
  if (!v.uncontracted.empty()) {
    out << "\nSpend under no contract\n";
    std::vector<std::string> header = {"period"};
    for (const UncontractedTimeline& u : v.uncontracted) header.push_back(u.provider);
    header.push_back("total");
    Table table(std::move(header));
    const size_t periods = v.uncontracted.front().periods.size();
    for (size_t k = 0; k < periods; ++k) {
      std::vector<std::string> cells = {v.uncontracted.front().periods[k].label};
      Money total;
      for (const UncontractedTimeline& u : v.uncontracted) {
        cells.push_back(FormatMoneyShort(u.periods[k].spend));
        total += u.periods[k].spend;
      }
      cells.push_back(FormatMoneyShort(total));
      table.Row(std::move(cells));
    }
    std::vector<std::string> totals = {"total"};
    Money total;
    for (const UncontractedTimeline& u : v.uncontracted) {
      totals.push_back(FormatMoneyShort(u.spent));
      total += u.spent;
    }
    totals.push_back(FormatMoneyShort(total));
    table.Row(std::move(totals));
    table.Print(out);
  }
}

Json ContractsViewJson(const ContractsView& v) {
  Json j;
  j["schema"] = "polycloud.contracts/1";
  j["scenario"] = v.scenario;
  j["policy"] = v.policy;
  j["seed"] = v.seed;
  j["start"] = FormatTimeFull(v.start);
  j["end"] = FormatTimeFull(v.end);
  j["by"] = PeriodName(v.by);
  Json& contracts = j["contracts"] = Json::array();
  for (const ContractTimeline& t : v.contracts) {
    const ContractRow& c = t.contract;
    Json obligations = Json::array();
    for (const contracts::ObligationRow& o : c.obligations)
      obligations.push_back(ObligationJson(o));
    Json offers = Json::array();
    for (const RequestRow& q : t.offers) offers.push_back(RequestJson(q));
    Json x = ContractTermsJson(c);
    x["rofr_clauses"] = c.rofr_clauses;
    x["obligations"] = std::move(obligations);
    x["days"] = DaysJson(t.days);
    x["periods"] = PeriodsJson(t.periods, &t.offers);
    x["offers"] = std::move(offers);
    contracts.push_back(std::move(x));
  }
  Json& uncontracted = j["no_contract"] = Json::array();
  for (const UncontractedTimeline& u : v.uncontracted) {
    uncontracted.push_back({{"provider", u.provider},
                            {"spent", MoneyJson(u.spent)},
                            {"days", DaysJson(u.days)},
                            {"periods", PeriodsJson(u.periods, nullptr)}});
  }
  return j;
}

void WriteJson(const ContractsView& v, std::ostream& out) {
  out << ContractsViewJson(v).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
}

}  // namespace polycloud::report
