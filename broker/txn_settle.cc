// TxnService: EndTransaction and settling a transaction (commit or
// rollback), also for check answers, operators and --txn_unresolved_action.
#include <algorithm>

#include <glog/logging.h>

#include "broker/txn_internal.h"
#include "broker/txn_service.h"
#include "storage/message_index.h"

namespace halfmq::broker {

using storage::TxnTable;
using txn_internal::HalfDetail;
using txn_internal::HalfStoredMs;
using txn_internal::OutcomeName;
using txn_internal::ValidateTxnId;

// --- EndTransaction --------------------------------------------------------

void TxnService::EndTransaction(v1::EndTransactionRequest request, Responder responder) {
  Status s = ValidateTxnId(request.txn_id());
  if (s.ok() && request.outcome() != v1::COMMIT && request.outcome() != v1::ROLLBACK) {
    s = Status::InvalidArgument("outcome must be COMMIT or ROLLBACK");
  }
  if (!s.ok()) return responder.Error(s);
  std::string by = request.from_operator() ? "operator" : request.from_check() ? "check"
                                                                               : "producer";
  auto resp = std::make_shared<Responder>(std::move(responder));
  const TxnId txn(request.txn_id());
  v1::TxnOutcome outcome = request.outcome();
  SettleDone answer = [resp](Status status, v1::EndTransactionResponse r) {
    if (!status.ok()) return resp->Error(status);
    v1::Frame frame;
    *frame.mutable_end_transaction_response() = std::move(r);
    resp->Ok(std::move(frame));
  };
  // A cached transaction settles right here, without reading RocksDB.
  if (cache_.Contains(txn)) {
    if (auto lease = gate_.TryAcquire(txn.value())) {
      if (auto entry = cache_.Take(txn)) {
        return SettleLoaded(txn, outcome, by, std::move(lease), FromCache(std::move(*entry)),
                            std::move(answer));
      }
      asio::post(pool_, [this, txn, outcome, by, lease = std::move(lease),
                         answer = std::move(answer)]() mutable {
        Settle(txn, outcome, by, std::move(lease), std::move(answer));
      });
      return;
    }
  }
  gate_.Run(txn.value(), pool_, [this, txn, outcome, by, answer = std::move(answer)](
                     std::shared_ptr<KeyGate::Lease> lease) mutable {
    Settle(txn, outcome, by, std::move(lease), std::move(answer));
  });
}

void TxnService::Settle(const TxnId& txn_id, v1::TxnOutcome outcome, const std::string& by,
                        std::shared_ptr<KeyGate::Lease> lease, SettleDone done) {
  auto loaded = LoadState(txn_id);
  if (!loaded.ok()) return done(loaded.status(), {});
  SettleLoaded(txn_id, outcome, by, std::move(lease), std::move(loaded).value(), std::move(done));
}

void TxnService::SettleLoaded(const TxnId& txn_id, v1::TxnOutcome outcome,
                              const std::string& by, std::shared_ptr<KeyGate::Lease> lease,
                              Loaded loaded, SettleDone done) {
  if (loaded.outcome) return AnswerSettled(txn_id, outcome, *loaded.outcome, done);
  if (!loaded.meta) {
    return done(Status::NotFound("transaction '" + txn_id.value() +
                                 "' is unknown: never sent, or settled longer ago than "
                                 "--txn_settled_retention_ms"),
                {});
  }
  Settling settling{.meta = std::move(*loaded.meta),
                    .by = by,
                    .now = clock_->NowMs(),
                    .halves = std::move(loaded.halves),
                    .record = std::make_shared<v1::TxnOutcomeRecord>(),
                    .batch = store_->NewBatch(),
                    .lease = std::move(lease),
                    .done = std::move(done)};
  v1::TxnOutcomeRecord* record = settling.record.get();
  record->set_txn_id(txn_id.value());
  record->set_outcome(outcome);
  record->set_settled_ms(settling.now);
  record->set_settled_by(by);
  record->set_expire_ms(settling.now + options_.settled_retention_ms);
  record->set_producer_group(settling.meta.producer_group());
  DeleteState(settling.meta, &settling.batch);
  TxnTable::PutSettledExpiry(&settling.batch, record->expire_ms(), txn_id);
  if (outcome == v1::ROLLBACK) return FinishRollback(std::move(settling));
  FinishCommit(std::move(settling));
}

void TxnService::AnswerSettled(const TxnId& txn_id, v1::TxnOutcome outcome,
                               const v1::TxnOutcomeRecord& settled, const SettleDone& done) {
  if (settled.outcome() != outcome) {
    Inc(metrics_->txn_end_conflicts);
    return done(Status::FailedPrecondition("transaction '" + txn_id.value() + "' was already " +
                                           OutcomeName(settled.outcome()) + "; it cannot be " +
                                           OutcomeName(outcome)),
                {});
  }
  Inc(metrics_->txn_end_repeats);
  v1::EndTransactionResponse r;
  r.set_outcome(settled.outcome());
  r.set_applied(false);
  *r.mutable_results() = settled.results();
  done(Status::Ok(), std::move(r));
}

void TxnService::CountSettled(bool was_unresolved, v1::TxnOutcome outcome) {
  Inc(was_unresolved ? metrics_->txn_unresolved : metrics_->txn_pending, -1);
  Inc(outcome == v1::COMMIT ? metrics_->txn_committed : metrics_->txn_rolled_back);
  Inc(metrics_->txn_settled);
  settled_count_.fetch_add(1);
}

Result<google::protobuf::RepeatedPtrField<v1::Message>> TxnService::TakeHalves(Settling* s) const {
  if (s->halves) return std::move(*s->halves);
  return LoadHalfMessages(s->meta);
}

void TxnService::TraceSettled(Settling* s, const v1::Message& m, int seq,
                              v1::TraceKind kind) const {
  bool fold = s->meta.half_untraced();
  tracer_->Add(&s->batch, {
      .message_id = m.message_id(), .time_ms = s->now, .kind = kind,
      .group = s->meta.producer_group(), .detail = "by " + s->by,
      .half_stored_ms = fold ? HalfStoredMs(s->meta, seq) : 0,
      .half_detail = fold ? HalfDetail(TxnId(s->meta.txn_id()), m.topic()) : ""});
}

void TxnService::FinishRollback(Settling s) {
  if (tracer_->enabled()) {
    auto halves = TakeHalves(&s);
    if (halves.ok()) {
      for (int i = 0; i < halves->size(); ++i) {
        TraceSettled(&s, (*halves)[i], i, v1::TRACE_ROLLED_BACK);
      }
    }
  }
  TxnTable::PutOutcome(&s.batch, *s.record);
  bool was_unresolved = s.meta.state() == v1::UNRESOLVED;
  store_->Commit(std::move(s.batch),
                 [this, was_unresolved, lease = std::move(s.lease), done = std::move(s.done)] {
                   CountSettled(was_unresolved, v1::ROLLBACK);
                   v1::EndTransactionResponse r;
                   r.set_outcome(v1::ROLLBACK);
                   r.set_applied(true);
                   done(Status::Ok(), std::move(r));
                 });
}

TxnService::StagedCommit TxnService::StageCommit(
    Settling* s, google::protobuf::RepeatedPtrField<v1::Message>* messages) {
  // Delayed messages start their delay now, at the commit, and wait in the
  // delay keyspace; the others are appended. All in the commit's batch.
  StagedCommit out;
  out.results.resize(messages->size());
  for (int i = 0; i < messages->size(); ++i) {
    v1::Message& m = (*messages)[i];
    TraceSettled(s, m, i, v1::TRACE_COMMITTED);
    auto due = MessageLog::DueTime(m, s->now);
    if (!due) {
      out.immediate_index.push_back(i);
      *out.immediate.Add() = std::move(m);
      continue;
    }
    v1::SendResult& result = out.results[i];
    result.set_message_id(m.message_id());
    result.set_topic(m.topic());
    result.set_store_time_ms(s->now);
    result.set_deliver_at_ms(*due);
    delays_->Store(m, *due, &s->batch);
    if (auto topic = topics_->Find(m.topic())) {
      v1::IndexRecord index;  // lookups and dedup see it while it waits
      index.set_store_time_ms(s->now);
      index.set_deliver_at_ms(*due);
      storage::MessageIndex::PutId(&s->batch, MessageId(m.message_id()), topic->id(), index);
    }
    tracer_->Add(&s->batch, {
        .message_id = m.message_id(), .time_ms = s->now, .kind = v1::TRACE_DELAYED,
        .group = s->meta.producer_group(),
        .detail = "topic " + m.topic() + ", due at " + std::to_string(*due)});
    out.earliest_due = std::min(out.earliest_due, *due);
    ++out.delayed;
  }
  return out;
}

void TxnService::FinishCommit(Settling s) {
  auto messages = TakeHalves(&s);
  if (!messages.ok()) return s.done(messages.status(), {});
  StagedCommit staged = StageCommit(&s, &*messages);
  auto done_ptr = std::make_shared<SettleDone>(std::move(s.done));
  bool was_unresolved = s.meta.state() == v1::UNRESOLVED;
  auto respond = [this, was_unresolved, earliest_due = staged.earliest_due,
                  delayed = staged.delayed, done_ptr](std::vector<v1::SendResult> all) {
    if (delayed > 0) delays_->Scheduled(earliest_due, delayed);
    CountSettled(was_unresolved, v1::COMMIT);
    v1::EndTransactionResponse r;
    r.set_outcome(v1::COMMIT);
    r.set_applied(true);
    for (auto& res : all) *r.add_results() = std::move(res);
    (*done_ptr)(Status::Ok(), std::move(r));
  };
  std::shared_ptr<v1::TxnOutcomeRecord> record = s.record;
  if (staged.immediate.empty()) {
    for (const auto& res : staged.results) *record->add_results() = res;
    TxnTable::PutOutcome(&s.batch, *record);
    store_->Commit(std::move(s.batch), [lease = std::move(s.lease), respond,
                                        results = std::move(staged.results)]() mutable {
      respond(std::move(results));
    });
    return;
  }
  auto entries = log_->PrepareStored(&staged.immediate);
  if (!entries.ok()) return (*done_ptr)(entries.status(), {});
  auto merged = std::make_shared<std::vector<v1::SendResult>>(std::move(staged.results));
  auto index = std::make_shared<std::vector<int>>(std::move(staged.immediate_index));
  log_->Append(
      std::move(entries).value(), std::move(s.batch), s.meta.txn_id(),
      [lease = std::move(s.lease), respond, merged](std::vector<v1::SendResult>) {
        respond(std::move(*merged));
      },
      [record, merged, index](const std::vector<v1::SendResult>& appended, storage::Batch* b) {
        for (size_t k = 0; k < appended.size(); ++k) (*merged)[(*index)[k]] = appended[k];
        for (const auto& res : *merged) *record->add_results() = res;
        TxnTable::PutOutcome(b, *record);
      });
}

}  // namespace halfmq::broker
