// Retry policies, dead letters and redrive against a real broker, at the
// wire level. Times compared are the broker's own (delivery times derive
// from invisible_until_ms), and only as lower bounds: a retry must never
// come early; how late it may come is not asserted.
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "tests/util/eventually.h"
#include "tests/util/raw_broker_test.h"

namespace halfmq::testing {
namespace {

class RetryTest : public RawBrokerTest {
 protected:
  void Start() { StartBroker({"--dead_letter_interval_ms=20"}); }
  void SetUp() override {
    Start();
    v1::Frame f;
    f.mutable_create_topic()->set_name("jobs");
    f.mutable_create_topic()->set_queues(1);
    ASSERT_EQ(Call(f).status().code(), v1::Status::OK);
  }

  void SetPolicy(const std::string& group, std::vector<uint32_t> delays, uint32_t max_attempts) {
    v1::Frame f;
    auto* r = f.mutable_set_group_config();
    r->set_group(group);
    for (uint32_t d : delays) r->mutable_retry_policy()->mutable_fixed()->add_delays_ms(d);
    r->mutable_retry_policy()->set_max_attempts(max_attempts);
    v1::Frame resp = Call(f);
    ASSERT_EQ(resp.status().code(), v1::Status::OK) << resp.status().message();
    EXPECT_EQ(resp.set_group_config_response().config().dead_letter_topic(), "%DLQ." + group);
  }

  std::string Send(const std::string& topic, const std::string& id) {
    v1::Frame f;
    auto* m = f.mutable_send()->add_messages();
    m->set_topic(topic);
    m->set_message_id(id);
    m->set_body("body " + id);
    v1::Frame r = Call(f);
    EXPECT_EQ(r.status().code(), v1::Status::OK) << r.status().message();
    return id;
  }

  std::vector<v1::ReceivedMessage> Receive(const std::string& group, const std::string& topic,
                                           uint32_t invisible_ms, uint32_t wait_ms,
                                           uint32_t max = 10) {
    v1::Frame f;
    auto* r = f.mutable_receive();
    r->set_group(group);
    r->set_topic(topic);
    r->set_max_messages(max);
    r->set_invisible_ms(invisible_ms);
    r->set_wait_ms(wait_ms);
    v1::Frame got = Call(f);
    EXPECT_EQ(got.status().code(), v1::Status::OK) << got.status().message();
    return {got.receive_response().messages().begin(), got.receive_response().messages().end()};
  }

  v1::Status Nack(const std::string& group, const v1::ReceivedMessage& m,
                  const std::string& reason) {
    v1::Frame f;
    f.mutable_nack()->set_group(group);
    f.mutable_nack()->add_receipt_handles(m.receipt_handle());
    f.mutable_nack()->set_reason(reason);  // no delay: the policy decides
    v1::Frame r = Call(f);
    EXPECT_EQ(r.status().code(), v1::Status::OK);
    return r.nack_response().results(0);
  }

  v1::Status Ack(const std::string& group, const v1::ReceivedMessage& m) {
    v1::Frame f;
    f.mutable_ack()->set_group(group);
    f.mutable_ack()->add_receipt_handles(m.receipt_handle());
    return Call(f).ack_response().results(0);
  }

  std::vector<v1::DeadLetter> DeadLetters(const std::string& group, bool all = false) {
    v1::Frame f;
    f.mutable_list_dead_letters()->set_group(group);
    f.mutable_list_dead_letters()->set_include_redriven(all);
    v1::Frame r = Call(f);
    EXPECT_EQ(r.status().code(), v1::Status::OK);
    return {r.list_dead_letters_response().dead_letters().begin(),
            r.list_dead_letters_response().dead_letters().end()};
  }

  v1::RedriveResponse Redrive(const std::string& group, std::vector<std::string> ids,
                              const std::string& to = "") {
    v1::Frame f;
    f.mutable_redrive()->set_group(group);
    for (auto& id : ids) f.mutable_redrive()->add_message_ids(id);
    f.mutable_redrive()->set_to_topic(to);
    v1::Frame r = Call(f);
    EXPECT_EQ(r.status().code(), v1::Status::OK) << r.status().message();
    return r.redrive_response();
  }

};

// Broker time of a delivery.
int64_t DeliveredAt(const v1::ReceivedMessage& m, uint32_t invisible_ms) {
  return m.invisible_until_ms() - invisible_ms;
}

TEST_F(RetryTest, FixedBackoffIsHonouredForExpiryAndNack) {
  SetPolicy("g", {300, 600}, 5);
  Send("jobs", "a");
  // Attempt 1 expires (not acked): attempt 2 comes no earlier than the end
  // of its invisibility plus the first delay.
  auto d1 = Receive("g", "jobs", 100, 0);
  ASSERT_EQ(d1.size(), 1u);
  auto d2 = Receive("g", "jobs", 100, 30000);
  ASSERT_EQ(d2.size(), 1u);
  EXPECT_EQ(d2[0].attempt(), 2u);
  EXPECT_GE(DeliveredAt(d2[0], 100), d1[0].invisible_until_ms() + 300);
  // Attempt 2 is nacked: attempt 3 comes no earlier than the second delay
  // after it.
  EXPECT_EQ(Nack("g", d2[0], "downstream timeout").code(), v1::Status::OK);
  auto d3 = Receive("g", "jobs", 100, 30000);
  ASSERT_EQ(d3.size(), 1u);
  EXPECT_EQ(d3[0].attempt(), 3u);
  EXPECT_GE(DeliveredAt(d3[0], 100), DeliveredAt(d2[0], 100) + 600);
  // Further attempts repeat the last delay.
  EXPECT_EQ(Nack("g", d3[0], "again").code(), v1::Status::OK);
  auto d4 = Receive("g", "jobs", 100, 30000);
  ASSERT_EQ(d4.size(), 1u);
  EXPECT_GE(DeliveredAt(d4[0], 100), DeliveredAt(d3[0], 100) + 600);
  EXPECT_EQ(Ack("g", d4[0]).code(), v1::Status::OK);
}

TEST_F(RetryTest, ExponentialPolicyRoundTripsAndBadPoliciesAreRejected) {
  v1::Frame f;
  auto* r = f.mutable_set_group_config();
  r->set_group("exp");
  auto* e = r->mutable_retry_policy()->mutable_exponential();
  e->set_initial_ms(100);
  e->set_multiplier(3);
  e->set_max_ms(5000);
  ASSERT_EQ(Call(f).status().code(), v1::Status::OK);
  v1::Frame get;
  get.mutable_get_group_config()->set_group("exp");
  v1::Frame got = Call(get);
  EXPECT_EQ(got.get_group_config_response().config().retry_policy().exponential().multiplier(),
            3);
  EXPECT_EQ(got.get_group_config_response().config().retry_policy().max_attempts(), 16u);
  e->set_multiplier(0.5);
  EXPECT_EQ(Call(f).status().code(), v1::Status::INVALID_ARGUMENT);
  r->mutable_retry_policy()->clear_exponential();
  EXPECT_EQ(Call(f).status().code(), v1::Status::INVALID_ARGUMENT);
  r->mutable_retry_policy()->mutable_fixed();  // no delays
  EXPECT_EQ(Call(f).status().code(), v1::Status::INVALID_ARGUMENT);
}

TEST_F(RetryTest, LastFailedAttemptIsDeadLetteredOnceWithItsMetadata) {
  SetPolicy("g", {10}, 2);
  Send("jobs", "poison");
  auto d1 = Receive("g", "jobs", 60000, 0);
  ASSERT_EQ(d1.size(), 1u);
  EXPECT_EQ(Nack("g", d1[0], "bad payload #1").code(), v1::Status::OK);
  auto d2 = Receive("g", "jobs", 60000, 30000);
  ASSERT_EQ(d2.size(), 1u);
  EXPECT_EQ(d2[0].attempt(), 2u);
  // The last allowed attempt fails: dead-lettered at once, as the nack is
  // answered.
  EXPECT_EQ(Nack("g", d2[0], "bad payload #2").code(), v1::Status::OK);
  auto dead = DeadLetters("g");
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].message_id(), "poison");
  EXPECT_EQ(dead[0].info().original_topic(), "jobs");
  EXPECT_EQ(dead[0].info().original_offset(), d1[0].offset());
  EXPECT_EQ(dead[0].info().attempts(), 2u);
  EXPECT_EQ(dead[0].info().reason(), "bad payload #2");
  EXPECT_EQ(dead[0].dead_letter_topic(), "%DLQ.g");
  EXPECT_TRUE(Receive("g", "jobs", 60000, 0).empty()) << "dead letter delivered again";
  EXPECT_EQ(Ack("g", d2[0]).code(), v1::Status::OK) << "it is no longer in flight: acked";

  // The dead-letter topic is a normal topic: consumable, with lag.
  auto from_dlq = Receive("ops", "%DLQ.g", 60000, 0);
  ASSERT_EQ(from_dlq.size(), 1u);
  EXPECT_EQ(from_dlq[0].message().message_id(), "poison");
  EXPECT_EQ(from_dlq[0].message().body(), "body poison");
  EXPECT_EQ(from_dlq[0].dead_letter().reason(), "bad payload #2");
  EXPECT_EQ(from_dlq[0].dead_letter().attempts(), 2u);
  v1::Frame lag;
  lag.mutable_get_lag()->set_group("ops");
  lag.mutable_get_lag()->set_topic("%DLQ.g");
  v1::Frame lr = Call(lag);
  ASSERT_EQ(lr.status().code(), v1::Status::OK);
  EXPECT_EQ(lr.get_lag_response().queues(0).inflight(), 1u);
  // Producers cannot write to it.
  v1::Frame bad;
  auto* m = bad.mutable_send()->add_messages();
  m->set_topic("%DLQ.g");
  m->set_message_id("x");
  EXPECT_EQ(Call(bad).status().code(), v1::Status::INVALID_ARGUMENT);
}

TEST_F(RetryTest, FinalAttemptNotAckedIsDeadLetteredWhenItsInvisibilityEnds) {
  SetPolicy("g", {10}, 1);
  Send("jobs", "slow");
  auto d1 = Receive("g", "jobs", 100, 0);
  ASSERT_EQ(d1.size(), 1u);
  std::vector<v1::DeadLetter> dead;
  ASSERT_TRUE(Eventually([&] {
    dead = DeadLetters("g");
    return !dead.empty();
  }));
  EXPECT_EQ(dead[0].info().attempts(), 1u);
  EXPECT_NE(dead[0].info().reason().find("not acked"), std::string::npos);
  EXPECT_GE(dead[0].info().dead_lettered_ms(), d1[0].invisible_until_ms());
  EXPECT_EQ(Ack("g", d1[0]).code(), v1::Status::OK);
}

TEST_F(RetryTest, RedriveDeliversAgainExactlyOnceWithAttemptsReset) {
  SetPolicy("g", {10}, 1);
  Send("jobs", "r1");
  Send("jobs", "r2");
  // A group that must not see redriven messages.
  ASSERT_EQ(Receive("other", "jobs", 60000, 0).size(), 2u);
  auto got = Receive("g", "jobs", 60000, 0);
  ASSERT_EQ(got.size(), 2u);
  for (const auto& m : got) EXPECT_EQ(Nack("g", m, "fail").code(), v1::Status::OK);
  ASSERT_EQ(DeadLetters("g").size(), 2u);

  auto redriven = Redrive("g", {"r1", "missing"});
  ASSERT_EQ(redriven.results_size(), 2);
  EXPECT_EQ(redriven.results(0).status().code(), v1::Status::OK);
  EXPECT_EQ(redriven.results(0).topic(), "jobs");
  EXPECT_EQ(redriven.results(1).status().code(), v1::Status::NOT_FOUND);
  auto again = Receive("g", "jobs", 60000, 10000);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].message().message_id(), "r1");
  EXPECT_EQ(again[0].attempt(), 1u);
  EXPECT_EQ(Ack("g", again[0]).code(), v1::Status::OK);
  EXPECT_TRUE(Receive("other", "jobs", 60000, 0).empty()) << "redrive reached another group";
  // Exactly once: a second redrive of it is refused.
  auto twice = Redrive("g", {"r1"});
  EXPECT_EQ(twice.results(0).status().code(), v1::Status::FAILED_PRECONDITION);
  EXPECT_EQ(DeadLetters("g").size(), 1u);
  EXPECT_EQ(DeadLetters("g", /*all=*/true).size(), 2u);

  // To another topic: a copy there, for its readers.
  v1::Frame create;
  create.mutable_create_topic()->set_name("jobs-replay");
  create.mutable_create_topic()->set_queues(1);
  ASSERT_EQ(Call(create).status().code(), v1::Status::OK);
  EXPECT_TRUE(Receive("replayer", "jobs-replay", 60000, 0).empty());
  auto copied = Redrive("g", {}, "jobs-replay");  // all not yet redriven
  ASSERT_EQ(copied.results_size(), 1);
  EXPECT_EQ(copied.results(0).message_id(), "r2");
  EXPECT_EQ(copied.results(0).topic(), "jobs-replay");
  auto replay = Receive("replayer", "jobs-replay", 60000, 10000);
  ASSERT_EQ(replay.size(), 1u);
  EXPECT_EQ(replay[0].message().message_id(), "r2");
  EXPECT_FALSE(replay[0].has_dead_letter());
  EXPECT_TRUE(DeadLetters("g").empty());
  EXPECT_EQ(Redrive("g", {}, "jobs-replay").results_size(), 0);
}

TEST_F(RetryTest, DeadLettersAndPoliciesSurviveKill9) {
  SetPolicy("g", {10}, 1);
  Send("jobs", "k");
  auto got = Receive("g", "jobs", 60000, 0);
  ASSERT_EQ(got.size(), 1u);
  ASSERT_EQ(Nack("g", got[0], "crash test").code(), v1::Status::OK);
  broker_->Kill9();
  Start();
  auto dead = DeadLetters("g");
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].info().reason(), "crash test");
  v1::Frame get;
  get.mutable_get_group_config()->set_group("g");
  EXPECT_EQ(Call(get).get_group_config_response().config().retry_policy().max_attempts(), 1u);
  EXPECT_TRUE(Receive("g", "jobs", 60000, 0).empty());
  EXPECT_EQ(Receive("ops", "%DLQ.g", 60000, 0).size(), 1u);
}

}  // namespace
}  // namespace halfmq::testing
