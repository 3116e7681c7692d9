// Connection: the client's one TCP connection to a broker, shared by every
// thread of the Producer, Consumer or Admin that owns it.
//
// It pipelines requests (matching responses by request_id, in any order),
// bounds how many are outstanding, times each one out, retries retryable
// failures with backoff, reconnects lazily, and routes requests that the
// broker sends to the client (CheckTransaction) to a handler.
//
// Threading: each Connection runs one private io_context thread. All socket
// work, timers and completion callbacks run on it, so callbacks must be quick
// and must not block; they may start further async calls. A private thread
// per connection (rather than a shared pool) keeps one user object's slow
// callback from stalling another's, and lets the destructor join everything
// it started. Public methods are thread-safe.
#ifndef HALFMQ_CLIENT_CONNECTION_H_
#define HALFMQ_CLIENT_CONNECTION_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include "common/status.h"
#include "halfmq/options.h"
#include "proto/halfmq/v1/api.pb.h"

namespace halfmq::client {

class ConnectionCore;

// Completion of a call: the response frame when the broker answered OK with
// the body matching the request (e.g. send -> send_response), else the error.
using ResponseCallback = std::function<void(Result<v1::Frame>)>;

struct CallOptions {
  // Added to ClientOptions::request_timeout; a long poll adds its wait so the
  // broker's on-time empty answer is not mistaken for a lost one.
  std::chrono::milliseconds extra_timeout{0};
  // Whether retryable failures (Status::IsRetryable) are retried up to
  // ClientOptions::max_retries times. The request is resent unchanged, so a
  // Send keeps its message ids and the broker can deduplicate it.
  bool retry = true;
};

// Answers one request the broker sent to this client. A copyable value;
// Respond may be called from any thread, at most once per request (later
// calls send duplicate responses that the broker ignores). If the connection
// the request came on has closed meanwhile, the response is dropped: the
// broker will ask again.
class Responder {
 public:
  // Sends `response` (its body, and its status if not OK); request_id and
  // type are filled in.
  void Respond(v1::Frame response) const;
  // Sends an error response without a body.
  void RespondError(const Status& status) const;

  uint64_t request_id() const { return request_id_; }

 private:
  friend class ConnectionCore;
  Responder(std::weak_ptr<ConnectionCore> core, uint64_t session_id, uint64_t request_id)
      : core_(std::move(core)), session_id_(session_id), request_id_(request_id) {}

  std::weak_ptr<ConnectionCore> core_;
  uint64_t session_id_;
  uint64_t request_id_;
};

// Handles a request from the broker. Runs on the connection's thread and must
// not block: hand the work to another thread and respond from there.
using RequestHandler = std::function<void(const v1::Frame& request, Responder responder)>;

// Adds to the HelloRequest sent at the start of every connection, e.g. the
// producer groups whose CheckTransaction requests this client serves, so they
// are registered again after each reconnect. Runs on the connection's thread.
using HelloCustomizer = std::function<void(v1::HelloRequest* hello)>;

class Connection {
 public:
  // Validates `options` and starts the connection's thread; connects lazily
  // on the first call (or on Connect()). Errors: INVALID_ARGUMENT for bad
  // options.
  static Result<std::unique_ptr<Connection>> Create(const ClientOptions& options);

  // Closes (see Close()). Must not run on the connection's own thread, i.e.
  // not inside a completion callback: that aborts the process.
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Connects now and completes the Hello exchange, retrying like a call.
  // Errors: UNAVAILABLE when the broker cannot be reached, or the Hello
  // error; FAILED_PRECONDITION when called on the connection's thread.
  Status Connect();

  // Sends `request` (any client-to-broker body; request_id and type are set
  // here) and runs `done` exactly once on the connection's thread. When
  // max_inflight_requests calls are outstanding, a caller on another thread
  // waits for a slot; a caller on the connection's thread never waits (it
  // would deadlock) and may exceed the bound. After Close, `done` runs inline
  // with UNAVAILABLE "client closed".
  // Errors passed to `done`: the broker's status; UNAVAILABLE for connection
  // loss, timeouts and "client closed"; INVALID_ARGUMENT for a request over
  // the frame limit; INTERNAL for a response with the wrong body.
  void Call(v1::Frame request, const CallOptions& options, ResponseCallback done);

  // Call, waiting for the result. Errors: as Call, and FAILED_PRECONDITION
  // on the connection's thread (it would wait for itself).
  Result<v1::Frame> CallSync(v1::Frame request, const CallOptions& options = {});

  // Runs `fn` on the connection's thread (inline if closed), e.g. to deliver
  // an error from the same thread as other completions.
  void Post(std::function<void()> fn);

  // Replaces the handler for broker requests; without one the client answers
  // INVALID_ARGUMENT "no handler".
  void SetRequestHandler(RequestHandler handler);

  // Replaces the Hello customizer; it takes effect from the next connection.
  void SetHelloCustomizer(HelloCustomizer customizer);

  // Completes every pending call with UNAVAILABLE "client closed", closes the
  // socket, and joins the thread (unless called on that thread, in which case
  // the destructor joins). Idempotent.
  void Close();

  // The resolved options (defaults filled in).
  const ClientOptions& options() const;

  // Whether the caller runs on this connection's thread.
  bool InConnectionThread() const;

 private:
  explicit Connection(std::shared_ptr<ConnectionCore> core);
  std::shared_ptr<ConnectionCore> core_;
};

}  // namespace halfmq::client

#endif  // HALFMQ_CLIENT_CONNECTION_H_
