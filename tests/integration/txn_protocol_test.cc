// Transactions at the wire level against a real broker: the test plays the
// producer itself (raw frames), so it controls exactly when checks are
// answered, with what, and when connections go away.
#include <algorithm>
#include <chrono>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "tests/util/broker_process.h"
#include "tests/util/eventually.h"
#include "tests/util/raw_client.h"
#include "tests/util/temp_dir.h"

namespace halfmq::testing {
namespace {

class TxnProtocolTest : public ::testing::Test {
 protected:
  void StartBroker(std::vector<std::string> extra = {}, const std::string& data = "data") {
    std::vector<std::string> flags = {"--txn_check_delay_ms=100", "--txn_check_backoff_max_ms=200",
                                      "--txn_scan_interval_ms=20"};
    flags.insert(flags.end(), extra.begin(), extra.end());
    broker_ = BrokerProcess::Start(dir_.Sub(data), flags);
    ASSERT_NE(broker_, nullptr);
    admin_ = std::make_unique<RawClient>(broker_->address());
    ASSERT_TRUE(admin_->connected());
  }

  std::unique_ptr<RawClient> Connect() {
    auto c = std::make_unique<RawClient>(broker_->address());
    EXPECT_TRUE(c->connected());
    return c;
  }

  static v1::Frame Call(RawClient* c, v1::Frame f) {
    auto r = c->Call(std::move(f));
    EXPECT_TRUE(r.has_value());
    return r.value_or(v1::Frame());
  }

  void CreateTopic(const std::string& name) {
    v1::Frame f;
    f.mutable_create_topic()->set_name(name);
    f.mutable_create_topic()->set_queues(1);
    ASSERT_EQ(Call(admin_.get(), f).status().code(), v1::Status::OK);
  }

  static v1::Frame HalfFrame(const std::string& txn, const std::string& group,
                             const std::vector<std::pair<std::string, std::string>>& msgs) {
    v1::Frame f;
    auto* h = f.mutable_send_half();
    h->set_txn_id(txn);
    h->set_producer_group(group);
    for (const auto& [topic, id] : msgs) {
      auto* m = h->add_messages();
      m->set_topic(topic);
      m->set_message_id(id);
      m->set_body("body of " + id);
    }
    return f;
  }

  static v1::Frame EndFrame(const std::string& txn, v1::TxnOutcome outcome,
                            bool from_check = false, bool from_operator = false) {
    v1::Frame f;
    auto* e = f.mutable_end_transaction();
    e->set_txn_id(txn);
    e->set_outcome(outcome);
    e->set_from_check(from_check);
    e->set_from_operator(from_operator);
    return f;
  }

  std::vector<std::string> ReceiveIds(const std::string& group, const std::string& topic,
                                      uint32_t wait_ms = 0) {
    v1::Frame f;
    auto* r = f.mutable_receive();
    r->set_group(group);
    r->set_topic(topic);
    r->set_max_messages(100);
    r->set_wait_ms(wait_ms);
    v1::Frame got = Call(admin_.get(), f);
    EXPECT_EQ(got.status().code(), v1::Status::OK) << got.status().message();
    std::vector<std::string> ids;
    v1::Frame ack;
    ack.mutable_ack()->set_group(group);
    for (const auto& m : got.receive_response().messages()) {
      ids.push_back(m.message().message_id());
      ack.mutable_ack()->add_receipt_handles(m.receipt_handle());
    }
    if (!ids.empty()) Call(admin_.get(), ack);
    return ids;
  }

  int64_t Stat(const std::string& name) {
    v1::Frame f;
    f.mutable_get_broker_stats();
    v1::Frame r = Call(admin_.get(), f);
    auto it = r.get_broker_stats_response().counters().find(name);
    return it == r.get_broker_stats_response().counters().end() ? -1 : it->second;
  }

  std::vector<v1::TransactionInfo> List(v1::TxnState state) {
    v1::Frame f;
    f.mutable_list_transactions()->set_state(state);
    v1::Frame r = Call(admin_.get(), f);
    EXPECT_EQ(r.status().code(), v1::Status::OK);
    return {r.list_transactions_response().transactions().begin(),
            r.list_transactions_response().transactions().end()};
  }

  // The kinds of a message's trace events, oldest first (empty if unknown).
  std::vector<v1::TraceKind> TraceKinds(const std::string& message_id,
                                        std::vector<v1::TraceEvent>* events = nullptr) {
    v1::Frame f;
    f.mutable_trace_message()->set_message_id(message_id);
    v1::Frame r = Call(admin_.get(), f);
    std::vector<v1::TraceKind> kinds;
    for (const auto& e : r.trace_message_response().events()) {
      kinds.push_back(e.kind());
      if (events) events->push_back(e);
    }
    return kinds;
  }
  static int Count(const std::vector<v1::TraceKind>& kinds, v1::TraceKind kind) {
    return static_cast<int>(std::count(kinds.begin(), kinds.end(), kind));
  }

  // Reads frames on a producer connection until a CheckTransaction arrives.
  static std::optional<v1::Frame> NextCheck(RawClient* producer) {
    for (;;) {
      auto f = producer->ReadFrame();
      if (!f) return std::nullopt;
      if (f->type() == v1::REQUEST && f->has_check_transaction()) return f;
    }
  }

  // Answers a check the way the client library does: the verdict first (an
  // acknowledged EndTransaction), then the check's own response.
  static void Answer(RawClient* producer, const v1::Frame& check, v1::TxnOutcome outcome) {
    if (outcome != v1::UNKNOWN) {
      v1::Frame end = Call(producer, EndFrame(check.check_transaction().txn_id(), outcome, true));
      EXPECT_EQ(end.status().code(), v1::Status::OK) << end.status().message();
    }
    v1::Frame response;
    response.mutable_check_transaction_response()->set_outcome(outcome);
    ASSERT_TRUE(producer->Reply(check, response));
  }

  static std::unique_ptr<RawClient> Hello(std::unique_ptr<RawClient> c, const std::string& group,
                                          uint32_t max_checks = 0) {
    v1::Frame f;
    f.mutable_hello()->set_client_id("producer");
    f.mutable_hello()->add_producer_groups(group);
    f.mutable_hello()->set_max_outstanding_checks(max_checks);
    EXPECT_EQ(Call(c.get(), f).status().code(), v1::Status::OK);
    return c;
  }

  TempDir dir_;
  std::unique_ptr<BrokerProcess> broker_;
  std::unique_ptr<RawClient> admin_;
};

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
