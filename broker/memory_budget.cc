#include "broker/memory_budget.h"

#include <glog/logging.h>

namespace halfmq::broker {

BudgetLease& BudgetLease::operator=(BudgetLease&& other) noexcept {
  if (this != &other) {
    Reset();
    budget_ = other.budget_;
    bytes_ = other.bytes_;
    other.budget_ = nullptr;
    other.bytes_ = 0;
  }
  return *this;
}

void BudgetLease::Reset() {
  if (budget_ != nullptr && bytes_ > 0) budget_->Release(bytes_);
  budget_ = nullptr;
  bytes_ = 0;
}

void BudgetLease::Merge(BudgetLease&& other) {
  if (other.bytes_ == 0) return;
  CHECK(budget_ == nullptr || budget_ == other.budget_);
  budget_ = other.budget_;
  bytes_ += other.bytes_;
  other.budget_ = nullptr;
  other.bytes_ = 0;
}

asio::awaitable<BudgetLease> MemoryBudget::Acquire(size_t bytes, bool* waited,
                                                   asio::steady_timer::time_point deadline) {
  CHECK_LE(bytes, capacity_);
  *waited = false;
  auto executor = co_await asio::this_coro::executor;
  for (;;) {
    std::shared_ptr<asio::steady_timer> timer;
    {
      MutexLock lock(&mu_);
      if (used_ + bytes <= capacity_) {
        used_ += bytes;
        co_return BudgetLease(this, bytes);
      }
      if (asio::steady_timer::clock_type::now() >= deadline) co_return BudgetLease();
      timer = std::make_shared<asio::steady_timer>(executor, deadline);
      waiters_.push_back(timer);
    }
    *waited = true;
    // Release() cancels the timer through the timer's executor (this
    // coroutine's strand), which cannot run before async_wait has started.
    boost::system::error_code ec;
    co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

size_t MemoryBudget::used() const {
  MutexLock lock(&mu_);
  return used_;
}

void MemoryBudget::Release(size_t bytes) {
  std::vector<std::shared_ptr<asio::steady_timer>> wake;
  {
    MutexLock lock(&mu_);
    CHECK_LE(bytes, used_);
    used_ -= bytes;
    wake.swap(waiters_);
  }
  for (auto& t : wake) {
    asio::post(t->get_executor(), [t] { t->cancel(); });
  }
}

}  // namespace halfmq::broker
