#include "client/convert.h"

#include <string>

#include <gtest/gtest.h>

#include "common/limits.h"

namespace halfmq::client {
namespace {

TEST(ValidateMessageTest, AcceptsAFullMessage) {
  Message m = Message("orders").Key("order-1").Tag("paid").Property("k", "v").Body("\xff\x00");
  EXPECT_TRUE(ValidateMessage(m).ok());
  EXPECT_TRUE(ValidateMessage(Message("orders").ShardingKey("user-9")).ok());
  EXPECT_TRUE(ValidateMessage(Message("orders").Id("my-id-1")).ok());
}

TEST(ValidateMessageTest, RejectsBadFields) {
  auto bad = [](const Message& m, const std::string& what) {
    Status s = ValidateMessage(m);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << what;
    EXPECT_NE(s.message().find(what), std::string::npos) << s;
  };
  bad(Message(""), "topic");
  bad(Message("%DLQ"), "topic");
  bad(Message("t").Id("has space"), "message id");
  bad(Message("t").Key(""), "key");
  bad(Message("t").Key("bad\xff"), "UTF-8");
  bad(Message("t").Tag("a\nb"), "tag");
  bad(Message("t").Property("", "v"), "property name");
  bad(Message("t").Property("p", "\xc0\xaf"), "UTF-8");
  bad(Message("t").Queue(kMaxQueuesPerTopic), "queue id");
  bad(Message("t").ShardingKey(std::string(kMaxKeyBytes + 1, 's')), "sharding key");
  Message many_keys("t");
  for (size_t i = 0; i <= kMaxKeysPerMessage; ++i) many_keys.Key("k" + std::to_string(i));
  bad(many_keys, "keys");
  bad(Message("t").Property("big", std::string(kMaxPropertyBytes, 'x')), "properties");
}

TEST(BuildSendFrameTest, GeneratesIdsOnceAndKeepsExplicitOnes) {
  std::vector<Message> batch = {Message("a").Body("1"), Message("b").Id("given").Body("2")};
  auto frame = BuildSendFrame(batch);
  ASSERT_TRUE(frame.ok()) << frame.status();
  const v1::SendRequest& send = frame->send();
  ASSERT_EQ(send.messages_size(), 2);
  EXPECT_EQ(send.messages(0).message_id().size(), 32u);
  EXPECT_EQ(send.messages(1).message_id(), "given");
  EXPECT_GT(send.messages(0).born_time_ms(), 0);
  // The frame is what gets retried, so its ids are fixed: a second build of
  // the same messages gets new ids, but one frame never changes.
  auto again = BuildSendFrame(batch);
  ASSERT_TRUE(again.ok());
  EXPECT_NE(again->send().messages(0).message_id(), send.messages(0).message_id());
}

TEST(BuildSendFrameTest, CopiesFieldsAndQueueSelector) {
  auto frame = BuildSendFrame(
      {Message("t").Key("k1").Key("k2").Tag("x").Property("p", "v").Body("body").Queue(5),
       Message("t").ShardingKey("s"), Message("t")});
  ASSERT_TRUE(frame.ok());
  const v1::Message& m0 = frame->send().messages(0);
  EXPECT_EQ(m0.topic(), "t");
  EXPECT_EQ(m0.keys_size(), 2);
  EXPECT_EQ(m0.tag(), "x");
  EXPECT_EQ(m0.properties().at("p"), "v");
  EXPECT_EQ(m0.body(), "body");
  EXPECT_EQ(m0.queue_selector_case(), v1::Message::kQueueId);
  EXPECT_EQ(m0.queue_id(), 5u);
  EXPECT_EQ(frame->send().messages(1).queue_selector_case(), v1::Message::kShardingKey);
  EXPECT_EQ(frame->send().messages(2).queue_selector_case(), v1::Message::QUEUE_SELECTOR_NOT_SET);
}

TEST(BuildSendFrameTest, RejectsEmptyOversizedAndDuplicateIdBatches) {
  EXPECT_EQ(BuildSendFrame({}).status().code(), StatusCode::kInvalidArgument);
  std::vector<Message> big(kMaxMessagesPerSend + 1, Message("t"));
  EXPECT_EQ(BuildSendFrame(big).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(BuildSendFrame({Message("t").Id("x"), Message("t").Id("x")}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(BuildSendFrame({Message("t"), Message("")}).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(ConvertTest, ReceiptsMustMatchTheRequest) {
  v1::Frame response;
  v1::SendResult* r = response.mutable_send_response()->add_results();
  r->set_message_id("id");
  r->set_topic("t");
  r->set_queue_id(2);
  r->set_offset(9);
  auto receipts = ReceiptsFromResponse(response, 1);
  ASSERT_TRUE(receipts.ok());
  EXPECT_EQ(receipts->at(0).offset, 9u);
  EXPECT_EQ(receipts->at(0).queue_id, 2u);
  EXPECT_EQ(ReceiptsFromResponse(response, 2).status().code(), StatusCode::kInternal);
}

TEST(ConvertTest, ReceivedMessageCarriesEveryField) {
  v1::ReceivedMessage in;
  in.mutable_message()->set_topic("t");
  in.mutable_message()->set_message_id("m");
  in.mutable_message()->add_keys("k");
  (*in.mutable_message()->mutable_properties())["p"] = "v";
  in.mutable_message()->set_body("b");
  in.set_queue_id(1);
  in.set_offset(2);
  in.set_attempt(3);
  in.set_receipt_handle(std::string("\x00\x01", 2));
  in.set_invisible_until_ms(77);
  ReceivedMessage out = FromProto(in);
  EXPECT_EQ(out.topic, "t");
  EXPECT_EQ(out.message_id, "m");
  EXPECT_EQ(out.keys.at(0), "k");
  EXPECT_EQ(out.properties.at("p"), "v");
  EXPECT_EQ(out.attempt, 3u);
  EXPECT_EQ(out.receipt_handle.size(), 2u);
  EXPECT_EQ(out.invisible_until_ms, 77);
}

TEST(ConvertTest, ReadableTopicsIncludeBrokerTopics) {
  EXPECT_TRUE(ValidateReadableTopic("orders").ok());
  EXPECT_TRUE(ValidateReadableTopic("%DLQ%billing").ok());
  EXPECT_FALSE(ValidateReadableTopic("%bad name").ok());
  EXPECT_FALSE(ValidateReadableTopic("").ok());
  EXPECT_FALSE(ValidateReadableTopic("a/b").ok());
}

}  // namespace
}  // namespace halfmq::client
