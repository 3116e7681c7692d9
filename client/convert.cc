#include "client/convert.h"

#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <set>
#include <string>
#include <utility>

#include "common/limits.h"
#include "common/utf8.h"

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
  HALFMQ_RETURN_IF_ERROR(ValidateShardingKey(message.sharding_key()));
  HALFMQ_RETURN_IF_ERROR(Utf8Field("sharding key", message.sharding_key()));
  const std::string& group = message.message_group();
  if (group.size() > kMaxKeyBytes) {
    return Status::InvalidArgument("message group is longer than " + std::to_string(kMaxKeyBytes) +
                                   " bytes");
  }
  for (unsigned char c : group) {
    if (c < 0x20 || c == 0x7f) return Status::InvalidArgument("message group has a control byte");
  }
  HALFMQ_RETURN_IF_ERROR(Utf8Field("message group", group));
  if (message.deliver_at_ms().has_value() && *message.deliver_at_ms() <= 0) {
    return Status::InvalidArgument("deliver_at must be a broker time in ms after the epoch, not " +
                                   std::to_string(*message.deliver_at_ms()));
  }
  if (message.delay().has_value() &&
      (message.delay()->count() < 0 || message.delay()->count() > UINT32_MAX)) {
    return Status::InvalidArgument("delay must be in 0.." + std::to_string(UINT32_MAX) + " ms");
  }
  return Status::Ok();
}

Status AppendMessageProtos(const std::vector<Message>& messages,
                           google::protobuf::RepeatedPtrField<v1::Message>* out_messages) {
  if (messages.empty()) return Status::InvalidArgument("no messages to send");
  if (messages.size() > kMaxMessagesPerSend) {
    return Status::InvalidArgument("a batch holds at most " + std::to_string(kMaxMessagesPerSend) +
                                   " messages");
  }
  std::set<std::string> explicit_ids;
  int64_t born_ms = NowMs();
  for (const Message& message : messages) {
    HALFMQ_RETURN_IF_ERROR(ValidateMessage(message));
    if (!message.message_id().empty() && !explicit_ids.insert(message.message_id()).second) {
      return Status::InvalidArgument("message id '" + message.message_id() +
                                     "' appears twice in one batch");
    }
    v1::Message* out = out_messages->Add();
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
    out->set_message_group(message.message_group());
    if (message.deliver_at_ms().has_value()) out->set_deliver_at_ms(*message.deliver_at_ms());
    if (message.delay().has_value()) {
      out->set_delay_ms(static_cast<uint32_t>(message.delay()->count()));
    }
    out->set_born_time_ms(born_ms);
  }
  return Status::Ok();
}

SendReceipt FromProto(const v1::SendResult& r) {
  SendReceipt receipt;
  receipt.message_id = r.message_id();
  receipt.topic = r.topic();
  receipt.queue_id = r.queue_id();
  receipt.offset = r.offset();
  receipt.store_time_ms = r.store_time_ms();
  receipt.deliver_at_ms = r.deliver_at_ms();
  receipt.deduplicated = r.deduplicated();
  return receipt;
}

Result<v1::Frame> BuildSendFrame(const std::vector<Message>& messages) {
  v1::Frame frame;
  HALFMQ_RETURN_IF_ERROR(AppendMessageProtos(messages, frame.mutable_send()->mutable_messages()));
  // Ids this client just generated cannot have been stored yet: the broker
  // may skip its dedup lookup on this first attempt (Connection clears the
  // flag before any retry).
  bool fresh = true;
  for (const Message& m : messages) fresh = fresh && m.message_id().empty();
  frame.mutable_send()->set_fresh_ids(fresh);
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
  for (const v1::SendResult& r : send.results()) receipts.push_back(FromProto(r));
  return receipts;
}

namespace {

// A stored message and where it is (v1::ReceivedMessage or
// v1::FoundMessage), which carry the same fields.
template <typename In>
void FillStoredFields(const In& in, StoredMessage* out) {
  const v1::Message& m = in.message();
  out->message_id = m.message_id();
  out->topic = m.topic();
  out->queue_id = in.queue_id();
  out->offset = in.offset();
  out->keys.assign(m.keys().begin(), m.keys().end());
  out->tag = m.tag();
  out->properties.insert(m.properties().begin(), m.properties().end());
  out->body = m.body();
  out->message_group = m.message_group();
  out->born_time_ms = m.born_time_ms();
  out->store_time_ms = in.store_time_ms();
}

}  // namespace

ReceivedMessage FromProto(const v1::ReceivedMessage& in) {
  ReceivedMessage out;
  FillStoredFields(in, &out);
  if (in.has_dead_letter()) out.dead_letter = FromProto(in.dead_letter());
  out.attempt = in.attempt();
  out.receipt_handle = in.receipt_handle();
  out.invisible_until_ms = in.invisible_until_ms();
  return out;
}

DeadLetterInfo FromProto(const v1::DeadLetterInfo& in) {
  DeadLetterInfo out;
  out.original_topic = in.original_topic();
  out.original_queue = in.original_queue();
  out.original_offset = in.original_offset();
  out.attempts = in.attempts();
  out.reason = in.reason();
  out.dead_lettered_ms = in.dead_lettered_ms();
  out.group = in.group();
  return out;
}

TopicInfo FromProto(const v1::TopicInfo& in) {
  TopicInfo out;
  out.name = in.name();
  out.queues = in.queues();
  out.created_ms = in.created_ms();
  out.fifo = in.fifo();
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

// ---------------------------------------------------------------------------
// Retry policies, dead letters, lookup and trace

namespace {

Status CheckDelay(std::string_view what, std::chrono::milliseconds delay, int64_t min_ms) {
  if (delay.count() < min_ms || delay > kMaxRetryDelay) {
    return Status::InvalidArgument(std::string(what) + " must be in " + std::to_string(min_ms) +
                                   ".." + std::to_string(kMaxRetryDelay.count()) + " ms, not " +
                                   std::to_string(delay.count()));
  }
  return Status::Ok();
}

}  // namespace

Status ValidateRetryPolicy(const RetryPolicy& policy) {
  if (policy.max_attempts > kMaxRetryAttempts) {
    return Status::InvalidArgument("max_attempts must be at most " +
                                   std::to_string(kMaxRetryAttempts) + " (0: the default)");
  }
  if (const auto* e = std::get_if<ExponentialBackoff>(&policy.schedule)) {
    HALFMQ_RETURN_IF_ERROR(CheckDelay("initial delay", e->initial, 1));
    HALFMQ_RETURN_IF_ERROR(CheckDelay("max delay", e->max, 1));
    if (e->max < e->initial) {
      return Status::InvalidArgument("max delay (" + std::to_string(e->max.count()) +
                                     " ms) is below the initial delay (" +
                                     std::to_string(e->initial.count()) + " ms)");
    }
    // Written so that NaN fails too.
    if (!(e->multiplier >= 1.0 && e->multiplier <= kMaxRetryMultiplier)) {
      return Status::InvalidArgument("multiplier must be in 1.." +
                                     std::to_string(static_cast<int>(kMaxRetryMultiplier)));
    }
  } else if (const auto* f = std::get_if<FixedDelays>(&policy.schedule)) {
    if (f->delays.empty() || f->delays.size() > kMaxRetryDelays) {
      return Status::InvalidArgument("fixed delays must list 1.." +
                                     std::to_string(kMaxRetryDelays) + " delays");
    }
    for (std::chrono::milliseconds delay : f->delays) {
      HALFMQ_RETURN_IF_ERROR(CheckDelay("a fixed delay", delay, 0));
    }
  }
  return Status::Ok();
}

Result<v1::RetryPolicy> ToProto(const RetryPolicy& policy) {
  HALFMQ_RETURN_IF_ERROR(ValidateRetryPolicy(policy));
  v1::RetryPolicy out;
  out.set_max_attempts(policy.max_attempts);
  if (const auto* e = std::get_if<ExponentialBackoff>(&policy.schedule)) {
    v1::ExponentialBackoff* exp = out.mutable_exponential();
    exp->set_initial_ms(static_cast<uint32_t>(e->initial.count()));
    exp->set_multiplier(e->multiplier);
    exp->set_max_ms(static_cast<uint32_t>(e->max.count()));
    exp->set_no_jitter(!e->jitter);
  } else if (const auto* f = std::get_if<FixedDelays>(&policy.schedule)) {
    v1::FixedDelays* fixed = out.mutable_fixed();
    for (std::chrono::milliseconds delay : f->delays) {
      fixed->add_delays_ms(static_cast<uint32_t>(delay.count()));
    }
  }
  return out;
}

RetryPolicy FromProto(const v1::RetryPolicy& in) {
  RetryPolicy out;
  out.max_attempts = in.max_attempts();
  switch (in.schedule_case()) {
    case v1::RetryPolicy::kExponential: {
      const v1::ExponentialBackoff& e = in.exponential();
      ExponentialBackoff exp;
      exp.initial = std::chrono::milliseconds(e.initial_ms());
      exp.multiplier = e.multiplier();
      exp.max = std::chrono::milliseconds(e.max_ms());
      exp.jitter = !e.no_jitter();
      out.schedule = exp;
      break;
    }
    case v1::RetryPolicy::kFixed: {
      FixedDelays fixed;
      for (uint32_t ms : in.fixed().delays_ms()) {
        fixed.delays.push_back(std::chrono::milliseconds(ms));
      }
      out.schedule = std::move(fixed);
      break;
    }
    case v1::RetryPolicy::SCHEDULE_NOT_SET:
      break;
  }
  return out;
}

GroupConfig FromProto(const v1::GroupConfig& in) {
  GroupConfig out;
  out.group = in.group();
  out.retry_policy = FromProto(in.retry_policy());
  out.dead_letter_topic = in.dead_letter_topic();
  return out;
}

DeadLetter FromProto(const v1::DeadLetter& in) {
  DeadLetter out;
  out.message_id = in.message_id();
  out.info = FromProto(in.info());
  out.dead_letter_topic = in.dead_letter_topic();
  out.queue_id = in.queue_id();
  out.offset = in.offset();
  out.redriven_ms = in.redriven_ms();
  out.redriven_to = in.redriven_to();
  return out;
}

RedriveResult FromProto(const v1::RedriveResult& in) {
  RedriveResult out;
  out.message_id = in.message_id();
  out.status = FromProto(in.status());
  out.topic = in.topic();
  out.queue_id = in.queue_id();
  out.offset = in.offset();
  return out;
}

StoredMessage FromProto(const v1::FoundMessage& in) {
  StoredMessage out;
  FillStoredFields(in, &out);
  return out;
}

TraceKind FromProto(v1::TraceKind in) {
  switch (in) {
    case v1::TRACE_STORED:
      return TraceKind::kStored;
    case v1::TRACE_HALF_STORED:
      return TraceKind::kHalfStored;
    case v1::TRACE_COMMITTED:
      return TraceKind::kCommitted;
    case v1::TRACE_ROLLED_BACK:
      return TraceKind::kRolledBack;
    case v1::TRACE_CHECKED:
      return TraceKind::kChecked;
    case v1::TRACE_DELIVERED:
      return TraceKind::kDelivered;
    case v1::TRACE_NACKED:
      return TraceKind::kNacked;
    case v1::TRACE_ACKED:
      return TraceKind::kAcked;
    case v1::TRACE_DEAD_LETTERED:
      return TraceKind::kDeadLettered;
    case v1::TRACE_REDRIVEN:
      return TraceKind::kRedriven;
    case v1::TRACE_DELAYED:
      return TraceKind::kDelayed;
    case v1::TRACE_DEDUPLICATED:
      return TraceKind::kDeduplicated;
    case v1::TRACE_EXPIRED:
      return TraceKind::kExpired;
    default:
      // TRACE_KIND_UNSPECIFIED, and numbers of a newer protocol.
      break;
  }
  return TraceKind::kUnknown;
}

std::string TraceKindName(int wire_kind) {
  constexpr std::string_view kPrefix = "TRACE_";
  std::string name;
  if (wire_kind != v1::TRACE_KIND_UNSPECIFIED && v1::TraceKind_IsValid(wire_kind)) {
    name = v1::TraceKind_Name(static_cast<v1::TraceKind>(wire_kind));
  }
  if (name.rfind(kPrefix, 0) != 0) return "kind_" + std::to_string(wire_kind);
  name.erase(0, kPrefix.size());
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

TraceEvent FromProto(const v1::TraceEvent& in) {
  TraceEvent out;
  out.time_ms = in.time_ms();
  out.kind = FromProto(in.kind());
  out.kind_name = TraceKindName(static_cast<int>(in.kind()));
  out.group = in.group();
  out.client = in.client();
  out.attempt = in.attempt();
  out.detail = in.detail();
  out.delivered_ms = in.delivered_ms();
  return out;
}

// ---------------------------------------------------------------------------

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
