// An annotated mutex and condition variable (libstdc++'s std::mutex carries no
// thread-safety attributes). Same semantics as std::mutex; not recursive.
#ifndef HALFMQ_COMMON_MUTEX_H_
#define HALFMQ_COMMON_MUTEX_H_

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "common/thread_annotations.h"

namespace halfmq {

class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ACQUIRE() { mu_.lock(); }
  void Unlock() RELEASE() { mu_.unlock(); }

 private:
  friend class CondVar;
  std::mutex mu_;
};

class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ACQUIRE(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() RELEASE() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

// A condition variable; every wait names the Mutex the caller holds (as in
// Abseil), so the thread-safety analysis can check it.
class CondVar {
 public:
  CondVar() = default;
  // Binds a default mutex for the argument-less Wait()/WaitFor(d) forms,
  // which the analysis cannot check; prefer Wait(mu).
  explicit CondVar(Mutex* mu) : bound_(mu) {}
  CondVar(const CondVar&) = delete;
  CondVar& operator=(const CondVar&) = delete;

  void Wait(Mutex* mu) REQUIRES(mu) {
    std::unique_lock<std::mutex> lock(mu->mu_, std::adopt_lock);
    cv_.wait(lock);
    lock.release();
  }
  // Returns false on timeout.
  template <typename Rep, typename Period>
  bool WaitFor(Mutex* mu, std::chrono::duration<Rep, Period> d) REQUIRES(mu) {
    std::unique_lock<std::mutex> lock(mu->mu_, std::adopt_lock);
    bool signalled = cv_.wait_for(lock, d) == std::cv_status::no_timeout;
    lock.release();
    return signalled;
  }
  void Wait() NO_THREAD_SAFETY_ANALYSIS { Wait(bound_); }
  template <typename Rep, typename Period>
  bool WaitFor(std::chrono::duration<Rep, Period> d) NO_THREAD_SAFETY_ANALYSIS {
    return WaitFor(bound_, d);
  }
  void Signal() { cv_.notify_one(); }
  void SignalAll() { cv_.notify_all(); }

 private:
  Mutex* const bound_ = nullptr;
  std::condition_variable cv_;
};

}  // namespace halfmq

#endif  // HALFMQ_COMMON_MUTEX_H_
