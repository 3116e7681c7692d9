// TxnService: transactional (half) messages.
//
// State machine of a transaction (docs/architecture.md has the diagram):
//
//   SendHalf ──> PENDING ──EndTransaction(COMMIT)──> COMMITTED   (messages appended)
//                  │  │ ──EndTransaction(ROLLBACK)─> ROLLED_BACK (messages dropped)
//                  │  └─ check-back: CheckTransaction to a producer of the
//                  │     group, with backoff; the producer answers with
//                  │     EndTransaction(from_check) or UNKNOWN
//                  └── txn_max_checks delivered checks, or txn_max_age ──> UNRESOLVED
//                        (kept; an operator commits or rolls back; optional policy)
//
// Every transition is one WriteBatch: a commit deletes the half messages and
// the state record and appends the real messages, in the same batch. Settled
// outcomes are remembered for --txn_settled_retention_ms (bounded by
// --txn_settled_max), so a repeated EndTransaction returns the first outcome
// and writes nothing, and the opposite outcome is refused. Nothing about a
// transaction lives only in memory; check-back is driven by a due-time index
// in RocksDB, so its cost follows the checks that are due, not the number of
// pending transactions.
//
// Threading: request handlers validate on the network thread, then run
// under the KeyGate lease of their transaction: on the blocking pool when they
// must read RocksDB, or right on the network thread when they need no read
// (a SendHalf that opens a transaction the client just named, flagged
// fresh_txn; a SendHalf or EndTransaction whose state is in the
// TxnStateCache). The check-back scanner runs on its own thread.
// Thread-safe.
#ifndef HALFMQ_BROKER_TXN_SERVICE_H_
#define HALFMQ_BROKER_TXN_SERVICE_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "broker/delay_service.h"
#include "broker/message_log.h"
#include "broker/metrics.h"
#include "broker/producer_registry.h"
#include "broker/responder.h"
#include "broker/topic_manager.h"
#include "broker/tracer.h"
#include "broker/txn_cache.h"
#include "broker/key_gate.h"
#include "common/asio.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "proto/halfmq/v1/records.pb.h"
#include "storage/store.h"
#include "storage/txn_table.h"

namespace halfmq::broker {

enum class UnresolvedAction { kKeep, kCommit, kRollback };

struct TxnOptions {
  int64_t check_delay_ms = 6000;        // first check after this (or the immunity)
  int64_t check_backoff_max_ms = 300000;
  uint32_t max_checks = 15;
  int64_t max_age_ms = 24ll * 3600 * 1000;
  int64_t check_timeout_ms = 30000;     // a check unanswered this long failed
  int64_t settled_retention_ms = 24ll * 3600 * 1000;
  uint64_t settled_max = 1000000;
  UnresolvedAction unresolved_action = UnresolvedAction::kKeep;
  std::chrono::milliseconds scan_interval{100};
  // Due transactions handled per group per scan round (bounds one round).
  size_t scan_batch = 1000;
  // Largest total size of one transaction's messages, so that a check (which
  // carries them) always fits in a frame. Set by the broker from
  // --max_frame_bytes.
  uint64_t max_txn_bytes = 8 << 20;
  // Bytes of checks one scan round may build before sending them.
  uint64_t max_check_bytes_per_round = 64 << 20;
  // A check whose connection closes before the answer is un-counted at most
  // this many times per transaction (a producer that crashes on a check
  // must not loop it until --txn_max_age_ms).
  uint32_t max_uncounted = 3;
  // Bytes of recently written pending transactions kept in memory (0: off).
  uint64_t cache_bytes = 64 << 20;
};

class TxnService {
 public:
  TxnService(storage::Store* store, TopicManager* topics, MessageLog* log, DelayService* delays,
             ProducerRegistry* registry, Tracer* tracer, Clock* clock, Metrics* metrics,
             TxnOptions options, asio::thread_pool& pool);
  ~TxnService();

  // Counts pending, unresolved and settled transactions for the metrics.
  // Start-up only.
  Status Recover();
  // Starts / stops the check-back scanner thread.
  void Start();
  void Stop() EXCLUDES(scan_mu_);

  void SendHalf(v1::SendHalfRequest request, Responder responder,
                const std::shared_ptr<Connection>& connection);
  void EndTransaction(v1::EndTransactionRequest request, Responder responder);
  void ListTransactions(v1::ListTransactionsRequest request, Responder responder);
  // Hello: the connection serves checks for these groups, all or none.
  // Errors: INVALID_ARGUMENT for more than kMaxProducerGroupsPerConnection
  // groups (in this Hello, or with those the connection serves already) or
  // an invalid group name.
  [[nodiscard]] Status RegisterProducer(
      const std::shared_ptr<Connection>& connection,
      const google::protobuf::RepeatedPtrField<std::string>& groups, uint32_t max_outstanding);
  void OnConnectionClosed(uint64_t connection_id);

  // One pass of the scanner: max-age deadlines, settled-outcome expiry, and
  // due checks. Returns the number of checks sent. Public for tests.
  size_t ScanOnce();

  // Adds the state cache's counters (txn_cache_*) to `stats`.
  void AddStats(std::map<std::string, int64_t>* stats) const;

 private:
  struct Loaded {
    std::optional<v1::TxnRecord> meta;
    std::optional<v1::TxnOutcomeRecord> outcome;
    // The half messages of `meta`, when they came with it (from the cache).
    std::optional<google::protobuf::RepeatedPtrField<v1::Message>> halves;
  };
  // Reads the state record and the remembered outcome of a transaction.
  Result<Loaded> Load(const TxnId& txn) const;
  // Under the lease: the cached state (taken out of the cache), else Load().
  Result<Loaded> LoadState(const TxnId& txn);
  static Loaded FromCache(TxnStateCache::Entry entry);
  Result<google::protobuf::RepeatedPtrField<v1::Message>> LoadHalfMessages(
      const v1::TxnRecord& meta) const;

  // Under the lease, given the transaction's current state. Reads RocksDB
  // only when `loaded` has a state record without its half messages.
  void DoSendHalf(std::shared_ptr<v1::SendHalfRequest> request,
                  std::shared_ptr<Responder> responder, std::shared_ptr<KeyGate::Lease> lease,
                  Loaded loaded);
  // DoSendHalf's parts (txn_send.cc). The state record of a new
  // transaction, or the loaded one checked (FAILED_PRECONDITION: settled,
  // unresolved, another group's) with its first check moved out; `cached`
  // gets the halves stored so far.
  Status OpenHalfState(const v1::SendHalfRequest& request, Loaded loaded, int64_t now,
                       v1::TxnRecord* meta, TxnStateCache::Entry* cached, storage::Batch* batch);
  // Stores the request's messages that are not stored yet; how many.
  // Errors: INVALID_ARGUMENT beyond a transaction's bounds.
  Result<int> AddHalves(v1::SendHalfRequest* request, int64_t now, v1::TxnRecord* meta,
                        TxnStateCache::Entry* cached, v1::SendHalfResponse* out,
                        storage::Batch* batch);
  using SettleDone = std::function<void(Status, v1::EndTransactionResponse)>;
  // Settles a transaction (under its lease). `by` is recorded in the outcome.
  void Settle(const TxnId& txn, v1::TxnOutcome outcome, const std::string& by,
              std::shared_ptr<KeyGate::Lease> lease, SettleDone done);
  // Settle given the state; reads RocksDB only when `loaded` has a state
  // record without its half messages.
  void SettleLoaded(const TxnId& txn, v1::TxnOutcome outcome, const std::string& by,
                    std::shared_ptr<KeyGate::Lease> lease, Loaded loaded, SettleDone done);
  // SettleLoaded's parts (txn_settle.cc). A settle under way: the state it
  // ends, the outcome record and the batch being built, the lease.
  struct Settling {
    v1::TxnRecord meta;
    std::string by;
    int64_t now = 0;
    std::optional<google::protobuf::RepeatedPtrField<v1::Message>> halves;  // if loaded
    std::shared_ptr<v1::TxnOutcomeRecord> record;
    storage::Batch batch;
    std::shared_ptr<KeyGate::Lease> lease;
    SettleDone done;
  };
  // What a commit appends now and what waits for its delay.
  struct StagedCommit {
    google::protobuf::RepeatedPtrField<v1::Message> immediate;
    std::vector<int> immediate_index;      // position of each immediate message
    std::vector<v1::SendResult> results;  // per message; appended ones filled later
    int64_t earliest_due = INT64_MAX;
    int delayed = 0;
  };
  // A transaction settled already: its first outcome again, or
  // FAILED_PRECONDITION for the other outcome.
  void AnswerSettled(const TxnId& txn, v1::TxnOutcome outcome,
                     const v1::TxnOutcomeRecord& settled, const SettleDone& done);
  void FinishRollback(Settling s);
  void FinishCommit(Settling s);
  // Traces the commit of each message and stages it: delayed ones into the
  // delay keyspace (in s->batch), the others for the log.
  StagedCommit StageCommit(Settling* s, google::protobuf::RepeatedPtrField<v1::Message>* messages);
  Result<google::protobuf::RepeatedPtrField<v1::Message>> TakeHalves(Settling* s) const;
  void TraceSettled(Settling* s, const v1::Message& m, int seq, v1::TraceKind kind) const;
  void CountSettled(bool was_unresolved, v1::TxnOutcome outcome);
  // Adds to `batch` what removes every trace of a pending/unresolved record.
  void DeleteState(const v1::TxnRecord& meta, storage::Batch* batch) const;
  // Turns a pending transaction unresolved (in `batch`).
  void MarkUnresolved(v1::TxnRecord* meta, storage::Batch* batch, const char* why);
  // Writes the HALF_STORED events a transaction's SendHalfs left for later
  // (meta->half_untraced; see TxnRecord) and clears that state.
  void TraceHalves(v1::TxnRecord* meta, const google::protobuf::RepeatedPtrField<v1::Message>& halves,
                   storage::Batch* batch) const;
  // A transaction ran out of checks or time: keep it for an operator, or
  // settle it by --txn_unresolved_action (falling back to unresolved if that
  // fails). Runs under the transaction's gate.
  void GiveUp(const TxnId& txn, const char* why);
  int64_t Backoff(uint32_t checks);

  // Scanner pieces.
  void ScanLoop() EXCLUDES(scan_mu_);
  size_t ScanAgeDeadlines(int64_t now);
  size_t ScanSettledExpiry(int64_t now);
  size_t ScanChecks(int64_t now);
  // ScanChecks' parts. A round's checks: recorded in `batch`, sent once it
  // is durable.
  struct CheckSend {
    std::shared_ptr<Connection> connection;
    v1::Frame frame;
    TxnId txn;
  };
  struct CheckRound {
    storage::Batch batch;
    std::vector<CheckSend> sends{};
    std::vector<std::shared_ptr<KeyGate::Lease>> leases{};  // of the transactions checked
    std::vector<TxnId> give_up{};
    uint64_t bytes = 0;  // of the checks' messages
  };
  // What became of one due key: handled (a check prepared, or a stale key
  // deleted), left in place, or left with the rest of the group's keys.
  enum class CheckStep { kDone, kLeft, kLeftAndStop };
  // Prepares the due checks of one group, at most `capacity`; lowers
  // `floor` to where its first due key now is, when it can tell.
  void ScanGroupChecks(const ProducerGroup& group, int64_t first_due, int64_t now,
                       size_t capacity, CheckRound* round, int64_t* floor);
  CheckStep PrepareCheck(const ProducerGroup& group, const storage::TxnTable::TimedTxn& due,
                         int64_t now, CheckRound* round);
  // Counts a check in the record (next due time with backoff, the age
  // deadline pulled in for the last allowed one), into `batch`.
  void RecordCheck(v1::TxnRecord* meta,
                   const google::protobuf::RepeatedPtrField<v1::Message>& halves, int64_t now,
                   storage::Batch* batch);
  void SendChecks(std::vector<CheckSend> sends, int64_t now) EXCLUDES(outstanding_mu_);
  void SweepCheckTimeouts(int64_t now) EXCLUDES(outstanding_mu_);

  // In-memory earliest due check per producer group, never later than the
  // truth (see RecomputeNextDue). Every new or earlier 'C' key is noted once
  // it is durable. So it is also a floor: a durable key below it is only
  // ever one whose NoteDue is still to come, which lowers it.
  struct NextDue {
    int64_t due = INT64_MAX;
    uint64_t generation = 0;  // bumped by every NoteDue
  };
  Status LoadNextDue() EXCLUDES(due_mu_);
  void NoteDue(const ProducerGroup& group, int64_t due_ms) EXCLUDES(due_mu_);
  std::vector<std::tuple<ProducerGroup, int64_t, uint64_t>> DueGroups(int64_t now)
      EXCLUDES(due_mu_);
  // Sets the group's next due time from its first key at or after `floor`
  // (a due time it had when `generation` was current).
  void RecomputeNextDue(const ProducerGroup& group, uint64_t generation, int64_t floor)
      EXCLUDES(due_mu_);
  std::optional<int64_t> FirstDue(const ProducerGroup& group, int64_t floor) const;
  void OnCheckAnswered(uint64_t check_id, const Result<v1::Frame>& response)
      EXCLUDES(outstanding_mu_);

  storage::Store* const store_;
  const storage::TxnTable table_;  // the transaction records in store_
  TopicManager* const topics_;
  MessageLog* const log_;
  DelayService* const delays_;
  ProducerRegistry* const registry_;
  Tracer* const tracer_;
  Clock* const clock_;
  Metrics* const metrics_;
  const TxnOptions options_;
  asio::thread_pool& pool_;
  KeyGate gate_;  // one key per operation: its transaction id
  TxnStateCache cache_;

  std::atomic<int64_t> settled_count_{0};

  struct OutstandingCheck {
    uint64_t connection_id;
    int64_t deadline_ms;
    TxnId txn;
    bool timed_out = false;  // slot still held until an answer or a close
  };
  Mutex outstanding_mu_;
  std::map<uint64_t, OutstandingCheck> outstanding_ GUARDED_BY(outstanding_mu_);
  uint64_t next_check_id_ GUARDED_BY(outstanding_mu_) = 1;

  Mutex due_mu_;
  std::map<ProducerGroup, NextDue> next_due_ GUARDED_BY(due_mu_);

  Mutex giving_up_mu_;
  std::set<TxnId> giving_up_ GUARDED_BY(giving_up_mu_);

  Mutex rng_mu_;
  std::mt19937_64 rng_ GUARDED_BY(rng_mu_);

  Mutex scan_mu_;
  CondVar scan_cv_;
  bool stop_ GUARDED_BY(scan_mu_) = false;
  std::thread scanner_;
};

// Parses --txn_unresolved_action. Errors: INVALID_ARGUMENT.
Result<UnresolvedAction> ParseUnresolvedAction(const std::string& name);

}  // namespace halfmq::broker

#endif  // HALFMQ_BROKER_TXN_SERVICE_H_
