#include "storage/delayed_table.h"

#include "storage/keys.h"
#include "storage/store.h"

namespace halfmq::storage {

void DelayedTable::Put(Batch* batch, Slot slot, const v1::Message& message) {
  batch->Put(Keyspace::kDelayed, keys::DelayedKey(slot.due_ms, slot.unique),
             message.SerializeAsString());
}

void DelayedTable::Delete(Batch* batch, Slot slot) {
  batch->Delete(Keyspace::kDelayed, keys::DelayedKey(slot.due_ms, slot.unique));
}

Status DelayedTable::ScanDue(int64_t now_ms,
                             const std::function<bool(Slot slot, v1::Message* message)>& fn) const {
  return store_->Scan(Keyspace::kDelayed, "", keys::DelayedKey(now_ms + 1, 0),
                      [&](std::string_view key, std::string_view value) {
                        auto due = keys::ParseDelayedDue(key);
                        // Only Put writes this keyspace, so every key parses.
                        if (!due) return true;
                        Slot slot{*due, DecodeFixed64BE(key.data() + 8)};
                        v1::Message message;
                        bool ok =
                            message.ParseFromArray(value.data(), static_cast<int>(value.size()));
                        return fn(slot, ok ? &message : nullptr);
                      });
}

Result<std::optional<int64_t>> DelayedTable::EarliestDue() const {
  std::optional<int64_t> due;
  HALFMQ_RETURN_IF_ERROR(
      store_->Scan(Keyspace::kDelayed, "", "", [&](std::string_view key, std::string_view) {
        due = keys::ParseDelayedDue(key);
        return false;
      }));
  return due;
}

Result<int64_t> DelayedTable::Count() const {
  int64_t count = 0;
  HALFMQ_RETURN_IF_ERROR(
      store_->Scan(Keyspace::kDelayed, "", "", [&](std::string_view, std::string_view) {
        ++count;
        return true;
      }));
  return count;
}

}  // namespace halfmq::storage
