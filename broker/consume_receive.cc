// ConsumeService: Receive, in three phases (see consume_service.h), and its
// long polls.
#include "broker/consume_service.h"

#include <algorithm>
#include <chrono>

#include <glog/logging.h>

#include "broker/consume_internal.h"
#include "common/limits.h"

namespace halfmq::broker {

using consume::Distance;
using consume::DurableEnd;
using consume::FillReceived;
using consume::MinOffset;
using consume::Next;
using consume::ToRecord;
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

// What phase 1 chose and phase 2 read.
struct ConsumeService::ReceivePlan {
  // An in-flight message whose invisibility ended: a redelivery.
  struct Pick {
    QueueId queue;
    Offset offset;
    uint32_t attempt = 0;
    std::optional<v1::StoredMessage> message{};  // read in phase 2
  };
  // New offsets [from, to) of one queue.
  struct Range {
    QueueId queue;
    Offset from;
    Offset to;
    bool read = false;  // phase 2 got to it
    std::vector<storage::LoggedMessage> messages{};
  };
  std::vector<Pick> retries;
  std::vector<Range> ranges;
  uint64_t version = 0;  // of the subscription, when planned
};

// What the deliveries of one phase 3 round share.
struct ConsumeService::DeliveryRound {
  const ReceiveJob& job;
  const v1::RetryPolicy& policy;
  int64_t now = 0;
  int64_t invisible_until = 0;
  uint32_t max_attempts = 0;
  storage::Batch* batch = nullptr;
  v1::ReceiveResponse* out = nullptr;
};

namespace {

Status ValidateReceive(const v1::ReceiveRequest& request) {
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
  return s;
}

}  // namespace

void ConsumeService::Receive(v1::ReceiveRequest request, Responder responder,
                             std::string client) {
  Status s = ValidateReceive(request);
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
  for (;;) {
    ReceivePlan plan = PlanReceive(*job);
    Status read = ReadPlanned(*job->sub->topic(), &plan);
    if (!read.ok()) {
      LOG(ERROR) << "receive for group " << job->sub->group() << ": " << read;
      return job->responder.Error(read);
    }
    v1::Frame response;
    RoundEnd end = RecordDeliveries(job, &plan, &response);
    if (end == RoundEnd::kAnswer) return job->responder.Ok(std::move(response));
    if (end != RoundEnd::kRetry) return;  // answered once durable, or parked
  }
}

ConsumeService::ReceivePlan ConsumeService::PlanReceive(const ReceiveJob& job) {
  Subscription& sub = *job.sub;
  const Topic& topic = *sub.topic();
  ReceivePlan plan;
  int64_t now = clock_->NowMs();
  MutexLock lock(&sub.mu());
  plan.version = sub.version();
  for (auto [q, offset] : sub.VisibleInflight(now, job.max_messages)) {
    plan.retries.push_back(ReceivePlan::Pick{
        .queue = q, .offset = offset, .attempt = sub.cursor(q).inflight[offset].attempt});
  }
  size_t remaining = job.max_messages - plan.retries.size();
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
    plan.ranges.push_back(
        ReceivePlan::Range{.queue = q, .from = from, .to = Offset(from.value() + take)});
    remaining -= take;
  }
  return plan;
}

Status ConsumeService::ReadPlanned(const Topic& topic, ReceivePlan* plan) {
  size_t bytes_left = options_.max_receive_bytes;
  size_t count = 0;
  for (ReceivePlan::Pick& p : plan->retries) {
    if (p.offset < MinOffset(topic.queue(p.queue))) continue;  // removed by retention
    auto m = store_->ReadMessage(topic.id(), p.queue, p.offset);
    if (!m.ok()) return m.status();
    if (m->has_value()) {
      size_t size = (*m)->ByteSizeLong();
      if (count > 0 && size > bytes_left) break;
      bytes_left -= std::min(size, bytes_left);
      ++count;
      p.message = std::move(*m);
    }
  }
  for (ReceivePlan::Range& r : plan->ranges) {
    if (count > 0 && bytes_left == 0) break;
    HALFMQ_RETURN_IF_ERROR(store_->ReadMessages(topic.id(), r.queue, r.from, r.to,
                                                Distance(r.from, r.to), bytes_left, &r.messages));
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
  return Status::Ok();
}

// A delivery that is not acked becomes deliverable again when its
// invisibility ends plus the retry policy's delay, unless it was the last
// allowed attempt.
ConsumeService::RoundEnd ConsumeService::RecordDeliveries(const std::shared_ptr<ReceiveJob>& job,
                                                          ReceivePlan* plan,
                                                          v1::Frame* response) {
  Subscription& sub = *job->sub;
  v1::RetryPolicy policy = PolicyOf(sub.group());
  storage::Batch batch = store_->NewBatch();
  MutexLock lock(&sub.mu());
  int64_t now = clock_->NowMs();
  DeliveryRound round{.job = *job,
                      .policy = policy,
                      .now = now,
                      .invisible_until = now + job->invisible_ms,
                      .max_attempts = sub.max_attempts(),
                      .batch = &batch,
                      .out = response->mutable_receive_response()};
  if (!job->tag_filter.empty() && sub.SetTagFilter(job->tag_filter)) {
    batch.PutSubscription(sub.record());  // the group's filter is durable state
  }
  RecordRedeliveries(sub, round, plan);
  RecordNewDeliveries(sub, round, plan);
  Inc(metrics_->messages_received, round.out->messages_size());
  RoundEnd end = EndRound(sub, job, *plan, round);
  if (batch.empty()) return end;
  if (end == RoundEnd::kAnswer) {
    store_->Commit(std::move(batch), [job, response = std::move(*response)]() mutable {
      job->responder.Ok(std::move(response));
    });
    return RoundEnd::kAnswerWhenDurable;
  }
  store_->Commit(std::move(batch), [] {});
  return end;
}

int64_t ConsumeService::VisibleAfter(const DeliveryRound& round, uint32_t attempt) {
  return attempt < round.max_attempts ? round.invisible_until + RetryDelay(round.policy, attempt)
                                      : round.invisible_until;
}

void ConsumeService::RecordRedeliveries(Subscription& sub, const DeliveryRound& round,
                                        ReceivePlan* plan) {
  const Topic& topic = *sub.topic();
  storage::Batch& batch = *round.batch;
  for (ReceivePlan::Pick& p : plan->retries) {
    auto& inflight = sub.cursor(p.queue).inflight;
    auto it = inflight.find(p.offset);
    // Acked, nacked or redelivered since phase 1: leave it alone.
    if (it == inflight.end() || it->second.attempt != p.attempt ||
        it->second.visible_at_ms > round.now || it->second.attempt >= round.max_attempts ||
        sub.IsMoving(p.queue, p.offset)) {
      continue;
    }
    if (!p.message.has_value()) {
      if (p.offset < MinOffset(topic.queue(p.queue))) {
        std::string group = it->second.message_group;
        sub.EraseInflight(p.queue, p.offset);  // its message is gone
        batch.DeleteInflight(sub.id(), p.queue, p.offset);
        consume::ReleaseFifoNext(sub, p.queue, group, round.now, &batch);
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
    e.invisible_until_ms = round.invisible_until;
    if (e.message_id.empty()) e.message_id = p.message->message_id();
    e.visible_at_ms = VisibleAfter(round, e.attempt);
    // Traced when it ends (ack, nack, expiry, dead letter); until then
    // TraceMessage shows it from this entry.
    e.delivered_ms = round.now;
    e.client = round.job.client;
    sub.SetInflight(p.queue, p.offset, e);
    batch.PutInflight(sub.id(), p.queue, p.offset, ToRecord(e));
    FillReceived(topic, p.queue, p.offset, std::move(*p.message), e.attempt,
                 round.invisible_until, sub.id(), round.out->add_messages());
    Inc(metrics_->messages_redelivered);
  }
}

void ConsumeService::RecordNewDeliveries(Subscription& sub, const DeliveryRound& round,
                                         ReceivePlan* plan) {
  const Topic& topic = *sub.topic();
  storage::Batch& batch = *round.batch;
  for (ReceivePlan::Range& r : plan->ranges) {
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
      c.delivered = Next(offset);
      if (!sub.TagMatches(m.message.tag())) {
        Inc(metrics_->messages_filtered);  // not for this group's filter
        continue;
      }
      const std::string& group = m.message.message_group();
      if (topic.fifo() && !group.empty()) {
        if (sub.FifoBusy(r.queue, group)) {
          // Its group's previous message is not done: it waits.
          sub.FifoBlock(r.queue, offset, group, m.message.message_id(), round.now);
          batch.PutInflight(sub.id(), r.queue, offset,
                            ToRecord(sub.cursor(r.queue).inflight.at(offset)));
          continue;
        }
        sub.FifoSetBusy(r.queue, group);
      }
      // Traced when the delivery ends (see above): delivered_ms, client.
      Subscription::Inflight e{.attempt = 1,
                               .visible_at_ms = VisibleAfter(round, 1),
                               .first_received_ms = round.now,
                               .invisible_until_ms = round.invisible_until,
                               .message_group = group,
                               .message_id = m.message.message_id(),
                               .delivered_ms = round.now,
                               .client = round.job.client};
      sub.SetInflight(r.queue, offset, e);
      batch.PutInflight(sub.id(), r.queue, offset, ToRecord(e));
      FillReceived(topic, r.queue, offset, std::move(m.message), 1, round.invisible_until,
                   sub.id(), round.out->add_messages());
    }
    if (r.messages.empty() && r.to > c.delivered) {
      c.skipped += Distance(c.delivered, r.to);  // the whole range was removed
      c.delivered = r.to;
    }
    if (c.delivered != before) batch.PutCursor(sub.id(), r.queue, ToRecord(c));
  }
}

ConsumeService::RoundEnd ConsumeService::EndRound(Subscription& sub,
                                                  const std::shared_ptr<ReceiveJob>& job,
                                                  const ReceivePlan& plan,
                                                  const DeliveryRound& round) {
  bool advanced = false;  // read only filtered or waiting messages: read on
  for (const ReceivePlan::Range& r : plan.ranges) advanced |= r.read && !r.messages.empty();
  if (round.out->messages_size() > 0 || shutting_down_.load()) return RoundEnd::kAnswer;
  // More may follow, or something arrived while we read.
  if (advanced || sub.version() != plan.version) return RoundEnd::kRetry;
  if (SteadyClock::now() >= job->deadline) return RoundEnd::kAnswer;
  Park(sub, job, round.now);
  return RoundEnd::kParked;
}

void ConsumeService::Park(Subscription& sub, const std::shared_ptr<ReceiveJob>& job,
                          int64_t now) {
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

}  // namespace halfmq::broker
