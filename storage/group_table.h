// GroupTable: typed storage of what consumer groups keep besides their
// subscriptions, cursors and in-flight entries: group configs (retry
// policies) and dead-letter records. The keys (`meta` keyspace, 'G' and 'D';
// docs/storage_format.md) are built only here, so broker code names no key.
//
// Writes add to a caller's Batch, so that a dead-letter record is written in
// the same atomic batch as the move (or redrive) it records. Reads may touch
// disk: call them from the blocking pool, background threads or start-up,
// never from network threads.
//
// A GroupTable is a small value over a Store it does not own; the Store must
// outlive it. Thread-safe (it has no state of its own).
#ifndef HALFMQ_STORAGE_GROUP_TABLE_H_
#define HALFMQ_STORAGE_GROUP_TABLE_H_

#include <functional>
#include <optional>

#include "common/ids.h"
#include "common/status.h"
#include "proto/halfmq/v1/records.pb.h"
#include "storage/batch.h"
#include "storage/store.h"

namespace halfmq::storage {

class GroupTable {
 public:
  explicit GroupTable(const Store* store) : store_(store) {}

  // --- Group configs -------------------------------------------------------
  // Stores (or replaces) the config of `record.group()`.
  void PutConfig(Batch* batch, const v1::GroupConfigRecord& record) const;
  // Calls fn for every stored group config, in group name order. Start-up.
  // Errors: INTERNAL for a record that does not parse, or RocksDB's read
  // error.
  Status LoadConfigs(const std::function<void(v1::GroupConfigRecord)>& fn) const;

  // --- Dead-letter records -------------------------------------------------
  // Stores (or replaces) the record of dead letter `id` of `group`;
  // `record.message_id()` must be `id`.
  void PutDeadLetter(Batch* batch, const ConsumerGroup& group, const MessageId& id,
                     const v1::DeadLetterRecord& record) const;
  void DeleteDeadLetter(Batch* batch, const ConsumerGroup& group, const MessageId& id) const;
  // The record of one dead letter; nullopt if there is none. Errors:
  // INTERNAL for a record that does not parse, or RocksDB's read error.
  Result<std::optional<v1::DeadLetterRecord>> GetDeadLetter(const ConsumerGroup& group,
                                                            const MessageId& id) const;
  // Calls fn for the group's records in message id order, starting after
  // `start_after` (empty: from the first), until fn returns false. Errors:
  // INTERNAL for a record that does not parse (the scan stops there), or
  // RocksDB's read error.
  Status ScanDeadLetters(const ConsumerGroup& group, const MessageId& start_after,
                         const std::function<bool(v1::DeadLetterRecord)>& fn) const;
  // Calls fn for every group's records (group order, then message id
  // order) until fn returns false; records that do not parse are skipped
  // (retention's sweep of old records must not stop at one). Errors:
  // RocksDB's read error.
  Status ScanAllDeadLetters(
      const std::function<bool(const ConsumerGroup& group, const v1::DeadLetterRecord&)>& fn) const;
  // Adds to `batch` the deletion of the dead-letter records (of every group)
  // dead-lettered before cutoff_ms, until `batch` holds max_count
  // operations (retention). Unreadable records are kept. Errors: RocksDB's
  // read error.
  Status DeleteDeadLettersBefore(int64_t cutoff_ms, uint32_t max_count, Batch* batch) const;

 private:
  const Store* const store_;
};

}  // namespace halfmq::storage

#endif  // HALFMQ_STORAGE_GROUP_TABLE_H_
