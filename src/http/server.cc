#include "polycloud/http/server.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "polycloud/http/query.h"

namespace polycloud::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = net::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using error_code = boost::system::error_code;

namespace {

// Lets Replies and EventStreams that outlive a connection, or the server,
// find that out safely: once closed, nothing reaches a session.
struct Gate {
  std::mutex mu;
  bool open = true;
};

// What is counted for one route; lock-free, written by every io thread.
struct RouteCounters {
  std::string method;
  std::string route;
  std::array<std::atomic<uint64_t>, 600> by_status{};  // index: the HTTP status
  LatencyHistogram latency;
};

// How long a connection that is being closed after a response keeps reading
// (and discarding) what the client still sends, so that closing does not
// reset the connection before the client has read the response (a 413 sent
// while the client is still writing its body, for one).
constexpr milliseconds kLingerTime{500};

std::string OneLine(std::string_view text) {
  std::string out(text.substr(0, text.find_first_of(std::string_view("\r\n\0", 3))));
  return out;
}

// Header names and values from handlers go on the wire: a CR or LF in them
// would let data forge headers, so they are replaced.
std::string HeaderSafe(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c == '\r' || c == '\n' || c == '\0') c = ' ';
  }
  return out;
}

// The token of "Authorization: Bearer <token68>" (RFC 6750), or nullopt.
std::optional<std::string> BearerToken(const Headers& headers) {
  std::optional<std::string_view> value = headers.Get("Authorization");
  if (!value) return std::nullopt;
  std::string_view v = *value;
  const size_t space = v.find(' ');
  if (space == std::string_view::npos || !EqualsIgnoreCase(v.substr(0, space), "Bearer"))
    return std::nullopt;
  v = v.substr(space);
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  size_t i = 0;
  auto token_char = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
  };
  while (i < v.size() && token_char(v[i])) ++i;
  if (i == 0) return std::nullopt;
  while (i < v.size() && v[i] == '=') ++i;
  if (i != v.size()) return std::nullopt;
  return std::string(v);
}

template <typename Message>
void AddHeaders(const std::vector<Header>& headers, Message& message) {
  for (const Header& h : headers) {
    if (!h.name.empty()) message.insert(HeaderSafe(h.name), HeaderSafe(h.value));
  }
}

}  // namespace

class Session;

class Server::Impl {
 public:
  Impl(ServerOptions options, Router router)
      : options_(std::move(options)),
        router_(std::move(router)),
        acceptor_(net::make_strand(ioc_)),
        accept_retry_(acceptor_.get_executor()) {
    for (const auto& route : router_.routes()) {
      counters_.push_back(std::make_unique<RouteCounters>());
      counters_.back()->method = route->method;
      counters_.back()->route = route->pattern;
    }
    counters_.push_back(std::make_unique<RouteCounters>());  // requests that matched no route
  }

  Status Listen();
  void Run();
  void Stop();
  std::vector<RouteStats> Stats() const;

  // Called by sessions.
  const ServerOptions& options() const { return options_; }
  const Router& router() const { return router_; }
  bool stopping() const { return stopping_.load(std::memory_order_acquire); }
  const std::shared_ptr<Gate>& gate() const { return gate_; }
  void Record(size_t route_slot, int status, SteadyClock::duration elapsed);
  size_t unmatched_slot() const { return counters_.size() - 1; }
  void Unregister(Session* session);
  size_t open_connections() const {
    std::lock_guard lock(mu_);
    return sessions_.size();
  }
  uint16_t port() const { return port_; }
  std::string address() const { return address_; }

 private:
  void Accept();
  void OnAccept(const error_code& ec, tcp::socket socket);
  bool WaitForSessions(SteadyClock::time_point deadline);

  ServerOptions options_;
  Router router_;
  net::io_context ioc_;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work_;
  tcp::acceptor acceptor_;
  net::steady_timer accept_retry_;
  std::vector<std::thread> threads_;
  std::shared_ptr<Gate> gate_ = std::make_shared<Gate>();
  std::vector<std::unique_ptr<RouteCounters>> counters_;
  std::atomic<bool> stopping_{false};
  std::mutex stop_mu_;
  bool stopped_ = false;
  uint16_t port_ = 0;
  std::string address_;

  mutable std::mutex mu_;  // guards sessions_
  std::condition_variable sessions_changed_;
  std::unordered_map<Session*, std::shared_ptr<Session>> sessions_;
};

// ---- the event stream of one connection ----

// The application's handle on a stream. It holds no Asio object, so it may
// outlive its connection and the server; what it queues is written by its
// Session on the session's strand.
class SseStream : public EventStream {
 public:
  SseStream(std::weak_ptr<Session> session, std::shared_ptr<Gate> gate, size_t max_queued)
      : session_(std::move(session)), gate_(std::move(gate)), max_queued_(max_queued) {}

  bool Send(const SseEvent& event) override { return Enqueue(FormatSseEvent(event)); }
  bool SendComment(std::string_view text) override {
    return Enqueue(": " + OneLine(text) + "\n\n");
  }
  void Close() override {
    {
      std::lock_guard lock(mu_);
      if (closed_ || closing_) return;
      closing_ = true;
    }
    Kick();
  }
  bool closed() const override {
    std::lock_guard lock(mu_);
    return closed_ || closing_;
  }
  void OnClose(std::function<void()> callback) override {
    {
      std::lock_guard lock(mu_);
      if (!closed_) {
        on_close_.push_back(std::move(callback));
        return;
      }
    }
    callback();
  }

  // Session side (on its strand).
  std::string TakePending(bool* close_after) {
    std::lock_guard lock(mu_);
    flush_posted_ = false;
    *close_after = closing_;
    return std::exchange(pending_, std::string());
  }
  void MarkClosed() {
    std::vector<std::function<void()>> callbacks;
    {
      std::lock_guard lock(mu_);
      if (closed_) return;
      closed_ = true;
      pending_.clear();
      callbacks.swap(on_close_);
    }
    for (auto& c : callbacks) c();
  }

 private:
  bool Enqueue(const std::string& text);
  void Kick();  // has the session flush what is queued

  std::weak_ptr<Session> session_;
  std::shared_ptr<Gate> gate_;
  const size_t max_queued_;
  mutable std::mutex mu_;
  std::string pending_;
  bool flush_posted_ = false;
  bool closing_ = false;  // Close() or overflow: close once flushed
  bool closed_ = false;
  std::vector<std::function<void()>> on_close_;
};

// ---- one connection ----

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Server::Impl& server, tcp::socket socket)
      : server_(server),
        options_(server.options()),
        socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        heartbeat_(socket_.get_executor()) {
    error_code ec;
    const tcp::endpoint remote = socket_.remote_endpoint(ec);
    if (!ec) remote_ = remote.address().to_string() + ":" + std::to_string(remote.port());
    socket_.set_option(tcp::no_delay(true), ec);
  }

  net::any_io_executor executor() { return socket_.get_executor(); }
  void Start() { WaitForRequest(); }
  void OnServerStop();
  void Close();
  void Deliver(Response response);
  void FlushStream();

 private:
  enum class Phase { kIdle, kReading, kHandling, kWriting, kStreaming, kClosing, kClosed };

  void WaitForRequest();
  void ReadHeader();
  void OnHeader(const error_code& ec);
  void ReadBody();
  void OnReadError(const error_code& ec);
  void OnRequest();
  void Write(Response response, bool close_after);
  void OnWritten(const error_code& ec, bool keep_alive);
  void CloseAfterResponse();
  void Linger();
  void StartStream(Response response);
  void OnStreamOpen(const std::function<void(std::shared_ptr<EventStream>)>& on_open);
  void Heartbeat();
  void WatchForHangup();
  void ArmTimer(milliseconds after);
  void CancelTimer();
  void OnDeadline();
  void RecordResponse(int status);

  Server::Impl& server_;
  const ServerOptions& options_;
  tcp::socket socket_;
  net::steady_timer timer_;      // the deadline of what the connection waits for
  net::steady_timer heartbeat_;  // event streams only
  uint64_t timer_generation_ = 0;
  bool timed_out_ = false;
  Phase phase_ = Phase::kIdle;
  std::string remote_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bool keep_alive_ = true;
  size_t route_slot_ = 0;
  SteadyClock::time_point request_start_;
  // The thread running this session's handler while it runs (else none),
  // and the answer it gave before returning.
  std::atomic<std::thread::id> handler_thread_{};
  std::optional<Response> sync_response_;
  std::shared_ptr<SseStream> stream_;
  std::string stream_out_;  // being written
  bool stream_writing_ = false;
  std::array<char, 512> discard_{};
};

bool SseStream::Enqueue(const std::string& text) {
  bool overflow = false;
  {
    std::lock_guard lock(mu_);
    if (closed_ || closing_) return false;
    if (pending_.size() + text.size() > max_queued_) {
      // The client reads slower than events come: end the stream rather
      // than buffer without bound; it reconnects with Last-Event-ID.
      closing_ = true;
      overflow = true;
      pending_.clear();
    } else {
      pending_ += text;
      if (flush_posted_) return true;
    }
    flush_posted_ = true;
  }
  Kick();
  return !overflow;
}

void SseStream::Kick() {
  std::lock_guard lock(gate_->mu);
  if (!gate_->open) return;
  if (std::shared_ptr<Session> s = session_.lock()) {
    net::post(s->executor(), [s] { s->FlushStream(); });
  }
}

void Session::ArmTimer(milliseconds after) {
  timed_out_ = false;
  const uint64_t generation = ++timer_generation_;
  timer_.expires_after(after);
  timer_.async_wait([self = shared_from_this(), generation](const error_code& ec) {
    if (ec || generation != self->timer_generation_) return;
    self->OnDeadline();
  });
}

void Session::CancelTimer() {
  ++timer_generation_;
  timer_.cancel();
}

void Session::OnDeadline() {
  switch (phase_) {
    case Phase::kReading: {
      // A request begun and not finished in time: cancel the read; its
      // handler answers 408.
      timed_out_ = true;
      error_code ignored;
      socket_.cancel(ignored);
      break;
    }
    case Phase::kHandling:  // no deadline on handlers
      break;
    default:  // idle too long, a client that does not read, lingering done
      Close();
      break;
  }
}

void Session::WaitForRequest() {
  phase_ = Phase::kIdle;
  if (server_.stopping()) return Close();
  if (buffer_.size() > 0) return ReadHeader();  // a pipelined request
  ArmTimer(options_.idle_timeout);
  socket_.async_read_some(buffer_.prepare(4096),
                          [self = shared_from_this()](const error_code& ec, size_t n) {
                            if (self->phase_ != Phase::kIdle) return;
                            self->buffer_.commit(n);
                            if (ec) return self->Close();
                            self->ReadHeader();
                          });
}

void Session::ReadHeader() {
  phase_ = Phase::kReading;
  request_start_ = SteadyClock::now();
  route_slot_ = server_.unmatched_slot();
  parser_.emplace();
  parser_->header_limit(
      static_cast<uint32_t>(std::min<size_t>(options_.max_header_bytes, UINT32_MAX)));
  parser_->body_limit(options_.max_body_bytes);
  ArmTimer(options_.header_timeout);
  bhttp::async_read_header(
      socket_, buffer_, *parser_,
      [self = shared_from_this()](const error_code& ec, size_t) { self->OnHeader(ec); });
}

void Session::OnHeader(const error_code& ec) {
  if (phase_ != Phase::kReading) return;
  if (ec) return OnReadError(ec);
  if (parser_->is_done()) return OnRequest();
  const auto& req = parser_->get();
  auto expect = req.find(bhttp::field::expect);
  if (expect != req.end() && EqualsIgnoreCase(expect->value(), "100-continue")) {
    // The client waits for this before it sends its body (curl does, for
    // bodies over 1 KiB); the length was already checked against the limit.
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    ArmTimer(options_.body_timeout);
    net::async_write(socket_, net::buffer(kContinue.data(), kContinue.size()),
                     [self = shared_from_this()](const error_code& ec, size_t) {
                       if (self->phase_ != Phase::kReading) return;
                       if (ec) return self->Close();
                       self->ReadBody();
                     });
    return;
  }
  ReadBody();
}

void Session::ReadBody() {
  ArmTimer(options_.body_timeout);
  bhttp::async_read(socket_, buffer_, *parser_,
                    [self = shared_from_this()](const error_code& ec, size_t) {
                      if (self->phase_ != Phase::kReading) return;
                      if (ec) return self->OnReadError(ec);
                      self->OnRequest();
                    });
}

void Session::OnReadError(const error_code& ec) {
  CancelTimer();
  phase_ = Phase::kHandling;
  keep_alive_ = false;
  if (timed_out_) {
    return Write(Response::Error(ApiError{408,
                                          std::string(code::kRequestTimeout),
                                          "the request did not arrive in time",
                                          std::nullopt,
                                          {}}),
                 true);
  }
  if (ec == bhttp::error::body_limit) {
    return Write(Response::Error(ApiError{413,
                                          std::string(code::kBodyTooLarge),
                                          "the request body is larger than the limit of " +
                                              std::to_string(options_.max_body_bytes) + " bytes",
                                          std::nullopt,
                                          {}}),
                 true);
  }
  if (ec == bhttp::error::header_limit) {
    return Write(Response::Error(ApiError{431,
                                          std::string(code::kHeadersTooLarge),
                                          "the request headers are larger than the limit of " +
                                              std::to_string(options_.max_header_bytes) + " bytes",
                                          std::nullopt,
                                          {}}),
                 true);
  }
  if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
      ec == net::error::eof || ec == net::error::connection_reset ||
      ec == net::error::operation_aborted || ec == net::error::broken_pipe) {
    return Close();  // the client left (or the server is stopping)
  }
  Write(Response::Error(BadRequest(code::kBadRequest, "malformed HTTP request: " + ec.message())),
        true);
}

void Session::OnRequest() {
  CancelTimer();
  phase_ = Phase::kHandling;
  bhttp::request<bhttp::string_body> message = parser_->release();
  parser_.reset();
  keep_alive_ = message.keep_alive();

  Request request;
  request.method = std::string(message.method_string());
  request.target = std::string(message.target());
  request.remote = remote_;
  for (const auto& field : message) {
    request.headers.Add(std::string(field.name_string()), std::string(field.value()));
  }
  request.bearer_token = BearerToken(request.headers);
  request.body = std::move(message.body());
  const size_t question = request.target.find('?');
  request.path = request.target.substr(0, question);
  if (question != std::string::npos) {
    ApiResult<StringMap> query =
        ParseQueryString(std::string_view(request.target).substr(question + 1));
    if (!query.ok()) return Write(Response::Error(query.error()), false);
    request.query = std::move(*query);
  }
  RouteMatch match = server_.router().Match(request.method, request.path);
  if (match.route == nullptr) return Write(Response::Error(*match.error), false);
  route_slot_ = match.route->index;
  request.route = match.route->pattern;
  request.params = std::move(match.params);

  Reply reply([weak = weak_from_this(), gate = server_.gate()](Response response) {
    std::lock_guard lock(gate->mu);
    if (!gate->open) return;
    if (std::shared_ptr<Session> s = weak.lock()) {
      if (s->handler_thread_.load(std::memory_order_acquire) == std::this_thread::get_id()) {
        // Answered inside the handler, on the session's own strand (every
        // sync handler): delivered when it returns, without a trip through
        // the io_context's queue.
        s->sync_response_ = std::move(response);
        return;
      }
      net::post(s->executor(),
                [s, response = std::move(response)]() mutable { s->Deliver(std::move(response)); });
    }
  });
  handler_thread_.store(std::this_thread::get_id(), std::memory_order_release);
  try {
    match.route->handler(std::move(request), reply);
  } catch (const std::exception& e) {
    reply(Response::Error(InternalError(std::string("the handler failed: ") + e.what())));
  } catch (...) {
    reply(Response::Error(InternalError("the handler failed")));
  }
  handler_thread_.store(std::thread::id(), std::memory_order_release);
  if (sync_response_) {
    Response response = std::move(*sync_response_);
    sync_response_.reset();
    Deliver(std::move(response));
  }
}

void Session::Deliver(Response response) {
  if (phase_ != Phase::kHandling) return;  // the connection closed meanwhile
  if (response.on_stream_open) return StartStream(std::move(response));
  Write(std::move(response), false);
}

void Session::Write(Response response, bool close_after) {
  phase_ = Phase::kWriting;
  const int status = response.status >= 100 && response.status <= 599 ? response.status : 500;
  auto message =
      std::make_shared<bhttp::response<bhttp::string_body>>(static_cast<bhttp::status>(status), 11);
  message->set(bhttp::field::server, "polycloud");
  if (!response.content_type.empty()) {
    message->set(bhttp::field::content_type, HeaderSafe(response.content_type));
  }
  AddHeaders(response.headers, *message);
  message->body() = std::move(response.body);
  message->keep_alive(keep_alive_ && !close_after && !server_.stopping());
  message->prepare_payload();
  // Counted before the write, so a client that has its answer also finds it
  // counted (a test's or a scraper's next request).
  RecordResponse(status);
  ArmTimer(options_.write_timeout);
  bhttp::async_write(socket_, *message,
                     [self = shared_from_this(), message](const error_code& ec, size_t) {
                       if (self->phase_ != Phase::kWriting) return;
                       self->OnWritten(ec, message->keep_alive());
                     });
}

void Session::RecordResponse(int status) {
  server_.Record(route_slot_, status, SteadyClock::now() - request_start_);
}

void Session::OnWritten(const error_code& ec, bool keep_alive) {
  CancelTimer();
  if (ec) return Close();
  if (!keep_alive || server_.stopping()) return CloseAfterResponse();
  WaitForRequest();
}

void Session::CloseAfterResponse() {
  phase_ = Phase::kClosing;
  error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_send, ignored);
  ArmTimer(kLingerTime);
  Linger();
}

void Session::Linger() {
  socket_.async_read_some(net::buffer(discard_),
                          [self = shared_from_this()](const error_code& ec, size_t) {
                            if (self->phase_ != Phase::kClosing) return;
                            if (ec) return self->Close();
                            self->Linger();
                          });
}

void Session::StartStream(Response response) {
  phase_ = Phase::kStreaming;
  auto message = std::make_shared<bhttp::response<bhttp::empty_body>>(bhttp::status::ok, 11);
  message->set(bhttp::field::server, "polycloud");
  message->set(bhttp::field::content_type, "text/event-stream");
  message->set(bhttp::field::cache_control, "no-cache");
  message->set("X-Accel-Buffering", "no");  // proxies must not buffer a stream
  AddHeaders(response.headers, *message);
  // The body runs until the connection closes: no length, no keep-alive.
  message->keep_alive(false);
  auto serializer = std::make_shared<bhttp::response_serializer<bhttp::empty_body>>(*message);
  RecordResponse(200);
  ArmTimer(options_.write_timeout);
  bhttp::async_write_header(
      socket_, *serializer,
      [self = shared_from_this(), message, serializer,
       on_open = std::move(response.on_stream_open)](const error_code& ec, size_t) mutable {
        if (self->phase_ != Phase::kStreaming) return;
        self->CancelTimer();
        if (ec) return self->Close();
        self->OnStreamOpen(on_open);
      });
}

void Session::OnStreamOpen(const std::function<void(std::shared_ptr<EventStream>)>& on_open) {
  stream_ =
      std::make_shared<SseStream>(weak_from_this(), server_.gate(), options_.sse_max_queued_bytes);
  WatchForHangup();
  Heartbeat();
  try {
    on_open(stream_);
  } catch (...) {
    // The stream is already open: all that can be done is to end it.
    stream_->Close();
  }
}

void Session::WatchForHangup() {
  // Nothing is expected from the client of a stream; a read that completes
  // with an error is its disconnect, noticed even when no event is flowing.
  socket_.async_read_some(net::buffer(discard_),
                          [self = shared_from_this()](const error_code& ec, size_t) {
                            if (self->phase_ != Phase::kStreaming) return;
                            if (ec) return self->Close();
                            self->WatchForHangup();
                          });
}

void Session::Heartbeat() {
  heartbeat_.expires_after(options_.sse_heartbeat);
  heartbeat_.async_wait([self = shared_from_this()](const error_code& ec) {
    if (ec || self->phase_ != Phase::kStreaming) return;
    self->stream_->SendComment("ping");
    self->Heartbeat();
  });
}

void Session::FlushStream() {
  if (phase_ != Phase::kStreaming || stream_writing_) return;
  bool close_after = false;
  stream_out_ = stream_->TakePending(&close_after);
  if (stream_out_.empty()) {
    // Everything queued is written and the client sends nothing: closing
    // now loses nothing.
    if (close_after) Close();
    return;
  }
  stream_writing_ = true;
  ArmTimer(options_.write_timeout);
  net::async_write(socket_, net::buffer(stream_out_),
                   [self = shared_from_this()](const error_code& ec, size_t) {
                     self->stream_writing_ = false;
                     if (self->phase_ != Phase::kStreaming) return;
                     self->CancelTimer();
                     if (ec) return self->Close();
                     self->FlushStream();
                   });
}

void Session::OnServerStop() {
  switch (phase_) {
    case Phase::kIdle:
    case Phase::kReading:  // not yet a request: the client may send it again
    case Phase::kStreaming:
      Close();
      break;
    default:  // handling or writing: the response goes out with Connection: close
      break;
  }
}

void Session::Close() {
  if (phase_ == Phase::kClosed) return;
  phase_ = Phase::kClosed;
  CancelTimer();
  heartbeat_.cancel();
  error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  if (stream_) stream_->MarkClosed();
  server_.Unregister(this);
}

// ---- the server ----

Status Server::Impl::Listen() {
  if (options_.threads < 1) return InvalidArgument("the server needs at least 1 thread");
  error_code ec;
  const net::ip::address ip = net::ip::make_address(options_.host, ec);
  if (ec) return InvalidArgument("not an IP address to listen on: \"" + options_.host + "\"");
  const tcp::endpoint endpoint(ip, options_.port);
  const std::string where = (ip.is_v6() ? "[" + options_.host + "]" : options_.host) + ":" +
                            std::to_string(options_.port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return IoError("cannot listen on " + where + ": " + ec.message());
  port_ = acceptor_.local_endpoint().port();
  address_ = (ip.is_v6() ? "[" + options_.host + "]" : options_.host) + ":" + std::to_string(port_);
  return Status::Ok();
}

void Server::Impl::Run() {
  work_.emplace(ioc_.get_executor());
  net::post(acceptor_.get_executor(), [this] { Accept(); });
  for (int i = 0; i < options_.threads; ++i) threads_.emplace_back([this] { ioc_.run(); });
}

void Server::Impl::Accept() {
  acceptor_.async_accept(net::make_strand(ioc_), [this](const error_code& ec, tcp::socket socket) {
    OnAccept(ec, std::move(socket));
  });
}

void Server::Impl::OnAccept(const error_code& ec, tcp::socket socket) {
  if (!acceptor_.is_open() || stopping()) return;  // the socket closes as it goes
  if (ec) {
    // Out of file descriptors and the like: try again shortly rather than spin.
    accept_retry_.expires_after(milliseconds(50));
    accept_retry_.async_wait([this](const error_code& wait_ec) {
      if (!wait_ec) Accept();
    });
    return;
  }
  std::shared_ptr<Session> session;
  {
    std::lock_guard lock(mu_);
    if (sessions_.size() < options_.max_connections) {
      session = std::make_shared<Session>(*this, std::move(socket));
      sessions_.emplace(session.get(), session);
    }
  }
  if (session) net::dispatch(session->executor(), [session] { session->Start(); });
  Accept();
}

void Server::Impl::Unregister(Session* session) {
  std::shared_ptr<Session> keep;  // destroyed outside the lock
  {
    std::lock_guard lock(mu_);
    auto it = sessions_.find(session);
    if (it == sessions_.end()) return;
    keep = std::move(it->second);
    sessions_.erase(it);
  }
  sessions_changed_.notify_all();
}

void Server::Impl::Record(size_t route_slot, int status, SteadyClock::duration elapsed) {
  RouteCounters& c = *counters_[route_slot];
  c.by_status[static_cast<size_t>(status)].fetch_add(1, std::memory_order_relaxed);
  c.latency.Observe(std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed));
}

std::vector<RouteStats> Server::Impl::Stats() const {
  std::vector<RouteStats> out;
  for (const auto& c : counters_) {
    RouteStats s;
    s.method = c->method;
    s.route = c->route;
    for (size_t status = 0; status < c->by_status.size(); ++status) {
      const uint64_t n = c->by_status[status].load(std::memory_order_relaxed);
      if (n > 0) s.responses.emplace_back(static_cast<int>(status), n);
    }
    s.latency = c->latency.Snapshot();
    out.push_back(std::move(s));
  }
  return out;
}

bool Server::Impl::WaitForSessions(SteadyClock::time_point deadline) {
  std::unique_lock lock(mu_);
  return sessions_changed_.wait_until(lock, deadline, [this] { return sessions_.empty(); });
}

void Server::Impl::Stop() {
  {
    std::lock_guard lock(stop_mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  for (const std::thread& t : threads_) POLYCLOUD_CHECK(t.get_id() != std::this_thread::get_id());
  stopping_.store(true, std::memory_order_release);
  net::post(acceptor_.get_executor(), [this] {
    error_code ignored;
    acceptor_.close(ignored);
    accept_retry_.cancel();
  });
  auto each_session = [this](auto action) {
    std::vector<std::shared_ptr<Session>> all;
    {
      std::lock_guard lock(mu_);
      for (const auto& [raw, s] : sessions_) all.push_back(s);
    }
    for (const auto& s : all) net::post(s->executor(), [s, action] { action(*s); });
  };
  // Idle connections and streams close now; requests in flight finish.
  each_session([](Session& s) { s.OnServerStop(); });
  if (!WaitForSessions(SteadyClock::now() + options_.stop_grace)) {
    each_session([](Session& s) { s.Close(); });
    // A Close queued behind a handler that is still running waits for it.
    WaitForSessions(SteadyClock::now() + std::chrono::seconds(1));
  }
  work_.reset();
  ioc_.stop();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  {
    std::lock_guard lock(gate_->mu);
    gate_->open = false;
  }
  std::unordered_map<Session*, std::shared_ptr<Session>> remaining;
  {
    std::lock_guard lock(mu_);
    remaining.swap(sessions_);
  }
}

// ---- Server ----

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() {
  try {
    Stop();
  } catch (const std::exception& e) {  // a thread that cannot be joined: nothing left to do
    std::cerr << "http::Server: stopping failed: " << e.what() << "\n";
    std::abort();
  }
}

Result<std::unique_ptr<Server>> Server::Start(const ServerOptions& options, Router router) {
  auto impl = std::make_unique<Impl>(options, std::move(router));
  POLYCLOUD_RETURN_IF_ERROR(impl->Listen());
  impl->Run();
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

uint16_t Server::port() const { return impl_->port(); }
std::string Server::address() const { return impl_->address(); }
void Server::Stop() { impl_->Stop(); }
std::vector<RouteStats> Server::Stats() const { return impl_->Stats(); }
size_t Server::open_connections() const { return impl_->open_connections(); }

}  // namespace polycloud::http
