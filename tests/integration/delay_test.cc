// Delayed and scheduled messages against a real broker (wire level). Only
// lower bounds on broker times are asserted: a delayed message must never be
// visible before it is due.
#include <gtest/gtest.h>

#include "tests/util/raw_broker_test.h"

namespace halfmq::testing {
namespace {

constexpr uint32_t kInvisible = 60000;

class DelayTest : public RawBrokerTest {
 protected:
  void Start() {
    StartBroker({"--max_delay_ms=600000", "--txn_check_delay_ms=500", "--txn_scan_interval_ms=20"});
  }
  void SetUp() override {
    Start();
    v1::Frame f;
    f.mutable_create_topic()->set_name("timers");
    f.mutable_create_topic()->set_queues(2);
    ASSERT_EQ(Call(f).status().code(), v1::Status::OK);
    EXPECT_TRUE(Receive(0).empty());  // subscribe the group first
  }

  static v1::Message Msg(const std::string& id, uint32_t delay_ms, int64_t deliver_at = 0) {
    v1::Message m;
    m.set_topic("timers");
    m.set_message_id(id);
    m.set_body(id);
    m.set_delay_ms(delay_ms);
    m.set_deliver_at_ms(deliver_at);
    return m;
  }

  v1::Frame Send(std::vector<v1::Message> msgs) {
    v1::Frame f;
    for (auto& m : msgs) *f.mutable_send()->add_messages() = std::move(m);
    return Call(f);
  }

  std::vector<v1::ReceivedMessage> Receive(uint32_t wait_ms) {
    v1::Frame f;
    auto* r = f.mutable_receive();
    r->set_group("g");
    r->set_topic("timers");
    r->set_max_messages(10);
    r->set_invisible_ms(kInvisible);
    r->set_wait_ms(wait_ms);
    v1::Frame got = Call(f);
    EXPECT_EQ(got.status().code(), v1::Status::OK) << got.status().message();
    return {got.receive_response().messages().begin(), got.receive_response().messages().end()};
  }

  static int64_t DeliveredAt(const v1::ReceivedMessage& m) {
    return m.invisible_until_ms() - kInvisible;
  }

};

TEST_F(DelayTest, DelayedMessageIsInvisibleUntilDue) {
  v1::Frame sent = Send({Msg("later", 800), Msg("now", 0)});
  ASSERT_EQ(sent.status().code(), v1::Status::OK) << sent.status().message();
  const auto& later = sent.send_response().results(0);
  EXPECT_GT(later.deliver_at_ms(), 0);
  EXPECT_EQ(later.deliver_at_ms() - later.store_time_ms(), 800);
  EXPECT_EQ(sent.send_response().results(1).deliver_at_ms(), 0);
  // The immediate one is there at once, the delayed one is not.
  auto first = Receive(0);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].message().message_id(), "now");
  EXPECT_TRUE(Receive(0).empty());
  auto due = Receive(30000);  // woken by the append when it is due
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].message().message_id(), "later");
  EXPECT_GE(DeliveredAt(due[0]), later.deliver_at_ms());
  EXPECT_GE(due[0].store_time_ms(), later.deliver_at_ms());
}

TEST_F(DelayTest, ScheduledAtAnAbsoluteTime) {
  v1::Frame probe = Send({Msg("probe", 0)});
  int64_t now = probe.send_response().results(0).store_time_ms();
  v1::Frame sent = Send({Msg("at", 0, now + 700)});
  ASSERT_EQ(sent.status().code(), v1::Status::OK);
  EXPECT_EQ(sent.send_response().results(0).deliver_at_ms(), now + 700);
  ASSERT_EQ(Receive(0).size(), 1u);  // the probe
  auto due = Receive(30000);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_GE(DeliveredAt(due[0]), now + 700);
  // A deliver-at in the past is simply delivered now.
  ASSERT_EQ(Send({Msg("past", 0, now - 1000)}).status().code(), v1::Status::OK);
  EXPECT_EQ(Receive(0).size(), 1u);
}

TEST_F(DelayTest, StillDueAfterKill9AndRestart) {
  v1::Frame sent = Send({Msg("survivor", 1500)});
  ASSERT_EQ(sent.status().code(), v1::Status::OK);
  int64_t deliver_at = sent.send_response().results(0).deliver_at_ms();
  broker_->Kill9();
  Start();
  auto due = Receive(30000);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].message().message_id(), "survivor");
  EXPECT_GE(DeliveredAt(due[0]), deliver_at);
  EXPECT_TRUE(Receive(0).empty());
}

TEST_F(DelayTest, DelayInATransactionCountsFromTheCommit) {
  // The producer keeps its transaction open through one check (answering
  // unknown), so the commit comes at least the check delay after the half.
  v1::Frame hello;
  hello.mutable_hello()->add_producer_groups("pg");
  ASSERT_EQ(Call(hello).status().code(), v1::Status::OK);
  v1::Frame half;
  half.mutable_send_half()->set_txn_id("t-delay");
  half.mutable_send_half()->set_producer_group("pg");
  *half.mutable_send_half()->add_messages() = Msg("txn-delayed", 300);
  ASSERT_EQ(Call(half).status().code(), v1::Status::OK);
  v1::Frame list;
  list.mutable_list_transactions();
  int64_t created = Call(list).list_transactions_response().transactions(0).created_ms();
  std::optional<v1::Frame> check;
  while ((check = c_->ReadFrame()) && !check->has_check_transaction()) {
  }
  ASSERT_TRUE(check.has_value());
  v1::Frame unknown;
  unknown.mutable_check_transaction_response()->set_outcome(v1::UNKNOWN);
  ASSERT_TRUE(c_->Reply(*check, unknown));
  v1::Frame end;
  end.mutable_end_transaction()->set_txn_id("t-delay");
  end.mutable_end_transaction()->set_outcome(v1::COMMIT);
  v1::Frame ended = Call(end);
  ASSERT_EQ(ended.status().code(), v1::Status::OK) << ended.status().message();
  int64_t deliver_at = ended.end_transaction_response().results(0).deliver_at_ms();
  // Counted from the commit (>= 500 ms after the half), not from the half.
  EXPECT_GE(deliver_at, created + 500 + 300);
  EXPECT_TRUE(Receive(0).empty());
  auto due = Receive(30000);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_GE(DeliveredAt(due[0]), deliver_at);
  // A repeated commit reports the same schedule.
  EXPECT_EQ(Call(end).end_transaction_response().results(0).deliver_at_ms(), deliver_at);
}

TEST_F(DelayTest, BadDelaysAreRejectedAndStoreNothing) {
  EXPECT_EQ(Send({Msg("both", 100, 1)}).status().code(), v1::Status::INVALID_ARGUMENT);
  EXPECT_EQ(Send({Msg("too-far", 600001)}).status().code(), v1::Status::INVALID_ARGUMENT);
  // One bad message fails the whole batch, delayed ones included.
  EXPECT_EQ(Send({Msg("ok-delayed", 100), Msg("bad", 100, 1)}).status().code(),
            v1::Status::INVALID_ARGUMENT);
  v1::Message bad_queue = Msg("bad-queue", 100);
  bad_queue.set_queue_id(7);  // the topic has 2
  EXPECT_EQ(Send({bad_queue}).status().code(), v1::Status::INVALID_ARGUMENT);
  v1::Message missing = Msg("no-topic", 100);
  missing.set_topic("missing");
  EXPECT_EQ(Send({missing}).status().code(), v1::Status::NOT_FOUND);
  v1::Frame stats;
  stats.mutable_get_broker_stats();
  EXPECT_EQ(Call(stats).get_broker_stats_response().counters().at("delayed_pending"), 0);
}

}  // namespace
}  // namespace halfmq::testing
