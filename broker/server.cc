#include "broker/server.h"

#include <glog/logging.h>

#include "common/host_port.h"

namespace halfmq::broker {

Result<asio::ip::tcp::endpoint> ParseEndpoint(const std::string& host_port) {
  // Port 0 asks the system for a free port (tests, --ready_fd reports it).
  auto parsed = ParseHostPort(host_port, PortZero::kAllow);
  if (!parsed.ok()) return parsed.status();
  std::string host = parsed->host == "localhost" ? "127.0.0.1" : parsed->host;
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) return Status::InvalidArgument("'" + host + "' is not an IP address");
  return asio::ip::tcp::endpoint(address, parsed->port);
}

Server::Server(asio::io_context& io, std::vector<asio::io_context*> session_io,
               Dispatcher* dispatcher, MemoryBudget* budget, Metrics* metrics,
               ServerOptions options)
    : io_(io),
      session_io_(std::move(session_io)),
      dispatcher_(dispatcher),
      budget_(budget),
      metrics_(metrics),
      options_(options),
      acceptor_(io) {
  CHECK(!session_io_.empty());
}

Result<asio::ip::tcp::endpoint> Server::Listen(const std::string& host_port) {
  auto endpoint = ParseEndpoint(host_port);
  if (!endpoint.ok()) return endpoint.status();
  boost::system::error_code ec;
  acceptor_.open(endpoint->protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(*endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::Unavailable("cannot listen on " + host_port + ": " + ec.message());
  return acceptor_.local_endpoint();
}

void Server::Start() { asio::co_spawn(io_, AcceptLoop(), asio::detached); }

asio::awaitable<void> Server::AcceptLoop() {
  for (;;) {
    boost::system::error_code ec;
    asio::io_context& home = *session_io_[next_io_++ % session_io_.size()];
    asio::ip::tcp::socket socket(asio::make_strand(home));
    co_await acceptor_.async_accept(socket, asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
    if (ec) {
      // Typically EMFILE: back off briefly instead of spinning.
      LOG(WARNING) << "accept failed: " << ec.message();
      asio::steady_timer t(io_, std::chrono::milliseconds(50));
      co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    std::shared_ptr<Session> session;
    {
      MutexLock lock(&mu_);
      if (stopping_) {
        socket.close(ec);  // accepted while shutdown began
        continue;
      }
      if (sessions_.size() >= options_.max_connections) {
        Inc(metrics_->connections_rejected);
        LOG_EVERY_N(WARNING, 100) << "--max_connections=" << options_.max_connections
                                  << " reached; refusing a connection";
        socket.close(ec);
        continue;
      }
      asio::ip::address from = socket.remote_endpoint(ec).address();
      if (ec) {
        socket.close(ec);  // reset before we saw it
        continue;
      }
      size_t& from_count = per_address_[from];
      if (options_.max_connections_per_ip > 0 &&
          from_count >= options_.max_connections_per_ip) {
        Inc(metrics_->connections_rejected_per_ip);
        LOG_EVERY_N(WARNING, 100) << "--max_connections_per_ip="
                                  << options_.max_connections_per_ip << " reached by "
                                  << from.to_string() << "; refusing a connection";
        socket.close(ec);
        continue;
      }
      ++from_count;
      uint64_t id = next_id_++;
      session = std::make_shared<Session>(std::move(socket), id, options_.session, dispatcher_,
                                          budget_, metrics_,
                                          [this](uint64_t closed) { OnClosed(closed); });
      sessions_[id] = session;
    }
    Inc(metrics_->connections_accepted);
    Inc(metrics_->connections_open);
    session->Start();
  }
}

void Server::OnClosed(uint64_t id) {
  if (close_observer_) close_observer_(id);
  MutexLock lock(&mu_);
  auto it = sessions_.find(id);
  if (it != sessions_.end()) {
    auto from = per_address_.find(it->second->remote_address());
    if (from != per_address_.end() && --from->second == 0) per_address_.erase(from);
    sessions_.erase(it);
    Inc(metrics_->connections_open, -1);
  }
  if (sessions_.empty()) all_closed_.SignalAll();
}

void Server::StopAccepting() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  asio::post(io_, [this] {
    boost::system::error_code ec;
    acceptor_.close(ec);
  });
}

void Server::StopReadingAll() {
  MutexLock lock(&mu_);
  for (auto& [id, s] : sessions_) s->StopReading();
}

void Server::CloseAll() {
  MutexLock lock(&mu_);
  for (auto& [id, s] : sessions_) s->Close();
}

bool Server::WaitForSessions(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  MutexLock lock(&mu_);
  while (!sessions_.empty()) {
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    all_closed_.WaitFor(&mu_, deadline - now);
  }
  return true;
}

size_t Server::open_sessions() const {
  MutexLock lock(&mu_);
  return sessions_.size();
}

}  // namespace halfmq::broker
