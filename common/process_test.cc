#include "common/process.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include <gtest/gtest.h>

namespace halfmq {
namespace {

std::string LogPath() {
  const char* tmp = std::getenv("TMPDIR");
  return std::string(tmp ? tmp : "/tmp") + "/halfmq-process-test-" + std::to_string(::getpid()) +
         ".log";
}

// sh gets "--ready_fd=N" as $1, like halfmq-broker gets its flag.
TEST(ProcessTest, ReturnsTheReadyLine) {
  auto child = StartAndAwaitReady(
      {"/bin/sh", "-c", "fd=${1#--ready_fd=}; eval \"echo 127.0.0.1:1234 >&$fd\"; exec sleep 60",
       "sh"},
      LogPath(), 60000);
  ASSERT_TRUE(child.ok()) << child.status().ToString();
  EXPECT_EQ(child->ready_line, "127.0.0.1:1234");
  EXPECT_EQ(::kill(child->pid, SIGKILL), 0);
  int status = 0;
  EXPECT_EQ(::waitpid(child->pid, &status, 0), child->pid);
  std::filesystem::remove(LogPath());
}

TEST(ProcessTest, ChildThatExitsBeforeReadyIsAnError) {
  auto child = StartAndAwaitReady({"/bin/sh", "-c", "echo failing >&2; exit 3", "sh"}, LogPath(),
                                  60000);
  ASSERT_FALSE(child.ok());
  EXPECT_EQ(child.status().code(), StatusCode::kUnavailable);
  std::filesystem::remove(LogPath());
}

TEST(ProcessTest, MissingProgramIsAnError) {
  auto child = StartAndAwaitReady({"/nonexistent/halfmq-broker"}, LogPath(), 60000);
  ASSERT_FALSE(child.ok());
  EXPECT_EQ(child.status().code(), StatusCode::kUnavailable);
  std::filesystem::remove(LogPath());
}

}  // namespace
}  // namespace halfmq
