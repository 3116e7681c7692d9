// Connection: caller threads, the life of a call, and the public wrappers.
// The session side (connect, Hello, reader and writer) is
// connection_session.cc; the class and its invariants are connection_core.h.
#include "client/connection.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "client/backoff.h"
#include "client/connection_core.h"
#include "client/options_util.h"
#include "proto/framing.h"

namespace halfmq::client {

// ---------------------------------------------------------------------------
// Caller threads

void ConnectionCore::Call(v1::Frame request, const CallOptions& call_options, ResponseCallback done,
                          bool connect_only) {
  auto call = std::make_shared<PendingCall>(io_);
  call->expected = ExpectedResponseCase(request.body_case());
  call->request = std::move(request);
  call->connect_only = connect_only;
  call->timeout = options_.request_timeout + call_options.extra_timeout;
  call->retry = call_options.retry;
  call->done = std::move(done);
  bool on_io_thread = InThread();
  {
    MutexLock lock(&mu_);
    // Waiting on the io thread would deadlock: only it releases slots.
    while (!on_io_thread && !closed_ && slots_used_ >= options_.max_inflight_requests) {
      slot_cv_.Wait(&mu_);
    }
    if (!closed_) {
      ++slots_used_;
      call->holds_slot = true;
      // Posting under mu_ orders this call before Close's DoClose, which
      // then completes it.
      asio::post(io_, [this, call]() mutable { StartCall(std::move(call)); });
      return;
    }
  }
  auto cb = std::move(call->done);
  cb(Status::Unavailable("client closed"));
}

void ConnectionCore::Post(std::function<void()> fn) {
  // Like completion callbacks, posted functions may not throw through the io
  // loop or (when closed) back into the caller.
  auto guarded = [fn = std::move(fn)] {
    try {
      fn();
    } catch (...) {
    }
  };
  {
    MutexLock lock(&mu_);
    if (!closed_) {
      asio::post(io_, std::move(guarded));
      return;
    }
  }
  guarded();
}

void ConnectionCore::ReleaseSlot() {
  MutexLock lock(&mu_);
  --slots_used_;
  slot_cv_.Signal();
}

void ConnectionCore::SendResponse(uint64_t session_id, uint64_t request_id, v1::Frame response) {
  response.set_request_id(request_id);
  response.set_type(v1::RESPONSE);
  MutexLock lock(&mu_);
  if (closed_) return;
  asio::post(io_, [this, session_id, response = std::move(response)] {
    if (!session_ || session_->id != session_id || session_->closed) return;  // stale
    std::string bytes;
    if (!proto::AppendFrame(response, send_limit_, &bytes)) {
      // Too large or unserializable: tell the broker rather than leave it
      // waiting for an answer.
      v1::Frame error;
      error.set_request_id(response.request_id());
      error.set_type(v1::RESPONSE);
      error.mutable_status()->set_code(v1::Status::INTERNAL);
      error.mutable_status()->set_message("client could not encode its response");
      if (!proto::AppendFrame(error, send_limit_, &bytes)) return;
    }
    Enqueue(session_, std::move(bytes));
  });
}

void ConnectionCore::Close() {
  MutexLock lock(&mu_);
  if (closed_) return;
  closed_ = true;
  slot_cv_.SignalAll();
  asio::post(io_, [this] { DoClose(); });
}

// ---------------------------------------------------------------------------
// io thread: calls

void ConnectionCore::StartCall(CallPtr call) {
  call->id = next_call_id_++;
  calls_.emplace(call->id, call);
  StartAttempt(call);
}

void ConnectionCore::StartAttempt(const CallPtr& call) {
  if (closing_) {
    Complete(call, Status::Unavailable("client closed"));
  } else if (ready_) {
    SendOnSession(call);
  } else {
    waiting_.push_back(call);
    EnsureConnecting();
  }
}

void ConnectionCore::SendOnSession(const CallPtr& call) {
  if (call->connect_only) {
    Complete(call, v1::Frame());
    return;
  }
  uint64_t request_id = next_request_id_++;
  call->request.set_request_id(request_id);
  call->request.set_type(v1::REQUEST);
  std::string bytes;
  if (!proto::AppendFrame(call->request, send_limit_, &bytes)) {
    Complete(call,
             Status::InvalidArgument("request of " + std::to_string(call->request.ByteSizeLong()) +
                                     " bytes exceeds the frame limit of " +
                                     std::to_string(send_limit_) + " bytes"));
    return;
  }
  call->request_id = request_id;
  call->sent_at = Clock::now();
  inflight_.emplace(request_id, call);
  ArmTimer(call, call->timeout, /*is_timeout=*/true);
  Enqueue(session_, std::move(bytes));
}

void ConnectionCore::ArmTimer(const CallPtr& call, std::chrono::milliseconds delay,
                              bool is_timeout) {
  uint64_t generation = ++call->timer_generation;
  call->timer.expires_after(delay);
  call->timer.async_wait([this, call, generation, is_timeout](boost::system::error_code ec) {
    // A re-armed or cancelled timer may still deliver a stale expiry.
    if (ec || call->finished || call->timer_generation != generation) return;
    if (is_timeout) {
      OnTimeout(call);
    } else {
      StartAttempt(call);
    }
  });
}

void ConnectionCore::OnTimeout(const CallPtr& call) {
  if (call->request_id == 0) return;
  inflight_.erase(call->request_id);
  call->request_id = 0;
  // Nothing at all read since this request went out suggests a dead peer
  // (e.g. a partition without RST) rather than a slow request; reconnecting
  // is then the only way forward for the other calls too.
  if (session_ && session_->last_read < call->sent_at) {
    CloseSession(session_, Status::Unavailable("connection lost: no data from broker for " +
                                               std::to_string(call->timeout.count()) + " ms"));
  }
  OnAttemptFailed(call, Status::Unavailable("request timed out after " +
                                            std::to_string(call->timeout.count()) + " ms"));
}

void ConnectionCore::OnAttemptFailed(const CallPtr& call, Status status) {
  if (call->finished) return;
  ++call->failed_attempts;
  if (!closing_ && call->retry && status.IsRetryable() &&
      call->failed_attempts <= options_.max_retries) {
    // A retried send may follow an attempt the broker did store: it must be
    // checked against the dedup window.
    if (call->request.has_send()) call->request.mutable_send()->set_fresh_ids(false);
    if (call->request.has_send_half()) call->request.mutable_send_half()->set_fresh_txn(false);
    ArmTimer(call,
             BackoffDelay(call->failed_attempts - 1, options_.reconnect_backoff_initial,
                          options_.reconnect_backoff_max),
             /*is_timeout=*/false);
    return;
  }
  if (call->failed_attempts > 1) {
    status = Status(status.code(), status.message() + " (after " +
                                       std::to_string(call->failed_attempts) + " attempts)");
  }
  Complete(call, std::move(status));
}

void ConnectionCore::Complete(const CallPtr& call, Result<v1::Frame> result) {
  if (call->finished) return;
  call->finished = true;
  calls_.erase(call->id);
  if (call->request_id != 0) {
    inflight_.erase(call->request_id);
    call->request_id = 0;
  }
  call->timer.cancel();
  if (call->holds_slot) ReleaseSlot();
  ResponseCallback done = std::move(call->done);
  call->request.Clear();
  // No exception may unwind through the io loop: it would skip the rest of
  // this connection's work.
  try {
    done(std::move(result));
  } catch (...) {
  }
}

// ---------------------------------------------------------------------------
// Responder and Connection

void Responder::Respond(v1::Frame response) const {
  if (auto core = core_.lock()) core->SendResponse(session_id_, request_id_, std::move(response));
}

void Responder::RespondError(const Status& status) const {
  v1::Frame response;
  response.mutable_status()->set_code(static_cast<v1::Status::Code>(status.code()));
  response.mutable_status()->set_message(status.message());
  Respond(std::move(response));
}

Result<std::unique_ptr<Connection>> Connection::Create(const ClientOptions& options) {
  auto resolved = ResolveClientOptions(options);
  if (!resolved.ok()) return resolved.status();
  auto address = ParseBrokerAddress(resolved->broker);
  if (!address.ok()) return address.status();
  auto core =
      std::make_shared<ConnectionCore>(std::move(resolved).value(), std::move(address).value());
  core->Start();
  return std::unique_ptr<Connection>(new Connection(std::move(core)));
}

Connection::Connection(std::shared_ptr<ConnectionCore> core) : core_(std::move(core)) {}

Connection::~Connection() {
  if (core_->InThread()) {
    std::fprintf(stderr,
                 "halfmq: a client object was destroyed inside its own callback; aborting\n");
    std::abort();
  }
  core_->Close();
  core_->Join();
}

Status Connection::Connect() {
  if (core_->InThread()) {
    return Status::FailedPrecondition("Connect called on the client's own thread");
  }
  struct Waiter {
    Mutex mu;
    CondVar cv;
    std::optional<Status> status GUARDED_BY(mu);
  };
  auto waiter = std::make_shared<Waiter>();
  core_->Call(
      v1::Frame(), CallOptions{},
      [waiter](Result<v1::Frame> result) {
        MutexLock lock(&waiter->mu);
        waiter->status = result.status();
        waiter->cv.Signal();
      },
      /*connect_only=*/true);
  MutexLock lock(&waiter->mu);
  while (!waiter->status.has_value()) waiter->cv.Wait(&waiter->mu);
  return *waiter->status;
}

void Connection::Call(v1::Frame request, const CallOptions& options, ResponseCallback done) {
  core_->Call(std::move(request), options, std::move(done), /*connect_only=*/false);
}

Result<v1::Frame> Connection::CallSync(v1::Frame request, const CallOptions& options) {
  if (core_->InThread()) {
    return Status::FailedPrecondition(
        "synchronous HalfMQ call from a client callback would deadlock");
  }
  struct Waiter {
    Mutex mu;
    CondVar cv;
    std::optional<Result<v1::Frame>> result GUARDED_BY(mu);
  };
  auto waiter = std::make_shared<Waiter>();
  Call(std::move(request), options, [waiter](Result<v1::Frame> result) {
    MutexLock lock(&waiter->mu);
    waiter->result.emplace(std::move(result));
    waiter->cv.Signal();
  });
  MutexLock lock(&waiter->mu);
  while (!waiter->result.has_value()) waiter->cv.Wait(&waiter->mu);
  return std::move(*waiter->result);
}

void Connection::Post(std::function<void()> fn) { core_->Post(std::move(fn)); }

void Connection::SetRequestHandler(RequestHandler handler) {
  core_->SetRequestHandler(std::move(handler));
}

void Connection::SetHelloCustomizer(HelloCustomizer customizer) {
  core_->SetHelloCustomizer(std::move(customizer));
}

void Connection::Close() {
  core_->Close();
  // Joining on the io thread would wait for itself; the destructor joins.
  if (!core_->InThread()) core_->Join();
}

const ClientOptions& Connection::options() const { return core_->options(); }

bool Connection::InConnectionThread() const { return core_->InThread(); }

}  // namespace halfmq::client
