// Transaction check-backs at the wire level against a real broker: what
// uses up checks and what does not, the per-connection bound, timeouts,
// unresolved transactions and their policies, and checks after kill -9.
// The fixture (the test plays the producer with raw frames) is in
// txn_protocol_test.h.
#include "tests/integration/txn_protocol_test.h"

#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/util/eventually.h"

namespace halfmq::testing {
namespace {

TEST_F(TxnProtocolTest, NoProducerOnlineDoesNotUseUpChecks) {
  StartBroker({"--txn_max_checks=2"});
  CreateTopic("orders");
  {
    auto gone = Connect();
    ASSERT_EQ(Call(gone.get(), HalfFrame("t4", "pg", {{"orders", "n1"}})).status().code(),
              v1::Status::OK);
  }  // the only producer of "pg" disconnects
  // Let the scanner find the due check with nobody to ask, many times over
  // the two allowed checks.
  ASSERT_TRUE(Eventually([&] { return Stat("txn_checks_no_producer") >= 10; }));
  auto pending = List(v1::PENDING);
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].checks(), 0u);
  EXPECT_TRUE(List(v1::UNRESOLVED).empty());
  // A producer of the group comes back: the check arrives, counted as #1.
  auto back = Hello(Connect(), "pg");
  auto check = NextCheck(back.get());
  ASSERT_TRUE(check.has_value());
  EXPECT_EQ(check->check_transaction().check_number(), 1u);
  Answer(back.get(), *check, v1::ROLLBACK);
  EXPECT_TRUE(Eventually([&] { return List(v1::TXN_STATE_UNSPECIFIED).empty(); }));
}

// A transaction settled before its first check stores its HALF_STORED event
// with the outcome's (shown as its own event); one still pending at its first
// check gets it written then, and the outcome does not repeat it.
TEST_F(TxnProtocolTest, HalfStoredTraceComesWithTheOutcomeOrTheFirstCheck) {
  StartBroker();
  CreateTopic("orders");
  auto producer = Hello(Connect(), "pg");
  ASSERT_EQ(Call(producer.get(), HalfFrame("quick", "pg", {{"orders", "q1"}})).status().code(),
            v1::Status::OK);
  ASSERT_EQ(Call(producer.get(), EndFrame("quick", v1::ROLLBACK)).status().code(),
            v1::Status::OK);
  std::vector<v1::TraceEvent> events;
  auto kinds = TraceKinds("q1", &events);
  ASSERT_EQ(kinds, (std::vector<v1::TraceKind>{v1::TRACE_HALF_STORED, v1::TRACE_ROLLED_BACK}));
  EXPECT_EQ(events[0].group(), "pg");
  EXPECT_EQ(events[0].detail(), "transaction quick, topic orders");
  EXPECT_LE(events[0].time_ms(), events[1].time_ms());
  EXPECT_EQ(events[1].half_stored_ms(), 0);  // folded, not shown twice

  ASSERT_EQ(Call(producer.get(), HalfFrame("slow", "pg", {{"orders", "s1"}})).status().code(),
            v1::Status::OK);
  auto first = NextCheck(producer.get());
  ASSERT_TRUE(first.has_value());
  Answer(producer.get(), *first, v1::UNKNOWN);
  ASSERT_TRUE(Eventually([&] { return Count(TraceKinds("s1"), v1::TRACE_CHECKED) == 1; }));
  kinds = TraceKinds("s1");
  EXPECT_EQ(Count(kinds, v1::TRACE_HALF_STORED), 1);
  EXPECT_EQ(kinds.front(), v1::TRACE_HALF_STORED);
  auto second = NextCheck(producer.get());
  ASSERT_TRUE(second.has_value());
  Answer(producer.get(), *second, v1::COMMIT);
  ASSERT_TRUE(Eventually([&] { return Count(TraceKinds("s1"), v1::TRACE_COMMITTED) == 1; }));
  kinds = TraceKinds("s1");
  EXPECT_EQ(Count(kinds, v1::TRACE_HALF_STORED), 1);
  EXPECT_EQ(Count(kinds, v1::TRACE_CHECKED), 2);
  EXPECT_EQ(Count(kinds, v1::TRACE_STORED), 1);
}

// Unresolved without any check (no producer online until its max age): its
// HALF_STORED events are written when it becomes unresolved.
TEST_F(TxnProtocolTest, HalfStoredTraceIsWrittenWhenItBecomesUnresolved) {
  StartBroker({"--txn_max_age_ms=300"});
  CreateTopic("orders");
  {
    // The connection that sent the half is its group's only producer; it
    // goes away at once.
    auto gone = Connect();
    ASSERT_EQ(Call(gone.get(), HalfFrame("orphan", "nobody", {{"orders", "o1"}})).status().code(),
              v1::Status::OK);
  }
  ASSERT_TRUE(Eventually([&] { return !List(v1::UNRESOLVED).empty(); }));
  std::vector<v1::TraceEvent> events;
  EXPECT_EQ(TraceKinds("o1", &events), std::vector<v1::TraceKind>{v1::TRACE_HALF_STORED});
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].detail(), "transaction orphan, topic orders");
  // Settled by hand later: the outcome does not repeat it.
  ASSERT_EQ(Call(admin_.get(), EndFrame("orphan", v1::COMMIT, false, true)).status().code(),
            v1::Status::OK);
  auto kinds = TraceKinds("o1");
  EXPECT_EQ(Count(kinds, v1::TRACE_HALF_STORED), 1);
  EXPECT_EQ(Count(kinds, v1::TRACE_COMMITTED), 1);
}

TEST_F(TxnProtocolTest, MaxChecksMakesItUnresolvedAndOperatorCommitDelivers) {
  StartBroker({"--txn_max_checks=2"});
  CreateTopic("orders");
  EXPECT_TRUE(ReceiveIds("g", "orders").empty());
  auto producer = Hello(Connect(), "pg");
  ASSERT_EQ(Call(producer.get(), HalfFrame("t5", "pg", {{"orders", "u1"}})).status().code(),
            v1::Status::OK);
  for (uint32_t n = 1; n <= 2; ++n) {
    auto check = NextCheck(producer.get());
    ASSERT_TRUE(check.has_value());
    EXPECT_EQ(check->check_transaction().check_number(), n);
    Answer(producer.get(), *check, v1::UNKNOWN);
  }
  std::vector<v1::TransactionInfo> unresolved;
  ASSERT_TRUE(Eventually([&] {
    unresolved = List(v1::UNRESOLVED);
    return !unresolved.empty();
  }));
  EXPECT_EQ(unresolved[0].txn_id(), "t5");
  EXPECT_EQ(unresolved[0].checks(), 2u);
  EXPECT_EQ(unresolved[0].state(), v1::UNRESOLVED);
  EXPECT_TRUE(ReceiveIds("g", "orders").empty());
  // Resolved by hand; kept, never dropped, until then.
  v1::Frame end = Call(admin_.get(), EndFrame("t5", v1::COMMIT, false, true));
  ASSERT_EQ(end.status().code(), v1::Status::OK) << end.status().message();
  EXPECT_EQ(ReceiveIds("g", "orders"), std::vector<std::string>{"u1"});
  EXPECT_TRUE(List(v1::UNRESOLVED).empty());
}

TEST_F(TxnProtocolTest, CheckStillComesAfterKill9RightAfterTheHalfAck) {
  StartBroker();
  CreateTopic("orders");
  EXPECT_TRUE(ReceiveIds("g", "orders").empty());
  {
    auto producer = Connect();
    ASSERT_EQ(Call(producer.get(), HalfFrame("t6", "pg", {{"orders", "k1"}})).status().code(),
              v1::Status::OK);
  }
  broker_->Kill9();
  StartBroker();
  auto producer = Hello(Connect(), "pg");
  auto check = NextCheck(producer.get());
  ASSERT_TRUE(check.has_value());
  EXPECT_EQ(check->check_transaction().txn_id(), "t6");
  Answer(producer.get(), *check, v1::COMMIT);
  EXPECT_EQ(ReceiveIds("g", "orders", 10000), std::vector<std::string>{"k1"});
}

TEST_F(TxnProtocolTest, ThousandPendingWithOneSlowProducerNeverExceedPerConnectionBound) {
  constexpr int kTxns = 1000;
  constexpr uint32_t kBound = 8;
  StartBroker({"--txn_max_checks_per_connection=" + std::to_string(kBound),
               "--txn_check_rate_per_group=100000"});
  CreateTopic("orders");
  EXPECT_TRUE(ReceiveIds("g", "orders").empty());
  auto producer = Hello(Connect(), "pg");
  // Pipelined half sends, then their acks.
  std::vector<uint64_t> ids;
  for (int i = 0; i < kTxns; ++i) {
    ids.push_back(producer->Post(
        HalfFrame("bulk-" + std::to_string(i), "pg", {{"orders", "b" + std::to_string(i)}})));
  }
  std::vector<v1::Frame> checks;
  size_t acked = 0;
  while (acked < ids.size()) {
    auto f = producer->ReadFrame();
    ASSERT_TRUE(f.has_value());
    if (f->type() == v1::RESPONSE) {
      ASSERT_EQ(f->status().code(), v1::Status::OK);
      ++acked;
    } else if (f->has_check_transaction()) {
      checks.push_back(std::move(*f));
    }
  }
  // The slow producer sits on its checks. The broker must stop at the bound
  // even though 1,000 are due: wait until the scanner has hit the bound many
  // times, then count what arrived.
  int64_t throttled = Stat("txn_checks_throttled");
  ASSERT_TRUE(Eventually([&] { return Stat("txn_checks_throttled") >= throttled + 20; }));
  auto drain = [&](int timeout_ms) {
    while (auto f = producer->ReadFrame(timeout_ms)) {
      if (f->has_check_transaction()) checks.push_back(std::move(*f));
    }
  };
  drain(50);  // whatever is already on the wire
  EXPECT_EQ(checks.size(), kBound);
  // Answer one at a time. The broker may have at most kBound unanswered
  // checks on the connection, so it can never have sent more than
  // answered + kBound: check that at every arrival.
  std::set<std::string> committed;
  size_t received = checks.size();
  size_t answered = 0;
  size_t max_outstanding = checks.size();
  while (committed.size() < static_cast<size_t>(kTxns)) {
    ASSERT_FALSE(checks.empty()) << "no check arrived; committed " << committed.size();
    v1::Frame check = std::move(checks.front());
    checks.erase(checks.begin());
    committed.insert(check.check_transaction().txn_id());
    Answer(producer.get(), check, v1::COMMIT);  // Call() keeps incoming checks aside
    ++answered;
    while (checks.empty() && received < static_cast<size_t>(kTxns)) {
      auto f = producer->ReadFrame();
      ASSERT_TRUE(f.has_value());
      if (!f->has_check_transaction()) continue;
      checks.push_back(std::move(*f));
      ++received;
      ASSERT_LE(received, answered + kBound);
      max_outstanding = std::max(max_outstanding, received - answered);
    }
  }
  EXPECT_LE(max_outstanding, kBound);
  EXPECT_EQ(Stat("txn_committed"), kTxns);
  EXPECT_TRUE(List(v1::TXN_STATE_UNSPECIFIED).empty());
}

TEST_F(TxnProtocolTest, UnresolvedActionRollbackSettlesByPolicy) {
  StartBroker({"--txn_max_checks=1", "--txn_unresolved_action=rollback"});
  CreateTopic("orders");
  EXPECT_TRUE(ReceiveIds("g", "orders").empty());
  auto producer = Hello(Connect(), "pg");
  ASSERT_EQ(Call(producer.get(), HalfFrame("t7", "pg", {{"orders", "p1"}})).status().code(),
            v1::Status::OK);
  auto check = NextCheck(producer.get());
  ASSERT_TRUE(check.has_value());
  Answer(producer.get(), *check, v1::UNKNOWN);
  ASSERT_TRUE(Eventually([&] { return Stat("txn_rolled_back") == 1; }));
  EXPECT_TRUE(List(v1::TXN_STATE_UNSPECIFIED).empty());
  // The policy's outcome is remembered like any other.
  v1::Frame late = Call(producer.get(), EndFrame("t7", v1::COMMIT));
  EXPECT_EQ(late.status().code(), v1::Status::FAILED_PRECONDITION);
  EXPECT_TRUE(ReceiveIds("g", "orders").empty());
}

TEST_F(TxnProtocolTest, TimedOutChecksKeepTheirSlotsUntilAnsweredOrClosed) {
  StartBroker({"--txn_check_timeout_ms=100", "--txn_max_checks_per_connection=2"});
  CreateTopic("orders");
  auto stalled = Hello(Connect(), "pg");
  for (int i = 0; i < 6; ++i) {
    ASSERT_EQ(Call(stalled.get(), HalfFrame("s" + std::to_string(i), "pg",
                                            {{"orders", "x" + std::to_string(i)}}))
                  .status()
                  .code(),
              v1::Status::OK);
  }
  // The producer never answers. Its two checks time out, but it gets no
  // more: the slots stay taken while the connection is open.
  ASSERT_TRUE(Eventually([&] { return Stat("txn_check_timeouts") >= 2; }));
  int64_t throttled = Stat("txn_checks_throttled");
  ASSERT_TRUE(Eventually([&] { return Stat("txn_checks_throttled") >= throttled + 10; }));
  size_t got = 0;
  while (auto f = stalled->ReadFrame(50)) got += f->has_check_transaction();
  EXPECT_EQ(got, 2u);
  // Another producer of the group gets the rest.
  auto healthy = Hello(Connect(), "pg");
  std::set<std::string> answered;
  while (answered.size() < 4) {
    auto check = NextCheck(healthy.get());
    ASSERT_TRUE(check.has_value());
    answered.insert(check->check_transaction().txn_id());
    Answer(healthy.get(), *check, v1::ROLLBACK);
  }
}

// A round that stops early (here: one check's worth of bytes per round)
// leaves due checks behind; the next round must still find them, and open
// transactions among many settled ones (whose index entries are tombstones
// the scanner no longer walks) must all be checked.
TEST_F(TxnProtocolTest, ChecksLeftByAShortRoundAndAmongSettledOnesAllGoOut) {
  StartBroker({"--txn_max_check_bytes_per_round=1"});
  CreateTopic("orders");
  auto producer = Hello(Connect(), "pg", /*max_checks=*/100);
  std::set<std::string> open;
  for (int i = 0; i < 60; ++i) {
    std::string txn = "t" + std::to_string(i);
    ASSERT_EQ(Call(producer.get(), HalfFrame(txn, "pg", {{"orders", txn}})).status().code(),
              v1::Status::OK);
    if (i % 10 == 5) {
      open.insert(txn);
      continue;
    }
    ASSERT_EQ(Call(producer.get(), EndFrame(txn, v1::COMMIT)).status().code(), v1::Status::OK);
  }
  ASSERT_EQ(open.size(), 6u);
  // A transaction may be checked again before the broker has taken its
  // answer (the fixture's check backoff is short, and a slow machine
  // answers late): checks are at-least-once. Only open ones may be asked.
  const std::set<std::string> were_open = open;
  while (!open.empty()) {
    auto check = NextCheck(producer.get());
    ASSERT_TRUE(check.has_value()) << "no check for " << *open.begin();
    const std::string& txn = check->check_transaction().txn_id();
    ASSERT_EQ(were_open.count(txn), 1u) << "unexpected check for " << txn;
    open.erase(txn);
    Answer(producer.get(), *check, v1::ROLLBACK);
  }
}

}  // namespace
}  // namespace halfmq::testing
