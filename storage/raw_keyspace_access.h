// RawKeyspaceAccess: puts, deletes, gets and scans by keyspace and encoded
// key, for storage's tests and for tools that must write or inspect records
// byte for byte (a corrupt record, a format-1 layout). Everything else goes
// through the typed operations of Batch, Store and the table classes
// (TxnTable, GroupTable, MessageIndex, DelayedTable), so that the storage
// format lives in storage/ alone. broker/ and client/ never include this
// header or storage/keys.h (scripts/check-layering.sh, run by ctest).
//
// Stateless; thread-safety is that of the Batch or Store passed in.
#ifndef HALFMQ_STORAGE_RAW_KEYSPACE_ACCESS_H_
#define HALFMQ_STORAGE_RAW_KEYSPACE_ACCESS_H_

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "storage/batch.h"
#include "storage/keys.h"
#include "storage/store.h"

namespace halfmq::storage {

class RawKeyspaceAccess {
 public:
  static void Put(Batch* batch, Keyspace keyspace, std::string_view key, std::string_view value) {
    batch->Put(keyspace, key, value);
  }
  static void Delete(Batch* batch, Keyspace keyspace, std::string_view key) {
    batch->Delete(keyspace, key);
  }
  // Fatal in keyspaces with memtable insert hints (see Batch::DeleteRange).
  static void DeleteRange(Batch* batch, Keyspace keyspace, std::string_view begin,
                          std::string_view end) {
    batch->DeleteRange(keyspace, begin, end);
  }
  static Result<std::optional<std::string>> Get(const Store* store, Keyspace keyspace,
                                                std::string_view key) {
    return store->Get(keyspace, key);
  }
  static Status Scan(const Store* store, Keyspace keyspace, std::string_view start,
                     std::string_view end,
                     const std::function<bool(std::string_view, std::string_view)>& fn) {
    return store->Scan(keyspace, start, end, fn);
  }
};

}  // namespace halfmq::storage

#endif  // HALFMQ_STORAGE_RAW_KEYSPACE_ACCESS_H_
