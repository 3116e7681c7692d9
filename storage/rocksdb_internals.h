// The fence around what storage/ relies on in RocksDB beyond its documented
// interface (storage/README.md, "RocksDB internals we depend on", lists each
// with the test that catches a change).
//
// Three components reach such internals or work around a bug of one
// release: our memtable (memtable_rep.h: rocksdb::Arena, LookupKey's
// layout), the WAL zero-filler (wal_file.h: WAL file names, appends only
// through Append, a second descriptor, truncation at close) and the insert
// hints (insert_hint.h: 7.8's range-tombstone bug). They were checked
// against one RocksDB release, named below and nowhere else. Built against
// another, they are compiled out or never switched on, and the store uses
// RocksDB's own components instead: its skip-list memtable, the WAL without
// zero fill, inserts without hints. The same fallbacks can be chosen at run
// time (StoreOptions::own_memtable and ::wal_zero_fill; the broker's
// --storage_memtable=rocksdb and --storage_wal_zero_fill=false), which is
// how the tests run them on the checked release too.
#ifndef HALFMQ_STORAGE_ROCKSDB_INTERNALS_H_
#define HALFMQ_STORAGE_ROCKSDB_INTERNALS_H_

#include <string>

#include <rocksdb/version.h>

// The RocksDB release (major.minor) whose internals the code behind
// HALFMQ_ROCKSDB_INTERNALS_CHECKED was read against and tested with.
#define HALFMQ_ROCKSDB_CHECKED_MAJOR 7
#define HALFMQ_ROCKSDB_CHECKED_MINOR 8

// 1 when building against that release: only then are the internals
// compiled in. HALFMQ_ROCKSDB_INTERNALS_OFF (a compile definition of the
// storage library: cmake -DHALFMQ_ROCKSDB_INTERNALS=OFF) forces 0, to build
// and test the fallbacks alone on the checked release. Only the storage
// library's own sources may test this macro.
#if !defined(HALFMQ_ROCKSDB_INTERNALS_OFF) && ROCKSDB_MAJOR == HALFMQ_ROCKSDB_CHECKED_MAJOR && \
    ROCKSDB_MINOR == HALFMQ_ROCKSDB_CHECKED_MINOR
#define HALFMQ_ROCKSDB_INTERNALS_CHECKED 1
#else
#define HALFMQ_ROCKSDB_INTERNALS_CHECKED 0
#endif

namespace halfmq::storage {

struct StoreOptions;

// Whether the storage module was built against the checked release, i.e.
// whether our memtable, the WAL zero-filler and the insert hints are
// available at all. A function of the library rather than the macro, which
// code outside it (tests) may see with other compile definitions.
bool RocksDbInternalsChecked();

// The components a store opened with some options uses.
struct StorageComponents {
  bool own_memtable = false;   // else RocksDB's SkipListFactory
  bool wal_zero_fill = false;  // else the WAL is only preallocated
  bool insert_hints = false;   // else memtables insert without hints
};

// What Store::Open uses for `options`: each component of ours that the
// options ask for and this build has (RocksDbInternalsChecked()).
StorageComponents ComponentsInUse(const StoreOptions& options);

// One line for the log at start: the RocksDB release, whether its internals
// were checked, and each component, e.g. "RocksDB 7.8.3 (internals checked
// for 7.8): memtable halfmq, WAL zero fill on, insert hints on".
std::string DescribeComponents(const StorageComponents& components);

}  // namespace halfmq::storage

#endif  // HALFMQ_STORAGE_ROCKSDB_INTERNALS_H_
