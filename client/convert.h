// Conversions between the public client types (halfmq/*.h) and the wire
// protos, plus the client-side checks that run before a request is sent.
// Client-side validation rejects what the broker would reject anyway, with a
// clearer message and without a round trip; it also keeps invalid UTF-8 out
// of protobuf `string` fields, which would make the broker drop the whole
// frame as malformed. Pure functions, thread-safe.
#ifndef HALFMQ_CLIENT_CONVERT_H_
#define HALFMQ_CLIENT_CONVERT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "halfmq/admin.h"
#include "halfmq/message.h"
#include "halfmq/transaction.h"
#include "proto/halfmq/v1/api.pb.h"

namespace halfmq::client {

// Errors: INVALID_ARGUMENT naming the field and the rule broken.
Status ValidateMessage(const Message& message);

// Validates `messages` (1..kMaxMessagesPerSend, each as ValidateMessage, no
// repeated explicit ids) and builds the SendRequest frame, generating a
// message id for every message without one. Ids are fixed here, once, so
// retries of the frame reuse them. Errors: INVALID_ARGUMENT.
Result<v1::Frame> BuildSendFrame(const std::vector<Message>& messages);

// Validates `messages` (as BuildSendFrame) and appends their protos to
// `out`, generating an id for each message without one. Errors:
// INVALID_ARGUMENT.
Status AppendMessageProtos(const std::vector<Message>& messages,
                           google::protobuf::RepeatedPtrField<v1::Message>* out);

SendReceipt FromProto(const v1::SendResult& in);

// Receipts for a send_response, checking it has one result per message.
// Errors: INTERNAL for a response that does not match the request.
Result<std::vector<SendReceipt>> ReceiptsFromResponse(const v1::Frame& response,
                                                      size_t expected_count);

ReceivedMessage FromProto(const v1::ReceivedMessage& in);
DeadLetterInfo FromProto(const v1::DeadLetterInfo& in);
TopicInfo FromProto(const v1::TopicInfo& in);
QueueLag FromProto(const v1::QueueLag& in);
Status FromProto(const v1::Status& in);

// Per-handle results of an Ack or Nack response. Errors: INTERNAL if the
// count differs from the request's.
Result<std::vector<Status>> PerHandleStatuses(
    const google::protobuf::RepeatedPtrField<v1::Status>& results, size_t expected_count);

// ---------------------------------------------------------------------------
// Transactions

// Transaction ids follow the message id rules: 1..128 printable ASCII bytes
// without spaces. Errors: INVALID_ARGUMENT.
Status ValidateTxnId(std::string_view txn_id);

// Errors: INVALID_ARGUMENT naming the field.
Status ValidateTransactionProducerOptions(const TransactionProducerOptions& options);

// Validates `messages` as BuildSendFrame does (generating missing ids once)
// and builds a SendHalfRequest frame. Errors: INVALID_ARGUMENT.
// `fresh_txn`: this process generated txn_id and this is its first half send.
Result<v1::Frame> BuildSendHalfFrame(const std::string& txn_id, const std::string& producer_group,
                                     uint32_t check_immunity_ms,
                                     const std::vector<Message>& messages, bool fresh_txn);

// One receipt per message of a SendHalfRequest frame, in order.
std::vector<HalfReceipt> HalfReceiptsOf(const v1::Frame& send_half_request);

// Where an EndTransaction comes from (informational for the broker).
enum class EndSource { kProducer, kCheck, kOperator };

// Errors: INVALID_ARGUMENT for a bad id or an outcome of kUnknown.
Result<v1::Frame> BuildEndTransactionFrame(const std::string& txn_id, TxnState outcome,
                                           EndSource source);

// Errors: INTERNAL if the broker's outcome is not the one requested.
Result<EndResult> EndResultFromResponse(const v1::Frame& response, TxnState requested);

// A check as the checker sees it. Errors: INVALID_ARGUMENT for a check
// without a transaction id or without messages (a checker could not decide
// it; deciding from an empty message would be worse than not answering).
Result<CheckRequest> CheckRequestFromProto(const v1::CheckTransactionRequest& in);

// The OK response to a CheckTransaction request.
v1::Frame CheckResponseFrame(TxnState outcome);

v1::TxnOutcome ToProto(TxnState state);
v1::TxnState ToProto(TxnListState state);

// Errors: INTERNAL for a state other than pending or unresolved.
Result<TransactionInfo> FromProto(const v1::TransactionInfo& in);

// ---------------------------------------------------------------------------
// Retry policies, dead letters, lookup and trace

// Errors: INVALID_ARGUMENT naming the bound broken (see
// Admin::SetRetryPolicy).
Status ValidateRetryPolicy(const RetryPolicy& policy);

// Validates and converts. Errors: as ValidateRetryPolicy.
Result<v1::RetryPolicy> ToProto(const RetryPolicy& policy);

// From the broker; not validated (the broker's word is what it applies).
RetryPolicy FromProto(const v1::RetryPolicy& in);
GroupConfig FromProto(const v1::GroupConfig& in);
DeadLetter FromProto(const v1::DeadLetter& in);
RedriveResult FromProto(const v1::RedriveResult& in);
StoredMessage FromProto(const v1::FoundMessage& in);
TraceEvent FromProto(const v1::TraceEvent& in);
TraceKind FromProto(v1::TraceKind in);

// "stored", "half_stored", ...: the wire name without "TRACE_", lowercase;
// "kind_<n>" for a number this client's protocol does not name.
std::string TraceKindName(int wire_kind);

// ---------------------------------------------------------------------------

// Consumer groups: ValidateName, plus reserved-name check.
Status ValidateGroup(const std::string& group);

// Topic names a consumer may read. Like ValidateName, except that names
// starting with '%' (the broker's own topics, such as dead-letter topics)
// are allowed through: the broker decides who may read them.
Status ValidateReadableTopic(const std::string& topic);

}  // namespace halfmq::client

#endif  // HALFMQ_CLIENT_CONVERT_H_
