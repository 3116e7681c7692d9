#include "client/convert.h"

#include <chrono>
#include <set>
#include <string>

#include "client/utf8.h"
#include "common/limits.h"

namespace halfmq::client {
namespace {

Status Utf8Field(std::string_view what, std::string_view value) {
  if (IsValidUtf8(value)) return Status::Ok();
  return Status::InvalidArgument(std::string(what) + " is not valid UTF-8");
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Status ValidateMessage(const Message& message) {
  HALFMQ_RETURN_IF_ERROR(ValidateName("topic", message.topic()));
  if (!message.message_id().empty()) {
    HALFMQ_RETURN_IF_ERROR(ValidateMessageId(message.message_id()));
  }
  if (message.keys().size() > kMaxKeysPerMessage) {
    return Status::InvalidArgument("message has more than " + std::to_string(kMaxKeysPerMessage) +
                                   " keys");
  }
  for (const std::string& key : message.keys()) {
    HALFMQ_RETURN_IF_ERROR(ValidateKey(key));
    HALFMQ_RETURN_IF_ERROR(Utf8Field("message key", key));
  }
  HALFMQ_RETURN_IF_ERROR(ValidateTag(message.tag()));
  HALFMQ_RETURN_IF_ERROR(Utf8Field("tag", message.tag()));
  if (message.properties().size() > kMaxProperties) {
    return Status::InvalidArgument("message has more than " + std::to_string(kMaxProperties) +
                                   " properties");
  }
  size_t property_bytes = 0;
  for (const auto& [name, value] : message.properties()) {
    if (name.empty()) return Status::InvalidArgument("property name is empty");
    HALFMQ_RETURN_IF_ERROR(Utf8Field("property name", name));
    HALFMQ_RETURN_IF_ERROR(Utf8Field("property '" + name + "'", value));
    property_bytes += name.size() + value.size();
  }
  if (property_bytes > kMaxPropertyBytes) {
    return Status::InvalidArgument("properties are larger than " +
                                   std::to_string(kMaxPropertyBytes) + " bytes");
  }
  if (message.queue_id().has_value() && *message.queue_id() >= kMaxQueuesPerTopic) {
    return Status::InvalidArgument("queue id " + std::to_string(*message.queue_id()) +
                                   " is out of range");
  }
  if (message.sharding_key().size() > kMaxKeyBytes) {
    return Status::InvalidArgument("sharding key is longer than " + std::to_string(kMaxKeyBytes) +
                                   " bytes");
  }
  HALFMQ_RETURN_IF_ERROR(Utf8Field("sharding key", message.sharding_key()));
  return Status::Ok();
}

Result<v1::Frame> BuildSendFrame(const std::vector<Message>& messages) {
  if (messages.empty()) return Status::InvalidArgument("no messages to send");
  if (messages.size() > kMaxMessagesPerSend) {
    return Status::InvalidArgument("a batch holds at most " + std::to_string(kMaxMessagesPerSend) +
                                   " messages");
  }
  std::set<std::string> explicit_ids;
  int64_t born_ms = NowMs();
  v1::Frame frame;
  v1::SendRequest* send = frame.mutable_send();
  for (const Message& message : messages) {
    HALFMQ_RETURN_IF_ERROR(ValidateMessage(message));
    if (!message.message_id().empty() && !explicit_ids.insert(message.message_id()).second) {
      return Status::InvalidArgument("message id '" + message.message_id() +
                                     "' appears twice in one batch");
    }
    v1::Message* out = send->add_messages();
    out->set_topic(message.topic());
    out->set_message_id(message.message_id().empty() ? GenerateMessageId() : message.message_id());
    for (const std::string& key : message.keys()) out->add_keys(key);
    out->set_tag(message.tag());
    for (const auto& [name, value] : message.properties()) {
      (*out->mutable_properties())[name] = value;
    }
    out->set_body(message.body());
    if (message.queue_id().has_value()) {
      out->set_queue_id(*message.queue_id());
    } else if (!message.sharding_key().empty()) {
      out->set_sharding_key(message.sharding_key());
    }
    out->set_born_time_ms(born_ms);
  }
  return frame;
}

Result<std::vector<SendReceipt>> ReceiptsFromResponse(const v1::Frame& response,
                                                      size_t expected_count) {
  const v1::SendResponse& send = response.send_response();
  if (static_cast<size_t>(send.results_size()) != expected_count) {
    return Status::Internal("broker returned " + std::to_string(send.results_size()) +
                            " send results for " + std::to_string(expected_count) + " messages");
  }
  std::vector<SendReceipt> receipts;
  receipts.reserve(expected_count);
  for (const v1::SendResult& r : send.results()) {
    SendReceipt receipt;
    receipt.message_id = r.message_id();
    receipt.topic = r.topic();
    receipt.queue_id = r.queue_id();
    receipt.offset = r.offset();
    receipt.store_time_ms = r.store_time_ms();
    receipts.push_back(std::move(receipt));
  }
  return receipts;
}

ReceivedMessage FromProto(const v1::ReceivedMessage& in) {
  ReceivedMessage out;
  const v1::Message& m = in.message();
  out.message_id = m.message_id();
  out.topic = m.topic();
  out.queue_id = in.queue_id();
  out.offset = in.offset();
  out.keys.assign(m.keys().begin(), m.keys().end());
  out.tag = m.tag();
  out.properties.insert(m.properties().begin(), m.properties().end());
  out.body = m.body();
  out.born_time_ms = m.born_time_ms();
  out.store_time_ms = in.store_time_ms();
  out.attempt = in.attempt();
  out.receipt_handle = in.receipt_handle();
  out.invisible_until_ms = in.invisible_until_ms();
  return out;
}

TopicInfo FromProto(const v1::TopicInfo& in) {
  TopicInfo out;
  out.name = in.name();
  out.queues = in.queues();
  out.created_ms = in.created_ms();
  return out;
}

QueueLag FromProto(const v1::QueueLag& in) {
  QueueLag out;
  out.topic = in.topic();
  out.queue_id = in.queue_id();
  out.min_offset = in.min_offset();
  out.end_offset = in.end_offset();
  out.delivered_offset = in.delivered_offset();
  out.lag = in.lag();
  out.inflight = in.inflight();
  out.skipped = in.skipped();
  return out;
}

Status FromProto(const v1::Status& in) {
  return Status(StatusCodeFromInt(static_cast<int>(in.code())), in.message());
}

Result<std::vector<Status>> PerHandleStatuses(
    const google::protobuf::RepeatedPtrField<v1::Status>& results, size_t expected_count) {
  if (static_cast<size_t>(results.size()) != expected_count) {
    return Status::Internal("broker returned " + std::to_string(results.size()) + " results for " +
                            std::to_string(expected_count) + " receipt handles");
  }
  std::vector<Status> out;
  out.reserve(expected_count);
  for (const v1::Status& s : results) out.push_back(FromProto(s));
  return out;
}

Status ValidateGroup(const std::string& group) { return ValidateName("group", group); }

Status ValidateReadableTopic(const std::string& topic) {
  if (!topic.empty() && topic[0] == '%') {
    // The broker names its own topics; only rule out what could never be a
    // name, so a new naming scheme needs no client upgrade.
    if (topic.size() > kMaxNameBytes) return ValidateName("topic", topic);
    for (unsigned char c : topic) {
      if (c <= 0x20 || c >= 0x7f) {
        return Status::InvalidArgument("topic name '" + topic + "' has a bad character");
      }
    }
    return Status::Ok();
  }
  return ValidateName("topic", topic);
}

}  // namespace halfmq::client
