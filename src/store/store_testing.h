// Where the store's tests, crash writer and benchmark find a database: a fresh
// SQLite file in a temporary folder, or a fresh schema on the PostgreSQL
// server that CTest's `store_postgres` fixture started (scripts/postgres.sh)
// or that the environment names. Test-only (polycloud_store_testing).
#ifndef POLYCLOUD_SRC_STORE_STORE_TESTING_H_
#define POLYCLOUD_SRC_STORE_STORE_TESTING_H_

#include <optional>
#include <string>

#include "polycloud/base/status.h"

namespace polycloud::store::testing {

// The base URL of a PostgreSQL server for tests, from (in order)
// $POLYCLOUD_TEST_POSTGRES_URL, or the `url` file that `scripts/postgres.sh
// start` wrote in $POLYCLOUD_TEST_POSTGRES_DIR. Without one, nullopt and
// `why_not` says why (the script's own reason when it skipped), for
// GTEST_SKIP.
std::optional<std::string> PostgresServerUrl(std::string* why_not);

// Creates a schema of its own on the server at `base_url` and returns a URL
// whose sessions use it (search_path, and application_name = the schema, so
// a test can find its sessions in pg_stat_activity). `schema` receives its
// name.
Result<std::string> FreshPostgresSchema(const std::string& base_url, std::string* schema);

// Runs `sql` on the server at `url` (for set-up and clean-up only).
Status PostgresExec(const std::string& url, const std::string& sql);

// A new empty folder under $TMPDIR (or /tmp).
std::string MakeTempDir(const std::string& prefix);

}  // namespace polycloud::store::testing

#endif  // POLYCLOUD_SRC_STORE_STORE_TESTING_H_
