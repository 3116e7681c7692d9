// Request limits against a real broker: every string or list a request
// carries is bounded, an oversize one is refused with INVALID_ARGUMENT naming
// the field, the connection stays open, and a hostile Hello (a huge producer
// group list) is answered at once instead of stalling an io thread.
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/limits.h"
#include "tests/util/raw_broker_test.h"

namespace halfmq::testing {
namespace {

class LimitsTest : public RawBrokerTest {
 protected:
  void SetUp() override {
    StartBroker();
    v1::Frame f;
    f.mutable_create_topic()->set_name("orders");
    ASSERT_EQ(Call(f).status().code(), v1::Status::OK);
  }

  static v1::Frame Hello(const std::string& client_id, const std::vector<std::string>& groups) {
    v1::Frame f;
    f.mutable_hello()->set_client_id(client_id);
    f.mutable_hello()->set_protocol_version(1);
    for (const auto& g : groups) f.mutable_hello()->add_producer_groups(g);
    return f;
  }

  static std::vector<std::string> Groups(size_t n, const std::string& prefix = "pg") {
    std::vector<std::string> out;
    for (size_t i = 0; i < n; ++i) out.push_back(prefix + std::to_string(i));
    return out;
  }

  static v1::Message Msg(const std::string& id) {
    v1::Message m;
    m.set_topic("orders");
    m.set_message_id(id);
    m.set_body("b");
    return m;
  }

  static v1::Frame SendOf(const v1::Message& m) {
    v1::Frame f;
    *f.mutable_send()->add_messages() = m;
    return f;
  }

  static v1::Frame SendHalfOf(const std::string& txn, const std::string& group,
                              const v1::Message& m) {
    v1::Frame f;
    f.mutable_send_half()->set_txn_id(txn);
    f.mutable_send_half()->set_producer_group(group);
    *f.mutable_send_half()->add_messages() = m;
    return f;
  }

  // Expects INVALID_ARGUMENT whose message names `field`.
  void ExpectRefused(v1::Frame request, const std::string& field) {
    v1::Frame r = Call(std::move(request));
    EXPECT_EQ(r.status().code(), v1::Status::INVALID_ARGUMENT) << field;
    EXPECT_NE(r.status().message().find(field), std::string::npos) << r.status().message();
  }

  // The connection (and the broker) still answer.
  void ExpectServing(RawClient* c) {
    v1::Frame f;
    f.mutable_list_topics();
    auto r = c->Call(f);
    ASSERT_TRUE(r.has_value()) << broker_->LogTail();
    EXPECT_EQ(r->status().code(), v1::Status::OK);
  }

  int64_t Counter(const std::string& name) {
    v1::Frame f;
    f.mutable_get_broker_stats();
    return Call(f).get_broker_stats_response().counters().at(name);
  }
};

TEST_F(LimitsTest, HelloWith64GroupsWorksAnd65AreRefused) {
  ExpectRefused(Hello("c", Groups(kMaxProducerGroupsPerConnection + 1)), "producer_groups");
  ExpectServing(c_.get());  // the connection stays open
  v1::Frame ok = Call(Hello("c", Groups(kMaxProducerGroupsPerConnection)));
  EXPECT_EQ(ok.status().code(), v1::Status::OK) << ok.status().message();
  ExpectServing(c_.get());
  // Repeating groups it serves is fine; a new one makes 65 in all.
  EXPECT_EQ(Call(Hello("c", Groups(3))).status().code(), v1::Status::OK);
  ExpectRefused(Hello("c", {"pg0", "pg-new"}), "producer_groups");
  // An invalid group name refuses the Hello instead of being skipped.
  RawClient other(broker_->address());
  auto r = other.Call(Hello("c2", {"good", "bad name"}));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status().code(), v1::Status::INVALID_ARGUMENT);
  EXPECT_NE(r->status().message().find("producer group"), std::string::npos);
}

// A SendHalf naming a 65th group is stored (the transaction is valid), but
// the connection does not join that group for checks; the broker counts it.
TEST_F(LimitsTest, SendHalfBeyondTheGroupLimitIsTakenWithoutJoining) {
  ASSERT_EQ(Call(Hello("c", Groups(kMaxProducerGroupsPerConnection))).status().code(),
            v1::Status::OK);
  EXPECT_EQ(Counter("txn_producer_groups_refused"), 0);
  v1::Frame r = Call(SendHalfOf("txn-1", "pg-extra", Msg("m1")));
  EXPECT_EQ(r.status().code(), v1::Status::OK) << r.status().message();
  v1::Frame again = Call(SendHalfOf("txn-2", "pg-extra", Msg("m2")));
  EXPECT_EQ(again.status().code(), v1::Status::OK);
  EXPECT_EQ(Counter("txn_producer_groups_refused"), 2);
  // A group it serves already is no refusal.
  EXPECT_EQ(Call(SendHalfOf("txn-3", "pg0", Msg("m3"))).status().code(), v1::Status::OK);
  EXPECT_EQ(Counter("txn_producer_groups_refused"), 2);
}

// 100k groups in one frame (about 1 MiB, under the 8 MiB frame limit): the
// count is checked before any group is, so the answer comes at once and the
// broker keeps serving others. (Registering them one by one with the old
// linear search took many seconds of one io thread.) No timing is asserted.
TEST_F(LimitsTest, HugeHelloIsRefusedAndTheBrokerKeepsServing) {
  v1::Frame hello = Hello("c", Groups(100000, "producer-group-"));
  ASSERT_LT(hello.ByteSizeLong(), 8u << 20);
  ExpectRefused(std::move(hello), "producer_groups has 100000 entries");
  RawClient other(broker_->address());
  ASSERT_TRUE(other.connected());
  ExpectServing(&other);
  ExpectServing(c_.get());
}

TEST_F(LimitsTest, ClientIdIsBounded) {
  EXPECT_EQ(Call(Hello(std::string(kMaxClientIdBytes, 'c'), {})).status().code(), v1::Status::OK);
  ExpectRefused(Hello(std::string(kMaxClientIdBytes + 1, 'c'), {}), "client_id");
  ExpectRefused(Hello(std::string(1 << 20, 'c'), {}), "client_id");
  ExpectRefused(Hello("evil\nclient", {}), "client_id has a control byte");
  ExpectServing(c_.get());
}

TEST_F(LimitsTest, ShardingKeyIsBounded) {
  v1::Message m = Msg("s1");
  m.set_sharding_key(std::string(kMaxShardingKeyBytes, 'k'));
  EXPECT_EQ(Call(SendOf(m)).status().code(), v1::Status::OK);
  for (const std::string& bad : {std::string(kMaxShardingKeyBytes + 1, 'k'),
                                 std::string(1 << 16, 'k'), std::string("a\x1b[2Jb")}) {
    m.set_message_id("s2");
    m.set_sharding_key(bad);
    ExpectRefused(SendOf(m), "sharding_key");
    ExpectRefused(SendHalfOf("txn-s", "pg", m), "sharding_key");
  }
}

TEST_F(LimitsTest, PageCursorsAreBounded) {
  std::string long_cursor(kMaxPageCursorBytes + 1, 'x');
  v1::Frame txns;
  txns.mutable_list_transactions()->set_start_after(long_cursor);
  ExpectRefused(txns, "start_after");
  v1::Frame dead;
  dead.mutable_list_dead_letters()->set_group("g");
  dead.mutable_list_dead_letters()->set_start_after(long_cursor);
  ExpectRefused(dead, "start_after");
  // At the limit they are fine.
  txns.mutable_list_transactions()->set_start_after(std::string(kMaxPageCursorBytes, 'x'));
  EXPECT_EQ(Call(txns).status().code(), v1::Status::OK);
}

TEST_F(LimitsTest, RedriveIdsAreValidated) {
  v1::Frame f;
  f.mutable_redrive()->set_group("g");
  f.mutable_redrive()->add_message_ids("fine-id");
  f.mutable_redrive()->add_message_ids(std::string(kMaxMessageIdBytes + 1, 'i'));
  ExpectRefused(f, "message_ids");
  f.mutable_redrive()->set_message_ids(1, "has space");
  ExpectRefused(f, "message_ids");
}

TEST_F(LimitsTest, DeliveryTimesBeforeTheEpochAreRefused) {
  for (int64_t bad : {int64_t{-1}, std::numeric_limits<int64_t>::min()}) {
    v1::Message m = Msg("d" + std::to_string(bad));
    m.set_deliver_at_ms(bad);
    ExpectRefused(SendOf(m), "deliver_at_ms");
    ExpectRefused(SendHalfOf("txn-d", "pg", m), "deliver_at_ms");
  }
  // The far future is refused by --max_delay_ms (and does not overflow).
  v1::Message far = Msg("far");
  far.set_deliver_at_ms(std::numeric_limits<int64_t>::max());
  ExpectRefused(SendOf(far), "max_delay_ms");
  // A time in the past after the epoch is delivered at once.
  v1::Message past = Msg("past");
  past.set_deliver_at_ms(1);
  v1::Frame sent = Call(SendOf(past));
  ASSERT_EQ(sent.status().code(), v1::Status::OK) << sent.status().message();
  EXPECT_EQ(sent.send_response().results(0).deliver_at_ms(), 0);
  v1::Frame receive;
  receive.mutable_receive()->set_group("g");
  receive.mutable_receive()->set_topic("orders");
  receive.mutable_receive()->set_max_messages(10);
  v1::Frame got = Call(receive);
  ASSERT_EQ(got.receive_response().messages_size(), 1);
  EXPECT_EQ(got.receive_response().messages(0).message().message_id(), "past");
}

}  // namespace
}  // namespace halfmq::testing
