#include "broker/produce_service.h"

#include <memory>

namespace halfmq::broker {

void ProduceService::Send(v1::SendRequest request, Responder responder) {
  auto entries = log_->Prepare(request.mutable_messages());
  if (!entries.ok()) return responder.Error(entries.status());
  auto shared = std::make_shared<Responder>(std::move(responder));
  log_->Append(std::move(entries).value(), store_->NewBatch(), /*txn_id=*/"",
               [shared](std::vector<v1::SendResult> results) {
                 v1::Frame frame;
                 auto* out = frame.mutable_send_response()->mutable_results();
                 out->Reserve(static_cast<int>(results.size()));
                 for (auto& r : results) *out->Add() = std::move(r);
                 shared->Ok(std::move(frame));
               });
}

}  // namespace halfmq::broker
