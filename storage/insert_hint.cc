#include "storage/insert_hint.h"

#include <cstring>

namespace halfmq::storage {
namespace {

// Base of our extractors: no key is in the domain until the store enables
// hints.
class HintPrefix : public rocksdb::SliceTransform {
 public:
  explicit HintPrefix(std::shared_ptr<const std::atomic<bool>> enabled)
      : enabled_(std::move(enabled)) {}
  bool InDomain(const rocksdb::Slice& key) const final {
    return enabled_->load(std::memory_order_acquire) && Streams(key);
  }

 protected:
  // Whether `key` belongs to a stream (otherwise it inserts without a hint).
  virtual bool Streams(const rocksdb::Slice& key) const = 0;

 private:
  const std::shared_ptr<const std::atomic<bool>> enabled_;
};

// The first `n` bytes (the whole key if shorter) of the keys `filter`
// accepts (all without one); other keys insert without a hint.
class LeadingBytes : public HintPrefix {
 public:
  using Filter = bool (*)(const rocksdb::Slice& key);
  LeadingBytes(std::shared_ptr<const std::atomic<bool>> enabled, size_t n,
               Filter filter = nullptr)
      : HintPrefix(std::move(enabled)), n_(n), filter_(filter) {}
  const char* Name() const override { return "halfmq.LeadingBytes"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return rocksdb::Slice(key.data(), key.size() < n_ ? key.size() : n_);
  }

 protected:
  bool Streams(const rocksdb::Slice& key) const override {
    return filter_ == nullptr || filter_(key);
  }

 private:
  const size_t n_;
  const Filter filter_;
};

// The type byte and the name after it up to and including its '\0'
// terminator ('C' + group + '\0' of the due index); the whole key if it has
// no terminator.
class TypeAndName : public HintPrefix {
 public:
  using HintPrefix::HintPrefix;
  const char* Name() const override { return "halfmq.TypeAndName"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    if (key.size() <= 1) return key;
    const void* nul = std::memchr(key.data() + 1, '\0', key.size() - 1);
    if (nul == nullptr) return key;
    return rocksdb::Slice(key.data(), static_cast<const char*>(nul) - key.data() + 1);
  }

 protected:
  bool Streams(const rocksdb::Slice&) const override { return true; }
};

}  // namespace

bool HasInsertHints(Keyspace k) {
  return k != Keyspace::kDefault && k != Keyspace::kMeta && k != Keyspace::kDelayed;
}

std::shared_ptr<const rocksdb::SliceTransform> InsertHints::For(Keyspace k) const {
  switch (k) {
    case Keyspace::kCursors:  // subscription id + queue id
      return std::make_shared<LeadingBytes>(enabled_, 8);
    case Keyspace::kMessages:  // a queue's offsets, appended in order
    case Keyspace::kInflight:  // a subscription queue's deliveries
      // The (id, queue) prefix of 16-byte (id, queue, offset) point keys.
      // Range deletes begin at keys of other lengths (keys::OffsetRangeBegin),
      // which insert without a hint (see the header).
      return std::make_shared<LeadingBytes>(
          enabled_, 8, [](const rocksdb::Slice& key) { return key.size() == 16; });
    case Keyspace::kTxnDue:  // per producer group, by due time
      return std::make_shared<TypeAndName>(enabled_);
    case Keyspace::kTxn:         // 'M' and 'U' + time-ordered transaction id
    case Keyspace::kTxnHalf:     // 'H' + transaction id
    case Keyspace::kTxnOutcome:  // 'O' + transaction id
    case Keyspace::kTxnAge:      // 'A' + deadline
    case Keyspace::kTxnSettled:  // 'X' + expiry time
      return std::make_shared<LeadingBytes>(enabled_, 1);
    case Keyspace::kIndex:
      // 'I' + message id: written as messages are stored. Not the trace
      // events: those of deliveries, acks and commits go next to the
      // message's earlier events, all over the keyspace, and a hint that
      // jumps costs more than RocksDB's plain insert. Nor 'K' + user key.
      return std::make_shared<LeadingBytes>(enabled_, 1, [](const rocksdb::Slice& key) {
        return !key.empty() && key[0] == keys::kIdIndexPrefix;
      });
    case Keyspace::kDefault:
    case Keyspace::kMeta:
    case Keyspace::kDelayed:
      return nullptr;
  }
  return nullptr;
}

}  // namespace halfmq::storage
