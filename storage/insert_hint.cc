#include "storage/insert_hint.h"

#include <cstring>

namespace halfmq::storage {
namespace {

// The first `n` bytes (the whole key if shorter).
class LeadingBytes : public rocksdb::SliceTransform {
 public:
  explicit LeadingBytes(size_t n) : n_(n) {}
  const char* Name() const override { return "halfmq.LeadingBytes"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return rocksdb::Slice(key.data(), key.size() < n_ ? key.size() : n_);
  }
  bool InDomain(const rocksdb::Slice&) const override { return true; }

 private:
  const size_t n_;
};

// The type byte of keys of one type; keys of other types insert without a
// hint.
class OneType : public rocksdb::SliceTransform {
 public:
  explicit OneType(char type) : type_(type) {}
  const char* Name() const override { return "halfmq.OneType"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return rocksdb::Slice(key.data(), 1);
  }
  bool InDomain(const rocksdb::Slice& key) const override {
    return !key.empty() && key[0] == type_;
  }

 private:
  const char type_;
};

// The type byte and the name after it up to and including its '\0'
// terminator ('C' + group + '\0' of the due index); the whole key if it has
// no terminator.
class TypeAndName : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "halfmq.TypeAndName"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    if (key.size() <= 1) return key;
    const void* nul = std::memchr(key.data() + 1, '\0', key.size() - 1);
    if (nul == nullptr) return key;
    return rocksdb::Slice(key.data(), static_cast<const char*>(nul) - key.data() + 1);
  }
  bool InDomain(const rocksdb::Slice&) const override { return true; }
};

}  // namespace

bool HasInsertHints(Keyspace k) {
  return k != Keyspace::kMessages && k != Keyspace::kInflight && k != Keyspace::kDefault &&
         k != Keyspace::kMeta && k != Keyspace::kDelayed;
}

std::shared_ptr<const rocksdb::SliceTransform> InsertHintPrefix(Keyspace k) {
  if (!HasInsertHints(k)) return nullptr;
  switch (k) {
    case Keyspace::kCursors:  // subscription id + queue id
      return std::make_shared<LeadingBytes>(8);
    case Keyspace::kTxnDue:  // per producer group, by due time
      return std::make_shared<TypeAndName>();
    case Keyspace::kTxn:         // 'M' and 'U' + time-ordered transaction id
    case Keyspace::kTxnHalf:     // 'H' + transaction id
    case Keyspace::kTxnOutcome:  // 'O' + transaction id
    case Keyspace::kTxnAge:      // 'A' + deadline
    case Keyspace::kTxnSettled:  // 'X' + expiry time
      return std::make_shared<LeadingBytes>(1);
    case Keyspace::kIndex:
      // 'I' + message id: written as messages are stored. Not the trace
      // events: those of deliveries, acks and commits go next to the
      // message's earlier events, all over the keyspace, and a hint that
      // jumps costs more than RocksDB's plain insert. Nor 'K' + user key.
      return std::make_shared<OneType>(keys::kIdIndexPrefix);
    case Keyspace::kMessages:
    case Keyspace::kInflight:
      // Range deletes (retention, ack runs): RocksDB 7.8 passes the point
      // table's hints to the range-tombstone skip list as well, which
      // corrupts it (an assertion in InlineSkipList::Insert; later releases
      // use hints for point keys only). Appends to one queue still get
      // RocksDB's own last-insert splice.
    case Keyspace::kDefault:
    case Keyspace::kMeta:
    case Keyspace::kDelayed:
      return nullptr;
  }
  return nullptr;
}

}  // namespace halfmq::storage
