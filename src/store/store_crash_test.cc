// kill -9 under load: a child process (store_crash_writer) appends with
// idempotency keys from several threads and prints each acknowledged key; we
// SIGKILL it at a seeded-random moment, reopen the store, and check that every
// acknowledged key is in the log at the sequence it was acknowledged with, that
// no key is there twice, and that the sequences have no gap. Three rounds per
// back end; each round first re-sends the keys the previous one had in flight
// when it died (sent, not acknowledged: maybe committed), which must then
// exist exactly once.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "polycloud/base/rng.h"
#include "src/store/store_test_fixture.h"

extern char** environ;

namespace polycloud::store {
namespace {

constexpr int kRounds = 3;
constexpr int kWriterThreads = 4;

struct Ack {
  int64_t sequence = 0;
  bool existing = false;
};

class Child {
 public:
  // Starts the writer with stdout on a pipe and stderr in `stderr_path`.
  Child(const std::vector<std::string>& args, const std::string& stderr_path) {
    int fds[2];
    POLYCLOUD_CHECK(pipe2(fds, O_CLOEXEC) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, stderr_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    POLYCLOUD_CHECK(rc == 0);
    out_ = fds[0];
  }
  ~Child() {
    if (pid_ > 0) Kill();
    close(out_);
  }

  // Complete lines read within `timeout_ms`; empty at EOF or on timeout.
  std::vector<std::string> ReadLines(int timeout_ms) {
    std::vector<std::string> lines;
    pollfd p{out_, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) return lines;
    char buffer[65536];
    const ssize_t n = read(out_, buffer, sizeof buffer);
    if (n <= 0) {
      eof_ = true;
      return lines;
    }
    pending_.append(buffer, n);
    for (size_t nl; (nl = pending_.find('\n')) != std::string::npos;) {
      lines.push_back(pending_.substr(0, nl));
      pending_.erase(0, nl + 1);
    }
    return lines;
  }
  bool eof() const { return eof_; }

  // SIGKILL and reap; the wait status.
  int Kill() {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  std::string pending_;  // a line cut by the kill is never acknowledged
  bool eof_ = false;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// "r1-t3-17" from a command's JSON (store_crash_writer's format).
std::string KeyOf(const std::string& json) {
  const size_t at = json.find("\"job\":\"") + 7;
  return json.substr(at, json.find('"', at) - at);
}

using StoreCrashTest = StoreBackendTest;

TEST_P(StoreCrashTest, KillNineLosesNoAcknowledgedAppend) {
  Rng rng(GetParam() == BackendKind::kSqlite     ? 20260101
          : GetParam() == BackendKind::kPostgres ? 20260102
                                                 : 20260103);
  std::map<std::string, Ack> acked;    // every acknowledgement, all rounds
  std::vector<std::string> in_flight;  // the last round's sent, unacknowledged keys
  int64_t total_acks = 0, unacked_but_committed = 0;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<std::string> args = {STORE_CRASH_WRITER, location_, std::to_string(round),
                                     std::to_string(kWriterThreads)};
    args.insert(args.end(), in_flight.begin(), in_flight.end());
    const std::string stderr_path = dir_ + "/writer-" + std::to_string(round) + ".err";
    Child child(args, stderr_path);

    // Kill after a seeded-random number of acknowledgements (and whatever
    // the writer does in the microseconds it takes the signal to land).
    const int64_t kill_after = 200 + static_cast<int64_t>(rng.Below(1500));
    int64_t round_acks = 0;
    std::map<int, int> next_index;  // per writer thread, the index after its last ack
    const auto take = [&](const std::string& line) {
      std::istringstream in(line);
      std::string tag, key, kind;
      Ack ack;
      in >> tag >> key >> ack.sequence >> kind;
      ASSERT_EQ(tag, "ACK") << line;
      ack.existing = kind == "existing";
      acked[key] = ack;
      ++round_acks;
      const std::string prefix = "r" + std::to_string(round) + "-t";
      if (key.rfind(prefix, 0) == 0) {
        const int thread = std::stoi(key.substr(prefix.size()));
        const int index = std::stoi(key.substr(key.rfind('-') + 1));
        next_index[thread] = std::max(next_index[thread], index + 1);
      }
    };
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (round_acks < kill_after && !child.eof() && std::chrono::steady_clock::now() < deadline) {
      for (const std::string& line : child.ReadLines(100)) take(line);
    }
    ASSERT_GE(round_acks, kill_after) << "the writer stopped early: " << ReadFile(stderr_path);
    const int status = child.Kill();
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "the writer exited by itself: " << ReadFile(stderr_path);
    while (!child.eof()) {  // lines written before the kill are acknowledgements too
      for (const std::string& line : child.ReadLines(1000)) take(line);
    }
    total_acks += round_acks;
    in_flight.clear();
    for (int t = 0; t < kWriterThreads; ++t) {
      in_flight.push_back("r" + std::to_string(round) + "-t" + std::to_string(t) + "-" +
                          std::to_string(next_index[t]));
    }

    // Reopen and check.
    Result<std::unique_ptr<Store>> store = OpenStore(location_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    Result<std::vector<StoredCommand>> log = (*store)->ReadCommands(0);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    std::map<std::string, int64_t> in_log;
    for (size_t i = 0; i < log->size(); ++i) {
      ASSERT_EQ((*log)[i].sequence, static_cast<int64_t>(i + 1)) << "a gap in the sequences";
      const std::string key = KeyOf((*log)[i].json);
      ASSERT_TRUE(in_log.emplace(key, (*log)[i].sequence).second) << key << " is in the log twice";
    }
    int64_t lost = 0;
    for (const auto& [key, ack] : acked) {
      auto it = in_log.find(key);
      if (it == in_log.end()) {
        ++lost;
        ADD_FAILURE() << "acknowledged " << key << " is not in the log";
      } else {
        EXPECT_EQ(it->second, ack.sequence) << key;
      }
    }
    EXPECT_EQ(lost, 0);
    unacked_but_committed =
        static_cast<int64_t>(in_log.size()) - static_cast<int64_t>(acked.size());
    std::cout << "round " << round << ": killed after " << round_acks << " acknowledgements; log "
              << log->size() << " commands, all " << acked.size() << " acknowledged keys present, "
              << unacked_but_committed << " committed but not acknowledged when killed\n";
  }
  RecordProperty("acknowledged", static_cast<int>(total_acks));
  RecordProperty("lost", 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreCrashTest,
                         ::testing::Values(BackendKind::kSqlite, BackendKind::kPostgres,
                                           BackendKind::kSqliteNormal),
                         BackendName);

}  // namespace
}  // namespace polycloud::store
