// TxnService: the check-back scanner.
//
// Each round (every --txn_scan_interval_ms, or sooner when a producer
// registers) it reads only what is due from the `txn_due` keyspace:
//   'A' keys: transactions reaching --txn_max_age_ms become unresolved;
//   'X' keys: remembered outcomes past --txn_settled_retention_ms (or over
//             --txn_settled_max) are forgotten;
//   'C' keys, per producer group: checks due now. Groups with no live
//             producer are skipped (their checks stay due and are not
//             counted); others get at most as many checks as their token
//             bucket and free connection slots allow.
// A check sent is recorded (checks + 1, next due time with backoff and
// jitter) in one batch per round before it is written to the producer's
// connection. If the connection closes before the producer answers, the
// check is un-counted: only delivered checks count.
#include <glog/logging.h>

#include "broker/txn_service.h"

#include "common/thread_name.h"

namespace halfmq::broker {

using storage::TxnTable;

void TxnService::Start() {
  scanner_ = std::thread([this] {
    SetCurrentThreadName("halfmq-txnscan");
    ScanLoop();
  });
}

void TxnService::Stop() {
  {
    MutexLock lock(&scan_mu_);
    stop_ = true;
    scan_cv_.SignalAll();
  }
  if (scanner_.joinable()) scanner_.join();
}

void TxnService::ScanLoop() {
  for (;;) {
    {
      MutexLock lock(&scan_mu_);
      if (stop_) return;
    }
    ScanOnce();
    MutexLock lock(&scan_mu_);
    if (stop_) return;
    scan_cv_.WaitFor(&scan_mu_, options_.scan_interval);
  }
}

size_t TxnService::ScanOnce() {
  // A read-only store (a failed write) records no checks: none go out.
  if (store_->read_only()) return 0;
  int64_t now = clock_->NowMs();
  SweepCheckTimeouts(now);
  ScanAgeDeadlines(now);
  ScanSettledExpiry(now);
  return ScanChecks(now);
}

size_t TxnService::ScanAgeDeadlines(int64_t now) {
  std::vector<TxnTable::TimedTxn> due;
  Status s = table_.ScanAgeDeadlines(now, [&](const TxnTable::TimedTxn& t) {
    due.push_back(t);
    return due.size() < options_.scan_batch;
  });
  if (!s.ok()) {
    LOG(ERROR) << "scanning transaction age deadlines: " << s;
    return 0;
  }
  storage::Batch batch = store_->NewBatch();
  std::vector<std::shared_ptr<KeyGate::Lease>> leases;
  std::vector<TxnId> give_up;
  for (const auto& d : due) {
    auto lease = gate_.TryAcquire(d.txn.value());
    if (!lease) continue;
    auto loaded = Load(d.txn);
    if (!loaded.ok()) continue;
    if (!loaded->meta || loaded->meta->state() != v1::PENDING ||
        loaded->meta->age_deadline_ms() != d.ms) {
      TxnTable::DeleteAgeDeadline(&batch, d.ms, d.txn);
      continue;
    }
    give_up.push_back(d.txn);
    leases.push_back(std::move(lease));
  }
  if (!batch.empty() && !store_->CommitAndWait(std::move(batch)).ok()) return 0;
  leases.clear();
  for (const auto& txn : give_up) {
    // Its deadline may have been pulled in when its last allowed check went
    // out (see ScanChecks): name the right reason.
    GiveUp(txn, "reached --txn_max_age_ms or --txn_max_checks");
  }
  return give_up.size();
}

size_t TxnService::ScanSettledExpiry(int64_t now) {
  // Past their retention, and then the oldest beyond --txn_settled_max.
  std::vector<TxnTable::TimedTxn> expired;
  int64_t excess = settled_count_.load() - static_cast<int64_t>(options_.settled_max);
  size_t limit = 10000;
  int64_t evicted = 0;  // forgotten before their retention ended
  Status s = table_.ScanSettledByExpiry([&](const TxnTable::TimedTxn& t) {
    bool past_retention = t.ms <= now;
    bool over_count = static_cast<int64_t>(expired.size()) < excess;
    if (!past_retention && !over_count) return false;
    if (!past_retention) ++evicted;
    expired.push_back(t);
    return expired.size() < limit;
  });
  if (!s.ok()) {
    LOG(ERROR) << "scanning settled transactions: " << s;
    return 0;
  }
  if (expired.empty()) return 0;
  storage::Batch batch = store_->NewBatch();
  for (const auto& t : expired) TxnTable::ForgetOutcome(&batch, t.ms, t.txn);
  if (!store_->CommitAndWait(std::move(batch)).ok()) return 0;
  if (evicted > 0) {
    // Forgotten before their retention ended: a very late repeat of these
    // EndTransactions now gets NOT_FOUND. Raise --txn_settled_max.
    Inc(metrics_->txn_settled_evicted, evicted);
    LOG_EVERY_N(WARNING, 100) << "forgot settled transactions before --txn_settled_retention_ms "
                                 "because --txn_settled_max="
                              << options_.settled_max << " was reached";
  }
  settled_count_.fetch_sub(static_cast<int64_t>(expired.size()));
  Inc(metrics_->txn_settled, -static_cast<int64_t>(expired.size()));
  return expired.size();
}

size_t TxnService::ScanChecks(int64_t now) {
  CheckRound round{.batch = store_->NewBatch()};
  // The earliest due check of each group is kept in memory (NextDue), so a
  // round touches RocksDB only for groups with checks due now: its cost
  // follows the checks that are due, not the pending transactions. It is
  // also a floor (no live key of the group is earlier), so the seeks start
  // there rather than at the group's first key: the tombstones that settled
  // transactions leave below it are never walked again.
  struct Visited {
    ProducerGroup group;
    uint64_t generation;
    int64_t floor;
  };
  std::vector<Visited> visited;
  for (const auto& [group, first_due, generation] : DueGroups(now)) {
    if (round.bytes >= options_.max_check_bytes_per_round) break;
    if (first_due > now) continue;
    if (!registry_->HasProducer(group)) {
      // Nobody to ask: leave the checks due and uncounted.
      Inc(metrics_->txn_checks_no_producer);
      continue;
    }
    size_t capacity = std::min(registry_->Capacity(group, now), options_.scan_batch);
    if (capacity == 0) {
      Inc(metrics_->txn_checks_throttled);
      continue;
    }
    visited.push_back(Visited{group, generation, first_due});
    ScanGroupChecks(group, first_due, now, capacity, &round, &visited.back().floor);
  }
  // The counts and next due times are durable before any check goes out, so
  // a crash cannot lose the record of a delivered check.
  if (!round.batch.empty() && !store_->CommitAndWait(std::move(round.batch)).ok()) return 0;
  round.leases.clear();
  // Where the visited groups' due checks now begin.
  for (const auto& v : visited) RecomputeNextDue(v.group, v.generation, v.floor);
  size_t sent = round.sends.size();
  SendChecks(std::move(round.sends), now);
  for (const auto& txn : round.give_up) GiveUp(txn, "reached --txn_max_checks");
  return sent;
}

void TxnService::ScanGroupChecks(const ProducerGroup& group, int64_t first_due, int64_t now,
                                 size_t capacity, CheckRound* round, int64_t* floor) {
  std::vector<TxnTable::TimedTxn> due;
  Status s = table_.ScanDueChecks(group, first_due, now, [&](const TxnTable::TimedTxn& t) {
    due.push_back(t);
    return due.size() < capacity;
  });
  if (!s.ok()) {
    LOG(ERROR) << "scanning due checks of group " << group << ": " << s;
    return;
  }
  // The earliest key this round leaves in place: the next round's floor
  // cannot be above it.
  int64_t left_min = INT64_MAX;
  for (const auto& d : due) {
    CheckStep step = PrepareCheck(group, d, now, round);
    if (step == CheckStep::kLeft || step == CheckStep::kLeftAndStop) {
      left_min = std::min(left_min, d.ms);
    }
    if (step == CheckStep::kLeftAndStop) break;  // and everything after it
  }
  // A complete scan saw every key up to now: the first due key is at or
  // after now + 1 or the earliest one left, so the recount need not walk
  // again what this scan walked (tombstones of settled transactions).
  if (due.size() < capacity) *floor = std::min(left_min, now + 1);
}

TxnService::CheckStep TxnService::PrepareCheck(const ProducerGroup& group,
                                               const TxnTable::TimedTxn& d, int64_t now,
                                               CheckRound* round) {
  auto lease = gate_.TryAcquire(d.txn.value());
  if (!lease) return CheckStep::kLeft;  // being settled right now
  auto loaded = Load(d.txn);
  if (!loaded.ok()) return CheckStep::kLeft;
  if (!loaded->meta || loaded->meta->state() != v1::PENDING ||
      loaded->meta->next_check_ms() != d.ms) {
    TxnTable::DeleteDueCheck(&round->batch, group, d.ms, d.txn);
    return CheckStep::kDone;
  }
  v1::TxnRecord meta = std::move(*loaded->meta);
  if (meta.checks() >= options_.max_checks) {
    round->give_up.push_back(d.txn);
    return CheckStep::kLeft;  // GiveUp removes it later
  }
  if (round->bytes >= options_.max_check_bytes_per_round) return CheckStep::kLeftAndStop;
  std::shared_ptr<Connection> connection;
  ProducerRegistry::Pick pick = registry_->PickConnection(group, now, &connection);
  if (pick != ProducerRegistry::Pick::kPicked) {
    if (pick == ProducerRegistry::Pick::kNoProducer) {
      Inc(metrics_->txn_checks_no_producer);
    } else {
      Inc(metrics_->txn_checks_throttled);
    }
    return CheckStep::kLeftAndStop;
  }
  auto messages = LoadHalfMessages(meta);
  if (!messages.ok()) {
    registry_->Release(connection->id(), false, now);
    return CheckStep::kLeft;
  }
  RecordCheck(&meta, *messages, now, &round->batch);
  round->bytes += meta.bytes();
  CheckSend send;
  send.connection = std::move(connection);
  send.txn = d.txn;
  for (const auto& m : *messages) {
    tracer_->Add(&round->batch, {
        .message_id = m.message_id(), .time_ms = now, .kind = v1::TRACE_CHECKED,
        .group = group.value(), .client = send.connection->client_id(), .attempt = meta.checks(),
        .detail = "check #" + std::to_string(meta.checks())});
  }
  auto* check = send.frame.mutable_check_transaction();
  check->set_txn_id(d.txn.value());
  check->set_producer_group(group.value());
  *check->mutable_messages() = std::move(messages).value();
  check->set_check_number(meta.checks());
  check->set_created_ms(meta.created_ms());
  round->sends.push_back(std::move(send));
  round->leases.push_back(std::move(lease));
  return CheckStep::kDone;
}

void TxnService::RecordCheck(v1::TxnRecord* meta,
                             const google::protobuf::RepeatedPtrField<v1::Message>& halves,
                             int64_t now, storage::Batch* batch) {
  const TxnId txn(meta->txn_id());
  const ProducerGroup group(meta->producer_group());
  int64_t next = now + Backoff(meta->checks() + 1);
  TxnTable::DeleteDueCheck(batch, group, meta->next_check_ms(), txn);
  TxnTable::PutDueCheck(batch, group, next, txn);
  meta->set_checks(meta->checks() + 1);
  meta->set_last_check_ms(now);
  meta->set_next_check_ms(next);
  if (meta->checks() >= options_.max_checks && meta->age_deadline_ms() > next) {
    // The last allowed check: give up when its answer is overdue even if
    // no producer of the group is online then (the age pass does not
    // need one).
    TxnTable::DeleteAgeDeadline(batch, meta->age_deadline_ms(), txn);
    meta->set_age_deadline_ms(next);
    TxnTable::PutAgeDeadline(batch, next, txn);
  }
  cache_.Erase(txn);
  // Still pending at a check: its HALF_STORED events are written now.
  TraceHalves(meta, halves, batch);
  TxnTable::PutRecord(batch, *meta);
}

void TxnService::SendChecks(std::vector<CheckSend> sends, int64_t now) {
  for (auto& send : sends) {
    uint64_t check_id;
    {
      MutexLock lock(&outstanding_mu_);
      check_id = next_check_id_++;
      outstanding_[check_id] =
          OutstandingCheck{send.connection->id(), now + options_.check_timeout_ms, send.txn};
    }
    Inc(metrics_->txn_checks_sent);
    send.connection->SendRequest(std::move(send.frame),
                                 [this, check_id](Result<v1::Frame> response) {
                                   OnCheckAnswered(check_id, response);
                                 });
  }
}

std::optional<int64_t> TxnService::FirstDue(const ProducerGroup& group, int64_t floor) const {
  // A failed read leaves the group without a next due time until the next
  // NoteDue, as a group with nothing due would.
  auto first = table_.FirstDueCheck(group, floor);
  return first.ok() ? *first : std::nullopt;
}

Status TxnService::LoadNextDue() {
  // One seek per group, at start-up only.
  std::map<ProducerGroup, int64_t> found;
  HALFMQ_RETURN_IF_ERROR(table_.ScanFirstDuePerGroup(
      [&](const ProducerGroup& group, int64_t due_ms) { found[group] = due_ms; }));
  MutexLock lock(&due_mu_);
  for (const auto& [group, due] : found) next_due_[group].due = due;
  return Status::Ok();
}

void TxnService::NoteDue(const ProducerGroup& group, int64_t due_ms) {
  MutexLock lock(&due_mu_);
  NextDue& n = next_due_[group];
  n.due = std::min(n.due, due_ms);
  ++n.generation;
}

std::vector<std::tuple<ProducerGroup, int64_t, uint64_t>> TxnService::DueGroups(int64_t now) {
  std::vector<std::tuple<ProducerGroup, int64_t, uint64_t>> out;
  MutexLock lock(&due_mu_);
  for (const auto& [group, n] : next_due_) {
    if (n.due <= now) out.emplace_back(group, n.due, n.generation);
  }
  return out;
}

void TxnService::RecomputeNextDue(const ProducerGroup& group, uint64_t generation,
                                  int64_t floor) {
  std::optional<int64_t> first = FirstDue(group, floor);
  int64_t due = first.value_or(INT64_MAX);
  MutexLock lock(&due_mu_);
  NextDue& n = next_due_[group];
  // A due time noted after our snapshot (a key committed meanwhile) may be
  // earlier than what the seek saw: keep the earlier of the two. Early is
  // harmless (one wasted look); late would delay checks.
  n.due = n.generation == generation ? due : std::min(due, n.due);
  if (n.due == INT64_MAX && n.generation == generation) next_due_.erase(group);
}

void TxnService::OnCheckAnswered(uint64_t check_id, const Result<v1::Frame>& response) {
  OutstandingCheck check;
  {
    MutexLock lock(&outstanding_mu_);
    auto it = outstanding_.find(check_id);
    if (it == outstanding_.end()) return;
    check = std::move(it->second);
    outstanding_.erase(it);
  }
  int64_t now = clock_->NowMs();
  bool answered = response.ok() && response->status().code() == v1::Status::OK;
  // A timed-out check already started the connection's cool-down.
  registry_->Release(check.connection_id, /*failed=*/!answered && !check.timed_out, now);
  if (answered) {
    Inc(metrics_->txn_checks_answered);
  } else if (!response.ok()) {
    // The connection went away before the producer answered: the check was
    // not delivered, so it does not count against --txn_max_checks.
    TxnId txn = check.txn;
    gate_.Run(txn.value(), pool_, [this, txn](std::shared_ptr<KeyGate::Lease> lease) {
      auto loaded = Load(txn);
      if (!loaded.ok() || !loaded->meta || loaded->meta->state() != v1::PENDING ||
          loaded->meta->checks() == 0 || loaded->meta->uncounted() >= options_.max_uncounted) {
        return;  // a producer that keeps dropping on this check uses it up
      }
      v1::TxnRecord meta = std::move(*loaded->meta);
      meta.set_checks(meta.checks() - 1);
      meta.set_uncounted(meta.uncounted() + 1);
      storage::Batch batch = store_->NewBatch();
      int64_t now_ms = clock_->NowMs();
      // Undo what the check scheduled: ask again soon (not after its
      // backoff), and restore the age deadline if the last allowed check
      // had pulled it in.
      int64_t again = now_ms + options_.check_delay_ms;
      const ProducerGroup group(meta.producer_group());
      if (meta.next_check_ms() > again) {
        TxnTable::DeleteDueCheck(&batch, group, meta.next_check_ms(), txn);
        meta.set_next_check_ms(again);
        TxnTable::PutDueCheck(&batch, group, again, txn);
      }
      int64_t full_age = meta.created_ms() + options_.max_age_ms;
      if (meta.age_deadline_ms() < full_age) {
        TxnTable::DeleteAgeDeadline(&batch, meta.age_deadline_ms(), txn);
        meta.set_age_deadline_ms(full_age);
        TxnTable::PutAgeDeadline(&batch, full_age, txn);
      }
      Inc(metrics_->txn_checks_uncounted);
      int64_t due = meta.next_check_ms();
      cache_.Erase(txn);
      TxnTable::PutRecord(&batch, meta);
      store_->Commit(std::move(batch), [this, lease, group, due] { NoteDue(group, due); });
    });
  }
}

// A timed-out check keeps its connection slot until the producer answers or
// the connection closes: a producer that stopped reading must not be sent
// ever more checks, each holding a transaction's messages in its session.
void TxnService::SweepCheckTimeouts(int64_t now) {
  std::vector<OutstandingCheck> timed_out;
  {
    MutexLock lock(&outstanding_mu_);
    for (auto& [id, check] : outstanding_) {
      if (!check.timed_out && check.deadline_ms <= now) {
        check.timed_out = true;
        timed_out.push_back(check);
      }
    }
  }
  for (const auto& c : timed_out) {
    registry_->MarkFailing(c.connection_id, now);
    Inc(metrics_->txn_check_timeouts);
    LOG(WARNING) << "check of transaction " << c.txn << " unanswered after "
                 << options_.check_timeout_ms << " ms";
  }
}

}  // namespace halfmq::broker
