// Transactions at the wire level against a real broker: commit, rollback,
// typed errors, the size bound and the state cache. The check-backs are in
// txn_check_test.cc, the fixture (the test plays the producer with raw
// frames) in txn_protocol_test.h.
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

TEST_F(TxnProtocolTest, CommitMakesAllMessagesVisibleAtOnceAndRepeatsWriteNothing) {
  StartBroker({"--txn_check_delay_ms=3600000", "--txn_check_backoff_max_ms=3600000"});
  CreateTopic("orders");
  CreateTopic("audit");
  // Subscribe before, so "invisible" is not just "before the group existed".
  EXPECT_TRUE(ReceiveIds("g", "orders").empty());
  EXPECT_TRUE(ReceiveIds("g", "audit").empty());
  auto producer = Connect();
  v1::Frame half =
      Call(producer.get(), HalfFrame("t1", "pg", {{"orders", "m1"}, {"audit", "m2"}}));
  ASSERT_EQ(half.status().code(), v1::Status::OK) << half.status().message();
  EXPECT_EQ(half.send_half_response().message_ids_size(), 2);
  // A retried half send of the same messages adds nothing.
  ASSERT_EQ(Call(producer.get(), HalfFrame("t1", "pg", {{"orders", "m1"}})).status().code(),
            v1::Status::OK);
  EXPECT_TRUE(ReceiveIds("g", "orders").empty()) << "half messages must be invisible";
  auto pending = List(v1::PENDING);
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].message_count(), 2u);
  EXPECT_EQ(pending[0].topics_size(), 2);

  v1::Frame end = Call(producer.get(), EndFrame("t1", v1::COMMIT));
  ASSERT_EQ(end.status().code(), v1::Status::OK) << end.status().message();
  EXPECT_TRUE(end.end_transaction_response().applied());
  ASSERT_EQ(end.end_transaction_response().results_size(), 2);
  EXPECT_EQ(ReceiveIds("g", "orders"), std::vector<std::string>{"m1"});
  EXPECT_EQ(ReceiveIds("g", "audit"), std::vector<std::string>{"m2"});

  // A repeated commit returns the first outcome and writes nothing; the
  // opposite outcome is refused.
  v1::Frame again = Call(producer.get(), EndFrame("t1", v1::COMMIT));
  ASSERT_EQ(again.status().code(), v1::Status::OK);
  EXPECT_FALSE(again.end_transaction_response().applied());
  EXPECT_EQ(again.end_transaction_response().results(0).offset(),
            end.end_transaction_response().results(0).offset());
  EXPECT_EQ(Call(producer.get(), EndFrame("t1", v1::ROLLBACK)).status().code(),
            v1::Status::FAILED_PRECONDITION);
  // Nor can a settled transaction take more messages.
  EXPECT_EQ(Call(producer.get(), HalfFrame("t1", "pg", {{"orders", "m3"}})).status().code(),
            v1::Status::FAILED_PRECONDITION);
  EXPECT_TRUE(ReceiveIds("g", "orders").empty()) << "a repeated commit wrote again";
  EXPECT_EQ(Stat("messages_sent"), 2);
  EXPECT_TRUE(List(v1::TXN_STATE_UNSPECIFIED).empty());
}

TEST_F(TxnProtocolTest, RollbackNeverDeliversAndCommitAfterItIsRefused) {
  StartBroker({"--txn_check_delay_ms=3600000", "--txn_check_backoff_max_ms=3600000"});
  CreateTopic("orders");
  EXPECT_TRUE(ReceiveIds("g", "orders").empty());
  auto producer = Connect();
  ASSERT_EQ(Call(producer.get(), HalfFrame("t2", "pg", {{"orders", "r1"}})).status().code(),
            v1::Status::OK);
  v1::Frame rb = Call(producer.get(), EndFrame("t2", v1::ROLLBACK));
  ASSERT_EQ(rb.status().code(), v1::Status::OK);
  EXPECT_EQ(rb.end_transaction_response().outcome(), v1::ROLLBACK);
  EXPECT_EQ(Call(producer.get(), EndFrame("t2", v1::COMMIT)).status().code(),
            v1::Status::FAILED_PRECONDITION);
  v1::Frame rb2 = Call(producer.get(), EndFrame("t2", v1::ROLLBACK));
  EXPECT_FALSE(rb2.end_transaction_response().applied());
  EXPECT_TRUE(ReceiveIds("g", "orders").empty());
  EXPECT_EQ(Stat("messages_sent"), 0);
  EXPECT_EQ(Call(producer.get(), EndFrame("never-sent", v1::COMMIT)).status().code(),
            v1::Status::NOT_FOUND);
}

TEST_F(TxnProtocolTest, BadRequestsGetTypedErrors) {
  StartBroker();
  CreateTopic("orders");
  auto p = Connect();
  EXPECT_EQ(Call(p.get(), HalfFrame("has space", "pg", {{"orders", "a"}})).status().code(),
            v1::Status::INVALID_ARGUMENT);
  EXPECT_EQ(Call(p.get(), HalfFrame("t", "bad group!", {{"orders", "a"}})).status().code(),
            v1::Status::INVALID_ARGUMENT);
  EXPECT_EQ(Call(p.get(), HalfFrame("t", "pg", {{"missing", "a"}})).status().code(),
            v1::Status::NOT_FOUND);
  EXPECT_EQ(Call(p.get(), HalfFrame("t", "pg", {{"orders", "a"}, {"orders", "a"}})).status().code(),
            v1::Status::INVALID_ARGUMENT);
  EXPECT_EQ(Call(p.get(), HalfFrame("t", "pg", {})).status().code(), v1::Status::INVALID_ARGUMENT);
  EXPECT_EQ(Call(p.get(), EndFrame("t", v1::UNKNOWN)).status().code(),
            v1::Status::INVALID_ARGUMENT);
  ASSERT_EQ(Call(p.get(), HalfFrame("t", "pg", {{"orders", "a"}})).status().code(),
            v1::Status::OK);
  EXPECT_EQ(Call(p.get(), HalfFrame("t", "other", {{"orders", "b"}})).status().code(),
            v1::Status::FAILED_PRECONDITION);
  EXPECT_EQ(List(v1::PENDING).size(), 1u);
}

TEST_F(TxnProtocolTest, UnknownThenCheckAnsweredCommitDeliversExactlyOnce) {
  StartBroker();
  CreateTopic("orders");
  EXPECT_TRUE(ReceiveIds("g", "orders").empty());
  auto producer = Hello(Connect(), "pg");
  ASSERT_EQ(Call(producer.get(), HalfFrame("t3", "pg", {{"orders", "c1"}})).status().code(),
            v1::Status::OK);
  // The producer "does not know yet" once, then commits.
  auto first = NextCheck(producer.get());
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->check_transaction().txn_id(), "t3");
  EXPECT_EQ(first->check_transaction().check_number(), 1u);
  ASSERT_EQ(first->check_transaction().messages_size(), 1);
  EXPECT_EQ(first->check_transaction().messages(0).body(), "body of c1");
  Answer(producer.get(), *first, v1::UNKNOWN);
  auto second = NextCheck(producer.get());
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->check_transaction().check_number(), 2u);
  Answer(producer.get(), *second, v1::COMMIT);
  EXPECT_EQ(ReceiveIds("g", "orders", 10000), std::vector<std::string>{"c1"});
  EXPECT_TRUE(ReceiveIds("g", "orders").empty());
  EXPECT_EQ(Stat("messages_sent"), 1);
}

// The state cache: a fresh transaction is sent and extended from memory; a
// restart empties the cache and the commit reads RocksDB instead. Either way
// every message is delivered once.
TEST_F(TxnProtocolTest, CachedStateSettlesAndAfterRestartReadsSettleTheSame) {
  StartBroker();
  CreateTopic("orders");
  EXPECT_TRUE(ReceiveIds("g", "orders").empty());
  auto producer = Hello(Connect(), "pg");
  v1::Frame first = HalfFrame("c1", "pg", {{"orders", "c1-a"}});
  first.mutable_send_half()->set_fresh_txn(true);
  ASSERT_EQ(Call(producer.get(), first).status().code(), v1::Status::OK);
  ASSERT_EQ(Call(producer.get(), HalfFrame("c1", "pg", {{"orders", "c1-b"}})).status().code(),
            v1::Status::OK);
  // A retry of the first send adds nothing.
  ASSERT_EQ(Call(producer.get(), HalfFrame("c1", "pg", {{"orders", "c1-a"}})).status().code(),
            v1::Status::OK);
  v1::Frame other = HalfFrame("c2", "pg", {{"orders", "c2-a"}});
  other.mutable_send_half()->set_fresh_txn(true);
  ASSERT_EQ(Call(producer.get(), other).status().code(), v1::Status::OK);
  v1::Frame end = Call(producer.get(), EndFrame("c1", v1::COMMIT));
  ASSERT_EQ(end.status().code(), v1::Status::OK) << end.status().message();
  EXPECT_TRUE(end.end_transaction_response().applied());
  EXPECT_EQ(end.end_transaction_response().results_size(), 2);
  EXPECT_GE(Stat("txn_cache_hits"), 3);  // second send, retry, commit
  EXPECT_EQ(Stat("txn_cache_entries"), 1);  // c2
  producer.reset();
  admin_.reset();
  ASSERT_EQ(broker_->Terminate(), 0);
  StartBroker();
  EXPECT_EQ(Stat("txn_cache_entries"), 0);
  producer = Hello(Connect(), "pg");
  end = Call(producer.get(), EndFrame("c2", v1::COMMIT));
  ASSERT_EQ(end.status().code(), v1::Status::OK) << end.status().message();
  EXPECT_TRUE(end.end_transaction_response().applied());
  EXPECT_GE(Stat("txn_cache_misses"), 1);
  // A repeat is answered from the remembered outcome, as before.
  end = Call(producer.get(), EndFrame("c1", v1::COMMIT));
  ASSERT_EQ(end.status().code(), v1::Status::OK);
  EXPECT_FALSE(end.end_transaction_response().applied());
  std::multiset<std::string> got;
  for (int i = 0; i < 3 && got.size() < 3; ++i) {
    for (auto& id : ReceiveIds("g", "orders", 10000)) got.insert(id);
  }
  EXPECT_EQ(got, (std::multiset<std::string>{"c1-a", "c1-b", "c2-a"}));
  EXPECT_TRUE(ReceiveIds("g", "orders").empty());
}

// A check going out rewrites the state record (check count, next check), so
// it must drop the cached copy: a later SendHalf then builds on the record
// with the count, and the next check is number 2 and carries both messages.
TEST_F(TxnProtocolTest, CheckGoingOutDropsCachedStateSoLaterSendsKeepTheCount) {
  StartBroker();
  CreateTopic("orders");
  auto producer = Hello(Connect(), "pg");
  v1::Frame first = HalfFrame("k1", "pg", {{"orders", "k1-a"}});
  first.mutable_send_half()->set_fresh_txn(true);
  ASSERT_EQ(Call(producer.get(), first).status().code(), v1::Status::OK);
  auto check = NextCheck(producer.get());
  ASSERT_TRUE(check.has_value());
  EXPECT_EQ(check->check_transaction().check_number(), 1u);
  Answer(producer.get(), *check, v1::UNKNOWN);
  ASSERT_EQ(Call(producer.get(), HalfFrame("k1", "pg", {{"orders", "k1-b"}})).status().code(),
            v1::Status::OK);
  auto second = NextCheck(producer.get());
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->check_transaction().check_number(), 2u);
  EXPECT_EQ(second->check_transaction().messages_size(), 2);
  Answer(producer.get(), *second, v1::COMMIT);
  std::set<std::string> got;
  for (int i = 0; i < 3 && got.size() < 2; ++i) {
    for (auto& id : ReceiveIds("g", "orders", 10000)) got.insert(id);
  }
  EXPECT_EQ(got, (std::set<std::string>{"k1-a", "k1-b"}));
}

// A fresh_txn flag on an id whose state is still cached is ignored.
TEST_F(TxnProtocolTest, FreshFlagOnACachedTransactionIsIgnored) {
  StartBroker();
  CreateTopic("orders");
  auto producer = Hello(Connect(), "pg");
  for (const char* id : {"f-a", "f-b"}) {
    v1::Frame f = HalfFrame("f1", "pg", {{"orders", id}});
    f.mutable_send_half()->set_fresh_txn(true);
    ASSERT_EQ(Call(producer.get(), f).status().code(), v1::Status::OK);
  }
  v1::Frame end = Call(producer.get(), EndFrame("f1", v1::COMMIT));
  ASSERT_EQ(end.status().code(), v1::Status::OK);
  EXPECT_EQ(end.end_transaction_response().results_size(), 2);
}

// With a cache too small for the open transactions, the oldest are evicted
// and settle by reading RocksDB; with the cache off, all do. Nothing is lost
// or delivered twice.
TEST_F(TxnProtocolTest, EvictedOrUncachedTransactionsSettleFromRocksDb) {
  for (const char* cache_mb : {"1", "0"}) {
    SCOPED_TRACE(cache_mb);
    StartBroker({std::string("--txn_cache_mb=") + cache_mb}, std::string("data-") + cache_mb);
    CreateTopic("orders");
    auto producer = Hello(Connect(), "pg");
    constexpr int kTxns = 60;
    std::set<std::string> expected;
    for (int i = 0; i < kTxns; ++i) {
      std::string txn = "e" + std::to_string(i);
      v1::Frame f = HalfFrame(txn, "pg", {{"orders", txn + "-m"}});
      f.mutable_send_half()->set_fresh_txn(true);
      f.mutable_send_half()->mutable_messages(0)->set_body(std::string(32 << 10, 'x'));
      ASSERT_EQ(Call(producer.get(), f).status().code(), v1::Status::OK);
      if (i % 2 == 0) expected.insert(txn + "-m");
    }
    for (int i = 0; i < kTxns; ++i) {
      v1::Frame end = Call(producer.get(), EndFrame("e" + std::to_string(i),
                                                    i % 2 == 0 ? v1::COMMIT : v1::ROLLBACK));
      ASSERT_EQ(end.status().code(), v1::Status::OK) << end.status().message();
    }
    EXPECT_GT(Stat("txn_cache_misses"), 0);
    if (std::string(cache_mb) == "1") {
      EXPECT_GT(Stat("txn_cache_evictions"), 0);
      EXPECT_GT(Stat("txn_cache_hits"), 0);
    } else {
      EXPECT_EQ(Stat("txn_cache_hits"), 0);
    }
    EXPECT_EQ(Stat("txn_cache_entries"), 0);
    std::multiset<std::string> got;
    for (int i = 0; i < 10 && got.size() < expected.size(); ++i) {
      for (auto& id : ReceiveIds("g", "orders", 10000)) got.insert(id);
    }
    EXPECT_EQ(got, std::multiset<std::string>(expected.begin(), expected.end()));
    producer.reset();
    admin_.reset();
    ASSERT_EQ(broker_->Terminate(), 0);
  }
}

TEST_F(TxnProtocolTest, TransactionSizeIsBounded) {
  StartBroker({"--max_frame_bytes=1048576", "--max_message_bytes=262144"});
  CreateTopic("orders");
  auto p = Connect();
  v1::Frame big = HalfFrame("big", "pg", {});
  for (int i = 0; i < 4; ++i) {
    auto* m = big.mutable_send_half()->add_messages();
    m->set_topic("orders");
    m->set_message_id("m" + std::to_string(i));
    m->set_body(std::string(250 * 1024, 'x'));
  }
  // Four messages of 250 KiB are fine one by one, not together in one
  // transaction whose check must fit a 1 MiB frame.
  EXPECT_EQ(Call(p.get(), big).status().code(), v1::Status::INVALID_ARGUMENT);
  EXPECT_TRUE(List(v1::TXN_STATE_UNSPECIFIED).empty());
}

}  // namespace
}  // namespace halfmq::testing
