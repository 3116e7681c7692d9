// ConsumeService: start-up, subscriptions, lag, shutdown, and the helpers
// of consume_internal.h. The other concerns are in consume_*.cc (see
// consume_service.h).
#include "broker/consume_service.h"

#include <algorithm>

#include <glog/logging.h>

#include "broker/consume_internal.h"
#include "common/limits.h"

namespace halfmq::broker {

using consume::DurableEnd;
using consume::MinOffset;
using consume::ToRecord;

namespace consume {

v1::InflightRecord ToRecord(const Subscription::Inflight& e, const std::string& reason) {
  v1::InflightRecord r;
  r.set_attempt(e.attempt);
  r.set_visible_at_ms(e.visible_at_ms);
  r.set_first_received_ms(e.first_received_ms);
  r.set_invisible_until_ms(e.invisible_until_ms);
  if (!reason.empty()) r.set_last_reason(reason);
  r.set_message_group(e.message_group);
  r.set_blocked(e.blocked);
  r.set_message_id(e.message_id);
  r.set_nacked(e.nacked);
  r.set_delivered_ms(e.delivered_ms);
  r.set_client(e.client);
  return r;
}

v1::CursorRecord ToRecord(const Subscription::Cursor& c) {
  v1::CursorRecord r;
  r.set_delivered_offset(c.delivered.value());
  r.set_skipped(c.skipped);
  return r;
}

void FillReceived(const Topic& topic, QueueId q, Offset offset, v1::StoredMessage&& stored,
                  uint32_t attempt, int64_t invisible_until, SubscriptionId sub,
                  v1::ReceivedMessage* out) {
  v1::Message* m = out->mutable_message();
  m->set_topic(topic.name());
  m->set_message_id(std::move(*stored.mutable_message_id()));
  for (auto& k : *stored.mutable_keys()) m->add_keys(std::move(k));
  m->set_tag(std::move(*stored.mutable_tag()));
  m->mutable_properties()->swap(*stored.mutable_properties());
  m->set_body(std::move(*stored.mutable_body()));
  m->set_born_time_ms(stored.born_time_ms());
  m->set_message_group(std::move(*stored.mutable_message_group()));
  if (stored.has_dead_letter()) *out->mutable_dead_letter() = std::move(*stored.mutable_dead_letter());
  out->set_queue_id(q.value());
  out->set_offset(offset.value());
  out->set_store_time_ms(stored.store_time_ms());
  out->set_attempt(attempt);
  out->set_invisible_until_ms(invisible_until);
  out->set_receipt_handle(ReceiptHandle{sub, q, offset, attempt}.Encode());
}

bool ReleaseFifoNext(Subscription& sub, QueueId q, const std::string& message_group, int64_t now,
                     storage::Batch* batch) {
  if (!sub.topic()->fifo() || message_group.empty()) return false;
  auto next = sub.FifoRelease(q, message_group, now);
  if (!next) return false;
  batch->PutInflight(sub.id(), q, *next, ToRecord(sub.cursor(q).inflight.at(*next)));
  return true;
}

}  // namespace consume


ConsumeService::ConsumeService(storage::Store* store, TopicManager* topics, MessageLog* log,
                               Tracer* tracer, Clock* clock, Metrics* metrics,
                               ConsumeOptions options, asio::io_context& io,
                               asio::thread_pool& pool)
    : store_(store),
      group_table_(store),
      topics_(topics),
      log_(log),
      tracer_(tracer),
      clock_(clock),
      metrics_(metrics),
      options_(options),
      io_(io),
      pool_(pool) {}

ConsumeService::~ConsumeService() { Stop(); }

Status ConsumeService::Recover() {
  HALFMQ_RETURN_IF_ERROR(group_table_.LoadConfigs([this](v1::GroupConfigRecord r) {
    MutexLock lock(&groups_mu_);
    policies_[ConsumerGroup(r.group())] = std::move(*r.mutable_retry_policy());
  }));
  std::vector<v1::SubscriptionRecord> records;
  HALFMQ_RETURN_IF_ERROR(store_->LoadSubscriptions(&records));
  size_t inflight = 0;
  for (const auto& r : records) {
    auto n = RecoverSubscription(r);
    if (!n.ok()) return n.status();
    inflight += *n;
  }
  LOG(INFO) << "recovered " << records.size() << " subscriptions with " << inflight
            << " in-flight messages";
  return Status::Ok();
}

Result<size_t> ConsumeService::RecoverSubscription(const v1::SubscriptionRecord& r) {
  {
    // Never reuse an id, even of a subscription skipped below.
    MutexLock lock(&mu_);
    next_id_ = std::max(next_id_, r.id() + 1);
  }
  auto topic = topics_->FindById(TopicId(r.topic_id()));
  if (topic == nullptr) {
    LOG(WARNING) << "subscription " << r.group() << "/" << r.topic() << " names missing topic id "
                 << r.topic_id() << "; ignored";
    return size_t{0};
  }
  ConsumerGroup group(r.group());
  auto sub = std::make_shared<Subscription>(SubscriptionId(r.id()), group, topic, pool_, r);
  size_t inflight = 0;
  {
    MutexLock lock(&sub->mu());
    sub->SetMaxAttempts(MaxAttempts(PolicyOf(group)));
    Subscription* s = sub.get();
    uint32_t queues = topic->queue_count();
    HALFMQ_RETURN_IF_ERROR(store_->LoadCursors(
        sub->id(), [&](QueueId q, const v1::CursorRecord& c) NO_THREAD_SAFETY_ANALYSIS {
          if (q.value() >= queues) return;
          s->cursor(q).delivered = Offset(c.delivered_offset());
          s->cursor(q).skipped = c.skipped();
        }));
    HALFMQ_RETURN_IF_ERROR(store_->LoadInflight(
        sub->id(),
        [&](QueueId q, Offset o, const v1::InflightRecord& rec) NO_THREAD_SAFETY_ANALYSIS {
          if (q.value() >= queues) return;
          int64_t until =
              rec.invisible_until_ms() != 0 ? rec.invisible_until_ms() : rec.visible_at_ms();
          s->SetInflight(q, o,
                         Subscription::Inflight{.attempt = rec.attempt(),
                                                .visible_at_ms = rec.visible_at_ms(),
                                                .first_received_ms = rec.first_received_ms(),
                                                .invisible_until_ms = until,
                                                .message_group = rec.message_group(),
                                                .blocked = rec.blocked(),
                                                .message_id = rec.message_id(),
                                                .nacked = rec.nacked(),
                                                .delivered_ms = rec.delivered_ms(),
                                                .client = rec.client()});
          ++inflight;
        }));
    if (topic->fifo()) sub->FifoRebuild();
  }
  topic->AddListener(sub);
  MutexLock lock(&mu_);
  subs_[{group, r.topic()}].sub = sub;
  by_id_[sub->id()] = sub;
  return inflight;
}

void ConsumeService::GetOrCreate(const ConsumerGroup& group, std::shared_ptr<Topic> topic,
                                 v1::StartPosition start, bool must_create,
                                 SubscriptionCallback done) {
  v1::SubscriptionRecord record;
  std::optional<Result<std::shared_ptr<Subscription>>> immediate;
  {
    MutexLock lock(&mu_);
    auto key = std::make_pair(group, topic->name());
    auto it = subs_.find(key);
    if (it != subs_.end()) {
      if (must_create) {
        immediate = Status::AlreadyExists("group '" + group.value() + "' already subscribes to topic '" +
                                          topic->name() + "'");
      } else if (it->second.sub) {
        immediate = it->second.sub;
      } else {
        it->second.waiting.push_back(std::move(done));
        return;
      }
    } else {
      subs_[key];  // pending entry: concurrent callers queue behind us
      record.set_id(next_id_++);
    }
  }
  if (immediate.has_value()) return done(std::move(*immediate));
  record.set_group(group.value());
  record.set_topic(topic->name());
  record.set_topic_id(topic->id().value());
  record.set_created_ms(clock_->NowMs());
  storage::Batch batch = store_->NewBatch();
  batch.PutSubscription(record);
  auto sub =
      std::make_shared<Subscription>(SubscriptionId(record.id()), group, topic, pool_, record);
  {
    MutexLock lock(&sub->mu());
    sub->SetMaxAttempts(MaxAttempts(PolicyOf(group)));
    for (uint32_t q = 0; q < topic->queue_count(); ++q) {
      const QueueState& qs = topic->queue(QueueId(q));
      Subscription::Cursor& c = sub->cursor(QueueId(q));
      c.delivered = start == v1::LATEST ? DurableEnd(qs) : MinOffset(qs);
      batch.PutCursor(sub->id(), QueueId(q), ToRecord(c));
    }
  }
  store_->Commit(std::move(batch), [this, sub, record, done = std::move(done)] {
    sub->topic()->AddListener(sub);
    std::vector<SubscriptionCallback> waiting;
    {
      MutexLock lock(&mu_);
      Entry& e = subs_[{sub->group(), record.topic()}];
      e.sub = sub;
      waiting.swap(e.waiting);
      by_id_[sub->id()] = sub;
    }
    LOG(INFO) << "group " << record.group() << " subscribed to topic " << record.topic();
    done(sub);
    for (auto& w : waiting) w(sub);
  });
}

std::shared_ptr<Subscription> ConsumeService::FindById(SubscriptionId id) const {
  MutexLock lock(&mu_);
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second;
}

std::vector<v1::TraceEvent> ConsumeService::OpenDeliveries(TopicId topic, QueueId queue,
                                                           Offset offset) const {
  std::vector<std::shared_ptr<Subscription>> subs;
  {
    MutexLock lock(&mu_);
    for (const auto& [id, sub] : by_id_) {
      if (sub->topic()->id() == topic) subs.push_back(sub);
    }
  }
  std::vector<v1::TraceEvent> out;
  for (const auto& sub : subs) {
    MutexLock lock(&sub->mu());
    if (queue.value() >= sub->topic()->queue_count()) continue;
    const auto& inflight = sub->cursor(queue).inflight;
    auto it = inflight.find(offset);
    if (it == inflight.end()) continue;
    const Subscription::Inflight& e = it->second;
    // Nacked: the NACKED event carries it. Recovered from an older record
    // (no delivery time): its DELIVERED event was stored at delivery.
    if (e.attempt == 0 || e.blocked || e.nacked || e.delivered_ms == 0) continue;
    v1::TraceEvent d;
    d.set_time_ms(e.delivered_ms);
    d.set_kind(v1::TRACE_DELIVERED);
    d.set_group(sub->group().value());
    d.set_client(e.client);
    d.set_attempt(e.attempt);
    out.push_back(std::move(d));
  }
  return out;
}

std::vector<std::shared_ptr<Subscription>> ConsumeService::GroupSubscriptions(
    const ConsumerGroup& group) const {
  MutexLock lock(&mu_);
  std::vector<std::shared_ptr<Subscription>> out;
  for (auto it = subs_.lower_bound({group, ""}); it != subs_.end() && it->first.first == group;
       ++it) {
    if (it->second.sub) out.push_back(it->second.sub);
  }
  return out;
}

void ConsumeService::CreateSubscription(v1::CreateSubscriptionRequest request,
                                        Responder responder) {
  Status s = ValidateName("consumer group", request.group());
  if (s.ok()) s = ValidateReadableTopic(request.topic());
  if (!s.ok()) return responder.Error(s);
  auto topic = topics_->Find(request.topic());
  if (topic == nullptr) {
    return responder.Error(Status::NotFound("topic '" + request.topic() + "' does not exist"));
  }
  auto shared = std::make_shared<Responder>(std::move(responder));
  GetOrCreate(ConsumerGroup(request.group()), std::move(topic), request.start(),
              /*must_create=*/true,
              [shared](Result<std::shared_ptr<Subscription>> sub) {
                if (!sub.ok()) return shared->Error(sub.status());
                v1::Frame response;
                response.mutable_create_subscription_response();
                shared->Ok(std::move(response));
              });
}

void ConsumeService::GetLag(v1::GetLagRequest request, Responder responder) {
  Status s = ValidateName("consumer group", request.group());
  if (s.ok() && !request.topic().empty()) s = ValidateReadableTopic(request.topic());
  if (!s.ok()) return responder.Error(s);
  v1::Frame response;
  auto* out = response.mutable_get_lag_response();
  bool any = false;
  for (const auto& sub : GroupSubscriptions(ConsumerGroup(request.group()))) {
    const Topic& topic = *sub->topic();
    if (!request.topic().empty() && topic.name() != request.topic()) continue;
    any = true;
    MutexLock lock(&sub->mu());
    for (uint32_t q = 0; q < topic.queue_count(); ++q) {
      const QueueState& qs = topic.queue(QueueId(q));
      const Subscription::Cursor& c = sub->cursor(QueueId(q));
      uint64_t min = qs.min_offset.load();
      uint64_t end = qs.durable_end.load();
      uint64_t delivered = std::max(c.delivered.value(), min);
      v1::QueueLag* l = out->add_queues();
      l->set_topic(topic.name());
      l->set_queue_id(q);
      l->set_min_offset(min);
      l->set_end_offset(end);
      l->set_delivered_offset(delivered);
      l->set_inflight(c.inflight.size());
      l->set_lag((end > delivered ? end - delivered : 0) + c.inflight.size());
      l->set_skipped(c.skipped + (delivered - std::min(delivered, c.delivered.value())));
    }
  }
  if (!any) {
    return responder.Error(Status::NotFound(
        "group '" + request.group() + "' has no subscription" +
        (request.topic().empty() ? std::string() : " to topic '" + request.topic() + "'")));
  }
  responder.Ok(std::move(response));
}

void ConsumeService::Shutdown() {
  shutting_down_.store(true);
  std::vector<std::shared_ptr<Subscription>> all;
  {
    MutexLock lock(&mu_);
    for (auto& [id, sub] : by_id_) all.push_back(sub);
  }
  for (auto& sub : all) sub->WakeAll();
}

}  // namespace halfmq::broker
