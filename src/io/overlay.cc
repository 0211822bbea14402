#include "polycloud/io/overlay.h"

#include <algorithm>
#include <map>
#include <set>

#include "overlay_internal.h"
#include "polycloud/base/parse.h"
#include "polycloud/base/text.h"

namespace polycloud::io {

std::string Override::ToString() const {
  switch (kind) {
    case Kind::kWith:
      return "--with " + argument;
    case Kind::kSet:
      return "--set " + argument;
    case Kind::kUnset:
      return "--unset " + argument;
  }
  return argument;
}

std::optional<ArgumentError> ParseSetArgument(std::string_view text, bool with_value,
                                              SetArgument* out) {
  *out = SetArgument();
  auto error = [](size_t pos, std::string message) {
    return ArgumentError{static_cast<int>(pos) + 1, std::move(message)};
  };
  auto is_name_char = [](char c) {
    return c != '.' && c != '[' && c != ']' && c != '=' && c != '"' &&
           static_cast<unsigned char>(c) >= 0x20 && c != 0x7f;
  };
  size_t pos = 0;
  bool expect_segment = true;  // at the start, or after a '.'
  while (true) {
    if (pos >= text.size() || (with_value && text[pos] == '=')) {
      if (expect_segment) {
        return error(pos, out->path.empty() ? "expected a path (e.g. pools.ID.gpus)"
                                            : "expected a key after '.'");
      }
      break;
    }
    const char c = text[pos];
    if (expect_segment) {
      PathSegment seg;
      seg.column = static_cast<int>(pos) + 1;
      if (c == '"') {
        const size_t close = text.find('"', pos + 1);
        if (close == std::string_view::npos) return error(pos, "unterminated quoted key");
        seg.key = std::string(text.substr(pos + 1, close - pos - 1));
        seg.quoted = true;
        if (seg.key.empty()) return error(pos, "empty quoted key");
        for (char k : seg.key) {
          if (static_cast<unsigned char>(k) < 0x20 || k == 0x7f)
            return error(pos, "a control character in a key");
        }
        pos = close + 1;
      } else if (c == '*') {
        seg.kind = PathSegment::Kind::kAll;
        ++pos;
      } else if (is_name_char(c)) {
        const size_t start = pos;
        while (pos < text.size() && is_name_char(text[pos])) ++pos;
        seg.key = std::string(text.substr(start, pos - start));
      } else if (c == '[') {
        if (out->path.empty()) return error(pos, "a path starts with a key, not '['");
        return error(pos, "expected a key after '.', found '['");
      } else {
        return error(pos, "expected a key, found " + QuoteExcerpt(text.substr(pos, 1)));
      }
      out->path.push_back(std::move(seg));
      expect_segment = false;
      continue;
    }
    if (c == '.') {
      ++pos;
      expect_segment = true;
      continue;
    }
    if (c == '[') {
      const size_t close = text.find(']', pos + 1);
      if (close == std::string_view::npos) return error(pos, "unterminated '[' (expected ']')");
      const std::string_view inner = text.substr(pos + 1, close - pos - 1);
      PathSegment seg;
      seg.column = static_cast<int>(pos) + 1;
      if (inner.empty()) return error(pos, "empty brackets (expected [N], [*] or [ID])");
      if (inner == "*") {
        seg.kind = PathSegment::Kind::kAll;
      } else if (std::all_of(inner.begin(), inner.end(),
                             [](char d) { return d >= '0' && d <= '9'; })) {
        if (inner.size() > 9) return error(pos + 1, "index too large");
        seg.kind = PathSegment::Kind::kIndex;
        seg.index = std::stoll(std::string(inner));
      } else {
        for (char k : inner) {
          if (k == '[' || k == '=' || static_cast<unsigned char>(k) < 0x20 || k == 0x7f)
            return error(pos + 1, "expected an index, * or an id inside [ ]");
        }
        seg.key = std::string(inner);
        seg.quoted = true;  // [x] names an item, never an operation
      }
      out->path.push_back(std::move(seg));
      pos = close + 1;
      continue;
    }
    return error(pos, "expected '.', '[' or " + std::string(with_value ? "'='" : "the end") +
                          ", found " + QuoteExcerpt(text.substr(pos, 1)));
  }
  if (with_value) {
    if (pos >= text.size()) return error(pos, "expected PATH=VALUE (no '=' found)");
    out->has_value = true;
    out->value = std::string(text.substr(pos + 1));
    out->value_column = static_cast<int>(pos) + 2;
    if (out->value.find_first_of("\r\n") != std::string::npos)
      return error(pos + 1, "a value is one line (found a line break)");
    if (out->value.empty())
      return error(pos + 1, "empty value (write null for null, '' for an empty string)");
  }
  return std::nullopt;
}

namespace internal {
namespace {

// The value of `key` in mapping `map`, or an invalid node. Never inserts
// (yaml-cpp's non-const operator[] would).
YAML::Node FindKey(const YAML::Node& map, const std::string& key) {
  for (const auto& kv : map) {
    if (kv.first.IsScalar() && kv.first.Scalar() == key) return kv.second;
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

bool Defined(const YAML::Node& n) { return n.IsDefined(); }

// `pattern` with '*' matching any run of characters (and nothing else special).
bool GlobMatch(std::string_view pattern, std::string_view text) {
  size_t p = 0, t = 0, star = std::string_view::npos, resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool IsGlob(const PathSegment& seg) {
  return seg.kind == PathSegment::Kind::kKey && !seg.quoted &&
         seg.key.find('*') != std::string::npos;
}

std::string ScalarOf(const YAML::Node& map, const char* key) {
  if (!map.IsMap()) return "";
  YAML::Node v = FindKey(map, key);
  return Defined(v) && v.IsScalar() ? v.Scalar() : "";
}

// A list item named `key`: by id, then by name. -1 when none.
int64_t FindItem(const YAML::Node& list, const std::string& key) {
  for (const char* field : {"id", "name"}) {
    int64_t i = 0;
    for (const YAML::Node& item : list) {
      if (ScalarOf(item, field) == key) return i;
      ++i;
    }
  }
  return -1;
}

std::string ItemNames(const YAML::Node& list) {
  std::string out;
  int shown = 0;
  for (const YAML::Node& item : list) {
    std::string id = ScalarOf(item, "id");
    if (id.empty()) id = ScalarOf(item, "name");
    if (id.empty()) continue;
    if (shown == 12) return out + ", …";
    out += (out.empty() ? "" : ", ") + Excerpt(id, 40);
    ++shown;
  }
  return out.empty() ? "none has an id" : "ids: " + out;
}

std::string KeyNames(const YAML::Node& map) {
  std::string out;
  for (const auto& kv : map) {
    if (kv.first.IsScalar()) out += (out.empty() ? "" : ", ") + Excerpt(kv.first.Scalar(), 40);
  }
  return out.empty() ? "it is empty" : "keys: " + out;
}

const char* TypeName(const YAML::Node& n) {
  if (n.IsMap()) return "a mapping";
  if (n.IsSequence()) return "a list";
  if (n.IsScalar()) return "a scalar";
  return "null";
}

bool AllItemsHaveIds(const YAML::Node& list) {
  if (!list.IsSequence() || list.size() == 0) return false;
  for (const YAML::Node& item : list) {
    if (!item.IsMap() || ScalarOf(item, "id").empty()) return false;
  }
  return true;
}

void MergeValue(YAML::Node base, const YAML::Node& overlay, const ErrorSink& error);

void MergeMaps(YAML::Node base, const YAML::Node& overlay, const ErrorSink& error) {
  for (const auto& kv : overlay) {
    if (!kv.first.IsScalar()) {
      error(kv.first.Mark(), "expected a key (a scalar), found " + std::string(TypeName(kv.first)));
      continue;
    }
    YAML::Node existing = FindKey(base, kv.first.Scalar());
    if (!Defined(existing)) {
      base.force_insert(kv.first, kv.second);  // keeps the overlay's key and value marks
    } else {
      MergeValue(existing, kv.second, error);
    }
  }
}

void MergeById(YAML::Node base, const YAML::Node& overlay, const ErrorSink& error) {
  for (const YAML::Node& item : overlay) {
    const std::string id = ScalarOf(item, "id");
    YAML::Node remove = FindKey(item, "remove");
    const int64_t at = FindItem(base, id);
    if (Defined(remove)) {
      if (!remove.IsScalar() || remove.Scalar() != "true") {
        error(remove.Mark(), "remove: expected true (an item {id: ID, remove: true} removes ID)");
        continue;
      }
      if (item.size() != 2) {
        error(item.Mark(), "an item with remove: true has only id and remove (it removes " +
                               QuoteExcerpt(id) + ")");
        continue;
      }
      if (at < 0 || ScalarOf(base[static_cast<size_t>(at)], "id") != id) {
        error(item.Mark(), "remove: no item with id " + QuoteExcerpt(id) + " to remove (" +
                               ItemNames(base) + ")");
        continue;
      }
      base.remove(static_cast<size_t>(at));
      continue;
    }
    if (at >= 0 && ScalarOf(base[static_cast<size_t>(at)], "id") == id) {
      MergeValue(base[static_cast<size_t>(at)], item, error);
    } else {
      base.push_back(item);
    }
  }
}

void MergeValue(YAML::Node base, const YAML::Node& overlay, const ErrorSink& error) {
  if (base.IsMap() && overlay.IsMap()) {
    MergeMaps(base, overlay, error);
  } else if (base.IsSequence() && AllItemsHaveIds(overlay)) {
    MergeById(base, overlay, error);
  } else {
    base = overlay;  // replaces the value in place; the overlay's marks come along
  }
}

// ---------------------------------------------------------------- --set

// How a scaled value is written: with this many decimal places (-1: as many
// as the value had).
int PlacesFor(const std::string& key) {
  static const std::map<std::string, int> kPlaces = {{"price_per_gpu_hour", 6},
                                                     {"committed_usd", 6},
                                                     {"yearly_minimum", 6},
                                                     {"spend", 6},
                                                     {"mw", 6},
                                                     {"speed", 3},
                                                     {"fraction", 3},
                                                     {"work_gpu_hours", 3},
                                                     {"pue", 3},
                                                     {"discount_percent", 1}};
  auto it = kPlaces.find(key);
  return it == kPlaces.end() ? -1 : it->second;
}

// The value key of a schedule written as a single value, for shifting it.
const char* ScheduleValueKey(const std::string& key) {
  if (key == "gpus") return "gpus";
  if (key == "power_mw") return "mw";
  if (key == "demand") return "tokens_per_s";
  return nullptr;
}

bool IsTimeKey(const std::string& key) {
  static const std::set<std::string> kKeys = {"at",    "start",   "end", "from",
                                              "until", "arrival", "by"};
  return kKeys.count(key) > 0;
}

std::string Int128ToString(__int128 v) {
  if (v == 0) return "0";
  const bool negative = v < 0;
  if (negative) v = -v;
  std::string s;
  while (v > 0) {
    s.push_back(static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  }
  if (negative) s.push_back('-');
  std::reverse(s.begin(), s.end());
  return s;
}

struct Slot {
  YAML::Node parent;     // a mapping or a list
  bool in_list = false;  // parent is a list
  std::string key;       // in a mapping
  size_t index = 0;      // in a list
  YAML::Node node;       // the value (undefined when the key is absent)
  std::string path;      // the path to it, for messages
};

class Editor {
 public:
  Editor(YAML::Node root, const Override& edit, int line, const ErrorSink& error)
      : root_(root), edit_(edit), line_(line), error_(error) {}

  bool Apply() {
    const bool unset = edit_.kind == Override::Kind::kUnset;
    if (auto e = ParseSetArgument(edit_.argument, !unset, &arg_))
      return Fail(e->column, e->message);
    enum class Op { kReplace, kUnset, kShift, kScale } op = unset ? Op::kUnset : Op::kReplace;
    std::vector<PathSegment> path = arg_.path;
    int op_column = 0;
    const PathSegment& last = path.back();
    if (!unset && last.kind == PathSegment::Kind::kKey && !last.quoted &&
        (last.key == "shift" || last.key == "scale")) {
      op = last.key == "shift" ? Op::kShift : Op::kScale;
      op_column = last.column;
      path.pop_back();
    }
    if (op == Op::kShift && !ParseShift()) return false;
    if (op == Op::kScale && !ParseFactor()) return false;
    if (path.empty()) {  // "shift=+1d": the whole scenario
      Slot slot;
      slot.node = root_;
      slot.path = "(the scenario)";
      return op == Op::kShift
                 ? Shift(slot, op_column)
                 : Fail(op_column, "scale of what? (e.g. services.*.demand.scale=1.3)");
    }
    std::vector<Slot> slots = Resolve(path, op == Op::kReplace);
    if (failed_) return false;
    if (slots.empty()) return Fail(path.back().column, "the path matches nothing");
    switch (op) {
      case Op::kReplace:
        for (Slot& s : slots) {
          if (!Replace(s)) return false;
        }
        return true;
      case Op::kUnset:
        // Removing from a list shifts the items after it: last first.
        for (auto it = slots.rbegin(); it != slots.rend(); ++it) {
          if (it->in_list) {
            it->parent.remove(it->index);
          } else {
            it->parent.remove(it->key);
          }
        }
        return true;
      case Op::kShift:
        for (Slot& s : slots) {
          if (!Shift(s, op_column)) return false;
        }
        return true;
      case Op::kScale:
        for (Slot& s : slots) {
          if (!Scale(s, op_column)) return false;
        }
        return true;
    }
    return false;
  }

 private:
  bool Fail(int column, const std::string& message) {
    YAML::Mark mark;
    mark.line = line_;
    mark.column = std::max(0, column - 1);
    error_(mark, message);
    failed_ = true;
    return false;
  }

  YAML::Node At(std::string_view yaml, int column) { return ParseAt(yaml, line_, column - 1); }

  // A scalar `text` marked at `column` of the argument.
  YAML::Node MarkedScalar(const std::string& text, int column) {
    YAML::Node n = At("x", column);
    n = text;
    return n;
  }

  static std::string Join(const std::string& path, const PathSegment& seg) {
    switch (seg.kind) {
      case PathSegment::Kind::kAll:
        return path + (path.empty() ? "*" : ".*");
      case PathSegment::Kind::kIndex:
        return path + "[" + std::to_string(seg.index) + "]";
      case PathSegment::Kind::kKey:
        return path + (path.empty() ? "" : ".") + seg.key;
    }
    return path;
  }

  // Every slot the path names; with `create`, missing mapping keys are added
  // (the last as an undefined slot, the ones before as empty mappings).
  std::vector<Slot> Resolve(const std::vector<PathSegment>& path, bool create) {
    std::vector<YAML::Node> current = {root_};
    std::vector<std::string> names = {""};
    std::vector<Slot> slots;
    for (size_t i = 0; i < path.size(); ++i) {
      const PathSegment& seg = path[i];
      const bool is_last = i + 1 == path.size();
      std::vector<Slot> next;
      for (size_t c = 0; c < current.size(); ++c) {
        YAML::Node node = current[c];
        const std::string& where = names[c];
        const std::string shown = where.empty() ? "the scenario" : where;
        if (node.IsMap()) {
          if (seg.kind == PathSegment::Kind::kAll || IsGlob(seg)) {
            for (const auto& kv : node) {
              if (IsGlob(seg) && !GlobMatch(seg.key, kv.first.Scalar())) continue;
              Slot s{node, false,     kv.first.Scalar(),
                     0,    kv.second, Join(where, {PathSegment::Kind::kKey, kv.first.Scalar()})};
              next.push_back(std::move(s));
            }
            continue;
          }
          if (seg.kind == PathSegment::Kind::kIndex) {
            Fail(seg.column, shown + " is a mapping, not a list (" + KeyNames(node) + ")");
            return {};
          }
          YAML::Node value = FindKey(node, seg.key);
          if (!Defined(value)) {
            if (!create) {
              Fail(seg.column, "no key " + QuoteExcerpt(seg.key) + " in " + shown + " (" +
                                   KeyNames(node) + ")");
              return {};
            }
            if (!is_last) {
              value = At("{}", seg.column);
              node.force_insert(MarkedScalar(seg.key, seg.column), value);
            }
          }
          next.push_back(Slot{node, false, seg.key, 0, value, Join(where, seg)});
          continue;
        }
        if (node.IsSequence()) {
          if (seg.kind == PathSegment::Kind::kAll || IsGlob(seg)) {
            for (size_t k = 0; k < node.size(); ++k) {
              std::string id = ScalarOf(node[k], "id");
              if (id.empty()) id = ScalarOf(node[k], "name");
              if (IsGlob(seg) && !GlobMatch(seg.key, id)) continue;
              PathSegment item{PathSegment::Kind::kIndex, "", static_cast<int64_t>(k)};
              if (!id.empty()) item = {PathSegment::Kind::kKey, id};
              next.push_back(Slot{node, true, "", k, node[k], Join(where, item)});
            }
            if (IsGlob(seg) && next.empty()) {
              Fail(seg.column, "no item of " + shown + " has an id matching " +
                                   QuoteExcerpt(seg.key) + " (" + ItemNames(node) + ")");
              return {};
            }
            continue;
          }
          int64_t at = -1;
          if (seg.kind == PathSegment::Kind::kIndex) {
            at = seg.index;
            if (at >= static_cast<int64_t>(node.size())) {
              Fail(seg.column, "index " + std::to_string(at) + " is past the end of " + shown +
                                   " (" + std::to_string(node.size()) + " items)");
              return {};
            }
          } else {
            at = FindItem(node, seg.key);
            if (at < 0 && !seg.quoted && !seg.key.empty() &&
                std::all_of(seg.key.begin(), seg.key.end(),
                            [](char d) { return d >= '0' && d <= '9'; }) &&
                seg.key.size() < 10 && std::stoll(seg.key) < static_cast<int64_t>(node.size())) {
              at = std::stoll(seg.key);
            }
            if (at < 0) {
              Fail(seg.column, "no item with id or name " + QuoteExcerpt(seg.key) + " in " + shown +
                                   " (" + ItemNames(node) + ")");
              return {};
            }
          }
          next.push_back(Slot{node, true, "", static_cast<size_t>(at),
                              node[static_cast<size_t>(at)], Join(where, seg)});
          continue;
        }
        Fail(seg.column, shown + " is " + TypeName(node) + ", not a mapping or list");
        return {};
      }
      if (is_last) return next;
      current.clear();
      names.clear();
      for (Slot& s : next) {
        if (!Defined(s.node)) continue;
        current.push_back(s.node);
        names.push_back(s.path);
      }
      if (current.empty()) {
        Fail(seg.column, "the path matches nothing");
        return {};
      }
    }
    return slots;
  }

  bool Replace(Slot& s) {
    YAML::Node value;
    try {
      value = At(arg_.value, arg_.value_column);
    } catch (const YAML::Exception& e) {
      return Fail(std::max(arg_.value_column, e.mark.column + 1),
                  "the value is not YAML: " + Excerpt(e.msg, 120));
    }
    if (!Defined(value) || (value.IsNull() && arg_.value != "null" && arg_.value != "~" &&
                            arg_.value != "Null" && arg_.value != "NULL")) {
      return Fail(arg_.value_column, "the value is empty: write null for null");
    }
    if (Defined(s.node)) {
      s.node = value;  // in place: the tree now holds the new value and its mark
    } else {
      s.parent.force_insert(MarkedScalar(s.key, arg_.path.back().column), value);
    }
    return true;
  }

  bool ParseShift() {
    std::string_view v = arg_.value;
    int sign = 1;
    if (!v.empty() && (v[0] == '+' || v[0] == '-')) {
      sign = v[0] == '-' ? -1 : 1;
      v.remove_prefix(1);
    }
    Result<Duration> d = ParseDuration(v);
    if (!d.ok()) {
      return Fail(arg_.value_column, "shift: expected a signed duration such as +180d or -2w: " +
                                         d.status().message());
    }
    if (d->seconds() > kMaxShiftSeconds) return Fail(arg_.value_column, "shift: at most 100 years");
    shift_ = Duration::Seconds(sign * d->seconds());
    return true;
  }

  bool ParseFactor() {
    Result<int64_t> f = ParseScaledDecimal(arg_.value, 6);
    if (!f.ok()) {
      return Fail(arg_.value_column,
                  "scale: expected a non-negative decimal factor such as 1.3 "
                  "(at most 6 decimal places): " +
                      f.status().message());
    }
    if (*f > kMaxScaleMillionths) return Fail(arg_.value_column, "scale: at most 1000000");
    factor_micros_ = *f;
    return true;
  }

  // Shifted time `text`, or nullopt (and an error) when it is not a time or
  // leaves the years a scenario may name.
  std::optional<std::string> ShiftedTime(const YAML::Node& n, const std::string& where,
                                         int column) {
    Result<Time> t = ParseTime(n.IsScalar() ? n.Scalar() : "");
    if (!t.ok()) {
      Fail(column, "shift: " + where + " is not a time (" +
                       (n.IsScalar() ? QuoteExcerpt(n.Scalar()) : TypeName(n)) + ")");
      return std::nullopt;
    }
    const Time shifted = *t + shift_;
    const std::string text = FormatTime(shifted);
    Result<Time> back = ParseTime(text);
    if (!back.ok() || *back != shifted) {
      Fail(column, "shift: " + where + " moves outside the years a scenario may name");
      return std::nullopt;
    }
    return text;
  }

  // Shifts every time below `node` (keys at, start, end, from, until, arrival,
  // by); counts them in `shifted`.
  bool ShiftTree(YAML::Node node, const std::string& where, int column, int& shifted) {
    if (node.IsSequence()) {
      for (size_t i = 0; i < node.size(); ++i) {
        if (!ShiftTree(node[i], where + "[" + std::to_string(i) + "]", column, shifted))
          return false;
      }
      return true;
    }
    if (!node.IsMap()) return true;
    for (auto kv : node) {
      if (!kv.first.IsScalar()) continue;
      const std::string key = kv.first.Scalar();
      if (key == "traces") continue;  // trace times are on the trace's own clock
      const std::string child = where + "." + key;
      if (IsTimeKey(key) && kv.second.IsScalar()) {
        auto text = ShiftedTime(kv.second, child, column);
        if (!text) return false;
        YAML::Node value = kv.second;
        value = MarkedScalar(*text, column);
        ++shifted;
      } else if (!ShiftTree(kv.second, child, column, shifted)) {
        return false;
      }
    }
    return true;
  }

  bool Shift(Slot& s, int column) {
    YAML::Node node = s.node;
    if (node.IsScalar()) {
      const std::string key = s.in_list ? "" : s.key;
      if (ParseTime(node.Scalar()).ok()) {
        auto text = ShiftedTime(node, s.path, column);
        if (!text) return false;
        node = MarkedScalar(*text, column);
        return true;
      }
      // A schedule written as one value holds from the start: shifted later,
      // it is 0 until start + shift (earlier, it is unchanged).
      if (const char* value_key = ScheduleValueKey(key)) {
        if (shift_.seconds() <= 0) return true;
        YAML::Node start = FindKey(root_, "start");
        Result<Time> t = ParseTime(Defined(start) && start.IsScalar() ? start.Scalar() : "");
        if (!t.ok()) return Fail(column, "shift: the scenario's start is not a time");
        const std::string at = FormatTime(*t + shift_);
        YAML::Node list = At("[{at: x, " + std::string(value_key) + ": x}]", column);
        list[0]["at"] = at;
        list[0][value_key] = node.Scalar();
        node = list;
        return true;
      }
      return Fail(column, "shift: " + s.path + " is not a time or a schedule (" +
                              QuoteExcerpt(node.Scalar()) + ")");
    }
    int shifted = 0;
    if (!ShiftTree(node, s.path, column, shifted)) return false;
    if (shifted == 0) return Fail(column, "shift: no time under " + s.path);
    return true;
  }

  std::optional<std::string> Scaled(const YAML::Node& n, const std::string& key,
                                    const std::string& where, int column) {
    std::string s = n.IsScalar() ? n.Scalar() : "";
    bool money = false;
    if (!s.empty() && s[0] == '$') {
      s.erase(0, 1);
      money = true;
    }
    __int128 mult = 1;
    if (!s.empty()) {
      switch (s.back()) {
        case 'K':
          mult = 1'000;
          break;
        case 'M':
          mult = 1'000'000;
          break;
        case 'B':
          mult = 1'000'000'000;
          break;
        case 'T':
          mult = 1'000'000'000'000;
          break;
        default:
          break;
      }
      if (mult != 1) {
        s.pop_back();
        money = true;
      }
    }
    Result<int64_t> micros = ParseScaledDecimal(s, 6);
    if (!micros.ok() || s.empty()) {
      Fail(column, "scale: " + where + " is not a number (" +
                       (n.IsScalar() ? QuoteExcerpt(n.Scalar()) : std::string(TypeName(n))) + ")");
      return std::nullopt;
    }
    int places = PlacesFor(key);
    if (places < 0) {
      if (money) {
        places = 6;
      } else {
        const size_t dot = s.find('.');
        places = dot == std::string::npos
                     ? 0
                     : static_cast<int>(std::min<size_t>(6, s.size() - dot - 1));
      }
    }
    // value × factor in millionths, rounded half up to `places`.
    const __int128 product = static_cast<__int128>(*micros) * mult * factor_micros_;
    __int128 unit = 1'000'000;
    for (int i = 0; i < places; ++i) unit /= 10;
    const __int128 scaled_units = (product / 1'000'000 + unit / 2) / unit;  // in 10^-places
    __int128 pow = 1;
    for (int i = 0; i < places; ++i) pow *= 10;
    std::string text = Int128ToString(scaled_units / pow);
    if (places > 0) {
      std::string frac = Int128ToString(scaled_units % pow);
      frac.insert(0, static_cast<size_t>(places) - frac.size(), '0');
      while (!frac.empty() && frac.back() == '0') frac.pop_back();
      if (!frac.empty()) text += "." + frac;
    }
    return text;
  }

  bool ScaleScalar(YAML::Node node, const std::string& key, const std::string& where, int column) {
    auto text = Scaled(node, key, where, column);
    if (!text) return false;
    node = MarkedScalar(*text, column);
    return true;
  }

  bool Scale(Slot& s, int column) {
    YAML::Node node = s.node;
    const std::string key = s.in_list ? "" : s.key;
    if (node.IsScalar()) return ScaleScalar(node, key, s.path, column);
    if (node.IsSequence()) {
      for (size_t i = 0; i < node.size(); ++i) {
        YAML::Node item = node[i];
        const std::string where = s.path + "[" + std::to_string(i) + "]";
        if (item.IsScalar()) {
          if (!ScaleScalar(item, key, where, column)) return false;
          continue;
        }
        if (!item.IsMap()) return Fail(column, "scale: " + where + " is " + TypeName(item));
        int values = 0;
        for (auto kv : item) {  // a schedule point: every key but `at`
          if (!kv.first.IsScalar() || kv.first.Scalar() == "at") continue;
          if (!ScaleScalar(kv.second, kv.first.Scalar(), where + "." + kv.first.Scalar(), column))
            return false;
          ++values;
        }
        if (values == 0) return Fail(column, "scale: " + where + " has no value to scale");
      }
      return true;
    }
    return Fail(column, "scale: " + s.path + " is " + TypeName(node) +
                            "; scale applies to a number, a list of numbers or a schedule");
  }

  YAML::Node root_;
  const Override& edit_;
  int line_;
  const ErrorSink& error_;
  SetArgument arg_;
  Duration shift_;
  int64_t factor_micros_ = 0;
  bool failed_ = false;
};

}  // namespace

YAML::Node ParseAt(std::string_view yaml, int line, int column) {
  std::string text(static_cast<size_t>(std::max(0, line)), '\n');
  text.append(static_cast<size_t>(std::max(0, column)), ' ');
  text.append(yaml);
  return YAML::Load(text);
}

void MergeOverlay(YAML::Node base, const YAML::Node& overlay, const ErrorSink& error) {
  MergeMaps(base, overlay, error);
}

bool ApplyEdit(YAML::Node root, const Override& edit, int line, const ErrorSink& error) {
  return Editor(root, edit, line, error).Apply();
}

}  // namespace internal
}  // namespace polycloud::io
