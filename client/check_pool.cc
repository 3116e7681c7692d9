#include "client/check_pool.h"

#include <cstdio>
#include <cstdlib>
#include <utility>

#include "common/thread_name.h"

namespace halfmq::client {

CheckPool::CheckPool(int threads, size_t max_pending, Work work)
    : max_pending_(max_pending), work_(std::move(work)) {
  threads_.reserve(static_cast<size_t>(threads));
  for (int i = 0; i < threads; ++i) {
    threads_.emplace_back([this] {
      SetCurrentThreadName("halfmq-check");
      Run();
    });
    thread_ids_.push_back(threads_.back().get_id());
  }
}

CheckPool::~CheckPool() {
  if (InPoolThread()) {
    std::fprintf(stderr,
                 "halfmq: a TransactionProducer was destroyed inside its own checker; aborting\n");
    std::abort();
  }
  Stop();
}

void CheckPool::Submit(CheckRequest check, Answer answer) {
  {
    MutexLock lock(&mu_);
    if (!stopping_ && queue_.size() + running_ < max_pending_) {
      queue_.push_back(Job{std::move(check), std::move(answer)});
      work_cv_.Signal();
      return;
    }
  }
  answer(TxnState::kUnknown);
}

bool CheckPool::Stop() {
  std::deque<Job> queued;
  {
    MutexLock lock(&mu_);
    stopping_ = true;
    // Taken in the same critical section that sets stopping_, so a check is
    // either run by a thread or answered here, never dropped.
    queued.swap(queue_);
    work_cv_.SignalAll();
  }
  for (Job& job : queued) job.answer(TxnState::kUnknown);
  if (InPoolThread()) return false;
  MutexLock lock(&join_mu_);
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  return true;
}

void CheckPool::Run() {
  for (;;) {
    Job job;
    {
      MutexLock lock(&mu_);
      while (!stopping_ && queue_.empty()) work_cv_.Wait(&mu_);
      if (stopping_) return;  // Stop answers whatever is still queued
      job = std::move(queue_.front());
      queue_.pop_front();
      ++running_;
    }
    TxnState outcome = TxnState::kUnknown;
    try {
      outcome = work_(job.check);
    } catch (...) {
      outcome = TxnState::kUnknown;
    }
    {
      // Free the slot before answering: the broker sends its next check as
      // soon as it has the answer, and that check must find room.
      MutexLock lock(&mu_);
      --running_;
    }
    job.answer(outcome);
  }
}

bool CheckPool::InPoolThread() const {
  std::thread::id self = std::this_thread::get_id();
  for (const std::thread::id& id : thread_ids_) {
    if (id == self) return true;
  }
  return false;
}

}  // namespace halfmq::client
