// ConsumeService against a real store in a temporary directory: receive,
// ack, nack, redelivery, dead letters, redrive, group configs, recovery.
#include "broker/consume_service.h"

#include <future>

#include <gtest/gtest.h>

#include "broker/test_util.h"
#include "storage/group_table_testing.h"
#include "tests/util/eventually.h"

namespace halfmq::broker {
namespace {

class ConsumeServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_.Open();
    env_.log.CreateTopic("orders", 1);
  }

  // Sets a policy of fixed zero delays (no jitter) and `max_attempts`.
  void SetPolicy(const std::string& group, uint32_t max_attempts) {
    v1::SetGroupConfigRequest r;
    r.set_group(group);
    r.mutable_retry_policy()->mutable_fixed()->add_delays_ms(0);
    r.mutable_retry_policy()->set_max_attempts(max_attempts);
    v1::Frame f = env_.Call(&ConsumeService::SetGroupConfig, std::move(r));
    ASSERT_EQ(f.status().code(), v1::Status::OK) << f.status().message();
  }
  v1::Frame Ack(const std::string& group, const std::vector<std::string>& handles) {
    v1::AckRequest r;
    r.set_group(group);
    for (const auto& h : handles) r.add_receipt_handles(h);
    return env_.Call(&ConsumeService::Ack, std::move(r));
  }
  v1::Frame Nack(const std::string& group, const std::string& handle,
                 std::optional<uint32_t> delay_ms, const std::string& reason = "") {
    v1::NackRequest r;
    r.set_group(group);
    r.add_receipt_handles(handle);
    if (delay_ms) r.set_delay_ms(*delay_ms);
    r.set_reason(reason);
    return env_.Call(&ConsumeService::Nack, std::move(r));
  }
  v1::QueueLag Lag(const std::string& group, ConsumeService* on = nullptr) {
    v1::GetLagRequest r;
    r.set_group(group);
    r.set_topic("orders");
    v1::Frame f = env_.Call(&ConsumeService::GetLag, std::move(r), on);
    EXPECT_EQ(f.status().code(), v1::Status::OK) << f.status().message();
    return f.get_lag_response().queues_size() == 1 ? f.get_lag_response().queues(0)
                                                   : v1::QueueLag();
  }
  v1::Frame ListDeadLetters(const std::string& group, bool include_redriven = false) {
    v1::ListDeadLettersRequest r;
    r.set_group(group);
    r.set_include_redriven(include_redriven);
    return env_.Call(&ConsumeService::ListDeadLetters, std::move(r));
  }
  v1::Frame Redrive(const std::string& group, const std::vector<std::string>& ids,
                    const std::string& to_topic = "") {
    v1::RedriveRequest r;
    r.set_group(group);
    for (const auto& id : ids) r.add_message_ids(id);
    r.set_to_topic(to_topic);
    return env_.Call(&ConsumeService::Redrive, std::move(r));
  }
  // Receives the one message of "orders" for `group` and nacks it on its
  // last attempt: it is dead-lettered by the time the nack is answered.
  std::string DeadLetterOne(const std::string& group, const std::string& reason) {
    auto got = env_.Receive(group, "orders", 1);
    EXPECT_EQ(got.messages_size(), 1);
    if (got.messages_size() != 1) return "";
    v1::Frame f = Nack(group, got.messages(0).receipt_handle(), std::nullopt, reason);
    EXPECT_EQ(f.nack_response().results(0).code(), v1::Status::OK)
        << f.nack_response().results(0).message();
    return got.messages(0).message().message_id();
  }

  test_util::ConsumeTestEnv env_;
};

TEST_F(ConsumeServiceTest, ReceiveDeliversInOrderAndAckEndsTheDeliveries) {
  env_.Publish("orders", {"a", "b", "c"});
  auto got = env_.Receive("g", "orders", 10);
  ASSERT_EQ(got.messages_size(), 3);
  std::vector<std::string> handles;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(got.messages(i).offset(), static_cast<uint64_t>(i));
    EXPECT_EQ(got.messages(i).attempt(), 1u);
    EXPECT_EQ(got.messages(i).message().body(), std::string(1, static_cast<char>('a' + i)));
    handles.push_back(got.messages(i).receipt_handle());
  }
  EXPECT_EQ(Lag("g").inflight(), 3u);
  EXPECT_EQ(Lag("g").delivered_offset(), 3u);

  v1::Frame acked = Ack("g", handles);
  ASSERT_EQ(acked.ack_response().results_size(), 3);
  for (const auto& r : acked.ack_response().results()) EXPECT_EQ(r.code(), v1::Status::OK);
  EXPECT_EQ(Lag("g").inflight(), 0u);
  EXPECT_EQ(Lag("g").lag(), 0u);
  // Acked messages are not delivered again, even after their invisibility.
  env_.log.clock.Advance(60000);
  EXPECT_EQ(env_.Receive("g", "orders", 10).messages_size(), 0);
  // A second ack of the same handles is fine.
  v1::Frame again = Ack("g", handles);
  for (const auto& r : again.ack_response().results()) EXPECT_EQ(r.code(), v1::Status::OK);
}

TEST_F(ConsumeServiceTest, AckOfAnotherGroupsHandleIsInvalid) {
  env_.Publish("orders", {"a"});
  auto got = env_.Receive("g", "orders", 1);
  ASSERT_EQ(got.messages_size(), 1);
  v1::Frame f = Ack("other", {got.messages(0).receipt_handle(), "garbage"});
  ASSERT_EQ(f.ack_response().results_size(), 2);
  EXPECT_EQ(f.ack_response().results(0).code(), v1::Status::INVALID_ARGUMENT);
  EXPECT_EQ(f.ack_response().results(1).code(), v1::Status::INVALID_ARGUMENT);
  EXPECT_EQ(Lag("g").inflight(), 1u);
}

TEST_F(ConsumeServiceTest, UnackedMessageIsRedeliveredAfterItsInvisibility) {
  SetPolicy("g", 5);
  env_.Publish("orders", {"a"});
  auto first = env_.Receive("g", "orders", 1, /*invisible_ms=*/1000);
  ASSERT_EQ(first.messages_size(), 1);
  EXPECT_EQ(env_.Receive("g", "orders", 1).messages_size(), 0);  // still invisible
  env_.log.clock.Advance(999);
  EXPECT_EQ(env_.Receive("g", "orders", 1).messages_size(), 0);
  env_.log.clock.Advance(1);
  auto second = env_.Receive("g", "orders", 1);
  ASSERT_EQ(second.messages_size(), 1);
  EXPECT_EQ(second.messages(0).offset(), 0u);
  EXPECT_EQ(second.messages(0).attempt(), 2u);
  // The first delivery's handle expired with it.
  v1::Frame stale = Ack("g", {first.messages(0).receipt_handle()});
  EXPECT_EQ(stale.ack_response().results(0).code(), v1::Status::FAILED_PRECONDITION);
  EXPECT_EQ(Ack("g", {second.messages(0).receipt_handle()}).ack_response().results(0).code(),
            v1::Status::OK);
  EXPECT_EQ(Lag("g").inflight(), 0u);
}

TEST_F(ConsumeServiceTest, NackRedeliversAfterItsDelay) {
  SetPolicy("g", 5);
  env_.Publish("orders", {"a"});
  auto got = env_.Receive("g", "orders", 1, /*invisible_ms=*/30000);
  ASSERT_EQ(got.messages_size(), 1);
  v1::Frame f = Nack("g", got.messages(0).receipt_handle(), /*delay_ms=*/500);
  EXPECT_EQ(f.nack_response().results(0).code(), v1::Status::OK);
  EXPECT_EQ(env_.Receive("g", "orders", 1).messages_size(), 0);
  env_.log.clock.Advance(500);  // long before the 30 s invisibility ends
  auto again = env_.Receive("g", "orders", 1);
  ASSERT_EQ(again.messages_size(), 1);
  EXPECT_EQ(again.messages(0).attempt(), 2u);
}

TEST_F(ConsumeServiceTest, ChangeInvisibleDurationPostponesTheRedelivery) {
  SetPolicy("g", 5);
  env_.Publish("orders", {"a"});
  auto got = env_.Receive("g", "orders", 1, /*invisible_ms=*/1000);
  ASSERT_EQ(got.messages_size(), 1);
  v1::ChangeInvisibleDurationRequest r;
  r.set_group("g");
  r.set_receipt_handle(got.messages(0).receipt_handle());
  r.set_invisible_ms(5000);
  v1::Frame f = env_.Call(&ConsumeService::ChangeInvisibleDuration, std::move(r));
  ASSERT_EQ(f.status().code(), v1::Status::OK) << f.status().message();
  EXPECT_EQ(f.change_invisible_duration_response().invisible_until_ms(), 1000 + 5000);
  env_.log.clock.Advance(1000);
  EXPECT_EQ(env_.Receive("g", "orders", 1).messages_size(), 0);
  env_.log.clock.Advance(4000);
  EXPECT_EQ(env_.Receive("g", "orders", 1).messages_size(), 1);
}

TEST_F(ConsumeServiceTest, NackOnTheLastAttemptDeadLettersAndRedriveBringsItBack) {
  SetPolicy("g", 1);
  env_.Publish("orders", {"a"});
  std::string id = DeadLetterOne("g", "bad input");
  EXPECT_EQ(Lag("g").inflight(), 0u);

  v1::Frame list = ListDeadLetters("g");
  ASSERT_EQ(list.status().code(), v1::Status::OK) << list.status().message();
  ASSERT_EQ(list.list_dead_letters_response().dead_letters_size(), 1);
  const v1::DeadLetter& d = list.list_dead_letters_response().dead_letters(0);
  EXPECT_EQ(d.message_id(), id);
  EXPECT_EQ(d.dead_letter_topic(), "%DLQ.g");
  EXPECT_EQ(d.info().reason(), "bad input");
  EXPECT_EQ(d.info().attempts(), 1u);
  EXPECT_EQ(d.info().original_topic(), "orders");
  EXPECT_NE(env_.log.topics->Find("%DLQ.g"), nullptr);
  EXPECT_EQ(env_.Receive("g", "orders", 1).messages_size(), 0);  // not redelivered

  v1::Frame redriven = Redrive("g", {id});
  ASSERT_EQ(redriven.status().code(), v1::Status::OK) << redriven.status().message();
  ASSERT_EQ(redriven.redrive_response().results_size(), 1);
  EXPECT_EQ(redriven.redrive_response().results(0).status().code(), v1::Status::OK);
  EXPECT_EQ(redriven.redrive_response().results(0).topic(), "orders");
  auto back = env_.Receive("g", "orders", 1);
  ASSERT_EQ(back.messages_size(), 1);
  EXPECT_EQ(back.messages(0).message().body(), "a");
  EXPECT_EQ(back.messages(0).attempt(), 1u);

  // Once only; the listing hides it unless asked.
  v1::Frame twice = Redrive("g", {id});
  EXPECT_EQ(twice.redrive_response().results(0).status().code(),
            v1::Status::FAILED_PRECONDITION);
  EXPECT_EQ(ListDeadLetters("g").list_dead_letters_response().dead_letters_size(), 0);
  auto all = ListDeadLetters("g", /*include_redriven=*/true).list_dead_letters_response();
  ASSERT_EQ(all.dead_letters_size(), 1);
  EXPECT_EQ(all.dead_letters(0).redriven_to(), "orders");
}

TEST_F(ConsumeServiceTest, SweeperDeadLettersAFinalDeliveryWhoseInvisibilityEnded) {
  SetPolicy("g", 1);
  env_.Publish("orders", {"a"});
  ASSERT_EQ(env_.Receive("g", "orders", 1, /*invisible_ms=*/1000).messages_size(), 1);
  EXPECT_EQ(env_.service->SweepDeadLettersOnce(), 0u);  // still invisible
  env_.log.clock.Advance(1000);
  EXPECT_EQ(env_.service->SweepDeadLettersOnce(), 1u);
  ASSERT_TRUE(halfmq::testing::Eventually([&] {
    return env_.log.metrics.messages_dead_lettered.load() == 1;
  }));
  auto list = ListDeadLetters("g").list_dead_letters_response();
  ASSERT_EQ(list.dead_letters_size(), 1);
  EXPECT_EQ(list.dead_letters(0).info().reason(),
            "not acked within its invisibility on the last attempt");
  EXPECT_EQ(Lag("g").inflight(), 0u);
  EXPECT_EQ(env_.service->SweepDeadLettersOnce(), 0u);
  // The dead-letter topic holds the message with its dead-letter info.
  auto dlq = env_.Receive("reader", "%DLQ.g", 1);
  ASSERT_EQ(dlq.messages_size(), 1);
  EXPECT_EQ(dlq.messages(0).message().body(), "a");
  EXPECT_EQ(dlq.messages(0).dead_letter().group(), "g");
}

TEST_F(ConsumeServiceTest, RedriveCopiesIntoAnotherTopic) {
  env_.log.CreateTopic("retry", 1);
  SetPolicy("g", 1);
  env_.Publish("orders", {"a"});
  std::string id = DeadLetterOne("g", "");
  v1::Frame f = Redrive("g", {id}, "retry");
  ASSERT_EQ(f.redrive_response().results_size(), 1);
  EXPECT_EQ(f.redrive_response().results(0).status().code(), v1::Status::OK)
      << f.redrive_response().results(0).status().message();
  EXPECT_EQ(f.redrive_response().results(0).topic(), "retry");
  auto copy = env_.Receive("h", "retry", 1);
  ASSERT_EQ(copy.messages_size(), 1);
  EXPECT_EQ(copy.messages(0).message().body(), "a");
  EXPECT_FALSE(copy.messages(0).has_dead_letter());
}

TEST_F(ConsumeServiceTest, RedriveWithoutIdsTakesTheFirstNotRedriven) {
  SetPolicy("g", 1);
  env_.Publish("orders", {"a", "b"});
  std::string first = DeadLetterOne("g", "");
  std::string second = DeadLetterOne("g", "");
  ASSERT_EQ(Redrive("g", {first}).redrive_response().results(0).status().code(), v1::Status::OK);
  v1::Frame f = Redrive("g", {});
  ASSERT_EQ(f.status().code(), v1::Status::OK) << f.status().message();
  ASSERT_EQ(f.redrive_response().results_size(), 1);
  EXPECT_EQ(f.redrive_response().results(0).message_id(), second);
  EXPECT_EQ(Redrive("g", {}).redrive_response().results_size(), 0);  // none left
  EXPECT_EQ(Redrive("g", {"nope"}).redrive_response().results(0).status().code(),
            v1::Status::NOT_FOUND);
}

TEST_F(ConsumeServiceTest, ACorruptDeadLetterRecordIsAnErrorNotAnEmptySuccess) {
  SetPolicy("g", 1);
  env_.Publish("orders", {"a"});
  DeadLetterOne("g", "");
  ASSERT_TRUE(storage::PutCorruptDeadLetterForTest(env_.log.store.get(), ConsumerGroup("g"),
                                                   MessageId("m0000"))
                  .ok());
  // The scan of a redrive without ids meets the corrupt record first.
  v1::Frame redrive = Redrive("g", {});
  EXPECT_EQ(redrive.status().code(), v1::Status::INTERNAL) << redrive.DebugString();
  EXPECT_EQ(redrive.redrive_response().results_size(), 0);
  EXPECT_EQ(ListDeadLetters("g").status().code(), v1::Status::INTERNAL);
  // The good record was not left claimed by the failed redrive.
  EXPECT_EQ(Redrive("g", {"m0001"}).redrive_response().results(0).status().code(),
            v1::Status::OK);
}

TEST_F(ConsumeServiceTest, GroupConfigIsValidatedStoredAndRecovered) {
  v1::GetGroupConfigRequest get;
  get.set_group("g");
  v1::Frame defaults = env_.Call(&ConsumeService::GetGroupConfig, get);
  EXPECT_EQ(defaults.get_group_config_response().config().retry_policy().max_attempts(), 16u);
  EXPECT_EQ(defaults.get_group_config_response().config().dead_letter_topic(), "%DLQ.g");

  v1::SetGroupConfigRequest bad;
  bad.set_group("g");
  bad.mutable_retry_policy()->set_max_attempts(3);  // no schedule
  EXPECT_EQ(env_.Call(&ConsumeService::SetGroupConfig, bad).status().code(),
            v1::Status::INVALID_ARGUMENT);
  SetPolicy("g", 3);
  EXPECT_EQ(env_.Call(&ConsumeService::GetGroupConfig, get)
                .get_group_config_response()
                .config()
                .retry_policy()
                .max_attempts(),
            3u);

  // A restarted service reads the policy and the subscription back.
  env_.Publish("orders", {"a"});
  ASSERT_EQ(env_.Receive("g", "orders", 1).messages_size(), 1);
  std::unique_ptr<ConsumeService> restarted = env_.NewService();
  ASSERT_TRUE(restarted->Recover().ok());
  v1::Frame got = env_.Call(&ConsumeService::GetGroupConfig, get, restarted.get());
  EXPECT_EQ(got.get_group_config_response().config().retry_policy().max_attempts(), 3u);
  EXPECT_EQ(got.get_group_config_response().config().retry_policy().fixed().delays_ms_size(), 1);
  v1::QueueLag lag = Lag("g", restarted.get());
  EXPECT_EQ(lag.inflight(), 1u);
  EXPECT_EQ(lag.delivered_offset(), 1u);
}

TEST_F(ConsumeServiceTest, ParkedReceiveIsAnsweredByAnAppend) {
  uint64_t id = env_.StartReceive("g", "orders", 1, 1000, /*wait_ms=*/20000);
  ASSERT_TRUE(halfmq::testing::Eventually(
      [&] { return env_.log.metrics.long_polls_waiting.load() == 1; }));
  env_.Publish("orders", {"late"});
  v1::Frame f = env_.conn->Await(id);
  ASSERT_EQ(f.receive_response().messages_size(), 1);
  EXPECT_EQ(f.receive_response().messages(0).message().body(), "late");
}

TEST_F(ConsumeServiceTest, OpenDeliveriesShowsADeliveryUntilItsAck) {
  auto sent = env_.Publish("orders", {"a"});
  TopicId topic = env_.log.topics->Find("orders")->id();
  EXPECT_TRUE(env_.service->OpenDeliveries(topic, QueueId(0), Offset(0)).empty());
  auto got = env_.Receive("g", "orders", 1);
  ASSERT_EQ(got.messages_size(), 1);
  auto open = env_.service->OpenDeliveries(topic, QueueId(0), Offset(0));
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].kind(), v1::TRACE_DELIVERED);
  EXPECT_EQ(open[0].group(), "g");
  EXPECT_EQ(open[0].client(), "test-client");
  EXPECT_EQ(open[0].attempt(), 1u);
  Ack("g", {got.messages(0).receipt_handle()});
  EXPECT_TRUE(env_.service->OpenDeliveries(topic, QueueId(0), Offset(0)).empty());
}

TEST_F(ConsumeServiceTest, FifoGroupReleasesItsNextMessageOnAckAndOnDeadLetter) {
  std::promise<void> created;
  env_.log.topics->Create("fifo", 1, /*fifo=*/true, [&](Result<std::shared_ptr<Topic>> t) {
    EXPECT_TRUE(t.ok()) << t.status();
    created.set_value();
  });
  created.get_future().wait();
  SetPolicy("g", 1);
  env_.Publish("fifo", {"a", "b", "c"}, /*message_group=*/"k");
  auto first = env_.Receive("g", "fifo", 10);
  ASSERT_EQ(first.messages_size(), 1);  // b and c wait behind a
  EXPECT_EQ(first.messages(0).message().body(), "a");
  EXPECT_EQ(env_.Receive("g", "fifo", 10).messages_size(), 0);

  EXPECT_EQ(Ack("g", {first.messages(0).receipt_handle()}).ack_response().results(0).code(),
            v1::Status::OK);
  auto second = env_.Receive("g", "fifo", 10);
  ASSERT_EQ(second.messages_size(), 1);
  EXPECT_EQ(second.messages(0).message().body(), "b");
  EXPECT_EQ(second.messages(0).attempt(), 1u);

  // Dead-lettering the group's current message releases the next one too.
  v1::Frame f = Nack("g", second.messages(0).receipt_handle(), std::nullopt, "no");
  EXPECT_EQ(f.nack_response().results(0).code(), v1::Status::OK);
  auto third = env_.Receive("g", "fifo", 10);
  ASSERT_EQ(third.messages_size(), 1);
  EXPECT_EQ(third.messages(0).message().body(), "c");
}

TEST(RetryPolicyTest, DelaysFollowTheSchedule) {
  v1::RetryPolicy fixed;
  fixed.mutable_fixed()->add_delays_ms(100);
  fixed.mutable_fixed()->add_delays_ms(200);
  EXPECT_EQ(RetryDelayMs(fixed, 1, 0.5), 100);
  EXPECT_EQ(RetryDelayMs(fixed, 2, 0.5), 200);
  EXPECT_EQ(RetryDelayMs(fixed, 7, 0.5), 200);  // the last one repeats

  v1::RetryPolicy exp;
  exp.mutable_exponential()->set_initial_ms(1000);
  exp.mutable_exponential()->set_multiplier(2.0);
  exp.mutable_exponential()->set_max_ms(5000);
  exp.mutable_exponential()->set_no_jitter(true);
  EXPECT_EQ(RetryDelayMs(exp, 1, 0.0), 1000);
  EXPECT_EQ(RetryDelayMs(exp, 2, 0.0), 2000);
  EXPECT_EQ(RetryDelayMs(exp, 3, 0.0), 4000);
  EXPECT_EQ(RetryDelayMs(exp, 4, 0.0), 5000);
  exp.mutable_exponential()->set_no_jitter(false);
  EXPECT_EQ(RetryDelayMs(exp, 1, 0.0), 750);   // 0.75x at the bottom of the jitter
  EXPECT_EQ(RetryDelayMs(exp, 4, 0.99), 5000);  // clamped to max_ms
  EXPECT_EQ(MaxAttempts(v1::RetryPolicy()), 16u);
}

TEST(RetryPolicyTest, ValidationRefusesWhatCannotBeApplied) {
  EXPECT_TRUE(ValidateRetryPolicy(DefaultRetryPolicy()).ok());
  v1::RetryPolicy none;
  EXPECT_EQ(ValidateRetryPolicy(none).code(), StatusCode::kInvalidArgument);
  v1::RetryPolicy too_many = DefaultRetryPolicy();
  too_many.set_max_attempts(1001);
  EXPECT_EQ(ValidateRetryPolicy(too_many).code(), StatusCode::kInvalidArgument);
  v1::RetryPolicy empty_fixed;
  empty_fixed.mutable_fixed();
  EXPECT_EQ(ValidateRetryPolicy(empty_fixed).code(), StatusCode::kInvalidArgument);
  v1::RetryPolicy shrinking = DefaultRetryPolicy();
  shrinking.mutable_exponential()->set_multiplier(0.5);
  EXPECT_EQ(ValidateRetryPolicy(shrinking).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(DeadLetterTopic(ConsumerGroup("billing")), "%DLQ.billing");
}

}  // namespace
}  // namespace halfmq::broker
