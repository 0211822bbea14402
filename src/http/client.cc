#include "polycloud/http/client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <deque>

#include "polycloud/base/text.h"

namespace polycloud::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = net::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using error_code = boost::system::error_code;

namespace {

// Runs `ioc` until `*done` or `deadline`. On the deadline it closes `socket`,
// which completes the pending operation with operation_aborted, and runs
// until it has. True when the operation finished in time.
bool RunUntil(net::io_context& ioc, const bool& done, SteadyClock::time_point deadline,
              tcp::socket& socket) {
  ioc.restart();
  while (!done && SteadyClock::now() < deadline) {
    if (ioc.run_one_until(deadline) == 0 && ioc.stopped()) break;  // nothing left to run
  }
  if (done) return true;
  error_code ignored;
  socket.close(ignored);
  ioc.restart();
  while (!done && ioc.run_one() > 0) {
  }
  return false;
}

std::string TimeoutMessage(const ServerAddress& a, std::chrono::milliseconds timeout) {
  return "request to " + a.host + ":" + std::to_string(a.port) + " timed out after " +
         std::to_string(timeout.count()) + " ms";
}

Status Connect(net::io_context& ioc, tcp::socket& socket, const ServerAddress& address,
               SteadyClock::time_point deadline, std::chrono::milliseconds timeout) {
  const std::string where = address.host + ":" + std::to_string(address.port);
  error_code ec;
  tcp::resolver resolver(ioc);
  tcp::resolver::results_type endpoints =
      resolver.resolve(address.host, std::to_string(address.port), ec);
  if (ec) return IoError("cannot resolve " + address.host + ": " + ec.message());
  bool done = false;
  net::async_connect(socket, endpoints, [&](const error_code& e, const tcp::endpoint&) {
    ec = e;
    done = true;
  });
  if (!RunUntil(ioc, done, deadline, socket)) return IoError(TimeoutMessage(address, timeout));
  if (ec) return IoError("cannot connect to " + where + ": " + ec.message());
  socket.set_option(tcp::no_delay(true), ec);
  return Status::Ok();
}

bool IsIdempotent(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "PUT" || method == "DELETE" ||
         method == "OPTIONS";
}

bool IsConnectionGone(const error_code& ec) {
  return ec == net::error::eof || ec == bhttp::error::end_of_stream ||
         ec == net::error::connection_reset || ec == net::error::broken_pipe ||
         ec == net::error::connection_aborted;
}

template <typename Fields>
Headers CopyHeaders(const Fields& fields) {
  Headers out;
  for (const auto& f : fields) out.Add(std::string(f.name_string()), std::string(f.value()));
  return out;
}

bhttp::request<bhttp::string_body> BuildRequest(const ClientRequest& request,
                                                const ClientOptions& options) {
  bhttp::request<bhttp::string_body> r;
  const bhttp::verb verb = bhttp::string_to_verb(request.method);
  if (verb == bhttp::verb::unknown) {
    r.method_string(request.method);
  } else {
    r.method(verb);
  }
  r.target(request.target);
  r.version(11);
  r.set(bhttp::field::host, options.address.host + ":" + std::to_string(options.address.port));
  r.set(bhttp::field::user_agent, "polycloud");
  if (!options.bearer_token.empty())
    r.set(bhttp::field::authorization, "Bearer " + options.bearer_token);
  for (const Header& h : request.headers) r.insert(h.name, h.value);
  if (!request.content_type.empty()) r.set(bhttp::field::content_type, request.content_type);
  r.body() = request.body;
  r.keep_alive(true);
  r.prepare_payload();
  return r;
}

}  // namespace

// ---- ParseServerUrl ----

Result<ServerAddress> ParseServerUrl(std::string_view url) {
  const std::string quoted = QuoteExcerpt(url);
  if (url.substr(0, 8) == "https://") {
    return InvalidArgument(
        "server " + quoted +
        ": https is not supported; polycloud serves plain HTTP (put a TLS proxy in front)");
  }
  if (url.substr(0, 7) != "http://") {
    return InvalidArgument("server " + quoted + ": expected http://HOST[:PORT]");
  }
  std::string_view rest = url.substr(7);
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find_first_of("/?#@") != std::string_view::npos) {
    return InvalidArgument("server " + quoted +
                           ": expected http://HOST[:PORT] with no path, query or user");
  }
  ServerAddress out;
  out.port = 80;
  std::string_view port_text;
  if (!rest.empty() && rest.front() == '[') {  // [IPv6]:port
    const size_t close = rest.find(']');
    if (close == std::string_view::npos)
      return InvalidArgument("server " + quoted + ": unclosed '['");
    out.host = std::string(rest.substr(1, close - 1));
    rest = rest.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':')
        return InvalidArgument("server " + quoted + ": expected ':' after ']'");
      port_text = rest.substr(1);
      if (port_text.empty()) return InvalidArgument("server " + quoted + ": empty port");
    }
  } else {
    const size_t colon = rest.find(':');
    out.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = rest.substr(colon + 1);
      if (port_text.empty()) return InvalidArgument("server " + quoted + ": empty port");
    }
  }
  if (out.host.empty()) return InvalidArgument("server " + quoted + ": no host");
  if (!port_text.empty()) {
    uint32_t port = 0;
    auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || ptr != port_text.data() + port_text.size() || port == 0 ||
        port > 65535) {
      return InvalidArgument("server " + quoted + ": expected a port from 1 to 65535, found " +
                             QuoteExcerpt(port_text));
    }
    out.port = static_cast<uint16_t>(port);
  }
  return out;
}

// ---- ClientResponse ----

Result<nlohmann::json> ClientResponse::Json() const {
  nlohmann::json out = nlohmann::json::parse(body, nullptr, false);
  if (out.is_discarded()) {
    return InvalidInput("the server's response is not JSON: " + QuoteExcerpt(body));
  }
  return out;
}

std::optional<ApiError> ClientResponse::Error() const {
  if (status < 400) return std::nullopt;
  nlohmann::json doc = nlohmann::json::parse(body, nullptr, false);
  if (doc.is_object() && doc.contains("error") && doc["error"].is_object()) {
    const nlohmann::json& e = doc["error"];
    if (e.contains("code") && e["code"].is_string() && e.contains("message") &&
        e["message"].is_string()) {
      ApiError out{
          status, e["code"].get<std::string>(), e["message"].get<std::string>(), std::nullopt, {}};
      if (e.contains("pointer") && e["pointer"].is_string())
        out.pointer = e["pointer"].get<std::string>();
      return out;
    }
  }
  return ApiError{status,
                  "http_" + std::to_string(status),
                  body.empty() ? "HTTP status " + std::to_string(status) : Excerpt(body, 200),
                  std::nullopt,
                  {}};
}

// ---- Client ----

class Client::Impl {
 public:
  explicit Impl(ClientOptions options) : options_(std::move(options)), socket_(ioc_) {}

  Result<ClientResponse> Send(const ClientRequest& request);
  int connections_opened() const { return connections_opened_; }
  const ClientOptions& options() const { return options_; }

 private:
  // The outcome of one attempt, and whether it may be retried on a new
  // connection (a kept-alive connection the server had closed).
  struct Attempt {
    Result<ClientResponse> result = Status(IoError("not attempted"));
    bool retry = false;
  };
  Attempt Try(const bhttp::request<bhttp::string_body>& message, std::string_view method,
              SteadyClock::time_point deadline);
  Status EnsureConnected(SteadyClock::time_point deadline);
  void Disconnect() {
    error_code ignored;
    socket_.close(ignored);
    buffer_.clear();
  }

  ClientOptions options_;
  net::io_context ioc_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
  int connections_opened_ = 0;
  bool reused_ = false;
};

Status Client::Impl::EnsureConnected(SteadyClock::time_point deadline) {
  if (socket_.is_open()) {
    reused_ = true;
    return Status::Ok();
  }
  reused_ = false;
  socket_ = tcp::socket(ioc_);
  buffer_.clear();
  POLYCLOUD_RETURN_IF_ERROR(Connect(ioc_, socket_, options_.address, deadline, options_.timeout));
  ++connections_opened_;
  return Status::Ok();
}

Client::Impl::Attempt Client::Impl::Try(const bhttp::request<bhttp::string_body>& message,
                                        std::string_view method, SteadyClock::time_point deadline) {
  Attempt attempt;
  if (Status s = EnsureConnected(deadline); !s.ok()) {
    attempt.result = s;
    return attempt;
  }
  error_code ec;
  bool done = false;
  bhttp::async_write(socket_, message, [&](const error_code& e, size_t) {
    ec = e;
    done = true;
  });
  if (!RunUntil(ioc_, done, deadline, socket_)) {
    attempt.result = IoError(TimeoutMessage(options_.address, options_.timeout));
    return attempt;
  }
  if (ec) {
    Disconnect();
    attempt.retry = reused_;  // nothing was received by a closed connection
    attempt.result = IoError("cannot send to " + options_.address.host + ": " + ec.message());
    return attempt;
  }
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(options_.max_response_bytes);
  done = false;
  bhttp::async_read(socket_, buffer_, parser, [&](const error_code& e, size_t) {
    ec = e;
    done = true;
  });
  if (!RunUntil(ioc_, done, deadline, socket_)) {
    Disconnect();
    attempt.result = IoError(TimeoutMessage(options_.address, options_.timeout));
    return attempt;
  }
  if (ec) {
    const bool nothing_read = !parser.got_some();
    Disconnect();
    // The server may have closed the kept-alive connection just as the
    // request went out; only a request that is safe to repeat is repeated.
    attempt.retry = reused_ && nothing_read && IsConnectionGone(ec) && IsIdempotent(method);
    attempt.result =
        IoError("reading the response from " + options_.address.host + ": " + ec.message());
    return attempt;
  }
  bhttp::response<bhttp::string_body> response = parser.release();
  ClientResponse out;
  out.status = static_cast<int>(response.result_int());
  out.headers = CopyHeaders(response);
  out.body = std::move(response.body());
  if (!response.keep_alive()) Disconnect();
  attempt.result = std::move(out);
  return attempt;
}

Result<ClientResponse> Client::Impl::Send(const ClientRequest& request) {
  const SteadyClock::time_point deadline = SteadyClock::now() + options_.timeout;
  const bhttp::request<bhttp::string_body> message = BuildRequest(request, options_);
  Attempt attempt = Try(message, request.method, deadline);
  if (!attempt.result.ok() && attempt.retry) attempt = Try(message, request.method, deadline);
  return std::move(attempt.result);
}

Client::Client(ClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Client::~Client() = default;

Result<ClientResponse> Client::Get(std::string_view target) {
  return Send({"GET", std::string(target), "", "", {}});
}

Result<ClientResponse> Client::Post(std::string_view target, const nlohmann::json& body) {
  return Send({"POST",
               std::string(target),
               body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
               "application/json",
               {}});
}

Result<ClientResponse> Client::Delete(std::string_view target) {
  return Send({"DELETE", std::string(target), "", "", {}});
}

Result<ClientResponse> Client::Send(const ClientRequest& request) { return impl_->Send(request); }

int Client::connections_opened() const { return impl_->connections_opened(); }

// ---- event streams ----

namespace {

class StreamReader : public EventStreamReader {
 public:
  StreamReader() : socket_(ioc_) {}

  Status Open(const ClientOptions& options, std::string_view target,
              const std::optional<std::string>& last_event_id, int* connections);
  Result<std::optional<SseEvent>> Next(std::chrono::milliseconds timeout) override;
  int comments_seen() const override { return parser_.comments_seen(); }
  const Headers& headers() const override { return headers_; }

 private:
  net::io_context ioc_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
  Headers headers_;
  SseParser parser_;
  std::deque<SseEvent> ready_;
  std::vector<SseEvent> scratch_;
  std::array<char, 8192> chunk_{};
  bool read_pending_ = false;
  bool read_done_ = false;
  error_code read_ec_;
  size_t read_n_ = 0;
  bool ended_ = false;
};

Status StreamReader::Open(const ClientOptions& options, std::string_view target,
                          const std::optional<std::string>& last_event_id, int* connections) {
  const SteadyClock::time_point deadline = SteadyClock::now() + options.timeout;
  POLYCLOUD_RETURN_IF_ERROR(Connect(ioc_, socket_, options.address, deadline, options.timeout));
  ++*connections;
  ClientRequest request{"GET", std::string(target), "", "", {{"Accept", "text/event-stream"}}};
  if (last_event_id) request.headers.push_back({"Last-Event-ID", *last_event_id});
  const bhttp::request<bhttp::string_body> message = BuildRequest(request, options);
  error_code ec;
  bool done = false;
  bhttp::async_write(socket_, message, [&](const error_code& e, size_t) {
    ec = e;
    done = true;
  });
  if (!RunUntil(ioc_, done, deadline, socket_))
    return IoError(TimeoutMessage(options.address, options.timeout));
  if (ec) return IoError("cannot send to " + options.address.host + ": " + ec.message());

  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(1 << 20);
  done = false;
  bhttp::async_read_header(socket_, buffer_, parser, [&](const error_code& e, size_t) {
    ec = e;
    done = true;
  });
  if (!RunUntil(ioc_, done, deadline, socket_))
    return IoError(TimeoutMessage(options.address, options.timeout));
  if (ec) return IoError("reading the stream's response: " + ec.message());
  headers_ = CopyHeaders(parser.get());
  const int status = static_cast<int>(parser.get().result_int());
  if (status != 200) {
    // An error answer has an ordinary body: read it for the message.
    done = false;
    bhttp::async_read(socket_, buffer_, parser, [&](const error_code& e, size_t) {
      ec = e;
      done = true;
    });
    RunUntil(ioc_, done, deadline, socket_);
    ClientResponse r{status, headers_, parser.get().body()};
    return InvalidArgument("the server refused the event stream: " + r.Error()->ToString());
  }
  std::optional<std::string_view> type = headers_.Get("Content-Type");
  if (!type || type->substr(0, 17) != "text/event-stream") {
    return InvalidInput("expected Content-Type: text/event-stream, found " +
                        (type ? QuoteExcerpt(*type) : std::string("none")));
  }
  if (parser.chunked()) {
    return InvalidInput(
        "a chunked event stream is not supported (polycloud's server does not send one)");
  }
  // What was read past the header already belongs to the stream.
  const auto data = buffer_.data();
  parser_.Feed(std::string_view(static_cast<const char*>(data.data()), data.size()), &scratch_);
  buffer_.consume(buffer_.size());
  for (SseEvent& e : scratch_) ready_.push_back(std::move(e));
  scratch_.clear();
  return Status::Ok();
}

Result<std::optional<SseEvent>> StreamReader::Next(std::chrono::milliseconds timeout) {
  const SteadyClock::time_point deadline = SteadyClock::now() + timeout;
  while (ready_.empty() && !ended_) {
    if (!read_pending_) {
      read_pending_ = true;
      read_done_ = false;
      socket_.async_read_some(net::buffer(chunk_), [this](const error_code& e, size_t n) {
        read_ec_ = e;
        read_n_ = n;
        read_done_ = true;
      });
    }
    // Unlike a request, a quiet stream is not broken: on the deadline the
    // read stays pending for the next call.
    ioc_.restart();
    while (!read_done_ && SteadyClock::now() < deadline) {
      if (ioc_.run_one_until(deadline) == 0 && ioc_.stopped()) break;
    }
    if (!read_done_) {
      return IoError("no event within " + std::to_string(timeout.count()) + " ms");
    }
    read_pending_ = false;
    if (read_ec_) {
      if (read_ec_ == net::error::eof) {
        ended_ = true;
        break;
      }
      return IoError("the event stream broke: " + read_ec_.message());
    }
    parser_.Feed(std::string_view(chunk_.data(), read_n_), &scratch_);
    for (SseEvent& e : scratch_) ready_.push_back(std::move(e));
    scratch_.clear();
  }
  if (ready_.empty()) return std::optional<SseEvent>();
  SseEvent e = std::move(ready_.front());
  ready_.pop_front();
  return std::optional<SseEvent>(std::move(e));
}

}  // namespace

Result<std::unique_ptr<EventStreamReader>> Client::OpenEventStream(
    std::string_view target, const std::optional<std::string>& last_event_id) {
  auto reader = std::make_unique<StreamReader>();
  int opened = 0;
  Status s = reader->Open(impl_->options(), target, last_event_id, &opened);
  if (!s.ok()) return s;
  return std::unique_ptr<EventStreamReader>(std::move(reader));
}

// ---- SseParser ----

void SseParser::Feed(std::string_view bytes, std::vector<SseEvent>* out) {
  size_t start = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    const char c = bytes[i];
    if (skip_lf_) {
      skip_lf_ = false;
      if (c == '\n') {
        start = i + 1;
        continue;
      }
    }
    if (c != '\n' && c != '\r') continue;
    pending_.append(bytes.substr(start, i - start));
    Line(pending_, out);
    pending_.clear();
    skip_lf_ = c == '\r';  // CRLF is one line end
    start = i + 1;
  }
  pending_.append(bytes.substr(start));
}

void SseParser::Line(std::string_view line, std::vector<SseEvent>* out) {
  if (line.empty()) {  // dispatch
    if (has_data_) {
      SseEvent e = event_;
      if (!e.data.empty() && e.data.back() == '\n') e.data.pop_back();
      out->push_back(std::move(e));
    }
    // The id persists from event to event (it is the "last event ID").
    event_.event.clear();
    event_.data.clear();
    event_.retry_ms.reset();
    has_data_ = false;
    return;
  }
  if (line.front() == ':') {
    ++comments_;
    return;
  }
  const size_t colon = line.find(':');
  std::string_view field = line.substr(0, colon);
  std::string_view value =
      colon == std::string_view::npos ? std::string_view() : line.substr(colon + 1);
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (field == "event") {
    event_.event = std::string(value);
  } else if (field == "data") {
    event_.data.append(value).append("\n");
    has_data_ = true;
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) event_.id = std::string(value);
  } else if (field == "retry") {
    int64_t ms = 0;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), ms);
    if (!value.empty() && ec == std::errc() && ptr == value.data() + value.size() && ms >= 0)
      event_.retry_ms = ms;
  }
}

}  // namespace polycloud::http
