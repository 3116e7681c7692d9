// MemoryBudget: a broker-wide cap on the bytes of requests being read and
// processed. A session reserves a frame's bytes as they arrive (a large
// frame in steps, before each read into its buffer, never for bytes a header
// merely claims) and returns them when the request's response has been
// handed off. When the budget is spent, readers wait (Beast-style
// back-pressure: the broker stops reading, TCP flow control pushes back on
// clients) instead of failing, each until its own deadline: a reader that
// cannot get memory in time gives up, and since every waiter is woken on
// each release, no one waiter holds up the others.
//
// Thread-safe. Owned by the Broker; outlives every session.
#ifndef HALFMQ_BROKER_MEMORY_BUDGET_H_
#define HALFMQ_BROKER_MEMORY_BUDGET_H_

#include <cstddef>
#include <memory>
#include <vector>

#include "common/asio.h"
#include "common/mutex.h"

namespace halfmq::broker {

class MemoryBudget;

// Bytes reserved from a MemoryBudget, returned on destruction. Move-only.
class BudgetLease {
 public:
  BudgetLease() = default;
  BudgetLease(MemoryBudget* budget, size_t bytes) : budget_(budget), bytes_(bytes) {}
  BudgetLease(BudgetLease&& other) noexcept { *this = std::move(other); }
  BudgetLease& operator=(BudgetLease&& other) noexcept;
  ~BudgetLease() { Reset(); }
  void Reset();
  size_t bytes() const { return bytes_; }
  // Takes over `other`'s bytes (both from the same budget, or this empty).
  void Merge(BudgetLease&& other);

 private:
  MemoryBudget* budget_ = nullptr;
  size_t bytes_ = 0;
};

class MemoryBudget {
 public:
  explicit MemoryBudget(size_t capacity) : capacity_(capacity) {}

  // Waits (without blocking the thread) until `bytes` fit, then reserves
  // them. `bytes` must not exceed capacity(). Sets *waited if it had to wait.
  // Returns an empty lease if `deadline` passes first (and `bytes` > 0).
  asio::awaitable<BudgetLease> Acquire(
      size_t bytes, bool* waited,
      asio::steady_timer::time_point deadline = asio::steady_timer::time_point::max());

  size_t capacity() const { return capacity_; }
  size_t used() const EXCLUDES(mu_);

 private:
  friend class BudgetLease;
  void Release(size_t bytes) EXCLUDES(mu_);

  const size_t capacity_;
  mutable Mutex mu_;
  size_t used_ GUARDED_BY(mu_) = 0;
  std::vector<std::shared_ptr<asio::steady_timer>> waiters_ GUARDED_BY(mu_);
};

}  // namespace halfmq::broker

#endif  // HALFMQ_BROKER_MEMORY_BUDGET_H_
