// Fuzz target: the store location parser (`--store`, src/store/location.h)
// and its password redaction.
//
// Any input either parses into a SQLite path or a postgres URI, or fails with
// kInvalidArgument and a one-line message; redaction is stable (redacting
// twice changes nothing) and never lets the userinfo password through. Run in
// the regular suite by StoreLocationFuzzTargetTest; under libFuzzer:
//   cmake --preset fuzz && cmake --build --preset fuzz --target store_location_fuzz
//   build/fuzz/src/store/store_location_fuzz -max_total_time=60
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
  } else {
    POLYCLOUD_CHECK(where->target.find("://") != std::string::npos);
  }
  const std::string once = store::RedactPassword(input);
  POLYCLOUD_CHECK(store::RedactPassword(once) == once);
  // "scheme://user:SECRET@host": SECRET is gone.
  const size_t authority = input.find("://");
  if (authority != std::string_view::npos) {
    const size_t end = std::min(input.find_first_of("/?#", authority + 3), input.size());
    const size_t at = input.rfind('@', end == 0 ? 0 : end - 1);
    const size_t colon = input.find(':', authority + 3);
    if (at != std::string_view::npos && at >= authority + 3 && colon < at) {
      POLYCLOUD_CHECK(once.substr(colon + 1, 3) == "***" || colon + 1 == at);
    }
  }
  return 0;
}

#ifdef POLYCLOUD_LIBFUZZER_MAIN
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return PolycloudFuzzStoreLocation(data, size);
}
#endif
