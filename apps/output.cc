#include "output.h"

#include <fstream>
#include <iostream>

namespace polycloud {

Status WriteTo(const std::string& path, const std::function<void(std::ostream&)>& write) {
  if (path == "-") {
    write(std::cout);
    return Status::Ok();
  }
  std::ofstream out(path, std::ios::binary);
  if (!out) return IoError(path + ": cannot open for writing");
  write(out);
  out.close();
  if (!out) return IoError(path + ": write failed");
  return Status::Ok();
}

}  // namespace polycloud
