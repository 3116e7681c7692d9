#include "broker/produce_service.h"

#include <algorithm>

#include "common/limits.h"
#include "proto/halfmq/v1/records.pb.h"
#include "storage/message_index.h"

namespace halfmq::broker {

ProduceService::ConnectionLane ProduceService::LaneFor(uint64_t connection_id) {
  MutexLock lock(&strands_mu_);
  auto it = strands_.find(connection_id);
  if (it == strands_.end()) {
    it = strands_.emplace(connection_id, ConnectionLane(asio::make_strand(pool_))).first;
  }
  return it->second;
}

void ProduceService::OnConnectionClosed(uint64_t connection_id) {
  MutexLock lock(&strands_mu_);
  strands_.erase(connection_id);
}

void ProduceService::Send(v1::SendRequest request, Responder responder,
                          const std::shared_ptr<Connection>& connection) {
  const auto& messages = request.messages();
  if (messages.empty()) return responder.Error(Status::InvalidArgument("no messages to send"));
  if (static_cast<size_t>(messages.size()) > kMaxMessagesPerSend) {
    return responder.Error(Status::InvalidArgument(
        "at most " + std::to_string(kMaxMessagesPerSend) + " messages per request"));
  }
  // Everything is validated before any dedup lookup, so a bad message is
  // refused even if its id was seen before.
  std::vector<std::string> keys;
  keys.reserve(messages.size());
  for (const auto& m : messages) {
    Status s = log_->Validate(m);
    auto topic = s.ok() ? log_->topics()->Find(m.topic()) : nullptr;
    if (s.ok() && topic == nullptr) {
      s = Status::NotFound("topic '" + m.topic() + "' does not exist");
    }
    if (s.ok() && m.queue_selector_case() == v1::Message::kQueueId &&
        m.queue_id() >= topic->queue_count()) {
      s = Status::InvalidArgument("queue " + std::to_string(m.queue_id()) + " out of range: topic '" +
                                  m.topic() + "' has " + std::to_string(topic->queue_count()) +
                                  " queues");
    }
    if (!s.ok()) return responder.Error(s);
    std::string k = m.topic();
    k.push_back('\0');
    k.append(m.message_id());
    keys.push_back(std::move(k));
  }
  std::sort(keys.begin(), keys.end());
  if (std::adjacent_find(keys.begin(), keys.end()) != keys.end()) {
    return responder.Error(
        Status::InvalidArgument("a message id repeats within the request (it is the message's "
                                "idempotency key)"));
  }
  auto shared = std::make_shared<Responder>(std::move(responder));
  if (dedup_window_ms_ <= 0) return Store(std::move(request), shared, nullptr, false);
  ConnectionLane lane = LaneFor(connection->id());
  // Fast path: ids the client just generated need no dedup lookup, so the
  // send is stored right here, unless earlier sends of this connection are
  // still in the lane (order) or a retry holds one of the ids (never, for
  // fresh ids, in practice). The ids are held until the write is durable, so
  // a retry racing this attempt waits for it and then finds its index entry.
  // Send() runs on the connection's strand and only it adds to the lane, so
  // an idle lane stays idle until this returns.
  if (request.fresh_ids()) {
    bool idle;
    {
      MutexLock lock(&lane.queue->mu);
      idle = !lane.queue->active && lane.queue->waiting.empty();
    }
    if (idle) {
      if (auto lease = gate_.TryAcquire(keys)) {
        return Store(std::move(request), shared, std::move(lease), /*fresh=*/true);
      }
    }
  }
  auto req = std::make_shared<v1::SendRequest>(std::move(request));
  std::function<void()> start = [this, req, shared, keys = std::move(keys), lane]() mutable {
    gate_.Run(std::move(keys), lane.strand,
              [this, req, shared, queue = lane.queue](std::shared_ptr<KeyGate::Lease> lease) {
                Store(std::move(*req), shared, std::move(lease), /*fresh=*/false);
                NextInLane(queue);  // stored (handed to the committer): the next may go
              });
  };
  {
    MutexLock lock(&lane.queue->mu);
    if (lane.queue->active) {
      lane.queue->waiting.push_back(std::move(start));
      return;
    }
    lane.queue->active = true;
  }
  start();
}

void ProduceService::NextInLane(const std::shared_ptr<LaneQueue>& queue) {
  std::function<void()> next;
  {
    MutexLock lock(&queue->mu);
    if (queue->waiting.empty()) {
      queue->active = false;
      return;
    }
    next = std::move(queue->waiting.front());
    queue->waiting.pop_front();
  }
  next();
}

Status ProduceService::AnswerDuplicates(
    const google::protobuf::RepeatedPtrField<v1::Message>& messages, int64_t now,
    std::vector<v1::SendResult>* results, std::vector<bool>* done) const {
  storage::MessageIndex index(store_);
  for (int i = 0; i < messages.size(); ++i) {
    const v1::Message& m = messages[i];
    auto topic = log_->topics()->Find(m.topic());
    if (topic == nullptr || m.message_id().empty()) continue;  // fails validation later
    auto found = index.FindId(MessageId(m.message_id()), topic->id());
    if (!found.ok()) return found.status();
    if (!found->has_value()) continue;
    const v1::IndexRecord& stored = **found;
    if (now - stored.store_time_ms() > dedup_window_ms_) continue;
    v1::SendResult& r = (*results)[i];
    r.set_message_id(m.message_id());
    r.set_topic(m.topic());
    r.set_queue_id(stored.queue_id());
    r.set_offset(stored.offset());
    r.set_store_time_ms(stored.store_time_ms());
    r.set_deliver_at_ms(stored.deliver_at_ms());
    r.set_deduplicated(true);
    (*done)[i] = true;
  }
  return Status::Ok();
}

Status ProduceService::StoreDelayed(const v1::Message& m, int64_t now, int64_t due,
                                    v1::SendResult* result, storage::Batch* batch) {
  Status s = log_->Validate(m);
  auto topic = log_->topics()->Find(m.topic());
  if (s.ok() && topic == nullptr) s = Status::NotFound("topic '" + m.topic() + "' does not exist");
  if (!s.ok()) return s;
  result->set_message_id(m.message_id());
  result->set_topic(m.topic());
  result->set_store_time_ms(now);
  result->set_deliver_at_ms(due);
  delays_->Store(m, due, batch);
  tracer_->Add(batch, {
      .message_id = m.message_id(), .time_ms = now, .kind = v1::TRACE_DELAYED,
      .detail = "topic " + m.topic() + ", due at " + std::to_string(due)});
  v1::IndexRecord index;  // so that a retry of it is deduplicated too
  index.set_store_time_ms(now);
  index.set_deliver_at_ms(due);
  storage::MessageIndex::PutId(batch, MessageId(m.message_id()), topic->id(), index);
  return Status::Ok();
}

void ProduceService::Store(v1::SendRequest request, std::shared_ptr<Responder> responder,
                           std::shared_ptr<KeyGate::Lease> lease, bool fresh) {
  auto* messages = request.mutable_messages();
  int64_t now = clock_->NowMs();
  std::vector<v1::SendResult> results(messages->size());
  std::vector<bool> done(messages->size(), false);
  if (lease && !fresh) {
    // Within the dedup window an id already stored in the topic is answered
    // with where it was stored, and not stored again.
    Status s = AnswerDuplicates(*messages, now, &results, &done);
    if (!s.ok()) return responder->Error(s);
  }
  int duplicates = static_cast<int>(std::count(done.begin(), done.end(), true));
  if (duplicates > 0) Inc(metrics_->messages_deduplicated, duplicates);
  // Delayed messages wait in the delay keyspace; the others are appended.
  // Both go into one batch, so a request is stored entirely or not at all.
  storage::Batch batch = store_->NewBatch();
  for (int i = 0; i < messages->size(); ++i) {
    if (done[i]) {
      tracer_->Add(&batch, {
          .message_id = results[i].message_id(), .time_ms = now, .kind = v1::TRACE_DEDUPLICATED,
          .detail = "a retried send answered with the original"});
    }
  }
  google::protobuf::RepeatedPtrField<v1::Message> immediate;
  std::vector<int> immediate_index;
  int64_t earliest_due = INT64_MAX;
  int delayed = 0;
  for (int i = 0; i < messages->size(); ++i) {
    if (done[i]) continue;
    v1::Message& m = (*messages)[i];
    auto due = MessageLog::DueTime(m, now);
    if (!due) {
      immediate_index.push_back(i);
      *immediate.Add() = std::move(m);
      continue;
    }
    Status s = StoreDelayed(m, now, *due, &results[i], &batch);
    if (!s.ok()) return responder->Error(s);
    earliest_due = std::min(earliest_due, *due);
    ++delayed;
  }
  auto finish = [this, earliest_due, delayed, lease](std::vector<v1::SendResult> all,
                                                     const std::shared_ptr<Responder>& r) {
    if (delayed > 0) delays_->Scheduled(earliest_due, delayed);
    v1::Frame frame;
    auto* out = frame.mutable_send_response()->mutable_results();
    out->Reserve(static_cast<int>(all.size()));
    for (auto& res : all) *out->Add() = std::move(res);
    r->Ok(std::move(frame));
  };
  if (immediate.empty()) {
    if (batch.empty()) return finish(std::move(results), responder);  // all duplicates
    store_->Commit(std::move(batch), [finish, responder, results = std::move(results)]() mutable {
      finish(std::move(results), responder);
    });
    return;
  }
  auto entries = log_->Prepare(&immediate);
  if (!entries.ok()) return responder->Error(entries.status());
  log_->Append(std::move(entries).value(), std::move(batch), /*txn_id=*/"",
               [finish, responder, results = std::move(results),
                immediate_index = std::move(immediate_index)](
                   std::vector<v1::SendResult> appended) mutable {
                 for (size_t k = 0; k < appended.size(); ++k) {
                   results[immediate_index[k]] = std::move(appended[k]);
                 }
                 finish(std::move(results), responder);
               });
}

}  // namespace halfmq::broker
