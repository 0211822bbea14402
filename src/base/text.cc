#include "polycloud/base/text.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace polycloud {
namespace {

// The length of the well-formed UTF-8 sequence at text[i], or 0 if there is none.
size_t Utf8SequenceLength(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char b = byte(i);
  if (b < 0x80) return 1;
  size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // the range of the second byte (Unicode table 3-7)
  if (b >= 0xC2 && b <= 0xDF) {
    n = 2;
  } else if (b >= 0xE0 && b <= 0xEF) {
    n = 3;
    if (b == 0xE0) lo = 0xA0;  // no overlong forms
    if (b == 0xED) hi = 0x9F;  // no surrogates
  } else if (b >= 0xF0 && b <= 0xF4) {
    n = 4;
    if (b == 0xF0) lo = 0x90;  // no overlong forms
    if (b == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  if (i + n > text.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return n;
}

const char* FileTypeName(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "not a plain file";
}

Status OpenError(const std::string& path, int error) {
  if (error == ENOENT) return NotFound(path + ": no such file");
  return IoError(path + ": cannot open: " + std::strerror(error));
}

}  // namespace

std::optional<TextPosition> FindInvalidUtf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const size_t n = Utf8SequenceLength(text, i);
    if (n == 0) return PositionOf(text, i);
    i += n;
  }
  return std::nullopt;
}

TextPosition PositionOf(std::string_view text, size_t offset) {
  TextPosition p;
  p.offset = offset;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++p.line;
      p.column = 1;
    } else {
      ++p.column;
    }
  }
  return p;
}

std::string Excerpt(std::string_view text, size_t max_chars) {
  std::string out;
  size_t chars = 0;
  for (size_t i = 0; i < text.size();) {
    if (chars == max_chars) {
      out += "…";
      break;
    }
    const unsigned char b = static_cast<unsigned char>(text[i]);
    const size_t n = Utf8SequenceLength(text, i);
    if (n == 1 && b >= 0x20 && b != 0x7F) {
      out += static_cast<char>(b);
    } else if (n > 1) {
      out.append(text.substr(i, n));
    } else if (b == '\n') {
      out += "\\n";
    } else if (b == '\t') {
      out += "\\t";
    } else if (b == '\r') {
      out += "\\r";
    } else if (b == 0) {
      out += "\\0";
    } else {
      static const char kHex[] = "0123456789ABCDEF";
      out += "\\x";
      out += kHex[b >> 4];
      out += kHex[b & 0xF];
    }
    i += n == 0 ? 1 : n;
    ++chars;
  }
  return out;
}

std::string QuoteExcerpt(std::string_view text, size_t max_chars) {
  return "\"" + Excerpt(text, max_chars) + "\"";
}

Status CheckRegularFile(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return OpenError(path, errno);
  if (!S_ISREG(st.st_mode))
    return IoError(path + ": not a regular file (" + FileTypeName(st.st_mode) + ")");
  return Status::Ok();
}

Result<std::string> ReadRegularFile(const std::string& path, int64_t max_bytes,
                                    std::string_view what) {
  // O_NONBLOCK: opening a FIFO without a writer would otherwise wait for one.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return OpenError(path, errno);
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0) return IoError(path + ": cannot stat: " + std::strerror(errno));
  if (!S_ISREG(st.st_mode))
    return IoError(path + ": not a regular file (" + FileTypeName(st.st_mode) + ")");
  const auto too_large = [&](int64_t size) {
    return InvalidInput(path + ": the " + std::string(what) + " file is " +
                        (size > max_bytes ? std::to_string(size) : "more than") + " bytes, " +
                        "more than the maximum of " + std::to_string(max_bytes) + " bytes");
  };
  if (st.st_size > max_bytes) return too_large(st.st_size);
  std::string text;
  text.resize(static_cast<size_t>(st.st_size));
  size_t filled = 0;
  // Read until end of file, never past the maximum, even if the file grows.
  for (;;) {
    if (filled == text.size()) {
      if (static_cast<int64_t>(text.size()) > max_bytes) return too_large(max_bytes + 1);
      text.resize(text.size() + 4096);
    }
    const ssize_t n = ::read(fd, text.data() + filled, text.size() - filled);
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError(path + ": read failed: " + std::strerror(errno));
    }
    if (n == 0) break;
    filled += static_cast<size_t>(n);
  }
  if (static_cast<int64_t>(filled) > max_bytes) return too_large(static_cast<int64_t>(filled));
  text.resize(filled);
  return text;
}

}  // namespace polycloud
