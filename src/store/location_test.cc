// Store locations: parsing, password redaction, and the errors OpenStore
// gives for places it cannot open.
#include "src/store/location.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <utility>
#include <vector>

#include "polycloud/store/store.h"
#include "src/store/store_testing.h"

namespace polycloud::store {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(StoreLocationTest, ReadsSqlitePathsAndPostgresUris) {
  const struct {
    const char* in;
    StoreLocation::Kind kind;
    const char* target;
  } cases[] = {
      {"polycloud.db", StoreLocation::Kind::kSqlite, "polycloud.db"},
      {"./state/x.db", StoreLocation::Kind::kSqlite, "./state/x.db"},
      {"/var/lib/polycloud.db", StoreLocation::Kind::kSqlite, "/var/lib/polycloud.db"},
      {"sqlite:polycloud.db", StoreLocation::Kind::kSqlite, "polycloud.db"},
      {"SQLite:/abs/a:b.db", StoreLocation::Kind::kSqlite, "/abs/a:b.db"},
      {"./with:colon.db", StoreLocation::Kind::kSqlite, "./with:colon.db"},
      {"postgresql://polycloud@127.0.0.1/polycloud", StoreLocation::Kind::kPostgres,
       "postgresql://polycloud@127.0.0.1/polycloud"},
      {"postgres://u:pw@h:5433/db?sslmode=disable", StoreLocation::Kind::kPostgres,
       "postgres://u:pw@h:5433/db?sslmode=disable"},
  };
  for (const auto& c : cases) {
    Result<StoreLocation> where = ParseStoreLocation(c.in);
    ASSERT_TRUE(where.ok()) << c.in << ": " << where.status().ToString();
    EXPECT_EQ(where->kind, c.kind) << c.in;
    EXPECT_EQ(where->target, c.target) << c.in;
  }
}

TEST(StoreLocationTest, SqliteTakesOnlyTheSynchronousParameter) {
  Result<StoreLocation> full = ParseStoreLocation("sqlite:/tmp/x.db");
  ASSERT_TRUE(full.ok());
  EXPECT_TRUE(full->sqlite_fsync_each_commit);
  Result<StoreLocation> normal = ParseStoreLocation("sqlite:/tmp/x.db?synchronous=NORMAL");
  ASSERT_TRUE(normal.ok()) << normal.status().ToString();
  EXPECT_EQ(normal->target, "/tmp/x.db");
  EXPECT_FALSE(normal->sqlite_fsync_each_commit);
  Result<StoreLocation> again =
      ParseStoreLocation("sqlite:x.db?synchronous=normal&synchronous=full");
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->sqlite_fsync_each_commit);
  // A bare path has no parameters: '?' is part of its name.
  Result<StoreLocation> bare = ParseStoreLocation("odd?name.db");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->target, "odd?name.db");
  EXPECT_TRUE(bare->sqlite_fsync_each_commit);
  for (const auto& [in, says] : std::vector<std::pair<std::string, std::string>>{
           {"sqlite:x.db?synchronous=off", "expected full or normal, found \"off\""},
           {"sqlite:x.db?synchronous", "expected full or normal, found \"\""},
           {"sqlite:x.db?mode=memory", "unknown parameter \"mode\""},
           {"sqlite:x.db?", "unknown parameter \"\""},
           {"sqlite:?synchronous=normal", "no database path"}}) {
    Result<StoreLocation> where = ParseStoreLocation(in);
    ASSERT_FALSE(where.ok()) << in;
    EXPECT_EQ(where.status().code(), StatusCode::kInvalidArgument) << in;
    EXPECT_THAT(where.status().message(), HasSubstr(says)) << in;
  }
}

TEST(StoreLocationTest, RefusesWhatItCannotOpenWithTheReason) {
  const struct {
    std::string in;
    const char* says;
  } cases[] = {
      {"", "is empty"},
      {"mysql://root@localhost/x", "unknown scheme \"mysql\""},
      {"sqlite:", "no database path"},
      {"sqlite://x.db", "not sqlite://"},
      {"sqlite::memory:", "in-memory"},
      {":memory:", "in-memory"},
      {"file:x.db", "unknown scheme \"file\""},
      {"postgresql:db", "expected postgresql://"},
      {"state/", "names a directory"},
      {std::string("a\nb.db"), "control character"},
      {"\xff.db", "not valid UTF-8"},
  };
  for (const auto& c : cases) {
    Result<StoreLocation> where = ParseStoreLocation(c.in);
    ASSERT_FALSE(where.ok()) << c.in;
    EXPECT_EQ(where.status().code(), StatusCode::kInvalidArgument) << c.in;
    EXPECT_THAT(where.status().message(), HasSubstr(c.says)) << c.in;
  }
}

TEST(StoreLocationTest, HidesPasswords) {
  EXPECT_EQ(RedactPassword("postgresql://broker:s3cret@db:5432/pc"),
            "postgresql://broker:***@db:5432/pc");
  EXPECT_EQ(RedactPassword("postgresql://broker@db/pc?sslmode=require&password=s3cret"),
            "postgresql://broker@db/pc?sslmode=require&password=***");
  EXPECT_EQ(RedactPassword("postgresql://db/pc"), "postgresql://db/pc");
  // libpq reads a '?' or '#' before the '@' as part of the password, and
  // percent-decodes parameter names.
  EXPECT_EQ(RedactPassword("postgresql://u:p?x@h/db?password=y"),
            "postgresql://u:***@h/db?password=***");
  EXPECT_EQ(RedactPassword("postgresql://u?a:p@h?%70assword=y&x=1"),
            "postgresql://u?a:***@h?%70assword=***&x=1");
  Result<StoreLocation> where = ParseStoreLocation("postgres://u:hunter2@h/db");
  ASSERT_TRUE(where.ok());
  EXPECT_THAT(where->display, Not(HasSubstr("hunter2")));
  Result<StoreLocation> bad = ParseStoreLocation("mysql://u:hunter2@h/db");
  EXPECT_THAT(bad.status().message(), Not(HasSubstr("hunter2")));
}

class OpenStoreErrorsTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::MakeTempDir("polycloud-store-open-"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(OpenStoreErrorsTest, NamesTheMissingFolder) {
  Result<std::unique_ptr<Store>> s = OpenStore(dir_ + "/no/such/dir/polycloud.db");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(s.status().message(),
              HasSubstr("the folder " + dir_ + "/no/such/dir does not exist"));
}

TEST_F(OpenStoreErrorsTest, RefusesAFolder) {
  Result<std::unique_ptr<Store>> s = OpenStore("sqlite:" + dir_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.status().message(), HasSubstr("is a folder"));
}

TEST_F(OpenStoreErrorsTest, RefusesAFileThatIsNotSqlite) {
  const std::string path = dir_ + "/notes.txt";
  std::ofstream(path) << std::string(4096, 'x');
  Result<std::unique_ptr<Store>> s = OpenStore(path);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.status().message(), HasSubstr("not a SQLite database"));
}

TEST_F(OpenStoreErrorsTest, ReportsAnUnreachableServerWithoutItsPassword) {
  // Port 1 on loopback: nothing listens, the connection is refused at once.
  Result<std::unique_ptr<Store>> s = OpenStore("postgresql://broker:hunter2@127.0.0.1:1/polycloud");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kIoError);
  EXPECT_THAT(s.status().message(), HasSubstr("cannot connect"));
  EXPECT_THAT(s.status().message(), HasSubstr("broker:***@127.0.0.1:1"));
  EXPECT_THAT(s.status().message(), Not(HasSubstr("hunter2")));
}

TEST_F(OpenStoreErrorsTest, RefusesAMalformedPostgresUri) {
  Result<std::unique_ptr<Store>> s = OpenStore("postgresql://h/db?no_such_option=1");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.status().message(), HasSubstr("no_such_option"));
}

}  // namespace
}  // namespace polycloud::store
