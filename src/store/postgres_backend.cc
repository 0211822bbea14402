// PostgreSQL back end through libpq: parameters and results in binary format
// (no quoting, no text round trip of bytes), every session with
// synchronous_commit=on, and leadership as a session-level advisory lock held
// by a connection of its own.
#include <endian.h>
#include <libpq-fe.h>

#include <charconv>
#include <cstring>
#include <mutex>

#include "src/store/backends.h"

namespace polycloud::store {
namespace {

// Type OIDs (server/catalog/pg_type_d.h, stable across versions).
constexpr Oid kBoolOid = 16;
constexpr Oid kByteaOid = 17;
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;
constexpr Oid kTextOid = 25;

// The advisory lock key space of this program: "poly" in the high half. The
// leadership key adds the OID of this store's schema_migrations table, so
// several stores in one database (one schema each) have separate leases;
// migrations lock the bare prefix for the length of their transaction.
constexpr std::string_view kLeaseKey =
    "(x'706f6c79'::bigint << 32) | 'schema_migrations'::regclass::oid::bigint";
constexpr std::string_view kMigrationKey = "x'706f6c79'::bigint << 32";

// libpq's messages end in a newline and may run over several lines.
std::string OneLine(const char* message) {
  std::string out = message != nullptr ? message : "";
  for (char& c : out) {
    if (c == '\n' || c == '\t') c = ' ';
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

class PostgresConnection final : public SqlConnection {
 public:
  PostgresConnection(PGconn* conn, std::string display)
      : conn_(conn), display_(std::move(display)) {}
  ~PostgresConnection() override { PQfinish(conn_); }

  Status Exec(const std::string& sql) override {
    if (sql.empty()) return Status::Ok();
    ResultPtr result(PQexec(conn_, sql.c_str()));
    return Check(result.get(), sql);
  }

  Result<SqlRows> Query(const std::string& sql, std::span<const SqlParam> params) override {
    const size_t n = params.size();
    std::vector<Oid> types(n);
    std::vector<const char*> values(n);
    std::vector<int> lengths(n), formats(n, 1);
    std::vector<uint64_t> integers(n);
    for (size_t i = 0; i < n; ++i) {
      const SqlParam& p = params[i];
      switch (p.kind) {
        case SqlParam::Kind::kNull:
          values[i] = nullptr;
          break;
        case SqlParam::Kind::kInt:
          integers[i] = htobe64(static_cast<uint64_t>(p.integer));
          types[i] = kInt8Oid;
          values[i] = reinterpret_cast<const char*>(&integers[i]);
          lengths[i] = 8;
          break;
        case SqlParam::Kind::kText:
        case SqlParam::Kind::kBlob:
          types[i] = p.kind == SqlParam::Kind::kText ? kTextOid : kByteaOid;
          values[i] = p.bytes.data() != nullptr ? p.bytes.data() : "";
          lengths[i] = static_cast<int>(p.bytes.size());
          break;
      }
    }
    ResultPtr result(PQexecParams(conn_, sql.c_str(), static_cast<int>(n), types.data(),
                                  values.data(), lengths.data(), formats.data(),
                                  /*resultFormat=*/1));
    POLYCLOUD_RETURN_IF_ERROR(Check(result.get(), sql));
    return ReadRows(result.get());
  }

  bool Healthy() const override { return PQstatus(conn_) == CONNECTION_OK; }

 private:
  Status Check(PGresult* result, std::string_view sql) const {
    const ExecStatusType status = result != nullptr ? PQresultStatus(result) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return Status::Ok();
    const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
    const char* primary =
        result != nullptr ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
    std::string message = "PostgreSQL " + display_ + ": " +
                          OneLine(primary != nullptr ? primary : PQerrorMessage(conn_));
    if (state != nullptr) message += " (SQLSTATE " + std::string(state) + ")";
    message += " in \"" + std::string(sql.substr(0, 60)) + (sql.size() > 60 ? "…\"" : "\"");
    const std::string_view cls = state != nullptr ? std::string_view(state).substr(0, 2) : "08";
    if (cls == "08" || cls == "53" || cls == "57" || cls == "58" || cls == "40" || cls == "55") {
      return IoError(message);  // connection, resources, shutdown, lock or serialisation
    }
    if (cls == "23") return FailedPrecondition(message);
    return Internal(message);
  }

  static Result<SqlRows> ReadRows(PGresult* result) {
    const int rows = PQntuples(result), columns = PQnfields(result);
    SqlRows out(rows, SqlRow(columns));
    for (int c = 0; c < columns; ++c) {
      const Oid type = PQftype(result, c);
      for (int r = 0; r < rows; ++r) {
        SqlRow& row = out[r];
        if (PQgetisnull(result, r, c)) continue;  // stays monostate
        const char* v = PQgetvalue(result, r, c);
        const int length = PQgetlength(result, r, c);
        if (type == kInt8Oid || type == kInt4Oid || type == kInt2Oid || type == kBoolOid) {
          if (length != 8 && length != 4 && length != 2 && length != 1) {
            return Internal("store: an integer column of " + std::to_string(length) + " bytes");
          }
          uint64_t big = 0;
          std::memcpy(reinterpret_cast<char*>(&big) + (8 - length), v, length);
          const uint64_t host = be64toh(big);
          // Sign-extend the narrower types (the bytes sat at the low end).
          const int shift = 64 - 8 * length;
          row[c] = static_cast<int64_t>(host << shift) >> shift;
        } else {
          row[c] = std::string(v, length);  // text and bytea: the bytes themselves
        }
      }
    }
    return out;
  }

  PGconn* conn_;
  std::string display_;
};

class PostgresBackend final : public Backend {
 public:
  PostgresBackend(std::string uri, std::string display)
      : uri_(std::move(uri)), display_(std::move(display)) {}

  Result<std::unique_ptr<SqlConnection>> Connect() override {
    // Keywords before "dbname" are defaults the URI may override (libpq reads
    // the arrays in order and keeps the last value). Keepalives let the
    // server notice a dead broker (and free its lease) within about 25 s.
    const char* keywords[] = {
        "connect_timeout",     "application_name", "keepalives", "keepalives_idle",
        "keepalives_interval", "keepalives_count", "dbname",     nullptr};
    const char* values[] = {"10", "polycloud", "1", "10", "5", "3", uri_.c_str(), nullptr};
    PGconn* conn = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
    if (conn == nullptr) return Internal("PostgreSQL " + display_ + ": out of memory");
    auto connection = std::make_unique<PostgresConnection>(conn, display_);
    if (PQstatus(conn) != CONNECTION_OK) {
      return IoError("PostgreSQL " + display_ +
                     ": cannot connect: " + OneLine(PQerrorMessage(conn)));
    }
    if (PQserverVersion(conn) < 100000) {
      return FailedPrecondition("PostgreSQL " + display_ + ": server version " +
                                std::to_string(PQserverVersion(conn)) +
                                " is too old (10 or later is needed; tested with 15)");
    }
    // NOTICEs ("relation already exists, skipping") would go to stderr.
    PQsetNoticeProcessor(
        conn, [](void*, const char*) {}, nullptr);
    // The server's default might have been turned off; a commit we acknowledge
    // must be on disk. The tcp_keepalives_* are the server side of the above.
    POLYCLOUD_RETURN_IF_ERROR(
        connection->Exec("SET synchronous_commit = on; SET client_min_messages = warning; "
                         "SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; "
                         "SET tcp_keepalives_count = 3"));
    return std::unique_ptr<SqlConnection>(std::move(connection));
  }

  std::string BeginWrite() const override { return "BEGIN"; }
  // Self-conflicting, yet readers (ACCESS SHARE) pass.
  std::string LockCommandLog() const override {
    return "LOCK TABLE commands IN SHARE ROW EXCLUSIVE MODE";
  }
  std::string LockMigrations() const override {
    return "SELECT pg_advisory_xact_lock(" + std::string(kMigrationKey) + ")";
  }
  bool ReusesStatements() const override { return false; }
  std::string_view BytesType() const override { return "BYTEA"; }
  std::string_view Int64KeyColumn() const override { return "BIGINT PRIMARY KEY"; }
  std::string_view AutoIdColumn() const override {
    return "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY";
  }

  // The lease lives as long as the lock session. Called again while held, it
  // checks the session is still there: a lost connection means a lost lease
  // (another broker may hold it now), so it then tries to take it afresh.
  Result<bool> TryAcquireLeadership() override {
    std::lock_guard lock(mu_);
    if (held_) {
      if (lock_session_->Healthy() && lock_session_->Query("SELECT 1", {}).ok()) return true;
      held_ = false;
      lock_session_.reset();
    }
    if (!lock_session_ || !lock_session_->Healthy()) {
      POLYCLOUD_ASSIGN_OR_RETURN(lock_session_, Connect());
    }
    POLYCLOUD_ASSIGN_OR_RETURN(
        SqlRows rows,
        lock_session_->Query("SELECT pg_try_advisory_lock(" + std::string(kLeaseKey) + ")", {}));
    POLYCLOUD_ASSIGN_OR_RETURN(int64_t taken, CellInt(rows.at(0).at(0)));
    held_ = taken != 0;
    return held_;
  }

  const std::string& display() const override { return display_; }

 private:
  std::string uri_;
  std::string display_;
  std::mutex mu_;
  std::unique_ptr<SqlConnection> lock_session_;
  bool held_ = false;
};

}  // namespace

Result<std::unique_ptr<Backend>> MakePostgresBackend(const StoreLocation& location) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(location.target.c_str(), &error);
  if (options == nullptr) {
    Status status = InvalidArgument("store location \"" + location.display +
                                    "\": " + OneLine(error != nullptr ? error : "out of memory"));
    PQfreemem(error);
    return status;
  }
  PQconninfoFree(options);
  return std::unique_ptr<Backend>(
      std::make_unique<PostgresBackend>(location.target, "\"" + location.display + "\""));
}

}  // namespace polycloud::store
