#include "client/convert.h"

#include <chrono>
#include <cmath>
#include <string>
#include <type_traits>
#include <variant>

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
  bad(Message("t").ShardingKey(std::string(kMaxShardingKeyBytes + 1, 's')),
      "sharding_key is 129 bytes");
  bad(Message("t").ShardingKey("order\n42"), "sharding_key has a control byte");
  bad(Message("t").ShardingKey("\x1b[2J"), "sharding_key has a control byte");
  bad(Message("t").ShardingKey("bad\xff"), "sharding key is not valid UTF-8");
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

TEST(ValidateMessageTest, GroupsAndDelays) {
  EXPECT_TRUE(ValidateMessage(Message("t").MessageGroup("user-9")).ok());
  EXPECT_TRUE(ValidateMessage(Message("t").MessageGroup(std::string(kMaxKeyBytes, 'g'))).ok());
  EXPECT_TRUE(ValidateMessage(Message("t").Delay(std::chrono::milliseconds(0))).ok());
  EXPECT_TRUE(ValidateMessage(Message("t").Delay(std::chrono::milliseconds(UINT32_MAX))).ok());
  EXPECT_TRUE(ValidateMessage(Message("t").DeliverAt(1)).ok());
  auto bad = [](const Message& m, const std::string& what) {
    Status s = ValidateMessage(m);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << what;
    EXPECT_NE(s.message().find(what), std::string::npos) << s;
  };
  bad(Message("t").MessageGroup(std::string(kMaxKeyBytes + 1, 'g')), "message group is longer");
  bad(Message("t").MessageGroup("a\nb"), "message group has a control byte");
  bad(Message("t").MessageGroup("\xff"), "message group is not valid UTF-8");
  bad(Message("t").Delay(std::chrono::milliseconds(-1)), "delay must be in 0..4294967295 ms");
  bad(Message("t").Delay(std::chrono::milliseconds(int64_t{UINT32_MAX} + 1)), "delay must be");
  bad(Message("t").DeliverAt(0), "deliver_at must be");
  bad(Message("t").DeliverAt(-5), "deliver_at must be");
}

TEST(BuildSendFrameTest, CopiesGroupAndDelivery) {
  auto frame = BuildSendFrame({Message("t").MessageGroup("g").Delay(std::chrono::seconds(3)),
                               Message("t").DeliverAt(1795773600000), Message("t")});
  ASSERT_TRUE(frame.ok()) << frame.status();
  const v1::Message& m0 = frame->send().messages(0);
  EXPECT_EQ(m0.message_group(), "g");
  EXPECT_EQ(m0.queue_selector_case(), v1::Message::QUEUE_SELECTOR_NOT_SET);
  EXPECT_EQ(m0.delay_ms(), 3000u);
  EXPECT_EQ(m0.deliver_at_ms(), 0);
  const v1::Message& m1 = frame->send().messages(1);
  EXPECT_EQ(m1.deliver_at_ms(), 1795773600000);
  EXPECT_EQ(m1.delay_ms(), 0u);
  EXPECT_TRUE(m1.message_group().empty());
  const v1::Message& m2 = frame->send().messages(2);
  EXPECT_EQ(m2.deliver_at_ms(), 0);
  EXPECT_EQ(m2.delay_ms(), 0u);
  // Transactions carry the same fields.
  auto half = BuildSendHalfFrame("txn-1", "pg", 0, {Message("t").Delay(std::chrono::seconds(1))},
                                 /*fresh_txn=*/false);
  ASSERT_TRUE(half.ok()) << half.status();
  EXPECT_EQ(half->send_half().messages(0).delay_ms(), 1000u);
}

TEST(ConvertTest, ReceiptsCarryDelayAndDedup) {
  v1::Frame response;
  v1::SendResult* r = response.mutable_send_response()->add_results();
  r->set_message_id("id");
  r->set_deliver_at_ms(1795773600000);
  r->set_deduplicated(true);
  auto receipts = ReceiptsFromResponse(response, 1);
  ASSERT_TRUE(receipts.ok());
  EXPECT_EQ(receipts->at(0).deliver_at_ms, 1795773600000);
  EXPECT_TRUE(receipts->at(0).deduplicated);
}

TEST(ConvertTest, ReceivedDeadLetterAndGroup) {
  v1::ReceivedMessage in;
  in.mutable_message()->set_message_group("g");
  ReceivedMessage plain = FromProto(in);
  EXPECT_EQ(plain.message_group, "g");
  EXPECT_FALSE(plain.dead_letter.has_value());
  v1::DeadLetterInfo* d = in.mutable_dead_letter();
  d->set_original_topic("orders");
  d->set_original_queue(2);
  d->set_original_offset(40);
  d->set_attempts(16);
  d->set_reason("db down");
  d->set_dead_lettered_ms(99);
  d->set_group("billing");
  ReceivedMessage out = FromProto(in);
  ASSERT_TRUE(out.dead_letter.has_value());
  EXPECT_EQ(out.dead_letter->original_topic, "orders");
  EXPECT_EQ(out.dead_letter->original_queue, 2u);
  EXPECT_EQ(out.dead_letter->original_offset, 40u);
  EXPECT_EQ(out.dead_letter->attempts, 16u);
  EXPECT_EQ(out.dead_letter->reason, "db down");
  EXPECT_EQ(out.dead_letter->dead_lettered_ms, 99);
  EXPECT_EQ(out.dead_letter->group, "billing");
}

TEST(ConvertTest, CheckRequestCarriesGroupAndDelivery) {
  v1::CheckTransactionRequest in;
  in.set_txn_id("t1");
  v1::Message* m = in.add_messages();
  m->set_topic("t");
  m->set_message_group("g");
  m->set_delay_ms(500);
  v1::Message* at = in.add_messages();
  at->set_topic("t");
  at->set_deliver_at_ms(123);
  auto check = CheckRequestFromProto(in);
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_EQ(check->messages[0].message_group(), "g");
  EXPECT_EQ(check->messages[0].delay(), std::chrono::milliseconds(500));
  EXPECT_EQ(check->messages[1].deliver_at_ms(), 123);
  EXPECT_FALSE(check->messages[1].delay().has_value());
}

TEST(RetryPolicyTest, ExponentialRoundTrip) {
  RetryPolicy p;
  p.schedule = ExponentialBackoff{std::chrono::milliseconds(200), 1.5,
                                  std::chrono::milliseconds(60000), false};
  p.max_attempts = 5;
  auto proto = ToProto(p);
  ASSERT_TRUE(proto.ok()) << proto.status();
  ASSERT_EQ(proto->schedule_case(), v1::RetryPolicy::kExponential);
  EXPECT_EQ(proto->exponential().initial_ms(), 200u);
  EXPECT_EQ(proto->exponential().multiplier(), 1.5);
  EXPECT_EQ(proto->exponential().max_ms(), 60000u);
  EXPECT_TRUE(proto->exponential().no_jitter());
  EXPECT_EQ(proto->max_attempts(), 5u);
  RetryPolicy back = FromProto(*proto);
  const auto& e = std::get<ExponentialBackoff>(back.schedule);
  EXPECT_EQ(e.initial, std::chrono::milliseconds(200));
  EXPECT_EQ(e.multiplier, 1.5);
  EXPECT_EQ(e.max, std::chrono::milliseconds(60000));
  EXPECT_FALSE(e.jitter);
  EXPECT_EQ(back.max_attempts, 5u);
  // Jitter is the default on both sides.
  p.schedule = ExponentialBackoff{};
  EXPECT_FALSE(ToProto(p)->exponential().no_jitter());
  EXPECT_TRUE(std::get<ExponentialBackoff>(FromProto(*ToProto(p)).schedule).jitter);
}

TEST(RetryPolicyTest, FixedAndDefaultRoundTrip) {
  RetryPolicy p;
  p.schedule = FixedDelays{{std::chrono::milliseconds(0), std::chrono::milliseconds(1000)}};
  auto proto = ToProto(p);
  ASSERT_TRUE(proto.ok()) << proto.status();
  ASSERT_EQ(proto->schedule_case(), v1::RetryPolicy::kFixed);
  EXPECT_EQ(proto->fixed().delays_ms_size(), 2);
  EXPECT_EQ(proto->fixed().delays_ms(1), 1000u);
  EXPECT_EQ(std::get<FixedDelays>(FromProto(*proto).schedule).delays,
            std::get<FixedDelays>(p.schedule).delays);

  proto = ToProto(RetryPolicy{});
  ASSERT_TRUE(proto.ok());
  EXPECT_EQ(proto->schedule_case(), v1::RetryPolicy::SCHEDULE_NOT_SET);
  EXPECT_EQ(proto->max_attempts(), 0u);
  EXPECT_TRUE(std::holds_alternative<std::monostate>(FromProto(*proto).schedule));
}

TEST(RetryPolicyTest, ValidationBounds) {
  using std::chrono::milliseconds;
  auto exp = [](int64_t initial, double multiplier, int64_t max) {
    RetryPolicy p;
    p.schedule = ExponentialBackoff{milliseconds(initial), multiplier, milliseconds(max), true};
    return p;
  };
  auto fixed = [](std::vector<milliseconds> delays) {
    RetryPolicy p;
    p.schedule = FixedDelays{std::move(delays)};
    return p;
  };
  const int64_t max_delay = kMaxRetryDelay.count();
  EXPECT_TRUE(ValidateRetryPolicy(exp(1, 1.0, 1)).ok());
  EXPECT_TRUE(ValidateRetryPolicy(exp(1, kMaxRetryMultiplier, max_delay)).ok());
  EXPECT_TRUE(ValidateRetryPolicy(fixed({milliseconds(0)})).ok());
  EXPECT_TRUE(
      ValidateRetryPolicy(fixed(std::vector<milliseconds>(kMaxRetryDelays, milliseconds(1)))).ok());
  RetryPolicy attempts;
  attempts.max_attempts = kMaxRetryAttempts;
  EXPECT_TRUE(ValidateRetryPolicy(attempts).ok());

  auto bad = [](const RetryPolicy& p, const std::string& what) {
    Status s = ValidateRetryPolicy(p);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << what;
    EXPECT_NE(s.message().find(what), std::string::npos) << s;
    EXPECT_FALSE(ToProto(p).ok()) << what;
  };
  bad(exp(0, 2, 10), "initial delay must be in 1..43200000 ms");
  bad(exp(-1, 2, 10), "initial delay");
  bad(exp(10, 2, 9), "max delay (9 ms) is below the initial delay (10 ms)");
  bad(exp(1, 2, max_delay + 1), "max delay must be");
  bad(exp(1, 0.99, 10), "multiplier must be in 1..100");
  bad(exp(1, kMaxRetryMultiplier + 0.5, 10), "multiplier");
  bad(exp(1, std::nan(""), 10), "multiplier");
  bad(exp(1, HUGE_VAL, 10), "multiplier");
  bad(fixed({}), "fixed delays must list 1..128 delays");
  bad(fixed(std::vector<milliseconds>(kMaxRetryDelays + 1, milliseconds(1))), "fixed delays");
  bad(fixed({milliseconds(1), milliseconds(-1)}), "a fixed delay must be in 0..43200000 ms");
  bad(fixed({milliseconds(max_delay + 1)}), "a fixed delay");
  attempts.max_attempts = kMaxRetryAttempts + 1;
  bad(attempts, "max_attempts must be at most 1000");
}

TEST(ConvertTest, GroupConfigDeadLettersAndRedrive) {
  v1::GroupConfig config;
  config.set_group("billing");
  config.set_dead_letter_topic("%DLQ.billing");
  config.mutable_retry_policy()->mutable_fixed()->add_delays_ms(10);
  GroupConfig c = FromProto(config);
  EXPECT_EQ(c.group, "billing");
  EXPECT_EQ(c.dead_letter_topic, "%DLQ.billing");
  EXPECT_EQ(std::get<FixedDelays>(c.retry_policy.schedule).delays.size(), 1u);

  v1::DeadLetter d;
  d.set_message_id("m1");
  d.mutable_info()->set_original_topic("orders");
  d.mutable_info()->set_attempts(16);
  d.set_dead_letter_topic("%DLQ.billing");
  d.set_queue_id(1);
  d.set_offset(5);
  d.set_redriven_ms(77);
  d.set_redriven_to("orders");
  DeadLetter dl = FromProto(d);
  EXPECT_EQ(dl.message_id, "m1");
  EXPECT_EQ(dl.info.original_topic, "orders");
  EXPECT_EQ(dl.info.attempts, 16u);
  EXPECT_EQ(dl.dead_letter_topic, "%DLQ.billing");
  EXPECT_EQ(dl.queue_id, 1u);
  EXPECT_EQ(dl.offset, 5u);
  EXPECT_EQ(dl.redriven_ms, 77);
  EXPECT_EQ(dl.redriven_to, "orders");

  v1::RedriveResult r;
  r.set_message_id("m2");
  r.mutable_status()->set_code(v1::Status::FAILED_PRECONDITION);
  r.mutable_status()->set_message("already redriven");
  RedriveResult rr = FromProto(r);
  EXPECT_EQ(rr.message_id, "m2");
  EXPECT_EQ(rr.status.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(rr.status.message(), "already redriven");
  r.clear_status();
  EXPECT_TRUE(FromProto(r).status.ok());
}

TEST(ConvertTest, FoundMessagesAndTraceEvents) {
  v1::FoundMessage f;
  f.mutable_message()->set_message_id("m1");
  f.mutable_message()->set_topic("orders");
  f.mutable_message()->add_keys("k");
  f.mutable_message()->set_message_group("g");
  f.set_queue_id(3);
  f.set_offset(9);
  f.set_store_time_ms(11);
  StoredMessage m = FromProto(f);
  EXPECT_EQ(m.message_id, "m1");
  EXPECT_EQ(m.topic, "orders");
  EXPECT_EQ(m.keys, (std::vector<std::string>{"k"}));
  EXPECT_EQ(m.message_group, "g");
  EXPECT_EQ(m.queue_id, 3u);
  EXPECT_EQ(m.offset, 9u);
  EXPECT_EQ(m.store_time_ms, 11);

  v1::TraceEvent e;
  e.set_time_ms(5);
  e.set_kind(v1::TRACE_DEAD_LETTERED);
  e.set_group("billing");
  e.set_client("c");
  e.set_attempt(16);
  e.set_detail("db down");
  e.set_delivered_ms(3);
  TraceEvent t = FromProto(e);
  EXPECT_EQ(t.kind, TraceKind::kDeadLettered);
  EXPECT_EQ(t.kind_name, "dead_lettered");
  EXPECT_EQ(t.time_ms, 5);
  EXPECT_EQ(t.group, "billing");
  EXPECT_EQ(t.client, "c");
  EXPECT_EQ(t.attempt, 16u);
  EXPECT_EQ(t.detail, "db down");
  EXPECT_EQ(t.delivered_ms, 3);
}

// A received message is the stored message plus its delivery: the same
// stored message converts to equal StoredMessage fields either way, so code
// that reads contents serves consumers and lookups alike.
bool SameStoredFields(const StoredMessage& a, const StoredMessage& b) {
  return a.message_id == b.message_id && a.topic == b.topic && a.queue_id == b.queue_id &&
         a.offset == b.offset && a.keys == b.keys && a.tag == b.tag &&
         a.properties == b.properties && a.body == b.body &&
         a.message_group == b.message_group && a.born_time_ms == b.born_time_ms &&
         a.store_time_ms == b.store_time_ms;
}

TEST(ConvertTest, AReceivedMessageIsAStoredMessagePlusItsDelivery) {
  static_assert(std::is_base_of_v<StoredMessage, ReceivedMessage>);
  v1::Message m;
  m.set_message_id("m1");
  m.set_topic("orders");
  m.add_keys("k");
  m.set_tag("t");
  (*m.mutable_properties())["p"] = "v";
  m.set_body("b");
  m.set_message_group("g");
  m.set_born_time_ms(7);
  v1::FoundMessage found;
  *found.mutable_message() = m;
  found.set_queue_id(3);
  found.set_offset(9);
  found.set_store_time_ms(11);
  v1::ReceivedMessage received;
  *received.mutable_message() = m;
  received.set_queue_id(3);
  received.set_offset(9);
  received.set_store_time_ms(11);
  received.set_attempt(2);
  received.set_receipt_handle("h");
  ReceivedMessage delivered = FromProto(received);
  StoredMessage looked_up = FromProto(found);
  EXPECT_TRUE(SameStoredFields(delivered, looked_up));
  EXPECT_EQ(delivered.attempt, 2u);
  EXPECT_EQ(delivered.receipt_handle, "h");
  received.set_offset(10);
  EXPECT_FALSE(SameStoredFields(FromProto(received), looked_up));
}

TEST(ConvertTest, TraceKindNames) {
  EXPECT_EQ(TraceKindName(v1::TRACE_STORED), "stored");
  EXPECT_EQ(TraceKindName(v1::TRACE_HALF_STORED), "half_stored");
  EXPECT_EQ(TraceKindName(v1::TRACE_ROLLED_BACK), "rolled_back");
  EXPECT_EQ(TraceKindName(v1::TRACE_DELIVERED), "delivered");
  EXPECT_EQ(TraceKindName(v1::TRACE_EXPIRED), "expired");
  EXPECT_EQ(TraceKindName(v1::TRACE_KIND_UNSPECIFIED), "kind_0");
  EXPECT_EQ(TraceKindName(999), "kind_999");
  // Every named kind maps to its enum value, none to kUnknown.
  for (int k = v1::TraceKind_MIN + 1; k <= v1::TraceKind_MAX; ++k) {
    if (!v1::TraceKind_IsValid(k)) continue;
    EXPECT_NE(FromProto(static_cast<v1::TraceKind>(k)), TraceKind::kUnknown) << k;
  }
  EXPECT_EQ(FromProto(static_cast<v1::TraceKind>(999)), TraceKind::kUnknown);
}

TEST(ConvertTest, TopicInfoCarriesFifo) {
  v1::TopicInfo in;
  in.set_name("orders");
  in.set_queues(4);
  in.set_created_ms(9);
  in.set_fifo(true);
  TopicInfo out = FromProto(in);
  EXPECT_EQ(out.name, "orders");
  EXPECT_EQ(out.queues, 4u);
  EXPECT_EQ(out.created_ms, 9);
  EXPECT_TRUE(out.fifo);
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
