// Key encodings of every RocksDB keyspace (column family). The authoritative
// description is docs/storage_format.md; keep the two in step.
//
// Integers in keys are fixed-width big-endian so that byte order equals
// numeric order: a queue's messages, a subscription's in-flight entries and
// the transaction due index can be range-scanned and range-deleted.
#ifndef HALFMQ_STORAGE_KEYS_H_
#define HALFMQ_STORAGE_KEYS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/ids.h"

namespace halfmq::storage {

// Column families, in the order they are opened. Never reorder; append.
enum class Keyspace : int {
  kDefault = 0,   // RocksDB's own; holds the format version
  kMeta = 1,      // topics, subscriptions, queue low watermarks
  kMessages = 2,  // committed messages per (topic, queue, offset)
  kCursors = 3,   // per (subscription, queue) delivery cursor
  kInflight = 4,  // received-but-unacked messages per subscription
  kTxn = 5,       // transactions: half records and settled outcomes
  kTxnDue = 6,    // due-time index of pending transactions
};
inline constexpr int kNumKeyspaces = 7;

// RocksDB column family name of a keyspace.
const char* KeyspaceName(Keyspace k);

namespace keys {

// Fixed-width big-endian helpers.
void PutFixed32BE(std::string* dst, uint32_t v);
void PutFixed64BE(std::string* dst, uint64_t v);
uint32_t DecodeFixed32BE(const char* p);
uint64_t DecodeFixed64BE(const char* p);

// kMeta: 'T' + topic name -> TopicRecord
std::string TopicKey(std::string_view topic);
inline constexpr char kTopicPrefix = 'T';
// kMeta: 'S' + group + '\0' + topic -> SubscriptionRecord
std::string SubscriptionKey(std::string_view group, std::string_view topic);
inline constexpr char kSubscriptionPrefix = 'S';
// kMeta: 'L' + topic_id(4) + queue(4) -> QueueLowRecord
std::string QueueLowKey(TopicId topic, QueueId queue);

// kMessages: topic_id(4) + queue(4) + offset(8) -> StoredMessage
std::string MessageKey(TopicId topic, QueueId queue, Offset offset);
struct MessageKeyParts {
  TopicId topic;
  QueueId queue;
  Offset offset;
};
std::optional<MessageKeyParts> ParseMessageKey(std::string_view key);

// kCursors: sub_id(4) + queue(4) -> CursorRecord
std::string CursorKey(SubscriptionId sub, QueueId queue);
std::optional<std::pair<SubscriptionId, QueueId>> ParseCursorKey(std::string_view key);

// kInflight: sub_id(4) + queue(4) + offset(8) -> InflightRecord
std::string InflightKey(SubscriptionId sub, QueueId queue, Offset offset);
struct InflightKeyParts {
  SubscriptionId sub;
  QueueId queue;
  Offset offset;
};
std::optional<InflightKeyParts> ParseInflightKey(std::string_view key);
// Prefix of all in-flight keys of a subscription.
std::string InflightPrefix(SubscriptionId sub);

}  // namespace keys
}  // namespace halfmq::storage

#endif  // HALFMQ_STORAGE_KEYS_H_
