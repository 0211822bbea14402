// Internal to polycloud_traces: typed access to CSV fields with messages that
// name the column and say what was expected and what was found.
#ifndef POLYCLOUD_SRC_TRACES_FIELDS_H_
#define POLYCLOUD_SRC_TRACES_FIELDS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "polycloud/base/status.h"
#include "polycloud/base/units.h"
#include "polycloud/traces/csv.h"

namespace polycloud::traces::internal {

// "\"text\"" with control bytes escaped and long text cut, for messages.
std::string Quoted(std::string_view text);

// Spaces and tabs around a field are ignored by every typed accessor.
std::string_view TrimField(std::string_view text);

// "column 'name': <what>" as an InvalidInput status.
Status ColumnError(const CsvReader& csv, int column, std::string_view what);

// A required non-empty text field.
Result<std::string_view> TextField(const CsvReader& csv, int column);

// An integer in [min, max]. Errors name the column, the range and the text.
Result<int64_t> IntField(const CsvReader& csv, int column, int64_t min, int64_t max);
// Same, nullopt when the column is absent or the field empty.
Result<std::optional<int64_t>> OptionalIntField(const CsvReader& csv, int column, int64_t min,
                                                int64_t max);

// A non-negative decimal scaled by 10^scale ("66.0" at scale 3 is 66000), at
// most `max_scaled`; no floating point involved.
Result<int64_t> DecimalField(const CsvReader& csv, int column, int scale, int64_t max_scaled);
Result<std::optional<int64_t>> OptionalDecimalField(const CsvReader& csv, int column, int scale,
                                                    int64_t max_scaled);

// "YYYY-MM-DD HH:MM:SS[.fraction][Z]" (or with 'T'), UTC. The fraction (up to
// nine digits) is returned in nanoseconds.
struct Timestamp {
  Time seconds;
  int32_t nanos = 0;
};
Result<Timestamp> ParseTimestamp(std::string_view text);

}  // namespace polycloud::traces::internal

#endif  // POLYCLOUD_SRC_TRACES_FIELDS_H_
