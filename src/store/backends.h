// The two back ends behind the SQL interface of sql.h. Private to src/store.
#ifndef POLYCLOUD_SRC_STORE_BACKENDS_H_
#define POLYCLOUD_SRC_STORE_BACKENDS_H_

#include <memory>

#include "polycloud/base/status.h"
#include "src/store/location.h"
#include "src/store/sql.h"

namespace polycloud::store {

// SQLite 3 in WAL mode with synchronous=FULL: a commit returns after the WAL
// is fsynced (NORMAL with "?synchronous=normal": fsynced at checkpoints
// only). Checks that the file's folder exists and that the path is not a
// folder; the file itself is created by the first Connect(). Leadership: an
// flock on PATH.lock.
Result<std::unique_ptr<Backend>> MakeSqliteBackend(const StoreLocation& location);

// PostgreSQL (10 or later; tested on 15) through libpq. Checks the URI's
// syntax (InvalidArgument); connecting happens in Connect() (IoError when the
// server cannot be reached). Leadership: pg_try_advisory_lock on a session of
// its own.
Result<std::unique_ptr<Backend>> MakePostgresBackend(const StoreLocation& location);

}  // namespace polycloud::store

#endif  // POLYCLOUD_SRC_STORE_BACKENDS_H_
