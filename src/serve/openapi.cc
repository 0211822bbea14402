// The OpenAPI 3.0 document of the broker's API. The test
// ApiTest.TheOpenApiDocumentListsExactlyTheRoutes checks it against the
// router, so a route cannot be added or removed without it.
#include <nlohmann/json.hpp>

#include "polycloud/serve/api.h"

namespace polycloud::serve {
namespace {

using nlohmann::json;

json Op(const std::string& summary, bool auth, const std::string& role, json responses,
        json extra = json::object()) {
  json op{{"summary", summary}, {"responses", std::move(responses)}};
  if (auth) {
    op["security"] = json::array({{{"bearer", json::array()}}});
    op["description"] = "Role: " + role + ".";
  } else {
    op["security"] = json::array();
  }
  for (auto it = extra.begin(); it != extra.end(); ++it) op[it.key()] = it.value();
  return op;
}

json Ref(const std::string& name) { return {{"$ref", "#/components/schemas/" + name}}; }

json JsonResponse(const std::string& description, json schema) {
  return {{"description", description}, {"content", {{"application/json", {{"schema", schema}}}}}};
}

json Errors() { return JsonResponse("An error", Ref("Error")); }

json IdParam() {
  return json::array(
      {{{"name", "id"}, {"in", "path"}, {"required", true}, {"schema", {{"type", "string"}}}}});
}

json Build() {
  json doc;
  doc["openapi"] = "3.0.3";
  doc["info"] = {{"title", "polycloud serve"},
                 {"version", "1"},
                 {"description", "The live broker's API (docs/api.md)."}};
  doc["components"]["securitySchemes"]["bearer"] = {{"type", "http"}, {"scheme", "bearer"}};
  json& schemas = doc["components"]["schemas"];
  schemas["Error"] = {{"type", "object"},
                      {"required", {"error"}},
                      {"properties",
                       {{"error",
                         {{"type", "object"},
                          {"required", {"code", "message"}},
                          {"properties",
                           {{"code", {{"type", "string"}}},
                            {"message", {{"type", "string"}}},
                            {"pointer", {{"type", "string"}}}}}}}}}};
  // GET /v1/tenants (ApiTest.TenantsShowGpusAndSpendAgainstQuota checks a
  // response against it). Amounts are exact dollar strings; a limit of 0 is
  // no limit.
  const json usd = {{"type", "string"}, {"pattern", "^-?[0-9]+\\.[0-9]{6}$"}};
  const json spend_props = {{"spend_per_month_usd", usd},
                            {"spent_this_month_usd", usd},
                            {"committed_this_month_usd", usd}};
  json class_spend_props = spend_props;
  class_spend_props["class"] = {{"type", "string"}};
  json tenant_props = spend_props;
  tenant_props.update(
      {{"id", {{"type", "string"}}},
       {"max_gpus", {{"type", "integer"}, {"minimum", 0}}},
       {"gpus_in_use", {{"type", "integer"}, {"minimum", 0}}},
       {"month", {{"type", "string"}, {"description", "the UTC month counted, YYYY-MM"}}},
       {"jobs_held_by_quota", {{"type", "integer"}, {"minimum", 0}}},
       {"classes",
        {{"type", "array"},
         {"items",
          {{"type", "object"},
           {"additionalProperties", false},
           {"required", {"class", "max_gpus", "gpus_in_use"}},
           {"properties",
            {{"class", {{"type", "string"}}},
             {"max_gpus", {{"type", "integer"}, {"minimum", 0}}},
             {"gpus_in_use", {{"type", "integer"}, {"minimum", 0}}}}}}}}},
       {"class_spend",
        {{"type", "array"},
         {"items",
          {{"type", "object"},
           {"additionalProperties", false},
           {"required",
            {"class", "spend_per_month_usd", "spent_this_month_usd", "committed_this_month_usd"}},
           {"properties", class_spend_props}}}}}});
  json tenant_required = json::array();
  for (auto it = tenant_props.begin(); it != tenant_props.end(); ++it)
    tenant_required.push_back(it.key());
  schemas["Tenants"] = {{"type", "object"},
                        {"additionalProperties", false},
                        {"required", {"tenants"}},
                        {"properties",
                         {{"tenants",
                           {{"type", "array"},
                            {"items",
                             {{"type", "object"},
                              {"additionalProperties", false},
                              {"required", tenant_required},
                              {"properties", tenant_props}}}}}}}};
  schemas["JobRequest"] = {
      {"type", "object"},
      {"additionalProperties", false},
      {"required", {"gpus", "work_gpu_hours"}},
      {"properties",
       {{"id", {{"type", "string"}}},
        {"kind", {{"type", "string"}, {"enum", {"training", "batch"}}}},
        {"class", {{"type", "string"}}},
        {"model_family", {{"type", "string"}}},
        {"gpus", {{"type", "integer"}, {"minimum", 1}}},
        {"work_gpu_hours", {{"type", "integer"}, {"minimum", 1}}},
        {"accelerators", {{"type", "array"}, {"items", {{"type", "string"}}}}},
        {"checkpoint_every", {{"type", "string"}, {"example", "2h"}}},
        {"priority", {{"type", "integer"}}},
        {"preemptible", {{"type", "boolean"}}},
        {"gpu_milli", {{"type", "integer"}, {"minimum", 1}, {"maximum", 999}}},
        {"cpus", {{"type", "number"}, {"minimum", 0}, {"maximum", 1000000}}},
        {"memory_gib", {{"type", "number"}, {"minimum", 0}, {"maximum", 1000000}}},
        {"tenant", {{"type", "string"}}}}}};
  schemas["Job"] = {
      {"type", "object"},
      {"properties",
       {{"id", {{"type", "string"}}},
        {"tenant", {{"type", "string"}}},
        {"status", {{"type", "string"}, {"enum", {"queued", "running", "done", "cancelled"}}}},
        {"gpus", {{"type", "integer"}}},
        {"gpu_milli", {{"type", "integer"}, {"description", "a share of one GPU; 0: whole GPUs"}}},
        {"cpus", {{"type", "number"}}},
        {"memory_gib", {{"type", "number"}}},
        {"pool", {{"type", "string"}, {"nullable", true}}},
        {"site", {{"type", "string"}, {"nullable", true}}},
        {"site_job", {{"type", "string"}, {"nullable", true}}},
        {"spend_usd", {{"type", "string"}}}}}};
  json& paths = doc["paths"];
  paths["/healthz"]["get"] =
      Op("Liveness", false, "", {{"200", JsonResponse("Alive", {{"type", "object"}})}});
  paths["/readyz"]["get"] =
      Op("Readiness: started and holding the store's lease", false, "",
         {{"200", JsonResponse("Ready", {{"type", "object"}})}, {"503", Errors()}});
  paths["/metrics"]["get"] =
      Op("Prometheus metrics (text format 0.0.4)", false, "",
         {{"200", {{"description", "Metrics"}, {"content", {{"text/plain", json::object()}}}}}});
  paths["/v1/openapi.json"]["get"] =
      Op("This document", false, "", {{"200", JsonResponse("OpenAPI", {{"type", "object"}})}});
  paths["/v1/jobs"]["post"] = Op(
      "Submit a job (durable before the answer); Idempotency-Key header: the same key returns "
      "the first job (200)",
      true, "tenant (own tenant), operator, admin (not viewer)",
      {{"201", JsonResponse("Created", Ref("Job"))},
       {"200", JsonResponse("Existing", Ref("Job"))},
       {"400", Errors()},
       {"401", Errors()},
       {"403", Errors()}},
      {{"requestBody",
        {{"required", true}, {"content", {{"application/json", {{"schema", Ref("JobRequest")}}}}}}},
       {"parameters",
        json::array(
            {{{"name", "Idempotency-Key"}, {"in", "header"}, {"schema", {{"type", "string"}}}}})}});
  paths["/v1/jobs"]["get"] = Op(
      "List jobs in submission order (filters: status, tenant; paging: after, limit ≤ 1000)", true,
      "tenant (own tenant only), viewer, operator, admin",
      {{"200", JsonResponse("Jobs", {{"type", "object"}})}, {"400", Errors()}, {"401", Errors()}},
      {{"parameters",
        json::array({{{"name", "status"}, {"in", "query"}, {"schema", {{"type", "string"}}}},
                     {{"name", "tenant"}, {"in", "query"}, {"schema", {{"type", "string"}}}},
                     {{"name", "after"}, {"in", "query"}, {"schema", {{"type", "string"}}}},
                     {{"name", "limit"}, {"in", "query"}, {"schema", {{"type", "integer"}}}}})}});
  paths["/v1/jobs/{id}"]["get"] = Op("A job", true, "tenant (own), operator, admin",
                                     {{"200", JsonResponse("Job", Ref("Job"))}, {"404", Errors()}},
                                     {{"parameters", IdParam()}});
  paths["/v1/jobs/{id}"]["delete"] = Op(
      "Cancel a job (a running one is stopped at its site)", true, "tenant (own), operator, admin",
      {{"200", JsonResponse("Job", Ref("Job"))}, {"404", Errors()}, {"409", Errors()}},
      {{"parameters", IdParam()}});
  paths["/v1/jobs/{id}/explain"]["get"] =
      Op("Why a job is where it is, or what holds it, from the live state", true,
         "tenant (own), viewer, operator, admin",
         {{"200", JsonResponse("Explanation", {{"type", "object"}})}, {"404", Errors()}},
         {{"parameters", IdParam()}});
  paths["/v1/services/{id}/explain"]["get"] =
      Op("A service's placement explained now", true, "viewer, operator, admin",
         {{"200", JsonResponse("Explanation", {{"type", "object"}})}, {"404", Errors()}},
         {{"parameters", IdParam()}});
  paths["/v1/services/{id}/demand"]["post"] = Op(
      "Set a service's measured demand (tokens/s)", true, "operator, admin",
      {{"200", JsonResponse("Set", {{"type", "object"}})}, {"400", Errors()}, {"404", Errors()}},
      {{"parameters", IdParam()},
       {"requestBody",
        {{"required", true},
         {"content",
          {{"application/json",
            {{"schema",
              {{"type", "object"},
               {"additionalProperties", false},
               {"required", {"tokens_per_s"}},
               {"properties", {{"tokens_per_s", {{"type", "integer"}, {"minimum", 0}}}}}}}}}}}}}});
  paths["/v1/tenants"]["get"] = Op("Usage against quota per tenant", true, "admin",
                                   {{"200", JsonResponse("Tenants", Ref("Tenants"))}});
  paths["/v1/pools"]["get"] =
      Op("Pools: installed, usable and used GPUs now", true, "viewer, operator, admin",
         {{"200", JsonResponse("Pools", {{"type", "object"}})}});
  paths["/v1/sites"]["get"] = Op("Sites: back end and health", true, "viewer, operator, admin",
                                 {{"200", JsonResponse("Sites", {{"type", "object"}})}});
  paths["/v1/contracts"]["get"] =
      Op("The live ledger: spend to now, rate, shortfalls due and projected", true,
         "viewer, operator, admin", {{"200", JsonResponse("Contracts", {{"type", "object"}})}});
  paths["/v1/events"]["get"] = Op(
      "Server-Sent Events of decisions and state changes (id: a sequence; Last-Event-ID resumes)",
      true, "viewer, operator, admin",
      {{"200",
        {{"description", "Event stream"}, {"content", {{"text/event-stream", json::object()}}}}}});
  paths["/v1/whoami"]["get"] =
      Op("The token's public id, role and tenant (what the dashboard shows)", true,
         "tenant, operator, admin",
         {{"200", JsonResponse("Principal", {{"type", "object"}})}, {"401", Errors()}});
  paths["/v1/report"]["get"] = Op(
      "The report of the run so far (schema polycloud.report/1, docs/report.md): figures, ledger, "
      "time series of the latest 800 buckets, the listed jobs and services",
      true, "viewer, operator, admin",
      {{"200", JsonResponse("Report", {{"type", "object"}})},
       {"401", Errors()},
       {"403", Errors()}});
  // The dashboard: HTML, scripts and styles compiled into the binary, with
  // ETags (If-None-Match answers 304) and a Content-Security-Policy.
  json page{{"description", "The dashboard's page"}, {"content", {{"text/html", json::object()}}}};
  json not_modified{{"description", "Not modified (If-None-Match)"}};
  paths["/"]["get"] = Op("The dashboard (it asks for a token and calls the API with it)", false, "",
                         {{"200", page}, {"304", not_modified}});
  paths["/dashboard"]["get"] =
      Op("The dashboard (the same page as /)", false, "", {{"200", page}, {"304", not_modified}});
  paths["/assets/{name}"]["get"] =
      Op("A file of the dashboard: uPlot, the report's and the dashboard's scripts and styles",
         false, "",
         {{"200",
           {{"description", "The file"},
            {"content", {{"text/javascript", json::object()}, {"text/css", json::object()}}}}},
          {"304", not_modified},
          {"404", Errors()}},
         {{"parameters", json::array({{{"name", "name"},
                                       {"in", "path"},
                                       {"required", true},
                                       {"schema", {{"type", "string"}}}}})}});
  paths["/v1/tokens"]["post"] = Op(
      "Create a bearer token (the secret is shown once; the store keeps its SHA-256)", true,
      "admin",
      {{"201", JsonResponse("Token", {{"type", "object"}})}, {"400", Errors()}, {"403", Errors()}});
  return doc;
}

}  // namespace

const nlohmann::json& OpenApiDocument() {
  static const json* doc = new json(Build());
  return *doc;
}

}  // namespace polycloud::serve
