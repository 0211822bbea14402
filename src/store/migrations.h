// The store's schema, as numbered migrations shared by both back ends, and
// the step that brings a database up to date. Private to src/store.
//
// Each migration is one SQL text for both dialects; the few words they spell
// differently are placeholders ({{bytes}}, {{int64_key}}, {{auto_id}}) the
// Backend fills in. Applied versions are rows of `schema_migrations`
// (version, name, applied_unix), each recorded in the transaction that applies
// it, so a crash leaves the database at one version or the next.
#ifndef POLYCLOUD_SRC_STORE_MIGRATIONS_H_
#define POLYCLOUD_SRC_STORE_MIGRATIONS_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "polycloud/base/status.h"
#include "src/store/sql.h"

namespace polycloud::store {

struct Migration {
  int64_t version;        // 1, 2, 3, ... in order, never reused
  std::string_view name;  // recorded with the version; a mismatch is an error
  std::string_view sql;   // statements with placeholders
};

// Every migration this build knows, in version order.
std::span<const Migration> Migrations();

// `migration.sql` with the backend's words in place of its placeholders.
std::string RenderMigration(const Migration& migration, const Backend& backend);

// Applies, in one transaction on `connection`, every migration the database
// has not recorded yet; a second call applies nothing. Errors:
// FailedPrecondition when the database records a version this build does not
// know (written by a newer polycloud) or a known version under another name;
// the connection's errors otherwise (nothing applied).
Status Migrate(SqlConnection& connection, const Backend& backend);

}  // namespace polycloud::store

#endif  // POLYCLOUD_SRC_STORE_MIGRATIONS_H_
