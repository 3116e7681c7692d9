#include "broker/consume_service.h"

#include <algorithm>
#include <chrono>

#include <glog/logging.h>

#include "broker/receipt_handle.h"
#include "common/limits.h"

namespace halfmq::broker {

using SteadyClock = std::chrono::steady_clock;

struct ConsumeService::ReceiveJob {
  std::shared_ptr<Subscription> sub;
  uint32_t max_messages = 1;
  uint32_t invisible_ms = 0;
  SteadyClock::time_point deadline;
  Responder responder;
};

namespace {

// Answers a request whose work is split over several batches (one per
// subscription) once all of them are durable.
struct Join {
  std::atomic<int> remaining{1};  // starts at 1: the builder's own reference
  Responder responder;
  v1::Frame response;
  void Done() {
    if (remaining.fetch_sub(1) == 1) responder.Ok(std::move(response));
  }
};

void FillReceived(const Topic& topic, QueueId q, uint64_t offset, v1::StoredMessage&& stored,
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
  out->set_queue_id(q.value());
  out->set_offset(offset);
  out->set_store_time_ms(stored.store_time_ms());
  out->set_attempt(attempt);
  out->set_invisible_until_ms(invisible_until);
  out->set_receipt_handle(ReceiptHandle{sub, q, Offset(offset), attempt}.Encode());
}

v1::InflightRecord ToRecord(const Subscription::Inflight& e) {
  v1::InflightRecord r;
  r.set_attempt(e.attempt);
  r.set_visible_at_ms(e.visible_at_ms);
  r.set_first_received_ms(e.first_received_ms);
  return r;
}

v1::CursorRecord ToRecord(const Subscription::Cursor& c) {
  v1::CursorRecord r;
  r.set_delivered_offset(c.delivered);
  r.set_skipped(c.skipped);
  return r;
}

}  // namespace

ConsumeService::ConsumeService(storage::Store* store, TopicManager* topics, Clock* clock,
                               Metrics* metrics, ConsumeOptions options, asio::io_context& io,
                               asio::thread_pool& pool)
    : store_(store),
      topics_(topics),
      clock_(clock),
      metrics_(metrics),
      options_(options),
      io_(io),
      pool_(pool) {}

Status ConsumeService::Recover() {
  std::vector<v1::SubscriptionRecord> records;
  HALFMQ_RETURN_IF_ERROR(store_->LoadSubscriptions(&records));
  size_t inflight = 0;
  for (const auto& r : records) {
    {
      // Never reuse an id, even of a subscription skipped below.
      MutexLock lock(&mu_);
      next_id_ = std::max(next_id_, r.id() + 1);
    }
    auto topic = topics_->FindById(TopicId(r.topic_id()));
    if (topic == nullptr) {
      LOG(WARNING) << "subscription " << r.group() << "/" << r.topic() << " names missing topic id "
                   << r.topic_id() << "; ignored";
      continue;
    }
    auto sub = std::make_shared<Subscription>(SubscriptionId(r.id()), r.group(), topic, pool_);
    {
      MutexLock lock(&sub->mu());
      Subscription* s = sub.get();
      uint32_t queues = topic->queue_count();
      HALFMQ_RETURN_IF_ERROR(store_->LoadCursors(
          sub->id(), [&](QueueId q, const v1::CursorRecord& c) NO_THREAD_SAFETY_ANALYSIS {
            if (q.value() >= queues) return;
            s->cursor(q).delivered = c.delivered_offset();
            s->cursor(q).skipped = c.skipped();
          }));
      HALFMQ_RETURN_IF_ERROR(store_->LoadInflight(
          sub->id(),
          [&](QueueId q, Offset o, const v1::InflightRecord& rec) NO_THREAD_SAFETY_ANALYSIS {
            if (q.value() >= queues) return;
            s->SetInflight(q, o.value(),
                           Subscription::Inflight{rec.attempt(), rec.visible_at_ms(),
                                                  rec.first_received_ms()});
            ++inflight;
          }));
    }
    topic->AddListener(sub);
    MutexLock lock(&mu_);
    subs_[{r.group(), r.topic()}].sub = sub;
    by_id_[r.id()] = sub;
  }
  LOG(INFO) << "recovered " << records.size() << " subscriptions with " << inflight
            << " in-flight messages";
  return Status::Ok();
}

void ConsumeService::GetOrCreate(const std::string& group, std::shared_ptr<Topic> topic,
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
        immediate = Status::AlreadyExists("group '" + group + "' already subscribes to topic '" +
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
  record.set_group(group);
  record.set_topic(topic->name());
  record.set_topic_id(topic->id().value());
  record.set_created_ms(clock_->NowMs());
  storage::Batch batch = store_->NewBatch();
  batch.PutSubscription(record);
  auto sub = std::make_shared<Subscription>(SubscriptionId(record.id()), group, topic, pool_);
  {
    MutexLock lock(&sub->mu());
    for (uint32_t q = 0; q < topic->queue_count(); ++q) {
      const QueueState& qs = topic->queue(QueueId(q));
      Subscription::Cursor& c = sub->cursor(QueueId(q));
      c.delivered = start == v1::LATEST ? qs.durable_end.load() : qs.min_offset.load();
      batch.PutCursor(sub->id(), QueueId(q), ToRecord(c));
    }
  }
  store_->Commit(std::move(batch), [this, sub, record, done = std::move(done)] {
    sub->topic()->AddListener(sub);
    std::vector<SubscriptionCallback> waiting;
    {
      MutexLock lock(&mu_);
      Entry& e = subs_[{record.group(), record.topic()}];
      e.sub = sub;
      waiting.swap(e.waiting);
      by_id_[record.id()] = sub;
    }
    LOG(INFO) << "group " << record.group() << " subscribed to topic " << record.topic();
    done(sub);
    for (auto& w : waiting) w(sub);
  });
}

std::shared_ptr<Subscription> ConsumeService::FindById(SubscriptionId id) const {
  MutexLock lock(&mu_);
  auto it = by_id_.find(id.value());
  return it == by_id_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<Subscription>> ConsumeService::GroupSubscriptions(
    const std::string& group) const {
  MutexLock lock(&mu_);
  std::vector<std::shared_ptr<Subscription>> out;
  for (auto it = subs_.lower_bound({group, ""}); it != subs_.end() && it->first.first == group;
       ++it) {
    if (it->second.sub) out.push_back(it->second.sub);
  }
  return out;
}

void ConsumeService::Receive(v1::ReceiveRequest request, Responder responder) {
  Status s = ValidateName("consumer group", request.group());
  if (s.ok()) s = ValidateName("topic", request.topic());
  if (s.ok() && (request.max_messages() == 0 || request.max_messages() > kMaxReceiveMessages)) {
    s = Status::InvalidArgument("max_messages must be 1.." + std::to_string(kMaxReceiveMessages));
  }
  if (s.ok() && request.invisible_ms() > kMaxInvisibleMs) {
    s = Status::InvalidArgument("invisible_ms exceeds " + std::to_string(kMaxInvisibleMs));
  }
  if (s.ok() && request.wait_ms() > kMaxWaitMs) {
    s = Status::InvalidArgument("wait_ms exceeds " + std::to_string(kMaxWaitMs));
  }
  if (!s.ok()) return responder.Error(s);
  auto topic = topics_->Find(request.topic());
  if (topic == nullptr) {
    return responder.Error(Status::NotFound("topic '" + request.topic() + "' does not exist"));
  }
  auto job = std::make_shared<ReceiveJob>();
  job->max_messages = request.max_messages();
  job->invisible_ms =
      request.invisible_ms() == 0 ? options_.default_invisible_ms : request.invisible_ms();
  job->deadline = SteadyClock::now() + std::chrono::milliseconds(request.wait_ms());
  job->responder = std::move(responder);
  GetOrCreate(request.group(), std::move(topic), v1::EARLIEST, /*must_create=*/false,
              [this, job](Result<std::shared_ptr<Subscription>> sub) {
                if (!sub.ok()) return job->responder.Error(sub.status());
                job->sub = std::move(sub).value();
                ScheduleReceive(job);
              });
}

void ConsumeService::ScheduleReceive(std::shared_ptr<ReceiveJob> job) {
  auto& strand = job->sub->receive_strand();
  asio::post(strand, [this, job = std::move(job)] { RunReceive(job); });
}

void ConsumeService::RunReceive(std::shared_ptr<ReceiveJob> job) {
  Subscription& sub = *job->sub;
  Topic& topic = *sub.topic();
  struct Pick {
    QueueId queue;
    uint64_t offset;
    uint32_t attempt;
    std::optional<v1::StoredMessage> message;
  };
  struct Range {
    QueueId queue;
    uint64_t from;
    uint64_t to;
    bool read = false;
    std::vector<storage::LoggedMessage> messages;
  };

  for (;;) {
    // Phase 1: choose, without changing anything.
    std::vector<Pick> retries;
    std::vector<Range> ranges;
    uint64_t version;
    int64_t now = clock_->NowMs();
    {
      MutexLock lock(&sub.mu());
      version = sub.version();
      for (auto [q, offset] : sub.VisibleInflight(now, job->max_messages)) {
        retries.push_back(Pick{q, offset, sub.cursor(q).inflight[offset].attempt, std::nullopt});
      }
      size_t remaining = job->max_messages - retries.size();
      size_t cap = options_.max_inflight_per_subscription;
      size_t room = sub.inflight_count() >= cap ? 0 : cap - sub.inflight_count();
      remaining = std::min(remaining, room);
      uint32_t n = topic.queue_count();
      uint32_t start = sub.NextRoundRobinStart();
      for (uint32_t i = 0; i < n && remaining > 0; ++i) {
        QueueId q((start + i) % n);
        const QueueState& qs = topic.queue(q);
        uint64_t from = std::max(sub.cursor(q).delivered, qs.min_offset.load());
        uint64_t end = qs.durable_end.load();
        if (from >= end) continue;
        uint64_t take = std::min<uint64_t>(end - from, remaining);
        ranges.push_back(Range{q, from, from + take, false, {}});
        remaining -= take;
      }
    }

    // Phase 2: read the chosen messages (may touch disk; blocking pool).
    size_t bytes_left = options_.max_receive_bytes;
    size_t count = 0;
    Status read_status;
    for (Pick& p : retries) {
      if (p.offset < topic.queue(p.queue).min_offset.load()) continue;  // removed by retention
      auto m = store_->ReadMessage(topic.id(), p.queue, Offset(p.offset));
      if (!m.ok()) {
        read_status = m.status();
        break;
      }
      if (m->has_value()) {
        size_t size = (*m)->ByteSizeLong();
        if (count > 0 && size > bytes_left) break;
        bytes_left -= std::min(size, bytes_left);
        ++count;
        p.message = std::move(*m);
      }
    }
    for (Range& r : ranges) {
      if (!read_status.ok() || (count > 0 && bytes_left == 0)) break;
      read_status = store_->ReadMessages(topic.id(), r.queue, Offset(r.from), Offset(r.to),
                                         r.to - r.from, bytes_left, &r.messages);
      // The first message of a range is returned whatever its size; leave it
      // for the next receive if it does not fit beside what we already have.
      if (count > 0 && !r.messages.empty() &&
          r.messages.front().message.ByteSizeLong() > bytes_left) {
        r.messages.clear();
        break;
      }
      r.read = true;
      for (const auto& m : r.messages) {
        bytes_left -= std::min(bytes_left, m.message.ByteSizeLong());
        ++count;
      }
    }
    if (!read_status.ok()) {
      LOG(ERROR) << "receive for group " << sub.group() << ": " << read_status;
      return job->responder.Error(read_status);
    }

    // Phase 3: record the deliveries and commit them.
    v1::Frame response;
    v1::ReceiveResponse* out = response.mutable_receive_response();
    storage::Batch batch = store_->NewBatch();
    bool done = false;
    {
      MutexLock lock(&sub.mu());
      now = clock_->NowMs();
      int64_t invisible_until = now + job->invisible_ms;
      for (Pick& p : retries) {
        auto& inflight = sub.cursor(p.queue).inflight;
        auto it = inflight.find(p.offset);
        // Acked, nacked or redelivered since phase 1: leave it alone.
        if (it == inflight.end() || it->second.attempt != p.attempt ||
            it->second.visible_at_ms > now) {
          continue;
        }
        if (!p.message.has_value()) {
          if (p.offset < topic.queue(p.queue).min_offset.load()) {
            sub.EraseInflight(p.queue, p.offset);  // its message is gone
            batch.DeleteInflight(sub.id(), p.queue, Offset(p.offset));
          }
          continue;  // otherwise it did not fit this response
        }
        Subscription::Inflight e = it->second;
        e.attempt++;
        e.visible_at_ms = invisible_until;
        sub.SetInflight(p.queue, p.offset, e);
        batch.PutInflight(sub.id(), p.queue, Offset(p.offset), ToRecord(e));
        FillReceived(topic, p.queue, p.offset, std::move(*p.message), e.attempt, invisible_until,
                     sub.id(), out->add_messages());
        Inc(metrics_->messages_redelivered);
      }
      for (Range& r : ranges) {
        if (!r.read) continue;
        Subscription::Cursor& c = sub.cursor(r.queue);
        uint64_t before = c.delivered;
        if (c.delivered < r.from) {
          c.skipped += r.from - c.delivered;  // retention removed them first
          c.delivered = r.from;
        }
        for (auto& m : r.messages) {
          uint64_t offset = m.offset.value();
          if (offset < c.delivered) continue;
          c.skipped += offset - c.delivered;
          Subscription::Inflight e{1, invisible_until, now};
          sub.SetInflight(r.queue, offset, e);
          batch.PutInflight(sub.id(), r.queue, m.offset, ToRecord(e));
          FillReceived(topic, r.queue, offset, std::move(m.message), 1, invisible_until, sub.id(),
                       out->add_messages());
          c.delivered = offset + 1;
        }
        if (r.messages.empty() && r.to > c.delivered) {
          c.skipped += r.to - c.delivered;  // the whole range was removed
          c.delivered = r.to;
        }
        if (c.delivered != before) batch.PutCursor(sub.id(), r.queue, ToRecord(c));
      }
      Inc(metrics_->messages_received, out->messages_size());

      bool retry_now = false;
      if (out->messages_size() > 0 || shutting_down_.load() ||
          SteadyClock::now() >= job->deadline) {
        done = true;
      } else if (sub.version() != version) {
        retry_now = true;  // something arrived while we were reading
      } else {
        // Park until an append or a wake-up, the next redelivery, or the
        // deadline, whichever comes first.
        auto at = job->deadline;
        int64_t next_visible = sub.NextVisibleMs();
        if (next_visible != INT64_MAX) {
          at = std::min(at, SteadyClock::now() + std::chrono::milliseconds(
                                                     std::max<int64_t>(0, next_visible - now)));
        }
        Inc(metrics_->long_polls_waiting);
        auto poll = std::make_shared<LongPoll>(io_, [this, job] {
          Inc(metrics_->long_polls_waiting, -1);
          ScheduleReceive(job);
        });
        sub.AddWaiter(poll);
        poll->Arm(at);
      }
      if (!batch.empty()) {
        if (done) {
          store_->Commit(std::move(batch),
                         [job, response = std::move(response)]() mutable {
                           job->responder.Ok(std::move(response));
                         });
          return;
        }
        store_->Commit(std::move(batch), [] {});
      }
      if (!retry_now && !done) return;  // parked
    }
    if (done) return job->responder.Ok(std::move(response));
  }
}

void ConsumeService::Ack(v1::AckRequest request, Responder responder) {
  Status s = ValidateName("consumer group", request.group());
  if (s.ok() && (request.receipt_handles_size() == 0 ||
                 request.receipt_handles_size() > static_cast<int>(kMaxReceiveMessages))) {
    s = Status::InvalidArgument("an ack carries 1.." + std::to_string(kMaxReceiveMessages) +
                                " receipt handles");
  }
  if (!s.ok()) return responder.Error(s);

  auto join = std::make_shared<Join>();
  join->responder = std::move(responder);
  auto* results = join->response.mutable_ack_response()->mutable_results();
  for (int i = 0; i < request.receipt_handles_size(); ++i) results->Add();

  // Group handles by subscription so each subscription's batch is built and
  // submitted under its own lock.
  std::map<uint32_t, std::vector<int>> by_sub;
  std::map<uint32_t, std::shared_ptr<Subscription>> subs;
  for (int i = 0; i < request.receipt_handles_size(); ++i) {
    auto h = ReceiptHandle::Decode(request.receipt_handles(i));
    std::shared_ptr<Subscription> sub = h ? FindById(h->sub) : nullptr;
    if (!h || sub == nullptr || sub->group() != request.group() ||
        h->queue.value() >= sub->topic()->queue_count()) {
      (*results)[i].set_code(v1::Status::INVALID_ARGUMENT);
      (*results)[i].set_message("receipt handle is not one of group '" + request.group() + "'");
      continue;
    }
    by_sub[h->sub.value()].push_back(i);
    subs[h->sub.value()] = std::move(sub);
  }
  for (auto& [id, indexes] : by_sub) {
    Subscription& sub = *subs[id];
    storage::Batch batch = store_->NewBatch();
    bool wake = false;
    {
    MutexLock lock(&sub.mu());
    for (int i : indexes) {
      auto h = *ReceiptHandle::Decode(request.receipt_handles(i));
      Subscription::Cursor& c = sub.cursor(h.queue);
      auto it = c.inflight.find(h.offset.value());
      v1::Status& r = (*results)[i];
      if (it == c.inflight.end()) {
        if (h.offset.value() >= c.delivered) {
          r.set_code(v1::Status::INVALID_ARGUMENT);
          r.set_message("receipt handle names a message never delivered");
        }
        continue;  // already acked: OK
      }
      if (it->second.attempt != h.attempt) {
        r.set_code(v1::Status::FAILED_PRECONDITION);
        r.set_message("receipt handle expired: the message was delivered again (attempt " +
                      std::to_string(it->second.attempt) + ")");
        Inc(metrics_->receipt_handles_expired);
        continue;
      }
      if (sub.inflight_count() >= options_.max_inflight_per_subscription) wake = true;
      sub.EraseInflight(h.queue, h.offset.value());
      batch.DeleteInflight(sub.id(), h.queue, h.offset);
      Inc(metrics_->messages_acked);
    }
    if (!batch.empty()) {
      join->remaining.fetch_add(1);
      store_->Commit(std::move(batch), [join] { join->Done(); });
    }
    }
    // The subscription was at its in-flight cap: parked receives may now
    // take new messages.
    if (wake) sub.WakeAll();
  }
  join->Done();
}

Result<int64_t> ConsumeService::SetVisibility(Subscription* sub, const std::string& group,
                                              const std::string& handle, int64_t visible_at_ms,
                                              bool is_nack, storage::Batch* batch)
    NO_THREAD_SAFETY_ANALYSIS {  // caller holds sub->mu()
  auto h = ReceiptHandle::Decode(handle);
  if (!h || h->sub != sub->id() || h->queue.value() >= sub->topic()->queue_count()) {
    return Status::InvalidArgument("receipt handle is not one of group '" + group + "'");
  }
  Subscription::Cursor& c = sub->cursor(h->queue);
  auto it = c.inflight.find(h->offset.value());
  if (it == c.inflight.end()) {
    if (h->offset.value() < c.delivered) {
      return Status::FailedPrecondition("message was already acked");
    }
    return Status::InvalidArgument("receipt handle names a message never delivered");
  }
  if (it->second.attempt != h->attempt) {
    Inc(metrics_->receipt_handles_expired);
    return Status::FailedPrecondition(
        "receipt handle expired: the message was delivered again (attempt " +
        std::to_string(it->second.attempt) + ")");
  }
  Subscription::Inflight e = it->second;
  e.visible_at_ms = visible_at_ms;
  sub->SetInflight(h->queue, h->offset.value(), e);
  batch->PutInflight(sub->id(), h->queue, h->offset, ToRecord(e));
  if (is_nack) Inc(metrics_->messages_nacked);
  return visible_at_ms;
}

void ConsumeService::Nack(v1::NackRequest request, Responder responder) {
  Status s = ValidateName("consumer group", request.group());
  if (s.ok() && (request.receipt_handles_size() == 0 ||
                 request.receipt_handles_size() > static_cast<int>(kMaxReceiveMessages))) {
    s = Status::InvalidArgument("a nack carries 1.." + std::to_string(kMaxReceiveMessages) +
                                " receipt handles");
  }
  if (s.ok() && request.delay_ms() > kMaxInvisibleMs) {
    s = Status::InvalidArgument("delay_ms exceeds " + std::to_string(kMaxInvisibleMs));
  }
  if (!s.ok()) return responder.Error(s);

  auto join = std::make_shared<Join>();
  join->responder = std::move(responder);
  auto* results = join->response.mutable_nack_response()->mutable_results();
  for (int i = 0; i < request.receipt_handles_size(); ++i) results->Add();
  std::map<uint32_t, std::vector<int>> by_sub;
  std::map<uint32_t, std::shared_ptr<Subscription>> subs;
  for (int i = 0; i < request.receipt_handles_size(); ++i) {
    auto h = ReceiptHandle::Decode(request.receipt_handles(i));
    std::shared_ptr<Subscription> sub = h ? FindById(h->sub) : nullptr;
    if (sub == nullptr || sub->group() != request.group()) {
      (*results)[i].set_code(v1::Status::INVALID_ARGUMENT);
      (*results)[i].set_message("receipt handle is not one of group '" + request.group() + "'");
      continue;
    }
    by_sub[h->sub.value()].push_back(i);
    subs[h->sub.value()] = std::move(sub);
  }
  for (auto& [id, indexes] : by_sub) {
    Subscription& sub = *subs[id];
    storage::Batch batch = store_->NewBatch();
    bool wake = false;
    {
      MutexLock lock(&sub.mu());
      int64_t visible_at = clock_->NowMs() + request.delay_ms();
      for (int i : indexes) {
        auto r = SetVisibility(&sub, request.group(), request.receipt_handles(i), visible_at,
                               /*is_nack=*/true, &batch);
        if (!r.ok()) {
          (*results)[i].set_code(static_cast<v1::Status::Code>(r.status().code()));
          (*results)[i].set_message(r.status().message());
        } else {
          wake = true;
        }
      }
      if (!batch.empty()) {
        join->remaining.fetch_add(1);
        store_->Commit(std::move(batch), [join] { join->Done(); });
      }
    }
    // A parked receive may now have something to deliver sooner than it
    // planned: let it re-plan.
    if (wake) sub.WakeAll();
  }
  join->Done();
}

void ConsumeService::ChangeInvisibleDuration(v1::ChangeInvisibleDurationRequest request,
                                             Responder responder) {
  Status s = ValidateName("consumer group", request.group());
  if (s.ok() && request.invisible_ms() > kMaxInvisibleMs) {
    s = Status::InvalidArgument("invisible_ms exceeds " + std::to_string(kMaxInvisibleMs));
  }
  if (!s.ok()) return responder.Error(s);
  auto h = ReceiptHandle::Decode(request.receipt_handle());
  std::shared_ptr<Subscription> sub = h ? FindById(h->sub) : nullptr;
  if (sub == nullptr || sub->group() != request.group()) {
    return responder.Error(
        Status::InvalidArgument("receipt handle is not one of group '" + request.group() + "'"));
  }
  storage::Batch batch = store_->NewBatch();
  Result<int64_t> r = Status::Internal("unset");
  {
    MutexLock lock(&sub->mu());
    r = SetVisibility(sub.get(), request.group(), request.receipt_handle(),
                      clock_->NowMs() + request.invisible_ms(), /*is_nack=*/false, &batch);
    if (r.ok()) {
      v1::Frame response;
      response.mutable_change_invisible_duration_response()->set_invisible_until_ms(*r);
      auto shared = std::make_shared<Responder>(std::move(responder));
      store_->Commit(std::move(batch), [shared, response = std::move(response)]() mutable {
        shared->Ok(std::move(response));
      });
    }
  }
  if (!r.ok()) return responder.Error(r.status());
  sub->WakeAll();  // a parked receive may need to re-plan its timer
}

void ConsumeService::CreateSubscription(v1::CreateSubscriptionRequest request,
                                        Responder responder) {
  Status s = ValidateName("consumer group", request.group());
  if (s.ok()) s = ValidateName("topic", request.topic());
  if (!s.ok()) return responder.Error(s);
  auto topic = topics_->Find(request.topic());
  if (topic == nullptr) {
    return responder.Error(Status::NotFound("topic '" + request.topic() + "' does not exist"));
  }
  auto shared = std::make_shared<Responder>(std::move(responder));
  GetOrCreate(request.group(), std::move(topic), request.start(), /*must_create=*/true,
              [shared](Result<std::shared_ptr<Subscription>> sub) {
                if (!sub.ok()) return shared->Error(sub.status());
                v1::Frame response;
                response.mutable_create_subscription_response();
                shared->Ok(std::move(response));
              });
}

void ConsumeService::GetLag(v1::GetLagRequest request, Responder responder) {
  Status s = ValidateName("consumer group", request.group());
  if (s.ok() && !request.topic().empty()) s = ValidateName("topic", request.topic());
  if (!s.ok()) return responder.Error(s);
  v1::Frame response;
  auto* out = response.mutable_get_lag_response();
  bool any = false;
  for (const auto& sub : GroupSubscriptions(request.group())) {
    const Topic& topic = *sub->topic();
    if (!request.topic().empty() && topic.name() != request.topic()) continue;
    any = true;
    MutexLock lock(&sub->mu());
    for (uint32_t q = 0; q < topic.queue_count(); ++q) {
      const QueueState& qs = topic.queue(QueueId(q));
      const Subscription::Cursor& c = sub->cursor(QueueId(q));
      uint64_t min = qs.min_offset.load();
      uint64_t end = qs.durable_end.load();
      uint64_t delivered = std::max(c.delivered, min);
      v1::QueueLag* l = out->add_queues();
      l->set_topic(topic.name());
      l->set_queue_id(q);
      l->set_min_offset(min);
      l->set_end_offset(end);
      l->set_delivered_offset(delivered);
      l->set_inflight(c.inflight.size());
      l->set_lag((end > delivered ? end - delivered : 0) + c.inflight.size());
      l->set_skipped(c.skipped + (delivered - std::min(delivered, c.delivered)));
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
