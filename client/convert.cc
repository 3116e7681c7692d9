#include "client/convert.h"

#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <utility>

#include "client/utf8.h"
#include "common/limits.h"

namespace halfmq::client {
namespace {

Status Utf8Field(std::string_view what, std::string_view value) {
  if (IsValidUtf8(value)) return Status::Ok();
  return Status::InvalidArgument(std::string(what) + " is not valid UTF-8");
}

// Bounds of TransactionProducerOptions: more check threads or pending checks
// than this is a misconfiguration, not a need.
constexpr int kMaxCheckThreads = 256;
constexpr uint32_t kMaxPendingChecks = 65536;

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

namespace {

// Validates `messages` and appends their protos to `out`, generating an id
// for each message without one.
Status AppendMessages(const std::vector<Message>& messages,
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
    out->set_born_time_ms(born_ms);
  }
  return Status::Ok();
}

SendReceipt ReceiptFromProto(const v1::SendResult& r) {
  SendReceipt receipt;
  receipt.message_id = r.message_id();
  receipt.topic = r.topic();
  receipt.queue_id = r.queue_id();
  receipt.offset = r.offset();
  receipt.store_time_ms = r.store_time_ms();
  return receipt;
}

}  // namespace

Result<v1::Frame> BuildSendFrame(const std::vector<Message>& messages) {
  v1::Frame frame;
  HALFMQ_RETURN_IF_ERROR(AppendMessages(messages, frame.mutable_send()->mutable_messages()));
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
  for (const v1::SendResult& r : send.results()) receipts.push_back(ReceiptFromProto(r));
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

// ---------------------------------------------------------------------------
// Transactions

Status ValidateTxnId(std::string_view txn_id) {
  Status status = ValidateMessageId(txn_id);
  if (status.ok()) return status;
  // Same rules, but the message should name what the caller got wrong.
  std::string message = status.message();
  if (message.rfind("message id", 0) == 0) message = "transaction id" + message.substr(10);
  return Status::InvalidArgument(std::move(message));
}

Status ValidateTransactionProducerOptions(const TransactionProducerOptions& options) {
  if (options.check_threads < 1 || options.check_threads > kMaxCheckThreads) {
    return Status::InvalidArgument("check_threads must be in 1.." +
                                   std::to_string(kMaxCheckThreads));
  }
  if (options.max_pending_checks < 1 || options.max_pending_checks > kMaxPendingChecks) {
    return Status::InvalidArgument("max_pending_checks must be in 1.." +
                                   std::to_string(kMaxPendingChecks));
  }
  if (options.check_immunity.count() < 0 || options.check_immunity.count() > UINT32_MAX) {
    return Status::InvalidArgument("check_immunity must be in 0.." + std::to_string(UINT32_MAX) +
                                   " ms");
  }
  return Status::Ok();
}

Result<v1::Frame> BuildSendHalfFrame(const std::string& txn_id, const std::string& producer_group,
                                     uint32_t check_immunity_ms,
                                     const std::vector<Message>& messages) {
  HALFMQ_RETURN_IF_ERROR(ValidateTxnId(txn_id));
  HALFMQ_RETURN_IF_ERROR(ValidateName("producer group", producer_group));
  v1::Frame frame;
  v1::SendHalfRequest* half = frame.mutable_send_half();
  half->set_txn_id(txn_id);
  half->set_producer_group(producer_group);
  half->set_check_immunity_ms(check_immunity_ms);
  HALFMQ_RETURN_IF_ERROR(AppendMessages(messages, half->mutable_messages()));
  return frame;
}

std::vector<HalfReceipt> HalfReceiptsOf(const v1::Frame& send_half_request) {
  const v1::SendHalfRequest& half = send_half_request.send_half();
  std::vector<HalfReceipt> receipts;
  receipts.reserve(static_cast<size_t>(half.messages_size()));
  for (const v1::Message& m : half.messages()) {
    receipts.push_back(HalfReceipt{half.txn_id(), m.message_id(), m.topic()});
  }
  return receipts;
}

v1::TxnOutcome ToProto(TxnState state) {
  switch (state) {
    case TxnState::kCommit:
      return v1::COMMIT;
    case TxnState::kRollback:
      return v1::ROLLBACK;
    case TxnState::kUnknown:
      break;
  }
  return v1::UNKNOWN;
}

v1::TxnState ToProto(TxnListState state) {
  switch (state) {
    case TxnListState::kPending:
      return v1::PENDING;
    case TxnListState::kUnresolved:
      return v1::UNRESOLVED;
    case TxnListState::kAll:
      break;
  }
  return v1::TXN_STATE_UNSPECIFIED;
}

Result<v1::Frame> BuildEndTransactionFrame(const std::string& txn_id, TxnState outcome,
                                           EndSource source) {
  HALFMQ_RETURN_IF_ERROR(ValidateTxnId(txn_id));
  if (outcome == TxnState::kUnknown) {
    return Status::InvalidArgument("a transaction ends with commit or rollback, not unknown");
  }
  v1::Frame frame;
  v1::EndTransactionRequest* end = frame.mutable_end_transaction();
  end->set_txn_id(txn_id);
  end->set_outcome(ToProto(outcome));
  end->set_from_check(source == EndSource::kCheck);
  end->set_from_operator(source == EndSource::kOperator);
  return frame;
}

Result<EndResult> EndResultFromResponse(const v1::Frame& response, TxnState requested) {
  const v1::EndTransactionResponse& end = response.end_transaction_response();
  if (end.outcome() != ToProto(requested)) {
    return Status::Internal("broker answered EndTransaction(" +
                            std::string(v1::TxnOutcome_Name(ToProto(requested))) +
                            ") with outcome " + std::to_string(static_cast<int>(end.outcome())));
  }
  EndResult result;
  result.outcome = requested;
  result.applied = end.applied();
  result.receipts.reserve(static_cast<size_t>(end.results_size()));
  for (const v1::SendResult& r : end.results()) result.receipts.push_back(ReceiptFromProto(r));
  return result;
}

Result<CheckRequest> CheckRequestFromProto(const v1::CheckTransactionRequest& in) {
  if (in.txn_id().empty()) return Status::InvalidArgument("check without a transaction id");
  if (in.messages().empty()) {
    return Status::InvalidArgument("check of transaction " + in.txn_id() + " has no messages");
  }
  CheckRequest out;
  out.txn_id = in.txn_id();
  out.producer_group = in.producer_group();
  out.check_number = in.check_number();
  out.created_ms = in.created_ms();
  out.messages.reserve(static_cast<size_t>(in.messages_size()));
  for (const v1::Message& m : in.messages()) {
    Message message(m.topic());
    message.Id(m.message_id());
    for (const std::string& key : m.keys()) message.Key(key);
    message.Tag(m.tag());
    // A proto map iterates in no particular order; Message keeps a sorted map.
    for (const auto& [name, value] : m.properties()) message.Property(name, value);
    message.Body(m.body());
    if (m.queue_selector_case() == v1::Message::kQueueId) {
      message.Queue(m.queue_id());
    } else if (m.queue_selector_case() == v1::Message::kShardingKey) {
      message.ShardingKey(m.sharding_key());
    }
    out.messages.push_back(std::move(message));
  }
  return out;
}

v1::Frame CheckResponseFrame(TxnState outcome) {
  v1::Frame frame;
  frame.mutable_check_transaction_response()->set_outcome(ToProto(outcome));
  return frame;
}

Result<TransactionInfo> FromProto(const v1::TransactionInfo& in) {
  TransactionInfo out;
  switch (in.state()) {
    case v1::PENDING:
      out.state = TxnListState::kPending;
      break;
    case v1::UNRESOLVED:
      out.state = TxnListState::kUnresolved;
      break;
    default:
      return Status::Internal("broker listed transaction " + in.txn_id() +
                              " in unexpected state " + std::to_string(in.state()));
  }
  out.txn_id = in.txn_id();
  out.producer_group = in.producer_group();
  out.checks = in.checks();
  out.created_ms = in.created_ms();
  out.next_check_ms = in.next_check_ms();
  out.topics.assign(in.topics().begin(), in.topics().end());
  out.message_count = in.message_count();
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
