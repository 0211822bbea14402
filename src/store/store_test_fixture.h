// The parameterised fixture every back-end test uses: the same TEST_P runs on
// SQLite (a fresh file; also with synchronous=normal where a suite asks) and on PostgreSQL (a fresh
// schema on the server of CTest's `store_postgres` fixture; skipped with the reason when there is
// none).
#ifndef POLYCLOUD_SRC_STORE_STORE_TEST_FIXTURE_H_
#define POLYCLOUD_SRC_STORE_STORE_TEST_FIXTURE_H_

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "polycloud/store/store.h"
#include "src/store/store_testing.h"

namespace polycloud::store {

// kSqliteNormal: SQLite with synchronous=normal (no fsync per commit: it must
// still survive a kill -9 of the process).
enum class BackendKind { kSqlite, kPostgres, kSqliteNormal };

inline std::string BackendKindName(BackendKind kind) {
  return kind == BackendKind::kSqlite         ? "SQLite"
         : kind == BackendKind::kSqliteNormal ? "SQLiteSynchronousNormal"
                                              : "PostgreSQL";
}

// For test names and messages ("SQLite", "PostgreSQL").
inline void PrintTo(BackendKind kind, std::ostream* os) { *os << BackendKindName(kind); }

inline std::string BackendName(const ::testing::TestParamInfo<BackendKind>& info) {
  return BackendKindName(info.param);
}

class StoreBackendTest : public ::testing::TestWithParam<BackendKind> {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("polycloud-store-test-");
    if (GetParam() == BackendKind::kSqlite) {
      location_ = "sqlite:" + dir_ + "/polycloud.db";
      return;
    }
    if (GetParam() == BackendKind::kSqliteNormal) {
      location_ = "sqlite:" + dir_ + "/polycloud.db?synchronous=normal";
      return;
    }
    std::string why_not;
    const std::optional<std::string> server = testing::PostgresServerUrl(&why_not);
    if (!server) GTEST_SKIP() << why_not;
    server_ = *server;
    Result<std::string> url = testing::FreshPostgresSchema(server_, &schema_);
    ASSERT_TRUE(url.ok()) << url.status().ToString();
    location_ = *url;
  }

  void TearDown() override {
    if (!schema_.empty())
      (void)testing::PostgresExec(server_, "DROP SCHEMA " + schema_ + " CASCADE");
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::unique_ptr<Store> Open() {
    Result<std::unique_ptr<Store>> store = OpenStore(location_);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  std::string dir_;       // a temporary folder (the SQLite file, the crash test's logs)
  std::string location_;  // what OpenStore takes
  std::string server_;    // PostgreSQL: the server's base URL
  std::string schema_;    // PostgreSQL: this test's schema
};

}  // namespace polycloud::store

#endif  // POLYCLOUD_SRC_STORE_STORE_TEST_FIXTURE_H_
