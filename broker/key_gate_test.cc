#include "broker/key_gate.h"

#include <atomic>
#include <future>
#include <mutex>
#include <vector>

#include <gtest/gtest.h>

namespace halfmq::broker {
namespace {

// One key per operation, on the pool: the transaction gate.
TEST(KeyGateTest, OperationsOnOneKeyRunOneAtATimeInOrder) {
  asio::thread_pool pool(4);
  KeyGate gate;
  std::atomic<int> running{0};
  std::atomic<int> max_running{0};
  std::vector<int> order;
  std::mutex order_mu;
  std::promise<void> all;
  constexpr int kOps = 50;
  std::atomic<int> done{0};
  for (int i = 0; i < kOps; ++i) {
    gate.Run("t", pool, [&, i](std::shared_ptr<KeyGate::Lease> lease) {
      int now = ++running;
      int prev = max_running.load();
      while (now > prev && !max_running.compare_exchange_weak(prev, now)) {
      }
      {
        std::lock_guard<std::mutex> l(order_mu);
        order.push_back(i);
      }
      --running;
      lease.reset();  // done: the next one may start
      if (++done == kOps) all.set_value();
    });
  }
  all.get_future().wait();
  pool.join();
  EXPECT_EQ(max_running.load(), 1);
  std::vector<int> expected(kOps);
  for (int i = 0; i < kOps; ++i) expected[i] = i;
  EXPECT_EQ(order, expected);
  EXPECT_EQ(gate.held(), 0u);
  EXPECT_EQ(gate.waiting(), 0u);
}

TEST(KeyGateTest, TryAcquireFailsWhileHeldAndQueuedOpRunsAfterRelease) {
  asio::thread_pool pool(2);
  KeyGate gate;
  auto lease = gate.TryAcquire("t");
  ASSERT_NE(lease, nullptr);
  EXPECT_EQ(gate.TryAcquire("t"), nullptr);
  EXPECT_NE(gate.TryAcquire("other"), nullptr);
  std::promise<void> ran;
  gate.Run("t", pool, [&](std::shared_ptr<KeyGate::Lease>) { ran.set_value(); });
  // Queued behind the holder: not free for TryAcquire either.
  EXPECT_EQ(gate.waiting(), 1u);
  auto f = ran.get_future();
  lease.reset();
  f.wait();
  pool.join();
  EXPECT_EQ(gate.held(), 0u);
}

// Key sets (producer dedup): an operation waits for every key it names, and
// one on other keys is not held back.
TEST(KeyGateTest, OverlappingKeySetsWaitDisjointOnesRun) {
  asio::thread_pool pool(2);
  auto strand = asio::make_strand(pool);
  KeyGate gate;
  auto ab = gate.TryAcquire(std::vector<std::string>{"a", "b"});
  ASSERT_NE(ab, nullptr);
  std::promise<void> bc_ran, d_ran;
  gate.Run({"b", "c"}, strand, [&](std::shared_ptr<KeyGate::Lease>) { bc_ran.set_value(); });
  gate.Run({"d"}, strand, [&](std::shared_ptr<KeyGate::Lease>) { d_ran.set_value(); });
  d_ran.get_future().wait();
  EXPECT_EQ(gate.waiting(), 1u);
  // "c" is named by a waiter: a later TryAcquire must not overtake it.
  EXPECT_EQ(gate.TryAcquire("c"), nullptr);
  ab.reset();
  bc_ran.get_future().wait();
  pool.join();
  EXPECT_EQ(gate.held(), 0u);
}

}  // namespace
}  // namespace halfmq::broker
