#include "storage/group_table.h"

#include <string>
#include <string_view>

#include <glog/logging.h>

#include "storage/keys.h"

namespace halfmq::storage {
namespace {

template <typename Record>
bool Parse(std::string_view value, Record* record) {
  return record->ParseFromArray(value.data(), static_cast<int>(value.size()));
}

}  // namespace

void GroupTable::PutConfig(Batch* batch, const v1::GroupConfigRecord& record) const {
  batch->Put(Keyspace::kMeta, keys::GroupConfigKey(record.group()), record.SerializeAsString());
}

Status GroupTable::LoadConfigs(const std::function<void(v1::GroupConfigRecord)>& fn) const {
  std::string start(1, keys::kGroupConfigPrefix);
  Status parse;
  HALFMQ_RETURN_IF_ERROR(store_->Scan(Keyspace::kMeta, start, keys::PrefixSuccessor(start),
                                      [&](std::string_view, std::string_view value) {
                                        v1::GroupConfigRecord r;
                                        if (!Parse(value, &r)) {
                                          parse = Status::Internal("corrupt group config record");
                                          return false;
                                        }
                                        fn(std::move(r));
                                        return true;
                                      }));
  return parse;
}

void GroupTable::PutDeadLetter(Batch* batch, const ConsumerGroup& group, const MessageId& id,
                               const v1::DeadLetterRecord& record) const {
  DCHECK_EQ(record.message_id(), id.value());
  batch->Put(Keyspace::kMeta, keys::DeadLetterKey(group.value(), id.value()),
             record.SerializeAsString());
}

void GroupTable::DeleteDeadLetter(Batch* batch, const ConsumerGroup& group,
                                  const MessageId& id) const {
  batch->Delete(Keyspace::kMeta, keys::DeadLetterKey(group.value(), id.value()));
}

Result<std::optional<v1::DeadLetterRecord>> GroupTable::GetDeadLetter(const ConsumerGroup& group,
                                                                      const MessageId& id) const {
  auto value = store_->Get(Keyspace::kMeta, keys::DeadLetterKey(group.value(), id.value()));
  if (!value.ok()) return value.status();
  if (!value->has_value()) return std::optional<v1::DeadLetterRecord>();
  v1::DeadLetterRecord r;
  if (!Parse(**value, &r)) return Status::Internal("corrupt dead letter record");
  return std::optional<v1::DeadLetterRecord>(std::move(r));
}

Status GroupTable::ScanDeadLetters(const ConsumerGroup& group, const MessageId& start_after,
                                   const std::function<bool(v1::DeadLetterRecord)>& fn) const {
  std::string prefix = keys::DeadLetterPrefix(group.value());
  std::string start = prefix + start_after.value();
  // Message ids hold no '\0': the key after `start_after`'s own comes next.
  if (!start_after.empty()) start.push_back('\0');
  Status parse;
  HALFMQ_RETURN_IF_ERROR(store_->Scan(Keyspace::kMeta, start, keys::PrefixSuccessor(prefix),
                                      [&](std::string_view, std::string_view value) {
                                        v1::DeadLetterRecord r;
                                        if (!Parse(value, &r)) {
                                          parse = Status::Internal("corrupt dead letter record");
                                          return false;
                                        }
                                        return fn(std::move(r));
                                      }));
  return parse;
}

Status GroupTable::ScanAllDeadLetters(
    const std::function<bool(const ConsumerGroup& group, const v1::DeadLetterRecord&)>& fn) const {
  std::string start = keys::DeadLetterPrefix("");
  start.pop_back();  // without the separator: the prefix of every group's records
  return store_->Scan(Keyspace::kMeta, start, keys::PrefixSuccessor(start),
                      [&](std::string_view key, std::string_view value) {
                        v1::DeadLetterRecord r;
                        if (!Parse(value, &r)) return true;
                        // The group is the key's part before the '\0'.
                        std::string_view rest = key.substr(1);
                        ConsumerGroup group(std::string(rest.substr(0, rest.find('\0'))));
                        return fn(group, r);
                      });
}

Status GroupTable::DeleteDeadLettersBefore(int64_t cutoff_ms, uint32_t max_count,
                                           Batch* batch) const {
  // Every group's records: the prefix byte of keys::DeadLetterPrefix.
  std::string start = keys::DeadLetterPrefix("").substr(0, 1);
  return store_->Scan(Keyspace::kMeta, start, keys::PrefixSuccessor(start),
                      [&](std::string_view key, std::string_view value) {
                        v1::DeadLetterRecord r;
                        if (r.ParseFromArray(value.data(), static_cast<int>(value.size())) &&
                            r.info().dead_lettered_ms() < cutoff_ms) {
                          batch->Delete(Keyspace::kMeta, key);
                        }
                        return batch->count() < max_count;
                      });
}

}  // namespace halfmq::storage
