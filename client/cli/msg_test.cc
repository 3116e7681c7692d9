// Output shapes of send, consume, msg get/find and msg trace, which scripts
// rely on.
#include "client/cli/msg.h"

#include <gtest/gtest.h>

namespace halfmq::cli {
namespace {

SendReceipt Receipt() {
  SendReceipt r;
  r.message_id = "order-1";
  r.topic = "orders";
  r.queue_id = 3;
  r.offset = 42;
  r.store_time_ms = 1700000000000;
  return r;
}

TEST(SendOutputTest, StoredAtOnce) {
  EXPECT_EQ(FormatReceipt(Receipt(), true),
            "{\"message_id\":\"order-1\",\"topic\":\"orders\",\"queue\":3,\"offset\":42}");
  EXPECT_EQ(FormatReceipt(Receipt(), false), "sent order-1 orders queue=3 offset=42");
}

TEST(SendOutputTest, DelayedHasNoQueueOrOffsetYet) {
  SendReceipt r = Receipt();
  r.queue_id = 0;
  r.offset = 0;
  r.deliver_at_ms = 1795773600000;
  EXPECT_EQ(FormatReceipt(r, true),
            "{\"message_id\":\"order-1\",\"topic\":\"orders\",\"deliver_at_ms\":1795773600000}");
  EXPECT_EQ(FormatReceipt(r, false), "sent order-1 orders deliver_at=2026-11-27T10:00:00.000Z");
}

TEST(SendOutputTest, Deduplicated) {
  SendReceipt r = Receipt();
  r.deduplicated = true;
  EXPECT_EQ(FormatReceipt(r, true),
            "{\"message_id\":\"order-1\",\"topic\":\"orders\",\"queue\":3,\"offset\":42,"
            "\"deduplicated\":true}");
  EXPECT_EQ(FormatReceipt(r, false), "sent order-1 orders queue=3 offset=42 deduplicated");
  r.deliver_at_ms = 1795773600000;
  EXPECT_EQ(FormatReceipt(r, true),
            "{\"message_id\":\"order-1\",\"topic\":\"orders\",\"deliver_at_ms\":1795773600000,"
            "\"deduplicated\":true}");
  EXPECT_EQ(FormatReceipt(r, false),
            "sent order-1 orders deliver_at=2026-11-27T10:00:00.000Z deduplicated");
}

ReceivedMessage Received() {
  ReceivedMessage m;
  m.message_id = "m1";
  m.topic = "%DLQ.billing";
  m.queue_id = 0;
  m.offset = 7;
  m.keys = {"k"};
  m.tag = "paid";
  m.body = "b";
  m.attempt = 1;
  m.receipt_handle = std::string("\x01\xab", 2);
  m.born_time_ms = 1;
  m.store_time_ms = 2;
  return m;
}

TEST(ConsumeOutputTest, JsonWithGroupAndDeadLetter) {
  ReceivedMessage m = Received();
  m.message_group = "user-9";
  const std::string common =
      "{\"message_id\":\"m1\",\"topic\":\"%DLQ.billing\",\"queue\":0,\"offset\":7,\"key\":\"k\","
      "\"tag\":\"paid\",\"body\":\"b\",\"attempt\":1,\"keys\":[\"k\"],\"properties\":{},"
      "\"receipt_handle\":\"01ab\",\"born_time_ms\":1,\"store_time_ms\":2,"
      "\"message_group\":\"user-9\"";
  EXPECT_EQ(FormatReceivedMessage(m, true), common + "}");
  DeadLetterInfo d;
  d.original_topic = "orders";
  d.original_queue = 2;
  d.original_offset = 40;
  d.attempts = 16;
  d.reason = "db down";
  d.dead_lettered_ms = 99;
  d.group = "billing";
  m.dead_letter = d;
  EXPECT_EQ(FormatReceivedMessage(m, true),
            common +
                ",\"dead_letter\":{\"original_topic\":\"orders\",\"original_queue\":2,"
                "\"original_offset\":40,\"attempts\":16,\"reason\":\"db down\","
                "\"dead_lettered_ms\":99,\"group\":\"billing\"}}");
  EXPECT_EQ(FormatReceivedMessage(m, false), "b");
}

StoredMessage Stored() {
  StoredMessage m;
  m.message_id = "m1";
  m.topic = "orders";
  m.queue_id = 1;
  m.offset = 42;
  m.keys = {"order-1", "user-9"};
  m.tag = "paid";
  m.properties = {{"currency", "EUR"}};
  m.body = "{\"a\":1}\nline2";
  m.message_group = "user-9";
  m.born_time_ms = 1700000000000;
  m.store_time_ms = 1700000000123;
  return m;
}

TEST(MsgOutputTest, StoredMessageJson) {
  EXPECT_EQ(FormatStoredMessageJson(Stored()),
            "{\"message_id\":\"m1\",\"topic\":\"orders\",\"queue\":1,\"offset\":42,"
            "\"key\":\"order-1\",\"keys\":[\"order-1\",\"user-9\"],\"tag\":\"paid\","
            "\"properties\":{\"currency\":\"EUR\"},\"body\":\"{\\\"a\\\":1}\\u000aline2\","
            "\"message_group\":\"user-9\",\"born_time_ms\":1700000000000,"
            "\"store_time_ms\":1700000000123}");
}

TEST(MsgOutputTest, StoredMessageText) {
  EXPECT_EQ(FormatStoredMessageText(Stored()),
            "message_id: m1\n"
            "topic: orders\n"
            "queue: 1\n"
            "offset: 42\n"
            "stored: 2023-11-14T22:13:20.123Z\n"
            "born: 2023-11-14T22:13:20.000Z\n"
            "key: \"order-1\"\n"
            "key: \"user-9\"\n"
            "tag: \"paid\"\n"
            "message_group: \"user-9\"\n"
            "property: \"currency\"=\"EUR\"\n"
            "body: \"{\\\"a\\\":1}\\u000aline2\"\n"
            "\n");
  StoredMessage bare;
  bare.message_id = "m2";
  bare.topic = "t";
  EXPECT_EQ(FormatStoredMessageText(bare),
            "message_id: m2\ntopic: t\nqueue: 0\noffset: 0\nstored: 1970-01-01T00:00:00.000Z\n"
            "body: \"\"\n\n");
}

TraceEvent Event(int64_t time_ms, std::string kind, std::string group, std::string client,
                 uint32_t attempt, std::string detail) {
  TraceEvent e;
  e.time_ms = time_ms;
  e.kind_name = std::move(kind);
  e.group = std::move(group);
  e.client = std::move(client);
  e.attempt = attempt;
  e.detail = std::move(detail);
  return e;
}

TEST(MsgOutputTest, TraceJsonAndTable) {
  std::vector<TraceEvent> events = {
      Event(1700000000000, "stored", "", "", 0, "orders/1/42"),
      Event(1700000000100, "delivered", "billing", "host-1", 1, ""),
      Event(1700000000200, "nacked", "billing", "host-1", 1, "db\ndown"),
      Event(1700000000300, "dead_lettered", "billing", "", 16, "db down"),
  };
  EXPECT_EQ(FormatTraceEventJson(events[2]),
            "{\"time_ms\":1700000000200,\"kind\":\"nacked\",\"group\":\"billing\","
            "\"client\":\"host-1\",\"attempt\":1,\"detail\":\"db\\u000adown\"}");
  EXPECT_EQ(FormatTraceTable(events),
            "TIME                      KIND           GROUP    CLIENT  ATTEMPT  DETAIL\n"
            "2023-11-14T22:13:20.000Z  stored         -        -       -        orders/1/42\n"
            "2023-11-14T22:13:20.100Z  delivered      billing  host-1  1        -\n"
            "2023-11-14T22:13:20.200Z  nacked         billing  host-1  1        db down\n"
            "2023-11-14T22:13:20.300Z  dead_lettered  billing  -       16       db down\n");
  EXPECT_EQ(FormatTraceTable({}), "TIME  KIND  GROUP  CLIENT  ATTEMPT  DETAIL\n");
}

TEST(MsgOutputTest, OneLine) {
  EXPECT_EQ(OneLine(""), "-");
  EXPECT_EQ(OneLine("a\tb\r\nc\x7f"), "a b  c ");
  EXPECT_EQ(OneLine("plain text"), "plain text");
}

}  // namespace
}  // namespace halfmq::cli
