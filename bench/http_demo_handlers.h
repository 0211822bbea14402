// The trivial endpoints the HTTP benchmarks load (bench/http_benchmark.cc,
// bench/http_demo_server.cc + bench/http_wrk.sh): a JSON POST read with the
// strict reader and answered 201, and a health check. Small enough that the
// figures are the layer's own cost.
#ifndef POLYCLOUD_BENCH_HTTP_DEMO_HANDLERS_H_
#define POLYCLOUD_BENCH_HTTP_DEMO_HANDLERS_H_

#include <atomic>
#include <string>

#include "polycloud/http/json_body.h"
#include "polycloud/http/router.h"

namespace polycloud::bench {

inline http::Router DemoRouter() {
  using namespace polycloud::http;
  static std::atomic<int64_t> next_id{1};
  Router router;
  router.Add("POST", "/v1/echo", [](const Request& request) {
    ApiResult<nlohmann::json> doc = ReadJsonBody(request);
    if (!doc.ok()) return Response::Error(doc.error());
    JsonReader reader(*doc);
    JsonObject root = reader.Root();
    std::string name = root.String("name").value_or("");
    int64_t gpus = root.Int("gpus", 1, 100'000).value_or(0);
    if (std::optional<ApiError> e = reader.Finish()) return Response::Error(*e);
    return Response::Json(
        201, {{"id", "j-" + std::to_string(next_id++)}, {"name", name}, {"gpus", gpus}});
  });
  router.Add("GET", "/healthz",
             [](const Request&) { return Response::JsonText(200, R"({"ok":true})"); });
  return router;
}

}  // namespace polycloud::bench

#endif  // POLYCLOUD_BENCH_HTTP_DEMO_HANDLERS_H_
