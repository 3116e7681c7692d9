// Session: one client TCP connection.
//
// Two coroutines on the connection's strand: the reader decodes
// length-prefixed frames and hands requests to the Dispatcher; the writer
// drains what the answering threads could not write themselves. Responses
// come back from any thread through SendFrame, which appends them to the
// outgoing buffer and, when no write is in progress, sends them from the
// calling thread with a non-blocking send (coalesced per DeferScope, so a
// group commit's answers to one connection go out in one system call).
//
// Bounds: a frame longer than max_frame_bytes, or one that does not parse,
// closes this connection only. The reader reserves a frame's bytes from the
// broker-wide MemoryBudget as they arrive (proto::FrameReader grows a large
// frame's buffer in steps; each step is reserved before the read into it),
// and stops reading while max_inflight_requests requests are unanswered
// (back-pressure instead of unbounded queues); the outgoing buffer is
// bounded by the same cap.
//
// Timeouts (0 turns one off), enforced by a watchdog coroutine that sleeps
// until the earliest deadline the connection's state allows and closes the
// connection when it passes: the first request must be whole within
// hello_timeout of the accept; a frame, from its first byte to its last
// (including waits for memory), within frame_timeout; a connection with no
// request for idle_timeout and nothing in flight is closed, except one
// serving transaction checks (it named a producer group in Hello or sent a
// half message: it waits for checks); a write that makes no progress
// (the client stopped reading) for write_timeout closes the connection.
//
// Lifecycle: created by Server on accept, kept alive by its coroutines and by
// unanswered Responders. StopReading() (graceful shutdown) stops taking
// requests, answers the in-flight ones, then closes; Close() drops the
// connection at once. Members are touched only on the strand unless marked
// otherwise.
#ifndef HALFMQ_BROKER_SESSION_H_
#define HALFMQ_BROKER_SESSION_H_

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "broker/dispatcher.h"
#include "broker/memory_budget.h"
#include "broker/metrics.h"
#include "broker/responder.h"
#include "common/asio.h"
#include "common/mutex.h"

namespace halfmq::broker {

struct SessionOptions {
  size_t max_frame_bytes = 8 << 20;
  size_t max_inflight_requests = 1024;
  std::chrono::milliseconds hello_timeout{10000};
  std::chrono::milliseconds frame_timeout{30000};
  std::chrono::milliseconds idle_timeout{600000};
  std::chrono::milliseconds write_timeout{60000};
};

class Session : public Connection, public std::enable_shared_from_this<Session> {
 public:
  using ClosedCallback = std::function<void(uint64_t id)>;

  Session(asio::ip::tcp::socket socket, uint64_t id, SessionOptions options, Dispatcher* dispatcher,
          MemoryBudget* budget, Metrics* metrics, ClosedCallback on_closed);
  ~Session() override;

  void Start();
  void StopReading();
  void Close();

  // Connection
  void SendFrame(v1::Frame frame, bool answers_request) override;
  uint64_t id() const override { return id_; }
  const std::string& peer() const override { return peer_; }
  const asio::ip::address& remote_address() const { return remote_address_; }
  void SendRequest(v1::Frame request, std::function<void(Result<v1::Frame>)> done) override;
  void SetClientId(const std::string& client_id) override EXCLUDES(client_id_mu_);
  std::string client_id() const override EXCLUDES(client_id_mu_);

 private:
  using TimePoint = asio::steady_timer::time_point;
  enum class Timeout { kNone, kHello, kFrame, kIdle, kWrite };

  // Each coroutine holds `self` from its creation in Start(), not from its
  // first step: the session may close before a coroutine first runs.
  asio::awaitable<void> ReadLoop(std::shared_ptr<Session> self);
  asio::awaitable<void> WriteLoop(std::shared_ptr<Session> self);
  asio::awaitable<void> Watchdog(std::shared_ptr<Session> self);
  // ReadLoop's steps. Reserves budget for `needed` bytes of the frame being
  // read, into `lease`, waiting at most until the frame's deadline:
  // kRefused when that passed (the session is then closed for it).
  enum class Reserve { kOk, kClosed, kRefused };
  asio::awaitable<Reserve> ReserveFrameMemory(size_t needed, BudgetLease* lease);
  // Handles one parsed frame: the answer to a broker-initiated request, or a
  // request for the dispatcher, which takes `lease` with it.
  void HandleFrame(const std::shared_ptr<Session>& self, v1::Frame frame, BudgetLease* lease);
  // The earliest deadline the connection's state allows, and which one it
  // is (kNone: no timeout applies; look again at the returned time).
  TimePoint NextDeadline(TimePoint now, Timeout* kind);
  // Wakes the watchdog if `deadline` comes before the one it sleeps to.
  void WatchdogDeadline(TimePoint deadline);
  // Closes for a frame over max_frame_bytes, a malformed frame or a
  // timeout, with a rate-limited warning.
  void CloseForBadInput(std::atomic<int64_t>& counter, const std::string& why);
  void CloseOnStrand();
  // Appends `frame` to the outgoing buffer and arranges for it to be written:
  // at once, or when the thread's DeferScope closes.
  void Enqueue(const v1::Frame& frame, bool answers_request);
  // Writes outgoing_ from the calling thread if the WriteLoop is idle.
  void Flush() EXCLUDES(out_mu_);
  // Accounts for `answers` responses fully written by a thread other than
  // the strand, waking the reader or the closing writer if they wait on it.
  void AnswersWrittenOffStrand(size_t answers);

  asio::ip::tcp::socket socket_;
  const uint64_t id_;
  const SessionOptions options_;
  Dispatcher* const dispatcher_;
  MemoryBudget* const budget_;
  Metrics* const metrics_;
  ClosedCallback on_closed_;
  std::string peer_;
  asio::ip::address remote_address_;

  // Strand-only state.
  asio::steady_timer watchdog_;
  TimePoint watchdog_expiry_ = TimePoint::max();
  const TimePoint accepted_at_;
  bool got_first_frame_ = false;
  bool in_frame_ = false;       // bytes of an unfinished frame have arrived
  TimePoint frame_started_;     // when they began
  TimePoint idle_since_;        // the last request's arrival
  bool serves_checks_ = false;  // named producer groups, or sent a half message
  bool writing_ = false;        // the WriteLoop waits for a write
  TimePoint write_started_;
  asio::steady_timer read_wakeup_;
  asio::steady_timer write_wakeup_;
  bool stop_reading_ = false;
  // Broker-initiated requests awaiting the client's response.
  uint64_t next_outbound_id_ = 1;
  std::map<uint64_t, std::function<void(Result<v1::Frame>)>> outbound_;
  bool closed_ = false;
  // Mirrors closed_ for other threads, so answers for a closed connection
  // are dropped without touching the io_context (which may be stopping).
  std::atomic<bool> closed_flag_{false};

  // Requests dispatched and not yet answered on the wire (answers still in
  // outgoing_ count too, so the outgoing buffer is bounded by the cap).
  // Incremented by the reader, decremented by whichever thread wrote the
  // answers.
  std::atomic<size_t> inflight_{0};
  std::atomic<bool> reader_done_{false};

  // The outgoing side, shared by every thread that answers. Frames are
  // appended to outgoing_; when the WriteLoop is idle the answering thread
  // writes them itself with a non-blocking send (no hand-off to the io
  // thread on the latency path); whatever the socket does not take at once
  // is left to the WriteLoop, which then owns the write side until the buffer
  // is empty again. The socket is closed under out_mu_, so a send never
  // touches a descriptor after close.
  Mutex out_mu_;
  std::string outgoing_ GUARDED_BY(out_mu_);
  size_t outgoing_answers_ GUARDED_BY(out_mu_) = 0;  // answers in outgoing_
  bool writer_busy_ GUARDED_BY(out_mu_) = false;
  bool send_closed_ GUARDED_BY(out_mu_) = false;

  mutable Mutex client_id_mu_;
  std::string client_id_ GUARDED_BY(client_id_mu_);
};

}  // namespace halfmq::broker

#endif  // HALFMQ_BROKER_SESSION_H_
