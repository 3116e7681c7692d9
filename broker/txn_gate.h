// TxnGate: runs operations on one transaction one at a time.
//
// EndTransaction, SendHalf, check-back and operator resolution of the same
// transaction read its state from RocksDB and then write; two of them
// interleaving could both see "pending" and both commit. The gate queues an
// operation behind the running one for the same id (never blocking a
// thread) and hands it to the executor once the running one's write is
// durable. Operations on different transactions run in parallel.
//
// Thread-safe.
#ifndef HALFMQ_BROKER_TXN_GATE_H_
#define HALFMQ_BROKER_TXN_GATE_H_

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "common/asio.h"
#include "common/mutex.h"

namespace halfmq::broker {

class TxnGate;

// Held by a running operation; the next queued operation starts when the
// last copy is destroyed (keep it in the commit callback).
class TxnLease {
 public:
  TxnLease(TxnGate* gate, std::string txn_id) : gate_(gate), txn_id_(std::move(txn_id)) {}
  ~TxnLease();
  TxnLease(const TxnLease&) = delete;
  TxnLease& operator=(const TxnLease&) = delete;

 private:
  TxnGate* gate_;
  std::string txn_id_;
};

class TxnGate {
 public:
  using Operation = std::function<void(std::shared_ptr<TxnLease>)>;

  explicit TxnGate(asio::thread_pool& pool) : pool_(pool) {}

  // Runs `op` on the pool once no other operation holds `txn_id`.
  void Run(const std::string& txn_id, Operation op) EXCLUDES(mu_);
  // Takes the transaction if it is free (for the check-back scanner, which
  // skips busy transactions instead of waiting for them).
  std::shared_ptr<TxnLease> TryAcquire(const std::string& txn_id) EXCLUDES(mu_);

  size_t busy() const EXCLUDES(mu_);

 private:
  friend class TxnLease;
  void Release(const std::string& txn_id) EXCLUDES(mu_);

  asio::thread_pool& pool_;
  mutable Mutex mu_;
  std::unordered_map<std::string, std::deque<Operation>> busy_ GUARDED_BY(mu_);
};

}  // namespace halfmq::broker

#endif  // HALFMQ_BROKER_TXN_GATE_H_
