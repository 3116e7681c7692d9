#include "storage/keys.h"

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
  }
  return "unknown";
}

namespace keys {

void PutFixed32BE(std::string* dst, uint32_t v) {
  char buf[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                 static_cast<char>(v >> 8), static_cast<char>(v)};
  dst->append(buf, 4);
}

void PutFixed64BE(std::string* dst, uint64_t v) {
  PutFixed32BE(dst, static_cast<uint32_t>(v >> 32));
  PutFixed32BE(dst, static_cast<uint32_t>(v));
}

uint32_t DecodeFixed32BE(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (static_cast<uint32_t>(u[0]) << 24) | (static_cast<uint32_t>(u[1]) << 16) |
         (static_cast<uint32_t>(u[2]) << 8) | static_cast<uint32_t>(u[3]);
}

uint64_t DecodeFixed64BE(const char* p) {
  return (static_cast<uint64_t>(DecodeFixed32BE(p)) << 32) | DecodeFixed32BE(p + 4);
}

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

}  // namespace keys
}  // namespace halfmq::storage
