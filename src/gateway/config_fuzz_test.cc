// Runs the gateway config fuzz target (tests/fuzz/gateway_config_fuzz.cc)
// over seeds, truncated at every byte and with bytes flipped, so the regular
// suite exercises it on every build.
#include <gtest/gtest.h>

#include <string>
#include <vector>

extern "C" int PolycloudFuzzGatewayConfig(const uint8_t* data, size_t size);

namespace polycloud::gateway {
namespace {

void Feed(const std::string& s) {
  PolycloudFuzzGatewayConfig(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

TEST(GatewayConfigFuzzTargetTest, SurvivesTruncatedAndCorruptedSeeds) {
  const std::string hash(64, 'a');
  const std::vector<std::string> seeds = {
      "",
      "endpoints: []",
      "endpoints:\n  - {id: a, provider: azure, site: az, model: m, upstream_model: u, base_url: "
      "\"http://127.0.0.1:9/v1\", format: openai, api_key_env: K, capacity: {tokens_per_s: 5, "
      "concurrent_requests: 2}, price: {input_per_million: 2.5, output_per_million: $10}}\n"
      "keys:\n  - {id: k, secret_sha256: " +
          hash +
          ", service: chat, tenant: t}\n"
          "routing: {eject_after_failures: 3, eject_for: 30s, upstream_timeout: 1m}\n",
      "endpoints: [{id: b, provider: aws, model: m, base_url: \"http://[::1]:80\", format: "
      "anthropic}]\nkeys: [{id: k, secret_sha256: " +
          hash +
          ", workload_class: api, "
          "model_family: gpt}]\n",
      "endpoints: &a [*a]\n",
      "endpoints: [{id: a, provider: gcp, colour: red}, {id: a}]\nextra: 1\n",
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
}  // namespace polycloud::gateway
