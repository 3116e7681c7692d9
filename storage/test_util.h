// Helpers for the storage tests.
#ifndef HALFMQ_STORAGE_TEST_UTIL_H_
#define HALFMQ_STORAGE_TEST_UTIL_H_

#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "storage/store.h"

namespace halfmq::storage {

// Applies the storage flags among HALFMQ_TEST_BROKER_FLAGS (the flags the
// test run gives every broker it starts, see tests/util/broker_process.h)
// to `options`: --storage_memtable=halfmq|rocksdb and
// --storage_wal_zero_fill=true|false (or --[no]storage_wal_zero_fill).
// scripts/test.sh sets them to run the storage tests on RocksDB's own
// components as well (rocksdb_internals.h). Other flags are the broker's.
inline void ApplyTestFlags(StoreOptions* options) {
  const char* env = std::getenv("HALFMQ_TEST_BROKER_FLAGS");
  std::istringstream flags(env != nullptr ? env : "");
  for (std::string flag; flags >> flag;) {
    if (flag == "--storage_memtable=rocksdb") options->own_memtable = false;
    if (flag == "--storage_memtable=halfmq") options->own_memtable = true;
    if (flag == "--storage_wal_zero_fill=false" || flag == "--nostorage_wal_zero_fill") {
      options->wal_zero_fill = false;
    }
    if (flag == "--storage_wal_zero_fill=true" || flag == "--storage_wal_zero_fill") {
      options->wal_zero_fill = true;
    }
  }
}

// Default options for a test store at `path`, with the test run's storage
// flags (ApplyTestFlags).
inline StoreOptions TestStoreOptions(const std::string& path) {
  StoreOptions options;
  options.path = path;
  ApplyTestFlags(&options);
  return options;
}

// Opens a store at `path` with `options` otherwise (and the test run's
// storage flags, ApplyTestFlags); null, with a test failure, if it does not
// open.
inline std::unique_ptr<Store> OpenTestStore(const std::string& path, StoreOptions options = {}) {
  options.path = path;
  ApplyTestFlags(&options);
  auto store = Store::Open(options);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? std::move(store).value() : nullptr;
}

}  // namespace halfmq::storage

#endif  // HALFMQ_STORAGE_TEST_UTIL_H_
