// Transaction pieces that need no broker: option and id validation, the
// SendHalf / EndTransaction frames, and conversion of checks and listings.
// The transaction flow itself is tested against a real broker in tests/.
#include <string>

#include <gtest/gtest.h>

#include "client/convert.h"
#include "common/asio.h"
#include "common/limits.h"
#include "halfmq/transaction.h"

namespace halfmq::client {
namespace {

TEST(TransactionOptionsTest, DefaultsAreValid) {
  EXPECT_TRUE(ValidateTransactionProducerOptions({}).ok());
}

TEST(TransactionOptionsTest, RejectsEachBadField) {
  auto bad = [](TransactionProducerOptions o, const std::string& field) {
    Status s = ValidateTransactionProducerOptions(o);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << field;
    EXPECT_NE(s.message().find(field), std::string::npos) << s;
  };
  TransactionProducerOptions o;
  o.check_threads = 0;
  bad(o, "check_threads");
  o = {};
  o.check_threads = 257;
  bad(o, "check_threads");
  o = {};
  o.max_pending_checks = 0;
  bad(o, "max_pending_checks");
  o = {};
  o.check_immunity = std::chrono::milliseconds(-1);
  bad(o, "check_immunity");
  o = {};
  o.check_immunity = std::chrono::milliseconds(int64_t{UINT32_MAX} + 1);
  bad(o, "check_immunity");
}

// A loopback port with nothing listening: bound once, then released.
std::string ClosedBrokerAddress() {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  unsigned short port = acceptor.local_endpoint().port();
  acceptor.close();
  return "127.0.0.1:" + std::to_string(port);
}

TEST(TransactionProducerTest, ConnectChecksArgumentsBeforeConnecting) {
  ClientOptions options;
  options.broker = ClosedBrokerAddress();
  options.max_retries = 0;
  auto checker = [](const CheckRequest&) { return TxnState::kUnknown; };
  auto code = [&](std::string group, TransactionChecker c, TransactionProducerOptions o) {
    return TransactionProducer::Connect(options, std::move(group), std::move(c), o)
        .status()
        .code();
  };
  EXPECT_EQ(code("", checker, {}), StatusCode::kInvalidArgument);
  EXPECT_EQ(code("bad group", checker, {}), StatusCode::kInvalidArgument);
  EXPECT_EQ(code("pg", nullptr, {}), StatusCode::kInvalidArgument);
  TransactionProducerOptions no_threads;
  no_threads.check_threads = 0;
  EXPECT_EQ(code("pg", checker, no_threads), StatusCode::kInvalidArgument);
  // Valid arguments get as far as the (absent) broker.
  EXPECT_EQ(code("pg", checker, {}), StatusCode::kUnavailable);
}

TEST(TxnIdTest, FollowsMessageIdRulesWithItsOwnName) {
  EXPECT_TRUE(ValidateTxnId("0190f3a2b4c5d6e7f8a9b0c1d2e3f4a5").ok());
  EXPECT_TRUE(ValidateTxnId("order-42/retry:1").ok());
  for (const std::string& bad : {std::string(), std::string("a b"), std::string("a\x01"),
                                 std::string(kMaxMessageIdBytes + 1, 'x')}) {
    Status s = ValidateTxnId(bad);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(s.message().rfind("transaction id", 0), 0u) << s;
  }
}

TEST(SendHalfFrameTest, CarriesTxnGroupImmunityAndFixedMessageIds) {
  auto frame = BuildSendHalfFrame(
      "txn-1", "payments", 2500,
      {Message("order-paid").Key("o-1").Body("{}"), Message("audit").Id("given")},
      /*fresh_txn=*/true);
  ASSERT_TRUE(frame.ok()) << frame.status();
  const v1::SendHalfRequest& half = frame->send_half();
  EXPECT_EQ(half.txn_id(), "txn-1");
  EXPECT_EQ(half.producer_group(), "payments");
  EXPECT_EQ(half.check_immunity_ms(), 2500u);
  EXPECT_TRUE(half.fresh_txn());
  ASSERT_EQ(half.messages_size(), 2);
  EXPECT_EQ(half.messages(0).topic(), "order-paid");
  EXPECT_EQ(half.messages(0).keys(0), "o-1");
  EXPECT_EQ(half.messages(0).message_id().size(), 32u);
  EXPECT_EQ(half.messages(1).message_id(), "given");
  std::vector<HalfReceipt> receipts = HalfReceiptsOf(*frame);
  ASSERT_EQ(receipts.size(), 2u);
  EXPECT_EQ(receipts[0].txn_id, "txn-1");
  EXPECT_EQ(receipts[0].message_id, half.messages(0).message_id());
  EXPECT_EQ(receipts[0].topic, "order-paid");
  EXPECT_EQ(receipts[1].message_id, "given");
  EXPECT_EQ(receipts[1].topic, "audit");
}

TEST(SendHalfFrameTest, RejectsBadIdGroupAndMessages) {
  EXPECT_EQ(BuildSendHalfFrame("a b", "pg", 0, {Message("t")}, false).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(BuildSendHalfFrame("t1", "bad group", 0, {Message("t")}, false).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(BuildSendHalfFrame("t1", "pg", 0, {}, false).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(BuildSendHalfFrame("t1", "pg", 0, {Message("t").Key("")}, false).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(EndTransactionFrameTest, MarksItsSource) {
  auto commit = BuildEndTransactionFrame("t1", TxnState::kCommit, EndSource::kProducer);
  ASSERT_TRUE(commit.ok());
  EXPECT_EQ(commit->end_transaction().txn_id(), "t1");
  EXPECT_EQ(commit->end_transaction().outcome(), v1::COMMIT);
  EXPECT_FALSE(commit->end_transaction().from_check());
  EXPECT_FALSE(commit->end_transaction().from_operator());
  auto check = BuildEndTransactionFrame("t1", TxnState::kRollback, EndSource::kCheck);
  ASSERT_TRUE(check.ok());
  EXPECT_EQ(check->end_transaction().outcome(), v1::ROLLBACK);
  EXPECT_TRUE(check->end_transaction().from_check());
  auto op = BuildEndTransactionFrame("t1", TxnState::kCommit, EndSource::kOperator);
  ASSERT_TRUE(op.ok());
  EXPECT_TRUE(op->end_transaction().from_operator());
  EXPECT_FALSE(op->end_transaction().from_check());
  EXPECT_EQ(BuildEndTransactionFrame("t1", TxnState::kUnknown, EndSource::kProducer)
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(BuildEndTransactionFrame("", TxnState::kCommit, EndSource::kProducer).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(EndResultTest, CarriesReceiptsAndRejectsAnotherOutcome) {
  v1::Frame response;
  v1::EndTransactionResponse* end = response.mutable_end_transaction_response();
  end->set_outcome(v1::COMMIT);
  end->set_applied(false);
  v1::SendResult* r = end->add_results();
  r->set_message_id("m1");
  r->set_topic("order-paid");
  r->set_queue_id(3);
  r->set_offset(17);
  r->set_store_time_ms(99);
  auto result = EndResultFromResponse(response, TxnState::kCommit);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->outcome, TxnState::kCommit);
  EXPECT_FALSE(result->applied);
  ASSERT_EQ(result->receipts.size(), 1u);
  EXPECT_EQ(result->receipts[0].message_id, "m1");
  EXPECT_EQ(result->receipts[0].topic, "order-paid");
  EXPECT_EQ(result->receipts[0].queue_id, 3u);
  EXPECT_EQ(result->receipts[0].offset, 17u);
  EXPECT_EQ(result->receipts[0].store_time_ms, 99);
  EXPECT_EQ(EndResultFromResponse(response, TxnState::kRollback).status().code(),
            StatusCode::kInternal);
}

TEST(CheckRequestTest, ConvertsEveryField) {
  v1::CheckTransactionRequest in;
  in.set_txn_id("t1");
  in.set_producer_group("payments");
  in.set_check_number(3);
  in.set_created_ms(1700000000123);
  v1::Message* m = in.add_messages();
  m->set_topic("order-paid");
  m->set_message_id("m1");
  m->add_keys("o-1");
  m->add_keys("user-7");
  m->set_tag("paid");
  (*m->mutable_properties())["currency"] = "EUR";
  m->set_body(std::string("{\0}", 3));
  m->set_queue_id(2);
  v1::Message* second = in.add_messages();
  second->set_topic("audit");
  second->set_message_id("m2");
  second->set_sharding_key("s");

  auto check = CheckRequestFromProto(in);
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_EQ(check->txn_id, "t1");
  EXPECT_EQ(check->producer_group, "payments");
  EXPECT_EQ(check->check_number, 3u);
  EXPECT_EQ(check->created_ms, 1700000000123);
  ASSERT_EQ(check->messages.size(), 2u);
  const Message& first = check->message();
  EXPECT_EQ(&first, &check->messages[0]);
  EXPECT_EQ(first.topic(), "order-paid");
  EXPECT_EQ(first.message_id(), "m1");
  EXPECT_EQ(first.key(), "o-1");
  EXPECT_EQ(first.keys(), (std::vector<std::string>{"o-1", "user-7"}));
  EXPECT_EQ(first.tag(), "paid");
  EXPECT_EQ(first.properties().at("currency"), "EUR");
  EXPECT_EQ(first.body(), std::string("{\0}", 3));
  EXPECT_EQ(first.queue_id(), 2u);
  EXPECT_EQ(check->messages[1].sharding_key(), "s");
  EXPECT_FALSE(check->messages[1].queue_id().has_value());
  EXPECT_EQ(check->messages[1].key(), "");
}

TEST(CheckRequestTest, RejectsChecksNoCheckerCouldDecide) {
  v1::CheckTransactionRequest no_messages;
  no_messages.set_txn_id("t1");
  EXPECT_EQ(CheckRequestFromProto(no_messages).status().code(), StatusCode::kInvalidArgument);
  v1::CheckTransactionRequest no_id;
  no_id.add_messages()->set_topic("t");
  EXPECT_EQ(CheckRequestFromProto(no_id).status().code(), StatusCode::kInvalidArgument);
}

TEST(CheckRequestDeathTest, MessageOfAnEmptyCheckAborts) {
  CheckRequest empty;
  EXPECT_DEATH(empty.message(), "without messages");
}

TEST(CheckResponseTest, CarriesTheOutcome) {
  EXPECT_EQ(CheckResponseFrame(TxnState::kCommit).check_transaction_response().outcome(),
            v1::COMMIT);
  EXPECT_EQ(CheckResponseFrame(TxnState::kRollback).check_transaction_response().outcome(),
            v1::ROLLBACK);
  EXPECT_EQ(CheckResponseFrame(TxnState::kUnknown).check_transaction_response().outcome(),
            v1::UNKNOWN);
}

TEST(TransactionInfoTest, ConvertsListedStatesOnly) {
  v1::TransactionInfo in;
  in.set_txn_id("t1");
  in.set_producer_group("payments");
  in.set_state(v1::UNRESOLVED);
  in.set_checks(15);
  in.set_created_ms(1);
  in.set_next_check_ms(2);
  in.add_topics("a");
  in.add_topics("b");
  in.set_message_count(4);
  auto info = FromProto(in);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->txn_id, "t1");
  EXPECT_EQ(info->producer_group, "payments");
  EXPECT_EQ(info->state, TxnListState::kUnresolved);
  EXPECT_EQ(info->checks, 15u);
  EXPECT_EQ(info->created_ms, 1);
  EXPECT_EQ(info->next_check_ms, 2);
  EXPECT_EQ(info->topics, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(info->message_count, 4u);
  in.set_state(v1::PENDING);
  EXPECT_EQ(FromProto(in)->state, TxnListState::kPending);
  in.set_state(v1::COMMITTED);
  EXPECT_EQ(FromProto(in).status().code(), StatusCode::kInternal);
  EXPECT_EQ(ToProto(TxnListState::kAll), v1::TXN_STATE_UNSPECIFIED);
  EXPECT_EQ(ToProto(TxnListState::kPending), v1::PENDING);
  EXPECT_EQ(ToProto(TxnListState::kUnresolved), v1::UNRESOLVED);
}

}  // namespace
}  // namespace halfmq::client
