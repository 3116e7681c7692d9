// CheckPool: runs a TransactionProducer's checks on a fixed set of threads.
//
// Checks arrive on the connection's io thread, which must never block, so
// Submit only queues. At most `max_pending` checks are held at once (queued
// plus running), matching what the producer announced to the broker in Hello;
// one beyond that, or one arriving after Stop, is answered kUnknown at once.
// Every submitted check is answered exactly once.
//
// Owned by TransactionProducer::Impl. Thread-safe. The threads start in the
// constructor; Stop (or the destructor) answers the queued checks kUnknown
// and waits for the running ones.
#ifndef HALFMQ_CLIENT_CHECK_POOL_H_
#define HALFMQ_CLIENT_CHECK_POOL_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "common/mutex.h"
#include "halfmq/transaction.h"

namespace halfmq::client {

class CheckPool {
 public:
  // Decides one check, on a pool thread; returns the outcome to answer. An
  // exception counts as kUnknown.
  using Work = std::function<TxnState(const CheckRequest&)>;
  // Delivers the outcome. Runs on a pool thread, or on the thread that calls
  // Submit (pool full or stopped) or Stop (check still queued); must not block.
  using Answer = std::function<void(TxnState)>;

  // Requires threads >= 1 and max_pending >= 1.
  CheckPool(int threads, size_t max_pending, Work work);
  // Stops. Must not run on a pool thread (it would wait for itself): aborts.
  ~CheckPool();
  CheckPool(const CheckPool&) = delete;
  CheckPool& operator=(const CheckPool&) = delete;

  // Queues `check`; never blocks.
  void Submit(CheckRequest check, Answer answer) EXCLUDES(mu_);

  // Refuses further checks, answers queued ones kUnknown, and waits for the
  // running ones to be answered. Returns true when that is done; false when
  // called on a pool thread, which cannot wait for itself: the stop is then
  // begun, and a later call from another thread (the destructor) finishes it.
  bool Stop() EXCLUDES(mu_, join_mu_);

 private:
  struct Job {
    CheckRequest check;
    Answer answer;
  };

  void Run() EXCLUDES(mu_);
  bool InPoolThread() const;

  const size_t max_pending_;
  const Work work_;

  Mutex mu_;
  CondVar work_cv_;  // queue_ not empty, or stopping_
  std::deque<Job> queue_ GUARDED_BY(mu_);
  size_t running_ GUARDED_BY(mu_) = 0;
  bool stopping_ GUARDED_BY(mu_) = false;

  Mutex join_mu_;  // serializes the joins of concurrent Stop calls
  std::vector<std::thread> threads_;
  // Written only by the constructor, so InPoolThread may read it while
  // another thread joins threads_.
  std::vector<std::thread::id> thread_ids_;
};

}  // namespace halfmq::client

#endif  // HALFMQ_CLIENT_CHECK_POOL_H_
