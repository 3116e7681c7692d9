#include "benchmarks/histogram.h"

#include <random>

#include <gtest/gtest.h>

namespace halfmq::bench {
namespace {

TEST(HistogramTest, BucketsCoverValuesWithSmallRelativeError) {
  for (uint64_t v : {0ull, 1ull, 127ull, 128ull, 129ull, 1000ull, 123456ull, 1ull << 40}) {
    size_t b = Histogram::BucketOf(v);
    uint64_t upper = Histogram::BucketUpper(b);
    EXPECT_GE(upper, v);
    EXPECT_LE(static_cast<double>(upper - v), static_cast<double>(v) / 100.0 + 1) << v;
    if (b > 0) {
      EXPECT_LT(Histogram::BucketUpper(b - 1), v) << v;
    }
  }
}

TEST(HistogramTest, PercentilesOfUniformValues) {
  Histogram h;
  for (uint64_t v = 1; v <= 10000; ++v) h.Record(v);
  EXPECT_EQ(h.count(), 10000u);
  EXPECT_EQ(h.max(), 10000u);
  EXPECT_EQ(h.min(), 1u);
  EXPECT_NEAR(static_cast<double>(h.Percentile(0.5)), 5000, 5000 * 0.01);
  EXPECT_NEAR(static_cast<double>(h.Percentile(0.99)), 9900, 9900 * 0.01);
  EXPECT_EQ(h.Percentile(1.0), 10000u);
}

TEST(HistogramTest, MergeEqualsRecordingEverything) {
  Histogram a, b, all;
  std::mt19937_64 rng(7);
  for (int i = 0; i < 5000; ++i) {
    uint64_t v = rng() % 100000;
    (i % 2 ? a : b).Record(v);
    all.Record(v);
  }
  a.Merge(b);
  for (double q : {0.5, 0.9, 0.99, 0.999}) EXPECT_EQ(a.Percentile(q), all.Percentile(q));
  EXPECT_EQ(a.count(), all.count());
}

TEST(HistogramTest, EmptyHistogramReportsZero) {
  Histogram h;
  EXPECT_EQ(h.Percentile(0.99), 0u);
  EXPECT_EQ(h.min(), 0u);
}

}  // namespace
}  // namespace halfmq::bench
