// How SqlStore's group commit handles failures, with a fault-injecting
// wrapper around the real SQLite back end (leveldb's fault-injection Env,
// at the SQL interface): a statement that fails fails only its own caller,
// and a COMMIT that fails fails its whole batch and is never re-run.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <iostream>
#include <thread>

#include "src/store/backends.h"
#include "src/store/location.h"
#include "src/store/sql_store.h"
#include "src/store/store_testing.h"

namespace polycloud::store {
namespace {

using ::testing::HasSubstr;

struct Faults {
  std::atomic<bool> fail_next_commit{false};
  std::atomic<int> poisoned_statements{0};  // statements carrying "poison" that ran
};

class FaultyConnection final : public SqlConnection {
 public:
  FaultyConnection(std::unique_ptr<SqlConnection> real, Faults& faults)
      : real_(std::move(real)), faults_(faults) {}
  Status Exec(const std::string& sql) override {
    if (sql == "COMMIT" && faults_.fail_next_commit.exchange(false)) {
      (void)real_->Exec("ROLLBACK");
      return IoError("injected: COMMIT failed");
    }
    return real_->Exec(sql);
  }
  Result<SqlRows> Query(const std::string& sql, std::span<const SqlParam> params) override {
    for (const SqlParam& p : params) {
      if (p.kind == SqlParam::Kind::kText && p.bytes == "poison") {
        ++faults_.poisoned_statements;
        return IoError("injected: statement failed");
      }
    }
    return real_->Query(sql, params);
  }
  bool Healthy() const override { return real_->Healthy(); }

 private:
  std::unique_ptr<SqlConnection> real_;
  Faults& faults_;
};

class FaultyBackend final : public Backend {
 public:
  FaultyBackend(std::unique_ptr<Backend> real, Faults& faults)
      : real_(std::move(real)), faults_(faults) {}
  Result<std::unique_ptr<SqlConnection>> Connect() override {
    POLYCLOUD_ASSIGN_OR_RETURN(std::unique_ptr<SqlConnection> c, real_->Connect());
    return std::unique_ptr<SqlConnection>(
        std::make_unique<FaultyConnection>(std::move(c), faults_));
  }
  std::string BeginWrite() const override { return real_->BeginWrite(); }
  std::string LockCommandLog() const override { return real_->LockCommandLog(); }
  std::string LockMigrations() const override { return real_->LockMigrations(); }
  std::string_view BytesType() const override { return real_->BytesType(); }
  std::string_view Int64KeyColumn() const override { return real_->Int64KeyColumn(); }
  std::string_view AutoIdColumn() const override { return real_->AutoIdColumn(); }
  bool ReusesStatements() const override { return real_->ReusesStatements(); }
  Result<bool> TryAcquireLeadership() override { return real_->TryAcquireLeadership(); }
  const std::string& display() const override { return real_->display(); }

 private:
  std::unique_ptr<Backend> real_;
  Faults& faults_;
};

class SqlStoreFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("polycloud-store-fault-");
    Result<StoreLocation> where = ParseStoreLocation(dir_ + "/polycloud.db");
    ASSERT_TRUE(where.ok());
    Result<std::unique_ptr<Backend>> real = MakeSqliteBackend(*where);
    ASSERT_TRUE(real.ok());
    Result<std::unique_ptr<SqlStore>> store =
        SqlStore::Open(std::make_unique<FaultyBackend>(std::move(real).value(), faults_));
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  Faults faults_;
  std::string dir_;
  std::unique_ptr<SqlStore> store_;
};

TEST_F(SqlStoreFaultTest, AFailedStatementFailsOnlyItsCaller) {
  constexpr int kWriters = 8, kPerWriter = 100, kPoisoned = 30;
  std::vector<std::thread> threads;
  std::atomic<int> append_failures{0}, appended{0};
  threads.reserve(kWriters);
  for (int t = 0; t < kWriters; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerWriter; ++i) {
        const std::string key = std::to_string(t) + "-" + std::to_string(i);
        if (store_->AppendCommands({"{\"k\":\"" + key + "\"}"}, key, key).ok()) {
          ++appended;
        } else {
          ++append_failures;
        }
      }
    });
  }
  int poisoned_refused = 0;
  for (int i = 0; i < kPoisoned; ++i) {
    // Among the writers' traffic (a poisoned call alone fails in no time).
    while (appended < 20 * (i + 1) && append_failures == 0) std::this_thread::yield();
    Status s = store_->AppendAudit({i, "tok", "POST /v1/jobs", "poison", "ok"});
    if (s.code() == StatusCode::kIoError && s.message().find("injected") != std::string::npos) {
      ++poisoned_refused;
    }
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(append_failures, 0);
  EXPECT_EQ(poisoned_refused, kPoisoned);
  // A poisoned entry that shared a batch ran twice: in the batch (rolled
  // back) and alone. Some did, with 8 writers busy beside them.
  EXPECT_GT(faults_.poisoned_statements.load(), kPoisoned);
  std::cout << faults_.poisoned_statements << " poisoned statements ran for " << kPoisoned
            << " poisoned calls\n";
  Result<std::vector<StoredCommand>> log = store_->ReadCommands(0);
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->size(), static_cast<size_t>(kWriters * kPerWriter));
  for (size_t i = 0; i < log->size(); ++i)
    EXPECT_EQ((*log)[i].sequence, static_cast<int64_t>(i + 1));
  EXPECT_TRUE(store_->ReadAudit(100)->empty());
}

TEST_F(SqlStoreFaultTest, AFailedCommitFailsItsBatchAndIsNotRunAgain) {
  Store& store = *store_;  // AppendCommands' defaults are the interface's
  ASSERT_TRUE(store.AppendCommands({"{\"n\":1}"}).ok());
  faults_.fail_next_commit = true;
  Result<AppendOutcome> failed = store.AppendCommands({"{\"n\":2}"}, "key", "value");
  ASSERT_FALSE(failed.ok());
  EXPECT_THAT(failed.status().message(), HasSubstr("COMMIT failed"));
  // Nothing of it stayed (SQLite rolled back), and the key is free: a retry
  // with it appends, at the next sequence, with no gap.
  EXPECT_EQ(store_->ReadCommands(0)->size(), 1u);
  Result<AppendOutcome> retried = store_->AppendCommands({"{\"n\":2}"}, "key", "value");
  ASSERT_TRUE(retried.ok());
  EXPECT_EQ(retried->first_sequence, 2);
  EXPECT_FALSE(retried->existing_value.has_value());
  EXPECT_EQ(store_->group_commit_stats().batches, 3);
}

}  // namespace
}  // namespace polycloud::store
