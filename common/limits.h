// Validation rules and hard limits shared by broker and client, so a client
// can reject what the broker would reject before sending it. The broker is
// authoritative and checks everything again. Size limits that operators may
// tune (frame and message bytes) are broker flags; these are the fixed ones.
#ifndef HALFMQ_COMMON_LIMITS_H_
#define HALFMQ_COMMON_LIMITS_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/status.h"

namespace halfmq {

inline constexpr size_t kMaxNameBytes = 128;         // topics and groups
inline constexpr size_t kMaxMessageIdBytes = 128;
inline constexpr size_t kMaxKeyBytes = 128;
inline constexpr size_t kMaxKeysPerMessage = 16;
inline constexpr size_t kMaxTagBytes = 128;
inline constexpr size_t kMaxProperties = 64;
inline constexpr size_t kMaxPropertyBytes = 16 * 1024;  // all names + values
inline constexpr uint32_t kMaxQueuesPerTopic = 256;
inline constexpr uint32_t kDefaultQueuesPerTopic = 8;
inline constexpr size_t kMaxMessagesPerSend = 1024;
inline constexpr uint32_t kMaxReceiveMessages = 1024;
inline constexpr uint32_t kMaxInvisibleMs = 12 * 3600 * 1000;  // 12 hours, as SQS
inline constexpr uint32_t kMaxWaitMs = 60 * 1000;
// Hello.client_id: copied into every in-flight entry and trace event, and
// logged.
inline constexpr size_t kMaxClientIdBytes = 128;
// Producer groups one connection serves transaction checks for, named in
// Hello and joined by SendHalf together.
inline constexpr size_t kMaxProducerGroupsPerConnection = 64;
inline constexpr size_t kMaxShardingKeyBytes = 128;
// start_after of the paged listings: a transaction or message id, so never
// longer than one.
inline constexpr size_t kMaxPageCursorBytes = kMaxMessageIdBytes;

// Topic and group names: 1..128 bytes of [A-Za-z0-9._-], not starting with
// '.' or '-'; names beginning with "%" are reserved for the broker's own
// topics (dead letters, later).
// Errors: INVALID_ARGUMENT naming `what` and the rule broken.
Status ValidateName(std::string_view what, std::string_view name);

// A topic name a consumer may read: a valid name, or one of the broker's
// own topics ("%DLQ." followed by a valid group name).
Status ValidateReadableTopic(std::string_view name);

// A message id: 1..128 printable ASCII bytes without spaces.
Status ValidateMessageId(std::string_view id);

// Keys and tags: at most kMaxKeyBytes / kMaxTagBytes, no control bytes; a key
// may not be empty.
Status ValidateKey(std::string_view key);
Status ValidateTag(std::string_view tag);

// A client id (Hello): at most kMaxClientIdBytes, no control bytes; may be
// empty (no id).
Status ValidateClientId(std::string_view client_id);

// The number of producer groups a Hello names: at most
// kMaxProducerGroupsPerConnection (each must also be a valid name).
Status ValidateProducerGroupCount(size_t count);

// A sharding key: at most kMaxShardingKeyBytes, no control bytes (an empty
// one is a key like any other).
Status ValidateShardingKey(std::string_view key);

// start_after of ListTransactions / ListDeadLetters: at most
// kMaxPageCursorBytes; empty means from the start.
Status ValidatePageCursor(std::string_view start_after);

}  // namespace halfmq

#endif  // HALFMQ_COMMON_LIMITS_H_
