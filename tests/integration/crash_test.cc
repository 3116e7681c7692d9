// Crash safety: kill -9 the broker and restart it on the same data.
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "halfmq/halfmq.h"
#include "tests/util/broker_process.h"
#include "tests/util/temp_dir.h"

namespace halfmq::testing {
namespace {

using std::chrono::milliseconds;

class CrashTest : public ::testing::TestWithParam<std::string> {
 protected:
  void Start() {
    broker_ = BrokerProcess::Start(dir_.Sub("data"), {"--flush=" + GetParam()});
    ASSERT_NE(broker_, nullptr);
    options_.broker = broker_->address();
  }
  ReceiveOptions Opts(uint32_t max, milliseconds invisible, milliseconds wait) {
    ReceiveOptions o;
    o.max_messages = max;
    o.invisible_for = invisible;
    o.wait = wait;
    return o;
  }

  TempDir dir_;
  std::unique_ptr<BrokerProcess> broker_;
  ClientOptions options_;
};

// Every acknowledged send survives kill -9; nothing acked is delivered
// again; unacked deliveries come back with their attempt counted.
TEST_P(CrashTest, AcknowledgedStateSurvivesKill9) {
  Start();
  std::set<std::string> sent;
  {
    auto admin = Admin::Connect(options_);
    ASSERT_TRUE(admin.ok());
    ASSERT_TRUE((*admin)->CreateTopic("orders", 4).ok());
    auto producer = Producer::Connect(options_);
    ASSERT_TRUE(producer.ok());
    std::vector<Message> batch;
    for (int i = 0; i < 300; ++i) {
      batch.push_back(Message("orders").Key("order-" + std::to_string(i)).Body("x"));
      if (batch.size() == 50) {
        auto r = (*producer)->SendBatch(batch);
        ASSERT_TRUE(r.ok()) << r.status();
        for (const auto& receipt : *r) sent.insert(receipt.message_id);
        batch.clear();
      }
    }
    for (int i = 0; i < 100; ++i) {
      auto r = (*producer)->Send(Message("orders").Body("single"));
      ASSERT_TRUE(r.ok());
      sent.insert(r->message_id);
    }
  }
  ASSERT_EQ(sent.size(), 400u);

  std::set<std::string> acked;
  std::map<std::string, uint32_t> unacked;  // id -> attempt
  {
    auto consumer = Consumer::Connect(options_, "g");
    ASSERT_TRUE(consumer.ok());
    while (acked.size() < 150) {
      auto got = (*consumer)->Receive("orders", Opts(50, milliseconds(300), milliseconds(0)));
      ASSERT_TRUE(got.ok());
      ASSERT_FALSE(got->empty());
      for (const auto& m : *got) {
        if (acked.size() < 150) {
          ASSERT_TRUE((*consumer)->Ack(m).ok());
          acked.insert(m.message_id);
        } else {
          unacked[m.message_id] = m.attempt;
        }
      }
    }
  }
  broker_->Kill9();
  Start();

  auto consumer = Consumer::Connect(options_, "g");
  ASSERT_TRUE(consumer.ok());
  std::set<std::string> after;
  for (;;) {
    // Long-polls through the in-flight entries' invisibility (300 ms).
    auto got = (*consumer)->Receive("orders", Opts(100, milliseconds(60000), milliseconds(3000)));
    ASSERT_TRUE(got.ok()) << got.status();
    if (got->empty()) break;
    for (const auto& m : *got) {
      EXPECT_FALSE(acked.count(m.message_id)) << "acked message delivered again";
      EXPECT_TRUE(after.insert(m.message_id).second) << "delivered twice after restart";
      auto it = unacked.find(m.message_id);
      if (it != unacked.end()) {
        EXPECT_EQ(m.attempt, it->second + 1);
      }
      ASSERT_TRUE((*consumer)->Ack(m).ok());
    }
  }
  std::set<std::string> expected;
  for (const auto& id : sent) {
    if (!acked.count(id)) expected.insert(id);
  }
  EXPECT_EQ(after, expected);
  auto admin = Admin::Connect(options_);
  ASSERT_TRUE(admin.ok());
  auto lag = (*admin)->GetLag("g", "orders");
  ASSERT_TRUE(lag.ok());
  uint64_t end = 0;
  for (const auto& q : *lag) {
    end += q.end_offset;
    EXPECT_EQ(q.lag, 0u);
  }
  EXPECT_EQ(end, 400u) << "every acknowledged send is stored exactly once";
}

INSTANTIATE_TEST_SUITE_P(FlushModes, CrashTest, ::testing::Values("sync", "async"));

}  // namespace
}  // namespace halfmq::testing
