// ConsumeService: dead letters. A final delivery (nacked on its last
// attempt, or whose last invisibility ended: the sweeper's) moves to the
// group's dead-letter topic in one batch: in-flight entry removed, message
// appended, dead-letter record stored (storage::GroupTable). ListDeadLetters
// reads the records.
#include "broker/consume_service.h"

#include <glog/logging.h>

#include "broker/consume_internal.h"
#include "common/limits.h"
#include "common/thread_name.h"

namespace halfmq::broker {

void ConsumeService::MoveToDeadLetter(DeadLetterMove move, std::function<void(Status)> done) {
  asio::post(pool_, [this, move = std::move(move), done = std::move(done)]() mutable {
    ReadForDeadLetter(std::move(move), std::move(done));
  });
}

void ConsumeService::ReadForDeadLetter(DeadLetterMove move, std::function<void(Status)> done) {
  Subscription& sub = *move.sub;
  const Topic& topic = *sub.topic();
  auto stored = store_->ReadMessage(topic.id(), move.queue, move.offset);
  if (!stored.ok()) {
    {
      MutexLock lock(&sub.mu());
      sub.UnmarkMoving(move.queue, move.offset);
    }
    LOG(ERROR) << "dead-lettering " << topic.name() << "/" << move.queue << "/" << move.offset
               << ": " << stored.status();
    return done(stored.status());
  }
  if (!stored->has_value()) return ForgetDelivery(move, std::move(done));
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
}

void ConsumeService::ForgetDelivery(const DeadLetterMove& move, std::function<void(Status)> done) {
  // Removed by retention meanwhile: nothing to keep; forget the delivery.
  Subscription& sub = *move.sub;
  storage::Batch batch = store_->NewBatch();
  {
    MutexLock lock(&sub.mu());
    sub.UnmarkMoving(move.queue, move.offset);
    auto& inflight = sub.cursor(move.queue).inflight;
    auto it = inflight.find(move.offset);
    std::string group = it != inflight.end() ? it->second.message_group : "";
    sub.EraseInflight(move.queue, move.offset);
    batch.DeleteInflight(sub.id(), move.queue, move.offset);
    consume::ReleaseFifoNext(sub, move.queue, group, clock_->NowMs(), &batch);
    store_->Commit(std::move(batch), [done] { done(Status::Ok()); });
  }
  sub.WakeAll();
}

void ConsumeService::FinishDeadLetter(DeadLetterMove move, v1::StoredMessage stored,
                                      std::string reason, std::shared_ptr<Topic> dlq,
                                      std::function<void(Status)> done) {
  Subscription& sub = *move.sub;
  int64_t now = clock_->NowMs();
  MutexLock lock(&sub.mu());
  sub.UnmarkMoving(move.queue, move.offset);
  auto& inflight = sub.cursor(move.queue).inflight;
  auto it = inflight.find(move.offset);
  if (it == inflight.end() || it->second.attempt != move.attempt) {
    return done(Status::Ok());  // acked (or redelivered) meanwhile
  }
  const std::string message_group = it->second.message_group;
  const int64_t expired_at = it->second.invisible_until_ms;
  int64_t delivered_ms = it->second.delivered_ms;
  std::string client = it->second.client;
  sub.EraseInflight(move.queue, move.offset);
  storage::Batch batch = store_->NewBatch();
  batch.DeleteInflight(sub.id(), move.queue, move.offset);
  bool released = consume::ReleaseFifoNext(sub, move.queue, message_group, now, &batch);

  v1::DeadLetterInfo info;
  info.set_original_topic(sub.topic()->name());
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
  AppendDeadLetter(sub, info, std::move(stored), dlq, std::move(batch), std::move(done));
  if (released) {
    // Wake parked receives once the lock is released (WakeAll takes it).
    asio::post(pool_, [sub = move.sub] { sub->WakeAll(); });
  }
  LOG_EVERY_N(INFO, 100) << "dead-lettering " << sub.topic()->name() << "/" << move.queue << "/"
                         << move.offset << " of group " << sub.group() << " after "
                         << move.attempt << " attempts: " << reason;
}

void ConsumeService::AppendDeadLetter(const Subscription& sub, const v1::DeadLetterInfo& info,
                                      v1::StoredMessage stored,
                                      const std::shared_ptr<Topic>& dlq, storage::Batch batch,
                                      std::function<void(Status)> done) {
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
  std::vector<AppendEntry> entries;
  entries.push_back(std::move(entry));
  log_->Append(
      std::move(entries), std::move(batch), "",
      [this, done](std::vector<v1::SendResult>) {
        Inc(metrics_->messages_dead_lettered);
        done(Status::Ok());
      },
      // The record names where the dead letter went: known at append.
      [this, record, group = sub.group()](const std::vector<v1::SendResult>& results,
                                          storage::Batch* b) {
        record->set_queue_id(results[0].queue_id());
        record->set_offset(results[0].offset());
        group_table_.PutDeadLetter(b, group, MessageId(record->message_id()), *record);
      });
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

}  // namespace halfmq::broker
