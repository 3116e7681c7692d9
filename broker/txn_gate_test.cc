#include "broker/txn_gate.h"

#include <atomic>
#include <future>
#include <mutex>
#include <vector>

#include <gtest/gtest.h>

namespace halfmq::broker {
namespace {

TEST(TxnGateTest, OperationsOnOneTransactionRunOneAtATimeInOrder) {
  asio::thread_pool pool(4);
  TxnGate gate(pool);
  std::atomic<int> running{0};
  std::atomic<int> max_running{0};
  std::vector<int> order;
  std::mutex order_mu;
  std::promise<void> all;
  constexpr int kOps = 50;
  std::atomic<int> done{0};
  for (int i = 0; i < kOps; ++i) {
    gate.Run("t", [&, i](std::shared_ptr<TxnLease> lease) {
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
  EXPECT_EQ(gate.busy(), 0u);
}

TEST(TxnGateTest, TryAcquireFailsWhileBusyAndQueuedOpRunsAfterRelease) {
  asio::thread_pool pool(2);
  TxnGate gate(pool);
  auto lease = gate.TryAcquire("t");
  ASSERT_NE(lease, nullptr);
  EXPECT_EQ(gate.TryAcquire("t"), nullptr);
  EXPECT_NE(gate.TryAcquire("other"), nullptr);
  std::promise<void> ran;
  gate.Run("t", [&](std::shared_ptr<TxnLease>) { ran.set_value(); });
  auto f = ran.get_future();
  lease.reset();
  f.wait();
  pool.join();
}

}  // namespace
}  // namespace halfmq::broker
