#include "polycloud/gateway/upstream.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

namespace polycloud::gateway {
namespace {

namespace net = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;
using SteadyClock = std::chrono::steady_clock;

// A kept-alive connection to one upstream, with the I/O context its
// blocking calls run on.
struct Connection {
  net::io_context ioc;
  tcp::socket socket{ioc};
};

// Idle kept-alive connections per upstream ("host:port"), so that a request
// does not pay a TCP connect (and the upstream an accept) each time.
class ConnectionPool {
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
    std::vector<std::unique_ptr<Connection>>& list = idle_[where];
    if (list.size() < kMaxIdlePerUpstream) list.push_back(std::move(c));
  }

 private:
  std::mutex mu_;
  std::unordered_map<std::string, std::vector<std::unique_ptr<Connection>>> idle_;
};

ConnectionPool& Pool() {
  static ConnectionPool* pool = new ConnectionPool();  // never destroyed: calls may outlive statics
  return *pool;
}

class BeastCall final : public UpstreamCall {
 public:
  explicit BeastCall(const UpstreamRequest& r)
      : where_(r.host + ":" + std::to_string(r.port)), timeout_(r.timeout) {
    ResetParser();
  }
  ~BeastCall() override {
    // Back to the pool only after a whole answer that keeps the connection.
    if (conn_ != nullptr && !broken_ && parser_->is_done() && parser_->keep_alive() &&
        buffer_.size() == 0 && conn_->socket.is_open()) {
      Pool().Give(where_, std::move(conn_));
    }
  }

  Status Open(const UpstreamRequest& r) {
    const SteadyClock::time_point deadline = SteadyClock::now() + timeout_;
    // A pooled connection the upstream has closed meanwhile fails before an
    // answer starts: then the request goes again on a new connection.
    if (std::unique_ptr<Connection> pooled = Pool().Take(where_)) {
      conn_ = std::move(pooled);
      bool stale = false;
      Status sent = Exchange(r, deadline, &stale);
      if (sent.ok() || !stale) return sent;
      conn_.reset();
      buffer_.clear();
      ResetParser();
      headers_ = http::Headers();
      broken_ = false;
    }
    conn_ = std::make_unique<Connection>();
    error_code ec;
    tcp::resolver resolver(conn_->ioc);
    const auto endpoints = resolver.resolve(r.host, std::to_string(r.port), ec);
    if (ec) return IoError("cannot resolve " + r.host + ": " + ec.message());
    bool done = false;
    net::async_connect(conn_->socket, endpoints, [&](const error_code& e, const tcp::endpoint&) {
      ec = e;
      done = true;
    });
    if (!RunUntil(done, deadline)) return TimedOut();
    if (ec) {
      broken_ = true;
      return IoError("cannot connect to " + where_ + ": " + ec.message());
    }
    conn_->socket.set_option(tcp::no_delay(true), ec);
    return Exchange(r, deadline, nullptr);
  }

  // Sends the request and reads the answer's status and headers. `stale`
  // (for a pooled connection): set when it failed before any byte of an
  // answer, so that a new connection may try again.
  Status Exchange(const UpstreamRequest& r, SteadyClock::time_point deadline, bool* stale) {
    error_code ec;
    bool done = false;

    bhttp::request<bhttp::string_body> message(
        bhttp::string_to_verb(r.method) == bhttp::verb::unknown ? bhttp::verb::post
                                                                : bhttp::string_to_verb(r.method),
        r.target, 11);
    message.set(bhttp::field::host, where_);
    message.set(bhttp::field::user_agent, "polycloud-gateway");
    if (!r.body.empty()) message.set(bhttp::field::content_type, "application/json");
    for (const http::Header& h : r.headers) message.set(h.name, h.value);
    message.keep_alive(true);
    message.body() = r.body;
    message.prepare_payload();
    done = false;
    bhttp::async_write(conn_->socket, message, [&](const error_code& e, size_t) {
      ec = e;
      done = true;
    });
    if (!RunUntil(done, deadline)) return TimedOut();
    if (ec) {
      broken_ = true;
      if (stale != nullptr) *stale = true;
      return IoError("cannot send to " + where_ + ": " + ec.message());
    }

    done = false;
    bhttp::async_read_header(conn_->socket, buffer_, *parser_, [&](const error_code& e, size_t) {
      ec = e;
      done = true;
    });
    if (!RunUntil(done, deadline)) return TimedOut();
    if (ec) {
      broken_ = true;
      // Closed by the upstream before answering: a pooled connection it had let go.
      if (stale != nullptr && buffer_.size() == 0 &&
          (ec == bhttp::error::end_of_stream || ec == net::error::eof ||
           ec == net::error::connection_reset || ec == net::error::broken_pipe)) {
        *stale = true;
      }
      return IoError(where_ + " answered no HTTP response: " + ec.message());
    }
    for (const auto& field : parser_->get()) {
      headers_.Add(std::string(field.name_string()), std::string(field.value()));
    }
    return Status::Ok();
  }

  int status() const override { return static_cast<int>(parser_->get().result_int()); }
  const http::Headers& headers() const override { return headers_; }

  Result<std::optional<std::string>> ReadSome() override {
    const SteadyClock::time_point deadline = SteadyClock::now() + timeout_;
    while (!parser_->is_done()) {
      parser_->get().body().data = chunk_;
      parser_->get().body().size = sizeof chunk_;
      error_code ec;
      bool done = false;
      bhttp::async_read_some(conn_->socket, buffer_, *parser_, [&](const error_code& e, size_t) {
        ec = e;
        done = true;
      });
      if (!RunUntil(done, deadline)) return TimedOut();
      if (ec == bhttp::error::need_buffer) ec = {};
      if (ec) {
        broken_ = true;
        return IoError("the answer from " + where_ + " broke off: " + ec.message());
      }
      const size_t n = sizeof chunk_ - parser_->get().body().size;
      if (n > 0) return std::optional<std::string>(std::string(chunk_, n));
    }
    return std::optional<std::string>();
  }

  Result<std::string> ReadAll(size_t max_bytes) override {
    std::string out;
    while (true) {
      Result<std::optional<std::string>> piece = ReadSome();
      if (!piece.ok()) return piece.status();
      if (!*piece) return out;
      out += **piece;
      if (out.size() > max_bytes) {
        return IoError("the answer from " + where_ + " is larger than " +
                       std::to_string(max_bytes) + " bytes");
      }
    }
  }

 private:
  // Runs the context until `done` or `deadline`; on the deadline closes the
  // socket (completing the operation with an error) and returns false.
  bool RunUntil(const bool& done, SteadyClock::time_point deadline) {
    net::io_context& ioc = conn_->ioc;
    ioc.restart();
    while (!done && SteadyClock::now() < deadline) {
      if (ioc.run_one_until(deadline) == 0 && ioc.stopped()) break;
    }
    if (done) return true;
    broken_ = true;
    error_code ignored;
    conn_->socket.close(ignored);
    ioc.restart();
    while (!done && ioc.run_one() > 0) {
    }
    return false;
  }
  void ResetParser() {
    parser_.emplace();
    parser_->body_limit(boost::none);  // the caller bounds what it keeps
  }
  Status TimedOut() const {
    return IoError("request to " + where_ + " timed out after " + std::to_string(timeout_.count()) +
                   " ms");
  }

  std::string where_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<Connection> conn_;
  bool broken_ = false;  // the connection must not be used again
  boost::beast::flat_buffer buffer_;
  std::optional<bhttp::response_parser<bhttp::buffer_body>> parser_;
  http::Headers headers_;
  char chunk_[16 << 10];
};

}  // namespace

Result<std::unique_ptr<UpstreamCall>> UpstreamCall::Start(const UpstreamRequest& request) {
  auto call = std::make_unique<BeastCall>(request);
  if (Status s = call->Open(request); !s.ok()) return s;
  return std::unique_ptr<UpstreamCall>(std::move(call));
}

}  // namespace polycloud::gateway
