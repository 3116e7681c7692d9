#include "broker/message_log.h"

#include <future>
#include <limits>
#include <optional>

#include <gtest/gtest.h>

#include "broker/test_util.h"
#include "common/limits.h"

namespace halfmq::broker {
namespace {

class MessageLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_.Open();
    env_.CreateTopic("orders", 4);
  }

  v1::Message Msg(const std::string& id) {
    v1::Message m;
    m.set_topic("orders");
    m.set_message_id(id);
    m.set_body("hello");
    return m;
  }

  std::vector<v1::SendResult> AppendAndWait(std::vector<AppendEntry> entries) {
    std::promise<std::vector<v1::SendResult>> done;
    env_.log->Append(std::move(entries), env_.store->NewBatch(), "",
                     [&](std::vector<v1::SendResult> r) { done.set_value(std::move(r)); });
    return done.get_future().get();
  }

  test_util::LogTestEnv env_;
};

TEST_F(MessageLogTest, AssignsDenseOffsetsAndMakesThemVisibleWhenDurable) {
  google::protobuf::RepeatedPtrField<v1::Message> msgs;
  for (int i = 0; i < 3; ++i) {
    auto* m = msgs.Add();
    *m = Msg("id" + std::to_string(i));
    m->set_queue_id(2);
  }
  auto entries = env_.log->Prepare(&msgs);
  ASSERT_TRUE(entries.ok()) << entries.status();
  auto results = AppendAndWait(std::move(entries).value());
  ASSERT_EQ(results.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(results[i].queue_id(), 2u);
    EXPECT_EQ(results[i].offset(), static_cast<uint64_t>(i));
    EXPECT_EQ(results[i].store_time_ms(), 1000);
  }
  auto topic = env_.topics->Find("orders");
  EXPECT_EQ(topic->queue(QueueId(2)).durable_end.load(), 3u);
  auto stored = env_.store->ReadMessage(topic->id(), QueueId(2), Offset(1));
  ASSERT_TRUE(stored.ok());
  ASSERT_TRUE(stored->has_value());
  EXPECT_EQ((*stored)->message_id(), "id1");
  EXPECT_EQ((*stored)->body(), "hello");
}

TEST_F(MessageLogTest, ShardingKeyPicksStableQueue) {
  EXPECT_EQ(QueueForShardingKey("order-1", 4), QueueForShardingKey("order-1", 4));
  google::protobuf::RepeatedPtrField<v1::Message> msgs;
  auto* m = msgs.Add();
  *m = Msg("a");
  m->set_sharding_key("order-1");
  auto entries = env_.log->Prepare(&msgs);
  ASSERT_TRUE(entries.ok());
  EXPECT_EQ((*entries)[0].queue, QueueForShardingKey("order-1", 4));
}

TEST_F(MessageLogTest, RejectsBadInputWithTypedErrors) {
  struct Case {
    std::function<void(v1::Message*)> mutate;
    StatusCode code;
  };
  std::vector<Case> cases = {
      {[](v1::Message* m) { m->set_topic("missing"); }, StatusCode::kNotFound},
      {[](v1::Message* m) { m->set_topic("bad name"); }, StatusCode::kInvalidArgument},
      {[](v1::Message* m) { m->set_message_id(""); }, StatusCode::kInvalidArgument},
      {[](v1::Message* m) { m->set_body(std::string(2000, 'x')); },
       StatusCode::kInvalidArgument},
      {[](v1::Message* m) { m->set_queue_id(4); }, StatusCode::kInvalidArgument},
      {[](v1::Message* m) { m->add_keys(""); }, StatusCode::kInvalidArgument},
      {[](v1::Message* m) { (*m->mutable_properties())[""] = "v"; },
       StatusCode::kInvalidArgument},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    google::protobuf::RepeatedPtrField<v1::Message> msgs;
    auto* m = msgs.Add();
    *m = Msg("ok");
    cases[i].mutate(m);
    auto entries = env_.log->Prepare(&msgs);
    ASSERT_FALSE(entries.ok()) << "case " << i;
    EXPECT_EQ(entries.status().code(), cases[i].code) << "case " << i << ": " << entries.status();
  }
  google::protobuf::RepeatedPtrField<v1::Message> empty;
  EXPECT_EQ(env_.log->Prepare(&empty).status().code(), StatusCode::kInvalidArgument);
}

// A time before the epoch is refused, not delivered at once; a time in the
// past but after the epoch is due at once. The far end is bounded without
// overflowing (INT64_MAX - now would wrap in now + max_delay_ms).
TEST_F(MessageLogTest, DeliveryTimesBeforeTheEpochAreRefused) {
  auto check = [&](std::function<void(v1::Message*)> mutate) {
    v1::Message m = Msg("t");
    mutate(&m);
    return env_.log->Validate(m);
  };
  for (int64_t bad : {int64_t{-1}, int64_t{-1000}, std::numeric_limits<int64_t>::min()}) {
    Status s = check([bad](v1::Message* m) { m->set_deliver_at_ms(bad); });
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(s.message().find("deliver_at_ms"), std::string::npos) << s;
  }
  EXPECT_EQ(check([](v1::Message* m) {
              m->set_deliver_at_ms(std::numeric_limits<int64_t>::max());
            }).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(check([](v1::Message* m) { m->set_delay_ms(UINT32_MAX); }).code(),
            StatusCode::kInvalidArgument);  // over max_delay_ms
  EXPECT_TRUE(check([](v1::Message* m) { m->set_deliver_at_ms(1); }).ok());
  v1::Message past = Msg("p");
  past.set_deliver_at_ms(1);
  EXPECT_EQ(MessageLog::DueTime(past, 1000), std::nullopt);  // at once
}

TEST_F(MessageLogTest, ShardingKeyIsBounded) {
  auto prepare = [&](const std::string& key) {
    google::protobuf::RepeatedPtrField<v1::Message> msgs;
    *msgs.Add() = Msg("a");
    msgs[0].set_sharding_key(key);
    return env_.log->Prepare(&msgs).status();
  };
  EXPECT_TRUE(prepare(std::string(kMaxShardingKeyBytes, 'k')).ok());
  for (const std::string& bad : {std::string(kMaxShardingKeyBytes + 1, 'k'), std::string("a\nb")}) {
    Status s = prepare(bad);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(s.message().find("sharding_key"), std::string::npos) << s;
  }
}

}  // namespace
}  // namespace halfmq::broker
