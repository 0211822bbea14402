#include "src/store/sql.h"

namespace polycloud::store {

Result<int64_t> CellInt(const SqlCell& cell) {
  if (const int64_t* v = std::get_if<int64_t>(&cell)) return *v;
  return Internal("store: expected an integer column, found " +
                  std::string(std::holds_alternative<std::monostate>(cell) ? "NULL" : "text"));
}

Result<std::string> CellText(const SqlCell& cell) {
  if (const std::string* v = std::get_if<std::string>(&cell)) return *v;
  return Internal(
      "store: expected a text column, found " +
      std::string(std::holds_alternative<std::monostate>(cell) ? "NULL" : "an integer"));
}

}  // namespace polycloud::store
