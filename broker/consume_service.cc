#include "broker/consume_service.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include <glog/logging.h>

#include "broker/receipt_handle.h"
#include "common/limits.h"
#include "common/thread_name.h"

namespace halfmq::broker {

using SteadyClock = std::chrono::steady_clock;

struct ConsumeService::ReceiveJob {
  std::shared_ptr<Subscription> sub;
  std::string client;
  std::string tag_filter;  // empty: keep the subscription's
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

v1::InflightRecord ToRecord(const Subscription::Inflight& e, const std::string& reason = "") {
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

constexpr size_t kMaxReasonBytes = 1024;

// Acks of at least this many offsets of one queue, with nothing else in
// flight between them, delete their in-flight entries with one range delete.
constexpr size_t kMinRangeDelete = 4;

v1::CursorRecord ToRecord(const Subscription::Cursor& c) {
  v1::CursorRecord r;
  r.set_delivered_offset(c.delivered.value());
  r.set_skipped(c.skipped);
  return r;
}

// Offset arithmetic of the consume code.
Offset Next(Offset o) { return Offset(o.value() + 1); }
uint64_t Distance(Offset from, Offset to) { return to.value() - from.value(); }
Offset MinOffset(const QueueState& q) { return Offset(q.min_offset.load()); }
Offset DurableEnd(const QueueState& q) { return Offset(q.durable_end.load()); }

}  // namespace

v1::RetryPolicy DefaultRetryPolicy() {
  v1::RetryPolicy p;
  p.mutable_exponential()->set_initial_ms(1000);
  p.mutable_exponential()->set_multiplier(2.0);
  p.mutable_exponential()->set_max_ms(300000);
  p.set_max_attempts(16);
  return p;
}

uint32_t MaxAttempts(const v1::RetryPolicy& policy) {
  return policy.max_attempts() == 0 ? 16 : policy.max_attempts();
}

Status ValidateRetryPolicy(const v1::RetryPolicy& p) {
  if (p.max_attempts() > 1000) return Status::InvalidArgument("max_attempts must be 1..1000");
  switch (p.schedule_case()) {
    case v1::RetryPolicy::kExponential: {
      const auto& e = p.exponential();
      if (e.initial_ms() < 1 || e.initial_ms() > kMaxInvisibleMs) {
        return Status::InvalidArgument("initial_ms must be 1.." + std::to_string(kMaxInvisibleMs));
      }
      if (!(e.multiplier() >= 1.0 && e.multiplier() <= 100.0)) {
        return Status::InvalidArgument("multiplier must be 1..100");
      }
      if (e.max_ms() < e.initial_ms() || e.max_ms() > kMaxInvisibleMs) {
        return Status::InvalidArgument("max_ms must be initial_ms.." +
                                       std::to_string(kMaxInvisibleMs));
      }
      return Status::Ok();
    }
    case v1::RetryPolicy::kFixed: {
      const auto& f = p.fixed();
      if (f.delays_ms_size() == 0 || f.delays_ms_size() > 128) {
        return Status::InvalidArgument("give 1..128 delays");
      }
      for (uint32_t d : f.delays_ms()) {
        if (d > kMaxInvisibleMs) {
          return Status::InvalidArgument("a delay exceeds " + std::to_string(kMaxInvisibleMs) +
                                         " ms");
        }
      }
      return Status::Ok();
    }
    case v1::RetryPolicy::SCHEDULE_NOT_SET:
      return Status::InvalidArgument("a retry policy needs exponential or fixed delays");
  }
  return Status::Ok();
}

int64_t RetryDelayMs(const v1::RetryPolicy& p, uint32_t attempt, double unit) {
  attempt = std::max<uint32_t>(attempt, 1);
  if (p.has_fixed() && p.fixed().delays_ms_size() > 0) {
    int i = std::min<int>(static_cast<int>(attempt), p.fixed().delays_ms_size()) - 1;
    return p.fixed().delays_ms(i);
  }
  const auto& e = p.exponential();
  double d = static_cast<double>(e.initial_ms()) *
             std::pow(e.multiplier(), static_cast<double>(std::min<uint32_t>(attempt - 1, 60)));
  d = std::min(d, static_cast<double>(e.max_ms()));
  if (!e.no_jitter()) d *= 0.75 + 0.5 * unit;
  return std::clamp<int64_t>(static_cast<int64_t>(d), 0, e.max_ms());
}

std::string DeadLetterTopic(const ConsumerGroup& group) { return "%DLQ." + group.value(); }

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
    ConsumerGroup group(r.group());
    auto sub = std::make_shared<Subscription>(SubscriptionId(r.id()), group, topic, pool_, r);
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
            int64_t until = rec.invisible_until_ms() != 0 ? rec.invisible_until_ms()
                                                           : rec.visible_at_ms();
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
  }
  LOG(INFO) << "recovered " << records.size() << " subscriptions with " << inflight
            << " in-flight messages";
  return Status::Ok();
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

void ConsumeService::Receive(v1::ReceiveRequest request, Responder responder,
                             std::string client) {
  Status s = ValidateName("consumer group", request.group());
  if (s.ok()) s = ValidateReadableTopic(request.topic());
  if (s.ok() && (request.max_messages() == 0 || request.max_messages() > kMaxReceiveMessages)) {
    s = Status::InvalidArgument("max_messages must be 1.." + std::to_string(kMaxReceiveMessages));
  }
  if (s.ok() && request.invisible_ms() > kMaxInvisibleMs) {
    s = Status::InvalidArgument("invisible_ms exceeds " + std::to_string(kMaxInvisibleMs));
  }
  if (s.ok() && request.wait_ms() > kMaxWaitMs) {
    s = Status::InvalidArgument("wait_ms exceeds " + std::to_string(kMaxWaitMs));
  }
  if (s.ok() && !request.tag_filter().empty()) {
    const std::string& f = request.tag_filter();
    if (f.size() > 4096) {
      s = Status::InvalidArgument("tag filter is longer than 4096 bytes");
    }
    for (size_t start = 0; s.ok() && start <= f.size();) {
      size_t end = f.find("||", start);
      if (end == std::string::npos) end = f.size();
      s = ValidateTag(f.substr(start, end - start));
      start = end + 2;
    }
  }
  if (!s.ok()) return responder.Error(s);
  auto topic = topics_->Find(request.topic());
  if (topic == nullptr) {
    return responder.Error(Status::NotFound("topic '" + request.topic() + "' does not exist"));
  }
  auto job = std::make_shared<ReceiveJob>();
  job->client = std::move(client);
  job->tag_filter = request.tag_filter();
  job->max_messages = request.max_messages();
  job->invisible_ms =
      request.invisible_ms() == 0 ? options_.default_invisible_ms : request.invisible_ms();
  job->deadline = SteadyClock::now() + std::chrono::milliseconds(request.wait_ms());
  job->responder = std::move(responder);
  GetOrCreate(ConsumerGroup(request.group()), std::move(topic), v1::EARLIEST, /*must_create=*/false,
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
    Offset offset;
    uint32_t attempt;
    std::optional<v1::StoredMessage> message;
  };
  struct Range {
    QueueId queue;
    Offset from;
    Offset to;
    bool read = false;
    std::vector<storage::LoggedMessage> messages{};
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
        Offset from = std::max(sub.cursor(q).delivered, MinOffset(qs));
        Offset end = DurableEnd(qs);
        if (from >= end) continue;
        uint64_t take = std::min<uint64_t>(Distance(from, end), remaining);
        ranges.push_back(Range{.queue = q, .from = from, .to = Offset(from.value() + take)});
        remaining -= take;
      }
    }

    // Phase 2: read the chosen messages (may touch disk; blocking pool).
    size_t bytes_left = options_.max_receive_bytes;
    size_t count = 0;
    Status read_status;
    for (Pick& p : retries) {
      if (p.offset < MinOffset(topic.queue(p.queue))) continue;  // removed by retention
      auto m = store_->ReadMessage(topic.id(), p.queue, p.offset);
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
      read_status = store_->ReadMessages(topic.id(), r.queue, r.from, r.to,
                                         Distance(r.from, r.to), bytes_left, &r.messages);
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

    // Phase 3: record the deliveries and commit them. A delivery that is not
    // acked becomes deliverable again when its invisibility ends plus the
    // retry policy's delay, unless it was the last allowed attempt.
    v1::RetryPolicy policy = PolicyOf(sub.group());
    v1::Frame response;
    v1::ReceiveResponse* out = response.mutable_receive_response();
    storage::Batch batch = store_->NewBatch();
    bool done = false;
    {
      MutexLock lock(&sub.mu());
      now = clock_->NowMs();
      int64_t invisible_until = now + job->invisible_ms;
      uint32_t max_attempts = sub.max_attempts();
      if (!job->tag_filter.empty() && sub.SetTagFilter(job->tag_filter)) {
        batch.PutSubscription(sub.record());  // the group's filter is durable state
      }
      auto visible_after = [&](uint32_t attempt) {
        return attempt < max_attempts ? invisible_until + RetryDelay(policy, attempt)
                                      : invisible_until;
      };
      for (Pick& p : retries) {
        auto& inflight = sub.cursor(p.queue).inflight;
        auto it = inflight.find(p.offset);
        // Acked, nacked or redelivered since phase 1: leave it alone.
        if (it == inflight.end() || it->second.attempt != p.attempt ||
            it->second.visible_at_ms > now || it->second.attempt >= max_attempts ||
            sub.IsMoving(p.queue, p.offset)) {
          continue;
        }
        if (!p.message.has_value()) {
          if (p.offset < MinOffset(topic.queue(p.queue))) {
            std::string group = it->second.message_group;
            sub.EraseInflight(p.queue, p.offset);  // its message is gone
            batch.DeleteInflight(sub.id(), p.queue, p.offset);
            if (topic.fifo() && !group.empty()) {
              if (auto next = sub.FifoRelease(p.queue, group, now)) {
                batch.PutInflight(sub.id(), p.queue, *next,
                                  ToRecord(sub.cursor(p.queue).inflight.at(*next)));
              }
            }
          }
          continue;  // otherwise it did not fit this response
        }
        Subscription::Inflight e = it->second;
        if (!e.nacked && e.attempt > 0) {
          // The previous delivery was neither acked nor nacked in time: its
          // one trace event, which also tells when it began.
          tracer_->Add(&batch, {
              .message_id = p.message->message_id(), .time_ms = e.invisible_until_ms,
              .kind = v1::TRACE_EXPIRED, .group = sub.group().value(), .client = e.client,
              .attempt = e.attempt, .delivered_ms = e.delivered_ms});
        }
        e.attempt++;
        e.nacked = false;
        e.invisible_until_ms = invisible_until;
        if (e.message_id.empty()) e.message_id = p.message->message_id();
        e.visible_at_ms = visible_after(e.attempt);
        // Traced when it ends (ack, nack, expiry, dead letter); until then
        // TraceMessage shows it from this entry.
        e.delivered_ms = now;
        e.client = job->client;
        sub.SetInflight(p.queue, p.offset, e);
        batch.PutInflight(sub.id(), p.queue, p.offset, ToRecord(e));
        FillReceived(topic, p.queue, p.offset, std::move(*p.message), e.attempt, invisible_until,
                     sub.id(), out->add_messages());
        Inc(metrics_->messages_redelivered);
      }
      for (Range& r : ranges) {
        if (!r.read) continue;
        Subscription::Cursor& c = sub.cursor(r.queue);
        Offset before = c.delivered;
        if (c.delivered < r.from) {
          c.skipped += Distance(c.delivered, r.from);  // retention removed them first
          c.delivered = r.from;
        }
        for (auto& m : r.messages) {
          Offset offset = m.offset;
          if (offset < c.delivered) continue;
          c.skipped += Distance(c.delivered, offset);
          if (!sub.TagMatches(m.message.tag())) {
            c.delivered = Next(offset);  // not for this group's filter
            Inc(metrics_->messages_filtered);
            continue;
          }
          const std::string& group = m.message.message_group();
          if (topic.fifo() && !group.empty()) {
            if (sub.FifoBusy(r.queue, group)) {
              // Its group's previous message is not done: it waits.
              sub.FifoBlock(r.queue, offset, group, m.message.message_id(), now);
              batch.PutInflight(sub.id(), r.queue, offset,
                                ToRecord(sub.cursor(r.queue).inflight.at(offset)));
              c.delivered = Next(offset);
              continue;
            }
            sub.FifoSetBusy(r.queue, group);
          }
          // Traced when the delivery ends (see above): delivered_ms, client.
          Subscription::Inflight e{.attempt = 1,
                                   .visible_at_ms = visible_after(1),
                                   .first_received_ms = now,
                                   .invisible_until_ms = invisible_until,
                                   .message_group = group,
                                   .message_id = m.message.message_id(),
                                   .delivered_ms = now,
                                   .client = job->client};
          sub.SetInflight(r.queue, offset, e);
          batch.PutInflight(sub.id(), r.queue, offset, ToRecord(e));
          FillReceived(topic, r.queue, offset, std::move(m.message), 1, invisible_until, sub.id(),
                       out->add_messages());
          c.delivered = Next(offset);
        }
        if (r.messages.empty() && r.to > c.delivered) {
          c.skipped += Distance(c.delivered, r.to);  // the whole range was removed
          c.delivered = r.to;
        }
        if (c.delivered != before) batch.PutCursor(sub.id(), r.queue, ToRecord(c));
      }
      Inc(metrics_->messages_received, out->messages_size());

      bool retry_now = false;
      bool advanced = false;  // read only filtered or waiting messages: read on
      for (const Range& r : ranges) advanced |= r.read && !r.messages.empty();
      if (out->messages_size() > 0 || shutting_down_.load()) {
        done = true;
      } else if (advanced || sub.version() != version) {
        retry_now = true;  // more may follow, or something arrived while we read
      } else if (SteadyClock::now() >= job->deadline) {
        done = true;
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

ConsumeService::HandlesBySubscription ConsumeService::GroupHandles(
    const ConsumerGroup& group, const google::protobuf::RepeatedPtrField<std::string>& handles,
    google::protobuf::RepeatedPtrField<v1::Status>* results) const {
  HandlesBySubscription out;
  for (int i = 0; i < handles.size(); ++i) {
    auto h = ReceiptHandle::Decode(handles.Get(i));
    std::shared_ptr<Subscription> sub = h ? FindById(h->sub) : nullptr;
    if (!h || sub == nullptr || sub->group() != group ||
        h->queue.value() >= sub->topic()->queue_count()) {
      (*results)[i].set_code(v1::Status::INVALID_ARGUMENT);
      (*results)[i].set_message("receipt handle is not one of group '" + group.value() + "'");
      continue;
    }
    out.indexes[h->sub].push_back(i);
    out.subs[h->sub] = std::move(sub);
  }
  return out;
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

  // Each subscription's batch is built and submitted under its own lock.
  HandlesBySubscription grouped =
      GroupHandles(ConsumerGroup(request.group()), request.receipt_handles(), results);
  auto& by_sub = grouped.indexes;
  auto& subs = grouped.subs;
  for (auto& [id, indexes] : by_sub) {
    Subscription& sub = *subs[id];
    storage::Batch batch = store_->NewBatch();
    bool wake = false;
    std::map<QueueId, std::vector<Offset>> acked;
    {
    MutexLock lock(&sub.mu());
    for (int i : indexes) {
      auto h = *ReceiptHandle::Decode(request.receipt_handles(i));
      Subscription::Cursor& c = sub.cursor(h.queue);
      auto it = c.inflight.find(h.offset);
      v1::Status& r = (*results)[i];
      if (it == c.inflight.end()) {
        if (h.offset >= c.delivered) {
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
      std::string group = it->second.message_group;
      // After a nack the delivery's event is the NACKED one already.
      const Subscription::Inflight& e = it->second;
      tracer_->Add(&batch, {
          .message_id = e.message_id, .time_ms = clock_->NowMs(), .kind = v1::TRACE_ACKED,
          .group = sub.group().value(), .client = e.nacked ? "" : e.client,
          .attempt = e.attempt, .delivered_ms = e.nacked ? 0 : e.delivered_ms});
      sub.EraseInflight(h.queue, h.offset);
      acked[h.queue].push_back(h.offset);
      Inc(metrics_->messages_acked);
      if (sub.topic()->fifo() && !group.empty()) {
        // The group's next message may go now; in the same batch as the ack.
        if (auto next = sub.FifoRelease(h.queue, group, clock_->NowMs())) {
          batch.PutInflight(sub.id(), h.queue, *next,
                            ToRecord(sub.cursor(h.queue).inflight.at(*next)));
          wake = true;
        }
      }
    }
    DeleteAcked(sub, acked, &batch);
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

void ConsumeService::DeleteAcked(Subscription& sub,
                                 std::map<QueueId, std::vector<Offset>>& acked,
                                 storage::Batch* batch) {
  for (auto& [queue, offsets] : acked) {
    std::sort(offsets.begin(), offsets.end());
    // Consumers ack what one receive gave them, mostly a run of offsets with
    // nothing else in flight between: one range delete instead of one
    // tombstone per message. Anything still in flight inside the run (not
    // acked here, a FIFO entry released by this ack) keeps point deletes.
    const auto& inflight = sub.cursor(queue).inflight;
    auto inside = inflight.lower_bound(offsets.front());
    bool run = offsets.size() >= kMinRangeDelete &&
               (inside == inflight.end() || inside->first > offsets.back());
    if (run) {
      batch->DeleteInflightRange(sub.id(), queue, offsets.front(), Next(offsets.back()));
      continue;
    }
    for (Offset offset : offsets) batch->DeleteInflight(sub.id(), queue, offset);
  }
}

v1::RetryPolicy ConsumeService::PolicyOf(const ConsumerGroup& group) const {
  MutexLock lock(&groups_mu_);
  auto it = policies_.find(group);
  return it == policies_.end() ? DefaultRetryPolicy() : it->second;
}

int64_t ConsumeService::RetryDelay(const v1::RetryPolicy& policy, uint32_t attempt) {
  double unit;
  {
    MutexLock lock(&rng_mu_);
    unit = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
  }
  return RetryDelayMs(policy, attempt, unit);
}

Result<int64_t> ConsumeService::SetVisibility(Subscription* sub, const ConsumerGroup& group,
                                              const std::string& handle,
                                              const VisibilityChange& change,
                                              const v1::RetryPolicy& policy,
                                              storage::Batch* batch,
                                              std::optional<DeadLetterMove>* dead_letter)
    NO_THREAD_SAFETY_ANALYSIS {  // caller holds sub->mu()
  auto h = ReceiptHandle::Decode(handle);
  if (!h || h->sub != sub->id() || h->queue.value() >= sub->topic()->queue_count()) {
    return Status::InvalidArgument("receipt handle is not one of group '" + group.value() + "'");
  }
  Subscription::Cursor& c = sub->cursor(h->queue);
  auto it = c.inflight.find(h->offset);
  if (it == c.inflight.end()) {
    if (h->offset < c.delivered) {
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
  if (sub->IsMoving(h->queue, h->offset)) {
    return Status::FailedPrecondition("message is being moved to the dead-letter topic");
  }
  int64_t now = clock_->NowMs();
  Subscription::Inflight e = it->second;
  bool final_attempt = e.attempt >= sub->max_attempts();
  if (change.is_nack) {
    Inc(metrics_->messages_nacked);
    if (final_attempt) {
      // The last allowed attempt failed: dead-letter it now, not later.
      sub->MarkMoving(h->queue, h->offset);
      *dead_letter = DeadLetterMove{.queue = h->queue,
                                    .offset = h->offset,
                                    .attempt = e.attempt,
                                    .reason = change.reason.empty() ? "nacked" : change.reason};
      return now;
    }
    e.invisible_until_ms = now;
    e.nacked = true;
    e.visible_at_ms =
        now + (change.delay_ms.has_value() ? *change.delay_ms : RetryDelay(policy, e.attempt));
    tracer_->Add(batch, {
        .message_id = e.message_id, .time_ms = now, .kind = v1::TRACE_NACKED,
        .group = group.value(),
        .client = e.client, .attempt = e.attempt, .detail = change.reason,
        .delivered_ms = e.delivered_ms});
  } else {
    e.invisible_until_ms = now + change.delay_ms.value_or(0);
    e.visible_at_ms = final_attempt ? e.invisible_until_ms
                                    : e.invisible_until_ms + RetryDelay(policy, e.attempt);
  }
  sub->SetInflight(h->queue, h->offset, e);
  batch->PutInflight(sub->id(), h->queue, h->offset, ToRecord(e, change.reason));
  return change.is_nack ? e.visible_at_ms : e.invisible_until_ms;
}

void ConsumeService::Nack(v1::NackRequest request, Responder responder) {
  Status s = ValidateName("consumer group", request.group());
  if (s.ok() && (request.receipt_handles_size() == 0 ||
                 request.receipt_handles_size() > static_cast<int>(kMaxReceiveMessages))) {
    s = Status::InvalidArgument("a nack carries 1.." + std::to_string(kMaxReceiveMessages) +
                                " receipt handles");
  }
  if (s.ok() && request.has_delay_ms() && request.delay_ms() > kMaxInvisibleMs) {
    s = Status::InvalidArgument("delay_ms exceeds " + std::to_string(kMaxInvisibleMs));
  }
  if (s.ok() && request.reason().size() > kMaxReasonBytes) {
    s = Status::InvalidArgument("reason is longer than " + std::to_string(kMaxReasonBytes) +
                                " bytes");
  }
  if (!s.ok()) return responder.Error(s);

  auto join = std::make_shared<Join>();
  join->responder = std::move(responder);
  auto* results = join->response.mutable_nack_response()->mutable_results();
  for (int i = 0; i < request.receipt_handles_size(); ++i) results->Add();
  HandlesBySubscription grouped =
      GroupHandles(ConsumerGroup(request.group()), request.receipt_handles(), results);
  auto& by_sub = grouped.indexes;
  auto& subs = grouped.subs;
  VisibilityChange change;
  change.is_nack = true;
  if (request.has_delay_ms()) change.delay_ms = request.delay_ms();
  change.reason = request.reason();
  ConsumerGroup group(request.group());
  v1::RetryPolicy policy = PolicyOf(group);
  std::vector<DeadLetterMove> moves;
  std::vector<int> move_index;
  for (auto& [id, indexes] : by_sub) {
    Subscription& sub = *subs[id];
    storage::Batch batch = store_->NewBatch();
    bool wake = false;
    {
      MutexLock lock(&sub.mu());
      for (int i : indexes) {
        std::optional<DeadLetterMove> move;
        auto r = SetVisibility(&sub, group, request.receipt_handles(i), change, policy, &batch,
                               &move);
        if (!r.ok()) {
          (*results)[i].set_code(static_cast<v1::Status::Code>(r.status().code()));
          (*results)[i].set_message(r.status().message());
        } else if (move.has_value()) {
          move->sub = subs[id];
          moves.push_back(std::move(*move));
          move_index.push_back(i);
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
  for (size_t k = 0; k < moves.size(); ++k) {
    join->remaining.fetch_add(1);
    int index = move_index[k];
    MoveToDeadLetter(std::move(moves[k]), [join, index](Status moved) {
      if (!moved.ok()) {
        auto* r = join->response.mutable_nack_response()->mutable_results(index);
        r->set_code(static_cast<v1::Status::Code>(moved.code()));
        r->set_message("nacked, but moving it to the dead-letter topic failed: " +
                       moved.message());
      }
      join->Done();
    });
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
  ConsumerGroup group(request.group());
  std::shared_ptr<Subscription> sub = h ? FindById(h->sub) : nullptr;
  if (sub == nullptr || sub->group() != group) {
    return responder.Error(
        Status::InvalidArgument("receipt handle is not one of group '" + request.group() + "'"));
  }
  storage::Batch batch = store_->NewBatch();
  Result<int64_t> r = Status::Internal("unset");
  VisibilityChange change;
  change.delay_ms = request.invisible_ms();
  v1::RetryPolicy policy = PolicyOf(group);
  {
    MutexLock lock(&sub->mu());
    std::optional<DeadLetterMove> unused;
    r = SetVisibility(sub.get(), group, request.receipt_handle(), change, policy, &batch, &unused);
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

// --- Dead letters ----------------------------------------------------------

void ConsumeService::MoveToDeadLetter(DeadLetterMove move, std::function<void(Status)> done) {
  asio::post(pool_, [this, move = std::move(move), done = std::move(done)]() mutable {
    Subscription& sub = *move.sub;
    auto unmark = [&sub, &move] {
      MutexLock lock(&sub.mu());
      sub.UnmarkMoving(move.queue, move.offset);
    };
    const Topic& topic = *sub.topic();
    auto stored = store_->ReadMessage(topic.id(), move.queue, move.offset);
    if (!stored.ok()) {
      unmark();
      LOG(ERROR) << "dead-lettering " << topic.name() << "/" << move.queue << "/" << move.offset
                 << ": " << stored.status();
      return done(stored.status());
    }
    if (!stored->has_value()) {
      // Removed by retention meanwhile: nothing to keep; forget the delivery.
      storage::Batch batch = store_->NewBatch();
      {
        MutexLock lock(&sub.mu());
        sub.UnmarkMoving(move.queue, move.offset);
        auto& inflight = sub.cursor(move.queue).inflight;
        auto it = inflight.find(move.offset);
        std::string group = it != inflight.end() ? it->second.message_group : "";
        sub.EraseInflight(move.queue, move.offset);
        batch.DeleteInflight(sub.id(), move.queue, move.offset);
        if (topic.fifo() && !group.empty()) {
          if (auto next = sub.FifoRelease(move.queue, group, clock_->NowMs())) {
            batch.PutInflight(sub.id(), move.queue, *next,
                              ToRecord(sub.cursor(move.queue).inflight.at(*next)));
          }
        }
        store_->Commit(std::move(batch), [done] { done(Status::Ok()); });
      }
      sub.WakeAll();
      return;
    }
    std::string reason = move.reason;
    if (reason.empty()) {
      auto record = store_->ReadInflight(sub.id(), move.queue, move.offset);
      if (record.ok() && record->has_value()) reason = (*record)->last_reason();
      if (reason.empty()) reason = "not acked within its invisibility on the last attempt";
    }
    auto message = std::make_shared<v1::StoredMessage>(std::move(**stored));
    topics_->EnsureInternal(
        DeadLetterTopic(sub.group()), options_.dead_letter_queues,
        [this, move, message, reason, done](Result<std::shared_ptr<Topic>> dlq) mutable {
          if (!dlq.ok()) {
            MutexLock lock(&move.sub->mu());
            move.sub->UnmarkMoving(move.queue, move.offset);
            return done(dlq.status());
          }
          // Continue on the pool: this may run on the committer thread.
          asio::post(pool_, [this, move = std::move(move), message, reason = std::move(reason),
                             dlq = std::move(dlq).value(), done = std::move(done)]() mutable {
            FinishDeadLetter(std::move(move), std::move(*message), std::move(reason),
                             std::move(dlq), std::move(done));
          });
        });
  });
}

void ConsumeService::FinishDeadLetter(DeadLetterMove move, v1::StoredMessage stored,
                                      std::string reason, std::shared_ptr<Topic> dlq,
                                      std::function<void(Status)> done) {
  Subscription& sub = *move.sub;
  const Topic& topic = *sub.topic();
  int64_t now = clock_->NowMs();
  MutexLock lock(&sub.mu());
  sub.UnmarkMoving(move.queue, move.offset);
  auto& inflight = sub.cursor(move.queue).inflight;
  auto it = inflight.find(move.offset);
  if (it == inflight.end() || it->second.attempt != move.attempt) {
    return done(Status::Ok());  // acked (or redelivered) meanwhile
  }
  std::string message_group = it->second.message_group;
  int64_t expired_at = it->second.invisible_until_ms;
  int64_t delivered_ms = it->second.delivered_ms;
  std::string client = it->second.client;
  sub.EraseInflight(move.queue, move.offset);
  storage::Batch batch = store_->NewBatch();
  batch.DeleteInflight(sub.id(), move.queue, move.offset);
  bool released = false;
  if (topic.fifo() && !message_group.empty()) {
    if (auto next = sub.FifoRelease(move.queue, message_group, now)) {
      batch.PutInflight(sub.id(), move.queue, *next,
                        ToRecord(sub.cursor(move.queue).inflight.at(*next)));
      released = true;
    }
  }

  v1::DeadLetterInfo info;
  info.set_original_topic(topic.name());
  info.set_original_queue(move.queue.value());
  info.set_original_offset(move.offset.value());
  info.set_attempts(move.attempt);
  info.set_reason(reason);
  info.set_dead_lettered_ms(now);
  info.set_group(sub.group().value());
  // The final delivery ends here: in its expiry, or (nacked) in the dead
  // letter itself.
  if (move.reason.empty()) {
    tracer_->Add(&batch, {
        .message_id = stored.message_id(), .time_ms = expired_at, .kind = v1::TRACE_EXPIRED,
        .group = sub.group().value(), .client = client, .attempt = move.attempt,
        .delivered_ms = delivered_ms});
    delivered_ms = 0;
    client.clear();
  }
  tracer_->Add(&batch, {
      .message_id = stored.message_id(), .time_ms = now, .kind = v1::TRACE_DEAD_LETTERED,
      .group = sub.group().value(), .client = client, .attempt = move.attempt, .detail = reason,
      .delivered_ms = delivered_ms});
  AppendEntry entry;
  entry.topic = dlq;
  entry.queue = dlq->NextRoundRobinQueue();
  entry.message_id = stored.message_id();
  entry.record = std::move(stored);
  entry.record.clear_txn_id();
  *entry.record.mutable_dead_letter() = info;
  auto record = std::make_shared<v1::DeadLetterRecord>();
  record->set_message_id(entry.message_id);
  *record->mutable_info() = info;
  record->set_dead_letter_topic(dlq->name());
  record->set_subscription_id(sub.id().value());
  ConsumerGroup group = sub.group();
  std::vector<AppendEntry> entries;
  entries.push_back(std::move(entry));
  log_->Append(
      std::move(entries), std::move(batch), "",
      [this, done](std::vector<v1::SendResult>) {
        Inc(metrics_->messages_dead_lettered);
        done(Status::Ok());
      },
      [this, record, group](const std::vector<v1::SendResult>& results, storage::Batch* b) {
        record->set_queue_id(results[0].queue_id());
        record->set_offset(results[0].offset());
        group_table_.PutDeadLetter(b, group, MessageId(record->message_id()), *record);
      });
  if (released) {
    // Wake parked receives once the lock is released (WakeAll takes it).
    asio::post(pool_, [sub = move.sub] { sub->WakeAll(); });
  }
  LOG_EVERY_N(INFO, 100) << "dead-lettering " << topic.name() << "/" << move.queue << "/"
                         << move.offset << " of group " << group << " after " << move.attempt
                         << " attempts: " << reason;
}

size_t ConsumeService::SweepDeadLettersOnce() {
  std::vector<std::shared_ptr<Subscription>> all;
  {
    MutexLock lock(&mu_);
    for (auto& [id, sub] : by_id_) all.push_back(sub);
  }
  int64_t now = clock_->NowMs();
  size_t started = 0;
  for (auto& sub : all) {
    std::vector<DeadLetterMove> moves;
    {
      MutexLock lock(&sub->mu());
      for (auto [q, offset] : sub->ExpiredFinal(now, 1000)) {
        if (!sub->MarkMoving(q, offset)) continue;
        moves.push_back(DeadLetterMove{.sub = sub,
                                       .queue = q,
                                       .offset = offset,
                                       .attempt = sub->cursor(q).inflight.at(offset).attempt});
      }
    }
    for (auto& move : moves) {
      ++started;
      MoveToDeadLetter(std::move(move), [](Status) {});
    }
  }
  return started;
}

void ConsumeService::Start() {
  sweeper_ = std::thread([this] {
    SetCurrentThreadName("halfmq-dlqsweep");
    SweepLoop();
  });
}

void ConsumeService::Stop() {
  {
    MutexLock lock(&sweep_mu_);
    stop_ = true;
    sweep_cv_.SignalAll();
  }
  if (sweeper_.joinable()) sweeper_.join();
}

void ConsumeService::SweepLoop() {
  for (;;) {
    {
      MutexLock lock(&sweep_mu_);
      if (!stop_) sweep_cv_.WaitFor(&sweep_mu_, options_.dead_letter_interval);
      if (stop_) return;
    }
    SweepDeadLettersOnce();
  }
}

// --- Group configuration ---------------------------------------------------

void ConsumeService::SetGroupConfig(v1::SetGroupConfigRequest request, Responder responder) {
  Status s = ValidateName("consumer group", request.group());
  if (s.ok()) s = ValidateRetryPolicy(request.retry_policy());
  if (!s.ok()) return responder.Error(s);
  v1::GroupConfigRecord record;
  record.set_group(request.group());
  *record.mutable_retry_policy() = request.retry_policy();
  if (record.retry_policy().max_attempts() == 0) record.mutable_retry_policy()->set_max_attempts(16);
  storage::Batch batch = store_->NewBatch();
  group_table_.PutConfig(&batch, record);
  auto shared = std::make_shared<Responder>(std::move(responder));
  // Applied in memory once durable, so a reader never sees a policy that a
  // crash could undo.
  store_->Commit(std::move(batch), [this, shared, record] {
    ConsumerGroup group(record.group());
    {
      MutexLock lock(&groups_mu_);
      policies_[group] = record.retry_policy();
    }
    for (auto& sub : GroupSubscriptions(group)) {
      MutexLock lock(&sub->mu());
      sub->SetMaxAttempts(MaxAttempts(record.retry_policy()));
    }
    v1::Frame frame;
    auto* config = frame.mutable_set_group_config_response()->mutable_config();
    config->set_group(record.group());
    *config->mutable_retry_policy() = record.retry_policy();
    config->set_dead_letter_topic(DeadLetterTopic(group));
    shared->Ok(std::move(frame));
  });
}

void ConsumeService::GetGroupConfig(v1::GetGroupConfigRequest request, Responder responder) {
  Status s = ValidateName("consumer group", request.group());
  if (!s.ok()) return responder.Error(s);
  v1::Frame frame;
  auto* config = frame.mutable_get_group_config_response()->mutable_config();
  config->set_group(request.group());
  ConsumerGroup group(request.group());
  *config->mutable_retry_policy() = PolicyOf(group);
  config->set_dead_letter_topic(DeadLetterTopic(group));
  responder.Ok(std::move(frame));
}

void ConsumeService::ListDeadLetters(v1::ListDeadLettersRequest request, Responder responder) {
  Status s = ValidateName("consumer group", request.group());
  if (s.ok()) s = ValidatePageCursor(request.start_after());
  if (!s.ok()) return responder.Error(s);
  auto resp = std::make_shared<Responder>(std::move(responder));
  asio::post(pool_, [this, request = std::move(request), resp] {
    uint32_t limit = request.limit() == 0 ? 1000 : std::min<uint32_t>(request.limit(), 10000);
    v1::Frame frame;
    auto* out = frame.mutable_list_dead_letters_response();
    size_t bytes = 0;
    Status scan = group_table_.ScanDeadLetters(
        ConsumerGroup(request.group()), MessageId(request.start_after()),
        [&](v1::DeadLetterRecord r) {
          if (r.redriven_ms() != 0 && !request.include_redriven()) return true;
          v1::DeadLetter* d = out->add_dead_letters();
          d->set_message_id(r.message_id());
          *d->mutable_info() = r.info();
          d->set_dead_letter_topic(r.dead_letter_topic());
          d->set_queue_id(r.queue_id());
          d->set_offset(r.offset());
          d->set_redriven_ms(r.redriven_ms());
          d->set_redriven_to(r.redriven_to());
          bytes += d->ByteSizeLong() + 8;
          return static_cast<uint32_t>(out->dead_letters_size()) < limit && bytes < (4u << 20);
        });
    if (!scan.ok()) return resp->Error(scan);
    resp->Ok(std::move(frame));
  });
}

// --- Redrive ---------------------------------------------------------------

void ConsumeService::Redrive(v1::RedriveRequest request, Responder responder) {
  Status s = ValidateName("consumer group", request.group());
  if (s.ok() && !request.to_topic().empty()) s = ValidateName("topic", request.to_topic());
  if (s.ok() && request.message_ids_size() > 1000) {
    s = Status::InvalidArgument("at most 1000 message ids per redrive");
  }
  for (int i = 0; s.ok() && i < request.message_ids_size(); ++i) {
    Status id = ValidateMessageId(request.message_ids(i));
    if (!id.ok()) s = Status::InvalidArgument("message_ids: " + id.message());
  }
  std::shared_ptr<Topic> to;
  if (s.ok() && !request.to_topic().empty()) {
    to = topics_->Find(request.to_topic());
    if (to == nullptr) s = Status::NotFound("topic '" + request.to_topic() + "' does not exist");
  }
  if (!s.ok()) return responder.Error(s);
  auto join = std::make_shared<Join>();
  join->responder = std::move(responder);
  join->response.mutable_redrive_response();
  asio::post(pool_, [this, request = std::move(request), to, join] {
    ConsumerGroup group(request.group());
    // Which dead letters: the named ones, or the first ones not yet
    // redriven in message id order (generated ids are time-ordered). Each is
    // claimed in redriving_ before its record is read, so two concurrent
    // redrives cannot both see it unredriven.
    std::vector<std::pair<std::string, std::optional<v1::DeadLetterRecord>>> picked;
    std::vector<std::string> claimed;
    auto claim = [this, &group, &claimed](const std::string& id) {
      MutexLock lock(&groups_mu_);
      if (!redriving_.insert({group, MessageId(id)}).second) return false;
      claimed.push_back(id);
      return true;
    };
    auto read = [this, &group](const std::string& id) -> std::optional<v1::DeadLetterRecord> {
      auto value = group_table_.GetDeadLetter(group, MessageId(id));
      if (value.ok() && value->has_value()) return std::move(**value);
      return std::nullopt;
    };
    std::vector<std::string> busy;
    if (request.message_ids_size() > 0) {
      for (const auto& id : request.message_ids()) {
        if (!claim(id)) {
          busy.push_back(id);
          picked.emplace_back(id, std::nullopt);
          continue;
        }
        picked.emplace_back(id, read(id));
      }
    } else {
      uint32_t limit = request.limit() == 0 ? 100 : std::min<uint32_t>(request.limit(), 1000);
      group_table_.ScanDeadLetters(group, MessageId(), [&](v1::DeadLetterRecord r) {
                     if (r.redriven_ms() == 0 && claim(r.message_id())) {
                       auto fresh = read(r.message_id());  // as of the claim
                       if (fresh && fresh->redriven_ms() == 0) {
                         picked.emplace_back(r.message_id(), std::move(fresh));
                       } else {
                         MutexLock lock(&groups_mu_);
                         redriving_.erase({group, MessageId(r.message_id())});
                       }
                     }
                     return picked.size() < limit;
                   })
          .IgnoreError();
    }
    // All result slots exist before any commit callback may fill one in.
    auto* results = join->response.mutable_redrive_response()->mutable_results();
    for (auto& entry : picked) results->Add()->set_message_id(entry.first);
    for (int index = 0; index < static_cast<int>(picked.size()); ++index) {
      const std::string& id = picked[index].first;
      std::optional<v1::DeadLetterRecord>& record = picked[index].second;
      v1::RedriveResult* result = results->Mutable(index);
      auto fail = [result](StatusCode code, const std::string& message) {
        result->mutable_status()->set_code(static_cast<v1::Status::Code>(code));
        result->mutable_status()->set_message(message);
      };
      if (std::find(busy.begin(), busy.end(), id) != busy.end()) {
        fail(StatusCode::kFailedPrecondition, "being redriven right now");
        continue;  // claimed by another request, not by this one
      }
      auto done_redriving = [this, group, id] {
        MutexLock lock(&groups_mu_);
        redriving_.erase({group, MessageId(id)});
      };
      if (!record) {
        done_redriving();
        fail(StatusCode::kNotFound,
             "no dead letter '" + id + "' in group '" + group.value() + "'");
        continue;
      }
      if (record->redriven_ms() != 0) {
        done_redriving();
        fail(StatusCode::kFailedPrecondition, "already redriven to " + record->redriven_to());
        continue;
      }
      int64_t now = clock_->NowMs();
      record->set_redriven_ms(now);
      const v1::DeadLetterInfo& info = record->info();
      bool to_original = to == nullptr || to->name() == info.original_topic();
      if (to_original) {
        // Back to this group only, from the original message, attempts reset.
        auto sub = FindById(SubscriptionId(record->subscription_id()));
        if (sub == nullptr || sub->topic()->name() != info.original_topic()) {
          done_redriving();
          fail(StatusCode::kFailedPrecondition, "the group no longer reads the original topic");
          continue;
        }
        QueueId q(info.original_queue());
        Offset original(info.original_offset());
        if (original < MinOffset(sub->topic()->queue(q))) {
          done_redriving();
          fail(StatusCode::kFailedPrecondition,
               "the original message was removed by retention; redrive --to a topic instead");
          continue;
        }
        record->set_redriven_to(info.original_topic());
        storage::Batch batch = store_->NewBatch();
        bool in_flight;
        {
          MutexLock lock(&sub->mu());
          in_flight = sub->cursor(q).inflight.count(original) > 0;
          if (!in_flight) {
            // Deliverable now; its next delivery is attempt 1. (A redriven
            // FIFO message is not held behind its group again.)
            Subscription::Inflight e;
            e.visible_at_ms = now;
            e.first_received_ms = now;
            e.invisible_until_ms = now;
            e.message_id = id;
            sub->SetInflight(q, original, e);
            batch.PutInflight(sub->id(), q, original, ToRecord(e));
            group_table_.PutDeadLetter(&batch, group, MessageId(id), *record);
            tracer_->Add(&batch, {
                .message_id = id, .time_ms = now, .kind = v1::TRACE_REDRIVEN,
                .group = group.value(),
                .detail = "back to " + info.original_topic()});
            join->remaining.fetch_add(1);
            store_->Commit(std::move(batch), [join, done_redriving] {
              done_redriving();
              join->Done();
            });
          }
        }
        if (in_flight) {
          done_redriving();
          fail(StatusCode::kFailedPrecondition, "the message is in flight in the group again");
          continue;
        }
        sub->WakeAll();
        Inc(metrics_->messages_redriven);
        result->set_topic(info.original_topic());
        result->set_queue_id(info.original_queue());
        result->set_offset(info.original_offset());
        continue;
      }
      // A copy into another topic, for every group that reads it.
      auto dlq = topics_->Find(record->dead_letter_topic());
      auto stored = dlq ? store_->ReadMessage(dlq->id(), QueueId(record->queue_id()),
                                              Offset(record->offset()))
                        : Result<std::optional<v1::StoredMessage>>(std::nullopt);
      if (!stored.ok() || !stored->has_value()) {
        done_redriving();
        fail(StatusCode::kNotFound, "the dead letter was removed by retention");
        continue;
      }
      record->set_redriven_to(to->name());
      AppendEntry entry;
      entry.topic = to;
      entry.queue = (*stored)->message_group().empty()
                        ? to->NextRoundRobinQueue()
                        : QueueForShardingKey((*stored)->message_group(), to->queue_count());
      entry.message_id = id;
      entry.record = std::move(**stored);
      entry.record.clear_dead_letter();
      storage::Batch batch = store_->NewBatch();
      group_table_.PutDeadLetter(&batch, group, MessageId(id), *record);
      tracer_->Add(&batch, {
          .message_id = id, .time_ms = now, .kind = v1::TRACE_REDRIVEN, .group = group.value(),
          .detail = "copied to " + to->name()});
      std::vector<AppendEntry> entries;
      entries.push_back(std::move(entry));
      join->remaining.fetch_add(1);
      log_->Append(std::move(entries), std::move(batch), "",
                   [this, join, index, done_redriving](std::vector<v1::SendResult> r) {
                     done_redriving();
                     Inc(metrics_->messages_redriven);
                     auto* res = join->response.mutable_redrive_response()->mutable_results(index);
                     res->set_topic(r[0].topic());
                     res->set_queue_id(r[0].queue_id());
                     res->set_offset(r[0].offset());
                     join->Done();
                   });
    }
    join->Done();
  });
}

}  // namespace halfmq::broker
