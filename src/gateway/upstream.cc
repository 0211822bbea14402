#include "polycloud/gateway/upstream.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

namespace polycloud::gateway {
namespace {

namespace net = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;
using SteadyClock = std::chrono::steady_clock;

class BeastCall final : public UpstreamCall {
 public:
  explicit BeastCall(const UpstreamRequest& r)
      : where_(r.host + ":" + std::to_string(r.port)), timeout_(r.timeout), socket_(ioc_) {
    parser_.body_limit(boost::none);  // the caller bounds what it keeps
  }

  Status Open(const UpstreamRequest& r) {
    const SteadyClock::time_point deadline = SteadyClock::now() + timeout_;
    error_code ec;
    tcp::resolver resolver(ioc_);
    const auto endpoints = resolver.resolve(r.host, std::to_string(r.port), ec);
    if (ec) return IoError("cannot resolve " + r.host + ": " + ec.message());
    bool done = false;
    net::async_connect(socket_, endpoints, [&](const error_code& e, const tcp::endpoint&) {
      ec = e;
      done = true;
    });
    if (!RunUntil(done, deadline)) return TimedOut();
    if (ec) return IoError("cannot connect to " + where_ + ": " + ec.message());
    socket_.set_option(tcp::no_delay(true), ec);

    bhttp::request<bhttp::string_body> message(
        bhttp::string_to_verb(r.method) == bhttp::verb::unknown ? bhttp::verb::post
                                                                : bhttp::string_to_verb(r.method),
        r.target, 11);
    message.set(bhttp::field::host, where_);
    message.set(bhttp::field::user_agent, "polycloud-gateway");
    if (!r.body.empty()) message.set(bhttp::field::content_type, "application/json");
    for (const http::Header& h : r.headers) message.set(h.name, h.value);
    message.keep_alive(false);
    message.body() = r.body;
    message.prepare_payload();
    done = false;
    bhttp::async_write(socket_, message, [&](const error_code& e, size_t) {
      ec = e;
      done = true;
    });
    if (!RunUntil(done, deadline)) return TimedOut();
    if (ec) return IoError("cannot send to " + where_ + ": " + ec.message());

    done = false;
    bhttp::async_read_header(socket_, buffer_, parser_, [&](const error_code& e, size_t) {
      ec = e;
      done = true;
    });
    if (!RunUntil(done, deadline)) return TimedOut();
    if (ec) return IoError(where_ + " answered no HTTP response: " + ec.message());
    for (const auto& field : parser_.get()) {
      headers_.Add(std::string(field.name_string()), std::string(field.value()));
    }
    return Status::Ok();
  }

  int status() const override { return static_cast<int>(parser_.get().result_int()); }
  const http::Headers& headers() const override { return headers_; }

  Result<std::optional<std::string>> ReadSome() override {
    const SteadyClock::time_point deadline = SteadyClock::now() + timeout_;
    while (!parser_.is_done()) {
      parser_.get().body().data = chunk_;
      parser_.get().body().size = sizeof chunk_;
      error_code ec;
      bool done = false;
      bhttp::async_read_some(socket_, buffer_, parser_, [&](const error_code& e, size_t) {
        ec = e;
        done = true;
      });
      if (!RunUntil(done, deadline)) return TimedOut();
      if (ec == bhttp::error::need_buffer) ec = {};
      if (ec) return IoError("the answer from " + where_ + " broke off: " + ec.message());
      const size_t n = sizeof chunk_ - parser_.get().body().size;
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
    ioc_.restart();
    while (!done && SteadyClock::now() < deadline) {
      if (ioc_.run_one_until(deadline) == 0 && ioc_.stopped()) break;
    }
    if (done) return true;
    error_code ignored;
    socket_.close(ignored);
    ioc_.restart();
    while (!done && ioc_.run_one() > 0) {
    }
    return false;
  }
  Status TimedOut() const {
    return IoError("request to " + where_ + " timed out after " + std::to_string(timeout_.count()) +
                   " ms");
  }

  std::string where_;
  std::chrono::milliseconds timeout_;
  net::io_context ioc_;
  tcp::socket socket_;
  boost::beast::flat_buffer buffer_;
  bhttp::response_parser<bhttp::buffer_body> parser_;
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
