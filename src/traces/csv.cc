#include "polycloud/traces/csv.h"

#include <cstdio>
#include <cstring>

#include "polycloud/base/text.h"

namespace polycloud::traces {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

std::string SchemaNames(const CsvSchema& schema) {
  std::string out;
  for (const CsvColumn& c : schema) {
    if (!out.empty()) out += ", ";
    out += c.name;
    if (!c.required) out += " (optional)";
  }
  return out;
}

std::string Printable(char c) {
  if (c >= 0x20 && c < 0x7f) return std::string("'") + c + "'";
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02x", static_cast<unsigned char>(c));
  return buf;
}

// Incremental RFC 4180 splitter: fields go to `out` back to back, spans to
// `spans`. Feed() one physical line at a time; while it returns true a quoted
// field is still open and the next line belongs to the same record.
class RecordSplitter {
 public:
  RecordSplitter(std::string& out, std::vector<std::pair<size_t, size_t>>& spans)
      : out_(out), spans_(spans) {
    out_.clear();
    spans_.clear();
  }

  // Returns an error message, or empty. Sets `open` when a quote spans the line end.
  std::string Feed(std::string_view line, bool& open) {
    if (state_ == State::kQuoted) out_ += '\n';
    if (state_ == State::kFieldStart && line.find('"') == std::string_view::npos) {
      FastSplit(line);
      open = false;
      return {};
    }
    for (char c : line) {
      switch (state_) {
        case State::kFieldStart:
          if (c == '"') {
            state_ = State::kQuoted;
          } else if (c == ',') {
            EndField();
          } else {
            out_ += c;
            state_ = State::kUnquoted;
          }
          break;
        case State::kUnquoted:
          if (c == ',') {
            EndField();
            state_ = State::kFieldStart;
          } else {
            out_ += c;  // a stray quote inside an unquoted field is kept literally
          }
          break;
        case State::kQuoted:
          if (c == '"') {
            state_ = State::kQuoteInQuoted;
          } else {
            out_ += c;
          }
          break;
        case State::kQuoteInQuoted:
          if (c == '"') {
            out_ += '"';
            state_ = State::kQuoted;
          } else if (c == ',') {
            EndField();
            state_ = State::kFieldStart;
          } else {
            return "field " + std::to_string(spans_.size() + 1) + ": expected ',' or the end " +
                   "of the record after a closing quote, found " + Printable(c) +
                   " (write a quote inside a quoted field as \"\")";
          }
          break;
      }
    }
    open = state_ == State::kQuoted;
    if (!open) EndField();
    return {};
  }

  size_t bytes() const { return out_.size(); }

 private:
  enum class State { kFieldStart, kUnquoted, kQuoted, kQuoteInQuoted };

  void FastSplit(std::string_view line) {
    while (true) {
      const void* comma = std::memchr(line.data(), ',', line.size());
      size_t n = comma != nullptr
                     ? static_cast<size_t>(static_cast<const char*>(comma) - line.data())
                     : line.size();
      out_.append(line.data(), n);
      EndField();
      if (comma == nullptr) return;
      line.remove_prefix(n + 1);
    }
  }

  void EndField() {
    spans_.emplace_back(field_start_, out_.size() - field_start_);
    field_start_ = out_.size();
  }

  std::string& out_;
  std::vector<std::pair<size_t, size_t>>& spans_;
  State state_ = State::kFieldStart;
  size_t field_start_ = 0;
};

}  // namespace

Result<std::vector<std::string>> SplitCsvRecord(std::string_view record) {
  std::string bytes;
  std::vector<std::pair<size_t, size_t>> spans;
  RecordSplitter splitter(bytes, spans);
  bool open = false;
  std::string error = splitter.Feed(record, open);
  if (!error.empty()) return InvalidInput(error);
  if (open) return InvalidInput("unterminated quoted field");
  std::vector<std::string> fields;
  fields.reserve(spans.size());
  for (auto [offset, length] : spans) fields.emplace_back(bytes, offset, length);
  return fields;
}

Result<CsvReader> CsvReader::Open(const TraceInput& input, CsvSchema schema,
                                  const ReadOptions& options) {
  LineReaderOptions line_options;
  line_options.max_line_bytes = options.max_line_bytes;
  POLYCLOUD_ASSIGN_OR_RETURN(LineReader lines, LineReader::Open(input, line_options));
  CsvReader reader(std::move(lines));
  reader.schema_ = std::move(schema);
  reader.options_ = options;
  reader.stats_.gzip = reader.lines_.gzip();
  POLYCLOUD_RETURN_IF_ERROR(reader.ReadHeaderLine());

  const std::string where = reader.name() + ":1: ";
  reader.file_column_.assign(reader.schema_.size(), -1);
  std::vector<bool> known(reader.header_.size(), false);
  for (size_t s = 0; s < reader.schema_.size(); ++s) {
    for (size_t f = 0; f < reader.header_.size(); ++f) {
      if (reader.header_[f] == reader.schema_[s].name) {
        reader.file_column_[s] = static_cast<int>(f);
        known[f] = true;
      }
    }
  }
  for (size_t f = 0; f < reader.header_.size(); ++f) {
    for (size_t g = 0; g < f; ++g) {
      if (reader.header_[f] == reader.header_[g]) {
        return InvalidInput(where + "column '" + Excerpt(reader.header_[f]) +
                            "' appears twice in the header");
      }
    }
  }
  for (size_t s = 0; s < reader.schema_.size(); ++s) {
    if (reader.schema_[s].required && reader.file_column_[s] < 0) {
      return InvalidInput(where + "missing required column '" +
                          std::string(reader.schema_[s].name) +
                          "' (expected columns: " + SchemaNames(reader.schema_) +
                          "; found: " + Excerpt(JoinNames(reader.header_), 200) + ")");
    }
  }
  for (size_t f = 0; f < reader.header_.size(); ++f) {
    if (known[f]) continue;
    if (!options.allow_unknown_columns) {
      return InvalidInput(where + "unknown column '" + Excerpt(reader.header_[f]) +
                          "' (expected columns: " + SchemaNames(reader.schema_) +
                          "; is the format right?)");
    }
    reader.stats_.ignored_columns.push_back(reader.header_[f]);
  }
  return reader;
}

Result<std::vector<std::string>> CsvReader::ReadHeader(const TraceInput& input,
                                                       const ReadOptions& options) {
  LineReaderOptions line_options;
  line_options.max_line_bytes = options.max_line_bytes;
  POLYCLOUD_ASSIGN_OR_RETURN(LineReader lines, LineReader::Open(input, line_options));
  CsvReader reader(std::move(lines));
  reader.options_ = options;
  POLYCLOUD_RETURN_IF_ERROR(reader.ReadHeaderLine());
  return std::move(reader.header_);
}

Status CsvReader::ReadHeaderLine() {
  POLYCLOUD_ASSIGN_OR_RETURN(std::optional<std::string_view> line, lines_.NextLine());
  if (!line) return InvalidInput(name() + ": empty input: expected a header line of column names");
  std::string_view text = *line;
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // UTF-8 byte order mark
  record_line_ = lines_.line_number();
  POLYCLOUD_ASSIGN_OR_RETURN(std::string error, ParseRecord(text));
  if (!error.empty()) return InvalidInput(Location() + ": header: " + error);
  if (auto bad = FindInvalidUtf8(text)) {
    return InvalidInput(Location() + ": header: column " + std::to_string(bad->column) +
                        ": invalid UTF-8");
  }
  header_.clear();
  for (auto [offset, length] : spans_) {
    header_.emplace_back(Trim(std::string_view(fields_).substr(offset, length)));
  }
  if (header_.size() == 1 && header_[0].empty()) {
    return InvalidInput(Location() + ": empty header line: expected column names");
  }
  return Status::Ok();
}

Result<std::string> CsvReader::ParseRecord(std::string_view line) {
  RecordSplitter splitter(fields_, spans_);
  bool open = false;
  std::string error = splitter.Feed(line, open);
  while (error.empty() && open) {
    if (splitter.bytes() > options_.max_line_bytes) {
      return "a quoted field runs past " + std::to_string(options_.max_line_bytes) +
             " bytes (unbalanced quote?)";
    }
    POLYCLOUD_ASSIGN_OR_RETURN(std::optional<std::string_view> next, lines_.NextLine());
    if (!next) return std::string("unterminated quoted field (the input ends inside quotes)");
    error = splitter.Feed(*next, open);
  }
  return error;
}

Result<bool> CsvReader::Next() {
  while (true) {
    POLYCLOUD_ASSIGN_OR_RETURN(std::optional<std::string_view> line, lines_.NextLine());
    if (!line) return false;
    if (line->empty()) continue;  // blank lines (a trailing one is common) are not records
    record_line_ = lines_.line_number();
    ++stats_.records;
    POLYCLOUD_ASSIGN_OR_RETURN(std::string error, ParseRecord(*line));
    if (error.empty() && spans_.size() != header_.size()) {
      error = "expected " + std::to_string(header_.size()) + " fields as in the header, found " +
              std::to_string(spans_.size());
    }
    // `line` is still valid only if the record did not pull more lines.
    if (error.empty())
      error = CheckUtf8(lines_.line_number() == record_line_ ? *line : std::string_view());
    if (error.empty()) return true;
    POLYCLOUD_RETURN_IF_ERROR(ReportBadRow(error));
  }
}

// Fields become ids, names and regions that reach the JSON report, which
// must stay valid UTF-8: a field that is not is a bad row.
std::string CsvReader::CheckUtf8(std::string_view first_line) const {
  if (!FindInvalidUtf8(fields_)) return "";
  for (size_t f = 0; f < spans_.size(); ++f) {
    std::string_view field = std::string_view(fields_).substr(spans_[f].first, spans_[f].second);
    auto bad = FindInvalidUtf8(field);
    if (!bad) continue;
    std::string where = "field " + std::to_string(f + 1);
    if (f < header_.size()) where += " (" + Excerpt(header_[f]) + ")";
    if (auto in_line = FindInvalidUtf8(first_line))  // a record on one line: its column
      where = "column " + std::to_string(in_line->column) + ", " + where;
    return where + ": invalid UTF-8 (byte " + Excerpt(field.substr(bad->offset, 1)) + " in " +
           QuoteExcerpt(field) + ")";
  }
  return "";
}

std::string_view CsvReader::Field(int column) const {
  int f = file_column_[column];
  if (f < 0) return {};
  return std::string_view(fields_).substr(spans_[f].first, spans_[f].second);
}

std::string CsvReader::Location() const { return name() + ":" + std::to_string(record_line_); }

Status CsvReader::ReportBadRow(std::string_view what) {
  std::string message = Location() + ": " + std::string(what);
  if (!options_.skip_bad_rows) return InvalidInput(std::move(message));
  ++stats_.bad_rows;
  if (static_cast<int64_t>(stats_.bad_row_messages.size()) < options_.max_reported_bad_rows) {
    stats_.bad_row_messages.push_back(std::move(message));
  }
  return Status::Ok();
}

}  // namespace polycloud::traces
