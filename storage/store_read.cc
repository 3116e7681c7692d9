// Store: reads.
#include <glog/logging.h>
#include <rocksdb/db.h>

#include "storage/rocksdb_status.h"
#include "storage/store.h"

namespace halfmq::storage {
namespace {

std::string_view View(const rocksdb::Slice& s) { return std::string_view(s.data(), s.size()); }

// The next key after every key that starts with `prefix`.
std::string PrefixEnd(std::string prefix) {
  while (!prefix.empty()) {
    auto& c = reinterpret_cast<unsigned char&>(prefix.back());
    if (c != 0xff) {
      ++c;
      return prefix;
    }
    prefix.pop_back();
  }
  return prefix;  // empty: no upper bound
}

}  // namespace

Status Store::Scan(
    Keyspace keyspace, std::string_view start, std::string_view end,
    const std::function<bool(std::string_view key, std::string_view value)>& fn) const {
  rocksdb::ReadOptions ro;
  rocksdb::Slice upper(end.data(), end.size());
  if (!end.empty()) ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf(keyspace)));
  for (it->Seek(rocksdb::Slice(start.data(), start.size())); it->Valid(); it->Next()) {
    if (!fn(View(it->key()), View(it->value()))) break;
  }
  return FromRocksDb(it->status(), std::string("scanning ") + KeyspaceName(keyspace));
}

Result<std::optional<std::string>> Store::Get(Keyspace keyspace, std::string_view key) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf(keyspace),
                               rocksdb::Slice(key.data(), key.size()), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return FromRocksDb(s, std::string("reading ") + KeyspaceName(keyspace));
  return std::optional<std::string>(std::move(value));
}

Status Store::LoadTopics(std::vector<v1::TopicRecord>* topics) const {
  std::string start(1, keys::kTopicPrefix);
  Status parse_error;
  HALFMQ_RETURN_IF_ERROR(Scan(
      Keyspace::kMeta, start, PrefixEnd(start), [&](std::string_view key, std::string_view value) {
        v1::TopicRecord t;
        if (!t.ParseFromArray(value.data(), value.size())) {
          parse_error = Status::Internal("corrupt topic record " + std::string(key));
          return false;
        }
        topics->push_back(std::move(t));
        return true;
      }));
  return parse_error;
}

Status Store::LoadSubscriptions(std::vector<v1::SubscriptionRecord>* subs) const {
  std::string start(1, keys::kSubscriptionPrefix);
  Status parse_error;
  HALFMQ_RETURN_IF_ERROR(Scan(Keyspace::kMeta, start, PrefixEnd(start),
                              [&](std::string_view key, std::string_view value) {
                                v1::SubscriptionRecord r;
                                if (!r.ParseFromArray(value.data(), value.size())) {
                                  parse_error = Status::Internal("corrupt subscription record");
                                  return false;
                                }
                                subs->push_back(std::move(r));
                                return true;
                              }));
  return parse_error;
}

Status Store::LoadCursors(SubscriptionId sub,
                          const std::function<void(QueueId, const v1::CursorRecord&)>& fn) const {
  std::string start = keys::InflightPrefix(sub);  // same 4-byte sub prefix
  Status parse_error;
  HALFMQ_RETURN_IF_ERROR(Scan(Keyspace::kCursors, start, PrefixEnd(start),
                              [&](std::string_view key, std::string_view value) {
                                auto parts = keys::ParseCursorKey(key);
                                v1::CursorRecord r;
                                if (!parts || !r.ParseFromArray(value.data(), value.size())) {
                                  parse_error = Status::Internal("corrupt cursor record");
                                  return false;
                                }
                                fn(parts->second, r);
                                return true;
                              }));
  return parse_error;
}

Status Store::LoadInflight(
    SubscriptionId sub,
    const std::function<void(QueueId, Offset, const v1::InflightRecord&)>& fn) const {
  std::string start = keys::InflightPrefix(sub);
  Status parse_error;
  HALFMQ_RETURN_IF_ERROR(Scan(Keyspace::kInflight, start, PrefixEnd(start),
                              [&](std::string_view key, std::string_view value) {
                                auto parts = keys::ParseInflightKey(key);
                                v1::InflightRecord r;
                                if (!parts || !r.ParseFromArray(value.data(), value.size())) {
                                  parse_error = Status::Internal("corrupt in-flight record");
                                  return false;
                                }
                                fn(parts->queue, parts->offset, r);
                                return true;
                              }));
  return parse_error;
}

Result<std::optional<v1::InflightRecord>> Store::ReadInflight(SubscriptionId sub, QueueId queue,
                                                              Offset offset) const {
  auto value = Get(Keyspace::kInflight, keys::InflightKey(sub, queue, offset));
  if (!value.ok()) return value.status();
  if (!value->has_value()) return std::optional<v1::InflightRecord>();
  v1::InflightRecord r;
  if (!r.ParseFromString(**value)) return Status::Internal("corrupt in-flight record");
  return std::optional<v1::InflightRecord>(std::move(r));
}

Result<std::optional<Offset>> Store::LastMessageOffset(TopicId topic, QueueId queue) const {
  std::string lower = keys::MessageKey(topic, queue, Offset(0));
  std::string upper = keys::MessageKey(topic, queue, Offset(UINT64_MAX));
  rocksdb::ReadOptions ro;
  rocksdb::Slice lower_slice(lower);
  ro.iterate_lower_bound = &lower_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf(Keyspace::kMessages)));
  it->SeekForPrev(upper);
  if (!it->Valid()) {
    HALFMQ_RETURN_IF_ERROR(FromRocksDb(it->status(), "finding queue end"));
    return std::optional<Offset>();
  }
  auto parts = keys::ParseMessageKey(View(it->key()));
  if (!parts || parts->topic != topic || parts->queue != queue) return std::optional<Offset>();
  return std::optional<Offset>(parts->offset);
}

Result<std::optional<Offset>> Store::QueueLow(TopicId topic, QueueId queue) const {
  auto value = Get(Keyspace::kMeta, keys::QueueLowKey(topic, queue));
  if (!value.ok()) return value.status();
  if (!value->has_value()) return std::optional<Offset>();
  v1::QueueLowRecord r;
  if (!r.ParseFromString(**value)) return Status::Internal("corrupt queue low record");
  return std::optional<Offset>(Offset(r.min_offset()));
}

Status Store::ReadMessages(TopicId topic, QueueId queue, Offset from, Offset end, size_t max_count,
                           size_t max_bytes, std::vector<LoggedMessage>* out) const {
  if (from >= end || max_count == 0) return Status::Ok();
  std::string upper = keys::MessageKey(topic, queue, end);
  rocksdb::ReadOptions ro;
  rocksdb::Slice upper_slice(upper);
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf(Keyspace::kMessages)));
  size_t count = 0;
  size_t bytes = 0;
  for (it->Seek(keys::MessageKey(topic, queue, from)); it->Valid(); it->Next()) {
    auto parts = keys::ParseMessageKey(View(it->key()));
    if (!parts) return Status::Internal("corrupt message key");
    if (count > 0 && bytes + it->value().size() > max_bytes) break;
    LoggedMessage m;
    m.offset = parts->offset;
    if (!m.message.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return Status::Internal("corrupt message record");
    }
    bytes += it->value().size();
    out->push_back(std::move(m));
    if (++count >= max_count) break;
  }
  return FromRocksDb(it->status(), "reading messages");
}

Result<std::optional<v1::StoredMessage>> Store::ReadMessage(TopicId topic, QueueId queue,
                                                            Offset offset) const {
  auto value = Get(Keyspace::kMessages, keys::MessageKey(topic, queue, offset));
  if (!value.ok()) return value.status();
  if (!value->has_value()) return std::optional<v1::StoredMessage>();
  v1::StoredMessage m;
  if (!m.ParseFromString(**value)) return Status::Internal("corrupt message record");
  return std::optional<v1::StoredMessage>(std::move(m));
}

Result<std::optional<int64_t>> Store::MessageStoreTime(TopicId topic, QueueId queue,
                                                       Offset offset) const {
  auto m = ReadMessage(topic, queue, offset);
  if (!m.ok()) return m.status();
  if (!m->has_value()) return std::optional<int64_t>();
  return std::optional<int64_t>((*m)->store_time_ms());
}

Status Store::CompactMessages(TopicId topic, QueueId queue, Offset from, Offset to) {
  std::string begin = keys::MessageKey(topic, queue, from);
  std::string end = keys::MessageKey(topic, queue, to);
  rocksdb::Slice b(begin), e(end);
  rocksdb::CompactRangeOptions options;
  options.exclusive_manual_compaction = false;
  return FromRocksDb(db_->CompactRange(options, cf(Keyspace::kMessages), &b, &e),
                     "compacting retained range");
}

}  // namespace halfmq::storage
