#include "broker/message_log.h"

#include <future>

#include <gtest/gtest.h>

#include "broker/test_util.h"

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

}  // namespace
}  // namespace halfmq::broker
