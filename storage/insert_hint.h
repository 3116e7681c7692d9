// Insert-hint prefixes for RocksDB memtables
// (ColumnFamilyOptions::memtable_insert_with_hint_prefix_extractor).
//
// A memtable is a skip list. Without a hint RocksDB reuses the splice of the
// previous insert only when the new key lands right next to it, and
// otherwise searches from the top level. Our group commits interleave several
// key streams per keyspace (a transaction's meta put and, a few ms later, its
// delete; the eight queues of a topic), so most inserts paid the full search:
// ~30% of the commit thread's CPU under transaction load. With a hint RocksDB
// keeps one splice per prefix and repairs it from the bottom level up, so an
// insert near the previous one of its stream costs O(log d) for a distance d
// rather than O(log n).
//
// The prefix names a stream whose keys arrive nearly in order: a queue
// (topic or subscription id + queue id: messages, deliveries, cursors), a
// producer group's due index, or a key type whose ids are time-ordered
// (message and transaction ids begin with their creation time in ms, see
// GenerateMessageId).
//
// Range deletes: RocksDB 7.8 hands the point table's hints to the
// range-tombstone skip list as well, which corrupts it (an assertion in
// InlineSkipList::Insert; later releases use hints for point keys only). So a
// range delete in a hinted keyspace must begin at a key the extractor leaves
// out of its domain. Only `messages` and `inflight` get range deletes,
// through Batch::DeleteMessages and DeleteInflightRange, which begin them at
// keys::OffsetRangeBegin (not 16 bytes long, unlike their point keys); the
// generic Batch::DeleteRange refuses hinted keyspaces. Data directories
// written before this began range deletes at point keys, and recovery at
// open replays them from the WAL: hints are therefore off until the store is
// open (InsertHints::Enable).
#ifndef HALFMQ_STORAGE_INSERT_HINT_H_
#define HALFMQ_STORAGE_INSERT_HINT_H_

#include <atomic>
#include <memory>

#include <rocksdb/slice_transform.h>

#include "storage/keys.h"

namespace halfmq::storage {

// Whether a keyspace's memtables insert with hints.
bool HasInsertHints(Keyspace k);

// The hint prefix extractors of one store's keyspaces, all switched on
// together by Enable(). Thread-safe.
class InsertHints {
 public:
  InsertHints() : enabled_(std::make_shared<std::atomic<bool>>(false)) {}

  // The extractor for a keyspace (nullptr where it has none: no insert
  // locality in delayed messages and metadata). Until Enable() it puts no key
  // in its domain, so memtables insert without hints.
  std::shared_ptr<const rocksdb::SliceTransform> For(Keyspace k) const;

  void Enable() { enabled_->store(true, std::memory_order_release); }

 private:
  // Shared with the extractors, which RocksDB may keep after this is gone.
  std::shared_ptr<std::atomic<bool>> enabled_;
};

}  // namespace halfmq::storage

#endif  // HALFMQ_STORAGE_INSERT_HINT_H_
