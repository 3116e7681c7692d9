// The memtable representation of our keyspaces: a skip list for one writer
// and any number of concurrent readers (ColumnFamilyOptions::memtable_factory).
//
// Why not RocksDB's own (SkipListFactory): Debian builds RocksDB with its
// assertions on, and after every insert InlineSkipList re-validates the whole
// splice it used, four key comparisons per level of the list (12 levels in a
// full memtable), plus two per node it walks past. Those comparisons were
// most of the memtable work of the commit thread, the serial resource of the
// broker: ~45 per insert where the insert itself needs 2 to 4.
//
// This list has the same shape (nodes of 1..12 levels, branching factor 4,
// the key stored right after the bottom-level link, links written before a
// release store publishes the node) and the same insert hints: one splice per
// hint prefix (see insert_hint.h), repaired from the lowest level that still
// brackets the key. Inserts come from one thread at a time (RocksDB's write
// path without allow_concurrent_memtable_write, which Store::Open turns off);
// readers never block and see every node whose insert has returned.
//
// Range tombstones are not ours: RocksDB keeps them in a skip list of its own.
#ifndef HALFMQ_STORAGE_MEMTABLE_REP_H_
#define HALFMQ_STORAGE_MEMTABLE_REP_H_

#include <memory>

#include <rocksdb/memtablerep.h>

namespace halfmq::storage {

// Our memtable factory (Name() "HalfmqSkipList"), or null when this build
// does not have it: the list reaches two internals of RocksDB (see
// memtable_rep.cc) whose layout was checked for one release only
// (rocksdb_internals.h); against another the store keeps RocksDB's own.
std::shared_ptr<rocksdb::MemTableRepFactory> NewOrderedMemTableFactory();

}  // namespace halfmq::storage

#endif  // HALFMQ_STORAGE_MEMTABLE_REP_H_
