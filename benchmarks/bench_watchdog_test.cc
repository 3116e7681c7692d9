// halfmq-bench ends a run at once when the broker it started dies (kill -9),
// with exit status 3 and the broker's log tail, instead of retrying into a
// dead address.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "tests/util/eventually.h"
#include "tests/util/temp_dir.h"

namespace halfmq {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// A child process of `parent` (-1 if none yet).
pid_t ChildOf(pid_t parent) {
  std::string tasks = "/proc/" + std::to_string(parent) + "/task";
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator(tasks, ec)) {
    std::istringstream children(ReadFile(task.path() / "children"));
    pid_t child = -1;
    if (children >> child) return child;
  }
  return -1;
}

TEST(BenchWatchdogTest, BrokerKilledMidRunEndsTheRunWithStatus3) {
  testing::TempDir dir;
  std::string bench =
      (std::filesystem::canonical("/proc/self/exe").parent_path() / "halfmq-bench").string();
  std::string out = dir.Sub("bench.out");
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::setenv("TMPDIR", dir.path().c_str(), 1);  // its broker's data dir lands here
    int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::execl(bench.c_str(), bench.c_str(), "send", "--duration-s", "120", "--inflight", "4",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // The run has begun once the broker logged the bench's topic.
  pid_t broker = -1;
  std::string log;
  ASSERT_TRUE(testing::Eventually([&] {
    broker = ChildOf(pid);
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir.path(), ec)) {
      if (entry.path().filename().string().rfind("halfmq-bench-", 0) == 0) {
        log = (entry.path() / "broker.log").string();
      }
    }
    return broker > 0 && !log.empty() && ReadFile(log).find("created topic") != std::string::npos;
  }));
  ASSERT_EQ(::kill(broker, SIGKILL), 0);
  int status = 0;
  bool ended = testing::Eventually([&] { return ::waitpid(pid, &status, WNOHANG) == pid; });
  if (!ended) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  ASSERT_TRUE(ended) << "halfmq-bench still running after its broker died";
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 3);
  std::string said = ReadFile(out);
  EXPECT_NE(said.find("the broker was killed by signal 9"), std::string::npos) << said;
  EXPECT_NE(said.find("created topic"), std::string::npos) << said;  // the log's tail
}

}  // namespace
}  // namespace halfmq
