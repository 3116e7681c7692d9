// ConsumeService: Redrive. A dead letter goes back to its group on the
// original topic (the original message, deliverable again from attempt 1)
// or is copied into another topic; either way its record is marked
// redriven in the same batch.
#include "broker/consume_service.h"

#include <algorithm>

#include <glog/logging.h>

#include "broker/consume_internal.h"
#include "common/limits.h"

namespace halfmq::broker {

using consume::Join;
using consume::MinOffset;
using consume::ToRecord;

// A dead letter claimed by one redrive (an entry of redriving_), so that two
// concurrent redrives cannot both see it unredriven. The claim ends when
// the last holder drops it: at once when its redrive fails, else when the
// write that records the redrive is durable (or dropped, if the store
// failed). Shared by the redrive and its commit callback; the service must
// outlive it.
class ConsumeService::RedriveClaim {
 public:
  RedriveClaim(ConsumeService* service, ConsumerGroup group, MessageId id)
      : service_(service), group_(std::move(group)), id_(std::move(id)) {}
  ~RedriveClaim() {
    MutexLock lock(&service_->groups_mu_);
    service_->redriving_.erase({group_, id_});
  }
  RedriveClaim(const RedriveClaim&) = delete;
  RedriveClaim& operator=(const RedriveClaim&) = delete;

 private:
  ConsumeService* const service_;
  const ConsumerGroup group_;
  const MessageId id_;
};

// One dead letter a redrive picked.
struct ConsumeService::RedrivePick {
  MessageId id;
  std::shared_ptr<RedriveClaim> claim;  // null: another redrive has it
  Status read_error{};                  // reading its record failed
  std::optional<v1::DeadLetterRecord> record{};  // as of the claim; nullopt: none
};

namespace {

Status ValidateRedrive(const v1::RedriveRequest& request) {
  Status s = ValidateName("consumer group", request.group());
  if (s.ok() && !request.to_topic().empty()) s = ValidateName("topic", request.to_topic());
  if (s.ok() && request.message_ids_size() > 1000) {
    s = Status::InvalidArgument("at most 1000 message ids per redrive");
  }
  for (int i = 0; s.ok() && i < request.message_ids_size(); ++i) {
    Status id = ValidateMessageId(request.message_ids(i));
    if (!id.ok()) s = Status::InvalidArgument("message_ids: " + id.message());
  }
  return s;
}

}  // namespace

void ConsumeService::Redrive(v1::RedriveRequest request, Responder responder) {
  Status s = ValidateRedrive(request);
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
    auto picked = PickDeadLetters(request);
    if (!picked.ok()) {
      LOG(ERROR) << "redrive for group " << request.group() << ": " << picked.status();
      return join->responder.Error(picked.status());
    }
    // All result slots exist before any commit callback may fill one in.
    auto* results = join->response.mutable_redrive_response()->mutable_results();
    for (const RedrivePick& pick : *picked) results->Add()->set_message_id(pick.id.value());
    ConsumerGroup group(request.group());
    for (int index = 0; index < static_cast<int>(picked->size()); ++index) {
      Status redriven = RedriveOne(group, std::move((*picked)[index]), to, join, index);
      if (redriven.ok()) continue;
      v1::Status* status = results->Mutable(index)->mutable_status();
      status->set_code(static_cast<v1::Status::Code>(redriven.code()));
      status->set_message(redriven.message());
    }
    join->Done();
  });
}

std::shared_ptr<ConsumeService::RedriveClaim> ConsumeService::Claim(const ConsumerGroup& group,
                                                                    const MessageId& id) {
  {
    MutexLock lock(&groups_mu_);
    if (!redriving_.insert({group, id}).second) return nullptr;
  }
  return std::make_shared<RedriveClaim>(this, group, id);
}

// Which dead letters: the named ones, or the first ones not yet redriven in
// message id order (generated ids are time-ordered). Each is claimed before
// its record is read.
Result<std::vector<ConsumeService::RedrivePick>> ConsumeService::PickDeadLetters(
    const v1::RedriveRequest& request) {
  ConsumerGroup group(request.group());
  std::vector<RedrivePick> picked;
  if (request.message_ids_size() > 0) {
    for (const auto& name : request.message_ids()) {
      RedrivePick pick{.id = MessageId(name), .claim = Claim(group, MessageId(name))};
      if (pick.claim != nullptr) {
        auto record = group_table_.GetDeadLetter(group, pick.id);
        if (record.ok()) {
          pick.record = std::move(*record);
        } else {
          pick.read_error = record.status();
        }
      }
      picked.push_back(std::move(pick));
    }
    return picked;
  }
  uint32_t limit = request.limit() == 0 ? 100 : std::min<uint32_t>(request.limit(), 1000);
  Status read_error;
  Status scan = group_table_.ScanDeadLetters(group, MessageId(), [&](v1::DeadLetterRecord r) {
    if (r.redriven_ms() == 0) {
      MessageId id(r.message_id());
      if (auto claim = Claim(group, id)) {
        auto fresh = group_table_.GetDeadLetter(group, id);  // as of the claim
        if (!fresh.ok()) {
          read_error = fresh.status();
          return false;
        }
        if (fresh->has_value() && (*fresh)->redriven_ms() == 0) {
          picked.push_back(
              RedrivePick{.id = std::move(id), .claim = std::move(claim), .record = **fresh});
        }
      }
    }
    return picked.size() < limit;
  });
  if (scan.ok()) scan = read_error;
  // The claims of what was picked end here with `picked`.
  if (!scan.ok()) return scan;
  return picked;
}

Status ConsumeService::RedriveOne(const ConsumerGroup& group, RedrivePick pick,
                                  const std::shared_ptr<Topic>& to,
                                  const std::shared_ptr<Join>& join, int index) {
  if (pick.claim == nullptr) return Status::FailedPrecondition("being redriven right now");
  HALFMQ_RETURN_IF_ERROR(pick.read_error);
  if (!pick.record) {
    return Status::NotFound("no dead letter '" + pick.id.value() + "' in group '" +
                            group.value() + "'");
  }
  if (pick.record->redriven_ms() != 0) {
    return Status::FailedPrecondition("already redriven to " + pick.record->redriven_to());
  }
  int64_t now = clock_->NowMs();
  pick.record->set_redriven_ms(now);
  if (to == nullptr || to->name() == pick.record->info().original_topic()) {
    v1::RedriveResult* result =
        join->response.mutable_redrive_response()->mutable_results(index);
    return RedriveToOriginal(group, std::move(pick), now, join, result);
  }
  return RedriveCopy(group, std::move(pick), now, to, join, index);
}

// Back to this group only, from the original message, attempts reset.
Status ConsumeService::RedriveToOriginal(const ConsumerGroup& group, RedrivePick pick, int64_t now,
                                         const std::shared_ptr<Join>& join,
                                         v1::RedriveResult* result) {
  v1::DeadLetterRecord& record = *pick.record;
  const v1::DeadLetterInfo& info = record.info();
  auto sub = FindById(SubscriptionId(record.subscription_id()));
  if (sub == nullptr || sub->topic()->name() != info.original_topic()) {
    return Status::FailedPrecondition("the group no longer reads the original topic");
  }
  QueueId q(info.original_queue());
  Offset original(info.original_offset());
  if (original < MinOffset(sub->topic()->queue(q))) {
    return Status::FailedPrecondition(
        "the original message was removed by retention; redrive --to a topic instead");
  }
  record.set_redriven_to(info.original_topic());
  storage::Batch batch = store_->NewBatch();
  {
    MutexLock lock(&sub->mu());
    if (sub->cursor(q).inflight.count(original) > 0) {
      return Status::FailedPrecondition("the message is in flight in the group again");
    }
    // Deliverable now; its next delivery is attempt 1. (A redriven FIFO
    // message is not held behind its group again.)
    Subscription::Inflight e{.visible_at_ms = now,
                             .first_received_ms = now,
                             .invisible_until_ms = now,
                             .message_id = pick.id.value()};
    sub->SetInflight(q, original, e);
    batch.PutInflight(sub->id(), q, original, ToRecord(e));
    group_table_.PutDeadLetter(&batch, group, pick.id, record);
    tracer_->Add(&batch, {
        .message_id = pick.id.value(), .time_ms = now, .kind = v1::TRACE_REDRIVEN,
        .group = group.value(), .client = "", .detail = "back to " + info.original_topic()});
    join->remaining.fetch_add(1);
    store_->Commit(std::move(batch), [join, claim = std::move(pick.claim)]() mutable {
      claim.reset();  // before the answer: a client may redrive it again at once
      join->Done();
    });
  }
  sub->WakeAll();
  Inc(metrics_->messages_redriven);
  result->set_topic(info.original_topic());
  result->set_queue_id(info.original_queue());
  result->set_offset(info.original_offset());
  return Status::Ok();
}

// A copy into another topic, for every group that reads it.
Status ConsumeService::RedriveCopy(const ConsumerGroup& group, RedrivePick pick, int64_t now,
                                   const std::shared_ptr<Topic>& to,
                                   const std::shared_ptr<Join>& join, int index) {
  v1::DeadLetterRecord& record = *pick.record;
  auto dlq = topics_->Find(record.dead_letter_topic());
  std::optional<v1::StoredMessage> stored;
  if (dlq != nullptr) {
    auto read = store_->ReadMessage(dlq->id(), QueueId(record.queue_id()), Offset(record.offset()));
    if (!read.ok()) return read.status();
    stored = std::move(*read);
  }
  if (!stored.has_value()) return Status::NotFound("the dead letter was removed by retention");
  record.set_redriven_to(to->name());
  AppendEntry entry;
  entry.topic = to;
  entry.queue = stored->message_group().empty()
                    ? to->NextRoundRobinQueue()
                    : QueueForShardingKey(stored->message_group(), to->queue_count());
  entry.message_id = pick.id.value();
  entry.record = std::move(*stored);
  entry.record.clear_dead_letter();
  storage::Batch batch = store_->NewBatch();
  group_table_.PutDeadLetter(&batch, group, pick.id, record);
  tracer_->Add(&batch, {
      .message_id = pick.id.value(), .time_ms = now, .kind = v1::TRACE_REDRIVEN,
      .group = group.value(), .client = "", .detail = "copied to " + to->name()});
  std::vector<AppendEntry> entries;
  entries.push_back(std::move(entry));
  join->remaining.fetch_add(1);
  log_->Append(std::move(entries), std::move(batch), "",
               [this, join, index, claim = std::move(pick.claim)](
                   std::vector<v1::SendResult> r) mutable {
                 claim.reset();
                 Inc(metrics_->messages_redriven);
                 auto* res = join->response.mutable_redrive_response()->mutable_results(index);
                 res->set_topic(r[0].topic());
                 res->set_queue_id(r[0].queue_id());
                 res->set_offset(r[0].offset());
                 join->Done();
               });
  return Status::Ok();
}

}  // namespace halfmq::broker
