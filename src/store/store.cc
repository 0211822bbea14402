#include "polycloud/store/store.h"

#include "src/store/backends.h"
#include "src/store/location.h"
#include "src/store/sql_store.h"

namespace polycloud::store {

Result<std::unique_ptr<Store>> OpenStore(const std::string& location) {
  POLYCLOUD_ASSIGN_OR_RETURN(StoreLocation where, ParseStoreLocation(location));
  std::unique_ptr<Backend> backend;
  if (where.kind == StoreLocation::Kind::kSqlite) {
    POLYCLOUD_ASSIGN_OR_RETURN(backend, MakeSqliteBackend(where));
  } else {
    POLYCLOUD_ASSIGN_OR_RETURN(backend, MakePostgresBackend(where));
  }
  POLYCLOUD_ASSIGN_OR_RETURN(std::unique_ptr<SqlStore> store, SqlStore::Open(std::move(backend)));
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace polycloud::store
