// Where a store lives: the `--store` argument of `polycloud serve` parsed into
// a back end and what that back end needs to open it. Private to src/store
// (OpenStore is the public entry); separate so the parser has its own tests and
// fuzz target (tests/fuzz/store_location_fuzz.cc).
//
//   "polycloud.db", "./x.db", "sqlite:/var/lib/polycloud.db"   -> SQLite file
//   "sqlite:x.db?synchronous=normal"                           -> SQLite, no fsync per commit
//   "postgresql://user@host:5432/db", "postgres://..."         -> PostgreSQL (libpq URI)
//
// Thread-safety: free functions on values.
#ifndef POLYCLOUD_SRC_STORE_LOCATION_H_
#define POLYCLOUD_SRC_STORE_LOCATION_H_

#include <string>
#include <string_view>

#include "polycloud/base/status.h"

namespace polycloud::store {

struct StoreLocation {
  enum class Kind { kSqlite, kPostgres };
  Kind kind = Kind::kSqlite;
  // kSqlite: the database file's path. kPostgres: the libpq connection URI as
  // given (it may carry a password; never print it, print `display`).
  std::string target;
  // The location with any password replaced by "***": what messages show.
  std::string display;
  // kSqlite: PRAGMA synchronous. true ("sqlite:PATH?synchronous=full", the
  // default): a commit returns after the WAL is fsynced, so it survives a
  // power loss. false ("?synchronous=normal"): the WAL is fsynced only at
  // checkpoints; a commit survives the process's death (kill -9: it is in
  // the OS's page cache) but not the machine's (docs/store.md).
  bool sqlite_fsync_each_commit = true;
};

// Parses a store location. Errors (InvalidArgument, naming the location with
// its password hidden): empty, an unknown scheme ("mysql://..."), "sqlite:"
// without a path, an in-memory SQLite database, "sqlite://..." (ambiguous:
// write sqlite:PATH), control characters, a "sqlite:PATH?..." parameter other
// than synchronous=full|normal (a bare path has no parameters: '?' is part
// of the file's name there). A PostgreSQL URI's own syntax is
// checked by libpq when it is opened.
Result<StoreLocation> ParseStoreLocation(std::string_view location);

// `uri` with the password of its userinfo ("user:secret@") and any
// "password=" query parameter replaced by "***".
std::string RedactPassword(std::string_view uri);

}  // namespace polycloud::store

#endif  // POLYCLOUD_SRC_STORE_LOCATION_H_
