// TraceInput and LineReader: one pass over a plain or gzip-compressed text
// input, line by line, in bounded memory.
//
// A TraceInput names where bytes come from: a file path, a caller-owned block of
// memory (what the fuzz targets use) or a std::istream. LineReader detects gzip
// by its magic bytes (1f 8b), inflates it with zlib as it goes (multi-member
// gzip files included), strips "\n" and "\r\n" terminators, and never holds
// more than one read buffer plus the longest line (capped by max_line_bytes).
// A truncated or corrupt gzip stream, a line longer than the cap or an I/O
// failure is a Status, never a crash; every message starts with the input's
// name ("path: ..." or "path:line: ...").
//
//   POLYCLOUD_ASSIGN_OR_RETURN(LineReader lines,
//                              LineReader::Open(TraceInput::File("philly.csv.gz")));
//   while (true) {
//     POLYCLOUD_ASSIGN_OR_RETURN(std::optional<std::string_view> line, lines.NextLine());
//     if (!line) break;
//     Use(*line, lines.line_number());
//   }
//
// Thread-safety: a LineReader is used by one thread at a time; distinct readers
// are independent. A TraceInput made from memory or a stream borrows it: the
// bytes or the stream must outlive every reader opened from the input.
#ifndef POLYCLOUD_TRACES_LINE_READER_H_
#define POLYCLOUD_TRACES_LINE_READER_H_

#include <cstddef>
#include <cstdint>
#include <istream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "polycloud/base/status.h"

namespace polycloud::traces {

// Where a reader's bytes come from. Cheap to copy; borrows memory and streams.
class TraceInput {
 public:
  enum class Kind { kFile, kMemory, kStream };

  // A file on disk; its path is the name used in messages.
  static TraceInput File(std::string path);
  // Bytes owned by the caller (plain or gzip), named `name` in messages.
  static TraceInput Memory(std::string_view bytes, std::string name = "<memory>");
  // A stream owned by the caller, read from its current position.
  static TraceInput Stream(std::istream& stream, std::string name = "<stream>");

  Kind kind() const { return kind_; }
  const std::string& name() const { return name_; }
  std::string_view bytes() const { return bytes_; }
  std::istream* stream() const { return stream_; }

 private:
  TraceInput(Kind kind, std::string name) : kind_(kind), name_(std::move(name)) {}
  Kind kind_;
  std::string name_;
  std::string_view bytes_;
  std::istream* stream_ = nullptr;
};

// A source of raw bytes (a file, memory, a stream, or zlib inflating another
// source). Implementations live in src/traces; exposed so LineReader can own one.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Copies up to `capacity` bytes into `buffer`; 0 means the end of the input.
  virtual Result<size_t> Read(char* buffer, size_t capacity) = 0;
};

struct LineReaderOptions {
  // The longest line accepted, terminator excluded; a longer one is an error
  // (a binary file or a missing newline would otherwise grow without bound).
  size_t max_line_bytes = size_t{1} << 20;
};

class LineReader {
 public:
  // Opens `input`, sniffing its first bytes: gzip is inflated transparently;
  // zstd, xz, bzip2 and zip are refused with a message naming the format.
  // Errors: NotFound (no such file), IoError (cannot open or read).
  static Result<LineReader> Open(const TraceInput& input, const LineReaderOptions& options = {});

  LineReader(LineReader&&) noexcept;
  LineReader& operator=(LineReader&&) noexcept;
  ~LineReader();

  // The next line without its terminator, valid until the next call; nullopt at
  // the end of input. A final line without "\n" is returned as a line. Errors:
  // InvalidInput for corrupt or truncated gzip data and over-long lines,
  // IoError for read failures; after an error the reader stays at the end.
  Result<std::optional<std::string_view>> NextLine();

  // 1-based number of the line last returned (0 before the first).
  int64_t line_number() const { return line_number_; }
  // The input's name, for messages.
  const std::string& name() const { return name_; }
  // True when the input was gzip-compressed.
  bool gzip() const { return gzip_; }

 private:
  LineReader() = default;
  Status Fill();

  std::string name_;
  std::unique_ptr<ByteSource> source_;
  LineReaderOptions options_;
  // Not a std::vector: it would zero 64 KiB on every open, which dominates
  // reading many tiny inputs (the fuzz tests).
  std::unique_ptr<char[]> buffer_;
  size_t capacity_ = 0;
  size_t begin_ = 0;  // first unread byte in buffer_
  size_t end_ = 0;    // one past the last valid byte in buffer_
  bool eof_ = false;
  bool failed_ = false;
  bool gzip_ = false;
  int64_t line_number_ = 0;
};

}  // namespace polycloud::traces

#endif  // POLYCLOUD_TRACES_LINE_READER_H_
