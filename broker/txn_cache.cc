#include "broker/txn_cache.h"

#include <utility>

namespace halfmq::broker {

namespace {

// Bytes an entry holds, roughly: the messages' encoded size (the state
// record keeps it in `bytes`), a per-message allowance for the protobuf
// objects, and the map and list nodes.
uint64_t EntryBytes(const TxnStateCache::Entry& e) {
  return 256 + 2 * e.meta.txn_id().size() + e.meta.ByteSizeLong() + e.meta.bytes() +
         128 * static_cast<uint64_t>(e.halves.size());
}

}  // namespace

std::optional<TxnStateCache::Entry> TxnStateCache::Take(const TxnId& txn) {
  MutexLock lock(&mu_);
  auto it = slots_.find(txn);
  if (it == slots_.end()) {
    ++misses_;
    return std::nullopt;
  }
  ++hits_;
  std::optional<Entry> out(std::move(it->second.entry));
  EraseLocked(it);
  return out;
}

void TxnStateCache::Put(Entry entry) {
  uint64_t bytes = EntryBytes(entry);
  TxnId txn(entry.meta.txn_id());
  MutexLock lock(&mu_);
  auto it = slots_.find(txn);
  if (it != slots_.end()) EraseLocked(it);
  if (bytes > max_bytes_) return;
  while (bytes_ + bytes > max_bytes_ && !order_.empty()) {
    EraseLocked(slots_.find(order_.front()));
    ++evictions_;
  }
  order_.push_back(txn);
  auto last = std::prev(order_.end());
  slots_.emplace(std::move(txn), Slot{std::move(entry), bytes, last});
  bytes_ += bytes;
}

void TxnStateCache::Erase(const TxnId& txn) {
  MutexLock lock(&mu_);
  auto it = slots_.find(txn);
  if (it != slots_.end()) EraseLocked(it);
}

bool TxnStateCache::Contains(const TxnId& txn) const {
  MutexLock lock(&mu_);
  return slots_.count(txn) > 0;
}

TxnStateCache::Stats TxnStateCache::stats() const {
  MutexLock lock(&mu_);
  return Stats{hits_, misses_, evictions_, slots_.size(), bytes_};
}

void TxnStateCache::EraseLocked(std::unordered_map<TxnId, Slot>::iterator it) {
  bytes_ -= it->second.bytes;
  order_.erase(it->second.order);
  slots_.erase(it);
}

}  // namespace halfmq::broker
