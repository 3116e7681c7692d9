// TxnService: SendHalf, which opens a transaction or adds half messages to
// it.
#include <set>

#include <glog/logging.h>

#include "broker/txn_internal.h"
#include "broker/txn_service.h"
#include "common/limits.h"

namespace halfmq::broker {

using storage::TxnTable;
using txn_internal::HalfDetail;
using txn_internal::OutcomeName;
using txn_internal::ValidateTxnId;

// --- SendHalf ------------------------------------------------------------

void TxnService::SendHalf(v1::SendHalfRequest request, Responder responder,
                          const std::shared_ptr<Connection>& connection) {
  Status s = ValidateTxnId(request.txn_id());
  if (s.ok()) s = ValidateName("producer group", request.producer_group());
  if (s.ok() && (request.messages_size() == 0 ||
                 request.messages_size() > static_cast<int>(kMaxMessagesPerSend))) {
    s = Status::InvalidArgument("a half send carries 1.." + std::to_string(kMaxMessagesPerSend) +
                                " messages");
  }
  if (s.ok() && static_cast<int64_t>(request.check_immunity_ms()) > options_.max_age_ms) {
    s = Status::InvalidArgument("check_immunity_ms exceeds --txn_max_age_ms");
  }
  std::set<std::string> ids;
  for (int i = 0; s.ok() && i < request.messages_size(); ++i) {
    const v1::Message& m = request.messages(i);
    s = log_->Validate(m);
    if (!s.ok()) break;
    auto topic = topics_->Find(m.topic());
    if (topic == nullptr) {
      s = Status::NotFound("topic '" + m.topic() + "' does not exist");
    } else if (m.queue_selector_case() == v1::Message::kQueueId &&
               m.queue_id() >= topic->queue_count()) {
      s = Status::InvalidArgument("queue " + std::to_string(m.queue_id()) + " out of range");
    } else if (!ids.insert(m.message_id()).second) {
      s = Status::InvalidArgument("message id '" + m.message_id() + "' repeats in the request");
    }
  }
  if (!s.ok()) return responder.Error(s);
  // The sender of a half message serves checks for its group, unless it
  // serves the most groups a connection may already: the half send is still
  // taken (checks go to the group's other connections, or wait for one).
  if (registry_->Register(connection, ProducerGroup(request.producer_group()), 0) ==
      ProducerRegistry::Join::kOverLimit) {
    Inc(metrics_->txn_producer_groups_refused);
  }
  auto req = std::make_shared<v1::SendHalfRequest>(std::move(request));
  auto resp = std::make_shared<Responder>(std::move(responder));
  const TxnId txn(req->txn_id());
  // No read needed: a transaction id the client just generated (first
  // attempt of its first half send) cannot have state yet, and a cached
  // transaction's state is in memory. Then the send runs right here. A
  // cached id flagged fresh is a client mistake: its state wins.
  bool cached = cache_.Contains(txn);
  if (req->fresh_txn() || cached) {
    if (auto lease = gate_.TryAcquire(txn.value())) {
      if (!cached) return DoSendHalf(req, resp, std::move(lease), Loaded{});
      if (auto entry = cache_.Take(txn)) {
        return DoSendHalf(req, resp, std::move(lease), FromCache(std::move(*entry)));
      }
      // Evicted meanwhile: read on the pool, keeping the lease.
      asio::post(pool_, [this, req, resp, txn, lease = std::move(lease)]() mutable {
        auto loaded = Load(txn);
        if (!loaded.ok()) return resp->Error(loaded.status());
        DoSendHalf(req, resp, std::move(lease), std::move(*loaded));
      });
      return;
    }
  }
  gate_.Run(txn.value(), pool_, [this, req, resp, txn](std::shared_ptr<KeyGate::Lease> lease) {
    auto loaded = LoadState(txn);
    if (!loaded.ok()) return resp->Error(loaded.status());
    DoSendHalf(req, resp, std::move(lease), std::move(*loaded));
  });
}

void TxnService::DoSendHalf(std::shared_ptr<v1::SendHalfRequest> req,
                            std::shared_ptr<Responder> resp, std::shared_ptr<KeyGate::Lease> lease,
                            Loaded loaded) {
  int64_t now = clock_->NowMs();
  storage::Batch batch = store_->NewBatch();
  v1::TxnRecord meta;
  // What the cache will hold once this send is written.
  TxnStateCache::Entry cached;
  bool is_new = !loaded.meta.has_value() && !loaded.outcome;
  Status s = OpenHalfState(*req, std::move(loaded), now, &meta, &cached, &batch);
  if (!s.ok()) return resp->Error(s);
  v1::Frame frame;
  auto* out = frame.mutable_send_half_response();
  out->set_txn_id(req->txn_id());
  auto added = AddHalves(req.get(), now, &meta, &cached, out, &batch);
  if (!added.ok()) return resp->Error(added.status());
  if (*added == 0) {
    // Nothing new: answer without writing. The state is unchanged, so it
    // goes back into the cache.
    cached.meta = std::move(meta);
    cache_.Put(std::move(cached));
    return resp->Ok(std::move(frame));
  }
  TxnTable::PutRecord(&batch, meta);
  // The lease is held until the write is durable (and a failed write ends
  // the process), so no one reads the entry before it is true.
  cached.meta = meta;
  cache_.Put(std::move(cached));
  store_->Commit(std::move(batch),
                 [this, resp, lease, is_new, added = *added,
                  group = ProducerGroup(meta.producer_group()), due = meta.next_check_ms(),
                  frame = std::move(frame)]() mutable {
                   if (is_new) NoteDue(group, due);
                   if (is_new) Inc(metrics_->txn_pending);
                   Inc(metrics_->txn_half_sent, added);
                   resp->Ok(std::move(frame));
                 });
}

Status TxnService::OpenHalfState(const v1::SendHalfRequest& req, Loaded loaded, int64_t now,
                                 v1::TxnRecord* meta, TxnStateCache::Entry* cached,
                                 storage::Batch* batch) {
  const TxnId txn(req.txn_id());
  const ProducerGroup group(req.producer_group());
  if (loaded.outcome) {
    return Status::FailedPrecondition("transaction '" + txn.value() + "' was already " +
                                      OutcomeName(loaded.outcome->outcome()));
  }
  int64_t first = req.check_immunity_ms() > 0 ? req.check_immunity_ms() : options_.check_delay_ms;
  if (!loaded.meta) {
    meta->set_txn_id(txn.value());
    meta->set_producer_group(group.value());
    meta->set_state(v1::PENDING);
    meta->set_created_ms(now);
    meta->set_next_check_ms(now + first);
    meta->set_age_deadline_ms(now + options_.max_age_ms);
    // Most transactions settle within ms: their HALF_STORED events then go
    // into the outcome's events instead of being written now.
    meta->set_half_untraced(tracer_->enabled());
    TxnTable::PutDueCheck(batch, group, meta->next_check_ms(), txn);
    TxnTable::PutAgeDeadline(batch, meta->age_deadline_ms(), txn);
    return Status::Ok();
  }
  *meta = std::move(*loaded.meta);
  if (meta->producer_group() != group.value()) {
    return Status::FailedPrecondition("transaction '" + txn.value() +
                                      "' belongs to producer group '" + meta->producer_group() +
                                      "'");
  }
  if (meta->state() != v1::PENDING) {
    return Status::FailedPrecondition("transaction '" + txn.value() +
                                      "' is unresolved; an operator must commit or roll it back");
  }
  if (!loaded.halves) {
    auto half = LoadHalfMessages(*meta);
    if (!half.ok()) return half.status();
    loaded.halves = std::move(half).value();
  }
  cached->halves = std::move(*loaded.halves);
  // The producer is still adding to it: its local transaction is running,
  // so do not check it back before the usual delay from now.
  if (meta->next_check_ms() < now + first) {
    TxnTable::DeleteDueCheck(batch, group, meta->next_check_ms(), txn);
    meta->set_next_check_ms(now + first);
    TxnTable::PutDueCheck(batch, group, meta->next_check_ms(), txn);
  }
  return Status::Ok();
}

Result<int> TxnService::AddHalves(v1::SendHalfRequest* req, int64_t now, v1::TxnRecord* meta,
                                  TxnStateCache::Entry* cached, v1::SendHalfResponse* out,
                                  storage::Batch* batch) {
  const TxnId txn(req->txn_id());
  std::set<std::string> existing;
  for (const auto& m : cached->halves) existing.insert(m.message_id());
  std::set<std::string> topics(meta->topics().begin(), meta->topics().end());
  uint32_t seq = meta->message_count();
  uint64_t bytes = meta->bytes();
  int added = 0;
  std::string value;
  for (v1::Message& m : *req->mutable_messages()) {
    out->add_message_ids(m.message_id());
    if (existing.count(m.message_id())) continue;  // a retried send
    bytes += m.ByteSizeLong();
    if (seq + 1 > kMaxMessagesPerSend || bytes > options_.max_txn_bytes) {
      return Status::InvalidArgument(
          "a transaction holds at most " + std::to_string(kMaxMessagesPerSend) +
          " messages and " + std::to_string(options_.max_txn_bytes) +
          " bytes (so that it commits, and its check fits in one frame)");
    }
    if (m.born_time_ms() == 0) m.set_born_time_ms(now);
    value.clear();
    m.SerializeToString(&value);
    TxnTable::PutHalf(batch, txn, seq++, value);
    *cached->halves.Add() = m;
    if (meta->half_untraced()) {
      meta->add_half_stored_ms(now);
    } else {
      tracer_->Add(batch, {
          .message_id = m.message_id(), .time_ms = now, .kind = v1::TRACE_HALF_STORED,
          .group = req->producer_group(), .detail = HalfDetail(txn, m.topic())});
    }
    topics.insert(m.topic());
    ++added;
  }
  if (added > 0) {
    meta->set_message_count(seq);
    meta->set_bytes(bytes);
    meta->clear_topics();
    for (const auto& t : topics) meta->add_topics(t);
  }
  return added;
}

}  // namespace halfmq::broker
