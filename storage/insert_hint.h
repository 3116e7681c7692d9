// Insert-hint prefixes for RocksDB memtables
// (ColumnFamilyOptions::memtable_insert_with_hint_prefix_extractor).
//
// A memtable is a skip list. Without a hint RocksDB reuses the splice of the
// previous insert only when the new key lands right next to it, and
// otherwise searches from the top level. Our group commits interleave several
// key streams per keyspace (a transaction's meta put and, a few ms later, its
// delete; the 'I' and 'T' entries of the index), so most inserts paid the
// full search: ~30% of the commit thread's CPU under transaction load. With a
// hint RocksDB keeps one splice per prefix and repairs it from the bottom
// level up, so an insert near the previous one of its stream costs O(log d)
// for a distance d rather than O(log n).
//
// The prefix names a stream whose keys arrive nearly in order: a queue
// (topic or subscription id + queue id), a producer group's due index, or a
// key type whose ids are time-ordered (message and transaction ids begin
// with their creation time in ms, see GenerateMessageId).
#ifndef HALFMQ_STORAGE_INSERT_HINT_H_
#define HALFMQ_STORAGE_INSERT_HINT_H_

#include <memory>

#include <rocksdb/slice_transform.h>

#include "storage/keys.h"

namespace halfmq::storage {

// Whether a keyspace's memtables insert with hints. Those that do must never
// get range deletes (see insert_hint.cc).
bool HasInsertHints(Keyspace k);

// The hint prefix extractor for a keyspace, or nullptr where it has none
// (no insert locality: delayed messages, metadata; or range deletes).
std::shared_ptr<const rocksdb::SliceTransform> InsertHintPrefix(Keyspace k);

}  // namespace halfmq::storage

#endif  // HALFMQ_STORAGE_INSERT_HINT_H_
