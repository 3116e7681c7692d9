// Retention with a manual clock: an in-process broker (real storage, real
// network server on loopback) whose clock the test moves, so expiry is
// exercised without waiting.
#include <gtest/gtest.h>

#include "broker/broker.h"
#include "tests/util/raw_client.h"
#include "tests/util/temp_dir.h"

namespace halfmq::testing {
namespace {

constexpr int64_t kHour = 3600 * 1000;

class RetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker::BrokerOptions options;
    options.listen = "127.0.0.1:0";
    options.store.path = dir_.Sub("data");
    options.retention_ms = 2 * kHour;
    options.retention_interval = std::chrono::hours(24);  // the test runs passes itself
    options.clock = &clock_;
    options.io_threads = 1;
    options.read_threads = 1;
    auto b = broker::Broker::Open(options);
    ASSERT_TRUE(b.ok()) << b.status();
    broker_ = std::move(b).value();
    auto endpoint = broker_->Start();
    ASSERT_TRUE(endpoint.ok());
    client_ = std::make_unique<RawClient>("127.0.0.1:" + std::to_string(endpoint->port()));
    ASSERT_TRUE(client_->connected());
  }
  void TearDown() override {
    client_.reset();
    if (broker_) broker_->Shutdown();
  }

  v1::Frame Call(v1::Frame f) {
    auto r = client_->Call(std::move(f));
    EXPECT_TRUE(r.has_value());
    return r.value_or(v1::Frame());
  }
  void Send(int n, const std::string& prefix) {
    v1::Frame f;
    for (int i = 0; i < n; ++i) {
      auto* m = f.mutable_send()->add_messages();
      m->set_topic("t");
      m->set_message_id(prefix + std::to_string(i));
      m->set_queue_id(0);
      m->set_body(std::string(100, 'x'));
    }
    ASSERT_EQ(Call(f).status().code(), v1::Status::OK);
  }
  v1::QueueLag Lag() {
    v1::Frame f;
    f.mutable_get_lag()->set_group("g");
    v1::Frame r = Call(f);
    EXPECT_EQ(r.status().code(), v1::Status::OK);
    return r.get_lag_response().queues(0);
  }

  TempDir dir_;
  ManualClock clock_{1'700'000'000'000};
  std::unique_ptr<broker::Broker> broker_;
  std::unique_ptr<RawClient> client_;
};

TEST_F(RetentionTest, ExpiredMessagesAreRemovedAndCountedAsSkipped) {
  v1::Frame create;
  create.mutable_create_topic()->set_name("t");
  create.mutable_create_topic()->set_queues(1);
  ASSERT_EQ(Call(create).status().code(), v1::Status::OK);
  v1::Frame sub;
  sub.mutable_create_subscription()->set_group("g");
  sub.mutable_create_subscription()->set_topic("t");
  ASSERT_EQ(Call(sub).status().code(), v1::Status::OK);

  Send(10, "old-");
  clock_.Advance(kHour);
  Send(5, "mid-");
  clock_.Advance(kHour + 1);  // "old" are now 2h+1ms old, "mid" 1h+1ms
  Send(3, "new-");

  auto removed = broker_->retention().RunOnce();
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(*removed, 10u);
  v1::QueueLag lag = Lag();
  EXPECT_EQ(lag.min_offset(), 10u);
  EXPECT_EQ(lag.end_offset(), 18u);
  EXPECT_EQ(lag.skipped(), 10u);
  EXPECT_EQ(lag.lag(), 8u);

  // A second pass with nothing newly expired removes nothing.
  EXPECT_EQ(*broker_->retention().RunOnce(), 0u);

  v1::Frame recv;
  recv.mutable_receive()->set_group("g");
  recv.mutable_receive()->set_topic("t");
  recv.mutable_receive()->set_max_messages(100);
  v1::Frame got = Call(recv);
  ASSERT_EQ(got.status().code(), v1::Status::OK);
  ASSERT_EQ(got.receive_response().messages_size(), 8);
  EXPECT_EQ(got.receive_response().messages(0).message().message_id(), "mid-0");
  EXPECT_EQ(got.receive_response().messages(0).offset(), 10u);
  lag = Lag();
  EXPECT_EQ(lag.skipped(), 10u);
  EXPECT_EQ(lag.inflight(), 8u);

  // Everything expires: the queue empties, offsets keep counting.
  clock_.Advance(3 * kHour);
  EXPECT_EQ(*broker_->retention().RunOnce(), 8u);
  Send(1, "after-");
  lag = Lag();
  EXPECT_EQ(lag.min_offset(), 18u);
  EXPECT_EQ(lag.end_offset(), 19u);
}

TEST_F(RetentionTest, LowWatermarkSurvivesRestart) {
  v1::Frame create;
  create.mutable_create_topic()->set_name("t");
  create.mutable_create_topic()->set_queues(1);
  ASSERT_EQ(Call(create).status().code(), v1::Status::OK);
  Send(4, "a");
  clock_.Advance(3 * kHour);
  ASSERT_EQ(*broker_->retention().RunOnce(), 4u);
  client_.reset();
  broker_->Shutdown();
  broker_.reset();
  SetUp();  // reopen the same data dir
  Send(1, "b");
  v1::Frame recv;
  recv.mutable_receive()->set_group("g");
  recv.mutable_receive()->set_topic("t");
  recv.mutable_receive()->set_max_messages(10);
  v1::Frame got = Call(recv);
  ASSERT_EQ(got.receive_response().messages_size(), 1);
  EXPECT_EQ(got.receive_response().messages(0).offset(), 4u);
}

}  // namespace
}  // namespace halfmq::testing
