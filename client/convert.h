// Conversions between the public client types (halfmq/*.h) and the wire
// protos, plus the client-side checks that run before a request is sent.
// Client-side validation rejects what the broker would reject anyway, with a
// clearer message and without a round trip; it also keeps invalid UTF-8 out
// of protobuf `string` fields, which would make the broker drop the whole
// frame as malformed. Pure functions, thread-safe.
#ifndef HALFMQ_CLIENT_CONVERT_H_
#define HALFMQ_CLIENT_CONVERT_H_

#include <vector>

#include "common/status.h"
#include "halfmq/admin.h"
#include "halfmq/message.h"
#include "proto/halfmq/v1/api.pb.h"

namespace halfmq::client {

// Errors: INVALID_ARGUMENT naming the field and the rule broken.
Status ValidateMessage(const Message& message);

// Validates `messages` (1..kMaxMessagesPerSend, each as ValidateMessage, no
// repeated explicit ids) and builds the SendRequest frame, generating a
// message id for every message without one. Ids are fixed here, once, so
// retries of the frame reuse them. Errors: INVALID_ARGUMENT.
Result<v1::Frame> BuildSendFrame(const std::vector<Message>& messages);

// Receipts for a send_response, checking it has one result per message.
// Errors: INTERNAL for a response that does not match the request.
Result<std::vector<SendReceipt>> ReceiptsFromResponse(const v1::Frame& response,
                                                      size_t expected_count);

ReceivedMessage FromProto(const v1::ReceivedMessage& in);
TopicInfo FromProto(const v1::TopicInfo& in);
QueueLag FromProto(const v1::QueueLag& in);
Status FromProto(const v1::Status& in);

// Per-handle results of an Ack or Nack response. Errors: INTERNAL if the
// count differs from the request's.
Result<std::vector<Status>> PerHandleStatuses(
    const google::protobuf::RepeatedPtrField<v1::Status>& results, size_t expected_count);

// Consumer groups: ValidateName, plus reserved-name check.
Status ValidateGroup(const std::string& group);

// Topic names a consumer may read. Like ValidateName, except that names
// starting with '%' (the broker's own topics, such as dead-letter topics)
// are allowed through: the broker decides who may read them.
Status ValidateReadableTopic(const std::string& topic);

}  // namespace halfmq::client

#endif  // HALFMQ_CLIENT_CONVERT_H_
