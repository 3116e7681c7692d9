// CheckPool on its own: bounds, answers and stopping. Checks are blocked and
// released through explicit gates, never timed with sleeps.
#include "client/check_pool.h"

#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "common/mutex.h"

namespace halfmq::client {
namespace {

CheckRequest Check(std::string txn_id) {
  CheckRequest check;
  check.txn_id = std::move(txn_id);
  check.messages.push_back(Message("t"));
  return check;
}

// Records answers by transaction id and lets the test wait for them.
class Answers {
 public:
  CheckPool::Answer For(const std::string& txn_id) {
    return [this, txn_id](TxnState outcome) {
      MutexLock lock(&mu_);
      answers_.emplace(txn_id, outcome);
      cv_.SignalAll();
    };
  }
  // The answer for `txn_id`, waiting for it.
  TxnState Wait(const std::string& txn_id) {
    MutexLock lock(&mu_);
    while (answers_.count(txn_id) == 0) cv_.Wait(&mu_);
    return answers_.at(txn_id);
  }
  bool Has(const std::string& txn_id) {
    MutexLock lock(&mu_);
    return answers_.count(txn_id) > 0;
  }

 private:
  Mutex mu_;
  CondVar cv_;
  std::map<std::string, TxnState> answers_ GUARDED_BY(mu_);
};

// Work that blocks every check until Open(), counting the checks started.
class Gate {
 public:
  TxnState Pass(const CheckRequest&) {
    MutexLock lock(&mu_);
    ++started_;
    cv_.SignalAll();
    while (!open_) cv_.Wait(&mu_);
    return TxnState::kCommit;
  }
  void WaitStarted(int n) {
    MutexLock lock(&mu_);
    while (started_ < n) cv_.Wait(&mu_);
  }
  void Open() {
    MutexLock lock(&mu_);
    open_ = true;
    cv_.SignalAll();
  }
  int started() {
    MutexLock lock(&mu_);
    return started_;
  }

 private:
  Mutex mu_;
  CondVar cv_;
  int started_ GUARDED_BY(mu_) = 0;
  bool open_ GUARDED_BY(mu_) = false;
};

TEST(CheckPoolTest, AnswersWithTheWorkOutcomeAndAThrowAsUnknown) {
  Answers answers;
  CheckPool pool(2, 8, [](const CheckRequest& check) {
    if (check.txn_id == "throws") throw std::runtime_error("db down");
    return check.txn_id == "c" ? TxnState::kCommit : TxnState::kRollback;
  });
  for (const char* id : {"c", "r", "throws"}) pool.Submit(Check(id), answers.For(id));
  EXPECT_EQ(answers.Wait("c"), TxnState::kCommit);
  EXPECT_EQ(answers.Wait("r"), TxnState::kRollback);
  EXPECT_EQ(answers.Wait("throws"), TxnState::kUnknown);
}

TEST(CheckPoolTest, RunsUpToThreadsAtOnceAndAnswersOverflowUnknownAtOnce) {
  Gate gate;
  Answers answers;
  CheckPool pool(2, 3, [&](const CheckRequest& c) { return gate.Pass(c); });
  for (const char* id : {"a", "b", "c"}) pool.Submit(Check(id), answers.For(id));
  gate.WaitStarted(2);  // two threads busy, "c" queued: the pool holds 3
  pool.Submit(Check("over"), answers.For("over"));
  ASSERT_TRUE(answers.Has("over")) << "answered inline, without waiting";
  EXPECT_EQ(answers.Wait("over"), TxnState::kUnknown);
  EXPECT_EQ(gate.started(), 2);
  gate.Open();
  for (const char* id : {"a", "b", "c"}) EXPECT_EQ(answers.Wait(id), TxnState::kCommit);
  // A slot is free again once its answer is out (the broker may send the
  // next check right then).
  pool.Submit(Check("next"), answers.For("next"));
  EXPECT_EQ(answers.Wait("next"), TxnState::kCommit);
}

TEST(CheckPoolTest, StopAnswersQueuedUnknownAndWaitsForRunning) {
  Gate gate;
  Answers answers;
  CheckPool pool(1, 3, [&](const CheckRequest& c) { return gate.Pass(c); });
  for (const char* id : {"running", "queued1", "queued2"}) pool.Submit(Check(id), answers.For(id));
  gate.WaitStarted(1);
  Mutex mu;
  bool stopped = false;
  std::thread stopper([&] {
    EXPECT_TRUE(pool.Stop());
    MutexLock lock(&mu);
    stopped = true;
  });
  EXPECT_EQ(answers.Wait("queued1"), TxnState::kUnknown);
  EXPECT_EQ(answers.Wait("queued2"), TxnState::kUnknown);
  {
    // Stop cannot have returned: it joins the thread held by the gate.
    MutexLock lock(&mu);
    EXPECT_FALSE(stopped);
  }
  EXPECT_FALSE(answers.Has("running"));
  gate.Open();
  stopper.join();
  EXPECT_EQ(answers.Wait("running"), TxnState::kCommit);
  pool.Submit(Check("late"), answers.For("late"));
  ASSERT_TRUE(answers.Has("late"));
  EXPECT_EQ(answers.Wait("late"), TxnState::kUnknown);
  EXPECT_EQ(gate.started(), 1);
}

TEST(CheckPoolTest, StopFromInsideWorkOnlyBeginsTheStop) {
  Answers answers;
  std::unique_ptr<CheckPool> pool;
  Mutex mu;
  bool stop_result = true;
  pool = std::make_unique<CheckPool>(1, 4, [&](const CheckRequest&) {
    bool finished = pool->Stop();
    MutexLock lock(&mu);
    stop_result = finished;
    return TxnState::kRollback;
  });
  pool->Submit(Check("self"), answers.For("self"));
  EXPECT_EQ(answers.Wait("self"), TxnState::kRollback);
  {
    MutexLock lock(&mu);
    EXPECT_FALSE(stop_result);
  }
  pool->Submit(Check("after"), answers.For("after"));
  EXPECT_EQ(answers.Wait("after"), TxnState::kUnknown);
  pool.reset();  // joins the thread that began the stop
}

}  // namespace
}  // namespace halfmq::client
