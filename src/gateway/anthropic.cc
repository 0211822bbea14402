#include "polycloud/gateway/anthropic.h"

#include "polycloud/base/text.h"

namespace polycloud::gateway {
namespace {

using nlohmann::json;

// The text of an OpenAI message's content: a string, or text parts.
Result<std::string> TextOf(const json& content, const std::string& where) {
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) {
    return InvalidArgument(where + ".content: expected a string or a list of text parts");
  }
  std::string out;
  for (const json& part : content) {
    if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") ||
        !part["text"].is_string()) {
      return InvalidArgument(where +
                             ".content: anthropic deployments take text parts only (no images, "
                             "audio or files)");
    }
    out += part["text"].get<std::string>();
  }
  return out;
}

std::string FinishReason(const json& stop_reason) {
  const std::string r = stop_reason.is_string() ? stop_reason.get<std::string>() : "";
  if (r == "max_tokens") return "length";
  if (r == "tool_use") return "tool_calls";
  return "stop";
}

json Usage(int64_t input, int64_t output) {
  return {
      {"prompt_tokens", input}, {"completion_tokens", output}, {"total_tokens", input + output}};
}

int64_t IntOr0(const json& object, const char* key) {
  return object.is_object() && object.contains(key) && object[key].is_number_integer()
             ? object[key].get<int64_t>()
             : 0;
}

}  // namespace

Result<json> ToAnthropicRequest(const json& openai, const std::string& upstream_model) {
  static const char* kKnown[] = {
      "model",          "messages", "max_tokens", "max_completion_tokens",
      "temperature",    "top_p",    "stop",       "stream",
      "stream_options", "user",     "n"};
  for (const auto& [key, value] : openai.items()) {
    bool known = false;
    for (const char* k : kKnown) known = known || key == k;
    if (!known) return InvalidArgument("anthropic deployments do not support \"" + key + "\"");
  }
  if (openai.contains("n") && openai["n"] != 1) {
    return InvalidArgument("anthropic deployments answer one choice (n = 1)");
  }
  if (!openai.contains("messages") || !openai["messages"].is_array()) {
    return InvalidArgument("messages: expected a list");
  }
  json out = {{"model", upstream_model}};
  std::string system;
  json messages = json::array();
  for (size_t i = 0; i < openai["messages"].size(); ++i) {
    const json& m = openai["messages"][i];
    const std::string where = "messages[" + std::to_string(i) + "]";
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string()) {
      return InvalidArgument(where + ": expected an object with a role");
    }
    const std::string role = m["role"].get<std::string>();
    Result<std::string> text = TextOf(m.value("content", json()), where);
    if (!text.ok()) return text.status();
    if (role == "system" || role == "developer") {
      system += (system.empty() ? "" : "\n\n") + *text;
    } else if (role == "user" || role == "assistant") {
      messages.push_back({{"role", role}, {"content", *text}});
    } else {
      return InvalidArgument(where + ": anthropic deployments do not support role \"" + role +
                             "\"");
    }
  }
  if (!system.empty()) out["system"] = system;
  out["messages"] = std::move(messages);
  const json& max = openai.contains("max_completion_tokens") ? openai["max_completion_tokens"]
                                                             : openai.value("max_tokens", json());
  out["max_tokens"] = max.is_number_integer() ? max : json(4096);
  for (const char* key : {"temperature", "top_p"}) {
    if (openai.contains(key) && !openai[key].is_null()) out[key] = openai[key];
  }
  if (openai.contains("stop") && !openai["stop"].is_null()) {
    out["stop_sequences"] =
        openai["stop"].is_string() ? json::array({openai["stop"]}) : openai["stop"];
  }
  if (openai.contains("user") && openai["user"].is_string()) {
    out["metadata"] = {{"user_id", openai["user"]}};
  }
  if (openai.value("stream", false)) out["stream"] = true;
  return out;
}

Result<json> FromAnthropicResponse(std::string_view body, const std::string& model,
                                   int64_t created) {
  const json in = json::parse(body, nullptr, false);
  if (!in.is_object() || !in.contains("content") || !in["content"].is_array()) {
    return InvalidInput("the anthropic deployment's answer is not a message: " +
                        QuoteExcerpt(body));
  }
  std::string text;
  for (const json& block : in["content"]) {
    if (block.is_object() && block.value("type", "") == "text" && block.contains("text") &&
        block["text"].is_string()) {
      text += block["text"].get<std::string>();
    }
  }
  const json usage = in.value("usage", json::object());
  return json{{"id", in.value("id", "chatcmpl-anthropic")},
              {"object", "chat.completion"},
              {"created", created},
              {"model", model},
              {"choices",
               {{{"index", 0},
                 {"message", {{"role", "assistant"}, {"content", text}}},
                 {"finish_reason", FinishReason(in.value("stop_reason", json()))}}}},
              {"usage", Usage(IntOr0(usage, "input_tokens"), IntOr0(usage, "output_tokens"))}};
}

json FromAnthropicError(std::string_view body) {
  const json in = json::parse(body, nullptr, false);
  std::string message = "the deployment answered: " + Excerpt(body, 200);
  std::string type = "invalid_request_error";
  if (in.is_object() && in.contains("error") && in["error"].is_object()) {
    const json& e = in["error"];
    if (e.contains("message") && e["message"].is_string()) message = e["message"];
    if (e.contains("type") && e["type"].is_string()) type = e["type"];
  }
  return {{"error", {{"message", message}, {"type", type}, {"param", nullptr}, {"code", nullptr}}}};
}

AnthropicStreamTranslator::AnthropicStreamTranslator(std::string model, int64_t created,
                                                     bool include_usage)
    : model_(std::move(model)), created_(created), include_usage_(include_usage) {}

http::SseEvent AnthropicStreamTranslator::Chunk(json delta, json finish_reason) const {
  json chunk = {
      {"id", id_},
      {"object", "chat.completion.chunk"},
      {"created", created_},
      {"model", model_},
      {"choices", {{{"index", 0}, {"delta", std::move(delta)}, {"finish_reason", finish_reason}}}}};
  http::SseEvent e;
  e.data = chunk.dump(-1, ' ', false, json::error_handler_t::replace);
  return e;
}

std::vector<http::SseEvent> AnthropicStreamTranslator::Translate(const http::SseEvent& event) {
  std::vector<http::SseEvent> out;
  if (done_) return out;
  const json in = json::parse(event.data, nullptr, false);
  const std::string type = in.is_object() ? in.value("type", event.event) : event.event;
  auto data = [](json j) {
    http::SseEvent e;
    e.data = j.dump(-1, ' ', false, json::error_handler_t::replace);
    return e;
  };
  if (type == "message_start") {
    const json message = in.value("message", json::object());
    if (message.is_object() && message.contains("id") && message["id"].is_string()) {
      id_ = message["id"];
    }
    input_tokens_ = IntOr0(message.value("usage", json::object()), "input_tokens");
    out.push_back(Chunk({{"role", "assistant"}, {"content", ""}}, nullptr));
  } else if (type == "content_block_delta") {
    const json delta = in.value("delta", json::object());
    if (delta.is_object() && delta.value("type", "") == "text_delta" && delta.contains("text")) {
      out.push_back(Chunk({{"content", delta["text"]}}, nullptr));
    }
  } else if (type == "message_delta") {
    output_tokens_ = IntOr0(in.value("usage", json::object()), "output_tokens");
    const json delta = in.value("delta", json::object());
    out.push_back(
        Chunk(json::object(),
              FinishReason(delta.is_object() ? delta.value("stop_reason", json()) : json())));
  } else if (type == "message_stop") {
    if (include_usage_) {
      out.push_back(data({{"id", id_},
                          {"object", "chat.completion.chunk"},
                          {"created", created_},
                          {"model", model_},
                          {"choices", json::array()},
                          {"usage", Usage(input_tokens_, output_tokens_)}}));
    }
    http::SseEvent end;
    end.data = "[DONE]";
    out.push_back(end);
    done_ = true;
  } else if (type == "error" || !in.is_object()) {
    out.push_back(data(in.is_object() ? FromAnthropicError(event.data)
                                      : FromAnthropicError("the stream sent " + event.data)));
    done_ = true;
  }
  return out;  // ping, content_block_start/stop: nothing to say
}

}  // namespace polycloud::gateway
