// ConnectionCore: the internals behind Connection (client/connection.h),
// shared by connection.cc (caller threads, the life of a call, the public
// wrappers) and connection_session.cc (connecting, Hello, the reader and
// writer of a session, frames from the broker). Not part of the public API.
//
// Everything below `// io thread only` is touched only
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
#ifndef HALFMQ_CLIENT_CONNECTION_CORE_H_
#define HALFMQ_CLIENT_CONNECTION_CORE_H_

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "client/connection.h"
#include "common/asio.h"
#include "common/host_port.h"
#include "common/mutex.h"
#include "common/thread_name.h"

namespace halfmq::client {

using Clock = std::chrono::steady_clock;
using tcp = asio::ip::tcp;

inline v1::Frame::BodyCase ExpectedResponseCase(v1::Frame::BodyCase request) {
  // api.proto numbers every response body 100 + its request's field number.
  return static_cast<v1::Frame::BodyCase>(static_cast<int>(request) + 100);
}

// The owner of a connection's io thread, sockets and calls; Connection holds
// it through a shared_ptr, and Responders through weak_ptrs. Thread-safety:
// the public methods may be called from any thread; the rest runs on the io
// thread (see above).
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

}  // namespace halfmq::client

#endif  // HALFMQ_CLIENT_CONNECTION_CORE_H_
