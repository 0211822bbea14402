#include "polycloud/gateway/upstream.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <mutex>
#include <unordered_map>

namespace polycloud::gateway {

namespace net = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

namespace {

// A kept-alive connection to one upstream. Its strand serialises everything
// done on it (the call's reads and writes, and the timer that cuts them off).
struct Connection {
  explicit Connection(net::io_context& ioc)
      : strand(net::make_strand(ioc)), socket(strand), timer(strand) {}
  net::strand<net::io_context::executor_type> strand;
  tcp::socket socket;
  net::steady_timer timer;
};

}  // namespace

// Idle kept-alive connections per upstream ("host:port"), so that a request
// does not pay a TCP connect (and the upstream an accept) each time.
class UpstreamClient::Pool {
 public:
  static constexpr size_t kMaxIdlePerUpstream = 256;
  std::unique_ptr<Connection> Take(const std::string& where) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = idle_.find(where);
    if (it == idle_.end() || it->second.empty()) return nullptr;
    std::unique_ptr<Connection> c = std::move(it->second.back());
    it->second.pop_back();
    return c;
  }
  void Give(const std::string& where, std::unique_ptr<Connection> c) {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;  // the client is going: c closes here
    std::vector<std::unique_ptr<Connection>>& list = idle_[where];
    if (list.size() < kMaxIdlePerUpstream) list.push_back(std::move(c));
  }
  // Closes the idle connections and keeps no more (before the io_context goes).
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    idle_.clear();
  }
  size_t idle() const {
    std::lock_guard<std::mutex> lock(mu_);
    size_t n = 0;
    for (const auto& [where, list] : idle_) n += list.size();
    return n;
  }

 private:
  mutable std::mutex mu_;
  bool closed_ = false;
  std::unordered_map<std::string, std::vector<std::unique_ptr<Connection>>> idle_;
};

namespace {

class AsyncCall final : public UpstreamClient::Call,
                        public std::enable_shared_from_this<AsyncCall> {
 public:
  AsyncCall(net::io_context& ioc, std::shared_ptr<UpstreamClient::Pool> pool, UpstreamRequest r)
      : ioc_(ioc),
        pool_(std::move(pool)),
        request_(std::move(r)),
        where_(request_.host + ":" + std::to_string(request_.port)) {
    ResetParser();
    const bhttp::verb verb = bhttp::string_to_verb(request_.method);
    message_.method(verb == bhttp::verb::unknown ? bhttp::verb::post : verb);
    message_.target(request_.target);
    message_.version(11);
    message_.set(bhttp::field::host, where_);
    message_.set(bhttp::field::user_agent, "polycloud-gateway");
    if (!request_.body.empty()) message_.set(bhttp::field::content_type, "application/json");
    for (const http::Header& h : request_.headers) message_.set(h.name, h.value);
    message_.keep_alive(true);
    message_.body() = std::move(request_.body);
    message_.prepare_payload();
  }
  ~AsyncCall() override { ReleaseToPool(); }

  // Back to the pool only after a whole answer that keeps the connection —
  // as soon as it is read, so that the next request can take it.
  void ReleaseToPool() {
    if (conn_ != nullptr && !broken_ && parser_->is_done() && parser_->keep_alive() &&
        buffer_.size() == 0 && conn_->socket.is_open()) {
      pool_->Give(where_, std::move(conn_));
    }
  }

  void Begin(UpstreamClient::Opened opened) {
    opened_ = std::move(opened);
    if (std::unique_ptr<Connection> pooled = pool_->Take(where_)) {
      conn_ = std::move(pooled);
      strand_ = conn_->strand;
      pooled_ = true;
      net::dispatch(conn_->strand, [self = shared_from_this()] { self->Send(); });
      return;
    }
    Connect();
  }

  int status() const override { return static_cast<int>(parser_->get().result_int()); }
  const http::Headers& headers() const override { return headers_; }

  void ReadSome(std::function<void(Result<std::optional<std::string>>)> done) override {
    if (conn_ == nullptr) return done(std::optional<std::string>());  // read whole, pooled
    net::dispatch(conn_->strand, [self = shared_from_this(), done = std::move(done)]() mutable {
      self->DoReadSome(std::move(done));
    });
  }

  void ReadAll(size_t max_bytes, std::function<void(Result<std::string>)> done) override {
    if (conn_ == nullptr) return done(std::string());  // read whole, pooled
    net::dispatch(conn_->strand,
                  [self = shared_from_this(), max_bytes, done = std::move(done)]() mutable {
                    self->ReadAllStep(max_bytes, std::make_shared<std::string>(), std::move(done));
                  });
  }

  void Cancel() override {
    if (!strand_) return;  // never connected
    net::post(*strand_, [self = shared_from_this()] {
      if (self->conn_ == nullptr) return;  // read whole and pooled
      self->broken_ = true;
      error_code ignored;
      self->conn_->socket.close(ignored);
    });
  }

 private:
  // A new connection: resolve (unless the host is an address), connect, send.
  void Connect() {
    conn_ = std::make_unique<Connection>(ioc_);
    strand_ = conn_->strand;
    pooled_ = false;
    net::dispatch(conn_->strand, [self = shared_from_this()] {
      error_code ec;
      const net::ip::address address = net::ip::make_address(self->request_.host, ec);
      self->Arm();
      if (!ec) {
        self->conn_->socket.async_connect(tcp::endpoint(address, self->request_.port),
                                          [self](const error_code& e) { self->Connected(e); });
        return;
      }
      self->resolver_.emplace(self->conn_->strand);
      self->resolver_->async_resolve(
          self->request_.host, std::to_string(self->request_.port),
          [self](const error_code& e, const tcp::resolver::results_type& results) {
            if (e) {
              self->Disarm();
              self->broken_ = true;
              return self->Fail(self->timed_out_ ? self->TimedOut()
                                                 : IoError("cannot resolve " + self->request_.host +
                                                           ": " + e.message()));
            }
            net::async_connect(
                self->conn_->socket, results,
                [self](const error_code& e2, const tcp::endpoint&) { self->Connected(e2); });
          });
    });
  }

  void Connected(const error_code& ec) {
    if (ec) {
      Disarm();
      broken_ = true;
      return Fail(timed_out_ ? TimedOut()
                             : IoError("cannot connect to " + where_ + ": " + ec.message()));
    }
    error_code ignored;
    conn_->socket.set_option(tcp::no_delay(true), ignored);
    Send();
  }

  // Sends the request and reads the answer's status and headers. A pooled
  // connection that fails before any byte of an answer is one the upstream
  // let go while it was idle: the request goes again on a new connection.
  void Send() {
    Arm();
    bhttp::async_write(
        conn_->socket, message_, [self = shared_from_this()](const error_code& ec, size_t) {
          if (ec) {
            self->Disarm();
            self->broken_ = true;
            if (self->pooled_ && !self->timed_out_) return self->Retry();
            return self->Fail(
                self->timed_out_ ? self->TimedOut()
                                 : IoError("cannot send to " + self->where_ + ": " + ec.message()));
          }
          self->ReadHeader();
        });
  }

  void ReadHeader() {
    bhttp::async_read_header(
        conn_->socket, buffer_, *parser_,
        [self = shared_from_this()](const error_code& ec, size_t) {
          self->Disarm();
          if (ec) {
            self->broken_ = true;
            if (self->pooled_ && !self->timed_out_ && self->buffer_.size() == 0 &&
                (ec == bhttp::error::end_of_stream || ec == net::error::eof ||
                 ec == net::error::connection_reset || ec == net::error::broken_pipe)) {
              return self->Retry();
            }
            return self->Fail(
                self->timed_out_
                    ? self->TimedOut()
                    : IoError(self->where_ + " answered no HTTP response: " + ec.message()));
          }
          for (const auto& field : self->parser_->get()) {
            self->headers_.Add(std::string(field.name_string()), std::string(field.value()));
          }
          UpstreamClient::Opened opened = std::move(self->opened_);
          opened(Status::Ok(), self);
        });
  }

  void Retry() {
    conn_.reset();
    buffer_.clear();
    ResetParser();
    headers_ = http::Headers();
    broken_ = false;
    Connect();
  }

  void Fail(Status status) {
    UpstreamClient::Opened opened = std::move(opened_);
    opened(std::move(status), nullptr);
  }

  void DoReadSome(std::function<void(Result<std::optional<std::string>>)> done) {
    if (broken_) return done(IoError("the answer from " + where_ + " broke off: cancelled"));
    if (parser_->is_done()) {
      ReleaseToPool();
      return done(std::optional<std::string>());
    }
    if (chunk_ == nullptr) chunk_ = std::make_unique<char[]>(kChunk);
    parser_->get().body().data = chunk_.get();
    parser_->get().body().size = kChunk;
    Arm();
    bhttp::async_read_some(
        conn_->socket, buffer_, *parser_,
        [self = shared_from_this(), done = std::move(done)](error_code ec, size_t) mutable {
          if (ec == bhttp::error::need_buffer) ec = {};
          if (ec) {
            self->Disarm();
            self->broken_ = true;
            return done(self->timed_out_ ? self->TimedOut()
                                         : IoError("the answer from " + self->where_ +
                                                   " broke off: " + ec.message()));
          }
          const size_t n = kChunk - self->parser_->get().body().size;
          if (n > 0) {
            self->Disarm();
            return done(std::optional<std::string>(std::string(self->chunk_.get(), n)));
          }
          if (self->parser_->is_done()) {
            self->Disarm();
            self->ReleaseToPool();
            return done(std::optional<std::string>());
          }
          self->DoReadSome(std::move(done));
        });
  }

  void ReadAllStep(size_t max_bytes, std::shared_ptr<std::string> out,
                   std::function<void(Result<std::string>)> done) {
    DoReadSome([self = shared_from_this(), max_bytes, out,
                done = std::move(done)](Result<std::optional<std::string>> piece) mutable {
      if (!piece.ok()) return done(piece.status());
      if (!*piece) return done(std::move(*out));
      *out += **piece;
      if (out->size() > max_bytes) {
        self->broken_ = true;
        return done(IoError("the answer from " + self->where_ + " is larger than " +
                            std::to_string(max_bytes) + " bytes"));
      }
      self->ReadAllStep(max_bytes, std::move(out), std::move(done));
    });
  }

  // The deadline of the operation about to start: on it, the socket closes,
  // which ends the operation with an error (reported as a timeout).
  void Arm() {
    const uint64_t generation = ++generation_;
    conn_->timer.expires_after(request_.timeout);
    conn_->timer.async_wait([self = shared_from_this(), generation](const error_code& ec) {
      if (ec || generation != self->generation_ || self->conn_ == nullptr) return;
      self->timed_out_ = true;
      self->broken_ = true;
      error_code ignored;
      self->conn_->socket.close(ignored);
    });
  }
  void Disarm() {
    ++generation_;
    conn_->timer.cancel();
  }
  void ResetParser() {
    parser_.emplace();
    parser_->body_limit(boost::none);  // the caller bounds what it keeps
  }
  Status TimedOut() const {
    return IoError("request to " + where_ + " timed out after " +
                   std::to_string(request_.timeout.count()) + " ms");
  }

  static constexpr size_t kChunk = 16 << 10;
  net::io_context& ioc_;
  std::shared_ptr<UpstreamClient::Pool> pool_;
  UpstreamRequest request_;
  std::string where_;
  bhttp::request<bhttp::string_body> message_;
  UpstreamClient::Opened opened_;
  std::unique_ptr<Connection> conn_;
  // conn_'s strand, kept when conn_ goes back to the pool (for Cancel).
  std::optional<net::strand<net::io_context::executor_type>> strand_;
  std::optional<tcp::resolver> resolver_;
  bool pooled_ = false;     // conn_ came from the pool
  bool broken_ = false;     // the connection must not be used again
  bool timed_out_ = false;  // the deadline closed it
  uint64_t generation_ = 0;
  boost::beast::flat_buffer buffer_;
  std::optional<bhttp::response_parser<bhttp::buffer_body>> parser_;
  http::Headers headers_;
  std::unique_ptr<char[]> chunk_;
};

}  // namespace

UpstreamClient::UpstreamClient(net::io_context& ioc) : ioc_(ioc), pool_(std::make_shared<Pool>()) {}

UpstreamClient::~UpstreamClient() { pool_->Close(); }

void UpstreamClient::Start(UpstreamRequest request, Opened opened) {
  auto call = std::make_shared<AsyncCall>(ioc_, pool_, std::move(request));
  call->Begin(std::move(opened));
}

size_t UpstreamClient::idle_connections() const { return pool_->idle(); }

}  // namespace polycloud::gateway
