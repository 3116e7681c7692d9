#include "storage/txn_table.h"

#include <string>

#include "storage/keys.h"
#include "storage/raw_keyspace_access.h"
#include "storage/store.h"

namespace halfmq::storage {

namespace {

// The end of a scan of a time index that includes until_ms: the key of
// until_ms + 1 with an empty transaction id, or the prefix's end when there
// is no later time.
std::string TimeScanEnd(char prefix, int64_t until_ms) {
  if (until_ms == INT64_MAX) return keys::PrefixSuccessor(std::string(1, prefix));
  return keys::TxnTimeKey(prefix, until_ms + 1, "");
}

// Scans a time index ('A' or 'X' keys) from `start` to `end`.
Status ScanTimes(const Store* store, Keyspace keyspace, const std::string& start,
                 const std::string& end, const TxnTable::TimedFn& fn) {
  return RawKeyspaceAccess::Scan(
      store, keyspace, start, end, [&](std::string_view key, std::string_view) {
        auto parts = keys::ParseTxnTimeKey(key);
        if (!parts) return true;  // not a key of this index
        return fn(TxnTable::TimedTxn{parts->due_ms, TxnId(std::move(parts->txn_id))});
      });
}

// The first key after every key of `prefix` + start_after, or `prefix` when
// start_after is empty: where a listing that pages by transaction id resumes.
std::string PageStart(char prefix, const TxnId& start_after) {
  std::string start(1, prefix);
  if (!start_after.empty()) {
    start += start_after.value();
    start.push_back('\0');
  }
  return start;
}

}  // namespace

// --- Half messages -----------------------------------------------------------

void TxnTable::PutHalf(Batch* batch, const TxnId& txn, uint32_t seq, std::string_view message) {
  batch->Put(Keyspace::kTxnHalf, keys::TxnHalfKey(txn.value(), seq), message);
}

void TxnTable::DeleteHalves(Batch* batch, const TxnId& txn, uint32_t count) {
  for (uint32_t seq = 0; seq < count; ++seq) {
    batch->Delete(Keyspace::kTxnHalf, keys::TxnHalfKey(txn.value(), seq));
  }
}

Result<google::protobuf::RepeatedPtrField<v1::Message>> TxnTable::ReadHalves(const TxnId& txn,
                                                                             uint32_t count) const {
  google::protobuf::RepeatedPtrField<v1::Message> out;
  for (uint32_t seq = 0; seq < count; ++seq) {
    auto value = store_->Get(Keyspace::kTxnHalf, keys::TxnHalfKey(txn.value(), seq));
    if (!value.ok()) return value.status();
    if (!value->has_value()) return Status::Internal("half message missing");
    v1::Message* m = out.Add();
    if (!m->ParseFromString(**value)) return Status::Internal("corrupt half message");
  }
  return out;
}

// --- State records and the unresolved index ----------------------------------

void TxnTable::PutRecord(Batch* batch, const v1::TxnRecord& record) {
  batch->Put(Keyspace::kTxn, keys::TxnMetaKey(record.txn_id()), record.SerializeAsString());
}

void TxnTable::DeleteRecord(Batch* batch, const TxnId& txn) {
  batch->Delete(Keyspace::kTxn, keys::TxnMetaKey(txn.value()));
}

void TxnTable::PutUnresolved(Batch* batch, const TxnId& txn) {
  batch->Put(Keyspace::kTxn, keys::TxnUnresolvedKey(txn.value()), "");
}

void TxnTable::DeleteUnresolved(Batch* batch, const TxnId& txn) {
  batch->Delete(Keyspace::kTxn, keys::TxnUnresolvedKey(txn.value()));
}

Result<std::optional<v1::TxnRecord>> TxnTable::GetRecord(const TxnId& txn) const {
  auto value = store_->Get(Keyspace::kTxn, keys::TxnMetaKey(txn.value()));
  if (!value.ok()) return value.status();
  if (!value->has_value()) return std::optional<v1::TxnRecord>();
  v1::TxnRecord r;
  if (!r.ParseFromString(**value)) return Status::Internal("corrupt transaction record");
  return std::optional<v1::TxnRecord>(std::move(r));
}

Status TxnTable::ScanRecords(const TxnId& start_after, const RecordFn& fn) const {
  Status parse;
  Status s = store_->Scan(Keyspace::kTxn, PageStart(keys::kTxnMetaPrefix, start_after),
                          keys::PrefixSuccessor(std::string(1, keys::kTxnMetaPrefix)),
                          [&](std::string_view, std::string_view value) {
                            v1::TxnRecord r;
                            if (!r.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
                              parse = Status::Internal("corrupt transaction record");
                              return false;
                            }
                            return fn(r);
                          });
  HALFMQ_RETURN_IF_ERROR(s);
  return parse;
}

Status TxnTable::ScanUnresolvedRecords(const TxnId& start_after, const RecordFn& fn) const {
  Status read;
  Status s = store_->Scan(Keyspace::kTxn, PageStart(keys::kTxnUnresolvedPrefix, start_after),
                          keys::PrefixSuccessor(std::string(1, keys::kTxnUnresolvedPrefix)),
                          [&](std::string_view key, std::string_view) {
                            auto value =
                                store_->Get(Keyspace::kTxn, keys::TxnMetaKey(key.substr(1)));
                            if (!value.ok()) {
                              read = value.status();
                              return false;
                            }
                            v1::TxnRecord r;
                            if (!value->has_value() || !r.ParseFromString(**value)) return true;
                            return fn(r);
                          });
  HALFMQ_RETURN_IF_ERROR(s);
  return read;
}

// --- Settled outcomes and their expiry ----------------------------------------

void TxnTable::PutOutcome(Batch* batch, const v1::TxnOutcomeRecord& record) {
  batch->Put(Keyspace::kTxnOutcome, keys::TxnOutcomeKey(record.txn_id()),
             record.SerializeAsString());
}

void TxnTable::PutSettledExpiry(Batch* batch, int64_t expire_ms, const TxnId& txn) {
  batch->Put(Keyspace::kTxnSettled,
             keys::TxnTimeKey(keys::kTxnSettledPrefix, expire_ms, txn.value()), "");
}

void TxnTable::ForgetOutcome(Batch* batch, int64_t expire_ms, const TxnId& txn) {
  batch->Delete(Keyspace::kTxnSettled,
                keys::TxnTimeKey(keys::kTxnSettledPrefix, expire_ms, txn.value()));
  batch->Delete(Keyspace::kTxnOutcome, keys::TxnOutcomeKey(txn.value()));
}

Result<std::optional<v1::TxnOutcomeRecord>> TxnTable::GetOutcome(const TxnId& txn) const {
  auto value = store_->Get(Keyspace::kTxnOutcome, keys::TxnOutcomeKey(txn.value()));
  if (!value.ok()) return value.status();
  if (!value->has_value()) return std::optional<v1::TxnOutcomeRecord>();
  v1::TxnOutcomeRecord r;
  if (!r.ParseFromString(**value)) return Status::Internal("corrupt transaction outcome");
  return std::optional<v1::TxnOutcomeRecord>(std::move(r));
}

Status TxnTable::ScanSettledByExpiry(const TimedFn& fn) const {
  std::string start(1, keys::kTxnSettledPrefix);
  return ScanTimes(store_, Keyspace::kTxnSettled, start, keys::PrefixSuccessor(start), fn);
}

// --- Check-due index -----------------------------------------------------------

void TxnTable::PutDueCheck(Batch* batch, const ProducerGroup& group, int64_t due_ms,
                           const TxnId& txn) {
  batch->Put(Keyspace::kTxnDue, keys::TxnCheckDueKey(group.value(), due_ms, txn.value()), "");
}

void TxnTable::DeleteDueCheck(Batch* batch, const ProducerGroup& group, int64_t due_ms,
                              const TxnId& txn) {
  batch->Delete(Keyspace::kTxnDue, keys::TxnCheckDueKey(group.value(), due_ms, txn.value()));
}

Status TxnTable::ScanDueChecks(const ProducerGroup& group, int64_t from_ms, int64_t until_ms,
                               const TimedFn& fn) const {
  std::string end = until_ms == INT64_MAX
                        ? keys::PrefixSuccessor(keys::TxnCheckDuePrefix(group.value()))
                        : keys::TxnCheckDueKey(group.value(), until_ms + 1, "");
  return store_->Scan(Keyspace::kTxnDue, keys::TxnCheckDueKey(group.value(), from_ms, ""), end,
                      [&](std::string_view key, std::string_view) {
                        auto parts = keys::ParseTxnCheckDueKey(key);
                        if (!parts) return true;
                        return fn(TimedTxn{parts->due_ms, TxnId(std::move(parts->txn_id))});
                      });
}

Result<std::optional<int64_t>> TxnTable::FirstDueCheck(const ProducerGroup& group,
                                                       int64_t from_ms) const {
  std::optional<int64_t> first;
  HALFMQ_RETURN_IF_ERROR(ScanDueChecks(group, from_ms, INT64_MAX, [&](const TimedTxn& t) {
    first = t.ms;
    return false;
  }));
  return first;
}

Status TxnTable::ScanFirstDuePerGroup(
    const std::function<void(const ProducerGroup&, int64_t due_ms)>& fn) const {
  // A skip-scan over the 'C' keys: after a group's first key, seek past the
  // whole group.
  std::string all(1, keys::kTxnCheckDuePrefix);
  const std::string all_end = keys::PrefixSuccessor(all);
  std::string pos = all;
  for (;;) {
    std::optional<keys::TxnDueKeyParts> first;
    HALFMQ_RETURN_IF_ERROR(
        store_->Scan(Keyspace::kTxnDue, pos, all_end, [&](std::string_view key, std::string_view) {
          first = keys::ParseTxnCheckDueKey(key);
          return false;
        }));
    if (!first) return Status::Ok();
    fn(ProducerGroup(first->group), first->due_ms);
    pos = keys::PrefixSuccessor(keys::TxnCheckDuePrefix(first->group));
  }
}

// --- Max-age deadlines -----------------------------------------------------------

void TxnTable::PutAgeDeadline(Batch* batch, int64_t deadline_ms, const TxnId& txn) {
  batch->Put(Keyspace::kTxnAge, keys::TxnTimeKey(keys::kTxnAgePrefix, deadline_ms, txn.value()),
             "");
}

void TxnTable::DeleteAgeDeadline(Batch* batch, int64_t deadline_ms, const TxnId& txn) {
  batch->Delete(Keyspace::kTxnAge, keys::TxnTimeKey(keys::kTxnAgePrefix, deadline_ms, txn.value()));
}

Status TxnTable::ScanAgeDeadlines(int64_t until_ms, const TimedFn& fn) const {
  return ScanTimes(store_, Keyspace::kTxnAge, std::string(1, keys::kTxnAgePrefix),
                   TimeScanEnd(keys::kTxnAgePrefix, until_ms), fn);
}

}  // namespace halfmq::storage
