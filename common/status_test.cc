#include "common/status.h"

#include <gtest/gtest.h>

#include "common/ids.h"

namespace halfmq {
namespace {

TEST(StatusTest, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "OK");
}

TEST(StatusTest, ToStringNamesCodeAndMessage) {
  Status s = Status::FailedPrecondition("already rolled back");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.ToString(), "FAILED_PRECONDITION: already rolled back");
}

TEST(StatusTest, WireIntegersRoundTrip) {
  for (int i = 0; i <= 9; ++i) EXPECT_EQ(static_cast<int>(StatusCodeFromInt(i)), i);
  EXPECT_EQ(StatusCodeFromInt(42), StatusCode::kInternal);
  EXPECT_EQ(StatusCodeFromInt(-1), StatusCode::kInternal);
}

TEST(StatusTest, OnlyUnavailableAndExhaustedAreRetryable) {
  EXPECT_TRUE(Status::Unavailable("x").IsRetryable());
  EXPECT_TRUE(Status::ResourceExhausted("x").IsRetryable());
  EXPECT_FALSE(Status::InvalidArgument("x").IsRetryable());
  EXPECT_FALSE(Status::Internal("x").IsRetryable());
}

TEST(ResultTest, HoldsValueOrStatus) {
  Result<int> good(7);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 7);
  Result<int> bad(Status::NotFound("no topic"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kNotFound);
}

TEST(ResultDeathTest, ValueOfFailedResultAborts) {
  Result<int> bad(Status::NotFound("no topic"));
  EXPECT_DEATH({ (void)bad.value(); }, "no topic");
}

TEST(StrongIdTest, CompareAndHash) {
  EXPECT_LT(Offset(1), Offset(2));
  EXPECT_EQ(QueueId(3), QueueId(3));
  EXPECT_EQ(std::hash<TopicName>()(TopicName("a")), std::hash<std::string>()("a"));
}

}  // namespace
}  // namespace halfmq
