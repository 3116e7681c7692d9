#include "common/limits.h"

#include <string>

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

}  // namespace
}  // namespace halfmq
