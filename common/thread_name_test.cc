#include "common/thread_name.h"

#include <string>
#include <thread>

#include <gtest/gtest.h>

namespace halfmq {
namespace {

TEST(ThreadNameTest, NamesTheCallingThreadAndCutsAt15Bytes) {
  std::string short_name, long_name;
  std::thread t([&] {
    SetCurrentThreadName("halfmq-test");
    short_name = CurrentThreadName();
    SetCurrentThreadName("halfmq-a-very-long-thread-name");
    long_name = CurrentThreadName();
  });
  t.join();
  EXPECT_EQ(short_name, "halfmq-test");
  EXPECT_EQ(long_name, "halfmq-a-very-l");
}

}  // namespace
}  // namespace halfmq
