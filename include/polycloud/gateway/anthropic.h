// The Anthropic Messages adapter: an OpenAI chat completion request served
// by an Anthropic-format deployment (POST {base}/messages), its answer and
// its event stream translated back, so a client of the OpenAI API cannot
// tell which vendor answered.
//
//   Result<nlohmann::json> up = ToAnthropicRequest(openai_body, "claude-x");
//   ... POST it with x-api-key and anthropic-version ...
//   Result<nlohmann::json> answer = FromAnthropicResponse(body, "gpt-4o", now);
//
// What is translated: system/developer messages become `system`; user and
// assistant messages with text content (a string or text parts); max_tokens
// (or max_completion_tokens; 4096 when absent, Anthropic requires one),
// temperature, top_p, stop, stream, stream_options.include_usage, user.
// Anything else (tools, images, n > 1, ...) is refused with InvalidArgument
// naming it, so nothing is silently dropped.
//
// Thread-safety: functions are reentrant; a StreamTranslator belongs to one
// stream.
#ifndef POLYCLOUD_GATEWAY_ANTHROPIC_H_
#define POLYCLOUD_GATEWAY_ANTHROPIC_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "polycloud/base/status.h"
#include "polycloud/http/message.h"

namespace polycloud::gateway {

inline constexpr const char* kAnthropicVersion = "2023-06-01";

// The Messages request for an OpenAI chat request. Errors: InvalidArgument
// "anthropic deployments do not support tools" and the like.
Result<nlohmann::json> ToAnthropicRequest(const nlohmann::json& openai,
                                          const std::string& upstream_model);

// The OpenAI chat.completion for a Messages answer; `model` is the name the
// client asked for, `created` the Unix time. Errors: InvalidInput when the
// body is not a Messages answer.
Result<nlohmann::json> FromAnthropicResponse(std::string_view body, const std::string& model,
                                             int64_t created);

// An Anthropic error body ({"type":"error","error":{"type","message"}}) in
// OpenAI's error shape; any other body becomes its excerpt as the message.
nlohmann::json FromAnthropicError(std::string_view body);

// Turns the Messages stream's events into chat.completion.chunk events,
// ending with "[DONE]".
class AnthropicStreamTranslator {
 public:
  AnthropicStreamTranslator(std::string model, int64_t created, bool include_usage);
  // The OpenAI events for one upstream event (none for ping and the like).
  std::vector<http::SseEvent> Translate(const http::SseEvent& event);
  // True once message_stop or an error was seen.
  bool done() const { return done_; }

 private:
  http::SseEvent Chunk(nlohmann::json delta, nlohmann::json finish_reason) const;
  std::string model_;
  int64_t created_;
  bool include_usage_;
  std::string id_ = "chatcmpl-anthropic";
  int64_t input_tokens_ = 0;
  int64_t output_tokens_ = 0;
  bool done_ = false;
};

}  // namespace polycloud::gateway

#endif  // POLYCLOUD_GATEWAY_ANTHROPIC_H_
