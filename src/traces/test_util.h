// Test-only helpers for the traces tests: in-memory gzip, the shared data
// folder, and a skip when it is absent. Not part of polycloud_traces.
#ifndef POLYCLOUD_SRC_TRACES_TEST_UTIL_H_
#define POLYCLOUD_SRC_TRACES_TEST_UTIL_H_

#include <zlib.h>

#include <filesystem>
#include <string>
#include <string_view>

#include "polycloud/base/status.h"

namespace polycloud::traces::testing {

// gzip-compresses `text` (one member, default level).
inline std::string Gzip(std::string_view text) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    return {};
  }
  std::string out(deflateBound(&zs, static_cast<uLong>(text.size())) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  zs.avail_in = static_cast<uInt>(text.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return rc == Z_STREAM_END ? out : std::string();
}

// ../shared/data/<relative> as seen from the repository.
inline std::string SharedData(std::string_view relative) {
  return std::string(POLYCLOUD_SHARED_DATA_DIR) + "/" + std::string(relative);
}

}  // namespace polycloud::traces::testing

// Skips the current test when a shipped data file is not there (a checkout
// without ../shared/data): tests on real data must not fail for that.
#define POLYCLOUD_SKIP_WITHOUT_SHARED_DATA(path)                                  \
  do {                                                                            \
    if (!std::filesystem::exists(path)) {                                         \
      GTEST_SKIP() << "shared data file " << (path)                               \
                   << " is absent; tests on the real traces need ../shared/data"; \
    }                                                                             \
  } while (0)

#endif  // POLYCLOUD_SRC_TRACES_TEST_UTIL_H_
