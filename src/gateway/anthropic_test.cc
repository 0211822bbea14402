#include "polycloud/gateway/anthropic.h"

#include <gtest/gtest.h>

namespace polycloud::gateway {
namespace {

using nlohmann::json;

TEST(AnthropicAdapterTest, TranslatesAChatRequest) {
  const json openai = json::parse(R"({
    "model": "gpt-x", "max_completion_tokens": 50, "temperature": 0.5, "stop": "END",
    "stream": true, "stream_options": {"include_usage": true}, "user": "u1",
    "messages": [
      {"role": "system", "content": "one"}, {"role": "developer", "content": "two"},
      {"role": "user", "content": [{"type": "text", "text": "he"}, {"type": "text", "text": "llo"}]},
      {"role": "assistant", "content": "hi"}]})");
  Result<json> out = ToAnthropicRequest(openai, "claude-up");
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(*out, json::parse(R"({
    "model": "claude-up", "system": "one\n\ntwo", "max_tokens": 50, "temperature": 0.5,
    "stop_sequences": ["END"], "stream": true, "metadata": {"user_id": "u1"},
    "messages": [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "hi"}]})"));
}

TEST(AnthropicAdapterTest, RefusesWhatItCannotTranslateNamingIt) {
  auto error = [](const char* text) {
    Result<json> r = ToAnthropicRequest(json::parse(text), "c");
    return r.ok() ? std::string() : r.status().message();
  };
  EXPECT_EQ(error(R"({"model":"m","messages":[],"tools":[]})"),
            "anthropic deployments do not support \"tools\"");
  EXPECT_EQ(error(R"({"model":"m","messages":[],"n":2})"),
            "anthropic deployments answer one choice (n = 1)");
  EXPECT_EQ(error(R"({"model":"m","messages":[{"role":"tool","content":"x"}]})"),
            "messages[0]: anthropic deployments do not support role \"tool\"");
  EXPECT_NE(error(R"({"model":"m","messages":[{"role":"user","content":[{"type":"image_url"}]}]})")
                .find("text parts only"),
            std::string::npos);
}

TEST(AnthropicAdapterTest, TranslatesAnAnswerAndAnError) {
  Result<json> r = FromAnthropicResponse(
      R"({"id":"msg_1","type":"message","role":"assistant","content":[{"type":"text","text":"a"},)"
      R"({"type":"text","text":"b"}],"stop_reason":"max_tokens","usage":{"input_tokens":3,"output_tokens":2}})",
      "gpt-x", 100);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)["choices"][0]["message"]["content"], "ab");
  EXPECT_EQ((*r)["choices"][0]["finish_reason"], "length");
  EXPECT_EQ((*r)["usage"]["total_tokens"], 5);
  EXPECT_EQ((*r)["created"], 100);
  EXPECT_FALSE(FromAnthropicResponse("not json", "m", 0).ok());
  EXPECT_EQ(
      FromAnthropicError(R"({"type":"error","error":{"type":"rate_limit_error","message":"m"}})"),
      json::parse(
          R"({"error":{"message":"m","type":"rate_limit_error","param":null,"code":null}})"));
}

TEST(AnthropicAdapterTest, StreamEndsWithDoneAndStopsAfterAnError) {
  AnthropicStreamTranslator t("gpt-x", 1, false);
  auto data = [](const char* text) {
    http::SseEvent e;
    e.data = text;
    return e;
  };
  EXPECT_EQ(t.Translate(data(R"({"type":"ping"})")).size(), 0u);
  std::vector<http::SseEvent> out = t.Translate(
      data(R"({"type":"content_block_delta","delta":{"type":"text_delta","text":"x"}})"));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(json::parse(out[0].data)["choices"][0]["delta"]["content"], "x");
  out =
      t.Translate(data(R"({"type":"error","error":{"type":"overloaded_error","message":"busy"}})"));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(json::parse(out[0].data)["error"]["type"], "overloaded_error");
  EXPECT_TRUE(t.done());
  EXPECT_TRUE(t.Translate(data(R"({"type":"message_stop"})")).empty());
}

}  // namespace
}  // namespace polycloud::gateway
