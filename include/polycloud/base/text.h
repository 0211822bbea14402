// Text at the input boundary: UTF-8 validation, short escaped excerpts for
// messages, and reading a whole file with type and size checks.
//
//   if (auto bad = FindInvalidUtf8(text)) Report(bad->line, bad->column);
//   message = "expected an integer, found " + QuoteExcerpt(value);   // "12ab…"
//   POLYCLOUD_ASSIGN_OR_RETURN(std::string text,
//                              ReadRegularFile(path, kMaxScenarioBytes, "scenario"));
//
// Thread-safety: free functions on values.
#ifndef POLYCLOUD_BASE_TEXT_H_
#define POLYCLOUD_BASE_TEXT_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "polycloud/base/status.h"

namespace polycloud {

// Where a byte sits in a text: 1-based line and column (columns count bytes).
struct TextPosition {
  size_t offset = 0;
  int64_t line = 1;
  int64_t column = 1;
};

// The position of the first byte that is not part of well-formed UTF-8
// (overlong forms, surrogates and code points above U+10FFFF included), or
// nullopt when all of `text` is valid.
std::optional<TextPosition> FindInvalidUtf8(std::string_view text);

// The position of `offset` in `text`.
TextPosition PositionOf(std::string_view text, size_t offset);

// At most `max_chars` characters of `text` for a message: control bytes, NUL
// and bytes that are not UTF-8 are written as \n, \t, \0 or \xNN, and a cut
// text ends in "…". Never contains a raw newline.
inline constexpr size_t kExcerptChars = 60;
std::string Excerpt(std::string_view text, size_t max_chars = kExcerptChars);
// The same in double quotes: "\"" + Excerpt(text) + "\"".
std::string QuoteExcerpt(std::string_view text, size_t max_chars = kExcerptChars);

// Checks that `path` names a regular file (not a directory, FIFO, socket or
// device) without blocking on it. Errors: NotFound when it does not exist,
// IoError "path: not a regular file (a directory)" and the like, or when it
// cannot be opened.
Status CheckRegularFile(const std::string& path);

// Reads all of `path`, a regular file of at most `max_bytes` bytes. `what`
// names the file in messages ("scenario"). Errors: those of CheckRegularFile;
// InvalidInput "path: the scenario file is N bytes, more than the maximum of M"
// when larger; IoError on a failed read. A FIFO or device is never opened for
// reading, so this never blocks and never reads without bound.
Result<std::string> ReadRegularFile(const std::string& path, int64_t max_bytes,
                                    std::string_view what);

}  // namespace polycloud

#endif  // POLYCLOUD_BASE_TEXT_H_
