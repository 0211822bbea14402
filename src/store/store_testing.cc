#include "src/store/store_testing.h"

#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace polycloud::store::testing {
namespace {

std::string ReadFirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

}  // namespace

std::optional<std::string> PostgresServerUrl(std::string* why_not) {
  if (const char* url = std::getenv("POLYCLOUD_TEST_POSTGRES_URL"); url != nullptr && *url) {
    return std::string(url);
  }
  const char* dir = std::getenv("POLYCLOUD_TEST_POSTGRES_DIR");
  if (dir == nullptr || *dir == '\0') {
    *why_not =
        "no PostgreSQL server for the tests: run them with `ctest -L postgres` (which starts one "
        "with scripts/postgres.sh), or set POLYCLOUD_TEST_POSTGRES_URL=postgresql://... "
        "(e.g. from `scripts/postgres.sh start DIR`)";
    return std::nullopt;
  }
  const std::string url = ReadFirstLine(std::string(dir) + "/url");
  if (!url.empty()) return url;
  const std::string reason = ReadFirstLine(std::string(dir) + "/unavailable");
  *why_not = !reason.empty() ? reason
                             : "scripts/postgres.sh start " + std::string(dir) +
                                   " did not leave a server URL there";
  return std::nullopt;
}

Status PostgresExec(const std::string& url, const std::string& sql) {
  PGconn* conn = PQconnectdb(url.c_str());
  Status status;
  if (PQstatus(conn) != CONNECTION_OK) {
    status = IoError("cannot connect to " + url + ": " + PQerrorMessage(conn));
  } else {
    PQsetNoticeProcessor(
        conn, [](void*, const char*) {}, nullptr);
    PGresult* result = PQexec(conn, sql.c_str());
    const ExecStatusType s = PQresultStatus(result);
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
      status = Internal(sql + ": " + PQresultErrorMessage(result));
    }
    PQclear(result);
  }
  PQfinish(conn);
  return status;
}

Result<std::string> FreshPostgresSchema(const std::string& base_url, std::string* schema) {
  static std::atomic<int> counter{0};
  const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  std::ostringstream name;
  name << "t" << getpid() << "_" << counter++ << "_" << std::hex << (now & 0xffffff);
  *schema = name.str();
  POLYCLOUD_RETURN_IF_ERROR(PostgresExec(base_url, "CREATE SCHEMA " + *schema));
  const char separator = base_url.find('?') == std::string::npos ? '?' : '&';
  return base_url + separator + "options=-csearch_path%3D" + *schema +
         "&application_name=" + *schema;
}

std::string MakeTempDir(const std::string& prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      std::string(tmp != nullptr && *tmp ? tmp : "/tmp") + "/" + prefix + "XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) std::abort();
  return pattern;
}

}  // namespace polycloud::store::testing
