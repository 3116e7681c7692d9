// FIFO message groups against a real broker (wire level): within a group
// the next message waits until the previous one is acked or dead-lettered;
// groups proceed in parallel.
#include <algorithm>
#include <map>

#include <gtest/gtest.h>

#include "tests/util/raw_broker_test.h"

namespace halfmq::testing {
namespace {

class FifoTest : public RawBrokerTest {
 protected:
  void Start() { StartBroker({"--dead_letter_interval_ms=20"}); }
  void SetUp() override {
    Start();
    v1::Frame f;
    f.mutable_create_topic()->set_name("ledger");
    f.mutable_create_topic()->set_queues(2);
    f.mutable_create_topic()->set_fifo(true);
    v1::Frame r = Call(f);
    ASSERT_EQ(r.status().code(), v1::Status::OK);
    EXPECT_TRUE(r.create_topic_response().topic().fifo());
    v1::Frame policy;
    policy.mutable_set_group_config()->set_group("g");
    policy.mutable_set_group_config()->mutable_retry_policy()->mutable_fixed()->add_delays_ms(10);
    policy.mutable_set_group_config()->mutable_retry_policy()->set_max_attempts(3);
    ASSERT_EQ(Call(policy).status().code(), v1::Status::OK);
  }
  void Send(const std::vector<std::pair<std::string, std::string>>& group_and_id) {
    v1::Frame f;
    for (const auto& [group, id] : group_and_id) {
      auto* m = f.mutable_send()->add_messages();
      m->set_topic("ledger");
      m->set_message_id(id);
      m->set_message_group(group);
    }
    ASSERT_EQ(Call(f).status().code(), v1::Status::OK);
  }
  std::vector<v1::ReceivedMessage> Receive(uint32_t wait_ms, uint32_t invisible_ms = 60000) {
    v1::Frame f;
    auto* r = f.mutable_receive();
    r->set_group("g");
    r->set_topic("ledger");
    r->set_max_messages(100);
    r->set_invisible_ms(invisible_ms);
    r->set_wait_ms(wait_ms);
    v1::Frame got = Call(f);
    EXPECT_EQ(got.status().code(), v1::Status::OK);
    return {got.receive_response().messages().begin(), got.receive_response().messages().end()};
  }
  static std::vector<std::string> Ids(const std::vector<v1::ReceivedMessage>& ms) {
    std::vector<std::string> ids;
    for (const auto& m : ms) ids.push_back(m.message().message_id());
    std::sort(ids.begin(), ids.end());
    return ids;
  }
  void Ack(const v1::ReceivedMessage& m) {
    v1::Frame f;
    f.mutable_ack()->set_group("g");
    f.mutable_ack()->add_receipt_handles(m.receipt_handle());
    ASSERT_EQ(Call(f).ack_response().results(0).code(), v1::Status::OK);
  }
  void Nack(const v1::ReceivedMessage& m) {
    v1::Frame f;
    f.mutable_nack()->set_group("g");
    f.mutable_nack()->add_receipt_handles(m.receipt_handle());
    f.mutable_nack()->set_reason("retry");
    ASSERT_EQ(Call(f).nack_response().results(0).code(), v1::Status::OK);
  }

};

TEST_F(FifoTest, NextOfAGroupWaitsForAckWhileOtherGroupsFlow) {
  Send({{"A", "a1"}, {"B", "b1"}, {"A", "a2"}, {"B", "b2"}, {"A", "a3"}});
  auto heads = Receive(0);
  EXPECT_EQ(Ids(heads), (std::vector<std::string>{"a1", "b1"}));
  EXPECT_TRUE(Receive(0).empty()) << "a group's next message came before the previous was acked";
  std::map<std::string, v1::ReceivedMessage> by_id;
  for (auto& m : heads) by_id[m.message().message_id()] = m;
  Ack(by_id["a1"]);
  auto next = Receive(10000);
  EXPECT_EQ(Ids(next), std::vector<std::string>{"a2"});
  // A nacked head comes back before anything after it in its group.
  Nack(by_id["b1"]);
  auto again = Receive(10000);
  ASSERT_EQ(Ids(again), std::vector<std::string>{"b1"});
  EXPECT_EQ(again[0].attempt(), 2u);
  Ack(again[0]);
  auto b2 = Receive(10000);
  EXPECT_EQ(Ids(b2), std::vector<std::string>{"b2"});
  Ack(next[0]);
  auto a3 = Receive(10000);
  EXPECT_EQ(Ids(a3), std::vector<std::string>{"a3"});
}

TEST_F(FifoTest, DeadLetteredHeadReleasesTheNext) {
  Send({{"A", "x1"}, {"A", "x2"}});
  for (uint32_t attempt = 1; attempt <= 3; ++attempt) {
    auto got = Receive(10000);
    ASSERT_EQ(Ids(got), std::vector<std::string>{"x1"}) << "attempt " << attempt;
    EXPECT_EQ(got[0].attempt(), attempt);
    Nack(got[0]);  // the third nack dead-letters it
  }
  auto next = Receive(10000);
  ASSERT_EQ(Ids(next), std::vector<std::string>{"x2"});
  EXPECT_EQ(next[0].attempt(), 1u);
}

TEST_F(FifoTest, OrderSurvivesKill9) {
  Send({{"A", "k1"}, {"A", "k2"}, {"A", "k3"}});
  auto head = Receive(0, 200);
  ASSERT_EQ(Ids(head), std::vector<std::string>{"k1"});
  broker_->Kill9();
  Start();
  // k1 was never acked: it comes back (after its invisibility and retry
  // delay), still before k2.
  auto again = Receive(30000);
  ASSERT_EQ(Ids(again), std::vector<std::string>{"k1"});
  EXPECT_EQ(again[0].attempt(), 2u);
  Ack(again[0]);
  EXPECT_EQ(Ids(Receive(10000)), std::vector<std::string>{"k2"});
}

TEST_F(FifoTest, MessagesWithoutAGroupAreNotOrdered) {
  v1::Frame f;
  for (const char* id : {"u1", "u2", "u3"}) {
    auto* m = f.mutable_send()->add_messages();
    m->set_topic("ledger");
    m->set_message_id(id);
    m->set_queue_id(0);
  }
  ASSERT_EQ(Call(f).status().code(), v1::Status::OK);
  EXPECT_EQ(Receive(0).size(), 3u);
}

}  // namespace
}  // namespace halfmq::testing
