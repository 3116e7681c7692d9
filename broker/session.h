// Session: one client TCP connection.
//
// Two coroutines on the connection's strand: the reader decodes
// length-prefixed frames and hands requests to the Dispatcher; the writer
// drains the outgoing buffer. Responses come back from any thread through
// SendFrame, which posts to the strand.
//
// Bounds: a frame longer than max_frame_bytes, or one that does not parse,
// closes this connection only. The reader reserves each frame's length from
// the broker-wide MemoryBudget before reading the body, and stops reading
// while max_inflight_requests requests are unanswered (back-pressure instead
// of unbounded queues); the outgoing buffer is bounded by the same cap.
//
// Lifecycle: created by Server on accept, kept alive by its coroutines and by
// unanswered Responders. StopReading() (graceful shutdown) stops taking
// requests, answers the in-flight ones, then closes; Close() drops the
// connection at once. All members are touched only on the strand.
#ifndef HALFMQ_BROKER_SESSION_H_
#define HALFMQ_BROKER_SESSION_H_

#include <atomic>
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
};

class Session : public Connection, public std::enable_shared_from_this<Session> {
 public:
  using ClosedCallback = std::function<void(uint64_t id)>;

  Session(asio::ip::tcp::socket socket, uint64_t id, SessionOptions options,
          Dispatcher* dispatcher, MemoryBudget* budget, Metrics* metrics,
          ClosedCallback on_closed);
  ~Session() override;

  void Start();
  void StopReading();
  void Close();

  // Connection
  void SendFrame(v1::Frame frame, bool answers_request) override;
  uint64_t id() const override { return id_; }
  const std::string& peer() const override { return peer_; }
  void SendRequest(v1::Frame request, std::function<void(Result<v1::Frame>)> done) override;
  void SetClientId(const std::string& client_id) override EXCLUDES(client_id_mu_);
  std::string client_id() const override EXCLUDES(client_id_mu_);

 private:
  asio::awaitable<void> ReadLoop();
  asio::awaitable<void> WriteLoop();
  void CloseOnStrand();
  void Enqueue(const v1::Frame& frame);

  asio::ip::tcp::socket socket_;
  const uint64_t id_;
  const SessionOptions options_;
  Dispatcher* const dispatcher_;
  MemoryBudget* const budget_;
  Metrics* const metrics_;
  ClosedCallback on_closed_;
  std::string peer_;

  // Strand-only state.
  asio::steady_timer read_wakeup_;
  asio::steady_timer write_wakeup_;
  std::string outgoing_;
  // Answers queued in outgoing_ but not yet written; their requests still
  // count as in flight, so the outgoing buffer is bounded by the cap too.
  size_t outgoing_answers_ = 0;
  size_t inflight_ = 0;
  bool stop_reading_ = false;
  // Broker-initiated requests awaiting the client's response.
  uint64_t next_outbound_id_ = 1;
  std::map<uint64_t, std::function<void(Result<v1::Frame>)>> outbound_;
  bool reader_done_ = false;
  bool closed_ = false;
  // Mirrors closed_ for other threads, so answers for a closed connection
  // are dropped without touching the io_context (which may be stopping).
  std::atomic<bool> closed_flag_{false};

  mutable Mutex client_id_mu_;
  std::string client_id_ GUARDED_BY(client_id_mu_);
};

}  // namespace halfmq::broker

#endif  // HALFMQ_BROKER_SESSION_H_
