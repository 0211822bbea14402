// The little SQL both back ends speak, so that the store's logic (group
// commit, idempotency, migrations) is written once (sql_store.cc) and only
// connecting, binding and locking differ (sqlite_backend.cc,
// postgres_backend.cc). Private to src/store.
//
// Statements use PostgreSQL's `$1, $2, ...` placeholders; SQLite accepts the
// same text (it treats `$1` as a named parameter, bound by name).
//
// Thread-safety: a SqlConnection is used by one thread at a time; a Backend
// may be called from several threads.
#ifndef POLYCLOUD_SRC_STORE_SQL_H_
#define POLYCLOUD_SRC_STORE_SQL_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "polycloud/base/status.h"

namespace polycloud::store {

// A bound parameter: NULL, an integer, text (valid UTF-8 without NUL; the
// store checks before binding) or bytes. Views: the caller keeps the data alive
// for the call.
struct SqlParam {
  enum class Kind { kNull, kInt, kText, kBlob };
  Kind kind = Kind::kNull;
  int64_t integer = 0;
  std::string_view bytes;

  static SqlParam Int(int64_t v) { return {Kind::kInt, v, {}}; }
  static SqlParam Text(std::string_view v) { return {Kind::kText, 0, v}; }
  static SqlParam Blob(std::string_view v) { return {Kind::kBlob, 0, v}; }
};

// A result cell: NULL, an integer column, or text/bytes.
using SqlCell = std::variant<std::monostate, int64_t, std::string>;
using SqlRow = std::vector<SqlCell>;
using SqlRows = std::vector<SqlRow>;

// Typed reads of a cell; a type mismatch is a schema bug, reported as Internal.
Result<int64_t> CellInt(const SqlCell& cell);
Result<std::string> CellText(const SqlCell& cell);

class SqlConnection {
 public:
  virtual ~SqlConnection() = default;
  // Runs `sql`, which may be several statements, none with parameters; rows are
  // discarded. An empty `sql` does nothing.
  virtual Status Exec(const std::string& sql) = 0;
  // Runs one statement with `params` ($1 is params[0]) and returns its rows.
  virtual Result<SqlRows> Query(const std::string& sql, std::span<const SqlParam> params) = 0;
  // False once the connection is known to be unusable (PostgreSQL: the
  // server went away); the store then opens a new one.
  virtual bool Healthy() const = 0;
};

// What differs between the back ends beyond the connection.
class Backend {
 public:
  virtual ~Backend() = default;
  // A new connection, ready for use (pragmas set, session configured).
  virtual Result<std::unique_ptr<SqlConnection>> Connect() = 0;
  // Opens a write transaction. SQLite: BEGIN IMMEDIATE (takes the database's
  // write lock now, so sequences read inside it are stable).
  virtual std::string BeginWrite() const = 0;
  // Run inside a write transaction before the commands' last sequence is read,
  // so that two writers on one database take turns (PostgreSQL: a table lock;
  // SQLite: nothing, BEGIN IMMEDIATE did it).
  virtual std::string LockCommandLog() const = 0;
  // Run first inside the migration transaction so that two processes
  // migrating one database take turns.
  virtual std::string LockMigrations() const = 0;
  // The dialect's words for the migration texts' placeholders.
  virtual std::string_view BytesType() const = 0;       // BLOB / BYTEA
  virtual std::string_view Int64KeyColumn() const = 0;  // a 64-bit primary key given by us
  virtual std::string_view AutoIdColumn() const = 0;    // a 64-bit key the database assigns
  // True when statements are prepared once and reused (SQLite): then the
  // store sends multi-row inserts in a few fixed sizes rather than one
  // statement of exactly the batch's size (what suits a server round trip).
  virtual bool ReusesStatements() const = 0;
  virtual Result<bool> TryAcquireLeadership() = 0;
  // The location as messages show it (no password).
  virtual const std::string& display() const = 0;
};

}  // namespace polycloud::store

#endif  // POLYCLOUD_SRC_STORE_SQL_H_
