#include "common/log_limiter.h"

#include <gtest/gtest.h>

namespace halfmq {
namespace {

TEST(LogLimiterTest, AllowsABurstThenTheRateAndCountsWhatItSuppressed) {
  LogLimiter limiter(/*lines_per_second=*/2, /*burst=*/3);
  int64_t suppressed = -1;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(limiter.Allow(1000, &suppressed));
    EXPECT_EQ(suppressed, 0);
  }
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(limiter.Allow(1000, &suppressed));
  EXPECT_FALSE(limiter.Allow(1400, &suppressed));  // 0.8 of a line refilled
  ASSERT_TRUE(limiter.Allow(1500, &suppressed));   // one line after 500 ms
  EXPECT_EQ(suppressed, 101);                      // the line says what it hid
  EXPECT_FALSE(limiter.Allow(1500, &suppressed));
  EXPECT_EQ(limiter.total_suppressed(), 102);
}

TEST(LogLimiterTest, ALongQuietPeriodRefillsNoMoreThanTheBurst) {
  LogLimiter limiter(10, 2);
  int64_t suppressed = 0;
  ASSERT_TRUE(limiter.Allow(0, &suppressed));
  int allowed = 0;
  for (int i = 0; i < 10; ++i) allowed += limiter.Allow(3600 * 1000, &suppressed) ? 1 : 0;
  EXPECT_EQ(allowed, 2);
}

TEST(LogLimiterTest, ATimeGoingBackwardsAddsNoLines) {
  LogLimiter limiter(1, 1);
  int64_t suppressed = 0;
  ASSERT_TRUE(limiter.Allow(5000, &suppressed));
  EXPECT_FALSE(limiter.Allow(1000, &suppressed));
  EXPECT_FALSE(limiter.Allow(5500, &suppressed));
  EXPECT_TRUE(limiter.Allow(6000, &suppressed));
  EXPECT_EQ(suppressed, 2);
}

}  // namespace
}  // namespace halfmq
