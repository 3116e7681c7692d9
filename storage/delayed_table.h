// DelayedTable: the `delayed` keyspace, where a message sent with a delay
// (or a delivery time) waits, ordered by due time, until the broker's delay
// scheduler appends it to its topic and deletes it in the same batch. Reading
// only what is due costs in proportion to the due messages, not to all that
// wait. The encoding is in keys.h and docs/storage_format.md.
//
// Writes are static (they only add to a Batch); reads go to the Store and
// may block on disk (background threads and start-up only). A DelayedTable
// holds only a pointer to a Store that outlives it; thread-safe.
#ifndef HALFMQ_STORAGE_DELAYED_TABLE_H_
#define HALFMQ_STORAGE_DELAYED_TABLE_H_

#include <cstdint>
#include <functional>
#include <optional>

#include "common/status.h"
#include "proto/halfmq/v1/api.pb.h"
#include "storage/batch.h"

namespace halfmq::storage {

class Store;

class DelayedTable {
 public:
  // Where a delayed message waits: its due time, and a number unique among
  // the messages due in that millisecond that orders them (the caller keeps
  // it increasing so that they keep their send order).
  struct Slot {
    int64_t due_ms = 0;
    uint64_t unique = 0;
  };

  explicit DelayedTable(const Store* store) : store_(store) {}

  // Stores `message` (its topic, queue selector, body...) at `slot`.
  static void Put(Batch* batch, Slot slot, const v1::Message& message);
  static void Delete(Batch* batch, Slot slot);

  // Calls fn, in due order, for each message due at or before `now_ms`
  // until fn returns false. `message` is null when its record is
  // unreadable; the caller deletes it like any other. Errors: INTERNAL from
  // RocksDB.
  Status ScanDue(int64_t now_ms,
                 const std::function<bool(Slot slot, v1::Message* message)>& fn) const;
  // Due time of the earliest waiting message; nullopt when none waits.
  // Errors: INTERNAL from RocksDB.
  Result<std::optional<int64_t>> EarliestDue() const;
  // Number of waiting messages (reads them all: start-up only).
  // Errors: INTERNAL from RocksDB.
  Result<int64_t> Count() const;

 private:
  const Store* const store_;
};

}  // namespace halfmq::storage

#endif  // HALFMQ_STORAGE_DELAYED_TABLE_H_
