// Runs the JSON body fuzz target (tests/fuzz/json_body_fuzz.cc) over hand-made
// seeds, truncated at every byte and with bytes flipped, so the regular suite
// exercises it on every build.
#include <gtest/gtest.h>

#include <string>
#include <vector>

extern "C" int PolycloudFuzzJsonBody(const uint8_t* data, size_t size);

namespace polycloud::http {
namespace {

void Feed(const std::string& s) {
  PolycloudFuzzJsonBody(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

TEST(JsonBodyFuzzTargetTest, SurvivesTruncatedAndCorruptedSeeds) {
  const std::vector<std::string> seeds = {
      "",
      "{}",
      "[]",
      "null",
      R"({"name":"train-7","gpus":64})",
      R"({"name":"a","gpus":1,"priority":-5,"preemptible":true,"class":"batch",)"
      R"("accelerators":["H100","B200"],"limits":{"max_hours":12,"note":"",)"
      R"("tags":[{"key":"team","value":{"x":[1,2]}},{"key":"k"}]}})",
      R"({"name":"a","gpus":1,"name":"b"})",
      R"({"name":"a","gpus":1.5})",
      R"({"name":"a","gpus":99999999999999999999999})",
      R"({"name":"a","gpus":1,"limits":{"tags":[{"key":"a~b/c","extra":1}]}})",
      R"({"name":"a","gpus":1,"legacy":true})",
      R"({"a/b~c":1})",
      std::string(40, '[') + std::string(40, ']'),
      std::string(20, '{'),
      "{\"name\":\"\xff\"}",
      "a=1&b=%zz&c",
      "x=%41&x=2",
      "\xef\xbb\xbf{\"name\":\"bom\",\"gpus\":2}",
  };
  int runs = 0;
  for (const std::string& seed : seeds) {
    for (size_t cut = 0; cut <= seed.size(); ++cut, ++runs) Feed(seed.substr(0, cut));
    for (size_t at = 0; at < seed.size(); ++at) {
      for (char flip : {'\x01', '\x20', '\x5a'}) {
        std::string mutated = seed;
        mutated[at] = static_cast<char>(mutated[at] ^ flip);
        Feed(mutated);
        ++runs;
      }
    }
  }
  EXPECT_GT(runs, 1000);
}

}  // namespace
}  // namespace polycloud::http
