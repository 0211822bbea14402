// The HTTP server and client over loopback: real sockets, port 0, short
// timeouts so the whole file runs in a few seconds.
#include "polycloud/http/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

#include "polycloud/http/client.h"
#include "polycloud/http/json_body.h"
#include "polycloud/http/query.h"

namespace polycloud::http {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

// A raw TCP connection, for what a well-behaved client would never send.
class RawConnection {
 public:
  explicit RawConnection(uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawConnection() { close(fd_); }
  bool connected() const { return connected_; }
  void Send(std::string_view bytes) {
    ASSERT_EQ(send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
  }
  // Everything until the server closes the connection or `timeout` passes;
  // *closed says which.
  std::string ReadUntilClosed(milliseconds timeout, bool* closed = nullptr) {
    std::string out;
    const auto deadline = SteadyClock::now() + timeout;
    bool eof = false;
    while (SteadyClock::now() < deadline) {
      timeval tv{0, 20'000};
      setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      char buf[4096];
      const ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n > 0) {
        out.append(buf, static_cast<size_t>(n));
      } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
        eof = true;
        break;
      }
    }
    if (closed != nullptr) *closed = eof;
    return out;
  }
  // Reads until `marker` has been seen (or the timeout).
  std::string ReadUntil(std::string_view marker, milliseconds timeout) {
    std::string out;
    const auto deadline = SteadyClock::now() + timeout;
    while (SteadyClock::now() < deadline && out.find(marker) == std::string::npos) {
      timeval tv{0, 20'000};
      setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      char buf[4096];
      const ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n > 0) out.append(buf, static_cast<size_t>(n));
      if (n == 0) break;
    }
    return out;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

// Polls `condition` for up to 5 s.
bool WaitFor(const std::function<bool()>& condition) {
  const auto deadline = SteadyClock::now() + std::chrono::seconds(5);
  while (!condition()) {
    if (SteadyClock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return true;
}

// A job-submission-like endpoint: the strict reader end to end.
Response Submit(const Request& request) {
  ApiResult<json> doc = ReadJsonBody(request);
  if (!doc.ok()) return Response::Error(doc.error());
  JsonReader reader(*doc);
  JsonObject root = reader.Root();
  std::string name = root.String("name").value_or("");
  int64_t gpus = root.Int("gpus", 1, 1024).value_or(0);
  if (std::optional<ApiError> e = reader.Finish()) return Response::Error(*e);
  return Response::Json(201, {{"name", name}, {"gpus", gpus}});
}

Router TestRouter() {
  Router r;
  r.Add("GET", "/healthz", [](const Request&) { return Response::Json(200, {{"ok", true}}); });
  r.Add("POST", "/v1/jobs", Submit);
  r.Add("GET", "/v1/jobs/{id}", [](const Request& req) {
    QueryReader q(req);
    const bool verbose = q.Bool("verbose").value_or(false);
    if (std::optional<ApiError> e = q.Finish()) return Response::Error(*e);
    return Response::Json(200,
                          {{"id", req.Param("id")}, {"verbose", verbose}, {"route", req.route}});
  });
  r.Add("DELETE", "/v1/jobs/{id}", [](const Request&) { return Response::NoContent(); });
  r.Add("GET", "/v1/jobs/{id}/explain", [](const Request& req) {
    return Response::Text(200, "explain " + std::string(req.Param("id")));
  });
  r.Add("GET", "/whoami", [](const Request& req) {
    return Response::Json(200, {{"token", req.bearer_token ? json(*req.bearer_token) : json()}});
  });
  r.Add("GET", "/throws", [](const Request&) -> Response { throw std::runtime_error("boom"); });
  return r;
}

ServerOptions FastOptions() {
  ServerOptions o;
  o.port = 0;
  o.threads = 2;
  o.max_body_bytes = 1024;
  o.header_timeout = milliseconds(300);
  o.body_timeout = milliseconds(300);
  o.idle_timeout = milliseconds(2000);
  o.write_timeout = milliseconds(1000);
  o.sse_heartbeat = milliseconds(50);
  o.stop_grace = milliseconds(2000);
  return o;
}

std::unique_ptr<Server> StartServer(Router router, ServerOptions options = FastOptions()) {
  Result<std::unique_ptr<Server>> s = Server::Start(options, std::move(router));
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(*s) : nullptr;
}

ClientOptions At(const Server& server, milliseconds timeout = milliseconds(5000)) {
  ClientOptions o;
  o.address.port = server.port();
  o.timeout = timeout;
  return o;
}

TEST(ServerTest, ListensOnAnEphemeralPortAndRefusesABusyOne) {
  std::unique_ptr<Server> server = StartServer(TestRouter());
  ASSERT_NE(server, nullptr);
  EXPECT_NE(server->port(), 0);
  EXPECT_EQ(server->address(), "127.0.0.1:" + std::to_string(server->port()));
  ServerOptions same = FastOptions();
  same.port = server->port();
  Result<std::unique_ptr<Server>> second = Server::Start(same, TestRouter());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kIoError);
  EXPECT_NE(second.status().message().find("cannot listen on 127.0.0.1:"), std::string::npos);
  ServerOptions bad = FastOptions();
  bad.host = "localhost:80";
  EXPECT_EQ(Server::Start(bad, Router()).status().code(), StatusCode::kInvalidArgument);
}

TEST(ServerTest, RoutesWithParamsAndQueryOverOneKeptAliveConnection) {
  std::unique_ptr<Server> server = StartServer(TestRouter());
  Client client(At(*server));
  for (int i = 0; i < 20; ++i) {
    Result<ClientResponse> r = client.Get("/v1/jobs/job%20" + std::to_string(i) + "?verbose=true");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->Header("Content-Type"), "application/json");
    json body = *r->Json();
    EXPECT_EQ(body["id"], "job " + std::to_string(i));
    EXPECT_EQ(body["verbose"], true);
    EXPECT_EQ(body["route"], "/v1/jobs/{id}");
  }
  Result<ClientResponse> text = client.Get("/v1/jobs/j1/explain");
  EXPECT_EQ(text->body, "explain j1");
  EXPECT_EQ(text->Header("content-type"), "text/plain; charset=utf-8");
  Result<ClientResponse> deleted = client.Delete("/v1/jobs/j1");
  EXPECT_EQ(deleted->status, 204);
  EXPECT_EQ(client.connections_opened(), 1);
}

TEST(ServerTest, UnknownPathIs404AndWrongMethodIs405WithAllow) {
  std::unique_ptr<Server> server = StartServer(TestRouter());
  Client client(At(*server));
  Result<ClientResponse> missing = client.Get("/v1/nothing");
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(missing->Error()->code, "not_found");
  Result<ClientResponse> wrong = client.Send({"PUT", "/v1/jobs/j1", "", "", {}});
  EXPECT_EQ(wrong->status, 405);
  EXPECT_EQ(wrong->Header("Allow"), "DELETE, GET");
  EXPECT_EQ(json::parse(wrong->body)["error"]["code"], "method_not_allowed");
  Result<ClientResponse> query = client.Get("/v1/jobs/j1?verbose=yes");
  EXPECT_EQ(query->status, 400);
  EXPECT_EQ(query->Error()->message,
            "query parameter \"verbose\": expected true or false, found \"yes\"");
  Result<ClientResponse> repeated = client.Get("/v1/jobs/j1?verbose=true&verbose=false");
  EXPECT_EQ(repeated->Error()->code, "invalid_query");
  Result<ClientResponse> unknown = client.Get("/v1/jobs/j1?verbos=true");
  EXPECT_EQ(unknown->Error()->message,
            "unknown query parameter \"verbos\" (expected one of: verbose)");
  // Errors do not cost the connection.
  EXPECT_EQ(client.connections_opened(), 1);
}

TEST(ServerTest, MalformedJsonIs400WithPointer) {
  std::unique_ptr<Server> server = StartServer(TestRouter());
  Client client(At(*server));
  Result<ClientResponse> ok = client.Post("/v1/jobs", {{"name", "a"}, {"gpus", 8}});
  EXPECT_EQ(ok->status, 201);
  Result<ClientResponse> type = client.Post("/v1/jobs", {{"name", "a"}, {"gpus", "8"}});
  EXPECT_EQ(type->status, 400);
  ApiError e = *type->Error();
  EXPECT_EQ(e.code, "wrong_type");
  EXPECT_EQ(e.pointer, "/gpus");
  EXPECT_EQ(e.message, "expected an integer from 1 to 1024, found \"8\"");
  Result<ClientResponse> unknown =
      client.Post("/v1/jobs", {{"name", "a"}, {"gpus", 8}, {"gpu", 1}});
  EXPECT_EQ(unknown->Error()->pointer, "/gpu");
  Result<ClientResponse> syntax =
      client.Send({"POST", "/v1/jobs", "{\"name\": \"a\",\n \"gpus\": }", "application/json", {}});
  EXPECT_EQ(syntax->status, 400);
  EXPECT_EQ(syntax->Error()->code, "invalid_json");
  EXPECT_EQ(syntax->Error()->pointer, "");
  EXPECT_EQ(syntax->Error()->message.rfind("line 2, column ", 0), 0u);
  Result<ClientResponse> media = client.Send({"POST", "/v1/jobs", "{}", "text/plain", {}});
  EXPECT_EQ(media->status, 415);
}

TEST(ServerTest, BodyOverTheLimitIs413) {
  std::unique_ptr<Server> server = StartServer(TestRouter());
  Client client(At(*server));
  Result<ClientResponse> r =
      client.Post("/v1/jobs", {{"name", std::string(2000, 'x')}, {"gpus", 1}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(r->Error()->code, "body_too_large");
  EXPECT_EQ(r->Error()->message, "the request body is larger than the limit of 1024 bytes");
  EXPECT_EQ(r->Header("Connection"), "close");
  // The client reconnects for the next request.
  EXPECT_EQ(client.Get("/healthz")->status, 200);
  EXPECT_EQ(client.connections_opened(), 2);
}

TEST(ServerTest, ChunkedBodyOverTheLimitIs413) {
  std::unique_ptr<Server> server = StartServer(TestRouter());
  RawConnection c(server->port());
  std::string chunk(600, 'x');
  c.Send(
      "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n258\r\n" +
      chunk + "\r\n258\r\n" + chunk + "\r\n");
  std::string reply = c.ReadUntilClosed(milliseconds(2000));
  EXPECT_EQ(reply.rfind("HTTP/1.1 413 ", 0), 0u) << reply;
}

TEST(ServerTest, Http10ClientGetsAnAnswerAndTheConnectionCloses) {
  std::unique_ptr<Server> server = StartServer(TestRouter());
  RawConnection c(server->port());
  c.Send("GET /healthz HTTP/1.0\r\n\r\n");
  bool closed = false;
  std::string reply = c.ReadUntilClosed(milliseconds(2000), &closed);
  EXPECT_EQ(reply.rfind("HTTP/1.1 200 ", 0), 0u) << reply;  // our version, as RFC 9110 asks
  EXPECT_NE(reply.find("{\"ok\":true}"), std::string::npos) << reply;
  EXPECT_TRUE(closed);
}

TEST(ServerTest, ExpectContinueOverTheLimitIsRefusedBeforeTheBody) {
  std::unique_ptr<Server> server = StartServer(TestRouter());
  RawConnection c(server->port());
  c.Send(
      "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: 100000\r\nExpect: 100-continue\r\n\r\n");
  std::string reply = c.ReadUntilClosed(milliseconds(2000));
  EXPECT_EQ(reply.rfind("HTTP/1.1 413 ", 0), 0u) << reply;
}

TEST(ServerTest, ExpectContinueWithinTheLimitGets100ThenTheAnswer) {
  std::unique_ptr<Server> server = StartServer(TestRouter());
  RawConnection c(server->port());
  const std::string body = R"({"name":"a","gpus":2})";
  c.Send("POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_EQ(c.ReadUntil("\r\n\r\n", milliseconds(2000)), "HTTP/1.1 100 Continue\r\n\r\n");
  c.Send(body);
  std::string reply = c.ReadUntil("}", milliseconds(2000));
  EXPECT_EQ(reply.rfind("HTTP/1.1 201 ", 0), 0u) << reply;
}

TEST(ServerTest, SlowClientGets408AndIsClosed) {
  std::unique_ptr<Server> server = StartServer(TestRouter());
  {
    RawConnection header(server->port());
    header.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n");  // never finishes its headers
    bool closed = false;
    const auto start = SteadyClock::now();
    std::string reply = header.ReadUntilClosed(milliseconds(3000), &closed);
    EXPECT_EQ(reply.rfind("HTTP/1.1 408 ", 0), 0u) << reply;
    EXPECT_NE(reply.find("\"code\":\"request_timeout\""), std::string::npos) << reply;
    EXPECT_TRUE(closed);
    EXPECT_GE(SteadyClock::now() - start, milliseconds(250));
  }
  {
    RawConnection body(server->port());
    body.Send(
        "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 50\r\n\r\n{\"name\"");
    bool closed = false;
    std::string reply = body.ReadUntilClosed(milliseconds(3000), &closed);
    EXPECT_EQ(reply.rfind("HTTP/1.1 408 ", 0), 0u) << reply;
    EXPECT_TRUE(closed);
  }
  EXPECT_EQ(Client(At(*server)).Get("/healthz")->status, 200);
}

TEST(ServerTest, IdleKeptAliveConnectionIsClosedQuietly) {
  ServerOptions options = FastOptions();
  options.idle_timeout = milliseconds(200);
  std::unique_ptr<Server> server = StartServer(TestRouter(), options);
  RawConnection c(server->port());
  c.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  bool closed = false;
  std::string reply = c.ReadUntilClosed(milliseconds(3000), &closed);
  EXPECT_TRUE(closed);
  EXPECT_EQ(reply.rfind("HTTP/1.1 200 ", 0), 0u);
  EXPECT_EQ(reply.find("408"), std::string::npos) << reply;  // idle is not a slow request
}

TEST(ServerTest, ClientRetriesAnIdempotentRequestOnAConnectionTheServerClosed) {
  ServerOptions options = FastOptions();
  options.idle_timeout = milliseconds(100);
  std::unique_ptr<Server> server = StartServer(TestRouter(), options);
  Client client(At(*server));
  EXPECT_EQ(client.Get("/healthz")->status, 200);
  ASSERT_TRUE(WaitFor([&] { return server->open_connections() == 0; }));  // closed as idle
  Result<ClientResponse> again = client.Get("/healthz");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->status, 200);
  EXPECT_EQ(client.connections_opened(), 2);
}

TEST(ServerTest, BadHttpIs400AndHugeHeadersAre431) {
  ServerOptions options = FastOptions();
  options.max_header_bytes = 512;
  std::unique_ptr<Server> server = StartServer(TestRouter(), options);
  {
    RawConnection c(server->port());
    c.Send("GET /healthz HTTP/1.1\r\nHost x\r\n\r\n");
    std::string reply = c.ReadUntilClosed(milliseconds(2000));
    EXPECT_EQ(reply.rfind("HTTP/1.1 400 ", 0), 0u) << reply;
    EXPECT_NE(reply.find("\"code\":\"bad_request\""), std::string::npos) << reply;
  }
  {
    RawConnection c(server->port());
    c.Send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(1000, 'a') + "\r\n\r\n");
    std::string reply = c.ReadUntilClosed(milliseconds(2000));
    EXPECT_EQ(reply.rfind("HTTP/1.1 431 ", 0), 0u) << reply;
  }
  {
    RawConnection c(server->port());
    c.Send("GET /v1/jobs/%zz HTTP/1.1\r\nHost: x\r\n\r\n");
    std::string reply = c.ReadUntil("}}", milliseconds(2000));
    EXPECT_EQ(reply.rfind("HTTP/1.1 400 ", 0), 0u) << reply;
    EXPECT_NE(reply.find("invalid_path"), std::string::npos) << reply;
  }
}

TEST(ServerTest, AnswersPipelinedRequestsInOrder) {
  std::unique_ptr<Server> server = StartServer(TestRouter());
  RawConnection c(server->port());
  c.Send(
      "GET /v1/jobs/a HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/jobs/b HTTP/1.1\r\nHost: x\r\n"
      "Connection: close\r\n\r\n");
  std::string reply = c.ReadUntilClosed(milliseconds(2000));
  const size_t a = reply.find("\"id\":\"a\"");
  const size_t b = reply.find("\"id\":\"b\"");
  ASSERT_NE(a, std::string::npos) << reply;
  ASSERT_NE(b, std::string::npos) << reply;
  EXPECT_LT(a, b);
}

TEST(ServerTest, PassesTheBearerTokenOnlyWhenWellFormed) {
  std::unique_ptr<Server> server = StartServer(TestRouter());
  ClientOptions with = At(*server);
  with.bearer_token = "abc.DEF-123_~+/==";
  EXPECT_EQ(json::parse(Client(with).Get("/whoami")->body)["token"], "abc.DEF-123_~+/==");
  Client client(At(*server));
  EXPECT_TRUE(json::parse(client.Get("/whoami")->body)["token"].is_null());
  for (const char* bad : {"Basic dXNlcjpwYXNz", "Bearer", "Bearer a b", "Bearer =abc"}) {
    Result<ClientResponse> r = client.Send({"GET", "/whoami", "", "", {{"Authorization", bad}}});
    EXPECT_TRUE(json::parse(r->body)["token"].is_null()) << bad;
  }
  Result<ClientResponse> lower =
      client.Send({"GET", "/whoami", "", "", {{"Authorization", "bearer  tok"}}});
  EXPECT_EQ(json::parse(lower->body)["token"], "tok");
}

TEST(ServerTest, AHandlerThatThrowsIs500) {
  std::unique_ptr<Server> server = StartServer(TestRouter());
  Client client(At(*server));
  Result<ClientResponse> r = client.Get("/throws");
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(r->Error()->code, "internal");
  EXPECT_EQ(r->Error()->message, "the handler failed: boom");
  EXPECT_EQ(client.Get("/healthz")->status, 200);
}

TEST(ServerTest, AsyncHandlersAnswerFromAnotherThread) {
  std::mutex mu;
  std::vector<std::pair<Request, Reply>> queue;
  std::condition_variable cv;
  Router r;
  r.AddAsync("POST", "/v1/jobs", [&](Request request, Reply reply) {
    std::lock_guard lock(mu);
    queue.emplace_back(std::move(request), std::move(reply));
    cv.notify_all();
  });
  std::unique_ptr<Server> server = StartServer(std::move(r));
  // A "group commit" thread: answers requests in batches; drops one Reply.
  std::atomic<bool> done{false};
  std::thread committer([&] {
    int answered = 0;
    while (!done) {
      std::unique_lock lock(mu);
      cv.wait_for(lock, milliseconds(20), [&] { return !queue.empty(); });
      for (auto& [request, reply] : queue) {
        if (json::parse(request.body)["n"] == 3) continue;  // dropped: 500
        reply(Response::Json(201, {{"n", json::parse(request.body)["n"]}, {"batch", answered}}));
      }
      queue.clear();
      ++answered;
    }
  });
  std::vector<std::future<int>> results;
  for (int n = 0; n < 6; ++n) {
    results.push_back(std::async(std::launch::async, [&, n] {
      Client c(At(*server));
      Result<ClientResponse> resp = c.Post("/v1/jobs", {{"n", n}});
      if (!resp.ok()) return -1;
      if (resp->status != 201) return resp->status;
      return json::parse(resp->body)["n"].get<int>() == n ? 201 : -2;
    }));
  }
  for (int n = 0; n < 6; ++n) EXPECT_EQ(results[n].get(), n == 3 ? 500 : 201) << n;
  done = true;
  committer.join();
}

TEST(ServerTest, ServesConcurrentClientsFromSeveralThreads) {
  std::atomic<int> in_handler{0};
  std::atomic<int> most_at_once{0};
  std::atomic<int> calls{0};
  Router r;
  r.Add("POST", "/echo", [&](const Request& request) {
    const int now = ++in_handler;
    int seen = most_at_once.load();
    while (now > seen && !most_at_once.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    ++calls;
    --in_handler;
    return Response::JsonText(200, request.body);
  });
  ServerOptions options = FastOptions();
  options.threads = 4;
  std::unique_ptr<Server> server = StartServer(std::move(r), options);
  constexpr int kThreads = 8, kRequests = 100;
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Client c(At(*server));
      for (int i = 0; i < kRequests; ++i) {
        const json body = {{"thread", t}, {"i", i}};
        Result<ClientResponse> resp = c.Post("/echo", body);
        if (resp.ok() && resp->status == 200 && json::parse(resp->body) == body) ++good;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(good, kThreads * kRequests);
  EXPECT_EQ(calls, kThreads * kRequests);
  EXPECT_GT(most_at_once, 1);  // handlers really ran concurrently
  std::vector<RouteStats> stats = server->Stats();
  ASSERT_EQ(stats.size(), 2u);
  EXPECT_EQ(stats[0].route, "/echo");
  ASSERT_EQ(stats[0].responses.size(), 1u);
  EXPECT_EQ(stats[0].responses[0], std::make_pair(200, uint64_t{kThreads * kRequests}));
  EXPECT_EQ(stats[0].latency.count, uint64_t{kThreads * kRequests});
  EXPECT_GT(stats[0].latency.sum, 0.0);
}

TEST(ServerTest, CountsRequestsPerRouteAndUnmatched) {
  std::unique_ptr<Server> server = StartServer(TestRouter());
  Client client(At(*server));
  (void)client.Get("/healthz");
  (void)client.Get("/healthz");
  (void)client.Get("/nowhere");
  (void)client.Post("/v1/jobs", {{"name", 1}});
  std::vector<RouteStats> stats = server->Stats();
  ASSERT_EQ(stats.size(), 8u);
  EXPECT_EQ(stats[0].route, "/healthz");
  EXPECT_EQ(stats[0].responses, (std::vector<std::pair<int, uint64_t>>{{200, 2}}));
  EXPECT_EQ(stats[1].responses, (std::vector<std::pair<int, uint64_t>>{{400, 1}}));
  EXPECT_EQ(stats.back().route, "");
  EXPECT_EQ(stats.back().responses, (std::vector<std::pair<int, uint64_t>>{{404, 1}}));
  MetricsText page;
  WriteHttpMetrics(page, stats);
  EXPECT_NE(page.text().find(
                "polycloud_http_requests_total{method=\"GET\",route=\"/healthz\",code=\"200\"} 2"),
            std::string::npos);
}

TEST(ServerTest, ClientTimesOutOnASlowHandler) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  Router r;
  r.Add("GET", "/slow", [released](const Request&) {
    released.wait_for(std::chrono::seconds(10));
    return Response::Json(200, {});
  });
  std::unique_ptr<Server> server = StartServer(std::move(r));
  Client client(At(*server, milliseconds(100)));
  const auto start = SteadyClock::now();
  Result<ClientResponse> resp = client.Get("/slow");
  const auto elapsed = SteadyClock::now() - start;
  release.set_value();
  ASSERT_FALSE(resp.ok());
  EXPECT_EQ(resp.status().code(), StatusCode::kIoError);
  EXPECT_NE(resp.status().message().find("timed out after 100 ms"), std::string::npos)
      << resp.status().message();
  EXPECT_GE(elapsed, milliseconds(100));
  EXPECT_LT(elapsed, std::chrono::seconds(5));  // not the handler's 10 s
}

TEST(ServerTest, ClientReportsARefusedConnection) {
  uint16_t port = 0;
  {
    std::unique_ptr<Server> server = StartServer(TestRouter());
    port = server->port();
  }
  ClientOptions o;
  o.address.port = port;
  Result<ClientResponse> r = Client(o).Get("/healthz");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("cannot connect to 127.0.0.1:"), std::string::npos)
      << r.status().message();
}

// ---- Server-Sent Events ----

// A minimal event hub like the broker's: streams subscribe, a publisher
// pushes to all, a closed stream is dropped.
class Hub {
 public:
  void Subscribe(std::shared_ptr<EventStream> stream, std::string last_event_id) {
    std::lock_guard lock(mu_);
    last_ids_.push_back(std::move(last_event_id));
    stream->OnClose([this] { ++closed_; });
    streams_.push_back(std::move(stream));
    cv_.notify_all();
  }
  int Publish(const SseEvent& e) {
    std::lock_guard lock(mu_);
    int sent = 0;
    for (auto& s : streams_) sent += s->Send(e) ? 1 : 0;
    return sent;
  }
  bool WaitForSubscribers(size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(5), [&] { return streams_.size() >= n; });
  }
  std::vector<std::string> last_ids() {
    std::lock_guard lock(mu_);
    return last_ids_;
  }
  std::shared_ptr<EventStream> stream(size_t i) {
    std::lock_guard lock(mu_);
    return streams_[i];
  }
  std::atomic<int> closed_{0};

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::shared_ptr<EventStream>> streams_;
  std::vector<std::string> last_ids_;
};

Router EventRouter(Hub& hub) {
  Router r;
  r.Add("GET", "/v1/events", [&hub](const Request& request) {
    if (request.Header("X-Refuse")) return Response::Error(Unauthorized("no token"));
    std::string since(request.Header("Last-Event-ID").value_or(""));
    return Response::Stream([&hub, since](std::shared_ptr<EventStream> stream) {
      hub.Subscribe(std::move(stream), since);
    });
  });
  return r;
}

TEST(ServerSentEventsTest, StreamReceivesPushedEventsAndHeartbeatsAndEndsOnStop) {
  Hub hub;
  std::unique_ptr<Server> server = StartServer(EventRouter(hub));
  Client client(At(*server));
  Result<std::unique_ptr<EventStreamReader>> reader = client.OpenEventStream("/v1/events", "41");
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EventStreamReader& events = **reader;
  EXPECT_EQ(events.headers().Get("Cache-Control"), "no-cache");
  ASSERT_TRUE(hub.WaitForSubscribers(1));
  EXPECT_EQ(hub.last_ids(), std::vector<std::string>{"41"});

  for (int i = 42; i < 52; ++i) {
    EXPECT_EQ(hub.Publish({std::to_string(i), "job",
                           "{\"n\":" + std::to_string(i) + "}\nsecond line", std::nullopt}),
              1);
  }
  for (int i = 42; i < 52; ++i) {
    Result<std::optional<SseEvent>> e = events.Next(milliseconds(2000));
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    ASSERT_TRUE(e->has_value());
    EXPECT_EQ((*e)->id, std::to_string(i));
    EXPECT_EQ((*e)->event, "job");
    EXPECT_EQ((*e)->data, "{\"n\":" + std::to_string(i) + "}\nsecond line");
  }
  // Nothing is pushed: the reader times out but the stream stays open, and
  // heartbeats (every 50 ms here) keep arriving.
  ASSERT_TRUE(WaitFor([&] {
    Result<std::optional<SseEvent>> quiet = events.Next(milliseconds(50));
    EXPECT_FALSE(quiet.ok());
    return events.comments_seen() >= 2;
  }));
  EXPECT_EQ(hub.Publish({"52", "", "after a pause", std::nullopt}), 1);
  Result<std::optional<SseEvent>> later = events.Next(milliseconds(2000));
  ASSERT_TRUE(later.ok() && later->has_value());
  EXPECT_EQ((*later)->data, "after a pause");

  server->Stop();
  Result<std::optional<SseEvent>> end = events.Next(milliseconds(2000));
  ASSERT_TRUE(end.ok()) << end.status().ToString();
  EXPECT_FALSE(end->has_value());  // the stream ended
  EXPECT_EQ(hub.closed_, 1);
  EXPECT_EQ(hub.Publish({"53", "", "too late", std::nullopt}), 0);
}

TEST(ServerSentEventsTest, ClientLeavingClosesTheStream) {
  Hub hub;
  std::unique_ptr<Server> server = StartServer(EventRouter(hub));
  {
    Client client(At(*server));
    Result<std::unique_ptr<EventStreamReader>> reader = client.OpenEventStream("/v1/events");
    ASSERT_TRUE(reader.ok());
    ASSERT_TRUE(hub.WaitForSubscribers(1));
    EXPECT_EQ(hub.last_ids(), std::vector<std::string>{""});
  }  // the reader's connection closes
  EXPECT_TRUE(WaitFor([&] { return hub.closed_ == 1; }));
  EXPECT_TRUE(hub.stream(0)->closed());
  EXPECT_EQ(hub.Publish({"1", "", "x", std::nullopt}), 0);
  EXPECT_TRUE(WaitFor([&] { return server->open_connections() == 0; }));
}

TEST(ServerSentEventsTest, ApplicationClosesTheStreamAfterWhatIsQueued) {
  Hub hub;
  std::unique_ptr<Server> server = StartServer(EventRouter(hub));
  Client client(At(*server));
  Result<std::unique_ptr<EventStreamReader>> reader = client.OpenEventStream("/v1/events");
  ASSERT_TRUE(reader.ok());
  ASSERT_TRUE(hub.WaitForSubscribers(1));
  hub.Publish({"1", "", "last words", std::nullopt});
  hub.stream(0)->Close();
  Result<std::optional<SseEvent>> e = (*reader)->Next(milliseconds(2000));
  ASSERT_TRUE(e.ok() && e->has_value());
  EXPECT_EQ((*e)->data, "last words");
  Result<std::optional<SseEvent>> end = (*reader)->Next(milliseconds(2000));
  ASSERT_TRUE(end.ok());
  EXPECT_FALSE(end->has_value());
}

TEST(ServerSentEventsTest, ASlowReaderIsCutOffInsteadOfBuffered) {
  Hub hub;
  ServerOptions options = FastOptions();
  options.sse_max_queued_bytes = 64 << 10;
  std::unique_ptr<Server> server = StartServer(EventRouter(hub), options);
  Client client(At(*server));
  Result<std::unique_ptr<EventStreamReader>> reader = client.OpenEventStream("/v1/events");
  ASSERT_TRUE(reader.ok());
  ASSERT_TRUE(hub.WaitForSubscribers(1));
  // The reader never reads: socket buffers fill, then the queue, then the
  // stream closes and Send says so.
  const std::string data(16 << 10, 'x');
  int sent = 0;
  for (int i = 0; i < 10'000 && hub.Publish({std::to_string(i), "", data, std::nullopt}) == 1; ++i)
    ++sent;
  EXPECT_LT(sent, 10'000);
  EXPECT_TRUE(WaitFor([&] { return hub.closed_ == 1; }));
}

TEST(ServerSentEventsTest, AHandlerCanRefuseTheStreamWithAnError) {
  Hub hub;
  std::unique_ptr<Server> server = StartServer(EventRouter(hub));
  ClientOptions o = At(*server);
  Client client(o);
  ClientRequest request{"GET", "/v1/events", "", "", {{"X-Refuse", "1"}}};
  Result<ClientResponse> r = client.Send(request);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(r->Header("WWW-Authenticate"), "Bearer");
}

// ---- graceful stop ----

TEST(ServerStopTest, AnswersRequestsInFlightThenStops) {
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::atomic<int> entered{0};
  Router r;
  r.Add("POST", "/work", [&](const Request&) {
    ++entered;
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return release; });
    return Response::Json(200, {{"done", true}});
  });
  r.Add("GET", "/healthz", [](const Request&) { return Response::Json(200, {}); });
  ServerOptions options = FastOptions();
  options.threads = 3;
  std::unique_ptr<Server> server = StartServer(std::move(r), options);
  const ClientOptions at = At(*server);

  // Two requests in flight, one idle kept-alive connection.
  std::vector<std::future<Result<ClientResponse>>> in_flight;
  for (int i = 0; i < 2; ++i) {
    in_flight.push_back(
        std::async(std::launch::async, [at] { return Client(at).Post("/work", {}); }));
  }
  Client idle(at);
  EXPECT_EQ(idle.Get("/healthz")->status, 200);
  ASSERT_TRUE(WaitFor([&] { return entered == 2; }));
  EXPECT_EQ(server->open_connections(), 3u);

  std::thread stopper([&] { server->Stop(); });
  // The idle connection goes at once; the busy ones stay.
  ASSERT_TRUE(WaitFor([&] { return server->open_connections() == 2; }));
  // No new connections are accepted.
  ClientOptions quick = at;
  quick.timeout = milliseconds(300);
  EXPECT_TRUE(WaitFor([&] { return !Client(quick).Get("/healthz").ok(); }));
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  for (auto& f : in_flight) {
    Result<ClientResponse> resp = f.get();
    ASSERT_TRUE(resp.ok()) << resp.status().ToString();
    EXPECT_EQ(resp->status, 200);
    EXPECT_EQ(resp->Header("Connection"), "close");
  }
  stopper.join();
  EXPECT_EQ(server->open_connections(), 0u);
  server->Stop();  // idempotent
}

TEST(ServerStopTest, GiveUpOnAnAsyncHandlerThatNeverAnswersAfterTheGrace) {
  std::vector<Reply> kept;  // never called until after the server is gone
  std::mutex mu;
  Router r;
  r.AddAsync("GET", "/never", [&](Request, Reply reply) {
    std::lock_guard lock(mu);
    kept.push_back(std::move(reply));
  });
  ServerOptions options = FastOptions();
  options.stop_grace = milliseconds(200);
  std::unique_ptr<Server> server = StartServer(std::move(r), options);
  auto pending =
      std::async(std::launch::async, [at = At(*server)] { return Client(at).Get("/never"); });
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard lock(mu);
    return kept.size() == 1;
  }));
  const auto start = SteadyClock::now();
  server->Stop();
  EXPECT_LT(SteadyClock::now() - start, milliseconds(1500));
  EXPECT_FALSE(pending.get().ok());  // closed without an answer
  server.reset();
  kept[0](Response::Json(200, {}));  // after the server is gone: dropped safely
  kept.clear();                      // (and no 500 from the destructor either)
}

}  // namespace
}  // namespace polycloud::http
