// TxnService: construction, start-up recovery, loads of a transaction's
// state, producer registration, ListTransactions, and the transitions the
// other files share (deleting a state, turning a transaction unresolved,
// giving up on one). SendHalf is in txn_send.cc, EndTransaction and settling
// in txn_settle.cc, the check-back scanner in txn_checker.cc.
#include "broker/txn_service.h"

#include <algorithm>
#include <cmath>

#include <glog/logging.h>

#include "broker/txn_internal.h"
#include "common/limits.h"

namespace halfmq::broker {

using storage::TxnTable;
using txn_internal::HalfDetail;
using txn_internal::HalfStoredMs;

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
  gate_.Run(txn_id.value(), pool_, [this, txn_id, why,
                                    guard](std::shared_ptr<KeyGate::Lease> lease) {
    // The reason may have gone away meanwhile (an un-counted check).
    auto still_due = [this](const v1::TxnRecord& meta) {
      return meta.state() == v1::PENDING && (meta.checks() >= options_.max_checks ||
                                             clock_->NowMs() >= meta.age_deadline_ms());
    };
    auto mark = [this, txn_id, why, guard, still_due](std::shared_ptr<KeyGate::Lease> held) {
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
             gate_.Run(txn_id.value(), pool_, mark);
           });
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
