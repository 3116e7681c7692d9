// MessageIndex: the `index` keyspace, which answers "where is the message
// with this id" (lookups by id and the producer dedup window), "which
// messages of a topic have this key", and "what happened to this message"
// (trace events). Its records are written in the batch of the state change
// they describe, so an index entry exists exactly when that change does; the
// compaction filter of the keyspace (index_filter.h) drops them after the
// retention. The encodings are in keys.h and docs/storage_format.md; nothing
// outside storage/ sees them.
//
// Writes are static (they only add to a Batch); reads go to the Store and
// may block on disk, so network threads must not call them. A MessageIndex
// holds only a pointer to a Store that outlives it; thread-safe.
#ifndef HALFMQ_STORAGE_MESSAGE_INDEX_H_
#define HALFMQ_STORAGE_MESSAGE_INDEX_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>

#include "common/ids.h"
#include "common/status.h"
#include "proto/halfmq/v1/records.pb.h"
#include "storage/batch.h"

namespace halfmq::storage {

class Store;

// Where a message with a given key was stored in its topic.
struct KeyedMessage {
  int64_t store_ms = 0;
  QueueId queue;
  Offset offset;
};

class MessageIndex {
 public:
  explicit MessageIndex(const Store* store) : store_(store) {}

  // --- Writes -------------------------------------------------------------
  // Records where the message `id` was stored in `topic` (queue, offset and
  // store time), or, with deliver_at_ms set, that it waits as a delayed
  // message. Replaces the record of the same id in that topic.
  static void PutId(Batch* batch, const MessageId& id, TopicId topic,
                    const v1::IndexRecord& record);
  // Records that the message at `where` in `topic` has `key`.
  static void PutKey(Batch* batch, TopicId topic, std::string_view key, const KeyedMessage& where);
  // Adds one event to the history of message `id`. Events of one id sort by
  // time_ms, then by `seq`, which the caller keeps unique per process (the
  // time is wall-clock ms, so it orders events across restarts).
  static void PutTrace(Batch* batch, const MessageId& id, int64_t time_ms, uint64_t seq,
                       const v1::TraceEvent& event);

  // --- Reads --------------------------------------------------------------
  // The record of `id` in `topic` (the producer dedup lookup); nullopt when
  // there is none or it is unreadable. Errors: INTERNAL from RocksDB.
  Result<std::optional<v1::IndexRecord>> FindId(const MessageId& id, TopicId topic) const;
  // Calls fn with the record of `id` in each topic that has one, in topic id
  // order, until fn returns false. Unreadable records are skipped.
  // Errors: INTERNAL from RocksDB.
  Status ScanId(const MessageId& id,
                const std::function<bool(TopicId topic, v1::IndexRecord record)>& fn) const;
  // Calls fn for each message of `topic` with `key`, oldest first, until fn
  // returns false. Errors: INTERNAL from RocksDB.
  Status ScanKey(TopicId topic, std::string_view key,
                 const std::function<bool(const KeyedMessage&)>& fn) const;
  // Calls fn with the trace events of `id` in key order (time, then
  // sequence) until fn returns false. Unreadable events are skipped.
  // Errors: INTERNAL from RocksDB.
  Status ScanTraces(const MessageId& id, const std::function<bool(v1::TraceEvent event)>& fn) const;

 private:
  const Store* const store_;
};

}  // namespace halfmq::storage

#endif  // HALFMQ_STORAGE_MESSAGE_INDEX_H_
