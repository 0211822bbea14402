#include "src/store/sql_store.h"

#include <algorithm>
#include <unordered_map>

#include "polycloud/base/text.h"
#include "src/store/migrations.h"

namespace polycloud::store {
namespace {

// Requests per group-commit batch, and rows per INSERT statement (well under
// both SQLite's 32766 and PostgreSQL's 65535 parameters).
constexpr size_t kMaxBatch = 1024;
constexpr size_t kMaxRowsPerStatement = 256;
constexpr size_t kMaxIdleReaders = 8;
constexpr size_t kMaxKeyBytes = 256;

// Text the store keeps: UTF-8 (PostgreSQL refuses anything else) without NUL
// (PostgreSQL text cannot hold it), so both back ends accept the same values.
Status CheckText(std::string_view what, std::string_view value, bool required) {
  if (required && value.empty())
    return InvalidArgument("store: " + std::string(what) + " is empty");
  if (value.find('\0') != std::string_view::npos) {
    return InvalidArgument("store: " + std::string(what) + " contains a NUL byte at offset " +
                           std::to_string(value.find('\0')));
  }
  if (const auto bad = FindInvalidUtf8(value)) {
    return InvalidArgument("store: " + std::string(what) + " is not valid UTF-8 at offset " +
                           std::to_string(bad->offset));
  }
  return Status::Ok();
}

bool IsLowerHexSha256(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// "INSERT INTO table (a, b) VALUES ($1, $2), ($3, $4), ..." for `rows` rows.
std::string MultiRowInsert(std::string_view head, size_t columns, size_t rows) {
  std::string sql(head);
  sql += " VALUES ";
  size_t n = 0;
  for (size_t r = 0; r < rows; ++r) {
    sql += r == 0 ? "(" : ", (";
    for (size_t c = 0; c < columns; ++c) sql += (c == 0 ? "$" : ", $") + std::to_string(++n);
    sql += ")";
  }
  return sql;
}

// How many of `remaining` rows the next statement carries: a power of two when
// statements are reused (few distinct texts to prepare), else all it may.
size_t NextChunk(size_t remaining, bool fixed_shapes) {
  size_t n = std::min(remaining, kMaxRowsPerStatement);
  if (fixed_shapes) {
    size_t p = 1;
    while (p * 2 <= n) p *= 2;
    n = p;
  }
  return n;
}

// Inserts `rows` (each `columns` params, flattened) in as few statements as
// the backend likes.
Status InsertRows(SqlConnection& c, const Backend& backend, std::string_view head, size_t columns,
                  const std::vector<SqlParam>& flat) {
  const size_t rows = flat.size() / columns;
  for (size_t done = 0; done < rows;) {
    const size_t n = NextChunk(rows - done, backend.ReusesStatements());
    const std::span<const SqlParam> params(flat.data() + done * columns, n * columns);
    POLYCLOUD_RETURN_IF_ERROR(c.Query(MultiRowInsert(head, columns, n), params).status());
    done += n;
  }
  return Status::Ok();
}

Result<int64_t> LastSequence(SqlConnection& c) {
  POLYCLOUD_ASSIGN_OR_RETURN(SqlRows rows,
                             c.Query("SELECT COALESCE(MAX(sequence), 0) FROM commands", {}));
  return CellInt(rows.at(0).at(0));
}

}  // namespace

struct SqlStore::AppendRequest final : GroupRequest {
  const std::vector<std::string>* jsons = nullptr;
  std::string_view key;
  std::string_view value;
  AppendOutcome outcome;
  Status status;
};

struct SqlStore::OpRequest final : GroupRequest {
  std::function<Status(SqlConnection&)> op;
  Status status;
};

SqlStore::SqlStore(std::unique_ptr<Backend> backend)
    : backend_(std::move(backend)),
      committer_([this](std::span<GroupRequest* const> batch) { RunBatch(batch); }, kMaxBatch) {}

Result<std::unique_ptr<SqlStore>> SqlStore::Open(std::unique_ptr<Backend> backend) {
  std::unique_ptr<SqlStore> store(new SqlStore(std::move(backend)));
  POLYCLOUD_ASSIGN_OR_RETURN(store->writer_, store->backend_->Connect());
  POLYCLOUD_RETURN_IF_ERROR(Migrate(*store->writer_, *store->backend_));
  return store;
}

// ---------------------------------------------------------------- writes

void SqlStore::RunBatch(std::span<GroupRequest* const> batch) {
  const auto finish_all = [&](const Status& status) {
    for (GroupRequest* r : batch) {
      if (auto* a = dynamic_cast<AppendRequest*>(r)) a->status = status;
      if (auto* o = dynamic_cast<OpRequest*>(r)) o->status = status;
    }
  };
  const auto ensure_writer = [&]() -> Status {
    if (writer_ && writer_->Healthy()) return Status::Ok();
    writer_.reset();
    POLYCLOUD_ASSIGN_OR_RETURN(writer_, backend_->Connect());
    return Status::Ok();
  };
  if (Status s = ensure_writer(); !s.ok()) return finish_all(s);
  Status error;
  BatchEnd end = RunTransaction(batch, error);
  if (end == BatchEnd::kRolledBack && !writer_->Healthy()) {
    // The session died before COMMIT was sent (a server restart, a
    // terminated backend): the server dropped the transaction, so running it
    // again on a new connection applies it once.
    if (Status s = ensure_writer(); !s.ok()) return finish_all(s);
    end = RunTransaction(batch, error);
  }
  if (end == BatchEnd::kCommitted) return finish_all(Status::Ok());
  // A COMMIT that failed may still have happened (PostgreSQL: the connection
  // dropped before the answer), so running the requests again could apply
  // them twice: they all fail, and callers retry with their idempotency keys.
  if (end == BatchEnd::kCommitFailed || batch.size() == 1) return finish_all(error);
  // Rolled back before COMMIT: nothing happened. Run each request alone so
  // that one failing statement fails only its own caller.
  for (GroupRequest* r : batch) {
    const std::span<GroupRequest* const> one(&r, 1);
    Status single;
    if (Status s = ensure_writer(); !s.ok()) {
      single = s;
    } else if (RunTransaction(one, single) == BatchEnd::kCommitted) {
      single = Status::Ok();
    }
    if (auto* a = dynamic_cast<AppendRequest*>(r)) a->status = single;
    if (auto* o = dynamic_cast<OpRequest*>(r)) o->status = single;
  }
}

SqlStore::BatchEnd SqlStore::RunTransaction(std::span<GroupRequest* const> batch, Status& error) {
  SqlConnection& c = *writer_;
  std::vector<AppendRequest*> appends;
  std::vector<OpRequest*> ops;
  for (GroupRequest* r : batch) {
    if (auto* a = dynamic_cast<AppendRequest*>(r)) appends.push_back(a);
    if (auto* o = dynamic_cast<OpRequest*>(r)) ops.push_back(o);
  }
  error = c.Exec(backend_->BeginWrite());
  if (error.ok() && !appends.empty()) error = RunAppends(appends);
  for (OpRequest* o : ops) {
    if (error.ok()) error = o->op(c);
  }
  if (!error.ok()) {
    (void)c.Exec("ROLLBACK");
    return BatchEnd::kRolledBack;
  }
  error = c.Exec("COMMIT");
  if (!error.ok()) {
    (void)c.Exec("ROLLBACK");
    return BatchEnd::kCommitFailed;
  }
  return BatchEnd::kCommitted;
}

// All appends of a batch: one read of the last sequence, one lookup of the
// keys, then the rows in a few multi-row INSERTs. Requests are taken in order,
// so a key used twice in one batch appends once and the second request gets
// the first one's value, as if they had come one after the other.
Status SqlStore::RunAppends(const std::vector<AppendRequest*>& appends) {
  SqlConnection& c = *writer_;
  POLYCLOUD_RETURN_IF_ERROR(c.Exec(backend_->LockCommandLog()));
  POLYCLOUD_ASSIGN_OR_RETURN(int64_t last, LastSequence(c));

  struct Recorded {
    std::string value;
    int64_t first_sequence;
  };
  std::unordered_map<std::string, Recorded> keys;
  std::vector<SqlParam> lookup;
  for (const AppendRequest* a : appends) {
    if (!a->key.empty()) lookup.push_back(SqlParam::Text(a->key));
  }
  for (size_t done = 0; done < lookup.size();) {
    const size_t n = std::min(lookup.size() - done, kMaxRowsPerStatement);
    std::string sql = "SELECT key, value, first_sequence FROM idempotency_keys WHERE key IN (";
    for (size_t i = 0; i < n; ++i) sql += (i == 0 ? "$" : ", $") + std::to_string(i + 1);
    sql += ")";
    POLYCLOUD_ASSIGN_OR_RETURN(SqlRows rows, c.Query(sql, std::span(lookup.data() + done, n)));
    for (const SqlRow& row : rows) {
      POLYCLOUD_ASSIGN_OR_RETURN(std::string key, CellText(row.at(0)));
      POLYCLOUD_ASSIGN_OR_RETURN(std::string value, CellText(row.at(1)));
      POLYCLOUD_ASSIGN_OR_RETURN(int64_t first, CellInt(row.at(2)));
      keys[std::move(key)] = {std::move(value), first};
    }
    done += n;
  }

  std::vector<SqlParam> command_rows, key_rows;
  for (AppendRequest* a : appends) {
    a->outcome = AppendOutcome{};
    if (!a->key.empty()) {
      if (auto it = keys.find(std::string(a->key)); it != keys.end()) {
        a->outcome.first_sequence = it->second.first_sequence;
        a->outcome.existing_value = it->second.value;
        continue;
      }
    }
    a->outcome.first_sequence = last + 1;
    for (const std::string& json : *a->jsons) {
      command_rows.push_back(SqlParam::Int(++last));
      command_rows.push_back(SqlParam::Text(json));
    }
    if (!a->key.empty()) {
      keys[std::string(a->key)] = {std::string(a->value), a->outcome.first_sequence};
      key_rows.push_back(SqlParam::Text(a->key));
      key_rows.push_back(SqlParam::Text(a->value));
      key_rows.push_back(SqlParam::Int(a->outcome.first_sequence));
    }
  }
  POLYCLOUD_RETURN_IF_ERROR(
      InsertRows(c, *backend_, "INSERT INTO commands (sequence, json)", 2, command_rows));
  return InsertRows(c, *backend_, "INSERT INTO idempotency_keys (key, value, first_sequence)", 3,
                    key_rows);
}

Status SqlStore::Write(std::function<Status(SqlConnection&)> op) {
  OpRequest request;
  request.op = std::move(op);
  committer_.Submit(request);
  return request.status;
}

Result<AppendOutcome> SqlStore::AppendCommands(const std::vector<std::string>& jsons,
                                               std::string_view idempotency_key,
                                               std::string_view key_value) {
  if (jsons.empty()) return InvalidArgument("store: AppendCommands with no commands");
  for (size_t i = 0; i < jsons.size(); ++i) {
    POLYCLOUD_RETURN_IF_ERROR(CheckText("command " + std::to_string(i), jsons[i], true));
  }
  if (idempotency_key.size() > kMaxKeyBytes) {
    return InvalidArgument("store: the idempotency key is " +
                           std::to_string(idempotency_key.size()) + " bytes, more than " +
                           std::to_string(kMaxKeyBytes));
  }
  POLYCLOUD_RETURN_IF_ERROR(CheckText("the idempotency key", idempotency_key, false));
  // Without a key the value has nowhere to go; it is ignored, not an error,
  // so callers may pass what they would record whether or not a key came.
  if (idempotency_key.empty()) key_value = {};
  POLYCLOUD_RETURN_IF_ERROR(CheckText("the idempotency key's value", key_value, false));
  AppendRequest request;
  request.jsons = &jsons;
  request.key = idempotency_key;
  request.value = key_value;
  committer_.Submit(request);
  if (!request.status.ok()) return request.status;
  return request.outcome;
}

Status SqlStore::PutSnapshot(int64_t sequence, std::string_view bytes) {
  if (sequence < 0) {
    return InvalidArgument("store: snapshot sequence " + std::to_string(sequence) + " is negative");
  }
  Status refusal;
  POLYCLOUD_RETURN_IF_ERROR(Write([&](SqlConnection& c) -> Status {
    POLYCLOUD_ASSIGN_OR_RETURN(int64_t last, LastSequence(c));
    if (sequence > last) {
      refusal = FailedPrecondition("store: a snapshot as of command " + std::to_string(sequence) +
                                   ", but the command log ends at " + std::to_string(last));
      return Status::Ok();
    }
    const SqlParam put[] = {SqlParam::Int(sequence), SqlParam::Blob(bytes)};
    POLYCLOUD_RETURN_IF_ERROR(c.Query("INSERT INTO snapshots (sequence, bytes) VALUES ($1, $2) "
                                      "ON CONFLICT (sequence) DO UPDATE SET bytes = excluded.bytes",
                                      put)
                                  .status());
    // Keep the latest two: the newest, and one to fall back on.
    return c
        .Query(
            "DELETE FROM snapshots WHERE sequence < (SELECT sequence FROM snapshots "
            "ORDER BY sequence DESC LIMIT 1 OFFSET 1)",
            {})
        .status();
  }));
  return refusal;
}

Status SqlStore::PutDispatch(const Dispatch& d) {
  POLYCLOUD_RETURN_IF_ERROR(CheckText("the dispatch's job", d.job, true));
  POLYCLOUD_RETURN_IF_ERROR(CheckText("the dispatch's site", d.site, true));
  POLYCLOUD_RETURN_IF_ERROR(CheckText("the dispatch's external id", d.external_id, false));
  if (d.state != "intent" && d.state != "submitted" && d.state != "finished") {
    return InvalidArgument("store: dispatch state " + QuoteExcerpt(d.state) +
                           ": expected \"intent\", \"submitted\" or \"finished\"");
  }
  return Write([&](SqlConnection& c) {
    const SqlParam params[] = {SqlParam::Text(d.job), SqlParam::Int(d.run), SqlParam::Text(d.site),
                               SqlParam::Text(d.state), SqlParam::Text(d.external_id)};
    return c
        .Query(
            "INSERT INTO dispatches (job, run, site, state, external_id) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (job, run) DO UPDATE SET "
            "site = excluded.site, state = excluded.state, external_id = excluded.external_id",
            params)
        .status();
  });
}

Status SqlStore::PutToken(const Token& t) {
  POLYCLOUD_RETURN_IF_ERROR(CheckText("the token's id", t.id, true));
  if (!IsLowerHexSha256(t.hash)) {
    return InvalidArgument("store: token " + QuoteExcerpt(t.id) +
                           ": hash must be 64 lowercase hex digits (SHA-256), found " +
                           QuoteExcerpt(t.hash, 20));
  }
  if (t.role != "admin" && t.role != "operator" && t.role != "viewer" && t.role != "tenant") {
    return InvalidArgument("store: token " + QuoteExcerpt(t.id) + ": role " + QuoteExcerpt(t.role) +
                           ": expected \"admin\", \"operator\", \"viewer\" or \"tenant\"");
  }
  POLYCLOUD_RETURN_IF_ERROR(CheckText("the token's tenant", t.tenant, t.role == "tenant"));
  if (t.role != "tenant" && !t.tenant.empty()) {
    return InvalidArgument("store: token " + QuoteExcerpt(t.id) + ": role " + t.role +
                           " has no tenant, found " + QuoteExcerpt(t.tenant));
  }
  Status refusal;
  POLYCLOUD_RETURN_IF_ERROR(Write([&](SqlConnection& c) -> Status {
    const SqlParam other[] = {SqlParam::Text(t.hash), SqlParam::Text(t.id)};
    POLYCLOUD_ASSIGN_OR_RETURN(
        SqlRows rows, c.Query("SELECT id FROM tokens WHERE hash = $1 AND id <> $2", other));
    if (!rows.empty()) {
      refusal = FailedPrecondition("store: token " + QuoteExcerpt(t.id) +
                                   ": another token has the same hash");
      return Status::Ok();
    }
    const SqlParam put[] = {SqlParam::Text(t.id),          SqlParam::Text(t.hash),
                            SqlParam::Text(t.role),        SqlParam::Text(t.tenant),
                            SqlParam::Int(t.created_unix), SqlParam::Int(t.revoked ? 1 : 0)};
    return c
        .Query(
            "INSERT INTO tokens (id, hash, role, tenant, created_unix, revoked) "
            "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO UPDATE SET "
            "hash = excluded.hash, role = excluded.role, tenant = excluded.tenant, "
            "created_unix = excluded.created_unix, revoked = excluded.revoked",
            put)
        .status();
  }));
  return refusal;
}

namespace {
Status CheckAudit(const AuditEntry& e, const std::string& prefix) {
  POLYCLOUD_RETURN_IF_ERROR(CheckText(prefix + "token id", e.token_id, false));
  POLYCLOUD_RETURN_IF_ERROR(CheckText(prefix + "action", e.action, true));
  POLYCLOUD_RETURN_IF_ERROR(CheckText(prefix + "target", e.target, false));
  return CheckText(prefix + "outcome", e.outcome, true);
}
}  // namespace

Result<int64_t> SqlStore::AppendCommandsAndAudit(const std::vector<std::string>& jsons,
                                                 const std::vector<AuditEntry>& audit) {
  if (jsons.empty() && audit.empty()) {
    return InvalidArgument("store: AppendCommandsAndAudit with no commands and no audit entries");
  }
  for (size_t i = 0; i < jsons.size(); ++i) {
    POLYCLOUD_RETURN_IF_ERROR(CheckText("command " + std::to_string(i), jsons[i], true));
  }
  for (size_t i = 0; i < audit.size(); ++i) {
    POLYCLOUD_RETURN_IF_ERROR(CheckAudit(audit[i], "audit entry " + std::to_string(i) + "'s "));
  }
  int64_t first = 0;
  POLYCLOUD_RETURN_IF_ERROR(Write([&](SqlConnection& c) -> Status {
    std::vector<SqlParam> command_rows, audit_rows;
    if (!jsons.empty()) {
      POLYCLOUD_RETURN_IF_ERROR(c.Exec(backend_->LockCommandLog()));
      POLYCLOUD_ASSIGN_OR_RETURN(int64_t last, LastSequence(c));
      first = last + 1;
      command_rows.reserve(jsons.size() * 2);
      for (const std::string& json : jsons) {
        command_rows.push_back(SqlParam::Int(++last));
        command_rows.push_back(SqlParam::Text(json));
      }
    }
    audit_rows.reserve(audit.size() * 5);
    for (const AuditEntry& e : audit) {
      audit_rows.push_back(SqlParam::Int(e.at_unix));
      audit_rows.push_back(SqlParam::Text(e.token_id));
      audit_rows.push_back(SqlParam::Text(e.action));
      audit_rows.push_back(SqlParam::Text(e.target));
      audit_rows.push_back(SqlParam::Text(e.outcome));
    }
    POLYCLOUD_RETURN_IF_ERROR(
        InsertRows(c, *backend_, "INSERT INTO commands (sequence, json)", 2, command_rows));
    return InsertRows(c, *backend_,
                      "INSERT INTO audit (at_unix, token_id, action, target, outcome)", 5,
                      audit_rows);
  }));
  return first;
}

Status SqlStore::AppendAudit(const AuditEntry& e) {
  POLYCLOUD_RETURN_IF_ERROR(CheckAudit(e, "the audit entry's "));
  return Write([&](SqlConnection& c) {
    const SqlParam params[] = {SqlParam::Int(e.at_unix), SqlParam::Text(e.token_id),
                               SqlParam::Text(e.action), SqlParam::Text(e.target),
                               SqlParam::Text(e.outcome)};
    return c
        .Query(
            "INSERT INTO audit (at_unix, token_id, action, target, outcome) "
            "VALUES ($1, $2, $3, $4, $5)",
            params)
        .status();
  });
}

Result<bool> SqlStore::TryAcquireLeadership() { return backend_->TryAcquireLeadership(); }

// ---------------------------------------------------------------- reads

template <typename T>
Result<T> SqlStore::Read(const std::function<Result<T>(SqlConnection&)>& read) {
  for (int attempt = 0;; ++attempt) {
    std::unique_ptr<SqlConnection> c;
    {
      std::lock_guard lock(readers_mu_);
      if (!idle_readers_.empty()) {
        c = std::move(idle_readers_.back());
        idle_readers_.pop_back();
      }
    }
    if (!c) {
      POLYCLOUD_ASSIGN_OR_RETURN(c, backend_->Connect());
    }
    Result<T> result = read(*c);
    if (c->Healthy()) {
      std::lock_guard lock(readers_mu_);
      if (idle_readers_.size() < kMaxIdleReaders) idle_readers_.push_back(std::move(c));
      return result;
    }
    // The connection died (a server restart): a read is safe to run again,
    // once, on a new one.
    if (result.ok() || attempt == 1) return result;
  }
}

Result<std::vector<StoredCommand>> SqlStore::ReadCommands(int64_t after) {
  return Read<std::vector<StoredCommand>>(
      [&](SqlConnection& c) -> Result<std::vector<StoredCommand>> {
        const SqlParam params[] = {SqlParam::Int(after)};
        POLYCLOUD_ASSIGN_OR_RETURN(
            SqlRows rows,
            c.Query("SELECT sequence, json FROM commands WHERE sequence > $1 ORDER BY sequence",
                    params));
        std::vector<StoredCommand> out;
        out.reserve(rows.size());
        for (SqlRow& row : rows) {
          POLYCLOUD_ASSIGN_OR_RETURN(int64_t sequence, CellInt(row.at(0)));
          POLYCLOUD_ASSIGN_OR_RETURN(std::string json, CellText(row.at(1)));
          out.push_back({sequence, std::move(json)});
        }
        return out;
      });
}

Result<std::optional<Store::Snapshot>> SqlStore::LatestSnapshot() {
  return Read<std::optional<Snapshot>>([&](SqlConnection& c) -> Result<std::optional<Snapshot>> {
    POLYCLOUD_ASSIGN_OR_RETURN(
        SqlRows rows,
        c.Query("SELECT sequence, bytes FROM snapshots ORDER BY sequence DESC LIMIT 1", {}));
    if (rows.empty()) return std::optional<Snapshot>();
    Snapshot s;
    POLYCLOUD_ASSIGN_OR_RETURN(s.sequence, CellInt(rows[0].at(0)));
    POLYCLOUD_ASSIGN_OR_RETURN(s.bytes, CellText(rows[0].at(1)));
    return std::optional<Snapshot>(std::move(s));
  });
}

Result<std::vector<Dispatch>> SqlStore::ReadDispatches() {
  return Read<std::vector<Dispatch>>([&](SqlConnection& c) -> Result<std::vector<Dispatch>> {
    POLYCLOUD_ASSIGN_OR_RETURN(SqlRows rows,
                               c.Query("SELECT job, run, site, state, external_id FROM dispatches "
                                       "ORDER BY job, run",
                                       {}));
    std::vector<Dispatch> out;
    for (const SqlRow& row : rows) {
      Dispatch d;
      POLYCLOUD_ASSIGN_OR_RETURN(d.job, CellText(row.at(0)));
      POLYCLOUD_ASSIGN_OR_RETURN(int64_t run, CellInt(row.at(1)));
      d.run = static_cast<uint32_t>(run);
      POLYCLOUD_ASSIGN_OR_RETURN(d.site, CellText(row.at(2)));
      POLYCLOUD_ASSIGN_OR_RETURN(d.state, CellText(row.at(3)));
      POLYCLOUD_ASSIGN_OR_RETURN(d.external_id, CellText(row.at(4)));
      out.push_back(std::move(d));
    }
    return out;
  });
}

Result<std::optional<Token>> SqlStore::FindTokenByHash(std::string_view hash) {
  POLYCLOUD_RETURN_IF_ERROR(CheckText("the token hash", hash, false));
  return Read<std::optional<Token>>([&](SqlConnection& c) -> Result<std::optional<Token>> {
    const SqlParam params[] = {SqlParam::Text(hash)};
    POLYCLOUD_ASSIGN_OR_RETURN(
        SqlRows rows, c.Query("SELECT id, hash, role, tenant, created_unix, revoked FROM tokens "
                              "WHERE hash = $1",
                              params));
    if (rows.empty()) return std::optional<Token>();
    const SqlRow& row = rows[0];
    Token t;
    POLYCLOUD_ASSIGN_OR_RETURN(t.id, CellText(row.at(0)));
    POLYCLOUD_ASSIGN_OR_RETURN(t.hash, CellText(row.at(1)));
    POLYCLOUD_ASSIGN_OR_RETURN(t.role, CellText(row.at(2)));
    POLYCLOUD_ASSIGN_OR_RETURN(t.tenant, CellText(row.at(3)));
    POLYCLOUD_ASSIGN_OR_RETURN(t.created_unix, CellInt(row.at(4)));
    POLYCLOUD_ASSIGN_OR_RETURN(int64_t revoked, CellInt(row.at(5)));
    t.revoked = revoked != 0;
    return std::optional<Token>(std::move(t));
  });
}

Result<std::vector<AuditEntry>> SqlStore::ReadAudit(int64_t limit) {
  if (limit <= 0) {
    return InvalidArgument("store: ReadAudit limit " + std::to_string(limit) + " must be positive");
  }
  return Read<std::vector<AuditEntry>>([&](SqlConnection& c) -> Result<std::vector<AuditEntry>> {
    const SqlParam params[] = {SqlParam::Int(limit)};
    POLYCLOUD_ASSIGN_OR_RETURN(
        SqlRows rows, c.Query("SELECT at_unix, token_id, action, target, outcome FROM "
                              "(SELECT id, at_unix, token_id, action, target, outcome FROM audit "
                              "ORDER BY id DESC LIMIT $1) AS latest ORDER BY id",
                              params));
    std::vector<AuditEntry> out;
    for (const SqlRow& row : rows) {
      AuditEntry e;
      POLYCLOUD_ASSIGN_OR_RETURN(e.at_unix, CellInt(row.at(0)));
      POLYCLOUD_ASSIGN_OR_RETURN(e.token_id, CellText(row.at(1)));
      POLYCLOUD_ASSIGN_OR_RETURN(e.action, CellText(row.at(2)));
      POLYCLOUD_ASSIGN_OR_RETURN(e.target, CellText(row.at(3)));
      POLYCLOUD_ASSIGN_OR_RETURN(e.outcome, CellText(row.at(4)));
      out.push_back(std::move(e));
    }
    return out;
  });
}

Status SqlStore::AddUsage(const std::vector<UsageRow>& rows) {
  for (const UsageRow& r : rows) {
    POLYCLOUD_RETURN_IF_ERROR(CheckText("the usage row's day", r.day, true));
    POLYCLOUD_RETURN_IF_ERROR(CheckText("the usage row's key", r.key, true));
    POLYCLOUD_RETURN_IF_ERROR(CheckText("the usage row's deployment", r.deployment, true));
    POLYCLOUD_RETURN_IF_ERROR(CheckText("the usage row's contract", r.contract, false));
    if (r.input_price_micros < 0 || r.output_price_micros < 0 || r.requests < 0 ||
        r.input_tokens < 0 || r.output_tokens < 0) {
      return InvalidArgument("store: usage of key " + QuoteExcerpt(r.key) + " at " +
                             QuoteExcerpt(r.deployment) +
                             ": counts and prices must not be negative");
    }
  }
  if (rows.empty()) return Status::Ok();
  return Write([&](SqlConnection& c) -> Status {
    for (const UsageRow& r : rows) {
      const SqlParam params[] = {SqlParam::Text(r.day),
                                 SqlParam::Text(r.key),
                                 SqlParam::Text(r.deployment),
                                 SqlParam::Text(r.contract),
                                 SqlParam::Int(r.input_price_micros),
                                 SqlParam::Int(r.output_price_micros),
                                 SqlParam::Int(r.requests),
                                 SqlParam::Int(r.input_tokens),
                                 SqlParam::Int(r.output_tokens)};
      POLYCLOUD_RETURN_IF_ERROR(
          c.Query("INSERT INTO gateway_usage (day, key, deployment, contract, input_price_micros, "
                  "output_price_micros, requests, input_tokens, output_tokens) "
                  "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
                  "ON CONFLICT (day, key, deployment, contract, input_price_micros, "
                  "output_price_micros) DO UPDATE SET "
                  "requests = gateway_usage.requests + excluded.requests, "
                  "input_tokens = gateway_usage.input_tokens + excluded.input_tokens, "
                  "output_tokens = gateway_usage.output_tokens + excluded.output_tokens",
                  params)
              .status());
    }
    return Status::Ok();
  });
}

Result<std::vector<UsageRow>> SqlStore::ReadUsage() {
  return Read<std::vector<UsageRow>>([&](SqlConnection& c) -> Result<std::vector<UsageRow>> {
    POLYCLOUD_ASSIGN_OR_RETURN(
        SqlRows rows,
        c.Query("SELECT day, key, deployment, contract, input_price_micros, output_price_micros, "
                "requests, input_tokens, output_tokens FROM gateway_usage ORDER BY day, key, "
                "deployment, contract, input_price_micros, output_price_micros",
                {}));
    std::vector<UsageRow> out;
    for (const SqlRow& row : rows) {
      UsageRow u;
      POLYCLOUD_ASSIGN_OR_RETURN(u.day, CellText(row.at(0)));
      POLYCLOUD_ASSIGN_OR_RETURN(u.key, CellText(row.at(1)));
      POLYCLOUD_ASSIGN_OR_RETURN(u.deployment, CellText(row.at(2)));
      POLYCLOUD_ASSIGN_OR_RETURN(u.contract, CellText(row.at(3)));
      POLYCLOUD_ASSIGN_OR_RETURN(u.input_price_micros, CellInt(row.at(4)));
      POLYCLOUD_ASSIGN_OR_RETURN(u.output_price_micros, CellInt(row.at(5)));
      POLYCLOUD_ASSIGN_OR_RETURN(u.requests, CellInt(row.at(6)));
      POLYCLOUD_ASSIGN_OR_RETURN(u.input_tokens, CellInt(row.at(7)));
      POLYCLOUD_ASSIGN_OR_RETURN(u.output_tokens, CellInt(row.at(8)));
      out.push_back(std::move(u));
    }
    return out;
  });
}

}  // namespace polycloud::store
