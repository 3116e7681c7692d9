// Conversions and checks for transactions (see convert.h).
#include <cstdint>
#include <string>
#include <utility>

#include "client/convert.h"
#include "common/limits.h"

namespace halfmq::client {
namespace {

// Bounds of TransactionProducerOptions: more check threads or pending checks
// than this is a misconfiguration, not a need.
constexpr int kMaxCheckThreads = 256;
constexpr uint32_t kMaxPendingChecks = 65536;

}  // namespace

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
                                     const std::vector<Message>& messages, bool fresh_txn) {
  HALFMQ_RETURN_IF_ERROR(ValidateTxnId(txn_id));
  HALFMQ_RETURN_IF_ERROR(ValidateName("producer group", producer_group));
  v1::Frame frame;
  v1::SendHalfRequest* half = frame.mutable_send_half();
  half->set_txn_id(txn_id);
  half->set_producer_group(producer_group);
  half->set_check_immunity_ms(check_immunity_ms);
  half->set_fresh_txn(fresh_txn);
  HALFMQ_RETURN_IF_ERROR(AppendMessageProtos(messages, half->mutable_messages()));
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
  for (const v1::SendResult& r : end.results()) result.receipts.push_back(FromProto(r));
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
    if (!m.message_group().empty()) message.MessageGroup(m.message_group());
    if (m.deliver_at_ms() != 0) {
      message.DeliverAt(m.deliver_at_ms());
    } else if (m.delay_ms() != 0) {
      message.Delay(std::chrono::milliseconds(m.delay_ms()));
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
      return Status::Internal("broker listed transaction " + in.txn_id() + " in unexpected state " +
                              std::to_string(in.state()));
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

}  // namespace halfmq::client
