// KeyGate: runs operations that name a set of keys one after the other when
// their sets overlap, and in parallel otherwise, without blocking a thread.
//
// Two users, each with its own instance:
//  - producer dedup (ProduceService): two sends carrying the same message id
//    (a retry racing its original) must not both find the id unused and both
//    store it. An operation names all its (topic, message id) keys and runs
//    on its connection's strand, so that one connection's sends keep their
//    order.
//  - transactions (TxnService): EndTransaction, SendHalf, check-back and
//    operator resolution of one transaction read its state and then write;
//    two interleaving could both see "pending" and both commit. An operation
//    names one key, the transaction id, and runs on the blocking pool (no
//    order between transactions is needed). This used to be a TxnGate of its
//    own; with one key per operation the rules below are exactly its rules,
//    so there is one gate.
//
// An operation gets a lease; the keys are free again when its last copy is
// destroyed (keep it until the write is durable). Waiting operations start in
// arrival order as their keys free up: for one key, strictly one after the
// other in the order they came. Waiting costs a scan of the waiters on each
// Run and release, so it suits gates where waiting is the exception (a retry
// racing its original; a second operation on a transaction in flight), not a
// queue. Thread-safe.
#ifndef HALFMQ_BROKER_KEY_GATE_H_
#define HALFMQ_BROKER_KEY_GATE_H_

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "common/asio.h"
#include "common/mutex.h"

namespace halfmq::broker {

class KeyGate {
 public:
  class Lease;
  using Operation = std::function<void(std::shared_ptr<Lease>)>;

  class Lease {
   public:
    Lease(KeyGate* gate, std::vector<std::string> keys)
        : gate_(gate), keys_(std::move(keys)) {}
    ~Lease() { gate_->Release(keys_); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;

   private:
    KeyGate* gate_;
    std::vector<std::string> keys_;
  };

  KeyGate() = default;

  using Executor = asio::strand<asio::thread_pool::executor_type>;

  // Runs `op` on `executor` (a strand on the pool) once none of `keys` is
  // held.
  void Run(std::vector<std::string> keys, Executor executor, Operation op) EXCLUDES(mu_);
  // One key, and `op` runs on the pool itself.
  void Run(std::string key, asio::thread_pool& pool, Operation op) EXCLUDES(mu_);
  // Takes `keys` at once if all are free and nobody waits for any of them;
  // null otherwise (the transaction scanner skips a busy transaction rather
  // than wait for it).
  std::shared_ptr<Lease> TryAcquire(const std::vector<std::string>& keys) EXCLUDES(mu_);
  std::shared_ptr<Lease> TryAcquire(std::string key) EXCLUDES(mu_);
  size_t waiting() const EXCLUDES(mu_);
  // Keys held by running operations.
  size_t held() const EXCLUDES(mu_);

 private:
  struct Waiter {
    std::vector<std::string> keys;
    asio::any_io_executor executor;  // a connection's strand, or the pool
    Operation op;
  };
  void RunOn(std::vector<std::string> keys, asio::any_io_executor executor, Operation op)
      EXCLUDES(mu_);
  bool AllFree(const std::vector<std::string>& keys) const REQUIRES(mu_);
  // No key is held and no waiter names one of them.
  bool Available(const std::vector<std::string>& keys) const REQUIRES(mu_);
  void Release(const std::vector<std::string>& keys) EXCLUDES(mu_);
  void Start(std::vector<std::string> keys, asio::any_io_executor executor, Operation op);

  mutable Mutex mu_;
  std::unordered_set<std::string> held_ GUARDED_BY(mu_);
  std::deque<Waiter> waiting_ GUARDED_BY(mu_);
};

}  // namespace halfmq::broker

#endif  // HALFMQ_BROKER_KEY_GATE_H_
