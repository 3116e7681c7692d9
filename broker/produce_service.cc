#include "broker/produce_service.h"

#include <memory>

#include "common/limits.h"

namespace halfmq::broker {

void ProduceService::Send(v1::SendRequest request, Responder responder) {
  auto* messages = request.mutable_messages();
  if (messages->empty()) return responder.Error(Status::InvalidArgument("no messages to send"));
  if (static_cast<size_t>(messages->size()) > kMaxMessagesPerSend) {
    return responder.Error(Status::InvalidArgument(
        "at most " + std::to_string(kMaxMessagesPerSend) + " messages per request"));
  }
  int64_t now = clock_->NowMs();
  // Delayed messages wait in the delay keyspace; the others are appended.
  // Both go into one batch, so a request is stored entirely or not at all.
  storage::Batch batch = store_->NewBatch();
  google::protobuf::RepeatedPtrField<v1::Message> immediate;
  std::vector<v1::SendResult> results(messages->size());
  std::vector<int> immediate_index;
  int64_t earliest_due = INT64_MAX;
  int delayed = 0;
  for (int i = 0; i < messages->size(); ++i) {
    v1::Message& m = (*messages)[i];
    auto due = MessageLog::DueTime(m, now);
    if (!due) {
      immediate_index.push_back(i);
      *immediate.Add() = std::move(m);
      continue;
    }
    Status s = log_->Validate(m);
    if (s.ok() && log_->topics()->Find(m.topic()) == nullptr) {
      s = Status::NotFound("topic '" + m.topic() + "' does not exist");
    }
    if (!s.ok()) return responder.Error(s);
    results[i].set_message_id(m.message_id());
    results[i].set_topic(m.topic());
    results[i].set_store_time_ms(now);
    results[i].set_deliver_at_ms(*due);
    delays_->Store(m, *due, &batch);
    earliest_due = std::min(earliest_due, *due);
    ++delayed;
  }
  auto finish = [this, earliest_due, delayed](std::vector<v1::SendResult> all,
                                             const std::shared_ptr<Responder>& r) {
    if (delayed > 0) delays_->Scheduled(earliest_due, delayed);
    v1::Frame frame;
    auto* out = frame.mutable_send_response()->mutable_results();
    out->Reserve(static_cast<int>(all.size()));
    for (auto& res : all) *out->Add() = std::move(res);
    r->Ok(std::move(frame));
  };
  auto shared = std::make_shared<Responder>(std::move(responder));
  if (immediate.empty()) {
    store_->Commit(std::move(batch), [finish, shared, results = std::move(results)]() mutable {
      finish(std::move(results), shared);
    });
    return;
  }
  auto entries = log_->Prepare(&immediate);
  if (!entries.ok()) return shared->Error(entries.status());
  log_->Append(std::move(entries).value(), std::move(batch), /*txn_id=*/"",
               [finish, shared, results = std::move(results),
                immediate_index = std::move(immediate_index)](
                   std::vector<v1::SendResult> appended) mutable {
                 for (size_t k = 0; k < appended.size(); ++k) {
                   results[immediate_index[k]] = std::move(appended[k]);
                 }
                 finish(std::move(results), shared);
               });
}

}  // namespace halfmq::broker
