#include "src/store/migrations.h"

#include <ctime>
#include <map>

namespace polycloud::store {
namespace {

// Version 1: everything `serve` keeps. Sequences are assigned by the store
// (max + 1 under the write lock), not by a database sequence, because those
// leave gaps when a transaction rolls back.
constexpr std::string_view kInitialSchema = R"sql(
CREATE TABLE commands (
  sequence {{int64_key}} CHECK (sequence > 0),
  json TEXT NOT NULL
);
CREATE TABLE idempotency_keys (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  first_sequence BIGINT NOT NULL
);
CREATE TABLE snapshots (
  sequence {{int64_key}} CHECK (sequence >= 0),
  bytes {{bytes}} NOT NULL
);
CREATE TABLE dispatches (
  job TEXT NOT NULL,
  run BIGINT NOT NULL,
  site TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('intent', 'submitted', 'finished')),
  external_id TEXT NOT NULL,
  PRIMARY KEY (job, run)
);
CREATE TABLE tokens (
  id TEXT PRIMARY KEY,
  hash TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'tenant')),
  tenant TEXT NOT NULL,
  created_unix BIGINT NOT NULL,
  revoked INTEGER NOT NULL CHECK (revoked IN (0, 1))
);
CREATE TABLE audit (
  id {{auto_id}},
  at_unix BIGINT NOT NULL,
  token_id TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  outcome TEXT NOT NULL
);
)sql";

// Version 2: the read-only `viewer` role (the dashboard on a wall screen).
// A CHECK constraint cannot be altered in SQLite, so the table is rebuilt
// (the same statements work on PostgreSQL).
constexpr std::string_view kViewerRole = R"sql(
CREATE TABLE tokens_v2 (
  id TEXT PRIMARY KEY,
  hash TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'viewer', 'tenant')),
  tenant TEXT NOT NULL,
  created_unix BIGINT NOT NULL,
  revoked INTEGER NOT NULL CHECK (revoked IN (0, 1))
);
INSERT INTO tokens_v2 (id, hash, role, tenant, created_unix, revoked)
  SELECT id, hash, role, tenant, created_unix, revoked FROM tokens;
DROP TABLE tokens;
ALTER TABLE tokens_v2 RENAME TO tokens;
)sql";

// Version 3: the gateway's token accounting (UsageRow in store.h).
constexpr std::string_view kGatewayUsage = R"sql(
CREATE TABLE gateway_usage (
  day TEXT NOT NULL,
  key TEXT NOT NULL,
  deployment TEXT NOT NULL,
  contract TEXT NOT NULL,
  input_price_micros BIGINT NOT NULL CHECK (input_price_micros >= 0),
  output_price_micros BIGINT NOT NULL CHECK (output_price_micros >= 0),
  requests BIGINT NOT NULL,
  input_tokens BIGINT NOT NULL,
  output_tokens BIGINT NOT NULL,
  PRIMARY KEY (day, key, deployment, contract, input_price_micros, output_price_micros)
);
)sql";

constexpr Migration kMigrations[] = {
    {1, "initial schema", kInitialSchema},
    {2, "viewer role", kViewerRole},
    {3, "gateway usage", kGatewayUsage},
};

void ReplaceAll(std::string& text, std::string_view from, std::string_view to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

// The body of Migrate, inside the transaction.
Status MigrateLocked(SqlConnection& connection, const Backend& backend) {
  POLYCLOUD_RETURN_IF_ERROR(
      connection.Exec("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, "
                      "name TEXT NOT NULL, applied_unix BIGINT NOT NULL)"));
  POLYCLOUD_ASSIGN_OR_RETURN(SqlRows rows,
                             connection.Query("SELECT version, name FROM schema_migrations", {}));
  std::map<int64_t, std::string> applied;
  for (const SqlRow& row : rows) {
    POLYCLOUD_ASSIGN_OR_RETURN(int64_t version, CellInt(row.at(0)));
    POLYCLOUD_ASSIGN_OR_RETURN(applied[version], CellText(row.at(1)));
  }
  const std::span<const Migration> known = Migrations();
  for (const auto& [version, name] : applied) {
    const bool is_known = version >= 1 && version <= static_cast<int64_t>(known.size());
    if (!is_known) {
      return FailedPrecondition(backend.display() + ": the database is at schema version " +
                                std::to_string(version) + ", newer than this polycloud knows (" +
                                std::to_string(known.size()) + "); use a newer polycloud");
    }
    if (known[version - 1].name != name) {
      return FailedPrecondition(backend.display() + ": schema version " + std::to_string(version) +
                                " is recorded as \"" + name + "\", expected \"" +
                                std::string(known[version - 1].name) +
                                "\": not a polycloud store, or one from another build");
    }
  }
  for (const Migration& m : known) {
    if (applied.count(m.version)) continue;
    POLYCLOUD_RETURN_IF_ERROR(connection.Exec(RenderMigration(m, backend)));
    const SqlParam params[] = {SqlParam::Int(m.version), SqlParam::Text(m.name),
                               SqlParam::Int(static_cast<int64_t>(std::time(nullptr)))};
    POLYCLOUD_RETURN_IF_ERROR(
        connection
            .Query(
                "INSERT INTO schema_migrations (version, name, applied_unix) VALUES ($1, $2, $3)",
                params)
            .status());
  }
  return Status::Ok();
}

}  // namespace

std::span<const Migration> Migrations() { return kMigrations; }

std::string RenderMigration(const Migration& migration, const Backend& backend) {
  std::string sql(migration.sql);
  ReplaceAll(sql, "{{bytes}}", backend.BytesType());
  ReplaceAll(sql, "{{int64_key}}", backend.Int64KeyColumn());
  ReplaceAll(sql, "{{auto_id}}", backend.AutoIdColumn());
  return sql;
}

Status Migrate(SqlConnection& connection, const Backend& backend) {
  POLYCLOUD_RETURN_IF_ERROR(connection.Exec(backend.BeginWrite()));
  Status status = connection.Exec(backend.LockMigrations());
  if (status.ok()) status = MigrateLocked(connection, backend);
  if (status.ok()) status = connection.Exec("COMMIT");
  if (!status.ok()) (void)connection.Exec("ROLLBACK");
  return status;
}

}  // namespace polycloud::store
