// The child of StoreCrashTest: appends commands with idempotency keys from
// several threads, as fast as the store acknowledges them, and prints one
// line per acknowledged append, until it is killed (SIGKILL, by the test).
//
//   store_crash_writer LOCATION ROUND THREADS [RETRY_KEY...]
//
// Keys are "r<ROUND>-t<thread>-<i>"; each command's JSON names its key. The
// RETRY_KEYs (keys of an earlier round that were sent but not acknowledged
// when that round was killed) are appended again first, with the same JSON,
// so the test can check they exist exactly once. Output, one write(2) per
// line (atomic on a pipe): "ACK <key> <first_sequence> <new|existing>".
#include <unistd.h>

#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "polycloud/store/store.h"

namespace {

std::string CommandJson(const std::string& key) {
  return R"({"command":"submit","job":")" + key + R"(","gpus":8})";
}

// Appends and reports; false on an error (already printed to stderr).
bool AppendAndAck(polycloud::store::Store& store, const std::string& key) {
  auto out = store.AppendCommands({CommandJson(key)}, key, "job-" + key);
  if (!out.ok()) {
    std::fprintf(stderr, "append %s: %s\n", key.c_str(), out.status().ToString().c_str());
    return false;
  }
  const std::string line = "ACK " + key + " " + std::to_string(out->first_sequence) +
                           (out->existing_value ? " existing\n" : " new\n");
  return write(STDOUT_FILENO, line.data(), line.size()) == static_cast<ssize_t>(line.size());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s LOCATION ROUND THREADS [RETRY_KEY...]\n", argv[0]);
    return 2;
  }
  auto store = polycloud::store::OpenStore(argv[1]);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
    return 2;
  }
  const std::string round = argv[2];
  const int threads = std::stoi(argv[3]);
  for (int i = 4; i < argc; ++i) {
    if (!AppendAndAck(**store, argv[i])) return 3;
  }
  std::vector<std::thread> writers;
  writers.reserve(threads);
  for (int t = 0; t < threads; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0;; ++i) {
        const std::string key = "r" + round + "-t" + std::to_string(t) + "-" + std::to_string(i);
        if (!AppendAndAck(**store, key)) std::_Exit(3);
      }
    });
  }
  for (auto& w : writers) w.join();  // never: the test kills us
  return 0;
}
