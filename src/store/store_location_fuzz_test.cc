// Runs the store location fuzz target (tests/fuzz/store_location_fuzz.cc) over
// seeds, truncated at every point and with bytes flipped, so the regular suite
// exercises it on every build.
#include <gtest/gtest.h>

#include <string>
#include <vector>

extern "C" int PolycloudFuzzStoreLocation(const uint8_t* data, size_t size);

namespace polycloud::store {
namespace {

void Feed(const std::string& s) {
  PolycloudFuzzStoreLocation(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

TEST(StoreLocationFuzzTargetTest, SurvivesTruncatedAndCorruptedSeeds) {
  const std::vector<std::string> seeds = {
      "",
      "polycloud.db",
      "sqlite:/var/lib/polycloud.db",
      "sqlite:x.db?synchronous=normal&synchronous=FULL",
      "sqlite://x",
      "sqlite::memory:",
      "postgresql://broker:s3cret@db.example:5432/polycloud?sslmode=require&password=x",
      "postgres://@/",
      "postgres://u:p@h:1/d?password=&password=a&x=y",
      "a://b:c@d@e/f",
      "mysql://root@h/x",
      "./a:b",
      std::string("sqlite:\0x", 9),
      "\xff\xfe",
  };
  int runs = 0;
  for (const std::string& seed : seeds) {
    for (size_t cut = 0; cut <= seed.size(); ++cut, ++runs) Feed(seed.substr(0, cut));
    for (size_t at = 0; at < seed.size(); ++at, ++runs) {
      for (const char flip : {'\x01', '@', ':', '/', '?', '&', '\n'}) {
        std::string mutated = seed;
        mutated[at] = flip;
        Feed(mutated);
      }
    }
  }
  EXPECT_GT(runs, 200);
}

}  // namespace
}  // namespace polycloud::store
