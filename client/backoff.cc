#include "client/backoff.h"

#include <algorithm>
#include <random>

namespace halfmq::client {

std::chrono::milliseconds BackoffCeiling(int attempt, std::chrono::milliseconds initial,
                                         std::chrono::milliseconds max) {
  int64_t ceiling = std::max<int64_t>(initial.count(), 0);
  int64_t cap = std::max<int64_t>(max.count(), 0);
  // Doubling stops at the cap, so the loop runs at most ~63 times and the
  // value never overflows.
  for (int i = 0; i < attempt && ceiling < cap; ++i) ceiling *= 2;
  return std::chrono::milliseconds(std::min(ceiling, cap));
}

std::chrono::milliseconds FullJitter(std::chrono::milliseconds ceiling, uint64_t random) {
  if (ceiling.count() <= 0) return std::chrono::milliseconds(0);
  uint64_t span = static_cast<uint64_t>(ceiling.count()) + 1;
  return std::chrono::milliseconds(static_cast<int64_t>(random % span));
}

std::chrono::milliseconds BackoffDelay(int attempt, std::chrono::milliseconds initial,
                                       std::chrono::milliseconds max) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return FullJitter(BackoffCeiling(attempt, initial, max), rng());
}

}  // namespace halfmq::client
