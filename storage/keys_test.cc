#include "storage/keys.h"

#include <gtest/gtest.h>

namespace halfmq::storage::keys {
namespace {

TEST(KeysTest, FixedBigEndianRoundTrip) {
  std::string s;
  PutFixed32BE(&s, 0xdeadbeef);
  PutFixed64BE(&s, 0x0102030405060708ull);
  ASSERT_EQ(s.size(), 12u);
  EXPECT_EQ(static_cast<unsigned char>(s[0]), 0xde);
  EXPECT_EQ(DecodeFixed32BE(s.data()), 0xdeadbeefu);
  EXPECT_EQ(DecodeFixed64BE(s.data() + 4), 0x0102030405060708ull);
}

TEST(KeysTest, MessageKeysSortByTopicQueueOffset) {
  auto a = MessageKey(TopicId(1), QueueId(0), Offset(255));
  auto b = MessageKey(TopicId(1), QueueId(0), Offset(256));
  auto c = MessageKey(TopicId(1), QueueId(1), Offset(0));
  auto d = MessageKey(TopicId(2), QueueId(0), Offset(0));
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_LT(c, d);
  auto parts = ParseMessageKey(b);
  ASSERT_TRUE(parts.has_value());
  EXPECT_EQ(parts->topic, TopicId(1));
  EXPECT_EQ(parts->queue, QueueId(0));
  EXPECT_EQ(parts->offset, Offset(256));
}

TEST(KeysTest, ParseRejectsWrongLength) {
  EXPECT_FALSE(ParseMessageKey("short").has_value());
  EXPECT_FALSE(ParseInflightKey(std::string(17, 'x')).has_value());
  EXPECT_FALSE(ParseCursorKey(std::string(7, 'x')).has_value());
}

TEST(KeysTest, InflightKeysShareSubscriptionPrefix) {
  auto k = InflightKey(SubscriptionId(7), QueueId(3), Offset(9));
  EXPECT_EQ(k.rfind(InflightPrefix(SubscriptionId(7)), 0), 0u);
  auto parts = ParseInflightKey(k);
  ASSERT_TRUE(parts.has_value());
  EXPECT_EQ(parts->sub, SubscriptionId(7));
  EXPECT_EQ(parts->queue, QueueId(3));
  EXPECT_EQ(parts->offset, Offset(9));
}

TEST(KeysTest, SubscriptionKeySeparatesGroupFromTopic) {
  // "ab" + "c" must differ from "a" + "bc".
  EXPECT_NE(SubscriptionKey("ab", "c"), SubscriptionKey("a", "bc"));
}

}  // namespace
}  // namespace halfmq::storage::keys
