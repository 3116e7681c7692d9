// Server: the TCP listener and the registry of open sessions.
//
// Accepts connections (up to max_connections, and up to
// max_connections_per_ip from one source address, so that one misbehaving
// host cannot take them all; beyond that new ones are closed at once and
// counted), places each on one of the session
// io_contexts (round robin; each is run by one thread, so a connection's
// reads, writes and the posts that answer it stay on one thread and wake
// only that thread), gives each its own strand, and supports the
// shutdown gate: StopAccepting -> StopReading on every session (in-flight
// requests are still answered) -> WaitForSessions -> CloseAll.
//
// Thread-safe. Owned by Broker; must outlive the io_context's threads.
#ifndef HALFMQ_BROKER_SERVER_H_
#define HALFMQ_BROKER_SERVER_H_

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "broker/dispatcher.h"
#include "broker/memory_budget.h"
#include "broker/metrics.h"
#include "broker/session.h"
#include "common/asio.h"
#include "common/mutex.h"
#include "common/status.h"

namespace halfmq::broker {

struct ServerOptions {
  SessionOptions session;
  size_t max_connections = 20000;
  size_t max_connections_per_ip = 1000;  // 0: no per-address bound
};

class Server {
 public:
  // `io` runs the accept loop; `session_io` (not empty) host the sessions.
  Server(asio::io_context& io, std::vector<asio::io_context*> session_io, Dispatcher* dispatcher,
         MemoryBudget* budget, Metrics* metrics, ServerOptions options);

  // Binds "host:port" (port 0 picks a free one) and returns the bound
  // endpoint. Errors: INVALID_ARGUMENT (address), UNAVAILABLE (bind failed).
  Result<asio::ip::tcp::endpoint> Listen(const std::string& host_port);
  // Starts accepting on the io_context.
  void Start();

  void StopAccepting() EXCLUDES(mu_);
  void StopReadingAll() EXCLUDES(mu_);
  void CloseAll() EXCLUDES(mu_);
  // Blocks until no session is open or the timeout passes; returns whether
  // all closed. Must not be called on an io thread.
  bool WaitForSessions(std::chrono::milliseconds timeout) EXCLUDES(mu_);

  size_t open_sessions() const EXCLUDES(mu_);

  // Called (on the session's strand) whenever a connection closes. Set
  // before Start().
  void SetCloseObserver(std::function<void(uint64_t connection_id)> observer) {
    close_observer_ = std::move(observer);
  }

 private:
  asio::awaitable<void> AcceptLoop();
  void OnClosed(uint64_t id) EXCLUDES(mu_);

  asio::io_context& io_;
  const std::vector<asio::io_context*> session_io_;
  size_t next_io_ = 0;  // accept loop only
  Dispatcher* const dispatcher_;
  MemoryBudget* const budget_;
  Metrics* const metrics_;
  const ServerOptions options_;
  asio::ip::tcp::acceptor acceptor_;
  std::function<void(uint64_t)> close_observer_;

  mutable Mutex mu_;
  CondVar all_closed_;
  std::map<uint64_t, std::shared_ptr<Session>> sessions_ GUARDED_BY(mu_);
  std::map<asio::ip::address, size_t> per_address_ GUARDED_BY(mu_);
  uint64_t next_id_ GUARDED_BY(mu_) = 1;
  bool stopping_ GUARDED_BY(mu_) = false;
};

// Parses "host:port". Errors: INVALID_ARGUMENT.
Result<asio::ip::tcp::endpoint> ParseEndpoint(const std::string& host_port);

}  // namespace halfmq::broker

#endif  // HALFMQ_BROKER_SERVER_H_
