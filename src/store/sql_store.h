// The Store of include/polycloud/store/store.h over either back end (sql.h):
// validation, group commit of every write, the read connection pool. Private
// to src/store; OpenStore (store.cc) builds one. Thread-safe (store.h).
#ifndef POLYCLOUD_SRC_STORE_SQL_STORE_H_
#define POLYCLOUD_SRC_STORE_SQL_STORE_H_

#include <memory>
#include <mutex>
#include <vector>

#include "polycloud/store/store.h"
#include "src/store/group_commit.h"
#include "src/store/sql.h"

namespace polycloud::store {

class SqlStore final : public Store {
 public:
  // Connects, migrates, and is ready. Errors: those of Backend::Connect and
  // Migrate.
  static Result<std::unique_ptr<SqlStore>> Open(std::unique_ptr<Backend> backend);

  Result<AppendOutcome> AppendCommands(const std::vector<std::string>& jsons,
                                       std::string_view idempotency_key,
                                       std::string_view key_value) override;
  Result<int64_t> AppendCommandsAndAudit(const std::vector<std::string>& jsons,
                                         const std::vector<AuditEntry>& audit) override;
  Result<std::vector<StoredCommand>> ReadCommands(int64_t after) override;
  Status PutSnapshot(int64_t sequence, std::string_view bytes) override;
  Result<std::optional<Snapshot>> LatestSnapshot() override;
  Status PutDispatch(const Dispatch& dispatch) override;
  Result<std::vector<Dispatch>> ReadDispatches() override;
  Status PutToken(const Token& token) override;
  Result<std::optional<Token>> FindTokenByHash(std::string_view hash) override;
  Status AppendAudit(const AuditEntry& entry) override;
  Result<std::vector<AuditEntry>> ReadAudit(int64_t limit) override;
  Status AddUsage(const std::vector<UsageRow>& rows) override;
  Result<std::vector<UsageRow>> ReadUsage() override;
  Result<bool> TryAcquireLeadership() override;

  // How well group commit batches (for the benchmark and tests).
  GroupCommitStats group_commit_stats() const { return committer_.stats(); }

 private:
  struct AppendRequest;
  struct OpRequest;
  enum class BatchEnd { kCommitted, kRolledBack, kCommitFailed };

  explicit SqlStore(std::unique_ptr<Backend> backend);

  // Runs `op` on the write connection inside a group-committed transaction.
  // `op` returns a non-OK Status only for a failed statement (the batch is
  // then rolled back); a refusal of its own it records elsewhere, having
  // written nothing.
  Status Write(std::function<Status(SqlConnection&)> op);
  void RunBatch(std::span<GroupRequest* const> batch);
  BatchEnd RunTransaction(std::span<GroupRequest* const> batch, Status& error);
  Status RunAppends(const std::vector<AppendRequest*>& appends);

  // Runs `read` on a pooled connection of its own.
  template <typename T>
  Result<T> Read(const std::function<Result<T>(SqlConnection&)>& read);

  std::unique_ptr<Backend> backend_;
  std::unique_ptr<SqlConnection> writer_;  // used by the batch leader only
  GroupCommitter committer_;
  std::mutex readers_mu_;
  std::vector<std::unique_ptr<SqlConnection>> idle_readers_;
};

}  // namespace polycloud::store

#endif  // POLYCLOUD_SRC_STORE_SQL_STORE_H_
