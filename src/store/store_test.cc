// The Store contract (include/polycloud/store/store.h), one suite run against
// both back ends (TEST_P over SQLite and PostgreSQL).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "src/store/backends.h"
#include "src/store/migrations.h"
#include "src/store/sql_store.h"
#include "src/store/store_test_fixture.h"

namespace polycloud::store {
namespace {

using ::testing::HasSubstr;

std::string Json(const std::string& key) { return R"({"command":"submit","key":")" + key + "\"}"; }

std::string Hash(char c) { return std::string(64, c); }

Token MakeToken(const std::string& id, char hash, const std::string& role = "tenant") {
  Token t;
  t.id = id;
  t.hash = Hash(hash);
  t.role = role;
  t.tenant = role == "tenant" ? "research" : "";
  t.created_unix = 1'760'000'000;
  return t;
}

using StoreTest = StoreBackendTest;

TEST_P(StoreTest, AppendAssignsGapFreeSequencesInOrder) {
  auto store = Open();
  ASSERT_TRUE(store);
  for (int i = 0; i < 3; ++i) {
    Result<AppendOutcome> out = store->AppendCommands({Json("a" + std::to_string(i))});
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    EXPECT_EQ(out->first_sequence, i + 1);
    EXPECT_FALSE(out->existing_value.has_value());
  }
  Result<AppendOutcome> batch =
      store->AppendCommands({Json("b0"), Json("b1"), Json("b2"), Json("b3")});
  ASSERT_TRUE(batch.ok());
  EXPECT_EQ(batch->first_sequence, 4);

  Result<std::vector<StoredCommand>> all = store->ReadCommands(0);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ(all->size(), 7u);
  const std::vector<std::string> keys = {"a0", "a1", "a2", "b0", "b1", "b2", "b3"};
  for (size_t i = 0; i < all->size(); ++i) {
    EXPECT_EQ((*all)[i].sequence, static_cast<int64_t>(i + 1));
    EXPECT_EQ((*all)[i].json, Json(keys[i]));
  }
  Result<std::vector<StoredCommand>> tail = store->ReadCommands(5);
  ASSERT_TRUE(tail.ok());
  ASSERT_EQ(tail->size(), 2u);
  EXPECT_EQ((*tail)[0].sequence, 6);
  EXPECT_TRUE(store->ReadCommands(7)->empty());
}

TEST_P(StoreTest, SameIdempotencyKeyTwiceReturnsFirstValueAndAppendsNothing) {
  auto store = Open();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->AppendCommands({Json("x")}).ok());
  Result<AppendOutcome> first = store->AppendCommands({Json("k1"), Json("k1b")}, "key-1", "job-7");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->first_sequence, 2);
  EXPECT_FALSE(first->existing_value.has_value());

  Result<AppendOutcome> again = store->AppendCommands({Json("other")}, "key-1", "job-8");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->first_sequence, 2);
  ASSERT_TRUE(again->existing_value.has_value());
  EXPECT_EQ(*again->existing_value, "job-7");
  EXPECT_EQ(store->ReadCommands(0)->size(), 3u);

  Result<AppendOutcome> other = store->AppendCommands({Json("k2")}, "key-2", "job-9");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->first_sequence, 4);
  EXPECT_FALSE(other->existing_value.has_value());
}

TEST_P(StoreTest, KeyRacedByManyCallersAppendsOnce) {
  auto store = Open();
  ASSERT_TRUE(store);
  constexpr int kThreads = 8;
  std::vector<Result<AppendOutcome>> outcomes(kThreads, Internal("not run"));
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      outcomes[t] = store->AppendCommands({Json("racer" + std::to_string(t))}, "shared-key",
                                          "winner-" + std::to_string(t));
    });
  }
  for (auto& t : threads) t.join();
  int appended = 0;
  std::string winner;
  for (const auto& out : outcomes) {
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    EXPECT_EQ(out->first_sequence, 1);
    if (!out->existing_value) ++appended;
  }
  EXPECT_EQ(appended, 1);
  Result<std::vector<StoredCommand>> all = store->ReadCommands(0);
  ASSERT_EQ(all->size(), 1u);
  for (const auto& out : outcomes) {
    if (out->existing_value) winner = *out->existing_value;
  }
  // Every later caller saw the value recorded with the command that won.
  const std::string won = (*all)[0].json.substr((*all)[0].json.find("racer") + 5, 1);
  EXPECT_EQ(winner, "winner-" + won);
}

TEST_P(StoreTest, BadAppendsAreRefusedAndAppendNothing) {
  auto store = Open();
  ASSERT_TRUE(store);
  const auto expect_invalid = [&](const Result<AppendOutcome>& out, const std::string& what) {
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(out.status().message(), HasSubstr(what));
  };
  expect_invalid(store->AppendCommands({}), "no commands");
  expect_invalid(store->AppendCommands({""}), "command 0 is empty");
  expect_invalid(store->AppendCommands({"ok", std::string("a\0b", 3)}), "NUL byte at offset 1");
  expect_invalid(store->AppendCommands({"\xff"}), "not valid UTF-8");
  expect_invalid(store->AppendCommands({"ok"}, std::string(300, 'k')), "300 bytes");
  expect_invalid(store->AppendCommands({"ok"}, "k", "\xc3"), "value is not valid UTF-8");
  EXPECT_TRUE(store->ReadCommands(0)->empty());
  // A value without a key is ignored, not refused.
  Result<AppendOutcome> out = store->AppendCommands({"ok"}, "", "ignored");
  ASSERT_TRUE(out.ok());
  EXPECT_FALSE(out->existing_value.has_value());
}

TEST_P(StoreTest, LatestSnapshotWins) {
  auto store = Open();
  ASSERT_TRUE(store);
  Result<std::optional<Store::Snapshot>> none = store->LatestSnapshot();
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_FALSE(none->has_value());
  EXPECT_TRUE(store->PutSnapshot(0, "").ok());  // the state before any command

  for (int i = 0; i < 5; ++i) ASSERT_TRUE(store->AppendCommands({Json(std::to_string(i))}).ok());
  const std::string binary("\x00\xff\x01snapshot\x00", 12);
  ASSERT_TRUE(store->PutSnapshot(2, "two").ok());
  ASSERT_TRUE(store->PutSnapshot(5, binary).ok());
  Result<std::optional<Store::Snapshot>> latest = store->LatestSnapshot();
  ASSERT_TRUE(latest.ok() && latest->has_value());
  EXPECT_EQ((*latest)->sequence, 5);
  EXPECT_EQ((*latest)->bytes, binary);

  ASSERT_TRUE(store->PutSnapshot(5, "five again").ok());  // replaces
  ASSERT_TRUE(store->PutSnapshot(3, "older").ok());       // not the latest
  latest = store->LatestSnapshot();
  EXPECT_EQ((*latest)->sequence, 5);
  EXPECT_EQ((*latest)->bytes, "five again");

  Status ahead = store->PutSnapshot(6, "ahead of the log");
  EXPECT_EQ(ahead.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(ahead.message(), HasSubstr("ends at 5"));
  EXPECT_EQ(store->PutSnapshot(-1, "x").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*store->LatestSnapshot())->sequence, 5);
}

TEST_P(StoreTest, DispatchIsUpsertedOnJobAndRun) {
  auto store = Open();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->PutDispatch({"job-1", 1, "alpha", "intent", ""}).ok());
  ASSERT_TRUE(store->PutDispatch({"job-1", 2, "beta", "intent", ""}).ok());
  ASSERT_TRUE(store->PutDispatch({"job-1", 1, "alpha", "submitted", "4711"}).ok());
  ASSERT_TRUE(store->PutDispatch({"job-0", 1, "beta", "finished", "12"}).ok());
  Result<std::vector<Dispatch>> all = store->ReadDispatches();
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].job, "job-0");
  EXPECT_EQ((*all)[1].job, "job-1");
  EXPECT_EQ((*all)[1].run, 1u);
  EXPECT_EQ((*all)[1].state, "submitted");
  EXPECT_EQ((*all)[1].external_id, "4711");
  EXPECT_EQ((*all)[2].run, 2u);
  EXPECT_EQ((*all)[2].site, "beta");
  EXPECT_EQ((*all)[2].state, "intent");

  Status bad = store->PutDispatch({"job-1", 1, "alpha", "running", ""});
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.message(), HasSubstr("\"running\""));
  EXPECT_EQ(store->PutDispatch({"", 1, "alpha", "intent", ""}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store->ReadDispatches()->size(), 3u);
}

TEST_P(StoreTest, TokensAreFoundByHash) {
  auto store = Open();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->PutToken(MakeToken("tok-1", 'a')).ok());
  ASSERT_TRUE(store->PutToken(MakeToken("tok-2", 'b', "admin")).ok());
  Result<std::optional<Token>> found = store->FindTokenByHash(Hash('a'));
  ASSERT_TRUE(found.ok() && found->has_value()) << found.status().ToString();
  EXPECT_EQ((*found)->id, "tok-1");
  EXPECT_EQ((*found)->role, "tenant");
  EXPECT_EQ((*found)->tenant, "research");
  EXPECT_EQ((*found)->created_unix, 1'760'000'000);
  EXPECT_FALSE((*found)->revoked);
  EXPECT_FALSE(store->FindTokenByHash(Hash('c'))->has_value());

  Token revoked = MakeToken("tok-1", 'a');
  revoked.revoked = true;
  ASSERT_TRUE(store->PutToken(revoked).ok());
  EXPECT_TRUE((*store->FindTokenByHash(Hash('a')))->revoked);

  Status clash = store->PutToken(MakeToken("tok-3", 'a'));
  EXPECT_EQ(clash.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(clash.message(), HasSubstr("same hash"));
  EXPECT_EQ(store->PutToken(MakeToken("tok-4", 'A')).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store->PutToken(MakeToken("tok-5", 'e', "root")).code(), StatusCode::kInvalidArgument);
  Token no_tenant = MakeToken("tok-6", 'f');
  no_tenant.tenant = "";
  EXPECT_EQ(store->PutToken(no_tenant).code(), StatusCode::kInvalidArgument);
}

TEST_P(StoreTest, AuditReadsTheLatestEntriesOldestFirst) {
  auto store = Open();
  ASSERT_TRUE(store);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(
        store->AppendAudit({1000 + i, "tok-1", "POST /v1/jobs", "job-" + std::to_string(i), "ok"})
            .ok());
  }
  Result<std::vector<AuditEntry>> last3 = store->ReadAudit(3);
  ASSERT_TRUE(last3.ok()) << last3.status().ToString();
  ASSERT_EQ(last3->size(), 3u);
  EXPECT_EQ((*last3)[0].target, "job-2");
  EXPECT_EQ((*last3)[2].target, "job-4");
  EXPECT_EQ((*last3)[2].at_unix, 1004);
  EXPECT_EQ((*last3)[2].action, "POST /v1/jobs");
  EXPECT_EQ(store->ReadAudit(100)->size(), 5u);
  EXPECT_EQ(store->ReadAudit(0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store->AppendAudit({1, "tok", "", "x", "ok"}).code(), StatusCode::kInvalidArgument);
}

TEST_P(StoreTest, CommandsAndAuditCommitTogetherOrNotAtAll) {
  auto store = Open();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->AppendCommands({Json("before")}).ok());
  Result<int64_t> first = store->AppendCommandsAndAudit(
      {Json("a"), Json("b")}, {{1000, "tok-1", "POST /v1/jobs", "j-1", "ok"},
                               {1001, "tok-2", "POST /v1/jobs", "j-2", "ok"}});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(*first, 2);
  EXPECT_EQ(store->ReadCommands(0)->size(), 3u);
  ASSERT_EQ(store->ReadAudit(10)->size(), 2u);
  EXPECT_EQ((*store->ReadAudit(10))[1].target, "j-2");
  // Audit rows alone (a refused or repeated submission appends no command).
  Result<int64_t> none =
      store->AppendCommandsAndAudit({}, {{1002, "tok-1", "POST /v1/jobs", "", "bad"}});
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_EQ(*none, 0);
  EXPECT_EQ(store->ReadAudit(10)->size(), 3u);
  // One bad entry refuses the whole call: nothing of it is written.
  Result<int64_t> bad = store->AppendCommandsAndAudit(
      {Json("c")},
      {{1003, "tok-1", "POST /v1/jobs", "j-3", "ok"}, {1004, "tok-1", "", "j-4", "ok"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("audit entry 1's action is empty"));
  EXPECT_EQ(store->ReadCommands(0)->size(), 3u);
  EXPECT_EQ(store->ReadAudit(10)->size(), 3u);
  EXPECT_EQ(store->AppendCommandsAndAudit({}, {}).status().code(), StatusCode::kInvalidArgument);
  // The next append continues the sequence.
  EXPECT_EQ(store->AppendCommands({Json("after")})->first_sequence, 4);
}

TEST_P(StoreTest, UsageRowsAreCountersAddedPerDayKeyDeploymentAndPrice) {
  auto store = Open();
  ASSERT_TRUE(store);
  UsageRow a{"2026-12-07", "app", "az1", "azure-deal", 1'000'000, 2'000'000, 1, 5, 3};
  UsageRow b{"2026-12-07", "app", "aw", "", 500'000, 1'000'000, 2, 10, 6};
  ASSERT_TRUE(store->AddUsage({a, b}).ok());
  ASSERT_TRUE(store->AddUsage({a}).ok());
  UsageRow repriced = a;
  repriced.input_price_micros = 1'500'000;  // a price change starts its own row
  ASSERT_TRUE(store->AddUsage({repriced}).ok());
  Result<std::vector<UsageRow>> rows = store->ReadUsage();
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ((*rows)[0].deployment, "aw");
  EXPECT_EQ((*rows)[0].requests, 2);
  EXPECT_EQ((*rows)[1].deployment, "az1");
  EXPECT_EQ((*rows)[1].input_price_micros, 1'000'000);
  EXPECT_EQ((*rows)[1].requests, 2);
  EXPECT_EQ((*rows)[1].input_tokens, 10);
  EXPECT_EQ((*rows)[1].output_tokens, 6);
  EXPECT_EQ((*rows)[1].contract, "azure-deal");
  EXPECT_EQ((*rows)[2].input_price_micros, 1'500'000);
  UsageRow bad = a;
  bad.output_tokens = -1;
  EXPECT_EQ(store->AddUsage({b, bad}).code(), StatusCode::kInvalidArgument);
  bad = a;
  bad.key = "";
  EXPECT_EQ(store->AddUsage({bad}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store->ReadUsage()->at(0).requests, 2);  // nothing of the refused batch
}

TEST_P(StoreTest, LeadershipIsHeldByOneStoreUntilItIsDestroyed) {
  auto first = Open();
  auto second = Open();
  ASSERT_TRUE(first && second);
  Result<bool> took = first->TryAcquireLeadership();
  ASSERT_TRUE(took.ok()) << took.status().ToString();
  EXPECT_TRUE(*took);
  EXPECT_TRUE(*first->TryAcquireLeadership());  // still ours
  EXPECT_FALSE(*second->TryAcquireLeadership());
  EXPECT_FALSE(*second->TryAcquireLeadership());
  first.reset();
  // PostgreSQL frees the lock when the server has ended the first store's
  // session, a moment after the client closed it.
  bool taken = false;
  for (int i = 0; i < 100 && !taken; ++i) {
    Result<bool> r = second->TryAcquireLeadership();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    taken = *r;
    if (!taken) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(taken);
}

TEST_P(StoreTest, ConcurrentAppendersGetEverySequenceOnce) {
  auto store = Open();
  ASSERT_TRUE(store);
  constexpr int kThreads = 8, kPerThread = 150;
  std::vector<std::map<std::string, int64_t>> acked(kThreads);
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string key = "t" + std::to_string(t) + "-" + std::to_string(i);
        // Every third append also carries a second command, and every fifth
        // writer call is an audit entry, so batches mix kinds and sizes.
        std::vector<std::string> jsons = {Json(key)};
        if (i % 3 == 0) jsons.push_back(Json(key + "+"));
        Result<AppendOutcome> out = store->AppendCommands(jsons, key, key);
        if (!out.ok()) {
          ADD_FAILURE() << out.status().ToString();
          return;
        }
        acked[t][key] = out->first_sequence;
        if (i % 5 == 0) {
          EXPECT_TRUE(store->AppendAudit({i, "t", "append", key, "ok"}).ok());
        }
      }
    });
  }
  // Refusals ride in the same batches and must not fail them.
  for (int i = 0; i < 30; ++i) {
    EXPECT_EQ(store->PutSnapshot(1'000'000, "ahead").code(), StatusCode::kFailedPrecondition);
  }
  for (auto& t : threads) t.join();
  Result<std::vector<StoredCommand>> all = store->ReadCommands(0);
  ASSERT_TRUE(all.ok());
  const size_t expected = size_t{kThreads} * (kPerThread + (kPerThread + 2) / 3);
  ASSERT_EQ(all->size(), expected);
  std::map<int64_t, std::string> by_sequence;
  for (size_t i = 0; i < all->size(); ++i) {
    ASSERT_EQ((*all)[i].sequence, static_cast<int64_t>(i + 1));
    by_sequence[(*all)[i].sequence] = (*all)[i].json;
  }
  for (const auto& thread_acks : acked) {
    for (const auto& [key, first] : thread_acks) EXPECT_EQ(by_sequence[first], Json(key));
  }
  auto* sql = dynamic_cast<SqlStore*>(store.get());
  ASSERT_NE(sql, nullptr);
  const GroupCommitStats stats = sql->group_commit_stats();
  std::cout << "group commit: " << stats.requests << " writes in " << stats.batches
            << " transactions, largest batch " << stats.largest_batch << "\n";
}

TEST_P(StoreTest, ReopeningKeepsEverything) {
  {
    auto store = Open();
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->AppendCommands({Json("a"), Json("b")}, "k", "v").ok());
    ASSERT_TRUE(store->PutSnapshot(2, "snap").ok());
    ASSERT_TRUE(store->PutDispatch({"job-1", 1, "alpha", "submitted", "77"}).ok());
    ASSERT_TRUE(store->PutToken(MakeToken("tok-1", 'd')).ok());
    ASSERT_TRUE(store->AppendAudit({5, "tok-1", "POST /v1/jobs", "job-1", "ok"}).ok());
  }
  auto store = Open();
  ASSERT_TRUE(store);
  EXPECT_EQ(store->ReadCommands(0)->size(), 2u);
  EXPECT_EQ((*store->LatestSnapshot())->bytes, "snap");
  EXPECT_EQ(store->ReadDispatches()->at(0).external_id, "77");
  EXPECT_TRUE(store->FindTokenByHash(Hash('d'))->has_value());
  EXPECT_EQ(store->ReadAudit(10)->size(), 1u);
  Result<AppendOutcome> again = store->AppendCommands({Json("c")}, "k", "other");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again->existing_value, "v");
  EXPECT_EQ(store->AppendCommands({Json("d")})->first_sequence, 3);
}

// Opens the raw connection the store would use, for schema checks.
std::pair<std::unique_ptr<Backend>, std::unique_ptr<SqlConnection>> RawConnection(
    const std::string& location) {
  Result<StoreLocation> where = ParseStoreLocation(location);
  EXPECT_TRUE(where.ok());
  Result<std::unique_ptr<Backend>> backend = where->kind == StoreLocation::Kind::kSqlite
                                                 ? MakeSqliteBackend(*where)
                                                 : MakePostgresBackend(*where);
  EXPECT_TRUE(backend.ok());
  Result<std::unique_ptr<SqlConnection>> c = (*backend)->Connect();
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return {std::move(backend).value(), std::move(c).value()};
}

TEST_P(StoreTest, MigrationsAreIdempotent) {
  auto [backend, c] = RawConnection(location_);
  ASSERT_TRUE(Migrate(*c, *backend).ok());
  ASSERT_TRUE(Migrate(*c, *backend).ok());
  // Two stores opening a new database at once both succeed.
  std::vector<std::thread> threads;
  threads.reserve(2);
  for (int i = 0; i < 2; ++i) threads.emplace_back([&] { EXPECT_TRUE(Open()); });
  for (auto& t : threads) t.join();
  Result<SqlRows> rows =
      c->Query("SELECT version, name FROM schema_migrations ORDER BY version", {});
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), Migrations().size());
  for (size_t i = 0; i < rows->size(); ++i) {
    EXPECT_EQ(*CellInt((*rows)[i][0]), Migrations()[i].version);
    EXPECT_EQ(*CellText((*rows)[i][1]), Migrations()[i].name);
  }
}

// What makes a commit durable is a per-connection setting on both back ends;
// every connection the store opens must have it (the test server even runs
// with synchronous_commit=off by default: scripts/postgres.sh --fast).
TEST_P(StoreTest, EveryConnectionCommitsDurably) {
  auto [backend, c] = RawConnection(location_);
  if (GetParam() != BackendKind::kPostgres) {
    Result<SqlRows> sync = c->Query("PRAGMA synchronous", {});
    ASSERT_TRUE(sync.ok());
    if (GetParam() == BackendKind::kSqlite) {
      EXPECT_EQ(*CellInt((*sync)[0][0]), 2) << "synchronous=FULL";
    } else {
      EXPECT_EQ(*CellInt((*sync)[0][0]), 1) << "synchronous=NORMAL, as the location asked";
    }
    Result<SqlRows> journal = c->Query("PRAGMA journal_mode", {});
    ASSERT_TRUE(journal.ok());
    EXPECT_EQ(*CellText((*journal)[0][0]), "wal");
  } else {
    Result<SqlRows> sync = c->Query("SHOW synchronous_commit", {});
    ASSERT_TRUE(sync.ok()) << sync.status().ToString();
    EXPECT_EQ(*CellText((*sync)[0][0]), "on");
  }
}

TEST_P(StoreTest, RefusesADatabaseOfANewerSchema) {
  ASSERT_TRUE(Open());
  {
    auto [backend, c] = RawConnection(location_);
    ASSERT_TRUE(c->Exec("INSERT INTO schema_migrations VALUES (99, 'from the future', 0)").ok());
  }
  Result<std::unique_ptr<Store>> store = OpenStore(location_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(store.status().message(), HasSubstr("schema version 99, newer"));
}

// A PostgreSQL server restart or an administrator's pg_terminate_backend ends
// the store's sessions; the next calls reconnect (and retake the lease).
using PostgresStoreTest = StoreBackendTest;

TEST_P(PostgresStoreTest, RecoversWhenTheServerEndsItsSessions) {
  auto store = Open();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->AppendCommands({Json("before")}).ok());
  ASSERT_TRUE(store->ReadCommands(0).ok());
  ASSERT_TRUE(*store->TryAcquireLeadership());
  ASSERT_TRUE(testing::PostgresExec(server_,
                                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                    "WHERE application_name = '" +
                                        schema_ + "'")
                  .ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  Result<AppendOutcome> after = store->AppendCommands({Json("after")});
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(after->first_sequence, 2);
  Result<std::vector<StoredCommand>> all = store->ReadCommands(0);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(all->size(), 2u);
  Result<bool> lease = store->TryAcquireLeadership();
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  EXPECT_TRUE(*lease);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest,
                         ::testing::Values(BackendKind::kSqlite, BackendKind::kPostgres,
                                           BackendKind::kSqliteNormal),
                         BackendName);
INSTANTIATE_TEST_SUITE_P(Backends, PostgresStoreTest, ::testing::Values(BackendKind::kPostgres),
                         BackendName);

}  // namespace
}  // namespace polycloud::store
