#include "storage/rocksdb_internals.h"

#include "storage/store.h"

namespace halfmq::storage {

bool RocksDbInternalsChecked() { return HALFMQ_ROCKSDB_INTERNALS_CHECKED == 1; }

StorageComponents ComponentsInUse(const StoreOptions& options) {
  StorageComponents c;
  c.own_memtable = RocksDbInternalsChecked() && options.own_memtable;
  c.wal_zero_fill = RocksDbInternalsChecked() && options.wal_zero_fill;
  // No option of their own: on the checked release they are always on (the
  // no-hint path runs anyway in every open, while the WAL is recovered).
  c.insert_hints = RocksDbInternalsChecked();
  return c;
}

std::string DescribeComponents(const StorageComponents& components) {
  std::string s = "RocksDB " + std::to_string(ROCKSDB_MAJOR) + "." + std::to_string(ROCKSDB_MINOR) +
                  "." + std::to_string(ROCKSDB_PATCH);
  s += RocksDbInternalsChecked() ? " (internals checked for " : " (internals checked only for ";
  s += std::to_string(HALFMQ_ROCKSDB_CHECKED_MAJOR) + "." +
       std::to_string(HALFMQ_ROCKSDB_CHECKED_MINOR);
  s += RocksDbInternalsChecked() ? ")" : ": using RocksDB's own components)";
  s += std::string(": memtable ") + (components.own_memtable ? "halfmq" : "rocksdb");
  s += std::string(", WAL zero fill ") + (components.wal_zero_fill ? "on" : "off");
  s += std::string(", insert hints ") + (components.insert_hints ? "on" : "off");
  return s;
}

}  // namespace halfmq::storage
