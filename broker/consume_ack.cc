// ConsumeService: Ack, Nack and ChangeInvisibleDuration.
#include "broker/consume_service.h"

#include <algorithm>

#include "broker/consume_internal.h"
#include "common/limits.h"

namespace halfmq::broker {

using consume::Join;
using consume::Next;
using consume::ToRecord;

namespace {

// Acks of at least this many offsets of one queue, with nothing else in
// flight between them, delete their in-flight entries with one range delete.
constexpr size_t kMinRangeDelete = 4;

Status ValidateHandleCount(const char* what, int count) {
  if (count == 0 || count > static_cast<int>(kMaxReceiveMessages)) {
    return Status::InvalidArgument(std::string(what) + " carries 1.." +
                                   std::to_string(kMaxReceiveMessages) + " receipt handles");
  }
  return Status::Ok();
}

Status ValidateNack(const v1::NackRequest& request) {
  Status s = ValidateName("consumer group", request.group());
  if (s.ok()) s = ValidateHandleCount("a nack", request.receipt_handles_size());
  if (s.ok() && request.has_delay_ms() && request.delay_ms() > kMaxInvisibleMs) {
    s = Status::InvalidArgument("delay_ms exceeds " + std::to_string(kMaxInvisibleMs));
  }
  if (s.ok() && request.reason().size() > consume::kMaxReasonBytes) {
    s = Status::InvalidArgument("reason is longer than " +
                                std::to_string(consume::kMaxReasonBytes) + " bytes");
  }
  return s;
}

}  // namespace

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
  if (s.ok()) s = ValidateHandleCount("an ack", request.receipt_handles_size());
  if (!s.ok()) return responder.Error(s);

  auto join = std::make_shared<Join>();
  join->responder = std::move(responder);
  auto* results = join->response.mutable_ack_response()->mutable_results();
  for (int i = 0; i < request.receipt_handles_size(); ++i) results->Add();

  // Each subscription's batch is built and submitted under its own lock.
  HandlesBySubscription grouped =
      GroupHandles(ConsumerGroup(request.group()), request.receipt_handles(), results);
  for (auto& [id, indexes] : grouped.indexes) {
    Subscription& sub = *grouped.subs[id];
    storage::Batch batch = store_->NewBatch();
    bool wake = false;
    std::map<QueueId, std::vector<Offset>> acked;
    {
      MutexLock lock(&sub.mu());
      for (int i : indexes) {
        AckOne(sub, *ReceiptHandle::Decode(request.receipt_handles(i)), &(*results)[i], &batch,
               &acked, &wake);
      }
      DeleteAcked(sub, acked, &batch);
      if (!batch.empty()) {
        join->remaining.fetch_add(1);
        store_->Commit(std::move(batch), [join] { join->Done(); });
      }
    }
    // The subscription was at its in-flight cap, or a FIFO group's next
    // message was released: parked receives may now take new messages.
    if (wake) sub.WakeAll();
  }
  join->Done();
}

void ConsumeService::AckOne(Subscription& sub, const ReceiptHandle& h, v1::Status* result,
                            storage::Batch* batch, std::map<QueueId, std::vector<Offset>>* acked,
                            bool* wake) {
  Subscription::Cursor& c = sub.cursor(h.queue);
  auto it = c.inflight.find(h.offset);
  if (it == c.inflight.end()) {
    if (h.offset >= c.delivered) {
      result->set_code(v1::Status::INVALID_ARGUMENT);
      result->set_message("receipt handle names a message never delivered");
    }
    return;  // already acked: OK
  }
  if (it->second.attempt != h.attempt) {
    result->set_code(v1::Status::FAILED_PRECONDITION);
    result->set_message("receipt handle expired: the message was delivered again (attempt " +
                        std::to_string(it->second.attempt) + ")");
    Inc(metrics_->receipt_handles_expired);
    return;
  }
  if (sub.inflight_count() >= options_.max_inflight_per_subscription) *wake = true;
  std::string group = it->second.message_group;
  // After a nack the delivery's event is the NACKED one already.
  const Subscription::Inflight& e = it->second;
  tracer_->Add(batch, {
      .message_id = e.message_id, .time_ms = clock_->NowMs(), .kind = v1::TRACE_ACKED,
      .group = sub.group().value(), .client = e.nacked ? "" : e.client,
      .attempt = e.attempt, .delivered_ms = e.nacked ? 0 : e.delivered_ms});
  sub.EraseInflight(h.queue, h.offset);
  (*acked)[h.queue].push_back(h.offset);
  Inc(metrics_->messages_acked);
  // The group's next message may go now; in the same batch as the ack.
  if (consume::ReleaseFifoNext(sub, h.queue, group, clock_->NowMs(), batch)) *wake = true;
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

Result<int64_t> ConsumeService::SetVisibility(Subscription* sub, const ConsumerGroup& group,
                                              const std::string& handle,
                                              const VisibilityChange& change,
                                              const v1::RetryPolicy& policy,
                                              storage::Batch* batch,
                                              std::optional<DeadLetterMove>* dead_letter) {
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
  Status s = ValidateNack(request);
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

}  // namespace halfmq::broker
