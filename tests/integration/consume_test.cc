// Consumption through the client library against a real broker process:
// acknowledgement, redelivery, nack, disjoint consumers, push consumer, lag.
#include <algorithm>
#include <atomic>
#include <future>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

#include "halfmq/halfmq.h"
#include "tests/util/broker_process.h"
#include "tests/util/temp_dir.h"

namespace halfmq::testing {
namespace {

using std::chrono::milliseconds;

class ConsumeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = BrokerProcess::Start(dir_.Sub("data"));
    ASSERT_NE(broker_, nullptr);
    options_.broker = broker_->address();
    auto admin = Admin::Connect(options_);
    ASSERT_TRUE(admin.ok()) << admin.status();
    admin_ = std::move(admin).value();
    auto producer = Producer::Connect(options_);
    ASSERT_TRUE(producer.ok()) << producer.status();
    producer_ = std::move(producer).value();
  }

  std::unique_ptr<Consumer> NewConsumer(const std::string& group) {
    auto c = Consumer::Connect(options_, group);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? std::move(c).value() : nullptr;
  }

  std::vector<std::string> SendN(const std::string& topic, int n) {
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) {
      auto r = producer_->Send(Message(topic).Key("k" + std::to_string(i)).Body("m" +
                                                                              std::to_string(i)));
      EXPECT_TRUE(r.ok()) << r.status();
      if (r.ok()) ids.push_back(r->message_id);
    }
    return ids;
  }

  static ReceiveOptions Opts(uint32_t max, milliseconds invisible, milliseconds wait) {
    ReceiveOptions o;
    o.max_messages = max;
    o.invisible_for = invisible;
    o.wait = wait;
    return o;
  }

  TempDir dir_;
  std::unique_ptr<BrokerProcess> broker_;
  ClientOptions options_;
  std::unique_ptr<Admin> admin_;
  std::unique_ptr<Producer> producer_;
};

TEST_F(ConsumeTest, SendThenConsumeThenAck) {
  ASSERT_TRUE(admin_->CreateTopic("orders", 2).ok());
  auto ids = SendN("orders", 10);
  auto consumer = NewConsumer("billing");
  auto got = consumer->Receive("orders", Opts(100, milliseconds(60000), milliseconds(0)));
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 10u);
  std::set<std::string> received;
  for (const auto& m : *got) {
    EXPECT_EQ(m.attempt, 1u);
    EXPECT_EQ(m.topic, "orders");
    EXPECT_EQ(m.body, "m" + m.keys.at(0).substr(1));
    received.insert(m.message_id);
    EXPECT_TRUE(consumer->Ack(m).ok());
  }
  EXPECT_EQ(received, std::set<std::string>(ids.begin(), ids.end()));
  auto again = consumer->Receive("orders", Opts(100, milliseconds(60000), milliseconds(0)));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->empty());
  auto lag = admin_->GetLag("billing", "orders");
  ASSERT_TRUE(lag.ok()) << lag.status();
  ASSERT_EQ(lag->size(), 2u);
  uint64_t end = 0;
  for (const auto& q : *lag) {
    EXPECT_EQ(q.lag, 0u);
    EXPECT_EQ(q.inflight, 0u);
    end += q.end_offset;
  }
  EXPECT_EQ(end, 10u);
}

TEST_F(ConsumeTest, UnackedMessageIsRedeliveredWithAttemptTwo) {
  ASSERT_TRUE(admin_->CreateTopic("t", 1).ok());
  SendN("t", 1);
  auto consumer = NewConsumer("g");
  auto first = consumer->Receive("t", Opts(1, milliseconds(200), milliseconds(0)));
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 1u);
  EXPECT_EQ((*first)[0].attempt, 1u);
  // Not acked: the long poll below is woken when the invisibility ends.
  auto second = consumer->Receive("t", Opts(1, milliseconds(60000), milliseconds(30000)));
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(second->size(), 1u);
  EXPECT_EQ((*second)[0].message_id, (*first)[0].message_id);
  EXPECT_EQ((*second)[0].attempt, 2u);
  // The first delivery's handle has expired; the second one acks.
  Status stale = consumer->Ack((*first)[0]);
  EXPECT_EQ(stale.code(), StatusCode::kFailedPrecondition) << stale;
  EXPECT_TRUE(consumer->Ack((*second)[0]).ok());
  EXPECT_TRUE(consumer->Ack((*second)[0]).ok()) << "a repeated ack is OK";
  auto none = consumer->Receive("t", Opts(1, milliseconds(60000), milliseconds(0)));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

// Acks of a run of offsets delete their in-flight entries with one range
// delete; a run with an unacked message inside must not take it along. After
// kill -9 exactly the unacked messages come back.
TEST_F(ConsumeTest, BatchAcksAroundUnackedMessagesSurviveKill9) {
  ASSERT_TRUE(admin_->CreateTopic("runs", 1).ok());
  auto ids = SendN("runs", 20);
  ASSERT_EQ(ids.size(), 20u);
  auto consumer = NewConsumer("g");
  std::vector<ReceivedMessage> got;
  while (got.size() < 20) {
    auto r = consumer->Receive("runs", Opts(20, milliseconds(3000), milliseconds(5000)));
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_FALSE(r->empty());
    got.insert(got.end(), r->begin(), r->end());
  }
  std::sort(got.begin(), got.end(),
            [](const ReceivedMessage& a, const ReceivedMessage& b) { return a.offset < b.offset; });
  auto handles = [&](std::vector<int> which) {
    std::vector<std::string> out;
    for (int i : which) out.push_back(got[i].receipt_handle);
    return out;
  };
  // Offsets 0..7: a run with nothing else in flight inside.
  auto first = consumer->AckBatch(handles({0, 1, 2, 3, 4, 5, 6, 7}));
  ASSERT_TRUE(first.ok()) << first.status();
  // 9..19 without 14: 8 (below) and 14 (inside) stay in flight.
  auto second = consumer->AckBatch(handles({9, 10, 11, 12, 13, 15, 16, 17, 18, 19}));
  ASSERT_TRUE(second.ok()) << second.status();
  for (const auto& st : *first) EXPECT_TRUE(st.ok()) << st;
  for (const auto& st : *second) EXPECT_TRUE(st.ok()) << st;

  broker_->Kill9();
  broker_ = BrokerProcess::Start(dir_.Sub("data"));
  ASSERT_NE(broker_, nullptr);
  options_.broker = broker_->address();
  consumer = NewConsumer("g");
  std::set<std::string> again;
  while (again.size() < 2) {
    // Woken when the 3 s invisibility of the unacked two ends.
    auto r = consumer->Receive("runs", Opts(20, milliseconds(60000), milliseconds(30000)));
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_FALSE(r->empty()) << "unacked messages not redelivered";
    for (const auto& m : *r) {
      EXPECT_EQ(m.attempt, 2u);
      again.insert(m.message_id);
      EXPECT_TRUE(consumer->Ack(m).ok());
    }
  }
  EXPECT_EQ(again, (std::set<std::string>{got[8].message_id, got[14].message_id}));
  auto none = consumer->Receive("runs", Opts(20, milliseconds(60000), milliseconds(0)));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

// AckBatchAsync: more handles than one request carries are split and joined;
// the callback sees every status in order once all are durable; an empty
// handle fails the whole call through the callback.
TEST_F(ConsumeTest, AckBatchAsyncAcksEverythingDurablyInOneCallback) {
  ASSERT_TRUE(admin_->CreateTopic("async", 1).ok());
  std::vector<Message> batch;
  for (int i = 0; i < 1030; ++i) batch.push_back(Message("async").Body("m" + std::to_string(i)));
  for (size_t at = 0; at < batch.size(); at += 500) {
    std::vector<Message> part(batch.begin() + at,
                              batch.begin() + std::min(batch.size(), at + 500));
    ASSERT_TRUE(producer_->SendBatch(part).ok());
  }
  auto consumer = NewConsumer("g");
  std::vector<std::string> handles;
  while (handles.size() < 1030) {
    auto r = consumer->Receive("async", Opts(1024, milliseconds(60000), milliseconds(5000)));
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_FALSE(r->empty());
    for (const auto& m : *r) handles.push_back(m.receipt_handle);
  }
  std::promise<Result<std::vector<Status>>> acked;
  consumer->AckBatchAsync(handles, [&](Result<std::vector<Status>> r) { acked.set_value(r); });
  auto result = acked.get_future().get();
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->size(), 1030u);
  for (const Status& s : *result) EXPECT_TRUE(s.ok()) << s;
  // Durable: nothing comes back, also not after a restart.
  broker_->Kill9();
  broker_ = BrokerProcess::Start(dir_.Sub("data"));
  ASSERT_NE(broker_, nullptr);
  options_.broker = broker_->address();
  consumer = NewConsumer("g");
  auto none = consumer->Receive("async", Opts(1024, milliseconds(60000), milliseconds(0)));
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->empty());

  std::promise<Result<std::vector<Status>>> bad;
  consumer->AckBatchAsync({""}, [&](Result<std::vector<Status>> r) { bad.set_value(r); });
  EXPECT_EQ(bad.get_future().get().status().code(), StatusCode::kInvalidArgument);
}

TEST_F(ConsumeTest, NackWithDelayHidesUntilDueThenRedelivers) {
  ASSERT_TRUE(admin_->CreateTopic("t", 1).ok());
  SendN("t", 2);
  auto consumer = NewConsumer("g");
  auto got = consumer->Receive("t", Opts(2, milliseconds(60000), milliseconds(0)));
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 2u);
  // One nacked far into the future stays hidden; one nacked with a short
  // delay comes back through the long poll.
  ASSERT_TRUE(consumer->Nack((*got)[0], milliseconds(3600 * 1000), "not yet").ok());
  ASSERT_TRUE(consumer->Nack((*got)[1], milliseconds(200), "retry soon").ok());
  auto back = consumer->Receive("t", Opts(2, milliseconds(60000), milliseconds(30000)));
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->size(), 1u);
  EXPECT_EQ((*back)[0].message_id, (*got)[1].message_id);
  EXPECT_EQ((*back)[0].attempt, 2u);
  EXPECT_TRUE(consumer->Ack((*back)[0]).ok());
  // ChangeInvisibleDuration(0) brings the far-future one back at once.
  auto until = consumer->ChangeInvisibleDuration((*got)[0], milliseconds(0));
  ASSERT_TRUE(until.ok()) << until.status();
  auto now = consumer->Receive("t", Opts(2, milliseconds(60000), milliseconds(30000)));
  ASSERT_TRUE(now.ok());
  ASSERT_EQ(now->size(), 1u);
  EXPECT_EQ((*now)[0].message_id, (*got)[0].message_id);
  EXPECT_EQ((*now)[0].attempt, 2u);
}

TEST_F(ConsumeTest, TwoConsumersOfOneGroupSeeDisjointSetsCoveringAll) {
  ASSERT_TRUE(admin_->CreateTopic("t", 4).ok());
  auto ids = SendN("t", 200);
  std::mutex mu;
  std::vector<std::set<std::string>> seen(2);
  std::atomic<int> total{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < 2; ++c) {
    threads.emplace_back([&, c] {
      auto consumer = NewConsumer("shared");
      while (total.load() < 200) {
        auto got = consumer->Receive("t", Opts(7, milliseconds(60000), milliseconds(500)));
        ASSERT_TRUE(got.ok()) << got.status();
        for (const auto& m : *got) {
          ASSERT_TRUE(consumer->Ack(m).ok());
          std::lock_guard<std::mutex> l(mu);
          EXPECT_TRUE(seen[c].insert(m.message_id).second);
        }
        total.fetch_add(static_cast<int>(got->size()));
        if (got->empty() && total.load() >= 200) break;
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> both;
  std::set_intersection(seen[0].begin(), seen[0].end(), seen[1].begin(), seen[1].end(),
                        std::inserter(both, both.begin()));
  EXPECT_TRUE(both.empty()) << both.size() << " messages went to both consumers";
  std::set<std::string> all = seen[0];
  all.insert(seen[1].begin(), seen[1].end());
  EXPECT_EQ(all, std::set<std::string>(ids.begin(), ids.end()));
  EXPECT_EQ(total.load(), 200);
}

TEST_F(ConsumeTest, SubscriptionAtLatestSkipsEarlierMessages) {
  ASSERT_TRUE(admin_->CreateTopic("t", 1).ok());
  SendN("t", 3);
  ASSERT_TRUE(admin_->CreateSubscription("late", "t", StartPosition::kLatest).ok());
  EXPECT_EQ(admin_->CreateSubscription("late", "t", StartPosition::kLatest).code(),
            StatusCode::kAlreadyExists);
  auto ids = SendN("t", 1);
  auto consumer = NewConsumer("late");
  auto got = consumer->Receive("t", Opts(10, milliseconds(60000), milliseconds(0)));
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].message_id, ids[0]);
  // A group seen for the first time starts at the earliest message.
  auto early = NewConsumer("early");
  auto all = early->Receive("t", Opts(10, milliseconds(60000), milliseconds(0)));
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 4u);
}

TEST_F(ConsumeTest, PushConsumerAcksSuccessAndRetriesFailure) {
  ASSERT_TRUE(admin_->CreateTopic("t", 2).ok());
  auto ids = SendN("t", 20);
  std::mutex mu;
  std::map<std::string, std::vector<uint32_t>> attempts;
  std::promise<void> all_done;
  std::atomic<bool> signalled{false};
  PushConsumerOptions push;
  push.topic = "t";
  push.concurrency = 4;
  push.retry_delay = milliseconds(50);
  push.poll_wait = milliseconds(200);
  auto pc = PushConsumer::Start(options_, "push", push, [&](const ReceivedMessage& m) {
    std::lock_guard<std::mutex> l(mu);
    attempts[m.message_id].push_back(m.attempt);
    // Every message fails on its first attempt.
    bool ok = m.attempt >= 2;
    size_t succeeded = 0;
    for (const auto& [id, a] : attempts) succeeded += a.size() >= 2;
    if (succeeded == 20 && !signalled.exchange(true)) all_done.set_value();
    return ok ? ConsumeResult::kSuccess : ConsumeResult::kRetryLater;
  });
  ASSERT_TRUE(pc.ok()) << pc.status();
  all_done.get_future().wait();
  (*pc)->Stop();
  ASSERT_EQ(attempts.size(), 20u);
  for (const auto& [id, a] : attempts) {
    ASSERT_GE(a.size(), 2u) << id;
    EXPECT_EQ(a[0], 1u);
    EXPECT_EQ(a[1], 2u);
  }
  auto lag = admin_->GetLag("push", "t");
  ASSERT_TRUE(lag.ok());
  for (const auto& q : *lag) EXPECT_EQ(q.lag, 0u);
}

TEST_F(ConsumeTest, LongPollWaitExtendsTheRequestTimeout) {
  ASSERT_TRUE(admin_->CreateTopic("quiet", 1).ok());
  ClientOptions impatient = options_;
  impatient.request_timeout = milliseconds(50);
  impatient.max_retries = 0;
  auto consumer = Consumer::Connect(impatient, "g");
  ASSERT_TRUE(consumer.ok());
  // The broker answers (empty) only after the 1 s wait: the client must allow
  // for the wait on top of its request timeout, not report a timeout.
  auto got = (*consumer)->Receive("quiet", Opts(1, milliseconds(1000), milliseconds(1000)));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(got->empty());
}

TEST_F(ConsumeTest, PushConsumerNacksWhenTheListenerThrows) {
  ASSERT_TRUE(admin_->CreateTopic("t", 1).ok());
  SendN("t", 1);
  std::promise<uint32_t> second_attempt;
  PushConsumerOptions push;
  push.topic = "t";
  push.concurrency = 1;
  push.retry_delay = milliseconds(10);
  push.poll_wait = milliseconds(200);
  auto pc = PushConsumer::Start(options_, "thrower", push, [&](const ReceivedMessage& m) {
    if (m.attempt == 1) throw std::runtime_error("boom");
    second_attempt.set_value(m.attempt);
    return ConsumeResult::kSuccess;
  });
  ASSERT_TRUE(pc.ok()) << pc.status();
  EXPECT_EQ(second_attempt.get_future().get(), 2u);
  (*pc)->Stop();
}

TEST_F(ConsumeTest, ErrorsAreTyped) {
  ASSERT_TRUE(admin_->CreateTopic("t", 1).ok());
  EXPECT_EQ(admin_->CreateTopic("t", 1).status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(admin_->CreateTopic("no spaces", 1).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(producer_->Send(Message("missing").Body("x")).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(producer_->Send(Message("t").Queue(5).Body("x")).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(producer_->Send(Message("t").Body(std::string(5 << 20, 'x'))).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(producer_->Send(Message("t").Key("")).status().code(), StatusCode::kInvalidArgument);
  auto consumer = NewConsumer("g");
  EXPECT_EQ(consumer->Receive("missing", Opts(1, milliseconds(1000), milliseconds(0)))
                .status()
                .code(),
            StatusCode::kNotFound);
  EXPECT_EQ(consumer->Ack(std::string("not a handle")).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(admin_->GetLag("nobody").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace halfmq::testing
