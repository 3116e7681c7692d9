#include "broker/dispatcher.h"

#include <glog/logging.h>

#include "common/limits.h"
#include "common/version.h"

namespace halfmq::broker {

RequestWrites WritesOf(v1::Frame::BodyCase request) {
  switch (request) {
    case v1::Frame::kSend:  // delayed sends too
    case v1::Frame::kSendHalf:
    case v1::Frame::kRedrive:
      return RequestWrites::kMessages;
    case v1::Frame::kCreateTopic:
    case v1::Frame::kReceive:  // in-flight entries
    case v1::Frame::kAck:
    case v1::Frame::kNack:
    case v1::Frame::kChangeInvisibleDuration:
    case v1::Frame::kCreateSubscription:
    case v1::Frame::kEndTransaction:
    case v1::Frame::kSetGroupConfig:
      return RequestWrites::kState;
    default:
      return RequestWrites::kNothing;
  }
}

void Dispatcher::Dispatch(v1::Frame request, Responder responder,
                          const std::shared_ptr<Connection>& connection) {
  Inc(metrics_->requests);
  if (disk_ != nullptr) {
    Status admitted = disk_->Admit(WritesOf(request.body_case()));
    if (!admitted.ok()) return responder.Error(admitted);
  }
  switch (request.body_case()) {
    case v1::Frame::kHello:
      return Hello(request.hello(), std::move(responder), connection);
    case v1::Frame::kCreateTopic:
      return admin_->CreateTopic(std::move(*request.mutable_create_topic()), std::move(responder));
    case v1::Frame::kListTopics:
      return admin_->ListTopics(std::move(*request.mutable_list_topics()), std::move(responder));
    case v1::Frame::kGetBrokerStats:
      return admin_->GetBrokerStats(std::move(*request.mutable_get_broker_stats()),
                                    std::move(responder));
    case v1::Frame::kSend:
      return produce_->Send(std::move(*request.mutable_send()), std::move(responder), connection);
    case v1::Frame::kReceive:
      return consume_->Receive(std::move(*request.mutable_receive()), std::move(responder),
                               connection->client_id());
    case v1::Frame::kAck:
      return consume_->Ack(std::move(*request.mutable_ack()), std::move(responder));
    case v1::Frame::kNack:
      return consume_->Nack(std::move(*request.mutable_nack()), std::move(responder));
    case v1::Frame::kChangeInvisibleDuration:
      return consume_->ChangeInvisibleDuration(
          std::move(*request.mutable_change_invisible_duration()), std::move(responder));
    case v1::Frame::kCreateSubscription:
      return consume_->CreateSubscription(std::move(*request.mutable_create_subscription()),
                                          std::move(responder));
    case v1::Frame::kSendHalf:
      return txn_->SendHalf(std::move(*request.mutable_send_half()), std::move(responder),
                            connection);
    case v1::Frame::kEndTransaction:
      return txn_->EndTransaction(std::move(*request.mutable_end_transaction()),
                                  std::move(responder));
    case v1::Frame::kListTransactions:
      return txn_->ListTransactions(std::move(*request.mutable_list_transactions()),
                                    std::move(responder));
    case v1::Frame::kSetGroupConfig:
      return consume_->SetGroupConfig(std::move(*request.mutable_set_group_config()),
                                      std::move(responder));
    case v1::Frame::kGetGroupConfig:
      return consume_->GetGroupConfig(std::move(*request.mutable_get_group_config()),
                                      std::move(responder));
    case v1::Frame::kListDeadLetters:
      return consume_->ListDeadLetters(std::move(*request.mutable_list_dead_letters()),
                                       std::move(responder));
    case v1::Frame::kRedrive:
      return consume_->Redrive(std::move(*request.mutable_redrive()), std::move(responder));
    case v1::Frame::kGetMessage:
      return query_->GetMessage(std::move(*request.mutable_get_message()), std::move(responder));
    case v1::Frame::kTraceMessage:
      return query_->TraceMessage(std::move(*request.mutable_trace_message()),
                                  std::move(responder));
    case v1::Frame::kFindMessages:
      return query_->FindMessages(std::move(*request.mutable_find_messages()),
                                  std::move(responder));
    case v1::Frame::kGetLag:
      return consume_->GetLag(std::move(*request.mutable_get_lag()), std::move(responder));
    default:
      Inc(metrics_->requests_unsupported);
      return responder.Error(Status::InvalidArgument(
          "request type " + std::to_string(request.body_case()) +
          " is not a request this broker serves"));
  }
}

void Dispatcher::Hello(const v1::HelloRequest& hello, Responder responder,
                       const std::shared_ptr<Connection>& connection) {
  // A refused Hello changes nothing: neither the client id nor the groups.
  Status s = ValidateClientId(hello.client_id());
  if (s.ok()) {
    s = txn_->RegisterProducer(connection, hello.producer_groups(), hello.max_outstanding_checks());
  }
  if (!s.ok()) return responder.Error(s);
  connection->SetClientId(hello.client_id());
  VLOG(1) << "connection " << connection->id() << " from " << connection->peer() << " is client '"
          << hello.client_id() << "'";
  v1::Frame frame;
  auto* out = frame.mutable_hello_response();
  out->set_broker_version(kHalfmqVersion);
  out->set_protocol_version(kProtocolVersion);
  out->set_max_frame_bytes(limits_.max_frame_bytes);
  out->set_max_message_bytes(limits_.max_message_bytes);
  responder.Ok(std::move(frame));
}

}  // namespace halfmq::broker
