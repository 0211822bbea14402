// The broker's durable state (`polycloud serve`): what must survive a crash
// or a kill -9. The core's accepted commands are the truth (the command log,
// src/scheduler/command_log.h); everything else here is bookkeeping the live
// broker needs around them: idempotency keys, the dispatch journal that keeps
// a job from being sent to a site twice, bearer tokens (hashed), the audit
// trail, and the lease that makes one broker active per store.
//
// Two back ends share one schema and one set of migrations: SQLite in WAL
// mode (the embedded default, `./polycloud.db`) and PostgreSQL 15 through
// libpq (`postgresql://...`, for a shared, replicated store; the active
// broker holds an advisory lock). A call returns only after its effects are
// durable (committed); AppendCommands is where group commit happens.
//
//   Result<std::unique_ptr<Store>> store = OpenStore("sqlite:polycloud.db");
//   Result<AppendOutcome> out = (*store)->AppendCommands({{seq_hint, json}}, "idem-key-1");
//
// Thread-safety: a Store may be called from several threads at once; each
// call is atomic (one transaction).
#ifndef POLYCLOUD_STORE_STORE_H_
#define POLYCLOUD_STORE_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "polycloud/base/status.h"

namespace polycloud::store {

// One accepted command as stored: its position in the log (1, 2, 3, ...;
// assigned by the store, gap-free) and the JSON line CommandToJson wrote.
struct StoredCommand {
  int64_t sequence = 0;
  std::string json;
};

// The result of an append that carried an idempotency key.
struct AppendOutcome {
  int64_t first_sequence = 0;  // the sequence of the first command appended
  // Set when the key had been used before: nothing was appended, and this is
  // the value recorded with the key the first time.
  std::optional<std::string> existing_value;
};

// A dispatch journal entry: a job's run sent (or about to be sent) to a site.
// Written with state "intent" before the site is asked, then "submitted" with
// the site's id, so a restart can tell "never sent" from "sent, id unknown"
// (the latter is resolved by reconciliation: the job's polycloud id is in the
// site job's name).
struct Dispatch {
  std::string job;          // polycloud job id
  uint32_t run = 0;         // RunId
  std::string site;         // site id
  std::string state;        // "intent" | "submitted" | "finished"
  std::string external_id;  // the site's job id once known ("" before)
};

struct Token {
  std::string id;      // public id (shown in audit lines; never the secret)
  std::string hash;    // hex SHA-256 of the secret; the secret is never stored
  std::string role;    // "admin" | "operator" | "viewer" | "tenant"
  std::string tenant;  // for role tenant
  int64_t created_unix = 0;
  bool revoked = false;
};

struct AuditEntry {
  int64_t at_unix = 0;
  std::string token_id;  // who
  std::string action;    // e.g. "POST /v1/jobs"
  std::string target;    // e.g. the job id
  std::string outcome;   // "ok" or the error code
};

// Tokens a gateway key used at one deployment on one UTC day, at the prices
// they were charged at (`polycloud gateway`, docs/gateway.md). Rows are
// counters: AddUsage adds to the row with the same (day, key, deployment,
// contract, prices). Keeping the prices in the row keeps spend exact (tokens ×
// price per million, rounded once when read) across price changes.
struct UsageRow {
  std::string day;                  // "2026-12-07" (UTC)
  std::string key;                  // the gateway key's id
  std::string deployment;           // the deployment's id
  std::string contract;             // the contract its spend counts toward ("" = none)
  int64_t input_price_micros = 0;   // per million input tokens
  int64_t output_price_micros = 0;  // per million output tokens
  int64_t requests = 0;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // Appends `jsons` as consecutive commands in one transaction. With a
  // non-empty `idempotency_key`: when the key is new it is recorded with
  // `key_value` in the same transaction; when it exists nothing is appended
  // and its recorded value is returned in existing_value. Without a key,
  // `key_value` is ignored. Errors (nothing appended): InvalidArgument for no
  // commands, an empty command, text that is not UTF-8 or holds a NUL, a key
  // over 256 bytes; IoError when the database fails. An IoError from a commit
  // whose answer was lost (the connection dropped during COMMIT) may still
  // have appended: retry with the same key (docs/store.md).
  virtual Result<AppendOutcome> AppendCommands(const std::vector<std::string>& jsons,
                                               std::string_view idempotency_key = {},
                                               std::string_view key_value = {}) = 0;
  // Appends `jsons` as consecutive commands (none is allowed) and `audit`
  // entries in one transaction: the broker's group commit writes a batch of
  // submissions and the audit rows of the requests that made them together,
  // so a submission is acknowledged after one commit, and its audit row is
  // never missing for a committed command. Returns the sequence of the first
  // command appended (0 when none). Errors (nothing written): those of
  // AppendCommands for a command and of AppendAudit for an entry (each names
  // its index); InvalidArgument when both lists are empty.
  virtual Result<int64_t> AppendCommandsAndAudit(const std::vector<std::string>& jsons,
                                                 const std::vector<AuditEntry>& audit) = 0;
  // Commands with sequence > `after`, in order.
  virtual Result<std::vector<StoredCommand>> ReadCommands(int64_t after) = 0;

  // A snapshot of the core's state as of command `sequence` (opaque bytes);
  // a restart loads the latest and replays the commands after it. Putting a
  // sequence again replaces its bytes; the latest (highest sequence) wins and
  // the two latest are kept. FailedPrecondition when `sequence` is past the
  // last command, InvalidArgument when negative.
  virtual Status PutSnapshot(int64_t sequence, std::string_view bytes) = 0;
  struct Snapshot {
    int64_t sequence = 0;
    std::string bytes;
  };
  virtual Result<std::optional<Snapshot>> LatestSnapshot() = 0;

  // Upsert on (job, run). InvalidArgument for an empty job or site or an
  // unknown state.
  virtual Status PutDispatch(const Dispatch& dispatch) = 0;
  virtual Result<std::vector<Dispatch>> ReadDispatches() = 0;  // by (job, run)

  // Upsert on id (revoking is putting it again with revoked = true).
  // InvalidArgument unless hash is 64 lowercase hex digits, role one of the
  // three, and tenant set exactly for role tenant; FailedPrecondition when
  // another id has the same hash.
  virtual Status PutToken(const Token& token) = 0;
  virtual Result<std::optional<Token>> FindTokenByHash(std::string_view hash) = 0;
  virtual Status AppendAudit(const AuditEntry& entry) = 0;  // action and outcome required
  // The latest `limit` (> 0) entries, oldest first.
  virtual Result<std::vector<AuditEntry>> ReadAudit(int64_t limit) = 0;

  // Adds each row's counters to the stored row of the same (day, key,
  // deployment, contract, prices), creating it when new; one transaction.
  // InvalidArgument for an empty day, key or deployment, a negative count or
  // price (nothing is added).
  virtual Status AddUsage(const std::vector<UsageRow>& rows) = 0;
  // Every row, by day, key, deployment, contract, prices.
  virtual Result<std::vector<UsageRow>> ReadUsage() = 0;

  // Becomes the active broker for this store: true when the lease is taken
  // (PostgreSQL: pg_try_advisory_lock on the session; SQLite: an exclusive
  // lock file beside the database), false when another broker holds it.
  // Called again while held, it checks the lease is still there (PostgreSQL:
  // the lock's session may have been lost with its connection; it is then
  // taken afresh if free): a broker calls it periodically and stops acting
  // when it returns false. The lease ends when the Store is destroyed or its
  // process dies.
  virtual Result<bool> TryAcquireLeadership() = 0;
};

// Opens (creating and migrating as needed) "sqlite:PATH", a bare path, or a
// "postgresql://..." / "postgres://..." URL.
Result<std::unique_ptr<Store>> OpenStore(const std::string& location);

}  // namespace polycloud::store

#endif  // POLYCLOUD_STORE_STORE_H_
