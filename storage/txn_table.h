// TxnTable: typed reads and writes of every transaction record, so that the
// broker's transaction code names no key and no keyspace. The encodings are
// those of docs/storage_format.md ("Transactions"); this class and keys.h
// are the only places that know them.
//
//   record                         keyspace       written by
//   half messages (by sequence)    txn_half       PutHalf / DeleteHalves
//   state record (TxnRecord)       txn            PutRecord / DeleteRecord
//   unresolved index               txn            PutUnresolved / DeleteUnresolved
//   settled outcome                txn_outcome    PutOutcome / ForgetOutcome
//   check-due index, per group     txn_due        PutDueCheck / DeleteDueCheck
//   max-age deadline               txn_age        PutAgeDeadline / DeleteAgeDeadline
//   settled-outcome expiry         txn_settled    PutSettledExpiry / ForgetOutcome
//
// Writes go into a caller's Batch (one state change is one batch; the
// caller commits it), so they are static. There are no range deletes: every
// transaction keyspace has memtable insert hints (storage/insert_hint.h),
// where a range delete is fatal; a transaction's keys are deleted one by one
// from what its state record names.
//
// Reads may touch disk: blocking pool, scanner thread or start-up only.
// A TxnTable is a view of a Store it does not own (which must outlive it);
// cheap to copy; thread-safe like the Store.
#ifndef HALFMQ_STORAGE_TXN_TABLE_H_
#define HALFMQ_STORAGE_TXN_TABLE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>

#include <google/protobuf/repeated_ptr_field.h>

#include "common/ids.h"
#include "common/status.h"
#include "proto/halfmq/v1/records.pb.h"
#include "storage/batch.h"

namespace halfmq::storage {

class Store;

class TxnTable {
 public:
  // A transaction in a time index (due check, age deadline, outcome expiry).
  struct TimedTxn {
    int64_t ms = 0;
    TxnId txn;
  };
  // Return false to stop a scan.
  using TimedFn = std::function<bool(const TimedTxn&)>;
  using RecordFn = std::function<bool(const v1::TxnRecord&)>;

  explicit TxnTable(const Store* store) : store_(store) {}

  // --- Half messages -------------------------------------------------------
  // `message` is a serialized v1::Message, number `seq` of the transaction.
  static void PutHalf(Batch* batch, const TxnId& txn, uint32_t seq, std::string_view message);
  // Deletes half messages 0..count-1.
  static void DeleteHalves(Batch* batch, const TxnId& txn, uint32_t count);
  // Reads half messages 0..count-1 by point reads (a Get is answered from
  // the memtable or skips files by their Bloom filters; a prefix seek would
  // position an iterator in every file of every level). Errors: INTERNAL for
  // a missing or corrupt half message, or RocksDB's error.
  Result<google::protobuf::RepeatedPtrField<v1::Message>> ReadHalves(const TxnId& txn,
                                                                     uint32_t count) const;

  // --- State records and the unresolved index ------------------------------
  static void PutRecord(Batch* batch, const v1::TxnRecord& record);  // keyed by record.txn_id()
  static void DeleteRecord(Batch* batch, const TxnId& txn);
  static void PutUnresolved(Batch* batch, const TxnId& txn);
  static void DeleteUnresolved(Batch* batch, const TxnId& txn);
  // The state record, if any. Errors: INTERNAL for a corrupt record.
  Result<std::optional<v1::TxnRecord>> GetRecord(const TxnId& txn) const;
  // Every state record (pending and unresolved) in transaction id order,
  // starting after `start_after` (empty: from the first). Errors: INTERNAL
  // for a corrupt record (the scan stops there).
  Status ScanRecords(const TxnId& start_after, const RecordFn& fn) const;
  // The state records of the unresolved index in transaction id order,
  // starting after `start_after`. An index entry whose record is missing or
  // corrupt is skipped. Errors: RocksDB's.
  Status ScanUnresolvedRecords(const TxnId& start_after, const RecordFn& fn) const;

  // --- Settled outcomes and their expiry -----------------------------------
  static void PutOutcome(Batch* batch, const v1::TxnOutcomeRecord& record);  // by txn_id()
  static void PutSettledExpiry(Batch* batch, int64_t expire_ms, const TxnId& txn);
  // Deletes an outcome and its expiry entry.
  static void ForgetOutcome(Batch* batch, int64_t expire_ms, const TxnId& txn);
  // The remembered outcome, if any. Errors: INTERNAL for a corrupt record.
  Result<std::optional<v1::TxnOutcomeRecord>> GetOutcome(const TxnId& txn) const;
  // Remembered outcomes, the earliest expiry first, whatever their expiry
  // (the scanner forgets those past their expiry and then the oldest beyond
  // a count; start-up counts them). Errors: RocksDB's.
  Status ScanSettledByExpiry(const TimedFn& fn) const;

  // --- Check-due index, per producer group ---------------------------------
  static void PutDueCheck(Batch* batch, const ProducerGroup& group, int64_t due_ms,
                          const TxnId& txn);
  static void DeleteDueCheck(Batch* batch, const ProducerGroup& group, int64_t due_ms,
                             const TxnId& txn);
  // Checks of `group` due in [from_ms, until_ms], earliest first.
  Status ScanDueChecks(const ProducerGroup& group, int64_t from_ms, int64_t until_ms,
                       const TimedFn& fn) const;
  // The earliest due time of `group` at or after from_ms, if any.
  // Errors: RocksDB's.
  Result<std::optional<int64_t>> FirstDueCheck(const ProducerGroup& group, int64_t from_ms) const;
  // The earliest due check of every group with one, one seek per group
  // (start-up).
  Status ScanFirstDuePerGroup(
      const std::function<void(const ProducerGroup&, int64_t due_ms)>& fn) const;

  // --- Max-age deadlines ---------------------------------------------------
  static void PutAgeDeadline(Batch* batch, int64_t deadline_ms, const TxnId& txn);
  static void DeleteAgeDeadline(Batch* batch, int64_t deadline_ms, const TxnId& txn);
  // Deadlines at or before until_ms, earliest first.
  Status ScanAgeDeadlines(int64_t until_ms, const TimedFn& fn) const;

 private:
  const Store* store_;  // not owned
};

}  // namespace halfmq::storage

#endif  // HALFMQ_STORAGE_TXN_TABLE_H_
