#include <algorithm>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "halfmq/message.h"

namespace halfmq {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TEST(GenerateMessageIdTest, Is32LowercaseHexWithTimestampPrefix) {
  int64_t before = NowMs();
  std::string id = GenerateMessageId();
  int64_t after = NowMs();
  ASSERT_EQ(id.size(), 32u);
  for (char c : id) {
    EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << id;
  }
  int64_t ms = std::stoll(id.substr(0, 12), nullptr, 16);
  EXPECT_GE(ms, before);
  EXPECT_LE(ms, after);
}

TEST(GenerateMessageIdTest, SharesTheProcessPartAndCountsUp) {
  std::string a = GenerateMessageId();
  std::string b = GenerateMessageId();
  EXPECT_EQ(a.substr(12, 10), b.substr(12, 10));  // process-random part
  EXPECT_LT(a, b);
}

TEST(GenerateMessageIdTest, UniqueAndOrderedAcrossThreads) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 20000;
  std::vector<std::vector<std::string>> ids(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&ids, t] {
      ids[t].reserve(kPerThread);
      for (int i = 0; i < kPerThread; ++i) ids[t].push_back(GenerateMessageId());
    });
  }
  for (auto& thread : threads) thread.join();
  std::set<std::string> all;
  for (const auto& per_thread : ids) {
    // Each thread sees its ids strictly increasing: generation order is id
    // order within a process.
    EXPECT_TRUE(std::is_sorted(per_thread.begin(), per_thread.end()));
    EXPECT_EQ(std::adjacent_find(per_thread.begin(), per_thread.end()), per_thread.end());
    all.insert(per_thread.begin(), per_thread.end());
  }
  EXPECT_EQ(all.size(), static_cast<size_t>(kThreads * kPerThread));
}

TEST(GenerateMessageIdTest, LaterIdsSortAfterEarlierOnesAcrossThreads) {
  std::string first = GenerateMessageId();
  std::string from_thread;
  std::thread([&] { from_thread = GenerateMessageId(); }).join();
  std::string last = GenerateMessageId();
  EXPECT_LT(first, from_thread);
  EXPECT_LT(from_thread, last);
}

TEST(MessageTest, BuilderSetsFieldsAndQueueSelectorsExcludeEachOther) {
  Message m = Message("orders").Key("k1").Key("k2").Tag("paid").Property("a", "1").Body("x");
  EXPECT_EQ(m.topic(), "orders");
  EXPECT_EQ(m.keys(), (std::vector<std::string>{"k1", "k2"}));
  EXPECT_EQ(m.tag(), "paid");
  EXPECT_EQ(m.properties().at("a"), "1");
  EXPECT_EQ(m.body(), "x");
  m.Queue(3);
  EXPECT_EQ(m.queue_id(), 3u);
  m.ShardingKey("user-1");
  EXPECT_FALSE(m.queue_id().has_value());
  EXPECT_EQ(m.sharding_key(), "user-1");
  m.Queue(1);
  EXPECT_TRUE(m.sharding_key().empty());
  m.MessageGroup("g");
  EXPECT_EQ(m.message_group(), "g");
  EXPECT_FALSE(m.queue_id().has_value());
  m.ShardingKey("s");
  EXPECT_TRUE(m.message_group().empty());
  m.MessageGroup("g2");
  EXPECT_TRUE(m.sharding_key().empty());
  m.Queue(2);
  EXPECT_TRUE(m.message_group().empty());
}

TEST(MessageTest, DeliverAtAndDelayExcludeEachOther) {
  Message m("orders");
  EXPECT_FALSE(m.deliver_at_ms().has_value());
  EXPECT_FALSE(m.delay().has_value());
  m.Delay(std::chrono::milliseconds(1500));
  EXPECT_EQ(m.delay(), std::chrono::milliseconds(1500));
  m.DeliverAt(1795773600000);
  EXPECT_EQ(m.deliver_at_ms(), 1795773600000);
  EXPECT_FALSE(m.delay().has_value());
  m.Delay(std::chrono::milliseconds(0));
  EXPECT_FALSE(m.deliver_at_ms().has_value());
  EXPECT_EQ(m.delay(), std::chrono::milliseconds(0));
}

}  // namespace
}  // namespace halfmq
