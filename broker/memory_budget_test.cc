#include "broker/memory_budget.h"

#include <gtest/gtest.h>

namespace halfmq::broker {
namespace {

TEST(MemoryBudgetTest, WaitsUntilLeaseReleased) {
  asio::io_context io;
  MemoryBudget budget(100);
  std::vector<std::string> events;
  BudgetLease first;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        bool waited = false;
        first = co_await budget.Acquire(80, &waited);
        events.push_back(waited ? "first-waited" : "first");
      },
      asio::detached);
  io.run();
  io.restart();
  EXPECT_EQ(budget.used(), 80u);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        bool waited = false;
        BudgetLease second = co_await budget.Acquire(50, &waited);
        events.push_back(waited ? "second-waited" : "second");
      },
      asio::detached);
  io.poll();  // the second acquire parks: 80 + 50 > 100
  EXPECT_EQ(events, std::vector<std::string>{"first"});
  first.Reset();  // releasing wakes it
  io.run();
  EXPECT_EQ(events, (std::vector<std::string>{"first", "second-waited"}));
  EXPECT_EQ(budget.used(), 0u);
}

}  // namespace
}  // namespace halfmq::broker
