#include "storage/batch.h"

#include <glog/logging.h>

#include "storage/insert_hint.h"

namespace halfmq::storage {
namespace {

// A failure to add to an in-memory WriteBatch means the batch exceeded its
// size limit, which the broker never sets; treat it as a broken invariant.
void CheckOk(const rocksdb::Status& s) { CHECK(s.ok()) << "WriteBatch: " << s.ToString(); }

}  // namespace

void Batch::PutTopic(const v1::TopicRecord& topic) {
  CheckOk(batch_.Put(cf(Keyspace::kMeta), keys::TopicKey(topic.name()),
                     topic.SerializeAsString()));
}

void Batch::PutSubscription(const v1::SubscriptionRecord& sub) {
  CheckOk(batch_.Put(cf(Keyspace::kMeta), keys::SubscriptionKey(sub.group(), sub.topic()),
                     sub.SerializeAsString()));
}

void Batch::PutMessage(TopicId topic, QueueId queue, Offset offset, std::string_view value) {
  CheckOk(batch_.Put(cf(Keyspace::kMessages), keys::MessageKey(topic, queue, offset),
                     rocksdb::Slice(value.data(), value.size())));
}

void Batch::DeleteMessages(TopicId topic, QueueId queue, Offset from, Offset to) {
  CheckOk(batch_.DeleteRange(cf(Keyspace::kMessages),
                             keys::OffsetRangeBegin(keys::MessageKey(topic, queue, from)),
                             keys::MessageKey(topic, queue, to)));
}

void Batch::PutQueueLow(TopicId topic, QueueId queue, Offset min_offset) {
  v1::QueueLowRecord record;
  record.set_min_offset(min_offset.value());
  CheckOk(batch_.Put(cf(Keyspace::kMeta), keys::QueueLowKey(topic, queue),
                     record.SerializeAsString()));
}

void Batch::PutCursor(SubscriptionId sub, QueueId queue, const v1::CursorRecord& cursor) {
  CheckOk(batch_.Put(cf(Keyspace::kCursors), keys::CursorKey(sub, queue),
                     cursor.SerializeAsString()));
}

void Batch::PutInflight(SubscriptionId sub, QueueId queue, Offset offset,
                        const v1::InflightRecord& record) {
  CheckOk(batch_.Put(cf(Keyspace::kInflight), keys::InflightKey(sub, queue, offset),
                     record.SerializeAsString()));
}

void Batch::DeleteInflight(SubscriptionId sub, QueueId queue, Offset offset) {
  CheckOk(batch_.Delete(cf(Keyspace::kInflight), keys::InflightKey(sub, queue, offset)));
}

void Batch::DeleteInflightRange(SubscriptionId sub, QueueId queue, Offset from, Offset to) {
  CheckOk(batch_.DeleteRange(cf(Keyspace::kInflight),
                             keys::OffsetRangeBegin(keys::InflightKey(sub, queue, from)),
                             keys::InflightKey(sub, queue, to)));
}

void Batch::Put(Keyspace keyspace, std::string_view key, std::string_view value) {
  CheckOk(batch_.Put(cf(keyspace), rocksdb::Slice(key.data(), key.size()),
                     rocksdb::Slice(value.data(), value.size())));
}

void Batch::Delete(Keyspace keyspace, std::string_view key) {
  CheckOk(batch_.Delete(cf(keyspace), rocksdb::Slice(key.data(), key.size())));
}

void Batch::DeleteRange(Keyspace keyspace, std::string_view begin, std::string_view end) {
  CHECK(!HasInsertHints(keyspace)) << "range delete in keyspace " << KeyspaceName(keyspace)
                                   << ", whose memtables insert with hints";
  CheckOk(batch_.DeleteRange(cf(keyspace), rocksdb::Slice(begin.data(), begin.size()),
                             rocksdb::Slice(end.data(), end.size())));
}

}  // namespace halfmq::storage
