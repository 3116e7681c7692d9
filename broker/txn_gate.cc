#include "broker/txn_gate.h"

namespace halfmq::broker {

TxnLease::~TxnLease() { gate_->Release(txn_id_); }

void TxnGate::Run(const std::string& txn_id, Operation op) {
  {
    MutexLock lock(&mu_);
    auto it = busy_.find(txn_id);
    if (it != busy_.end()) {
      it->second.push_back(std::move(op));
      return;
    }
    busy_.emplace(txn_id, std::deque<Operation>());
  }
  auto lease = std::make_shared<TxnLease>(this, txn_id);
  asio::post(pool_, [op = std::move(op), lease = std::move(lease)]() mutable {
    op(std::move(lease));
  });
}

std::shared_ptr<TxnLease> TxnGate::TryAcquire(const std::string& txn_id) {
  {
    MutexLock lock(&mu_);
    if (!busy_.emplace(txn_id, std::deque<Operation>()).second) return nullptr;
  }
  return std::make_shared<TxnLease>(this, txn_id);
}

void TxnGate::Release(const std::string& txn_id) {
  Operation next;
  {
    MutexLock lock(&mu_);
    auto it = busy_.find(txn_id);
    if (it == busy_.end()) return;
    if (it->second.empty()) {
      busy_.erase(it);
      return;
    }
    next = std::move(it->second.front());
    it->second.pop_front();
  }
  auto lease = std::make_shared<TxnLease>(this, txn_id);
  asio::post(pool_, [next = std::move(next), lease = std::move(lease)]() mutable {
    next(std::move(lease));
  });
}

size_t TxnGate::busy() const {
  MutexLock lock(&mu_);
  return busy_.size();
}

}  // namespace halfmq::broker
