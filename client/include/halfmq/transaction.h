// Transactional producer: publish messages if and only if your own local
// (database) transaction commits.
//
//   auto producer = halfmq::TransactionProducer::Connect(options, "payment-service",
//       [&](const halfmq::CheckRequest& c) {
//         return db.HasOrder(c.message().key()) ? halfmq::TxnState::kCommit
//                                               : halfmq::TxnState::kRollback;
//       });
//   halfmq::Transaction txn = (*producer)->Begin();
//   txn.Send(halfmq::Message("order-paid").Key(order_id).Body(json));  // durable, invisible
//   if (db.CommitPayment(order_id)) txn.Commit(); else txn.Rollback();
//
// Send stores a "half" message on the broker that no consumer sees. Commit
// makes every message of the transaction visible at once; Rollback discards
// them. If the process dies (or loses the broker) between its local commit and
// Commit(), the broker later asks a live producer of the same group, through
// the checker, what became of the transaction; the checker looks at the local
// database and answers. So the checker must decide from durable state alone,
// never from this process's memory.
#ifndef HALFMQ_CLIENT_TRANSACTION_H_
#define HALFMQ_CLIENT_TRANSACTION_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "halfmq/message.h"
#include "halfmq/options.h"

namespace halfmq {

namespace client {
class TxnCore;
}  // namespace client

// A transaction's outcome: what a checker answers, and what Commit/Rollback
// settle.
enum class TxnState {
  kCommit,
  kRollback,
  // Not decided (yet): the broker checks again later, with backoff.
  kUnknown,
};

// The broker asking what became of a transaction that is still pending.
struct CheckRequest {
  std::string txn_id;
  std::string producer_group;
  // 1 for the first check of this transaction, then 2, 3, ...
  uint32_t check_number = 0;
  // Broker time (ms since the epoch) when the transaction was begun.
  int64_t created_ms = 0;
  // Every message sent in the transaction, bodies included, with the ids
  // they were sent with. Never empty when the client library calls a checker.
  std::vector<Message> messages;

  // The first message, for the common one-message transaction. Aborts the
  // process if `messages` is empty (possible only in a hand-made request).
  const Message& message() const;
};

// Decides a checked transaction from durable local state. kUnknown means
// "cannot tell yet" (e.g. the local transaction may still be running, or the
// database is unreachable); the broker asks again later. A checker that
// throws counts as kUnknown. Runs on the producer's check threads, several at
// once; it must be thread-safe.
using TransactionChecker = std::function<TxnState(const CheckRequest&)>;

// After a check is answered: the request, the checker's verdict, and the
// status of the EndTransaction that carried a kCommit or kRollback verdict to
// the broker (OK for kUnknown, which sends none). For logs and metrics.
using CheckObserver =
    std::function<void(const CheckRequest& check, TxnState verdict, const Status& end_status)>;

struct TransactionProducerOptions {
  // Threads that run the checker.
  int check_threads = 4;
  // Checks accepted at once, running and queued; the broker never sends this
  // connection more (it is announced in Hello). A check beyond it, or one
  // arriving while the producer stops, is answered kUnknown at once.
  uint32_t max_pending_checks = 64;
  // The broker does not check a transaction back before it is this old;
  // 0 means the broker's default. Set it above the time your local
  // transaction takes, so that checks rarely find it still running.
  std::chrono::milliseconds check_immunity{0};
  // Optional; runs on the check thread after EndTransaction and before the
  // broker's check is answered, so keep it short. Must not throw.
  CheckObserver on_check_done;
};

// Where a sent half message is: stored on the broker, invisible to consumers
// until the transaction commits (its queue and offset are chosen then).
struct HalfReceipt {
  std::string txn_id;
  std::string message_id;
  std::string topic;
};

// What EndTransaction settled.
struct EndResult {
  TxnState outcome = TxnState::kUnknown;  // kCommit or kRollback
  // True if this request settled the transaction, false if it already was.
  bool applied = false;
  // Where the committed messages were stored; empty for a rollback.
  std::vector<SendReceipt> receipts;
};

class TransactionProducer;

// One transaction: a move-only handle from TransactionProducer::Begin.
// Thread-compatible: use a handle from one thread at a time (different
// transactions may run on different threads at once).
//
// A Transaction destroyed while still open (neither Commit nor Rollback
// succeeded) sends nothing: its messages stay pending on the broker, and the
// broker resolves them by asking the group's checker. That is the crash path,
// and the same thing happens when the process dies; do not rely on a
// destructor to roll back.
//
// While a handle holds its transaction open (it sent messages and was not
// committed, rolled back or destroyed), a check of that transaction reaching
// this producer is answered UNKNOWN without calling the checker (also after a
// Commit or Rollback that failed: retry it, or destroy the handle to let the
// checker decide): the local transaction is still running, and the checker could only see its
// uncommitted state and wrongly answer rollback. Checks that reach another
// process of the group still ask its checker, so checkers must answer
// UNKNOWN when they cannot tell yet (and check_immunity should exceed the
// usual local transaction time).
//
// A handle may outlive its producer; its calls then fail with UNAVAILABLE
// "client closed".
class Transaction {
 public:
  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&& other) noexcept;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  const std::string& id() const { return id_; }
  // kUnknown until Commit or Rollback succeeds; then kCommit or kRollback.
  TxnState state() const { return state_; }
  // Ids of the messages the broker acknowledged through this handle.
  const std::vector<std::string>& message_ids() const { return message_ids_; }

  // Stores `message` as a half message of this transaction (one SendHalf
  // request) and returns once it is durable. A message without an id gets one
  // generated once, so the retries of a failed attempt cannot add it twice.
  // Errors: FAILED_PRECONDITION if Commit or Rollback was already called on
  // this handle (locally), or if on the broker the transaction is settled,
  // unresolved, or of another producer group; NOT_FOUND for an unknown topic;
  // INVALID_ARGUMENT for a bad message or transaction id; UNAVAILABLE /
  // RESOURCE_EXHAUSTED after retries ran out. The message may then be stored
  // or not; to send it again without risking a duplicate, give it an explicit
  // Message::Id, which the broker recognizes.
  Result<HalfReceipt> Send(const Message& message);
  // Several messages in one SendHalf, stored all or none. Same errors.
  Result<std::vector<HalfReceipt>> SendBatch(const std::vector<Message>& messages);

  // Makes every message of the transaction visible, atomically, and returns
  // where each was stored. A delayed message (Message::Delay) starts its
  // delay here, not at Send; its receipt has deliver_at_ms set and no queue
  // or offset yet. Safe to call again (e.g. after UNAVAILABLE): a
  // repeat returns the first outcome. Errors: FAILED_PRECONDITION if the
  // transaction was rolled back (by this handle, a check or an operator) or
  // if nothing was sent through a handle from Begin(); NOT_FOUND if the
  // broker has no such transaction; UNAVAILABLE after retries ran out (the
  // outcome is then unknown: call Commit again, or leave it to the check).
  Result<std::vector<SendReceipt>> Commit();

  // Discards the transaction's messages. Rolling back a handle from Begin()
  // that sent nothing succeeds without a request. Errors: as Commit, with
  // FAILED_PRECONDITION if it was committed.
  Status Rollback();

 private:
  friend class TransactionProducer;
  Transaction(std::shared_ptr<client::TxnCore> core, std::string id, bool generated_id);
  void ReleaseOpen();
  Status CheckUsable() const;  // FAILED_PRECONDITION once moved from

  std::shared_ptr<client::TxnCore> core_;  // null once moved from
  std::string id_;
  TxnState state_ = TxnState::kUnknown;
  // Begin() generated the id, so the broker knows it only after a Send.
  bool generated_id_ = false;
  bool send_attempted_ = false;
  bool end_attempted_ = false;  // Commit or Rollback was called
  bool holds_open_ = false;     // counted in the producer's open set
  std::vector<std::string> message_ids_;
};

// Sends transactional messages for one producer group and serves the broker's
// checks of that group's pending transactions.
//
// Thread-safe: Begin may be called from many threads, and checks run on a
// pool of `check_threads` threads concurrently with them. One connection is
// shared by all.
//
// Stop() (or the destructor) stops serving checks: new and queued checks are
// answered kUnknown, running checkers finish (and their EndTransaction is
// sent); then the connection closes, so the broker routes later checks to
// other producers of the group. Calls on open Transactions then fail with
// UNAVAILABLE. Stop() from inside the checker only begins the stop; the
// destructor must not run on a checker thread.
class TransactionProducer {
 public:
  // Connects, announcing `producer_group` so the broker sends it checks. The
  // checker may be called as soon as the connection is up, before Connect
  // returns. Errors: INVALID_ARGUMENT for a bad group name, an empty checker
  // or bad options; UNAVAILABLE if the broker cannot be reached.
  static Result<std::unique_ptr<TransactionProducer>> Connect(
      const ClientOptions& options, std::string producer_group, TransactionChecker checker,
      TransactionProducerOptions txn_options = {});

  ~TransactionProducer();
  TransactionProducer(const TransactionProducer&) = delete;
  TransactionProducer& operator=(const TransactionProducer&) = delete;

  // Begins a transaction with a new unique id (GenerateMessageId()). Nothing
  // reaches the broker until the first Send.
  Transaction Begin();
  // Takes up a transaction by id: to use your own ids (1..128 printable
  // ASCII bytes without spaces; a bad id fails the first call with
  // INVALID_ARGUMENT), or to commit or roll back one begun earlier, e.g. by
  // a process that died.
  Transaction Begin(std::string txn_id);

  const std::string& producer_group() const;

  // Asynchronous transactions, for producers that keep many in flight
  // without a thread each. SendHalfAsync stores `messages` as (part of) the
  // transaction `txn_id` (durable and invisible when `done` runs); EndAsync
  // settles it (kCommit or kRollback; idempotent, retried on UNAVAILABLE
  // like Commit). Same rules and errors as Transaction::SendBatch, Commit
  // and Rollback. From the first SendHalfAsync of a transaction until an
  // EndAsync of it succeeds, checks of it reaching this producer are
  // answered UNKNOWN without calling the checker (its local transaction is
  // running). Abandon() ends that for a transaction whose local work failed
  // in a way that leaves its outcome to the checker (like destroying an open
  // Transaction handle).
  // Callbacks run once, on a client thread, and must not block.
  //
  // NewTransactionId() returns a new unique id (GenerateMessageId()) for one
  // asynchronous transaction; its first SendHalfAsync tells the broker the id
  // is new, so the broker skips reading its state (a transaction id of your
  // own works too, one read slower).
  std::string NewTransactionId();
  void SendHalfAsync(const std::string& txn_id, const std::vector<Message>& messages,
                     std::function<void(Result<std::vector<HalfReceipt>>)> done);
  void EndAsync(const std::string& txn_id, TxnState outcome,
                std::function<void(Result<EndResult>)> done);
  void Abandon(const std::string& txn_id);

  void Stop();

 private:
  class Impl;
  explicit TransactionProducer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace halfmq

#endif  // HALFMQ_CLIENT_TRANSACTION_H_
