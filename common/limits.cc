#include "common/limits.h"

#include <string>

namespace halfmq {
namespace {

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

bool HasControlByte(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

// "<what> is longer than <limit> bytes" / "<what> has a control byte", or OK.
Status BoundedText(std::string_view what, std::string_view value, size_t limit) {
  if (value.size() > limit) {
    return Status::InvalidArgument(std::string(what) + " is " + std::to_string(value.size()) +
                                   " bytes, longer than the limit of " + std::to_string(limit));
  }
  if (HasControlByte(value)) {
    return Status::InvalidArgument(std::string(what) + " has a control byte");
  }
  return Status::Ok();
}

}  // namespace

Status ValidateName(std::string_view what, std::string_view name) {
  if (name.empty()) return Status::InvalidArgument(std::string(what) + " name is empty");
  if (name.size() > kMaxNameBytes) {
    return Status::InvalidArgument(std::string(what) + " name is longer than " +
                                   std::to_string(kMaxNameBytes) + " bytes");
  }
  if (name[0] == '.' || name[0] == '-') {
    return Status::InvalidArgument(std::string(what) + " name '" + std::string(name) +
                                   "' may not start with '.' or '-'");
  }
  for (char c : name) {
    if (!IsNameChar(c)) {
      return Status::InvalidArgument(std::string(what) + " name '" + std::string(name) +
                                     "' has a character outside [A-Za-z0-9._-]");
    }
  }
  return Status::Ok();
}

Status ValidateReadableTopic(std::string_view name) {
  // The broker's own topics: "%DLQ." + a consumer group name.
  constexpr std::string_view kDeadLetters = "%DLQ.";
  if (name.substr(0, kDeadLetters.size()) == kDeadLetters) {
    return ValidateName("dead-letter topic's group", name.substr(kDeadLetters.size()));
  }
  if (!name.empty() && name[0] == '%') {
    return Status::InvalidArgument("topic '" + std::string(name) + "' is not a topic of the broker");
  }
  return ValidateName("topic", name);
}

Status ValidateMessageId(std::string_view id) {
  if (id.empty()) return Status::InvalidArgument("message id is empty");
  if (id.size() > kMaxMessageIdBytes) {
    return Status::InvalidArgument("message id is longer than " +
                                   std::to_string(kMaxMessageIdBytes) + " bytes");
  }
  for (unsigned char c : id) {
    if (c <= 0x20 || c >= 0x7f) {
      return Status::InvalidArgument("message id must be printable ASCII without spaces");
    }
  }
  return Status::Ok();
}

Status ValidateKey(std::string_view key) {
  if (key.empty()) return Status::InvalidArgument("message key is empty");
  if (key.size() > kMaxKeyBytes) {
    return Status::InvalidArgument("message key is longer than " + std::to_string(kMaxKeyBytes) +
                                   " bytes");
  }
  if (HasControlByte(key)) return Status::InvalidArgument("message key has a control byte");
  return Status::Ok();
}

Status ValidateTag(std::string_view tag) {
  if (tag.size() > kMaxTagBytes) {
    return Status::InvalidArgument("tag is longer than " + std::to_string(kMaxTagBytes) +
                                   " bytes");
  }
  if (HasControlByte(tag)) return Status::InvalidArgument("tag has a control byte");
  return Status::Ok();
}

Status ValidateClientId(std::string_view client_id) {
  return BoundedText("client_id", client_id, kMaxClientIdBytes);
}

Status ValidateProducerGroupCount(size_t count) {
  if (count <= kMaxProducerGroupsPerConnection) return Status::Ok();
  return Status::InvalidArgument("producer_groups has " + std::to_string(count) +
                                 " entries, more than the limit of " +
                                 std::to_string(kMaxProducerGroupsPerConnection));
}

Status ValidateShardingKey(std::string_view key) {
  return BoundedText("sharding_key", key, kMaxShardingKeyBytes);
}

Status ValidatePageCursor(std::string_view start_after) {
  if (start_after.size() <= kMaxPageCursorBytes) return Status::Ok();
  return Status::InvalidArgument("start_after is " + std::to_string(start_after.size()) +
                                 " bytes, longer than the limit of " +
                                 std::to_string(kMaxPageCursorBytes));
}

}  // namespace halfmq
