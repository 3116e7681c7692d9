// Batch: one atomic state change of the broker, as typed operations on the
// keyspaces of storage/keys.h. Everything a request changes goes into one
// Batch, which Store::Commit writes as (part of) one RocksDB WriteBatch, so a
// change is applied entirely or not at all (design invariants 2 and 7).
//
// Created by Store::NewBatch(); a move-only value owned by its builder; not
// thread-safe.
#ifndef HALFMQ_STORAGE_BATCH_H_
#define HALFMQ_STORAGE_BATCH_H_

#include <string>
#include <string_view>

#include <rocksdb/write_batch.h>

#include "common/ids.h"
#include "proto/halfmq/v1/records.pb.h"
#include "storage/keys.h"

namespace rocksdb {
class ColumnFamilyHandle;
}

namespace halfmq::storage {

class Store;

class Batch {
 public:
  Batch(Batch&&) = default;
  Batch& operator=(Batch&&) = default;

  void PutTopic(const v1::TopicRecord& topic);
  void PutSubscription(const v1::SubscriptionRecord& sub);
  // Appends a message; `value` is a serialized v1::StoredMessage.
  void PutMessage(TopicId topic, QueueId queue, Offset offset, std::string_view value);
  // Removes the messages of a queue with offsets in [from, to).
  void DeleteMessages(TopicId topic, QueueId queue, Offset from, Offset to);
  void PutQueueLow(TopicId topic, QueueId queue, Offset min_offset);
  void PutCursor(SubscriptionId sub, QueueId queue, const v1::CursorRecord& cursor);
  void PutInflight(SubscriptionId sub, QueueId queue, Offset offset,
                   const v1::InflightRecord& record);
  void DeleteInflight(SubscriptionId sub, QueueId queue, Offset offset);
  // Deletes the entries of offsets [from, to) of one queue.
  void DeleteInflightRange(SubscriptionId sub, QueueId queue, Offset from, Offset to);

  bool empty() const { return batch_.Count() == 0; }
  uint32_t count() const { return batch_.Count(); }
  size_t byte_size() const { return batch_.GetDataSize(); }

 private:
  friend class Store;
  // The typed tables of the other keyspaces, and tests' raw access, write
  // through the raw operations below; nothing outside storage/ can.
  friend class DelayedTable;
  friend class GroupTable;
  friend class MessageIndex;
  friend class RawKeyspaceAccess;
  friend class TxnTable;

  // Raw access by keyspace; keys must follow docs/storage_format.md.
  void Put(Keyspace keyspace, std::string_view key, std::string_view value);
  void Delete(Keyspace keyspace, std::string_view key);
  // Deletes keys in [begin, end). Only in keyspaces without memtable insert
  // hints (storage/insert_hint.h); fatal in the others.
  void DeleteRange(Keyspace keyspace, std::string_view begin, std::string_view end);

  explicit Batch(rocksdb::ColumnFamilyHandle* const* handles) : handles_(handles) {}
  rocksdb::ColumnFamilyHandle* cf(Keyspace k) const { return handles_[static_cast<int>(k)]; }

  rocksdb::ColumnFamilyHandle* const* handles_;  // owned by the Store, outlives batches
  rocksdb::WriteBatch batch_;
};

}  // namespace halfmq::storage

#endif  // HALFMQ_STORAGE_BATCH_H_
