#include "storage/message_index.h"

#include "storage/keys.h"
#include "storage/store.h"

namespace halfmq::storage {

void MessageIndex::PutId(Batch* batch, const MessageId& id, TopicId topic,
                         const v1::IndexRecord& record) {
  batch->Put(Keyspace::kIndex, keys::IdIndexKey(id.value(), topic), record.SerializeAsString());
}

void MessageIndex::PutKey(Batch* batch, TopicId topic, std::string_view key,
                          const KeyedMessage& where) {
  batch->Put(Keyspace::kIndex,
             keys::KeyIndexKey(topic, key, where.store_ms, where.queue, where.offset), "");
}

void MessageIndex::PutTrace(Batch* batch, const MessageId& id, int64_t time_ms, uint64_t seq,
                            const v1::TraceEvent& event) {
  batch->Put(Keyspace::kIndex, keys::TraceKey(id.value(), time_ms, seq), event.SerializeAsString());
}

Result<std::optional<v1::IndexRecord>> MessageIndex::FindId(const MessageId& id,
                                                            TopicId topic) const {
  auto value = store_->Get(Keyspace::kIndex, keys::IdIndexKey(id.value(), topic));
  if (!value.ok()) return value.status();
  v1::IndexRecord record;
  if (!value->has_value() || !record.ParseFromString(**value)) {
    return std::optional<v1::IndexRecord>();
  }
  return std::optional<v1::IndexRecord>(std::move(record));
}

Status MessageIndex::ScanId(
    const MessageId& id,
    const std::function<bool(TopicId topic, v1::IndexRecord record)>& fn) const {
  std::string prefix = keys::IdIndexPrefix(id.value());
  return store_->Scan(Keyspace::kIndex, prefix, keys::PrefixSuccessor(prefix),
                      [&](std::string_view key, std::string_view value) {
                        if (key.size() != prefix.size() + 4) return true;
                        TopicId topic(DecodeFixed32BE(key.data() + prefix.size()));
                        v1::IndexRecord record;
                        if (!record.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
                          return true;
                        }
                        return fn(topic, std::move(record));
                      });
}

Status MessageIndex::ScanKey(TopicId topic, std::string_view key,
                             const std::function<bool(const KeyedMessage&)>& fn) const {
  std::string prefix = keys::KeyIndexPrefix(topic, key);
  return store_->Scan(Keyspace::kIndex, prefix, keys::PrefixSuccessor(prefix),
                      [&](std::string_view k, std::string_view) {
                        auto parts = keys::ParseKeyIndexSuffix(k.substr(prefix.size()));
                        if (!parts) return true;
                        return fn(KeyedMessage{parts->store_ms, parts->queue, parts->offset});
                      });
}

Status MessageIndex::ScanTraces(const MessageId& id,
                                const std::function<bool(v1::TraceEvent event)>& fn) const {
  std::string prefix = keys::TracePrefix(id.value());
  return store_->Scan(Keyspace::kIndex, prefix, keys::PrefixSuccessor(prefix),
                      [&](std::string_view, std::string_view value) {
                        v1::TraceEvent event;
                        if (!event.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
                          return true;
                        }
                        return fn(std::move(event));
                      });
}

}  // namespace halfmq::storage
