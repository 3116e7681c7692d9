#include "broker/session.h"

#include <glog/logging.h>

#include "proto/framing.h"

namespace halfmq::broker {

namespace {
// Outgoing frames may be larger than the incoming limit only by the
// response overhead; receive responses are capped well below it.
constexpr size_t kMaxOutgoingFrameBytes = 72 << 20;
// Read buffers larger than this are released after use so that idle
// connections stay small.
constexpr size_t kKeepBufferBytes = 64 << 10;
}  // namespace

Session::Session(asio::ip::tcp::socket socket, uint64_t id, SessionOptions options,
                 Dispatcher* dispatcher, MemoryBudget* budget, Metrics* metrics,
                 ClosedCallback on_closed)
    : socket_(std::move(socket)),
      id_(id),
      options_(options),
      dispatcher_(dispatcher),
      budget_(budget),
      metrics_(metrics),
      on_closed_(std::move(on_closed)),
      read_wakeup_(socket_.get_executor()),
      write_wakeup_(socket_.get_executor()) {
  boost::system::error_code ec;
  auto ep = socket_.remote_endpoint(ec);
  peer_ = ec ? "unknown" : ep.address().to_string() + ":" + std::to_string(ep.port());
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
}

Session::~Session() = default;

void Session::Start() {
  auto self = shared_from_this();
  asio::co_spawn(socket_.get_executor(), ReadLoop(), asio::detached);
  asio::co_spawn(socket_.get_executor(), WriteLoop(), asio::detached);
}

void Session::SetClientId(const std::string& client_id) {
  MutexLock lock(&client_id_mu_);
  client_id_ = client_id;
}

std::string Session::client_id() const {
  MutexLock lock(&client_id_mu_);
  return client_id_;
}

asio::awaitable<void> Session::ReadLoop() {
  auto self = shared_from_this();
  uint8_t header[proto::kFrameHeaderBytes];
  std::string body;
  boost::system::error_code ec;
  for (;;) {
    while (inflight_ >= options_.max_inflight_requests && !closed_ && !stop_reading_) {
      read_wakeup_.expires_at(asio::steady_timer::time_point::max());
      co_await read_wakeup_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    if (closed_ || stop_reading_) break;
    co_await asio::async_read(socket_, asio::buffer(header),
                              asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;  // EOF, reset, or shutdown
    uint32_t length = proto::DecodeFrameLength(header);
    if (length > options_.max_frame_bytes) {
      Inc(metrics_->frames_oversize);
      LOG(WARNING) << "connection " << id_ << " from " << peer_ << ": frame of " << length
                   << " bytes exceeds --max_frame_bytes=" << options_.max_frame_bytes
                   << "; closing it";
      CloseOnStrand();
      co_return;
    }
    bool waited = false;
    BudgetLease lease = co_await budget_->Acquire(length, &waited);
    if (waited) Inc(metrics_->memory_budget_waits);
    body.resize(length);
    co_await asio::async_read(socket_, asio::buffer(body),
                              asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    v1::Frame frame;
    if (!proto::ParseFrame(body, &frame)) {
      Inc(metrics_->frames_malformed);
      LOG(WARNING) << "connection " << id_ << " from " << peer_
                   << ": malformed frame; closing it";
      CloseOnStrand();
      co_return;
    }
    if (body.capacity() > kKeepBufferBytes) std::string().swap(body);
    if (closed_) break;
    if (frame.type() == v1::RESPONSE) {
      // The answer to a broker-initiated request (a transaction check).
      auto it = outbound_.find(frame.request_id());
      if (it != outbound_.end()) {
        auto done = std::move(it->second);
        outbound_.erase(it);
        done(std::move(frame));
      }
      continue;
    }
    ++inflight_;
    uint64_t request_id = frame.request_id();
    dispatcher_->Dispatch(std::move(frame), Responder(self, request_id, std::move(lease)), self);
  }
  reader_done_ = true;
  write_wakeup_.cancel();
}

asio::awaitable<void> Session::WriteLoop() {
  auto self = shared_from_this();
  std::string writing;
  boost::system::error_code ec;
  for (;;) {
    if (outgoing_.empty()) {
      if (closed_ || (reader_done_ && inflight_ == 0)) break;
      write_wakeup_.expires_at(asio::steady_timer::time_point::max());
      co_await write_wakeup_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    if (closed_) break;
    writing.clear();
    writing.swap(outgoing_);
    size_t answers = outgoing_answers_;
    outgoing_answers_ = 0;
    co_await asio::async_write(socket_, asio::buffer(writing),
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    inflight_ -= answers;
    if (answers > 0) read_wakeup_.cancel();
    if (writing.capacity() > kKeepBufferBytes) std::string().swap(writing);
  }
  CloseOnStrand();
}

void Session::Enqueue(const v1::Frame& frame) {
  if (!proto::AppendFrame(frame, kMaxOutgoingFrameBytes, &outgoing_)) {
    LOG(ERROR) << "connection " << id_ << ": cannot serialize frame of "
               << frame.ByteSizeLong() << " bytes";
    v1::Frame error;
    error.set_request_id(frame.request_id());
    error.set_type(frame.type());
    error.mutable_status()->set_code(v1::Status::INTERNAL);
    error.mutable_status()->set_message("response too large to send");
    CHECK(proto::AppendFrame(error, kMaxOutgoingFrameBytes, &outgoing_));
  }
}

void Session::SendFrame(v1::Frame frame, bool answers_request) {
  if (closed_flag_.load(std::memory_order_acquire)) return;
  asio::post(socket_.get_executor(),
             [self = shared_from_this(), frame = std::move(frame), answers_request] {
               if (self->closed_) return;
               if (answers_request) ++self->outgoing_answers_;
               self->Enqueue(frame);
               self->write_wakeup_.cancel();
             });
}

void Session::SendRequest(v1::Frame request, std::function<void(Result<v1::Frame>)> done) {
  if (closed_flag_.load(std::memory_order_acquire)) {
    return done(Status::Unavailable("connection closed"));
  }
  asio::post(socket_.get_executor(), [self = shared_from_this(), request = std::move(request),
                                      done = std::move(done)]() mutable {
    if (self->closed_) return done(Status::Unavailable("connection closed"));
    uint64_t id = self->next_outbound_id_++;
    request.set_request_id(id);
    request.set_type(v1::REQUEST);
    self->outbound_.emplace(id, std::move(done));
    self->Enqueue(request);
    self->write_wakeup_.cancel();
  });
}

void Session::StopReading() {
  asio::post(socket_.get_executor(), [self = shared_from_this()] {
    if (self->closed_ || self->stop_reading_) return;
    self->stop_reading_ = true;
    boost::system::error_code ec;
    // Wakes a pending read with EOF while leaving the write side open for
    // the answers still to come.
    self->socket_.shutdown(asio::ip::tcp::socket::shutdown_receive, ec);
    self->read_wakeup_.cancel();
  });
}

void Session::Close() {
  asio::post(socket_.get_executor(), [self = shared_from_this()] { self->CloseOnStrand(); });
}

void Session::CloseOnStrand() {
  if (closed_) return;
  closed_ = true;
  closed_flag_.store(true, std::memory_order_release);
  boost::system::error_code ec;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  read_wakeup_.cancel();
  write_wakeup_.cancel();
  outgoing_.clear();
  auto outbound = std::move(outbound_);
  outbound_.clear();
  for (auto& [id, done] : outbound) done(Status::Unavailable("connection closed"));
  if (on_closed_) on_closed_(id_);
}

}  // namespace halfmq::broker
