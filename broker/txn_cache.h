// TxnStateCache: the state of recently written pending transactions, kept in
// memory so that the common sequence "SendHalf, then EndTransaction" settles
// without reading RocksDB.
//
// An entry is an exact copy of what the transaction's last write put into
// RocksDB (its state record and its half messages). The rule that keeps it
// exact: an entry is only read or written by an operation that holds the
// transaction's lease (TxnService's KeyGate), and every operation that
// writes the transaction's state either replaces the entry (SendHalf), takes
// it out (settling), or erases it (check-back, unresolved). A missing entry only means "read
// RocksDB"; entries are evicted oldest-written first beyond the byte bound,
// so a backlog of long-pending transactions cannot crowd out fresh ones for
// long.
//
// Owned by TxnService. Thread-safe.
#ifndef HALFMQ_BROKER_TXN_CACHE_H_
#define HALFMQ_BROKER_TXN_CACHE_H_

#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <unordered_map>

#include <google/protobuf/repeated_ptr_field.h>

#include "common/ids.h"
#include "common/mutex.h"
#include "proto/halfmq/v1/api.pb.h"
#include "proto/halfmq/v1/records.pb.h"

namespace halfmq::broker {

class TxnStateCache {
 public:
  struct Entry {
    v1::TxnRecord meta;  // PENDING
    google::protobuf::RepeatedPtrField<v1::Message> halves;  // by sequence number
  };
  struct Stats {
    uint64_t hits = 0;
    uint64_t misses = 0;
    uint64_t evictions = 0;
    uint64_t entries = 0;
    uint64_t bytes = 0;
  };

  // max_bytes 0 disables the cache (every Take misses).
  explicit TxnStateCache(uint64_t max_bytes) : max_bytes_(max_bytes) {}
  TxnStateCache(const TxnStateCache&) = delete;
  TxnStateCache& operator=(const TxnStateCache&) = delete;

  // Removes and returns the entry of `txn`. Call with its lease held.
  std::optional<Entry> Take(const TxnId& txn) EXCLUDES(mu_);
  // Stores (or replaces) the entry of entry.meta.txn_id(); evicts the oldest
  // entries beyond the bound. An entry larger than the bound is not kept.
  // Call with the lease held.
  void Put(Entry entry) EXCLUDES(mu_);
  // Drops the entry of `txn`, if any. Call with its lease held, before
  // writing the transaction's state any other way than Put.
  void Erase(const TxnId& txn) EXCLUDES(mu_);
  // A hint (no lease needed): whether Take would find an entry now.
  bool Contains(const TxnId& txn) const EXCLUDES(mu_);

  Stats stats() const EXCLUDES(mu_);

 private:
  struct Slot {
    Entry entry;
    uint64_t bytes;
    std::list<TxnId>::iterator order;  // position in order_
  };
  void EraseLocked(std::unordered_map<TxnId, Slot>::iterator it) REQUIRES(mu_);

  const uint64_t max_bytes_;
  mutable Mutex mu_;
  std::unordered_map<TxnId, Slot> slots_ GUARDED_BY(mu_);
  std::list<TxnId> order_ GUARDED_BY(mu_);  // oldest written first
  uint64_t bytes_ GUARDED_BY(mu_) = 0;
  uint64_t hits_ GUARDED_BY(mu_) = 0;
  uint64_t misses_ GUARDED_BY(mu_) = 0;
  uint64_t evictions_ GUARDED_BY(mu_) = 0;
};

}  // namespace halfmq::broker

#endif  // HALFMQ_BROKER_TXN_CACHE_H_
