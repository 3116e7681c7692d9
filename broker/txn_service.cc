// TxnService: SendHalf, EndTransaction, ListTransactions and the shared
// state transitions. The check-back scanner is in txn_checker.cc.
#include "broker/txn_service.h"

#include <algorithm>
#include <cmath>
#include <set>

#include <glog/logging.h>

#include "common/limits.h"

namespace halfmq::broker {

using storage::TxnTable;

namespace {

Status ValidateTxnId(const std::string& txn_id) {
  if (!ValidateMessageId(txn_id).ok()) {
    return Status::InvalidArgument(
        "transaction id must be 1..128 printable ASCII bytes without spaces");
  }
  return Status::Ok();
}

const char* OutcomeName(v1::TxnOutcome o) {
  return o == v1::COMMIT ? "committed" : o == v1::ROLLBACK ? "rolled back" : "unknown";
}

// The detail of a HALF_STORED event.
std::string HalfDetail(const TxnId& txn, const std::string& topic) {
  return "transaction " + txn.value() + ", topic " + topic;
}

// When message `seq` of a transaction whose HALF_STORED events wait
// (half_untraced) had its half stored.
int64_t HalfStoredMs(const v1::TxnRecord& meta, int seq) {
  return seq < meta.half_stored_ms_size() ? meta.half_stored_ms(seq) : meta.created_ms();
}

}  // namespace

Result<UnresolvedAction> ParseUnresolvedAction(const std::string& name) {
  if (name == "keep") return UnresolvedAction::kKeep;
  if (name == "commit") return UnresolvedAction::kCommit;
  if (name == "rollback") return UnresolvedAction::kRollback;
  return Status::InvalidArgument("--txn_unresolved_action must be keep, commit or rollback");
}

TxnService::TxnService(storage::Store* store, TopicManager* topics, MessageLog* log,
                       DelayService* delays, ProducerRegistry* registry, Tracer* tracer,
                       Clock* clock, Metrics* metrics, TxnOptions options,
                       asio::thread_pool& pool)
    : store_(store),
      table_(store),
      topics_(topics),
      log_(log),
      delays_(delays),
      registry_(registry),
      tracer_(tracer),
      clock_(clock),
      metrics_(metrics),
      options_(options),
      pool_(pool),
      gate_(pool),
      cache_(options.cache_bytes),
      rng_(std::random_device()()) {}

TxnService::~TxnService() { Stop(); }

Status TxnService::Recover() {
  int64_t pending = 0, unresolved = 0, settled = 0;
  HALFMQ_RETURN_IF_ERROR(table_.ScanRecords(TxnId(), [&](const v1::TxnRecord& r) {
    (r.state() == v1::UNRESOLVED ? unresolved : pending)++;
    return true;
  }));
  HALFMQ_RETURN_IF_ERROR(table_.ScanSettledByExpiry([&](const TxnTable::TimedTxn&) {
    ++settled;
    return true;
  }));
  metrics_->txn_pending.store(pending);
  metrics_->txn_unresolved.store(unresolved);
  metrics_->txn_settled.store(settled);
  settled_count_.store(settled);
  HALFMQ_RETURN_IF_ERROR(LoadNextDue());
  LOG(INFO) << "recovered transactions: " << pending << " pending, " << unresolved
            << " unresolved, " << settled << " settled outcomes remembered";
  return Status::Ok();
}

Result<TxnService::Loaded> TxnService::Load(const TxnId& txn) const {
  Loaded out;
  auto outcome = table_.GetOutcome(txn);
  if (!outcome.ok()) return outcome.status();
  if (outcome->has_value()) {
    out.outcome = std::move(**outcome);
    return out;
  }
  auto meta = table_.GetRecord(txn);
  if (!meta.ok()) return meta.status();
  out.meta = std::move(*meta);
  return out;
}

Result<TxnService::Loaded> TxnService::LoadState(const TxnId& txn) {
  if (auto entry = cache_.Take(txn)) return FromCache(std::move(*entry));
  return Load(txn);
}

TxnService::Loaded TxnService::FromCache(TxnStateCache::Entry entry) {
  Loaded out;
  out.meta = std::move(entry.meta);
  out.halves = std::move(entry.halves);
  return out;
}

void TxnService::AddStats(std::map<std::string, int64_t>* stats) const {
  TxnStateCache::Stats c = cache_.stats();
  (*stats)["txn_cache_hits"] = static_cast<int64_t>(c.hits);
  (*stats)["txn_cache_misses"] = static_cast<int64_t>(c.misses);
  (*stats)["txn_cache_evictions"] = static_cast<int64_t>(c.evictions);
  (*stats)["txn_cache_entries"] = static_cast<int64_t>(c.entries);
  (*stats)["txn_cache_bytes"] = static_cast<int64_t>(c.bytes);
}

Result<google::protobuf::RepeatedPtrField<v1::Message>> TxnService::LoadHalfMessages(
    const v1::TxnRecord& meta) const {
  return table_.ReadHalves(TxnId(meta.txn_id()), meta.message_count());
}

int64_t TxnService::Backoff(uint32_t checks) {
  double base = static_cast<double>(options_.check_delay_ms) *
                std::pow(2.0, static_cast<double>(std::min<uint32_t>(checks, 30)));
  base = std::min(base, static_cast<double>(options_.check_backoff_max_ms));
  double factor;
  {
    MutexLock lock(&rng_mu_);
    factor = std::uniform_real_distribution<double>(0.75, 1.25)(rng_);
  }
  auto delay = static_cast<int64_t>(base * factor);
  return std::clamp<int64_t>(delay, 1, options_.check_backoff_max_ms);
}

Status TxnService::RegisterProducer(const std::shared_ptr<Connection>& connection,
                                    const google::protobuf::RepeatedPtrField<std::string>& groups,
                                    uint32_t max_outstanding) {
  // The count first: a Hello of 100k groups is refused before any of them is
  // looked at.
  HALFMQ_RETURN_IF_ERROR(ValidateProducerGroupCount(static_cast<size_t>(groups.size())));
  for (const std::string& g : groups) {
    HALFMQ_RETURN_IF_ERROR(ValidateName("producer group", g));
  }
  if (groups.empty()) return Status::Ok();
  std::vector<ProducerGroup> named;
  named.reserve(groups.size());
  for (const std::string& g : groups) named.emplace_back(g);
  HALFMQ_RETURN_IF_ERROR(registry_->RegisterAll(connection, named, max_outstanding));
  MutexLock lock(&scan_mu_);
  scan_cv_.SignalAll();  // checks that waited for a producer can go now
  return Status::Ok();
}

void TxnService::OnConnectionClosed(uint64_t connection_id) {
  registry_->Unregister(connection_id);
}

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
  gate_.Run(txn.value(), [this, req, resp, txn](std::shared_ptr<TxnLease> lease) {
    auto loaded = LoadState(txn);
    if (!loaded.ok()) return resp->Error(loaded.status());
    DoSendHalf(req, resp, std::move(lease), std::move(*loaded));
  });
}

void TxnService::DoSendHalf(std::shared_ptr<v1::SendHalfRequest> req,
                            std::shared_ptr<Responder> resp, std::shared_ptr<TxnLease> lease,
                            Loaded loaded) {
  const TxnId txn(req->txn_id());
  const ProducerGroup group(req->producer_group());
  if (loaded.outcome) {
    return resp->Error(Status::FailedPrecondition("transaction '" + txn.value() + "' was already " +
                                                  OutcomeName(loaded.outcome->outcome())));
  }
  int64_t now = clock_->NowMs();
  storage::Batch batch = store_->NewBatch();
  v1::TxnRecord meta;
  std::set<std::string> existing;
  // What the cache will hold once this send is written.
  TxnStateCache::Entry cached;
  bool is_new = !loaded.meta.has_value();
  if (!is_new) {
    meta = std::move(*loaded.meta);
    if (meta.producer_group() != req->producer_group()) {
      return resp->Error(Status::FailedPrecondition("transaction '" + txn.value() +
                                                    "' belongs to producer group '" +
                                                    meta.producer_group() + "'"));
    }
    if (meta.state() != v1::PENDING) {
      return resp->Error(Status::FailedPrecondition(
          "transaction '" + txn.value() +
          "' is unresolved; an operator must commit or roll it back"));
    }
    if (!loaded.halves) {
      auto half = LoadHalfMessages(meta);
      if (!half.ok()) return resp->Error(half.status());
      loaded.halves = std::move(half).value();
    }
    for (const auto& m : *loaded.halves) existing.insert(m.message_id());
    cached.halves = std::move(*loaded.halves);
    // The producer is still adding to it: its local transaction is running,
    // so do not check it back before the usual delay from now.
    int64_t first = req->check_immunity_ms() > 0 ? req->check_immunity_ms()
                                                 : options_.check_delay_ms;
    if (meta.next_check_ms() < now + first) {
      TxnTable::DeleteDueCheck(&batch, group, meta.next_check_ms(), txn);
      meta.set_next_check_ms(now + first);
      TxnTable::PutDueCheck(&batch, group, meta.next_check_ms(), txn);
    }
  } else {
    meta.set_txn_id(txn.value());
    meta.set_producer_group(req->producer_group());
    meta.set_state(v1::PENDING);
    meta.set_created_ms(now);
    int64_t first = req->check_immunity_ms() > 0 ? req->check_immunity_ms()
                                                 : options_.check_delay_ms;
    meta.set_next_check_ms(now + first);
    meta.set_age_deadline_ms(now + options_.max_age_ms);
    // Most transactions settle within ms: their HALF_STORED events then go
    // into the outcome's events instead of being written now.
    meta.set_half_untraced(tracer_->enabled());
    TxnTable::PutDueCheck(&batch, group, meta.next_check_ms(), txn);
    TxnTable::PutAgeDeadline(&batch, meta.age_deadline_ms(), txn);
  }
  std::set<std::string> topics(meta.topics().begin(), meta.topics().end());
  v1::Frame frame;
  auto* out = frame.mutable_send_half_response();
  out->set_txn_id(txn.value());
  uint32_t seq = meta.message_count();
  uint64_t bytes = meta.bytes();
  int added = 0;
  std::string value;
  for (v1::Message& m : *req->mutable_messages()) {
    out->add_message_ids(m.message_id());
    if (existing.count(m.message_id())) continue;  // a retried send
    bytes += m.ByteSizeLong();
    if (seq + 1 > kMaxMessagesPerSend || bytes > options_.max_txn_bytes) {
      return resp->Error(Status::InvalidArgument(
          "a transaction holds at most " + std::to_string(kMaxMessagesPerSend) +
          " messages and " + std::to_string(options_.max_txn_bytes) +
          " bytes (so that it commits, and its check fits in one frame)"));
    }
    if (m.born_time_ms() == 0) m.set_born_time_ms(now);
    value.clear();
    m.SerializeToString(&value);
    TxnTable::PutHalf(&batch, txn, seq++, value);
    *cached.halves.Add() = m;
    if (meta.half_untraced()) {
      meta.add_half_stored_ms(now);
    } else {
      tracer_->Add(&batch, {
          .message_id = m.message_id(), .time_ms = now, .kind = v1::TRACE_HALF_STORED,
          .group = req->producer_group(), .detail = HalfDetail(txn, m.topic())});
    }
    topics.insert(m.topic());
    ++added;
  }
  if (added == 0) {
    // Nothing new: answer without writing. The state is unchanged, so it
    // goes back into the cache.
    cached.meta = std::move(meta);
    cache_.Put(std::move(cached));
    return resp->Ok(std::move(frame));
  }
  meta.set_message_count(seq);
  meta.set_bytes(bytes);
  meta.clear_topics();
  for (const auto& t : topics) meta.add_topics(t);
  TxnTable::PutRecord(&batch, meta);
  // The lease is held until the write is durable (and a failed write ends
  // the process), so no one reads the entry before it is true.
  cached.meta = meta;
  cache_.Put(std::move(cached));
  store_->Commit(std::move(batch), [this, resp, lease, is_new, added, group,
                                    due = meta.next_check_ms(), frame = std::move(frame)]() mutable {
    if (is_new) NoteDue(group, due);
    if (is_new) Inc(metrics_->txn_pending);
    Inc(metrics_->txn_half_sent, added);
    resp->Ok(std::move(frame));
  });
}

void TxnService::TraceHalves(v1::TxnRecord* meta,
                             const google::protobuf::RepeatedPtrField<v1::Message>& halves,
                             storage::Batch* batch) const {
  if (!meta->half_untraced()) return;
  for (int i = 0; i < halves.size(); ++i) {
    tracer_->Add(batch, {
        .message_id = halves[i].message_id(), .time_ms = HalfStoredMs(*meta, i),
        .kind = v1::TRACE_HALF_STORED, .group = meta->producer_group(),
        .detail = HalfDetail(TxnId(meta->txn_id()), halves[i].topic())});
  }
  meta->set_half_untraced(false);
  meta->clear_half_stored_ms();
}

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
  gate_.Run(txn.value(), [this, txn, outcome, by, answer = std::move(answer)](
                     std::shared_ptr<TxnLease> lease) mutable {
    Settle(txn, outcome, by, std::move(lease), std::move(answer));
  });
}

void TxnService::DeleteState(const v1::TxnRecord& meta, storage::Batch* batch) const {
  const TxnId txn(meta.txn_id());
  TxnTable::DeleteHalves(batch, txn, meta.message_count());
  TxnTable::DeleteRecord(batch, txn);
  if (meta.state() == v1::PENDING) {
    TxnTable::DeleteDueCheck(batch, ProducerGroup(meta.producer_group()), meta.next_check_ms(),
                             txn);
    TxnTable::DeleteAgeDeadline(batch, meta.age_deadline_ms(), txn);
  } else {
    TxnTable::DeleteUnresolved(batch, txn);
  }
}

void TxnService::MarkUnresolved(v1::TxnRecord* meta, storage::Batch* batch, const char* why) {
  const TxnId txn(meta->txn_id());
  TxnTable::DeleteDueCheck(batch, ProducerGroup(meta->producer_group()), meta->next_check_ms(),
                           txn);
  TxnTable::DeleteAgeDeadline(batch, meta->age_deadline_ms(), txn);
  cache_.Erase(txn);
  if (meta->half_untraced()) {
    auto halves = LoadHalfMessages(*meta);
    if (halves.ok()) TraceHalves(meta, *halves, batch);
  }
  meta->set_state(v1::UNRESOLVED);
  meta->set_next_check_ms(0);
  TxnTable::PutUnresolved(batch, txn);
  TxnTable::PutRecord(batch, *meta);
  LOG(WARNING) << "transaction " << txn << " of producer group " << meta->producer_group()
               << " is unresolved (" << why << ", " << meta->checks()
               << " checks); an operator must commit or roll it back";
}

void TxnService::GiveUp(const TxnId& txn_id, const char* why) {
  {
    MutexLock lock(&giving_up_mu_);
    if (!giving_up_.insert(txn_id).second) return;  // already on its way
  }
  // Leaves giving_up_ when the last callback holding it is gone.
  auto guard = std::shared_ptr<void>(nullptr, [this, txn_id](void*) {
    MutexLock lock(&giving_up_mu_);
    giving_up_.erase(txn_id);
  });
  gate_.Run(txn_id.value(), [this, txn_id, why, guard](std::shared_ptr<TxnLease> lease) {
    // The reason may have gone away meanwhile (an un-counted check).
    auto still_due = [this](const v1::TxnRecord& meta) {
      return meta.state() == v1::PENDING && (meta.checks() >= options_.max_checks ||
                                             clock_->NowMs() >= meta.age_deadline_ms());
    };
    auto mark = [this, txn_id, why, guard, still_due](std::shared_ptr<TxnLease> held) {
      auto loaded = Load(txn_id);
      if (!loaded.ok() || !loaded->meta || !still_due(*loaded->meta)) return;
      v1::TxnRecord meta = std::move(*loaded->meta);
      storage::Batch batch = store_->NewBatch();
      MarkUnresolved(&meta, &batch, why);
      store_->Commit(std::move(batch), [this, held, guard] {
        Inc(metrics_->txn_pending, -1);
        Inc(metrics_->txn_unresolved);
      });
    };
    if (options_.unresolved_action == UnresolvedAction::kKeep) return mark(std::move(lease));
    auto loaded = Load(txn_id);
    if (!loaded.ok() || !loaded->meta || !still_due(*loaded->meta)) return;
    v1::TxnOutcome outcome =
        options_.unresolved_action == UnresolvedAction::kCommit ? v1::COMMIT : v1::ROLLBACK;
    // Settle first; only if that fails does the transaction wait for an
    // operator. Nothing is written before Settle's own batch, so a crash in
    // between leaves it pending and the scanner gives up on it again.
    Settle(txn_id, outcome, "policy", lease,
           [this, txn_id, mark](Status s, v1::EndTransactionResponse) {
             if (s.ok() || s.code() == StatusCode::kFailedPrecondition) {
               return;  // settled, or settled the other way by someone else meanwhile
             }
             LOG(ERROR) << "--txn_unresolved_action could not settle " << txn_id << ": " << s;
             gate_.Run(txn_id.value(), mark);
           });
  });
}

void TxnService::Settle(const TxnId& txn_id, v1::TxnOutcome outcome, const std::string& by,
                        std::shared_ptr<TxnLease> lease, SettleDone done) {
  auto loaded = LoadState(txn_id);
  if (!loaded.ok()) return done(loaded.status(), {});
  SettleLoaded(txn_id, outcome, by, std::move(lease), std::move(loaded).value(), std::move(done));
}

void TxnService::SettleLoaded(const TxnId& txn_id, v1::TxnOutcome outcome,
                              const std::string& by, std::shared_ptr<TxnLease> lease,
                              Loaded loaded, SettleDone done) {
  if (loaded.outcome) {
    const v1::TxnOutcomeRecord& o = *loaded.outcome;
    if (o.outcome() != outcome) {
      Inc(metrics_->txn_end_conflicts);
      return done(Status::FailedPrecondition(
                      "transaction '" + txn_id.value() + "' was already " + OutcomeName(o.outcome()) +
                      "; it cannot be " + OutcomeName(outcome)),
                  {});
    }
    Inc(metrics_->txn_end_repeats);
    v1::EndTransactionResponse r;
    r.set_outcome(o.outcome());
    r.set_applied(false);
    *r.mutable_results() = o.results();
    return done(Status::Ok(), std::move(r));
  }
  if (!loaded.meta) {
    return done(Status::NotFound("transaction '" + txn_id.value() +
                                 "' is unknown: never sent, or settled longer ago than "
                                 "--txn_settled_retention_ms"),
                {});
  }
  const v1::TxnRecord meta = std::move(*loaded.meta);
  int64_t now = clock_->NowMs();
  auto record = std::make_shared<v1::TxnOutcomeRecord>();
  record->set_txn_id(txn_id.value());
  record->set_outcome(outcome);
  record->set_settled_ms(now);
  record->set_settled_by(by);
  record->set_expire_ms(now + options_.settled_retention_ms);
  record->set_producer_group(meta.producer_group());
  storage::Batch batch = store_->NewBatch();
  DeleteState(meta, &batch);
  TxnTable::PutSettledExpiry(&batch, record->expire_ms(), txn_id);
  bool was_unresolved = meta.state() == v1::UNRESOLVED;
  auto account = [this, was_unresolved, outcome] {
    Inc(was_unresolved ? metrics_->txn_unresolved : metrics_->txn_pending, -1);
    Inc(outcome == v1::COMMIT ? metrics_->txn_committed : metrics_->txn_rolled_back);
    Inc(metrics_->txn_settled);
    settled_count_.fetch_add(1);
  };
  if (outcome == v1::ROLLBACK) {
    if (tracer_->enabled()) {
      auto half = loaded.halves ? Result<google::protobuf::RepeatedPtrField<v1::Message>>(
                                      std::move(*loaded.halves))
                                : LoadHalfMessages(meta);
      if (half.ok()) {
        for (int i = 0; i < half->size(); ++i) {
          const v1::Message& m = (*half)[i];
          bool fold = meta.half_untraced();
          tracer_->Add(&batch, {
              .message_id = m.message_id(), .time_ms = now, .kind = v1::TRACE_ROLLED_BACK,
              .group = meta.producer_group(), .detail = "by " + by,
              .half_stored_ms = fold ? HalfStoredMs(meta, i) : 0,
              .half_detail = fold ? HalfDetail(txn_id, m.topic()) : ""});
        }
      }
    }
    TxnTable::PutOutcome(&batch, *record);
    store_->Commit(std::move(batch), [lease, account, done = std::move(done)] {
      account();
      v1::EndTransactionResponse r;
      r.set_outcome(v1::ROLLBACK);
      r.set_applied(true);
      done(Status::Ok(), std::move(r));
    });
    return;
  }
  auto messages = loaded.halves ? Result<google::protobuf::RepeatedPtrField<v1::Message>>(
                                     std::move(*loaded.halves))
                               : LoadHalfMessages(meta);
  if (!messages.ok()) return done(messages.status(), {});
  // Delayed messages start their delay now, at the commit, and wait in the
  // delay keyspace; the others are appended. All in the commit's batch.
  google::protobuf::RepeatedPtrField<v1::Message> immediate;
  std::vector<v1::SendResult> results(messages->size());
  std::vector<int> immediate_index;
  int64_t earliest_due = INT64_MAX;
  int delayed = 0;
  for (int i = 0; i < messages->size(); ++i) {
    v1::Message& m = (*messages)[i];
    bool fold = meta.half_untraced();
    tracer_->Add(&batch, {
        .message_id = m.message_id(), .time_ms = now, .kind = v1::TRACE_COMMITTED,
        .group = meta.producer_group(), .detail = "by " + by,
        .half_stored_ms = fold ? HalfStoredMs(meta, i) : 0,
        .half_detail = fold ? HalfDetail(txn_id, m.topic()) : ""});
    if (auto due = MessageLog::DueTime(m, now)) {
      results[i].set_message_id(m.message_id());
      results[i].set_topic(m.topic());
      results[i].set_store_time_ms(now);
      results[i].set_deliver_at_ms(*due);
      delays_->Store(m, *due, &batch);
      if (auto topic = topics_->Find(m.topic())) {
        v1::IndexRecord index;  // lookups and dedup see it while it waits
        index.set_store_time_ms(now);
        index.set_deliver_at_ms(*due);
        // The id index is not a transaction record: until storage has a
        // typed operation for it, it is written here by its raw key.
        batch.Put(storage::Keyspace::kIndex, storage::keys::IdIndexKey(m.message_id(), topic->id()),
                  index.SerializeAsString());
      }
      tracer_->Add(&batch, {
          .message_id = m.message_id(), .time_ms = now, .kind = v1::TRACE_DELAYED,
          .group = meta.producer_group(), .detail = "topic " + m.topic() + ", due at " + std::to_string(*due)});
      earliest_due = std::min(earliest_due, *due);
      ++delayed;
    } else {
      immediate_index.push_back(i);
      *immediate.Add() = std::move(m);
    }
  }
  auto done_ptr = std::make_shared<SettleDone>(std::move(done));
  auto respond = [this, account, earliest_due, delayed,
                  done_ptr](std::vector<v1::SendResult> all) {
    if (delayed > 0) delays_->Scheduled(earliest_due, delayed);
    account();
    v1::EndTransactionResponse r;
    r.set_outcome(v1::COMMIT);
    r.set_applied(true);
    for (auto& res : all) *r.add_results() = std::move(res);
    (*done_ptr)(Status::Ok(), std::move(r));
  };
  if (immediate.empty()) {
    for (const auto& res : results) *record->add_results() = res;
    TxnTable::PutOutcome(&batch, *record);
    store_->Commit(std::move(batch), [lease, respond, results]() mutable {
      respond(std::move(results));
    });
    return;
  }
  auto entries = log_->PrepareStored(&immediate);
  if (!entries.ok()) return (*done_ptr)(entries.status(), {});
  auto merged = std::make_shared<std::vector<v1::SendResult>>(std::move(results));
  auto index = std::make_shared<std::vector<int>>(std::move(immediate_index));
  log_->Append(
      std::move(entries).value(), std::move(batch), txn_id.value(),
      [lease, respond, merged](std::vector<v1::SendResult>) { respond(std::move(*merged)); },
      [record, merged, index](const std::vector<v1::SendResult>& appended,
                                      storage::Batch* b) {
        for (size_t k = 0; k < appended.size(); ++k) (*merged)[(*index)[k]] = appended[k];
        for (const auto& res : *merged) *record->add_results() = res;
        TxnTable::PutOutcome(b, *record);
      });
}

// --- ListTransactions ------------------------------------------------------

void TxnService::ListTransactions(v1::ListTransactionsRequest request, Responder responder) {
  if (request.state() != v1::TXN_STATE_UNSPECIFIED && request.state() != v1::PENDING &&
      request.state() != v1::UNRESOLVED) {
    return responder.Error(
        Status::InvalidArgument("list pending or unresolved transactions (or both)"));
  }
  Status cursor = ValidatePageCursor(request.start_after());
  if (!cursor.ok()) return responder.Error(cursor);
  auto resp = std::make_shared<Responder>(std::move(responder));
  asio::post(pool_, [this, request = std::move(request), resp] {
    uint32_t limit = request.limit() == 0 ? 1000 : std::min<uint32_t>(request.limit(), 10000);
    v1::Frame frame;
    auto* out = frame.mutable_list_transactions_response();
    size_t bytes = 0;
    const size_t max_bytes = std::min<uint64_t>(4u << 20, options_.max_txn_bytes / 2);
    auto add = [out, &bytes](const v1::TxnRecord& r) {
      v1::TransactionInfo* info = out->add_transactions();
      info->set_txn_id(r.txn_id());
      info->set_producer_group(r.producer_group());
      info->set_state(r.state());
      info->set_checks(r.checks());
      info->set_created_ms(r.created_ms());
      info->set_next_check_ms(r.next_check_ms());
      *info->mutable_topics() = r.topics();
      info->set_message_count(r.message_count());
      bytes += info->ByteSizeLong() + 8;
    };
    auto visit = [&](const v1::TxnRecord& r) {
      if (request.state() != v1::TXN_STATE_UNSPECIFIED && r.state() != request.state()) {
        return true;
      }
      add(r);
      // Bounded in count and bytes; the caller pages with start_after.
      return static_cast<uint32_t>(out->transactions_size()) < limit && bytes < max_bytes;
    };
    const TxnId start_after(request.start_after());
    Status s = request.state() == v1::UNRESOLVED
                   ? table_.ScanUnresolvedRecords(start_after, visit)
                   : table_.ScanRecords(start_after, visit);
    if (!s.ok()) return resp->Error(s);
    resp->Ok(std::move(frame));
  });
}

}  // namespace halfmq::broker
