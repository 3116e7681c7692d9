// A latency histogram with bounded relative error (log-linear buckets, like
// HdrHistogram with 2 significant digits): values are microseconds, each
// bucket spans at most 1/128 of its value. Not thread-safe; merge per-thread
// histograms with Merge().
#ifndef HALFMQ_BENCHMARKS_HISTOGRAM_H_
#define HALFMQ_BENCHMARKS_HISTOGRAM_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace halfmq::bench {

class Histogram {
 public:
  Histogram();
  void Record(uint64_t value_us);
  void Merge(const Histogram& other);

  uint64_t count() const { return count_; }
  uint64_t max() const { return max_; }
  uint64_t min() const { return count_ == 0 ? 0 : min_; }
  double mean() const { return count_ == 0 ? 0 : static_cast<double>(sum_) / count_; }
  // Smallest recorded value v such that at least q of all values are <= v,
  // reported as the upper edge of its bucket (never under-reports).
  uint64_t Percentile(double q) const;

  // Exposed for tests.
  static size_t BucketOf(uint64_t value);
  static uint64_t BucketUpper(size_t bucket);

 private:
  std::vector<uint64_t> buckets_;
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
};

}  // namespace halfmq::bench

#endif  // HALFMQ_BENCHMARKS_HISTOGRAM_H_
