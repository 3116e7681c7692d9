// Time sources. Everything the broker persists (store times, visibility
// deadlines, check-back due times) is wall-clock milliseconds of the broker's
// own clock, because it must survive restarts; a steady clock is used only for
// in-process intervals. Tests substitute a ManualClock.
#ifndef HALFMQ_COMMON_CLOCK_H_
#define HALFMQ_COMMON_CLOCK_H_

#include <atomic>
#include <cstdint>

namespace halfmq {

// Thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch.
  virtual int64_t NowMs() const = 0;

  // The process-wide real clock.
  static Clock* Real();
};

// A clock that moves only when told to. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t now_ms) : now_ms_(now_ms) {}
  int64_t NowMs() const override { return now_ms_.load(std::memory_order_acquire); }
  void Advance(int64_t ms) { now_ms_.fetch_add(ms, std::memory_order_acq_rel); }
  void Set(int64_t ms) { now_ms_.store(ms, std::memory_order_release); }

 private:
  std::atomic<int64_t> now_ms_;
};

}  // namespace halfmq

#endif  // HALFMQ_COMMON_CLOCK_H_
