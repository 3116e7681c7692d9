#include "common/limits.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace halfmq {
namespace {

TEST(ValidateNameTest, AcceptsUsualNames) {
  EXPECT_TRUE(ValidateName("topic", "order-paid").ok());
  EXPECT_TRUE(ValidateName("topic", "payments.v2_events").ok());
  EXPECT_TRUE(ValidateName("topic", std::string(kMaxNameBytes, 'a')).ok());
}

TEST(ValidateNameTest, RejectsBadNames) {
  for (const std::string bad : {"", ".hidden", "-x", "a b", "a/b", "%DLQ", "é", "a\nb"}) {
    Status s = ValidateName("topic", bad);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_FALSE(ValidateName("topic", std::string(kMaxNameBytes + 1, 'a')).ok());
}

TEST(ValidateMessageIdTest, PrintableAsciiUpTo128) {
  EXPECT_TRUE(ValidateMessageId("order-42").ok());
  EXPECT_FALSE(ValidateMessageId("").ok());
  EXPECT_FALSE(ValidateMessageId("has space").ok());
  EXPECT_FALSE(ValidateMessageId(std::string(129, 'x')).ok());
}

TEST(ValidateKeyTagTest, Bounds) {
  EXPECT_TRUE(ValidateKey("k").ok());
  EXPECT_FALSE(ValidateKey("").ok());
  EXPECT_FALSE(ValidateKey(std::string(129, 'k')).ok());
  EXPECT_TRUE(ValidateTag("").ok());
  EXPECT_FALSE(ValidateTag("a\tb").ok());
}

TEST(ValidateClientIdTest, BoundedAndWithoutControlBytes) {
  EXPECT_TRUE(ValidateClientId("").ok());
  EXPECT_TRUE(ValidateClientId("payments-7").ok());
  EXPECT_TRUE(ValidateClientId("caf\xc3\xa9 1").ok());  // UTF-8 and spaces are fine
  EXPECT_TRUE(ValidateClientId(std::string(kMaxClientIdBytes, 'c')).ok());
  Status s = ValidateClientId(std::string(kMaxClientIdBytes + 1, 'c'));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("client_id"), std::string::npos) << s;
  EXPECT_NE(s.message().find("128"), std::string::npos) << s;
  for (const std::string& bad :
       std::vector<std::string>{"a\nb", "a\rb", std::string("a\0b", 3), "\x1b[31m", "del\x7f"}) {
    s = ValidateClientId(bad);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(s.message().find("control byte"), std::string::npos) << s;
  }
}

TEST(ValidateProducerGroupCountTest, AtMost64) {
  EXPECT_TRUE(ValidateProducerGroupCount(0).ok());
  EXPECT_TRUE(ValidateProducerGroupCount(kMaxProducerGroupsPerConnection).ok());
  Status s = ValidateProducerGroupCount(kMaxProducerGroupsPerConnection + 1);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("producer_groups has 65 entries"), std::string::npos) << s;
  EXPECT_NE(s.message().find("64"), std::string::npos) << s;
}

TEST(ValidateShardingKeyTest, BoundedAndWithoutControlBytes) {
  EXPECT_TRUE(ValidateShardingKey("").ok());
  EXPECT_TRUE(ValidateShardingKey("order 42").ok());
  EXPECT_TRUE(ValidateShardingKey(std::string(kMaxShardingKeyBytes, 'k')).ok());
  Status s = ValidateShardingKey(std::string(kMaxShardingKeyBytes + 1, 'k'));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("sharding_key is 129 bytes"), std::string::npos) << s;
  EXPECT_EQ(ValidateShardingKey("a\tb").code(), StatusCode::kInvalidArgument);
}

TEST(ValidatePageCursorTest, NoLongerThanAnId) {
  EXPECT_TRUE(ValidatePageCursor("").ok());
  EXPECT_TRUE(ValidatePageCursor(std::string(kMaxMessageIdBytes, 'x')).ok());
  Status s = ValidatePageCursor(std::string(kMaxMessageIdBytes + 1, 'x'));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("start_after"), std::string::npos) << s;
}

}  // namespace
}  // namespace halfmq
