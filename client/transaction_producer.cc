// TransactionProducer, its Transaction handles, and check serving.
//
// TxnCore (the connection and the producer group) is shared by the producer
// and every Transaction handle, so a handle that outlives its producer fails
// cleanly with "client closed" instead of touching freed memory.
//
// A check travels: connection io thread (the request handler converts it and
// submits it to the CheckPool, never blocking) -> a pool thread (runs the
// user's checker, then for kCommit/kRollback sends EndTransaction with
// from_check and waits for it, with the connection's retries) -> the answer to
// the broker's request, carrying the outcome that was recorded: the verdict,
// or kUnknown if the checker could not decide or its EndTransaction failed.
// The verdict goes out before the answer so that, once the broker sees the
// answer, the transaction is already settled.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "client/check_pool.h"
#include "client/connection.h"
#include "client/convert.h"
#include "common/limits.h"
#include "common/mutex.h"
#include "halfmq/transaction.h"

namespace halfmq {
namespace client {

// Thread-safe; see the file comment.
class TxnCore {
 public:
  TxnCore(std::unique_ptr<Connection> connection, std::string group, uint32_t check_immunity_ms)
      : connection_(std::move(connection)),
        group_(std::move(group)),
        check_immunity_ms_(check_immunity_ms) {}

  Connection& connection() { return *connection_; }
  const std::string& group() const { return group_; }
  uint32_t check_immunity_ms() const { return check_immunity_ms_; }

  // Transactions that a live Transaction handle of this process holds open
  // (messages sent, not yet settled, handle not destroyed). Their local
  // transaction is still running, so a check for one is answered UNKNOWN
  // without asking the checker, which could only see uncommitted state.
  void MarkOpen(const std::string& txn_id) EXCLUDES(open_mu_) {
    MutexLock lock(&open_mu_);
    ++open_[txn_id];
  }
  void MarkClosed(const std::string& txn_id) EXCLUDES(open_mu_) {
    MutexLock lock(&open_mu_);
    auto it = open_.find(txn_id);
    if (it != open_.end() && --it->second == 0) open_.erase(it);
  }
  bool IsOpen(const std::string& txn_id) const EXCLUDES(open_mu_) {
    MutexLock lock(&open_mu_);
    return open_.count(txn_id) > 0 || async_open_.count(txn_id) > 0;
  }
  // The same for transactions driven by SendHalfAsync / EndAsync.
  void MarkAsyncOpen(const std::string& txn_id) EXCLUDES(open_mu_) {
    MutexLock lock(&open_mu_);
    async_open_.insert(txn_id);
  }
  void MarkAsyncClosed(const std::string& txn_id) EXCLUDES(open_mu_) {
    MutexLock lock(&open_mu_);
    async_open_.erase(txn_id);
    unsent_ids_.erase(txn_id);
  }

  // Ids from NewTransactionId() not yet used by a SendHalfAsync. Bounded: an
  // id beyond the bound still works, only without the fresh_txn shortcut.
  std::string NewTransactionId() EXCLUDES(open_mu_) {
    std::string id = GenerateMessageId();
    MutexLock lock(&open_mu_);
    if (unsent_ids_.size() < kMaxUnsentIds) unsent_ids_.insert(id);
    return id;
  }
  // Whether this is the first half send of an id this producer generated.
  bool TakeUnsent(const std::string& txn_id) EXCLUDES(open_mu_) {
    MutexLock lock(&open_mu_);
    return unsent_ids_.erase(txn_id) > 0;
  }

  void EndAsync(const std::string& txn_id, TxnState outcome, EndSource source,
                std::function<void(Result<EndResult>)> done) {
    auto frame = BuildEndTransactionFrame(txn_id, outcome, source);
    if (!frame.ok()) {
      connection_->Post([done = std::move(done), s = frame.status()] { done(s); });
      return;
    }
    connection_->Call(std::move(frame).value(), CallOptions{},
                      [done = std::move(done), outcome](Result<v1::Frame> response) {
                        if (!response.ok()) return done(response.status());
                        done(EndResultFromResponse(*response, outcome));
                      });
  }

  Result<EndResult> End(const std::string& txn_id, TxnState outcome, EndSource source) {
    auto frame = BuildEndTransactionFrame(txn_id, outcome, source);
    if (!frame.ok()) return frame.status();
    // Retrying is safe: a repeated EndTransaction returns the first outcome.
    auto response = connection_->CallSync(std::move(frame).value());
    if (!response.ok()) return response.status();
    return EndResultFromResponse(*response, outcome);
  }

 private:
  const std::unique_ptr<Connection> connection_;
  const std::string group_;
  const uint32_t check_immunity_ms_;
  mutable Mutex open_mu_;
  std::unordered_map<std::string, int> open_ GUARDED_BY(open_mu_);
  std::unordered_set<std::string> async_open_ GUARDED_BY(open_mu_);
  static constexpr size_t kMaxUnsentIds = 1 << 20;
  std::unordered_set<std::string> unsent_ids_ GUARDED_BY(open_mu_);
};

}  // namespace client

// ---------------------------------------------------------------------------
// CheckRequest

const Message& CheckRequest::message() const {
  if (messages.empty()) {
    std::fprintf(stderr, "halfmq: CheckRequest::message() on a check without messages\n");
    std::abort();
  }
  return messages.front();
}

// ---------------------------------------------------------------------------
// Transaction

Transaction::Transaction(std::shared_ptr<client::TxnCore> core, std::string id, bool generated_id)
    : core_(std::move(core)), id_(std::move(id)), generated_id_(generated_id) {}

Transaction::Transaction(Transaction&& other) noexcept
    : core_(std::move(other.core_)),
      id_(std::move(other.id_)),
      state_(other.state_),
      generated_id_(other.generated_id_),
      send_attempted_(other.send_attempted_),
      end_attempted_(other.end_attempted_),
      holds_open_(std::exchange(other.holds_open_, false)),
      message_ids_(std::move(other.message_ids_)) {}

Transaction& Transaction::operator=(Transaction&& other) noexcept {
  if (this != &other) {
    ReleaseOpen();
    core_ = std::move(other.core_);
    id_ = std::move(other.id_);
    message_ids_ = std::move(other.message_ids_);
    state_ = other.state_;
    generated_id_ = other.generated_id_;
    send_attempted_ = other.send_attempted_;
    end_attempted_ = other.end_attempted_;
    holds_open_ = std::exchange(other.holds_open_, false);
  }
  return *this;
}

// Deliberately sends nothing: see the class comment. From now on checks for
// the transaction reach the checker.
Transaction::~Transaction() { ReleaseOpen(); }

void Transaction::ReleaseOpen() {
  if (holds_open_ && core_) core_->MarkClosed(id_);
  holds_open_ = false;
}

Result<HalfReceipt> Transaction::Send(const Message& message) {
  auto receipts = SendBatch({message});
  if (!receipts.ok()) return receipts.status();
  return std::move(receipts->front());
}

Result<std::vector<HalfReceipt>> Transaction::SendBatch(const std::vector<Message>& messages) {
  HALFMQ_RETURN_IF_ERROR(CheckUsable());
  if (end_attempted_) {
    return Status::FailedPrecondition("transaction " + id_ + " was already " +
                                      (state_ == TxnState::kCommit     ? "committed"
                                       : state_ == TxnState::kRollback ? "rolled back"
                                                                       : "ended") +
                                      "; it takes no more messages");
  }
  // The broker cannot know an id Begin() generated before its first send.
  bool fresh = generated_id_ && !send_attempted_;
  auto frame = client::BuildSendHalfFrame(id_, core_->group(), core_->check_immunity_ms(),
                                          messages, fresh);
  if (!frame.ok()) return frame.status();
  std::vector<HalfReceipt> receipts = client::HalfReceiptsOf(*frame);
  send_attempted_ = true;
  if (!holds_open_) {
    core_->MarkOpen(id_);  // before the half is stored, so no check can miss it
    holds_open_ = true;
  }
  auto response = core_->connection().CallSync(std::move(frame).value());
  if (!response.ok()) return response.status();
  for (const HalfReceipt& r : receipts) message_ids_.push_back(r.message_id);
  return receipts;
}

Status Transaction::CheckUsable() const {
  if (!core_) return Status::FailedPrecondition("transaction handle was moved from");
  return Status::Ok();
}

Result<std::vector<SendReceipt>> Transaction::Commit() {
  HALFMQ_RETURN_IF_ERROR(CheckUsable());
  if (state_ == TxnState::kRollback) {
    return Status::FailedPrecondition("transaction " + id_ + " was rolled back");
  }
  if (generated_id_ && !send_attempted_) {
    return Status::FailedPrecondition("transaction " + id_ + " has no messages to commit");
  }
  end_attempted_ = true;
  auto end = core_->End(id_, TxnState::kCommit, client::EndSource::kProducer);
  if (!end.ok()) return end.status();
  state_ = TxnState::kCommit;
  ReleaseOpen();
  return std::move(end->receipts);
}

Status Transaction::Rollback() {
  HALFMQ_RETURN_IF_ERROR(CheckUsable());
  if (state_ == TxnState::kCommit) {
    return Status::FailedPrecondition("transaction " + id_ + " was committed");
  }
  end_attempted_ = true;
  if (generated_id_ && !send_attempted_) {
    // Nothing of a fresh id ever reached the broker.
    state_ = TxnState::kRollback;
    return Status::Ok();
  }
  auto end = core_->End(id_, TxnState::kRollback, client::EndSource::kProducer);
  if (!end.ok()) return end.status();
  state_ = TxnState::kRollback;
  ReleaseOpen();
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// TransactionProducer

class TransactionProducer::Impl {
 public:
  Impl(std::shared_ptr<client::TxnCore> core, TransactionChecker checker,
       TransactionProducerOptions options)
      : core_(std::move(core)), checker_(std::move(checker)), options_(std::move(options)) {}

  ~Impl() { Stop(); }

  // Starts the check threads and registers with the connection; call before
  // connecting so no check arrives unhandled.
  void StartServing() {
    pool_ = std::make_shared<client::CheckPool>(
        options_.check_threads, options_.max_pending_checks,
        [this](const CheckRequest& check) { return Serve(check); });
    std::string group = core_->group();
    uint32_t max_checks = options_.max_pending_checks;
    core_->connection().SetHelloCustomizer([group, max_checks](v1::HelloRequest* hello) {
      hello->add_producer_groups(group);
      hello->set_max_outstanding_checks(max_checks);
    });
    // Weak: the pool belongs to this Impl; the handler may outlive it inside
    // a connection kept alive by a Transaction handle.
    std::weak_ptr<client::CheckPool> weak_pool = pool_;
    core_->connection().SetRequestHandler(
        [weak_pool, group](const v1::Frame& frame, client::Responder responder) {
          if (!frame.has_check_transaction()) {
            responder.RespondError(Status::InvalidArgument("unsupported request from broker"));
            return;
          }
          auto check = client::CheckRequestFromProto(frame.check_transaction());
          if (!check.ok()) {
            responder.RespondError(check.status());
            return;
          }
          if (check->producer_group != group) {
            responder.RespondError(Status::InvalidArgument(
                "this client serves producer group '" + group + "', not '" +
                check->producer_group + "'"));
            return;
          }
          auto answer = [responder](TxnState outcome) {
            responder.Respond(client::CheckResponseFrame(outcome));
          };
          std::shared_ptr<client::CheckPool> pool = weak_pool.lock();
          if (!pool) {
            answer(TxnState::kUnknown);
            return;
          }
          pool->Submit(std::move(check).value(), std::move(answer));
        });
  }

  const client::TxnCore& core() const { return *core_; }
  const std::shared_ptr<client::TxnCore>& shared_core() const { return core_; }

  void Stop() {
    if (!pool_) return;
    // Running checkers may still send EndTransaction, so the connection
    // closes only once they are done.
    if (pool_->Stop()) core_->connection().Close();
  }

 private:
  // On a pool thread.
  TxnState Serve(const CheckRequest& check) {
    // Still open in this process: the local transaction has not finished.
    if (core_->IsOpen(check.txn_id)) return TxnState::kUnknown;
    TxnState verdict = TxnState::kUnknown;
    try {
      verdict = checker_(check);
    } catch (...) {
      verdict = TxnState::kUnknown;
    }
    Status end_status;
    if (verdict != TxnState::kUnknown) {
      end_status = core_->End(check.txn_id, verdict, client::EndSource::kCheck).status();
    }
    if (options_.on_check_done) {
      try {
        options_.on_check_done(check, verdict, end_status);
      } catch (...) {
      }
    }
    // If EndTransaction failed the broker has not recorded the verdict (or
    // refused it); answering kUnknown keeps the answer consistent with that.
    return end_status.ok() ? verdict : TxnState::kUnknown;
  }

  const std::shared_ptr<client::TxnCore> core_;
  const TransactionChecker checker_;
  const TransactionProducerOptions options_;
  std::shared_ptr<client::CheckPool> pool_;
};

Result<std::unique_ptr<TransactionProducer>> TransactionProducer::Connect(
    const ClientOptions& options, std::string producer_group, TransactionChecker checker,
    TransactionProducerOptions txn_options) {
  HALFMQ_RETURN_IF_ERROR(ValidateName("producer group", producer_group));
  if (!checker) return Status::InvalidArgument("checker is empty");
  HALFMQ_RETURN_IF_ERROR(client::ValidateTransactionProducerOptions(txn_options));
  auto connection = client::Connection::Create(options);
  if (!connection.ok()) return connection.status();
  auto core = std::make_shared<client::TxnCore>(
      std::move(connection).value(), std::move(producer_group),
      static_cast<uint32_t>(txn_options.check_immunity.count()));
  auto impl = std::make_unique<Impl>(core, std::move(checker), std::move(txn_options));
  impl->StartServing();
  HALFMQ_RETURN_IF_ERROR(core->connection().Connect());
  return std::unique_ptr<TransactionProducer>(new TransactionProducer(std::move(impl)));
}

void TransactionProducer::SendHalfAsync(
    const std::string& txn_id, const std::vector<Message>& messages,
    std::function<void(Result<std::vector<HalfReceipt>>)> done) {
  const auto& core = impl_->shared_core();
  auto frame = client::BuildSendHalfFrame(txn_id, core->group(), core->check_immunity_ms(),
                                          messages, core->TakeUnsent(txn_id));
  if (!frame.ok()) {
    core->connection().Post([done = std::move(done), s = frame.status()] { done(s); });
    return;
  }
  std::vector<HalfReceipt> receipts = client::HalfReceiptsOf(*frame);
  // Open before the half is stored, so that no check can miss it. It stays
  // open (even if this send fails, as a later one may follow) until EndAsync
  // settles the transaction.
  core->MarkAsyncOpen(txn_id);
  core->connection().Call(
      std::move(frame).value(), client::CallOptions{},
      [receipts = std::move(receipts), done = std::move(done)](Result<v1::Frame> response) mutable {
        if (!response.ok()) return done(response.status());
        done(std::move(receipts));
      });
}

void TransactionProducer::Abandon(const std::string& txn_id) {
  impl_->shared_core()->MarkAsyncClosed(txn_id);
}

void TransactionProducer::EndAsync(const std::string& txn_id, TxnState outcome,
                                   std::function<void(Result<EndResult>)> done) {
  const auto& core = impl_->shared_core();
  core->EndAsync(txn_id, outcome, client::EndSource::kProducer,
                 [core, txn_id, done = std::move(done)](Result<EndResult> r) {
                   if (r.ok()) core->MarkAsyncClosed(txn_id);
                   done(std::move(r));
                 });
}

TransactionProducer::TransactionProducer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TransactionProducer::~TransactionProducer() = default;

Transaction TransactionProducer::Begin() {
  return Transaction(impl_->shared_core(), GenerateMessageId(), /*generated_id=*/true);
}

std::string TransactionProducer::NewTransactionId() {
  return impl_->shared_core()->NewTransactionId();
}

Transaction TransactionProducer::Begin(std::string txn_id) {
  return Transaction(impl_->shared_core(), std::move(txn_id), /*generated_id=*/false);
}

const std::string& TransactionProducer::producer_group() const { return impl_->core().group(); }

void TransactionProducer::Stop() { impl_->Stop(); }

}  // namespace halfmq
