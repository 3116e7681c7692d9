// LogLimiter: a token bucket for log lines that a peer can cause (one
// warning per bad connection), so that a scanner cannot fill the log disk.
// Allow() says whether a line may be written now and, when it may, how many
// lines were suppressed since the last one written, so the line can say so.
//
// Thread-safe.
#ifndef HALFMQ_COMMON_LOG_LIMITER_H_
#define HALFMQ_COMMON_LOG_LIMITER_H_

#include <cstdint>

#include "common/mutex.h"

namespace halfmq {

class LogLimiter {
 public:
  // `lines_per_second` on average, bursts of up to `burst` lines.
  LogLimiter(double lines_per_second, double burst)
      : rate_per_ms_(lines_per_second / 1000.0), burst_(burst), tokens_(burst) {}

  // `now_ms`: any monotonic milliseconds.
  bool Allow(int64_t now_ms, int64_t* suppressed) EXCLUDES(mu_);
  // Lines suppressed in all (for stats).
  int64_t total_suppressed() const EXCLUDES(mu_);

 private:
  const double rate_per_ms_;
  const double burst_;
  mutable Mutex mu_;
  double tokens_ GUARDED_BY(mu_);
  int64_t refilled_ms_ GUARDED_BY(mu_) = -1;
  int64_t suppressed_ GUARDED_BY(mu_) = 0;
  int64_t total_suppressed_ GUARDED_BY(mu_) = 0;
};

}  // namespace halfmq

#endif  // HALFMQ_COMMON_LOG_LIMITER_H_
