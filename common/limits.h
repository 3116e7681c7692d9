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

}  // namespace halfmq

#endif  // HALFMQ_COMMON_LIMITS_H_
