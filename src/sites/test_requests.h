// Test helper: a DispatchRequest in one expression (designated initializers
// that leave fields out trip -Wmissing-field-initializers).
#ifndef POLYCLOUD_SITES_TEST_REQUESTS_H_
#define POLYCLOUD_SITES_TEST_REQUESTS_H_

#include <string>
#include <utility>

#include "polycloud/sites/driver.h"

namespace polycloud::sites {

struct RequestSpec {
  int32_t gpus = 0;
  Duration expected = Duration::Seconds(0);
  std::string command;
  std::string pool;
  std::string partition;
};

inline DispatchRequest Request(std::string job, uint32_t run, RequestSpec spec = RequestSpec()) {
  DispatchRequest r;
  r.job = std::move(job);
  r.run = run;
  r.gpus = spec.gpus;
  r.expected = spec.expected;
  r.command = std::move(spec.command);
  r.pool = std::move(spec.pool);
  r.partition = std::move(spec.partition);
  return r;
}

inline RequestSpec Gpus(int32_t n, Duration expected = Duration::Seconds(0)) {
  RequestSpec s;
  s.gpus = n;
  s.expected = expected;
  return s;
}

inline RequestSpec Command(std::string command, int32_t gpus = 0) {
  RequestSpec s;
  s.command = std::move(command);
  s.gpus = gpus;
  return s;
}

}  // namespace polycloud::sites

#endif  // POLYCLOUD_SITES_TEST_REQUESTS_H_
