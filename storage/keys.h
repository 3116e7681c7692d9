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

#include "common/coding.h"
#include "common/ids.h"

namespace halfmq::storage {

// Column families, in the order they are opened. Never reorder; append.
enum class Keyspace : int {
  kDefault = 0,   // RocksDB's own; holds the format version
  kMeta = 1,      // topics, subscriptions, queue low watermarks
  kMessages = 2,  // committed messages per (topic, queue, offset)
  kCursors = 3,   // per (subscription, queue) delivery cursor
  kInflight = 4,  // received-but-unacked messages per subscription
  kTxn = 5,       // transaction state records, unresolved index
  kTxnDue = 6,    // check-due index of pending transactions, per group
  kDelayed = 7,   // delayed messages, by due time
  kIndex = 8,     // message id and key indexes (lookup, producer dedup)
  // Format 2: one keyspace per transaction key stream, so that each stream's
  // new keys sit at the tail of its own key range (see storage_format.md).
  kTxnHalf = 9,      // half messages
  kTxnOutcome = 10,  // settled outcomes
  kTxnAge = 11,      // max-age deadlines of pending transactions
  kTxnSettled = 12,  // expiry times of settled outcomes
};
inline constexpr int kNumKeyspaces = 13;

// RocksDB column family name of a keyspace.
const char* KeyspaceName(Keyspace k);

namespace keys {

// Fixed-width big-endian helpers (common/coding.h), under their old names.
using ::halfmq::DecodeFixed32BE;
using ::halfmq::DecodeFixed64BE;
using ::halfmq::PutFixed32BE;
using ::halfmq::PutFixed64BE;

// kMeta: 'T' + topic name -> TopicRecord
std::string TopicKey(std::string_view topic);
inline constexpr char kTopicPrefix = 'T';
// kMeta: 'S' + group + '\0' + topic -> SubscriptionRecord
std::string SubscriptionKey(std::string_view group, std::string_view topic);
inline constexpr char kSubscriptionPrefix = 'S';
// kMeta: 'L' + topic_id(4) + queue(4) -> QueueLowRecord
std::string QueueLowKey(TopicId topic, QueueId queue);
// kMeta: 'G' + group -> GroupConfigRecord
std::string GroupConfigKey(std::string_view group);
inline constexpr char kGroupConfigPrefix = 'G';
// kMeta: 'D' + group + '\0' + message_id -> DeadLetterRecord
std::string DeadLetterPrefix(std::string_view group);
std::string DeadLetterKey(std::string_view group, std::string_view message_id);

// kMessages: topic_id(4) + queue(4) + offset(8) -> StoredMessage
std::string MessageKey(TopicId topic, QueueId queue, Offset offset);
struct MessageKeyParts {
  TopicId topic;
  QueueId queue;
  Offset offset;
};
std::optional<MessageKeyParts> ParseMessageKey(std::string_view key);

// The begin key of a range delete from `first_key` (a 16-byte kMessages or
// kInflight key) on, that no point key equals: the 8-byte (id, queue) prefix
// for offset 0, else the key of the offset before plus '\0'. Both sort after
// every key before `first_key` and before `first_key` itself. The memtable
// insert hints of these keyspaces tell range deletes from point writes by
// this (storage/insert_hint.h).
std::string OffsetRangeBegin(std::string_view first_key);

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

// --- Transactions (see docs/storage_format.md) ----------------------------
// kTxnHalf: 'H' + txn_id + '\0' + seq(4) -> v1::Message (a half message)
std::string TxnHalfPrefix(std::string_view txn_id);
std::string TxnHalfKey(std::string_view txn_id, uint32_t seq);
// kTxn: 'M' + txn_id -> TxnRecord
std::string TxnMetaKey(std::string_view txn_id);
inline constexpr char kTxnMetaPrefix = 'M';
// kTxnOutcome: 'O' + txn_id -> TxnOutcomeRecord
std::string TxnOutcomeKey(std::string_view txn_id);
// kTxn: 'U' + txn_id -> "" (index of unresolved transactions)
std::string TxnUnresolvedKey(std::string_view txn_id);
inline constexpr char kTxnUnresolvedPrefix = 'U';

// kTxnDue: 'C' + group + '\0' + due_ms(8) + txn_id -> "" (check due)
std::string TxnCheckDuePrefix(std::string_view group);
std::string TxnCheckDueKey(std::string_view group, int64_t due_ms, std::string_view txn_id);
inline constexpr char kTxnCheckDuePrefix = 'C';
struct TxnDueKeyParts {
  std::string group;  // empty for 'A' and 'X' keys
  int64_t due_ms = 0;
  std::string txn_id;
};
std::optional<TxnDueKeyParts> ParseTxnCheckDueKey(std::string_view key);
// kTxnAge: 'A' + deadline_ms(8) + txn_id -> "" (max-age deadline)
// kTxnSettled: 'X' + expire_ms(8) + txn_id -> "" (settled outcome expiry)
// (The one-letter prefixes are kept from format 1, where these shared the
// kTxn and kTxnDue keyspaces.)
inline constexpr char kTxnAgePrefix = 'A';
inline constexpr char kTxnSettledPrefix = 'X';
std::string TxnTimeKey(char prefix, int64_t ms, std::string_view txn_id);
std::optional<TxnDueKeyParts> ParseTxnTimeKey(std::string_view key);

// kDelayed: due_ms(8) + unique(8) -> v1::Message (topic, selector, body...)
std::string DelayedKey(int64_t due_ms, uint64_t unique);
std::optional<int64_t> ParseDelayedDue(std::string_view key);

// kIndex: 'I' + message_id + '\0' + topic_id(4) -> IndexRecord
std::string IdIndexPrefix(std::string_view message_id);
std::string IdIndexKey(std::string_view message_id, TopicId topic);
inline constexpr char kIdIndexPrefix = 'I';
// kIndex: 'K' + topic_id(4) + key + '\0' + store_ms(8) + queue(4) + offset(8) -> ""
std::string KeyIndexPrefix(TopicId topic, std::string_view key);
std::string KeyIndexKey(TopicId topic, std::string_view key, int64_t store_ms, QueueId queue,
                        Offset offset);
inline constexpr char kKeyIndexPrefix = 'K';
struct KeyIndexParts {
  int64_t store_ms = 0;
  QueueId queue;
  Offset offset;
};
// Parses the part after KeyIndexPrefix.
std::optional<KeyIndexParts> ParseKeyIndexSuffix(std::string_view suffix);

// kIndex: 'T' + message_id + '\0' + time_ms(8) + seq(8) -> v1::TraceEvent
std::string TracePrefix(std::string_view message_id);
std::string TraceKey(std::string_view message_id, int64_t time_ms, uint64_t seq);
inline constexpr char kTracePrefix = 'T';

// The smallest key greater than every key starting with `prefix` (empty if
// there is none).
std::string PrefixSuccessor(std::string prefix);

}  // namespace keys
}  // namespace halfmq::storage

#endif  // HALFMQ_STORAGE_KEYS_H_
