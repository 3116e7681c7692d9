#include "client/backoff.h"

#include <cstdint>
#include <set>

#include <gtest/gtest.h>

namespace halfmq::client {
namespace {

using std::chrono::milliseconds;

TEST(BackoffCeilingTest, DoublesFromInitialUpToMax) {
  EXPECT_EQ(BackoffCeiling(0, milliseconds(50), milliseconds(5000)), milliseconds(50));
  EXPECT_EQ(BackoffCeiling(1, milliseconds(50), milliseconds(5000)), milliseconds(100));
  EXPECT_EQ(BackoffCeiling(3, milliseconds(50), milliseconds(5000)), milliseconds(400));
  EXPECT_EQ(BackoffCeiling(6, milliseconds(50), milliseconds(5000)), milliseconds(3200));
  EXPECT_EQ(BackoffCeiling(7, milliseconds(50), milliseconds(5000)), milliseconds(5000));
}

TEST(BackoffCeilingTest, HugeAttemptsStayAtMaxWithoutOverflow) {
  for (int attempt : {64, 100, 1000, INT32_MAX}) {
    EXPECT_EQ(BackoffCeiling(attempt, milliseconds(1), milliseconds(INT64_MAX / 2)),
              milliseconds(INT64_MAX / 2))
        << attempt;
    EXPECT_EQ(BackoffCeiling(attempt, milliseconds(50), milliseconds(5000)), milliseconds(5000));
  }
}

TEST(BackoffCeilingTest, NegativeAttemptIsFirstAttempt) {
  EXPECT_EQ(BackoffCeiling(-3, milliseconds(50), milliseconds(5000)), milliseconds(50));
}

TEST(BackoffCeilingTest, InitialAboveMaxIsCapped) {
  EXPECT_EQ(BackoffCeiling(0, milliseconds(800), milliseconds(100)), milliseconds(100));
}

TEST(FullJitterTest, CoversZeroToCeilingInclusive) {
  EXPECT_EQ(FullJitter(milliseconds(100), 0), milliseconds(0));
  EXPECT_EQ(FullJitter(milliseconds(100), 100), milliseconds(100));
  EXPECT_EQ(FullJitter(milliseconds(100), 101), milliseconds(0));
  EXPECT_LE(FullJitter(milliseconds(100), UINT64_MAX), milliseconds(100));
  EXPECT_EQ(FullJitter(milliseconds(0), 12345), milliseconds(0));
  EXPECT_EQ(FullJitter(milliseconds(-5), 12345), milliseconds(0));
}

TEST(BackoffDelayTest, StaysWithinBoundsAndIsSpread) {
  for (int attempt = 0; attempt < 12; ++attempt) {
    milliseconds ceiling = BackoffCeiling(attempt, milliseconds(50), milliseconds(5000));
    std::set<int64_t> seen;
    for (int i = 0; i < 500; ++i) {
      milliseconds d = BackoffDelay(attempt, milliseconds(50), milliseconds(5000));
      EXPECT_GE(d.count(), 0);
      EXPECT_LE(d, ceiling);
      seen.insert(d.count());
    }
    // Jitter, not a fixed delay: 500 draws from >= 51 values are not all one.
    EXPECT_GT(seen.size(), 10u) << attempt;
  }
}

}  // namespace
}  // namespace halfmq::client
