#include "polycloud/traces/line_reader.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "polycloud/base/text.h"

namespace polycloud::traces {

TraceInput TraceInput::File(std::string path) { return TraceInput(Kind::kFile, std::move(path)); }

TraceInput TraceInput::Memory(std::string_view bytes, std::string name) {
  TraceInput input(Kind::kMemory, std::move(name));
  input.bytes_ = bytes;
  return input;
}

TraceInput TraceInput::Stream(std::istream& stream, std::string name) {
  TraceInput input(Kind::kStream, std::move(name));
  input.stream_ = &stream;
  return input;
}

namespace {

constexpr size_t kChunkBytes = size_t{64} << 10;

class FileSource : public ByteSource {
 public:
  FileSource(std::FILE* file, std::string name) : file_(file), name_(std::move(name)) {}
  ~FileSource() override { std::fclose(file_); }
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;

  Result<size_t> Read(char* buffer, size_t capacity) override {
    size_t n = std::fread(buffer, 1, capacity, file_);
    if (n == 0 && std::ferror(file_)) {
      return IoError(name_ + ": read error: " + std::strerror(errno));
    }
    return n;
  }

 private:
  std::FILE* file_;
  std::string name_;
};

class MemorySource : public ByteSource {
 public:
  explicit MemorySource(std::string_view bytes) : bytes_(bytes) {}
  Result<size_t> Read(char* buffer, size_t capacity) override {
    size_t n = std::min(capacity, bytes_.size());
    std::memcpy(buffer, bytes_.data(), n);
    bytes_.remove_prefix(n);
    return n;
  }

 private:
  std::string_view bytes_;
};

class StreamSource : public ByteSource {
 public:
  StreamSource(std::istream& stream, std::string name) : stream_(stream), name_(std::move(name)) {}
  Result<size_t> Read(char* buffer, size_t capacity) override {
    if (stream_.bad()) return IoError(name_ + ": read error on the stream");
    if (stream_.eof()) return size_t{0};
    stream_.read(buffer, static_cast<std::streamsize>(capacity));
    if (stream_.bad()) return IoError(name_ + ": read error on the stream");
    return static_cast<size_t>(stream_.gcount());
  }

 private:
  std::istream& stream_;
  std::string name_;
};

// Replays the bytes consumed while sniffing the format, then the rest.
class PrefixedSource : public ByteSource {
 public:
  PrefixedSource(std::string prefix, std::unique_ptr<ByteSource> rest)
      : prefix_(std::move(prefix)), rest_(std::move(rest)) {}
  Result<size_t> Read(char* buffer, size_t capacity) override {
    if (offset_ < prefix_.size()) {
      size_t n = std::min(capacity, prefix_.size() - offset_);
      std::memcpy(buffer, prefix_.data() + offset_, n);
      offset_ += n;
      return n;
    }
    return rest_->Read(buffer, capacity);
  }

 private:
  std::string prefix_;
  size_t offset_ = 0;
  std::unique_ptr<ByteSource> rest_;
};

// Inflates gzip (RFC 1952) members one after another. zlib keeps a pointer to
// the z_stream, so a GzipSource never moves: it lives behind a unique_ptr.
class GzipSource : public ByteSource {
 public:
  GzipSource(std::unique_ptr<ByteSource> inner, std::string name)
      : inner_(std::move(inner)), name_(std::move(name)), in_(new Bytef[kChunkBytes]) {}
  ~GzipSource() override {
    if (initialised_) inflateEnd(&zs_);
  }
  GzipSource(const GzipSource&) = delete;
  GzipSource& operator=(const GzipSource&) = delete;

  Status Init() {
    zs_ = z_stream{};
    // 16 + MAX_WBITS: expect a gzip header and trailer (CRC-32 and length checked).
    if (inflateInit2(&zs_, 16 + MAX_WBITS) != Z_OK) {
      return Internal(name_ + ": cannot initialise zlib");
    }
    initialised_ = true;
    return Status::Ok();
  }

  Result<size_t> Read(char* buffer, size_t capacity) override {
    if (capacity == 0) return size_t{0};
    const uInt want = static_cast<uInt>(std::min<size_t>(capacity, 1u << 30));
    zs_.next_out = reinterpret_cast<Bytef*>(buffer);
    zs_.avail_out = want;
    while (zs_.avail_out == want) {
      if (zs_.avail_in == 0 && !in_eof_) {
        POLYCLOUD_ASSIGN_OR_RETURN(size_t n,
                                   inner_->Read(reinterpret_cast<char*>(in_.get()), kChunkBytes));
        if (n == 0) in_eof_ = true;
        zs_.next_in = in_.get();
        zs_.avail_in = static_cast<uInt>(n);
      }
      if (member_ended_) {
        if (zs_.avail_in == 0) {
          if (in_eof_) return size_t{0};
          continue;
        }
        // Another member may follow (as `cat a.gz b.gz` makes); anything else is junk.
        if (zs_.next_in[0] != 0x1f) {
          return InvalidInput(name_ + ": unexpected data after the end of the gzip stream");
        }
        inflateReset(&zs_);
        member_ended_ = false;
      }
      if (zs_.avail_in == 0 && in_eof_) {
        return InvalidInput(name_ +
                            ": truncated gzip data (the compressed stream ends before its end "
                            "marker)");
      }
      int rc = inflate(&zs_, Z_NO_FLUSH);
      if (rc == Z_STREAM_END) {
        member_ended_ = true;
      } else if (rc == Z_BUF_ERROR) {
        // No progress without more input; the loop fetches some (or reports truncation).
        if (zs_.avail_in != 0) return Internal(name_ + ": zlib made no progress");
      } else if (rc != Z_OK) {
        std::string why = zs_.msg != nullptr ? zs_.msg : zError(rc);
        return InvalidInput(name_ + ": corrupt gzip data (" + why + ")");
      }
    }
    return static_cast<size_t>(want - zs_.avail_out);
  }

 private:
  std::unique_ptr<ByteSource> inner_;
  std::string name_;
  std::unique_ptr<Bytef[]> in_;
  z_stream zs_{};
  bool initialised_ = false;
  bool in_eof_ = false;
  bool member_ended_ = false;
};

Result<std::unique_ptr<ByteSource>> OpenRaw(const TraceInput& input) {
  switch (input.kind()) {
    case TraceInput::Kind::kFile: {
      // A FIFO would block the open for ever and a device never ends: only
      // regular files are read (a missing one is NotFound, exit 5).
      POLYCLOUD_RETURN_IF_ERROR(CheckRegularFile(input.name()));
      errno = 0;
      std::FILE* file = std::fopen(input.name().c_str(), "rb");
      if (file == nullptr) {
        if (errno == ENOENT) return NotFound(input.name() + ": no such file");
        return IoError(input.name() + ": cannot open: " + std::strerror(errno));
      }
      return std::unique_ptr<ByteSource>(std::make_unique<FileSource>(file, input.name()));
    }
    case TraceInput::Kind::kMemory:
      return std::unique_ptr<ByteSource>(std::make_unique<MemorySource>(input.bytes()));
    case TraceInput::Kind::kStream:
      return std::unique_ptr<ByteSource>(
          std::make_unique<StreamSource>(*input.stream(), input.name()));
  }
  return Internal("unknown input kind");
}

bool StartsWith(std::string_view bytes, std::string_view magic) {
  return bytes.substr(0, magic.size()) == magic;
}

// Names the compressed formats we recognise but do not read, so the user gets
// "decompress it" instead of a page of garbage-row errors.
const char* UnsupportedCompression(std::string_view head) {
  using namespace std::string_view_literals;
  if (StartsWith(head, "\x28\xb5\x2f\xfd"sv)) return "zstd";
  if (StartsWith(head, "\xfd\x37\x7a\x58\x5a\x00"sv)) return "xz";
  if (StartsWith(head, "BZh"sv) && head.size() >= 4 && head[3] >= '1' && head[3] <= '9') {
    return "bzip2";
  }
  if (StartsWith(head, "PK\x03\x04"sv)) return "zip";
  return nullptr;
}

}  // namespace

Result<LineReader> LineReader::Open(const TraceInput& input, const LineReaderOptions& options) {
  POLYCLOUD_ASSIGN_OR_RETURN(std::unique_ptr<ByteSource> raw, OpenRaw(input));
  // Sniff the first bytes; Read may return short counts, so loop.
  std::string head(6, '\0');
  size_t got = 0;
  while (got < head.size()) {
    POLYCLOUD_ASSIGN_OR_RETURN(size_t n, raw->Read(head.data() + got, head.size() - got));
    if (n == 0) break;
    got += n;
  }
  head.resize(got);
  if (const char* format = UnsupportedCompression(head)) {
    return InvalidInput(input.name() + ": " + format +
                        "-compressed input is not supported (use plain text or gzip)");
  }
  LineReader reader;
  reader.name_ = input.name();
  reader.options_ = options;
  reader.gzip_ = head.size() >= 2 && static_cast<unsigned char>(head[0]) == 0x1f &&
                 static_cast<unsigned char>(head[1]) == 0x8b;
  auto prefixed = std::make_unique<PrefixedSource>(head, std::move(raw));
  if (reader.gzip_) {
    auto gzip = std::make_unique<GzipSource>(std::move(prefixed), input.name());
    POLYCLOUD_RETURN_IF_ERROR(gzip->Init());
    reader.source_ = std::move(gzip);
  } else {
    reader.source_ = std::move(prefixed);
  }
  reader.capacity_ = kChunkBytes;
  reader.buffer_.reset(new char[reader.capacity_]);
  return reader;
}

LineReader::LineReader(LineReader&&) noexcept = default;
LineReader& LineReader::operator=(LineReader&&) noexcept = default;
LineReader::~LineReader() = default;

Status LineReader::Fill() {
  // Keep the unread tail, make room, read once.
  if (begin_ > 0) {
    std::memmove(buffer_.get(), buffer_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (end_ == capacity_) {
    std::unique_ptr<char[]> bigger(new char[capacity_ * 2]);
    std::memcpy(bigger.get(), buffer_.get(), end_);
    buffer_ = std::move(bigger);
    capacity_ *= 2;
  }
  POLYCLOUD_ASSIGN_OR_RETURN(size_t n, source_->Read(buffer_.get() + end_, capacity_ - end_));
  if (n == 0) eof_ = true;
  end_ += n;
  return Status::Ok();
}

Result<std::optional<std::string_view>> LineReader::NextLine() {
  auto too_long = [this]() {
    failed_ = true;
    eof_ = true;
    begin_ = end_;
    return InvalidInput(name_ + ":" + std::to_string(line_number_ + 1) + ": line is longer than " +
                        std::to_string(options_.max_line_bytes) + " bytes (is this a text file?)");
  };
  while (!failed_) {
    const char* start = buffer_.get() + begin_;
    size_t available = end_ - begin_;
    const void* newline = available > 0 ? std::memchr(start, '\n', available) : nullptr;
    if (newline != nullptr || (eof_ && available > 0)) {
      size_t length = newline != nullptr
                          ? static_cast<size_t>(static_cast<const char*>(newline) - start)
                          : available;
      begin_ += newline != nullptr ? length + 1 : length;
      if (length > 0 && start[length - 1] == '\r') --length;
      if (length > options_.max_line_bytes) return too_long();
      ++line_number_;
      return std::optional<std::string_view>(std::string_view(start, length));
    }
    if (eof_) return std::optional<std::string_view>();
    // +1 leaves room for a '\r' before the '\n'.
    if (available > options_.max_line_bytes + 1) return too_long();
    Status status = Fill();
    if (!status.ok()) {
      failed_ = true;
      eof_ = true;
      begin_ = end_;
      return status;
    }
  }
  return std::optional<std::string_view>();
}

}  // namespace polycloud::traces
