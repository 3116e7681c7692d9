// `send --txn` flag parsing and the output shapes of the transaction
// commands, which scripts rely on.
#include "client/cli/txn.h"

#include <gtest/gtest.h>

namespace halfmq::cli {
namespace {

const std::vector<FlagSpec> kSendSpecs = {{"txn", FlagKind::kValue},
                                          {"producer-group", FlagKind::kValue},
                                          {"check-answer", FlagKind::kValue},
                                          {"serve-checks-ms", FlagKind::kValue}};

Result<std::optional<TxnSendFlags>> Parse(const std::vector<std::string>& args) {
  auto parsed = ParseArgs(args, kSendSpecs);
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return ParseTxnSendFlags(*parsed);
}

TEST(TxnSendFlagsTest, AbsentWithoutTxn) {
  auto flags = Parse({});
  ASSERT_TRUE(flags.ok());
  EXPECT_FALSE(flags->has_value());
}

TEST(TxnSendFlagsTest, Defaults) {
  auto flags = Parse({"--txn", "commit"});
  ASSERT_TRUE(flags.ok()) << flags.status();
  ASSERT_TRUE(flags->has_value());
  const TxnSendFlags& f = **flags;
  EXPECT_EQ(f.end, TxnState::kCommit);
  EXPECT_EQ(f.producer_group, "halfmq-cli");
  EXPECT_EQ(f.check_answer, TxnState::kUnknown);
  EXPECT_EQ(f.serve_checks, std::chrono::milliseconds(0));
}

TEST(TxnSendFlagsTest, EveryValue) {
  auto flags = Parse({"--txn", "unknown", "--producer-group", "pg", "--check-answer", "rollback",
                      "--serve-checks-ms", "1500"});
  ASSERT_TRUE(flags.ok()) << flags.status();
  const TxnSendFlags& f = **flags;
  EXPECT_EQ(f.end, TxnState::kUnknown);
  EXPECT_EQ(f.producer_group, "pg");
  EXPECT_EQ(f.check_answer, TxnState::kRollback);
  EXPECT_EQ(f.serve_checks, std::chrono::milliseconds(1500));
  EXPECT_EQ((*Parse({"--txn", "rollback", "--check-answer", "commit"}))->end, TxnState::kRollback);
  EXPECT_EQ((*Parse({"--txn", "rollback", "--check-answer", "commit"}))->check_answer,
            TxnState::kCommit);
}

TEST(TxnSendFlagsTest, CheckFlagsNeedTxn) {
  for (const char* flag : {"--producer-group", "--check-answer", "--serve-checks-ms"}) {
    auto flags = Parse({flag, "1"});
    ASSERT_FALSE(flags.ok()) << flag;
    EXPECT_EQ(flags.status().message(), std::string(flag) + " needs --txn");
  }
}

TEST(TxnWordsTest, LowercaseWords) {
  EXPECT_EQ(TxnStateWord(TxnState::kCommit), "commit");
  EXPECT_EQ(TxnStateWord(TxnState::kRollback), "rollback");
  EXPECT_EQ(TxnStateWord(TxnState::kUnknown), "unknown");
  EXPECT_EQ(TxnListStateWord(TxnListState::kPending), "pending");
  EXPECT_EQ(TxnListStateWord(TxnListState::kUnresolved), "unresolved");
}

TEST(TxnOutputTest, SendLinesPerOutcome) {
  HalfReceipt half{"t1", "m1", "order-paid"};
  SendReceipt stored;
  stored.message_id = "m1";
  stored.topic = "order-paid";
  stored.queue_id = 3;
  stored.offset = 42;
  EXPECT_EQ(FormatTxnMessage(half, "committed", &stored, true),
            "{\"txn_id\":\"t1\",\"message_id\":\"m1\",\"outcome\":\"committed\","
            "\"topic\":\"order-paid\",\"queue\":3,\"offset\":42}");
  EXPECT_EQ(FormatTxnMessage(half, "pending", nullptr, true),
            "{\"txn_id\":\"t1\",\"message_id\":\"m1\",\"outcome\":\"pending\","
            "\"topic\":\"order-paid\"}");
  EXPECT_EQ(FormatTxnMessage(half, "rolled_back", nullptr, true),
            "{\"txn_id\":\"t1\",\"message_id\":\"m1\",\"outcome\":\"rolled_back\","
            "\"topic\":\"order-paid\"}");
  EXPECT_EQ(FormatTxnMessage(half, "committed", &stored, false),
            "committed txn=t1 m1 order-paid queue=3 offset=42");
  EXPECT_EQ(FormatTxnMessage(half, "pending", nullptr, false), "pending txn=t1 m1 order-paid");
  SendReceipt delayed;
  delayed.message_id = "m1";
  delayed.topic = "order-paid";
  delayed.deliver_at_ms = 1795773600000;
  EXPECT_EQ(FormatTxnMessage(half, "committed", &delayed, true),
            "{\"txn_id\":\"t1\",\"message_id\":\"m1\",\"outcome\":\"committed\","
            "\"topic\":\"order-paid\",\"deliver_at_ms\":1795773600000}");
  EXPECT_EQ(FormatTxnMessage(half, "committed", &delayed, false),
            "committed txn=t1 m1 order-paid deliver_at=2026-11-27T10:00:00.000Z");
}

TransactionInfo Info() {
  TransactionInfo t;
  t.txn_id = "t1";
  t.producer_group = "payments";
  t.state = TxnListState::kUnresolved;
  t.checks = 15;
  t.created_ms = 1700000000123;
  t.next_check_ms = 0;
  t.topics = {"order-paid", "audit"};
  t.message_count = 2;
  return t;
}

TEST(TxnOutputTest, ListJson) {
  EXPECT_EQ(FormatTransactionJson(Info()),
            "{\"txn_id\":\"t1\",\"producer_group\":\"payments\",\"state\":\"unresolved\","
            "\"checks\":15,\"created_ms\":1700000000123,\"next_check_ms\":0,"
            "\"topics\":[\"order-paid\",\"audit\"],\"message_count\":2}");
}

TEST(TxnOutputTest, ListTable) {
  TransactionInfo pending = Info();
  pending.txn_id = "a-much-longer-id";
  pending.state = TxnListState::kPending;
  pending.next_check_ms = 1700000005000;
  pending.topics = {"t"};
  EXPECT_EQ(FormatTransactionTable({Info(), pending}),
            "TXN_ID            GROUP     STATE       CHECKS  MESSAGES  CREATED                   "
            "NEXT_CHECK                TOPICS\n"
            "t1                payments  unresolved  15      2         2023-11-14T22:13:20.123Z  "
            "-                         order-paid,audit\n"
            "a-much-longer-id  payments  pending     15      2         2023-11-14T22:13:20.123Z  "
            "2023-11-14T22:13:25.000Z  t\n");
  EXPECT_EQ(FormatTransactionTable({}),
            "TXN_ID  GROUP  STATE  CHECKS  MESSAGES  CREATED  NEXT_CHECK  TOPICS\n");
}

}  // namespace
}  // namespace halfmq::cli
