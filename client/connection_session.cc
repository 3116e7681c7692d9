// Connection sessions: connecting (bounded by connect_timeout, paced by
// backoff), the Hello exchange, the reader and writer coroutines of a
// session, frames from the broker, and closing. See connection_core.h.
#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "client/backoff.h"
#include "client/connection_core.h"
#include "common/asio_read.h"
#include "common/version.h"
#include "proto/frame_reader.h"
#include "proto/framing.h"

namespace halfmq::client {

namespace {

// The writer sends up to this many queued frames in one gathered write.
constexpr size_t kMaxWriteBatchFrames = 64;
constexpr size_t kMaxWriteBatchBytes = 1 << 20;
// Most one read takes from the socket; frames up to this size (a receive of
// 64 messages of 1 KiB) are parsed in place from the read buffer, which a
// connection keeps.
constexpr size_t kReadChunkBytes = 128 << 10;

Status StatusFromProto(const v1::Status& status) {
  StatusCode code = StatusCodeFromInt(static_cast<int>(status.code()));
  std::string message = status.message();
  if (message.empty() && code != StatusCode::kOk) {
    message = "broker returned " + std::string(StatusCodeName(code));
  }
  return Status(code, std::move(message));
}

}  // namespace

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

}  // namespace halfmq::client
