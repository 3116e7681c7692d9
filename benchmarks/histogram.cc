#include "benchmarks/histogram.h"

#include <algorithm>
#include <bit>

namespace halfmq::bench {

namespace {
constexpr int kSubBits = 7;  // 128 linear sub-buckets per power of two
constexpr uint64_t kSub = 1u << kSubBits;
constexpr size_t kBuckets = (64 - kSubBits + 1) * kSub;
}  // namespace

Histogram::Histogram() : buckets_(kBuckets, 0) {}

size_t Histogram::BucketOf(uint64_t v) {
  if (v < kSub) return static_cast<size_t>(v);
  int msb = 63 - std::countl_zero(v);     // >= kSubBits
  int shift = msb - kSubBits;              // how many low bits to drop
  uint64_t sub = (v >> shift) - kSub;      // 0..kSub-1
  return static_cast<size_t>((shift + 1) * kSub + sub);
}

uint64_t Histogram::BucketUpper(size_t b) {
  if (b < kSub) return b;
  uint64_t shift = b / kSub - 1;
  uint64_t sub = b % kSub;
  return ((kSub + sub + 1) << shift) - 1;
}

void Histogram::Record(uint64_t v) {
  ++buckets_[BucketOf(v)];
  ++count_;
  sum_ += v;
  min_ = std::min(min_, v);
  max_ = std::max(max_, v);
}

void Histogram::Merge(const Histogram& o) {
  for (size_t i = 0; i < buckets_.size(); ++i) buckets_[i] += o.buckets_[i];
  count_ += o.count_;
  sum_ += o.sum_;
  min_ = std::min(min_, o.min_);
  max_ = std::max(max_, o.max_);
}

uint64_t Histogram::Percentile(double q) const {
  if (count_ == 0) return 0;
  uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(count_) + 0.5);
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (size_t b = 0; b < buckets_.size(); ++b) {
    seen += buckets_[b];
    if (seen >= rank) return std::min(BucketUpper(b), max_);
  }
  return max_;
}

}  // namespace halfmq::bench
