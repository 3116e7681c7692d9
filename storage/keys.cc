#include "storage/keys.h"

#include <glog/logging.h>

#include <algorithm>

namespace halfmq::storage {

const char* KeyspaceName(Keyspace k) {
  switch (k) {
    case Keyspace::kDefault: return "default";
    case Keyspace::kMeta: return "meta";
    case Keyspace::kMessages: return "messages";
    case Keyspace::kCursors: return "cursors";
    case Keyspace::kInflight: return "inflight";
    case Keyspace::kTxn: return "txn";
    case Keyspace::kTxnDue: return "txn_due";
    case Keyspace::kDelayed: return "delayed";
    case Keyspace::kIndex: return "index";
    case Keyspace::kTxnHalf: return "txn_half";
    case Keyspace::kTxnOutcome: return "txn_outcome";
    case Keyspace::kTxnAge: return "txn_age";
    case Keyspace::kTxnSettled: return "txn_settled";
  }
  return "unknown";
}

namespace keys {

std::string TopicKey(std::string_view topic) {
  std::string k;
  k.reserve(1 + topic.size());
  k.push_back(kTopicPrefix);
  k.append(topic);
  return k;
}

std::string SubscriptionKey(std::string_view group, std::string_view topic) {
  std::string k;
  k.reserve(2 + group.size() + topic.size());
  k.push_back(kSubscriptionPrefix);
  k.append(group);
  k.push_back('\0');
  k.append(topic);
  return k;
}

std::string QueueLowKey(TopicId topic, QueueId queue) {
  std::string k(1, 'L');
  PutFixed32BE(&k, topic.value());
  PutFixed32BE(&k, queue.value());
  return k;
}

std::string GroupConfigKey(std::string_view group) {
  std::string k(1, kGroupConfigPrefix);
  k.append(group);
  return k;
}

std::string DeadLetterPrefix(std::string_view group) {
  std::string k(1, 'D');
  k.append(group);
  k.push_back('\0');
  return k;
}

std::string DeadLetterKey(std::string_view group, std::string_view message_id) {
  std::string k = DeadLetterPrefix(group);
  k.append(message_id);
  return k;
}

std::string MessageKey(TopicId topic, QueueId queue, Offset offset) {
  std::string k;
  k.reserve(16);
  PutFixed32BE(&k, topic.value());
  PutFixed32BE(&k, queue.value());
  PutFixed64BE(&k, offset.value());
  return k;
}

std::optional<MessageKeyParts> ParseMessageKey(std::string_view key) {
  if (key.size() != 16) return std::nullopt;
  return MessageKeyParts{TopicId(DecodeFixed32BE(key.data())),
                         QueueId(DecodeFixed32BE(key.data() + 4)),
                         Offset(DecodeFixed64BE(key.data() + 8))};
}

std::string OffsetRangeBegin(std::string_view first_key) {
  CHECK_EQ(first_key.size(), 16u) << "not a (id, queue, offset) key";
  uint64_t offset = DecodeFixed64BE(first_key.data() + 8);
  std::string k(first_key.substr(0, 8));
  if (offset == 0) return k;
  PutFixed64BE(&k, offset - 1);
  k.push_back('\0');
  return k;
}

std::string CursorKey(SubscriptionId sub, QueueId queue) {
  std::string k;
  k.reserve(8);
  PutFixed32BE(&k, sub.value());
  PutFixed32BE(&k, queue.value());
  return k;
}

std::optional<std::pair<SubscriptionId, QueueId>> ParseCursorKey(std::string_view key) {
  if (key.size() != 8) return std::nullopt;
  return std::make_pair(SubscriptionId(DecodeFixed32BE(key.data())),
                        QueueId(DecodeFixed32BE(key.data() + 4)));
}

std::string InflightKey(SubscriptionId sub, QueueId queue, Offset offset) {
  std::string k;
  k.reserve(16);
  PutFixed32BE(&k, sub.value());
  PutFixed32BE(&k, queue.value());
  PutFixed64BE(&k, offset.value());
  return k;
}

std::optional<InflightKeyParts> ParseInflightKey(std::string_view key) {
  if (key.size() != 16) return std::nullopt;
  return InflightKeyParts{SubscriptionId(DecodeFixed32BE(key.data())),
                          QueueId(DecodeFixed32BE(key.data() + 4)),
                          Offset(DecodeFixed64BE(key.data() + 8))};
}

std::string InflightPrefix(SubscriptionId sub) {
  std::string k;
  PutFixed32BE(&k, sub.value());
  return k;
}

std::string TxnHalfPrefix(std::string_view txn_id) {
  std::string k(1, 'H');
  k.append(txn_id);
  k.push_back('\0');
  return k;
}

std::string TxnHalfKey(std::string_view txn_id, uint32_t seq) {
  std::string k = TxnHalfPrefix(txn_id);
  PutFixed32BE(&k, seq);
  return k;
}

std::string TxnMetaKey(std::string_view txn_id) {
  std::string k(1, kTxnMetaPrefix);
  k.append(txn_id);
  return k;
}

std::string TxnOutcomeKey(std::string_view txn_id) {
  std::string k(1, 'O');
  k.append(txn_id);
  return k;
}

std::string TxnUnresolvedKey(std::string_view txn_id) {
  std::string k(1, kTxnUnresolvedPrefix);
  k.append(txn_id);
  return k;
}

std::string TxnCheckDuePrefix(std::string_view group) {
  std::string k(1, kTxnCheckDuePrefix);
  k.append(group);
  k.push_back('\0');
  return k;
}

std::string TxnCheckDueKey(std::string_view group, int64_t due_ms, std::string_view txn_id) {
  std::string k = TxnCheckDuePrefix(group);
  PutFixed64BE(&k, static_cast<uint64_t>(std::max<int64_t>(0, due_ms)));
  k.append(txn_id);
  return k;
}

std::optional<TxnDueKeyParts> ParseTxnCheckDueKey(std::string_view key) {
  if (key.empty() || key[0] != kTxnCheckDuePrefix) return std::nullopt;
  size_t zero = key.find('\0', 1);
  if (zero == std::string_view::npos || key.size() < zero + 1 + 8 + 1) return std::nullopt;
  TxnDueKeyParts p;
  p.group = std::string(key.substr(1, zero - 1));
  p.due_ms = static_cast<int64_t>(DecodeFixed64BE(key.data() + zero + 1));
  p.txn_id = std::string(key.substr(zero + 9));
  return p;
}

std::string TxnTimeKey(char prefix, int64_t ms, std::string_view txn_id) {
  std::string k(1, prefix);
  PutFixed64BE(&k, static_cast<uint64_t>(std::max<int64_t>(0, ms)));
  k.append(txn_id);
  return k;
}

std::optional<TxnDueKeyParts> ParseTxnTimeKey(std::string_view key) {
  if (key.size() < 1 + 8 + 1) return std::nullopt;
  TxnDueKeyParts p;
  p.due_ms = static_cast<int64_t>(DecodeFixed64BE(key.data() + 1));
  p.txn_id = std::string(key.substr(9));
  return p;
}

std::string DelayedKey(int64_t due_ms, uint64_t unique) {
  std::string k;
  k.reserve(16);
  PutFixed64BE(&k, static_cast<uint64_t>(std::max<int64_t>(0, due_ms)));
  PutFixed64BE(&k, unique);
  return k;
}

std::optional<int64_t> ParseDelayedDue(std::string_view key) {
  if (key.size() != 16) return std::nullopt;
  return static_cast<int64_t>(DecodeFixed64BE(key.data()));
}

std::string IdIndexPrefix(std::string_view message_id) {
  std::string k(1, kIdIndexPrefix);
  k.append(message_id);
  k.push_back('\0');
  return k;
}

std::string IdIndexKey(std::string_view message_id, TopicId topic) {
  std::string k = IdIndexPrefix(message_id);
  PutFixed32BE(&k, topic.value());
  return k;
}

std::string KeyIndexPrefix(TopicId topic, std::string_view key) {
  std::string k(1, kKeyIndexPrefix);
  PutFixed32BE(&k, topic.value());
  k.append(key);
  k.push_back('\0');
  return k;
}

std::string KeyIndexKey(TopicId topic, std::string_view key, int64_t store_ms, QueueId queue,
                        Offset offset) {
  std::string k = KeyIndexPrefix(topic, key);
  PutFixed64BE(&k, static_cast<uint64_t>(std::max<int64_t>(0, store_ms)));
  PutFixed32BE(&k, queue.value());
  PutFixed64BE(&k, offset.value());
  return k;
}

std::optional<KeyIndexParts> ParseKeyIndexSuffix(std::string_view s) {
  if (s.size() != 20) return std::nullopt;
  KeyIndexParts p;
  p.store_ms = static_cast<int64_t>(DecodeFixed64BE(s.data()));
  p.queue = QueueId(DecodeFixed32BE(s.data() + 8));
  p.offset = Offset(DecodeFixed64BE(s.data() + 12));
  return p;
}

std::string TracePrefix(std::string_view message_id) {
  std::string k(1, kTracePrefix);
  k.append(message_id);
  k.push_back('\0');
  return k;
}

std::string TraceKey(std::string_view message_id, int64_t time_ms, uint64_t seq) {
  std::string k = TracePrefix(message_id);
  PutFixed64BE(&k, static_cast<uint64_t>(std::max<int64_t>(0, time_ms)));
  PutFixed64BE(&k, seq);
  return k;
}

std::string PrefixSuccessor(std::string prefix) {
  while (!prefix.empty()) {
    auto& c = reinterpret_cast<unsigned char&>(prefix.back());
    if (c != 0xff) {
      ++c;
      return prefix;
    }
    prefix.pop_back();
  }
  return prefix;
}

}  // namespace keys
}  // namespace halfmq::storage
