// Output routing shared by the commands of apps/: a file, or standard output.
#ifndef POLYCLOUD_APPS_OUTPUT_H_
#define POLYCLOUD_APPS_OUTPUT_H_

#include <functional>
#include <ostream>
#include <string>

#include "polycloud/base/status.h"

namespace polycloud {

// Calls `write` on the file `path`, or on standard output for "-". Errors:
// IoError "path: cannot open for writing" / "path: write failed" (standard
// output is checked once, at exit: main's FinishOutput).
Status WriteTo(const std::string& path, const std::function<void(std::ostream&)>& write);

}  // namespace polycloud

#endif  // POLYCLOUD_APPS_OUTPUT_H_
