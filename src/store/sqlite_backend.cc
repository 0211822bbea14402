// SQLite back end: one database file in WAL mode, synchronous=FULL (or NORMAL
// when the location asks: StoreLocation::sqlite_fsync_each_commit), and an
// flock'ed lock file beside it for leadership.
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "polycloud/base/text.h"
#include "src/store/backends.h"

namespace polycloud::store {
namespace {

// How long a connection waits for another writer (another process on the same
// file) before a statement fails with "database is locked".
constexpr int kBusyTimeoutMs = 10'000;
// Prepared statements kept per connection; past this the cache is emptied.
constexpr size_t kMaxCachedStatements = 128;

Status SqliteError(sqlite3* db, int rc, const std::string& display, std::string_view sql) {
  const std::string what = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  const int primary = rc & 0xff;
  std::string message = "SQLite " + display + ": " + what;
  if (primary == SQLITE_NOTADB) {
    return FailedPrecondition("SQLite " + display + ": the file is not a SQLite database");
  }
  if (!sql.empty()) message += " (in " + QuoteExcerpt(sql, 60) + ")";
  switch (primary) {
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_CORRUPT:
      return IoError(message);
    case SQLITE_CONSTRAINT:
      return FailedPrecondition(message);
    default:
      return Internal(message);
  }
}

class SqliteConnection final : public SqlConnection {
 public:
  SqliteConnection(sqlite3* db, std::string display) : db_(db), display_(std::move(display)) {}
  ~SqliteConnection() override {
    ClearCache();
    sqlite3_close_v2(db_);
  }

  Status Exec(const std::string& sql) override {
    if (sql.empty()) return Status::Ok();
    const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return SqliteError(db_, rc, display_, sql);
    return Status::Ok();
  }

  Result<SqlRows> Query(const std::string& sql, std::span<const SqlParam> params) override {
    POLYCLOUD_ASSIGN_OR_RETURN(const Prepared* prepared, Prepare(sql));
    sqlite3_stmt* stmt = prepared->stmt;
    Status bound = Bind(*prepared, sql, params);
    SqlRows rows;
    int rc = SQLITE_ROW;
    while (bound.ok() && (rc = sqlite3_step(stmt)) == SQLITE_ROW) rows.push_back(ReadRow(stmt));
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    if (!bound.ok()) return bound;
    if (rc != SQLITE_DONE) return SqliteError(db_, rc, display_, sql);
    return rows;
  }

  bool Healthy() const override { return true; }

 private:
  // A prepared statement and, for params[k], the index SQLite gave "$<k+1>"
  // (found once here: sqlite3_bind_parameter_index is a linear scan, and a
  // 256-row INSERT has 512 parameters).
  struct Prepared {
    sqlite3_stmt* stmt = nullptr;
    std::vector<int> index_of;
  };

  Result<const Prepared*> Prepare(const std::string& sql) {
    if (auto it = cache_.find(sql); it != cache_.end()) return &it->second;
    if (cache_.size() >= kMaxCachedStatements) ClearCache();
    Prepared p;
    const int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                                      SQLITE_PREPARE_PERSISTENT, &p.stmt, nullptr);
    if (rc != SQLITE_OK) return SqliteError(db_, rc, display_, sql);
    const int count = sqlite3_bind_parameter_count(p.stmt);
    p.index_of.assign(count, 0);
    for (int i = 1; i <= count; ++i) {
      const char* name = sqlite3_bind_parameter_name(p.stmt, i);
      int k = 0;
      if (name == nullptr || name[0] != '$' ||
          std::from_chars(name + 1, name + std::strlen(name), k).ec != std::errc() || k < 1 ||
          k > count || p.index_of[k - 1] != 0) {
        sqlite3_finalize(p.stmt);
        return Internal("store: statement " + QuoteExcerpt(sql) +
                        " must number its parameters $1..$" + std::to_string(count));
      }
      p.index_of[k - 1] = i;
    }
    return &cache_.emplace(sql, p).first->second;
  }

  // Binds params[k] to "$<k+1>" (see sql.h).
  Status Bind(const Prepared& p, const std::string& sql, std::span<const SqlParam> params) {
    sqlite3_stmt* stmt = p.stmt;
    if (p.index_of.size() != params.size()) {
      return Internal("store: statement " + QuoteExcerpt(sql) + " has " +
                      std::to_string(p.index_of.size()) + " parameters, given " +
                      std::to_string(params.size()));
    }
    for (size_t i = 0; i < params.size(); ++i) {
      const int index = p.index_of[i];
      const SqlParam& param = params[i];
      // A null data pointer would bind NULL; an empty value must stay empty.
      const char* data = param.bytes.data() != nullptr ? param.bytes.data() : "";
      const int size = static_cast<int>(param.bytes.size());
      int rc = SQLITE_OK;
      switch (param.kind) {
        case SqlParam::Kind::kNull:
          rc = sqlite3_bind_null(stmt, index);
          break;
        case SqlParam::Kind::kInt:
          rc = sqlite3_bind_int64(stmt, index, param.integer);
          break;
        case SqlParam::Kind::kText:
          rc = sqlite3_bind_text(stmt, index, data, size, SQLITE_STATIC);
          break;
        case SqlParam::Kind::kBlob:
          rc = size == 0 ? sqlite3_bind_zeroblob(stmt, index, 0)
                         : sqlite3_bind_blob(stmt, index, data, size, SQLITE_STATIC);
          break;
      }
      if (rc != SQLITE_OK) return SqliteError(db_, rc, display_, sql);
    }
    return Status::Ok();
  }

  static SqlRow ReadRow(sqlite3_stmt* stmt) {
    SqlRow row;
    const int n = sqlite3_column_count(stmt);
    row.reserve(n);
    for (int c = 0; c < n; ++c) {
      switch (sqlite3_column_type(stmt, c)) {
        case SQLITE_NULL:
          row.emplace_back(std::monostate{});
          break;
        case SQLITE_INTEGER:
          row.emplace_back(static_cast<int64_t>(sqlite3_column_int64(stmt, c)));
          break;
        default: {  // text, blob (and floats, which the schema never holds)
          const void* data = sqlite3_column_blob(stmt, c);
          const int size = sqlite3_column_bytes(stmt, c);
          row.emplace_back(std::string(static_cast<const char*>(data), data ? size : 0));
        }
      }
    }
    return row;
  }

  void ClearCache() {
    for (auto& [sql, prepared] : cache_) sqlite3_finalize(prepared.stmt);
    cache_.clear();
  }

  sqlite3* db_;
  std::string display_;
  std::unordered_map<std::string, Prepared> cache_;
};

class SqliteBackend final : public Backend {
 public:
  SqliteBackend(std::string path, std::string display, bool fsync_each_commit)
      : path_(std::move(path)),
        display_(std::move(display)),
        fsync_each_commit_(fsync_each_commit) {}
  ~SqliteBackend() override {
    if (lock_fd_ >= 0) close(lock_fd_);  // releases the flock
  }

  Result<std::unique_ptr<SqlConnection>> Connect() override {
    sqlite3* db = nullptr;
    // NOMUTEX: a connection is only ever used by one thread at a time.
    const int rc =
        sqlite3_open_v2(path_.c_str(), &db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      Status error = IoError("SQLite " + display_ +
                             ": cannot open: " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
      sqlite3_close_v2(db);
      return error;
    }
    auto connection = std::make_unique<SqliteConnection>(db, display_);
    sqlite3_busy_timeout(db, kBusyTimeoutMs);
    // The journal mode is a property of the file, kept once set; asking again
    // is cheap and also fails early on a file that is not a database.
    POLYCLOUD_ASSIGN_OR_RETURN(SqlRows mode, connection->Query("PRAGMA journal_mode=WAL", {}));
    const bool wal = !mode.empty() && !mode[0].empty() &&
                     std::holds_alternative<std::string>(mode[0][0]) &&
                     std::get<std::string>(mode[0][0]) == "wal";
    if (!wal) {
      return IoError("SQLite " + display_ +
                     ": cannot switch to WAL mode (is the file on a network filesystem?)");
    }
    POLYCLOUD_RETURN_IF_ERROR(connection->Exec(fsync_each_commit_ ? "PRAGMA synchronous=FULL"
                                                                  : "PRAGMA synchronous=NORMAL"));
    return std::unique_ptr<SqlConnection>(std::move(connection));
  }

  std::string BeginWrite() const override { return "BEGIN IMMEDIATE"; }
  std::string LockCommandLog() const override { return ""; }
  std::string LockMigrations() const override { return ""; }
  bool ReusesStatements() const override { return true; }
  std::string_view BytesType() const override { return "BLOB"; }
  // "INTEGER PRIMARY KEY" exactly: the rowid itself (64-bit), no second index.
  std::string_view Int64KeyColumn() const override { return "INTEGER PRIMARY KEY"; }
  std::string_view AutoIdColumn() const override { return "INTEGER PRIMARY KEY"; }

  // flock, not fcntl locks: fcntl locks belong to the process, so a second
  // Store in the same process would "take" a lease its sibling holds, and
  // closing any descriptor of the file would drop it. An flock belongs to the
  // open file description: held until this Store closes it or its process
  // dies (kill -9 included).
  Result<bool> TryAcquireLeadership() override {
    std::lock_guard lock(mu_);
    if (lock_fd_ >= 0) return true;
    const std::string lock_path = path_ + ".lock";
    const int fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      return IoError("SQLite " + display_ + ": cannot open the lock file " + lock_path + ": " +
                     std::strerror(errno));
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int error = errno;
      close(fd);
      if (error == EWOULDBLOCK) return false;
      return IoError("SQLite " + display_ + ": cannot lock " + lock_path + ": " +
                     std::strerror(error));
    }
    lock_fd_ = fd;
    return true;
  }

  const std::string& display() const override { return display_; }

 private:
  std::string path_;
  std::string display_;
  const bool fsync_each_commit_;
  std::mutex mu_;
  int lock_fd_ = -1;
};

}  // namespace

Result<std::unique_ptr<Backend>> MakeSqliteBackend(const StoreLocation& location) {
  namespace fs = std::filesystem;
  const fs::path path(location.target);
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    return InvalidArgument("store location \"" + location.display +
                           "\": is a folder; name a database file in it (e.g. " +
                           (path / "polycloud.db").string() + ")");
  }
  const fs::path parent = path.has_parent_path() ? path.parent_path() : fs::path(".");
  if (!fs::is_directory(parent, ec)) {
    return NotFound("store location \"" + location.display + "\": the folder " + parent.string() +
                    " does not exist");
  }
  return std::unique_ptr<Backend>(std::make_unique<SqliteBackend>(
      location.target, "\"" + location.display + "\"", location.sqlite_fsync_each_commit));
}

}  // namespace polycloud::store
