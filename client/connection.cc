// Connection internals. Everything below `// io thread only` is touched only
// by the connection's thread, which is why those members need no lock; the
// few fields shared with caller threads are GUARDED_BY(mu_).
//
// Life of a call: Call() takes an inflight slot (waiting if needed) and posts
// the call to the io thread. An attempt either goes out on the ready session
// or waits in waiting_ while a session connects. A retryable failure arms the
// call's timer with a backoff delay and tries again; anything else completes
// the call, which releases the slot and runs the callback.
//
// Life of a session: ConnectOnce resolves and connects (bounded by
// connect_timeout), starts the reader and writer coroutines, and sends Hello
// as the first request. Its answer makes the session ready and releases the
// waiting calls. Any read or write error, an oversized or malformed frame, or
// a timeout with no traffic at all closes the session: its in-flight calls
// fail with UNAVAILABLE (and are retried), and the next attempt reconnects.
// Consecutive connect failures delay the next connect with backoff, so many
// callers retrying at once still produce one paced stream of connects.
#include "client/connection.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "client/backoff.h"
#include "client/options_util.h"
#include "common/asio.h"
#include "common/asio_read.h"
#include "common/mutex.h"
#include "common/thread_name.h"
#include "proto/framing.h"
#include "proto/frame_reader.h"

namespace halfmq::client {

using Clock = std::chrono::steady_clock;
using tcp = asio::ip::tcp;

namespace {

constexpr uint32_t kProtocolVersion = 1;
// The writer sends up to this many queued frames in one gathered write.
constexpr size_t kMaxWriteBatchFrames = 64;
constexpr size_t kMaxWriteBatchBytes = 1 << 20;
// Most one read takes from the socket; frames up to this size (a receive of
// 64 messages of 1 KiB) are parsed in place from the read buffer, which a
// connection keeps.
constexpr size_t kReadChunkBytes = 128 << 10;

v1::Frame::BodyCase ExpectedResponseCase(v1::Frame::BodyCase request) {
  // api.proto numbers every response body 100 + its request's field number.
  return static_cast<v1::Frame::BodyCase>(static_cast<int>(request) + 100);
}

Status StatusFromProto(const v1::Status& status) {
  StatusCode code = StatusCodeFromInt(static_cast<int>(status.code()));
  std::string message = status.message();
  if (message.empty() && code != StatusCode::kOk) {
    message = "broker returned " + std::string(StatusCodeName(code));
  }
  return Status(code, std::move(message));
}

}  // namespace

class ConnectionCore : public std::enable_shared_from_this<ConnectionCore> {
 public:
  ConnectionCore(ClientOptions options, HostPort address)
      : options_(std::move(options)),
        address_(std::move(address)),
        work_(asio::make_work_guard(io_)),
        connect_timer_(io_),
        send_limit_(options_.max_frame_bytes) {}

  ~ConnectionCore() {
    // Normally Connection joined already. Destruction on the io thread itself
    // cannot join; that only happens if a Responder held the last reference,
    // after Close ran, so the thread is about to exit anyway.
    if (thread_.joinable()) {
      if (std::this_thread::get_id() == thread_.get_id()) {
        thread_.detach();
      } else {
        thread_.join();
      }
    }
  }

  void Start() {
    thread_ = std::thread([this] {
      SetCurrentThreadName("halfmq-client");
      // A completion callback that throws is caught in Complete; this loop
      // only guards against anything else so the thread keeps serving.
      for (;;) {
        try {
          io_.run();
          return;
        } catch (...) {
        }
      }
    });
  }

  const ClientOptions& options() const { return options_; }
  bool InThread() const { return executor_.running_in_this_thread(); }

  void Call(v1::Frame request, const CallOptions& call_options, ResponseCallback done,
            bool connect_only) EXCLUDES(mu_);
  void Post(std::function<void()> fn) EXCLUDES(mu_);
  void SetRequestHandler(RequestHandler handler) EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    request_handler_ = std::move(handler);
  }
  void SetHelloCustomizer(HelloCustomizer customizer) EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    hello_customizer_ = std::move(customizer);
  }
  void SendResponse(uint64_t session_id, uint64_t request_id, v1::Frame response) EXCLUDES(mu_);
  void Close() EXCLUDES(mu_);

  // Waits for the io thread to finish (after Close). Not on the io thread.
  void Join() EXCLUDES(join_mu_) {
    MutexLock lock(&join_mu_);
    if (thread_.joinable()) thread_.join();
  }

 private:
  struct PendingCall {
    explicit PendingCall(asio::io_context& io) : timer(io) {}
    uint64_t id = 0;
    v1::Frame request;
    v1::Frame::BodyCase expected = v1::Frame::BODY_NOT_SET;
    bool connect_only = false;  // completes once a session is ready
    std::chrono::milliseconds timeout{0};
    bool retry = true;
    bool holds_slot = false;
    int failed_attempts = 0;
    uint64_t request_id = 0;  // of the attempt in flight; 0 if none
    Clock::time_point sent_at;
    asio::steady_timer timer;  // attempt timeout, or backoff before a retry
    uint64_t timer_generation = 0;
    bool finished = false;
    ResponseCallback done;
  };
  using CallPtr = std::shared_ptr<PendingCall>;

  struct Session {
    Session(uint64_t session_id, tcp::socket s)
        : id(session_id), socket(std::move(s)), wake(socket.get_executor()) {}
    const uint64_t id;
    tcp::socket socket;
    asio::steady_timer wake;  // cancelled to wake the writer
    std::deque<std::string> write_queue;
    Clock::time_point last_read;
    bool closed = false;
  };
  using SessionPtr = std::shared_ptr<Session>;

  struct ConnectAttempt {
    explicit ConnectAttempt(asio::io_context& io) : resolver(io), socket(io), deadline(io) {}
    tcp::resolver resolver;
    tcp::socket socket;
    asio::steady_timer deadline;
    bool timed_out = false;
    bool abandoned = false;
  };

  void ReleaseSlot() EXCLUDES(mu_);

  // io thread only.
  void StartCall(CallPtr call);
  void StartAttempt(const CallPtr& call);
  void SendOnSession(const CallPtr& call);
  void OnAttemptFailed(const CallPtr& call, Status status);
  void Complete(const CallPtr& call, Result<v1::Frame> result);
  void ArmTimer(const CallPtr& call, std::chrono::milliseconds delay, bool is_timeout);
  void OnTimeout(const CallPtr& call);
  void EnsureConnecting();
  asio::awaitable<void> ConnectOnce();
  void OnConnected(tcp::socket socket);
  void OnHelloDone(const SessionPtr& session, Result<v1::Frame> result);
  void OnConnectFailed(Status status);
  asio::awaitable<void> ReadLoop(SessionPtr session);
  asio::awaitable<void> WriteLoop(SessionPtr session);
  void OnFrame(const SessionPtr& session, v1::Frame frame);
  void DispatchRequest(const SessionPtr& session, const v1::Frame& frame);
  void Enqueue(const SessionPtr& session, std::string bytes);
  void CloseSession(const SessionPtr& session, const Status& why);
  void DoClose();

  const ClientOptions options_;
  const HostPort address_;
  // Declared before everything that holds handlers or I/O objects bound to
  // it, so it is destroyed after them.
  asio::io_context io_;
  const asio::io_context::executor_type executor_ = io_.get_executor();
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  Mutex join_mu_;  // serializes concurrent Join calls
  std::thread thread_;

  Mutex mu_;
  CondVar slot_cv_;  // a slot freed, or closed_
  size_t slots_used_ GUARDED_BY(mu_) = 0;
  bool closed_ GUARDED_BY(mu_) = false;
  RequestHandler request_handler_ GUARDED_BY(mu_);
  HelloCustomizer hello_customizer_ GUARDED_BY(mu_);

  // io thread only.
  asio::steady_timer connect_timer_;
  std::shared_ptr<ConnectAttempt> connect_attempt_;
  uint64_t next_call_id_ = 1;
  uint64_t next_request_id_ = 1;
  uint64_t next_session_id_ = 1;
  std::unordered_map<uint64_t, CallPtr> calls_;     // every unfinished call, by id
  std::unordered_map<uint64_t, CallPtr> inflight_;  // sent on session_, by request id
  std::vector<CallPtr> waiting_;                    // for a ready session
  SessionPtr session_;
  bool ready_ = false;       // session_ finished Hello
  bool connecting_ = false;  // a connect or Hello is under way
  bool closing_ = false;
  int connect_failures_ = 0;
  Clock::time_point next_connect_at_;
  size_t send_limit_;  // min(our max_frame_bytes, the broker's)
};

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
// io thread: connecting

void ConnectionCore::EnsureConnecting() {
  if (connecting_ || ready_ || closing_) return;
  connecting_ = true;
  asio::co_spawn(io_, ConnectOnce(), asio::detached);
}

asio::awaitable<void> ConnectionCore::ConnectOnce() {
  boost::system::error_code ec;
  if (Clock::now() < next_connect_at_) {
    connect_timer_.expires_at(next_connect_at_);
    co_await connect_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (closing_) co_return;
  }
  auto attempt = std::make_shared<ConnectAttempt>(io_);
  connect_attempt_ = attempt;
  attempt->deadline.expires_after(options_.connect_timeout);
  attempt->deadline.async_wait([attempt](boost::system::error_code timer_ec) {
    if (timer_ec) return;
    attempt->timed_out = true;
    attempt->resolver.cancel();
    boost::system::error_code ignored;
    attempt->socket.close(ignored);
  });
  auto endpoints = co_await attempt->resolver.async_resolve(
      address_.host, std::to_string(address_.port), asio::redirect_error(asio::use_awaitable, ec));
  if (!ec && !attempt->timed_out && !attempt->abandoned) {
    co_await asio::async_connect(attempt->socket, endpoints,
                                 asio::redirect_error(asio::use_awaitable, ec));
  }
  attempt->deadline.cancel();
  if (connect_attempt_ == attempt) connect_attempt_.reset();
  if (attempt->abandoned || closing_) co_return;
  if (attempt->timed_out || ec) {
    std::string why =
        attempt->timed_out
            ? "timed out after " + std::to_string(options_.connect_timeout.count()) + " ms"
            : ec.message();
    OnConnectFailed(
        Status::Unavailable("cannot connect to broker " + options_.broker + ": " + why));
    co_return;
  }
  OnConnected(std::move(attempt->socket));
}

void ConnectionCore::OnConnected(tcp::socket socket) {
  boost::system::error_code ignored;
  // Requests are small and latency-bound; the writer batches on its own.
  socket.set_option(tcp::no_delay(true), ignored);
  auto session = std::make_shared<Session>(next_session_id_++, std::move(socket));
  session->last_read = Clock::now();
  session_ = session;
  asio::co_spawn(io_, ReadLoop(session), asio::detached);
  asio::co_spawn(io_, WriteLoop(session), asio::detached);

  // Hello goes out first on every session; it is an internal call that does
  // not hold a slot and is not retried (the calls waiting for the session
  // are, which starts a new connect).
  v1::Frame hello_frame;
  v1::HelloRequest* hello = hello_frame.mutable_hello();
  hello->set_client_id(options_.client_id);
  hello->set_protocol_version(kProtocolVersion);
  HelloCustomizer customizer;
  {
    MutexLock lock(&mu_);
    customizer = hello_customizer_;
  }
  if (customizer) customizer(hello);

  auto call = std::make_shared<PendingCall>(io_);
  call->id = next_call_id_++;
  call->expected = ExpectedResponseCase(hello_frame.body_case());
  call->request = std::move(hello_frame);
  call->timeout = options_.connect_timeout;
  call->retry = false;
  call->done = [this, session](Result<v1::Frame> result) {
    OnHelloDone(session, std::move(result));
  };
  calls_.emplace(call->id, call);
  SendOnSession(call);
}

void ConnectionCore::OnHelloDone(const SessionPtr& session, Result<v1::Frame> result) {
  if (closing_) return;
  if (!result.ok()) {
    Status why(result.status().code(),
               "hello to broker " + options_.broker + " failed: " + result.status().message());
    if (session_ == session) CloseSession(session, why);
    OnConnectFailed(why);
    return;
  }
  if (session_ != session || session->closed) {
    OnConnectFailed(
        Status::Unavailable("connection to broker " + options_.broker + " lost during hello"));
    return;
  }
  const v1::HelloResponse& hello = result->hello_response();
  send_limit_ = options_.max_frame_bytes;
  if (hello.max_frame_bytes() > 0) {
    send_limit_ = std::min<size_t>(send_limit_, hello.max_frame_bytes());
  }
  ready_ = true;
  connecting_ = false;
  connect_failures_ = 0;
  std::vector<CallPtr> waiting = std::move(waiting_);
  waiting_.clear();
  for (const CallPtr& call : waiting) {
    if (!ready_) {  // the session failed while we were sending
      StartAttempt(call);
    } else if (!call->finished) {
      SendOnSession(call);
    }
  }
}

void ConnectionCore::OnConnectFailed(Status status) {
  connecting_ = false;
  ready_ = false;
  next_connect_at_ =
      Clock::now() + BackoffDelay(connect_failures_, options_.reconnect_backoff_initial,
                                  options_.reconnect_backoff_max);
  ++connect_failures_;
  std::vector<CallPtr> waiting = std::move(waiting_);
  waiting_.clear();
  for (const CallPtr& call : waiting) OnAttemptFailed(call, status);
}

// ---------------------------------------------------------------------------
// io thread: session I/O

asio::awaitable<void> ConnectionCore::ReadLoop(SessionPtr session) {
  // Like the broker: read what the socket holds (up to kReadChunkBytes) and
  // parse every complete frame in place; larger frames are collected in the
  // reader's own buffer (proto/frame_reader.h).
  boost::system::error_code ec;
  session->socket.non_blocking(true, ec);
  proto::FrameReader reader(options_.max_frame_bytes, kReadChunkBytes);
  auto lost = [&](const std::string& why) {
    if (!session->closed) CloseSession(session, Status::Unavailable("connection lost: " + why));
  };
  auto reason = [](const boost::system::error_code& error) {
    return error == asio::error::eof ? std::string("closed by the broker") : error.message();
  };
  for (;;) {
    std::string_view bytes;
    proto::FrameReader::Result next = reader.Next(&bytes);
    if (next == proto::FrameReader::Result::kTooLarge) {
      co_return lost("broker sent a frame of " + std::to_string(reader.claimed_length()) +
                     " bytes, over max_frame_bytes " + std::to_string(options_.max_frame_bytes));
    }
    if (next == proto::FrameReader::Result::kNeedMore) {
      constexpr bool kRelease = false;  // a client has few connections: keep the buffer
      boost::system::error_code read_error = co_await ReadSome(session->socket, &reader, kRelease);
      if (session->closed) co_return;
      if (read_error) co_return lost(reason(read_error));
      session->last_read = Clock::now();  // any byte shows the broker is alive
      continue;
    }
    v1::Frame frame;
    if (!proto::ParseFrame(bytes, &frame)) co_return lost("malformed frame from broker");
    OnFrame(session, std::move(frame));
    if (session->closed) co_return;
  }
}

asio::awaitable<void> ConnectionCore::WriteLoop(SessionPtr session) {
  std::vector<std::string> batch;
  std::vector<asio::const_buffer> buffers;
  while (!session->closed) {
    boost::system::error_code ec;
    if (session->write_queue.empty()) {
      session->wake.expires_at(asio::steady_timer::time_point::max());
      co_await session->wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    batch.clear();
    buffers.clear();
    size_t bytes = 0;
    while (!session->write_queue.empty() && batch.size() < kMaxWriteBatchFrames &&
           bytes < kMaxWriteBatchBytes) {
      batch.push_back(std::move(session->write_queue.front()));
      session->write_queue.pop_front();
      bytes += batch.back().size();
    }
    for (const std::string& b : batch) buffers.push_back(asio::buffer(b));
    co_await asio::async_write(session->socket, buffers,
                               asio::redirect_error(asio::use_awaitable, ec));
    if (session->closed) co_return;
    if (ec) {
      CloseSession(session, Status::Unavailable("connection lost: " + ec.message()));
      co_return;
    }
  }
}

void ConnectionCore::Enqueue(const SessionPtr& session, std::string bytes) {
  if (!session || session->closed) return;
  session->write_queue.push_back(std::move(bytes));
  session->wake.cancel();
}

void ConnectionCore::OnFrame(const SessionPtr& session, v1::Frame frame) {
  if (frame.type() == v1::REQUEST) {
    DispatchRequest(session, frame);
    return;
  }
  auto it = inflight_.find(frame.request_id());
  if (it == inflight_.end()) return;  // its call timed out; the answer is late
  CallPtr call = it->second;
  inflight_.erase(it);
  call->request_id = 0;
  Status status = StatusFromProto(frame.status());
  if (!status.ok()) {
    OnAttemptFailed(call, std::move(status));
  } else if (frame.body_case() != call->expected) {
    Complete(call,
             Status::Internal("broker answered request " + std::to_string(frame.request_id()) +
                              " with an unexpected body (case " +
                              std::to_string(static_cast<int>(frame.body_case())) + ")"));
  } else {
    Complete(call, std::move(frame));
  }
}

void ConnectionCore::DispatchRequest(const SessionPtr& session, const v1::Frame& frame) {
  RequestHandler handler;
  {
    MutexLock lock(&mu_);
    handler = request_handler_;
  }
  Responder responder(weak_from_this(), session->id, frame.request_id());
  if (!handler) {
    responder.RespondError(Status::InvalidArgument("no handler"));
    return;
  }
  try {
    handler(frame, responder);
  } catch (...) {
    responder.RespondError(Status::Internal("client request handler failed"));
  }
}

void ConnectionCore::CloseSession(const SessionPtr& session, const Status& why) {
  if (session->closed) return;
  session->closed = true;
  boost::system::error_code ignored;
  session->socket.shutdown(tcp::socket::shutdown_both, ignored);
  session->socket.close(ignored);
  session->wake.cancel();
  session->write_queue.clear();
  if (session_ != session) return;
  session_.reset();
  ready_ = false;
  // Fail in request order so retries go out in the order callers issued
  // them.
  std::vector<CallPtr> inflight;
  inflight.reserve(inflight_.size());
  for (auto& [request_id, call] : inflight_) inflight.push_back(call);
  inflight_.clear();
  std::sort(inflight.begin(), inflight.end(),
            [](const CallPtr& a, const CallPtr& b) { return a->request_id < b->request_id; });
  for (const CallPtr& call : inflight) {
    call->request_id = 0;
    call->timer.cancel();
    OnAttemptFailed(call, why);
  }
}

void ConnectionCore::DoClose() {
  closing_ = true;
  connect_timer_.cancel();
  if (connect_attempt_) {
    connect_attempt_->abandoned = true;
    connect_attempt_->deadline.cancel();
    connect_attempt_->resolver.cancel();
    boost::system::error_code ignored;
    connect_attempt_->socket.close(ignored);
    connect_attempt_.reset();
  }
  if (session_) CloseSession(session_, Status::Unavailable("client closed"));
  std::vector<CallPtr> remaining;
  remaining.reserve(calls_.size());
  for (auto& [id, call] : calls_) remaining.push_back(call);
  std::sort(remaining.begin(), remaining.end(),
            [](const CallPtr& a, const CallPtr& b) { return a->id < b->id; });
  for (const CallPtr& call : remaining) Complete(call, Status::Unavailable("client closed"));
  waiting_.clear();
  // Every callback has run; what is left in the queue are cancellations of
  // sockets and timers. Stopping here (rather than draining) guarantees the
  // join in the destructor returns even if a resolver is still busy.
  work_.reset();
  io_.stop();
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
