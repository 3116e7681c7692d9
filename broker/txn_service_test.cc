// TxnService against a real store in a temporary directory: half sends,
// commit and rollback, check-back answered and unanswered, the max-age
// deadline, and recovery after a restart on the same data directory. The
// scanner is driven by ScanOnce() on a manual clock; what it hands to the
// blocking pool (giving up, un-counting a check) is awaited by polling the
// gauges, bounded in time.
#include "broker/txn_service.h"

#include <functional>

#include <gtest/gtest.h>

#include "broker/test_util.h"
#include "storage/txn_table.h"
#include "tests/util/eventually.h"

namespace halfmq::broker {
namespace {

using halfmq::testing::Eventually;

class TxnServiceTest : public ::testing::Test {
 protected:
  void Start(TxnOptions options = DefaultOptions()) {
    env_.Open(options);
    if (!topic_created_) env_.base.CreateTopic("orders", 1);
    topic_created_ = true;
  }

  static TxnOptions DefaultOptions() {
    TxnOptions o;
    o.check_delay_ms = 1000;
    o.check_backoff_max_ms = 60000;
    o.max_age_ms = 3600 * 1000;
    o.check_timeout_ms = 5000;
    return o;
  }

  // The transaction's state record as stored, if any.
  std::optional<v1::TxnRecord> Record(const std::string& txn) {
    auto r = storage::TxnTable(env_.base.store.get()).GetRecord(TxnId(txn));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : std::nullopt;
  }

  // The bodies of the committed messages of queue 0 of "orders".
  std::vector<std::string> Committed() {
    std::vector<storage::LoggedMessage> out;
    auto topic = env_.base.topics->Find("orders");
    EXPECT_NE(topic, nullptr);
    EXPECT_TRUE(env_.base.store
                    ->ReadMessages(topic->id(), QueueId(0), Offset(0), Offset(1000), 1000,
                                   1 << 20, &out)
                    .ok());
    std::vector<std::string> ids;
    for (const auto& m : out) ids.push_back(m.message.message_id());
    return ids;
  }

  void RegisterProducer() {
    google::protobuf::RepeatedPtrField<std::string> groups;
    *groups.Add() = "pg";
    ASSERT_TRUE(env_.txn->RegisterProducer(env_.producer, groups, 0).ok());
  }

  int64_t Gauge(const std::atomic<int64_t>& g) { return g.load(); }

  // The scanner skips a transaction whose lease is still held (it does not
  // wait for it), and the lease of an answered request goes a moment after
  // the answer, when the committer drops the callback. So a test scans until
  // the pass it expects has happened, rather than once.
  bool ScanSendsACheck() {
    return Eventually([&] { return env_.txn->ScanOnce() == 1; });
  }
  bool ScanUntil(const std::function<bool()>& done) {
    return Eventually([&] {
      env_.txn->ScanOnce();
      return done();
    });
  }

  test_util::TxnTestEnv env_;
  bool topic_created_ = false;
};

TEST_F(TxnServiceTest, CommitAppendsTheHalfMessagesOnce) {
  Start();
  v1::Frame half = env_.SendHalf("t1", {"m1", "m2"});
  ASSERT_EQ(half.status().code(), v1::Status::OK) << half.status().message();
  EXPECT_EQ(half.send_half_response().message_ids_size(), 2);
  EXPECT_TRUE(Committed().empty());  // a half message is not visible
  ASSERT_TRUE(Record("t1").has_value());
  EXPECT_EQ(Record("t1")->message_count(), 2u);
  EXPECT_EQ(Gauge(env_.base.metrics.txn_pending), 1);

  v1::Frame end = env_.End("t1", v1::COMMIT);
  ASSERT_EQ(end.status().code(), v1::Status::OK) << end.status().message();
  EXPECT_TRUE(end.end_transaction_response().applied());
  ASSERT_EQ(end.end_transaction_response().results_size(), 2);
  EXPECT_EQ(Committed(), (std::vector<std::string>{"m1", "m2"}));
  EXPECT_FALSE(Record("t1").has_value());
  EXPECT_EQ(Gauge(env_.base.metrics.txn_pending), 0);
  EXPECT_EQ(Gauge(env_.base.metrics.txn_committed), 1);

  // A repeated commit returns the first outcome and appends nothing; the
  // opposite outcome is refused.
  v1::Frame again = env_.End("t1", v1::COMMIT);
  ASSERT_EQ(again.status().code(), v1::Status::OK);
  EXPECT_FALSE(again.end_transaction_response().applied());
  EXPECT_EQ(again.end_transaction_response().results(1).offset(),
            end.end_transaction_response().results(1).offset());
  EXPECT_EQ(env_.End("t1", v1::ROLLBACK).status().code(), v1::Status::FAILED_PRECONDITION);
  EXPECT_EQ(Committed().size(), 2u);
  // And no half send may join a settled transaction.
  EXPECT_EQ(env_.SendHalf("t1", {"m3"}).status().code(), v1::Status::FAILED_PRECONDITION);
}

TEST_F(TxnServiceTest, HalfSendsAddUpAndARetryIsNotStoredTwice) {
  Start();
  ASSERT_EQ(env_.SendHalf("t1", {"m1"}).status().code(), v1::Status::OK);
  ASSERT_EQ(env_.SendHalf("t1", {"m1", "m2"}).status().code(), v1::Status::OK);
  EXPECT_EQ(Record("t1")->message_count(), 2u);
  // Another group may not add to it.
  EXPECT_EQ(env_.SendHalf("t1", {"m9"}, "other").status().code(),
            v1::Status::FAILED_PRECONDITION);
  ASSERT_EQ(env_.End("t1", v1::COMMIT).status().code(), v1::Status::OK);
  EXPECT_EQ(Committed(), (std::vector<std::string>{"m1", "m2"}));
}

TEST_F(TxnServiceTest, RollbackDropsTheHalfMessages) {
  Start();
  ASSERT_EQ(env_.SendHalf("t1", {"m1"}).status().code(), v1::Status::OK);
  v1::Frame end = env_.End("t1", v1::ROLLBACK);
  ASSERT_EQ(end.status().code(), v1::Status::OK) << end.status().message();
  EXPECT_TRUE(end.end_transaction_response().applied());
  EXPECT_EQ(end.end_transaction_response().outcome(), v1::ROLLBACK);
  EXPECT_TRUE(Committed().empty());
  EXPECT_FALSE(Record("t1").has_value());
  auto halves = storage::TxnTable(env_.base.store.get()).ReadHalves(TxnId("t1"), 1);
  EXPECT_FALSE(halves.ok());  // deleted with the state
  EXPECT_EQ(Gauge(env_.base.metrics.txn_rolled_back), 1);
  EXPECT_EQ(env_.End("t1", v1::COMMIT).status().code(), v1::Status::FAILED_PRECONDITION);
  EXPECT_EQ(env_.End("never", v1::COMMIT).status().code(), v1::Status::NOT_FOUND);
}

TEST_F(TxnServiceTest, AnsweredCheckCountsAndTheProducerSettles) {
  Start();
  ASSERT_EQ(env_.SendHalf("t1", {"m1"}).status().code(), v1::Status::OK);
  RegisterProducer();
  EXPECT_EQ(env_.txn->ScanOnce(), 0u);  // not due yet
  env_.base.clock.Advance(1000);
  ASSERT_TRUE(ScanSendsACheck());
  v1::CheckTransactionRequest check = env_.producer->AwaitCheck();
  EXPECT_EQ(check.txn_id(), "t1");
  EXPECT_EQ(check.producer_group(), "pg");
  EXPECT_EQ(check.check_number(), 1u);
  ASSERT_EQ(check.messages_size(), 1);
  EXPECT_EQ(check.messages(0).message_id(), "m1");
  // The check is durable before it goes out: counted, and due again later.
  ASSERT_TRUE(Record("t1").has_value());
  EXPECT_EQ(Record("t1")->checks(), 1u);
  EXPECT_GT(Record("t1")->next_check_ms(), env_.base.clock.NowMs());
  EXPECT_EQ(env_.txn->ScanOnce(), 0u);  // not due again yet
  env_.producer->Answer();
  EXPECT_EQ(Gauge(env_.base.metrics.txn_checks_answered), 1);
  ASSERT_EQ(env_.End("t1", v1::COMMIT).status().code(), v1::Status::OK);
  EXPECT_EQ(Committed(), (std::vector<std::string>{"m1"}));
}

TEST_F(TxnServiceTest, CheckLostWithItsConnectionIsNotCounted) {
  Start();
  ASSERT_EQ(env_.SendHalf("t1", {"m1"}).status().code(), v1::Status::OK);
  RegisterProducer();
  env_.base.clock.Advance(1000);
  ASSERT_TRUE(ScanSendsACheck());
  env_.producer->AwaitCheck();
  env_.producer->Drop();
  // Un-counted on the pool, under the transaction's lease.
  ASSERT_TRUE(Eventually([&] {
    auto r = Record("t1");
    return r && r->checks() == 0;
  }));
  EXPECT_EQ(Record("t1")->uncounted(), 1u);
  EXPECT_EQ(Gauge(env_.base.metrics.txn_checks_uncounted), 1);
  // Asked again soon, not after the backoff of a delivered check.
  EXPECT_EQ(Record("t1")->next_check_ms(), env_.base.clock.NowMs() + 1000);
}

TEST_F(TxnServiceTest, UnansweredCheckTimesOut) {
  TxnOptions o = DefaultOptions();
  o.check_timeout_ms = 1000;  // before the next check is due (>= 1.5 s later)
  Start(o);
  ASSERT_EQ(env_.SendHalf("t1", {"m1"}).status().code(), v1::Status::OK);
  RegisterProducer();
  env_.base.clock.Advance(1000);
  ASSERT_TRUE(ScanSendsACheck());
  env_.producer->AwaitCheck();
  env_.base.clock.Advance(999);
  env_.txn->ScanOnce();
  EXPECT_EQ(Gauge(env_.base.metrics.txn_check_timeouts), 0);
  env_.base.clock.Advance(1);
  env_.txn->ScanOnce();
  EXPECT_EQ(Gauge(env_.base.metrics.txn_check_timeouts), 1);
  // The slot stays taken until the answer or the close.
  EXPECT_EQ(env_.registry->Outstanding(env_.producer->id()), 1u);
  env_.producer->Answer();
  EXPECT_EQ(env_.registry->Outstanding(env_.producer->id()), 0u);
}

TEST_F(TxnServiceTest, MaxAgeMakesATransactionUnresolvedForAnOperator) {
  TxnOptions o = DefaultOptions();
  o.max_age_ms = 5000;
  Start(o);
  ASSERT_EQ(env_.SendHalf("t1", {"m1"}).status().code(), v1::Status::OK);
  env_.base.clock.Advance(4999);
  env_.txn->ScanOnce();
  EXPECT_EQ(Record("t1")->state(), v1::PENDING);
  env_.base.clock.Advance(1);  // no producer online: the age pass needs none
  ASSERT_TRUE(ScanUntil([&] { return Gauge(env_.base.metrics.txn_unresolved) == 1; }));
  EXPECT_EQ(Gauge(env_.base.metrics.txn_pending), 0);
  EXPECT_EQ(Record("t1")->state(), v1::UNRESOLVED);
  v1::Frame list = env_.List(v1::UNRESOLVED);
  ASSERT_EQ(list.list_transactions_response().transactions_size(), 1);
  EXPECT_EQ(list.list_transactions_response().transactions(0).txn_id(), "t1");
  // Unresolved takes no more half sends; an operator settles it.
  EXPECT_EQ(env_.SendHalf("t1", {"m2"}).status().code(), v1::Status::FAILED_PRECONDITION);
  v1::Frame end = env_.End("t1", v1::COMMIT, /*from_operator=*/true);
  ASSERT_EQ(end.status().code(), v1::Status::OK) << end.status().message();
  EXPECT_EQ(Committed(), (std::vector<std::string>{"m1"}));
  EXPECT_EQ(Gauge(env_.base.metrics.txn_unresolved), 0);
  EXPECT_EQ(env_.List(v1::UNRESOLVED).list_transactions_response().transactions_size(), 0);
}

TEST_F(TxnServiceTest, MaxAgeWithRollbackPolicySettlesIt) {
  TxnOptions o = DefaultOptions();
  o.max_age_ms = 5000;
  o.unresolved_action = UnresolvedAction::kRollback;
  Start(o);
  ASSERT_EQ(env_.SendHalf("t1", {"m1"}).status().code(), v1::Status::OK);
  env_.base.clock.Advance(5000);
  ASSERT_TRUE(ScanUntil([&] { return Gauge(env_.base.metrics.txn_rolled_back) == 1; }));
  EXPECT_FALSE(Record("t1").has_value());
  EXPECT_EQ(Gauge(env_.base.metrics.txn_unresolved), 0);
  EXPECT_TRUE(Committed().empty());
}

TEST_F(TxnServiceTest, RestartRecoversPendingTransactionsAndTheirChecks) {
  Start();
  ASSERT_EQ(env_.SendHalf("pending", {"p1", "p2"}).status().code(), v1::Status::OK);
  ASSERT_EQ(env_.SendHalf("done", {"d1"}).status().code(), v1::Status::OK);
  ASSERT_EQ(env_.End("done", v1::COMMIT).status().code(), v1::Status::OK);
  env_.Close();
  env_.base.metrics.txn_pending.store(-1);  // Recover must set them again
  env_.base.metrics.txn_settled.store(-1);

  Start();
  EXPECT_EQ(Gauge(env_.base.metrics.txn_pending), 1);
  EXPECT_EQ(Gauge(env_.base.metrics.txn_settled), 1);
  // The remembered outcome survived: a repeat returns it.
  v1::Frame repeat = env_.End("done", v1::COMMIT);
  ASSERT_EQ(repeat.status().code(), v1::Status::OK);
  EXPECT_FALSE(repeat.end_transaction_response().applied());
  // The due index was recovered: the pending one is checked once due.
  RegisterProducer();
  env_.base.clock.Advance(1000);
  ASSERT_TRUE(ScanSendsACheck());
  EXPECT_EQ(env_.producer->AwaitCheck().txn_id(), "pending");
  env_.producer->Answer();
  // And it commits with both messages after the one committed before.
  ASSERT_EQ(env_.End("pending", v1::COMMIT).status().code(), v1::Status::OK);
  EXPECT_EQ(Committed(), (std::vector<std::string>{"d1", "p1", "p2"}));
}

}  // namespace
}  // namespace halfmq::broker
