#include "common/log_limiter.h"

#include <algorithm>

namespace halfmq {

bool LogLimiter::Allow(int64_t now_ms, int64_t* suppressed) {
  MutexLock lock(&mu_);
  if (refilled_ms_ >= 0 && now_ms > refilled_ms_) {
    tokens_ = std::min(burst_, tokens_ + static_cast<double>(now_ms - refilled_ms_) * rate_per_ms_);
  }
  if (refilled_ms_ < 0 || now_ms > refilled_ms_) refilled_ms_ = now_ms;
  if (tokens_ < 1.0) {
    ++suppressed_;
    ++total_suppressed_;
    return false;
  }
  tokens_ -= 1.0;
  *suppressed = suppressed_;
  suppressed_ = 0;
  return true;
}

int64_t LogLimiter::total_suppressed() const {
  MutexLock lock(&mu_);
  return total_suppressed_;
}

}  // namespace halfmq
