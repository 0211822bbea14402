// Fuzz target: the store location parser (`--store`, src/store/location.h)
// and its password redaction.
//
// Any input either parses into a SQLite path or a postgres URI, or fails with
// kInvalidArgument and a one-line message; redaction never lets the userinfo
// password through. (It is not idempotent: hiding a parameter's value can
// remove the '/' that ended the userinfo.) Run in
// the regular suite by StoreLocationFuzzTargetTest; under libFuzzer:
//   cmake --preset fuzz && cmake --build --preset fuzz --target store_location_fuzz
//   build/fuzz/src/store/store_location_fuzz -max_total_time=60
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "src/store/location.h"

extern "C" int PolycloudFuzzStoreLocation(const uint8_t* data, size_t size) {
  using namespace polycloud;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  Result<store::StoreLocation> where = store::ParseStoreLocation(input);
  if (!where.ok()) {
    POLYCLOUD_CHECK(where.status().code() == StatusCode::kInvalidArgument);
    POLYCLOUD_CHECK(where.status().message().find('\n') == std::string::npos);
  } else if (where->kind == store::StoreLocation::Kind::kSqlite) {
    POLYCLOUD_CHECK(!where->target.empty() && where->target.back() != '/');
    // Parameters come only after "sqlite:"; a bare path keeps its '?'.
    if (!where->sqlite_fsync_each_commit) {
      POLYCLOUD_CHECK(where->target.find('?') == std::string::npos);
    }
  } else {
    POLYCLOUD_CHECK(where->target.find("://") != std::string::npos);
  }
  const std::string once = store::RedactPassword(input);
  // "scheme://user:SECRET@host/...": SECRET is gone (the userinfo as libpq
  // reads it: up to an '@' before the first '/'; see RedactPassword).
  const size_t authority = input.find("://");
  if (authority != std::string_view::npos) {
    const size_t begin = authority + 3;
    const size_t slash = std::min(input.find('/', begin), input.size());
    const size_t at = slash > begin ? input.rfind('@', slash - 1) : std::string_view::npos;
    const size_t colon = input.find(':', begin);
    if (at != std::string_view::npos && at >= begin && colon < at) {
      POLYCLOUD_CHECK(once.compare(colon + 1, 4, "***@") == 0);
    }
  }
  return 0;
}

#ifdef POLYCLOUD_LIBFUZZER_MAIN
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return PolycloudFuzzStoreLocation(data, size);
}
#endif
