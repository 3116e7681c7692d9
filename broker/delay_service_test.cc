#include "broker/delay_service.h"

#include <future>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "broker/test_util.h"

namespace halfmq::broker {
namespace {

class DelayServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_.Open();
    env_.log.CreateTopic("orders", 2);
  }

  static v1::Message Delayed(const std::string& id, int64_t deliver_at_ms) {
    v1::Message m;
    m.set_topic("orders");
    m.set_message_id(id);
    m.set_queue_id(1);
    m.set_body("body of " + id);
    m.set_deliver_at_ms(deliver_at_ms);
    return m;
  }
  std::shared_ptr<Topic> Orders() { return env_.log.topics->Find("orders"); }
  uint64_t QueueEnd() { return Orders()->queue(QueueId(1)).durable_end.load(); }
  // Ids of the messages stored in queue 1, in offset order.
  std::vector<std::string> StoredIds() {
    std::vector<storage::LoggedMessage> out;
    Status s = env_.log.store->ReadMessages(Orders()->id(), QueueId(1), Offset(0), Offset(100), 100,
                                            1 << 20, &out);
    EXPECT_TRUE(s.ok()) << s;
    std::vector<std::string> ids;
    for (const auto& m : out) ids.push_back(m.message.message_id());
    return ids;
  }

  test_util::SendQueryEnv env_;
};

TEST_F(DelayServiceTest, ADelayedMessageIsAppendedOnlyOnceDue) {
  v1::SendResult sent = env_.SendOne(Delayed("d1", 5000));
  EXPECT_EQ(sent.deliver_at_ms(), 5000);
  EXPECT_EQ(env_.log.metrics.delayed_pending.load(), 1);

  EXPECT_EQ(env_.delays->RunOnce(), 0u);
  env_.log.clock.Set(4999);
  EXPECT_EQ(env_.delays->RunOnce(), 0u);
  EXPECT_EQ(QueueEnd(), 0u);
  EXPECT_TRUE(StoredIds().empty());

  env_.log.clock.Set(5000);
  EXPECT_EQ(env_.delays->RunOnce(), 1u);
  EXPECT_EQ(QueueEnd(), 1u);
  EXPECT_EQ(StoredIds(), (std::vector<std::string>{"d1"}));
  EXPECT_EQ(env_.log.metrics.delayed_pending.load(), 0);
  EXPECT_EQ(env_.log.metrics.delayed_delivered.load(), 1);
  // Delivered once: the delayed entry went in the same batch.
  EXPECT_EQ(env_.delays->RunOnce(), 0u);
  EXPECT_EQ(QueueEnd(), 1u);
}

TEST_F(DelayServiceTest, MessagesDueTogetherKeepTheirSendOrderAndLaterOnesWait) {
  env_.SendOne(Delayed("late", 9000));
  env_.SendOne(Delayed("a", 3000));
  env_.SendOne(Delayed("b", 3000));
  env_.SendOne(Delayed("c", 2000));
  env_.log.clock.Set(3000);
  EXPECT_EQ(env_.delays->RunOnce(), 3u);
  EXPECT_EQ(StoredIds(), (std::vector<std::string>{"c", "a", "b"}));
  EXPECT_EQ(env_.log.metrics.delayed_pending.load(), 1);
}

TEST_F(DelayServiceTest, AMessageOfAMissingTopicIsDroppedNotRetried) {
  // Stored as a transaction's commit would: the topic is only checked when
  // the message is due.
  v1::Message gone = Delayed("g", 2000);
  gone.set_topic("gone");
  storage::Batch batch = env_.log.store->NewBatch();
  env_.delays->Store(gone, 2000, &batch);
  ASSERT_TRUE(env_.log.store->CommitAndWait(std::move(batch)).ok());
  env_.delays->Scheduled(2000, 1);
  env_.log.clock.Set(2000);
  EXPECT_EQ(env_.delays->RunOnce(), 1u);  // removed
  EXPECT_EQ(env_.delays->RunOnce(), 0u);  // and not seen again
  EXPECT_EQ(env_.log.metrics.delayed_delivered.load(), 0);
  EXPECT_EQ(env_.log.metrics.delayed_pending.load(), 0);
}

TEST_F(DelayServiceTest, PendingMessagesSurviveARestartAndAreCounted) {
  env_.SendOne(Delayed("x", 4000));
  env_.SendOne(Delayed("y", 6000));
  env_.Reopen();
  env_.log.metrics.delayed_pending.store(0);
  ASSERT_TRUE(env_.delays->Recover().ok());
  EXPECT_EQ(env_.log.metrics.delayed_pending.load(), 2);
  env_.log.clock.Set(6000);
  EXPECT_EQ(env_.delays->RunOnce(), 2u);
  EXPECT_EQ(StoredIds(), (std::vector<std::string>{"x", "y"}));
}

// Tells when messages of a topic become durable.
class AppendSignal : public AppendListener {
 public:
  void OnAppend() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!fired_) {
      fired_ = true;
      appended_.set_value();
    }
  }
  std::future<void> appended() { return appended_.get_future(); }

 private:
  std::mutex mu_;
  bool fired_ = false;
  std::promise<void> appended_;
};

TEST_F(DelayServiceTest, TheRunningSchedulerAppendsOnceTheClockReachesTheDueTime) {
  auto signal = std::make_shared<AppendSignal>();
  Orders()->AddListener(signal);
  std::future<void> appended = signal->appended();
  env_.delays->Start();
  env_.SendOne(Delayed("s", 3000));
  // Not due on the manual clock: the scheduler only sleeps (for at most
  // max_sleep of real time per round).
  EXPECT_EQ(QueueEnd(), 0u);
  env_.log.clock.Set(3000);
  ASSERT_EQ(appended.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  EXPECT_EQ(StoredIds(), (std::vector<std::string>{"s"}));
}

}  // namespace
}  // namespace halfmq::broker
