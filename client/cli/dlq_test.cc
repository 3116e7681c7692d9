// Redrive pacing and the output shapes of `dlq list` and `dlq redrive`.
#include "client/cli/dlq.h"

#include <gtest/gtest.h>

namespace halfmq::cli {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

TEST(RedrivePacingTest, BatchIsAtMostOneSecondsBudget) {
  EXPECT_EQ(RedriveBatchSize(0), 100u);  // unlimited
  EXPECT_EQ(RedriveBatchSize(1), 1u);
  EXPECT_EQ(RedriveBatchSize(10), 10u);
  EXPECT_EQ(RedriveBatchSize(100), 100u);
  EXPECT_EQ(RedriveBatchSize(kMaxRedriveRate), 100u);
}

TEST(RedrivePacingTest, IntervalKeepsTheRate) {
  EXPECT_EQ(RedriveInterval(100, 0), nanoseconds(0));
  EXPECT_EQ(RedriveInterval(10, 10), milliseconds(1000));
  EXPECT_EQ(RedriveInterval(1, 10), milliseconds(100));
  EXPECT_EQ(RedriveInterval(100, 1000), milliseconds(100));
  EXPECT_EQ(RedriveInterval(1, 3), nanoseconds(333333333));
  EXPECT_EQ(RedriveInterval(0, 10), nanoseconds(0));
  // A full batch at the fastest rate still waits a little.
  EXPECT_EQ(RedriveInterval(100, kMaxRedriveRate), std::chrono::microseconds(100));
}

DeadLetter Letter() {
  DeadLetter d;
  d.message_id = "m1";
  d.info.original_topic = "orders";
  d.info.original_queue = 2;
  d.info.original_offset = 40;
  d.info.attempts = 16;
  d.info.reason = "db down";
  d.info.dead_lettered_ms = 1700000000123;
  d.info.group = "billing";
  d.dead_letter_topic = "%DLQ.billing";
  d.queue_id = 0;
  d.offset = 5;
  return d;
}

TEST(DlqOutputTest, ListJson) {
  EXPECT_EQ(FormatDeadLetterJson(Letter()),
            "{\"message_id\":\"m1\",\"original_topic\":\"orders\",\"original_queue\":2,"
            "\"original_offset\":40,\"attempts\":16,\"reason\":\"db down\","
            "\"dead_lettered_ms\":1700000000123,\"dead_letter_topic\":\"%DLQ.billing\","
            "\"queue\":0,\"offset\":5,\"redriven_ms\":0,\"redriven_to\":\"\"}");
  DeadLetter d = Letter();
  d.redriven_ms = 1700000005000;
  d.redriven_to = "orders";
  EXPECT_NE(
      FormatDeadLetterJson(d).find(",\"redriven_ms\":1700000005000,\"redriven_to\":\"orders\"}"),
      std::string::npos);
}

TEST(DlqOutputTest, ListTable) {
  DeadLetter redriven = Letter();
  redriven.message_id = "m2";
  redriven.info.reason = "";
  redriven.redriven_ms = 1700000005000;
  redriven.redriven_to = "orders";
  EXPECT_EQ(
      FormatDeadLetterTable({Letter()}, false),
      "MESSAGE_ID  ORIGINAL_TOPIC  QUEUE  OFFSET  ATTEMPTS  DEAD_LETTERED             REASON\n"
      "m1          orders          2      40      16        2023-11-14T22:13:20.123Z  "
      "db down\n");
  EXPECT_EQ(FormatDeadLetterTable({Letter(), redriven}, true),
            "MESSAGE_ID  ORIGINAL_TOPIC  QUEUE  OFFSET  ATTEMPTS  DEAD_LETTERED             "
            "REDRIVEN                  REDRIVEN_TO  REASON\n"
            "m1          orders          2      40      16        2023-11-14T22:13:20.123Z  "
            "-                         -            db down\n"
            "m2          orders          2      40      16        2023-11-14T22:13:20.123Z  "
            "2023-11-14T22:13:25.000Z  orders       -\n");
  EXPECT_EQ(FormatDeadLetterTable({}, false),
            "MESSAGE_ID  ORIGINAL_TOPIC  QUEUE  OFFSET  ATTEMPTS  DEAD_LETTERED  REASON\n");
}

TEST(DlqOutputTest, RedriveResults) {
  RedriveResult ok;
  ok.message_id = "m1";
  ok.topic = "orders";
  ok.queue_id = 2;
  ok.offset = 41;
  EXPECT_EQ(FormatRedriveResult(ok, false), "redriven m1 -> orders queue=2 offset=41");
  EXPECT_EQ(FormatRedriveResult(ok, true),
            "{\"message_id\":\"m1\",\"status\":\"OK\",\"topic\":\"orders\",\"queue\":2,"
            "\"offset\":41}");
  RedriveResult failed;
  failed.message_id = "m2";
  failed.status = Status::FailedPrecondition("already redriven");
  EXPECT_EQ(FormatRedriveResult(failed, false),
            "halfmq: redrive of m2 failed: FAILED_PRECONDITION: already redriven");
  EXPECT_EQ(FormatRedriveResult(failed, true),
            "{\"message_id\":\"m2\",\"status\":\"FAILED_PRECONDITION\","
            "\"error\":\"already redriven\"}");
}

}  // namespace
}  // namespace halfmq::cli
