#include "polycloud/http/message.h"

#include <utility>

namespace polycloud::http {

namespace {

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// `text` up to its first CR, LF or NUL: a field value of an event must stay
// on its line.
std::string_view OneLine(std::string_view text) {
  return text.substr(0, text.find_first_of(std::string_view("\r\n\0", 3)));
}

}  // namespace

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

void Headers::Add(std::string name, std::string value) {
  all_.push_back({std::move(name), std::move(value)});
}

std::optional<std::string_view> Headers::Get(std::string_view name) const {
  for (const Header& h : all_) {
    if (EqualsIgnoreCase(h.name, name)) return std::string_view(h.value);
  }
  return std::nullopt;
}

std::string_view Request::Param(std::string_view name) const {
  auto it = params.find(name);
  POLYCLOUD_CHECK(it != params.end());
  return it->second;
}

std::string FormatSseEvent(const SseEvent& event) {
  std::string out;
  if (!event.id.empty()) out.append("id: ").append(OneLine(event.id)).append("\n");
  if (!event.event.empty()) out.append("event: ").append(OneLine(event.event)).append("\n");
  if (event.retry_ms) out.append("retry: ").append(std::to_string(*event.retry_ms)).append("\n");
  // Each line of the data is its own field; CRLF, CR and LF all end a line
  // for the client, so all three split here.
  std::string_view data = event.data;
  size_t start = 0;
  for (size_t i = 0; i <= data.size(); ++i) {
    if (i == data.size() || data[i] == '\n' || data[i] == '\r') {
      out.append("data: ").append(data.substr(start, i - start)).append("\n");
      if (i + 1 < data.size() && data[i] == '\r' && data[i + 1] == '\n') ++i;
      start = i + 1;
    }
  }
  out.append("\n");
  return out;
}

Response Response::Json(int status, const nlohmann::json& body) {
  return JsonText(status, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

Response Response::JsonText(int status, std::string json) {
  Response r;
  r.status = status;
  r.body = std::move(json);
  return r;
}

Response Response::Text(int status, std::string text, std::string content_type) {
  Response r;
  r.status = status;
  r.content_type = std::move(content_type);
  r.body = std::move(text);
  return r;
}

Response Response::Error(const ApiError& error) {
  Response r = JsonText(error.status, error.ToJson());
  r.headers = error.headers;
  return r;
}

Response Response::NoContent() {
  Response r;
  r.status = 204;
  r.content_type.clear();
  return r;
}

Response Response::Stream(std::function<void(std::shared_ptr<EventStream>)> on_open) {
  Response r;
  r.content_type = "text/event-stream";
  r.on_stream_open = std::move(on_open);
  return r;
}

}  // namespace polycloud::http
