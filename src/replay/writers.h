// Pieces shared by the replay writers (internal to polycloud_replay).
#ifndef POLYCLOUD_SRC_REPLAY_WRITERS_H_
#define POLYCLOUD_SRC_REPLAY_WRITERS_H_

#include <nlohmann/json.hpp>
#include <ostream>

#include "polycloud/replay/replay.h"

namespace polycloud::replay::internal {

nlohmann::ordered_json StatsJson(const DelayStats& s);
nlohmann::ordered_json RowsJson(const RowReport& r);
// "path: N bad rows skipped of M; first:" and the messages; nothing when none.
void WriteRowsText(const RowReport& r, std::ostream& out);
std::string Tenths(double x);  // "12.3"

}  // namespace polycloud::replay::internal

#endif  // POLYCLOUD_SRC_REPLAY_WRITERS_H_
