#include "broker/session.h"

#include <sys/socket.h>

#include <cerrno>

#include <glog/logging.h>

#include "common/asio_read.h"
#include "common/deferred.h"
#include "proto/framing.h"
#include "proto/read_buffer.h"

namespace halfmq::broker {

namespace {
// Outgoing frames may be larger than the incoming limit only by the
// response overhead; receive responses are capped well below it.
constexpr size_t kMaxOutgoingFrameBytes = 72 << 20;
// Write buffers larger than this are released after use so that idle
// connections stay small.
constexpr size_t kKeepBufferBytes = 64 << 10;
// Most one read takes from the socket; frames up to this size are parsed in
// place from the read buffer.
constexpr size_t kReadChunkBytes = 16 << 10;
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
  boost::system::error_code ec;
  // Reads take whatever the socket has (up to kReadChunkBytes), so a burst
  // of pipelined requests costs one system call, not two per frame; frames
  // larger than that are read straight into `large`.
  socket_.non_blocking(true, ec);
  proto::ReadBuffer in;
  std::string large;
  for (;;) {
    while (inflight_ >= options_.max_inflight_requests && !closed_ && !stop_reading_) {
      read_wakeup_.expires_at(asio::steady_timer::time_point::max());
      co_await read_wakeup_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    if (closed_ || stop_reading_) break;
    constexpr bool kRelease = true;  // idle connections hold no read buffer
    boost::system::error_code read_error =
        co_await ReadAtLeast(socket_, &in, proto::kFrameHeaderBytes, kReadChunkBytes, kRelease);
    if (read_error || closed_ || stop_reading_) break;  // EOF, reset, or shutdown
    uint32_t length = proto::DecodeFrameLength(reinterpret_cast<const uint8_t*>(in.data()));
    if (length > options_.max_frame_bytes) {
      Inc(metrics_->frames_oversize);
      LOG(WARNING) << "connection " << id_ << " from " << peer_ << ": frame of " << length
                   << " bytes exceeds --max_frame_bytes=" << options_.max_frame_bytes
                   << "; closing it";
      CloseOnStrand();
      co_return;
    }
    in.Consume(proto::kFrameHeaderBytes);
    bool waited = false;
    BudgetLease lease = co_await budget_->Acquire(length, &waited);
    if (waited) Inc(metrics_->memory_budget_waits);
    std::string_view bytes;
    read_error =
        co_await ReadFrameBody(socket_, &in, &large, length, kReadChunkBytes, kRelease, &bytes);
    if (read_error) break;
    v1::Frame frame;
    if (!proto::ParseFrame(bytes, &frame)) {
      Inc(metrics_->frames_malformed);
      LOG(WARNING) << "connection " << id_ << " from " << peer_
                   << ": malformed frame; closing it";
      CloseOnStrand();
      co_return;
    }
    if (large.capacity() > 0) std::string().swap(large);
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
  reader_done_.store(true);
  write_wakeup_.cancel();
}

asio::awaitable<void> Session::WriteLoop() {
  auto self = shared_from_this();
  std::string writing;
  boost::system::error_code ec;
  for (;;) {
    size_t answers = 0;
    bool have_work = false;
    {
      MutexLock lock(&out_mu_);
      if (send_closed_) break;
      if (outgoing_.empty()) {
        writer_busy_ = false;  // answering threads write for themselves again
      } else {
        writing.clear();
        writing.swap(outgoing_);
        answers = outgoing_answers_;
        outgoing_answers_ = 0;
        writer_busy_ = true;
        have_work = true;
      }
    }
    if (!have_work) {
      if (closed_ || (reader_done_.load() && inflight_.load() == 0)) break;
      // Woken by a partial send from another thread, by the last answer
      // after the reader stopped, or by close.
      write_wakeup_.expires_at(asio::steady_timer::time_point::max());
      co_await write_wakeup_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    co_await asio::async_write(socket_, asio::buffer(writing),
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    if (answers > 0) {
      inflight_.fetch_sub(answers);
      read_wakeup_.cancel();
    }
    if (writing.capacity() > kKeepBufferBytes) std::string().swap(writing);
  }
  CloseOnStrand();
}

void Session::Enqueue(const v1::Frame& frame, bool answers_request) {
  std::string bytes;
  if (!proto::AppendFrame(frame, kMaxOutgoingFrameBytes, &bytes)) {
    LOG(ERROR) << "connection " << id_ << ": cannot serialize frame of "
               << frame.ByteSizeLong() << " bytes";
    v1::Frame error;
    error.set_request_id(frame.request_id());
    error.set_type(frame.type());
    error.mutable_status()->set_code(v1::Status::INTERNAL);
    error.mutable_status()->set_message("response too large to send");
    bytes.clear();
    CHECK(proto::AppendFrame(error, kMaxOutgoingFrameBytes, &bytes));
  }
  {
    MutexLock lock(&out_mu_);
    if (send_closed_) return;
    if (outgoing_.empty()) {
      outgoing_.swap(bytes);
    } else {
      outgoing_.append(bytes);
    }
    if (answers_request) ++outgoing_answers_;
    if (writer_busy_) return;  // the WriteLoop takes it after its write
  }
  if (!DeferScope::Active()) return Flush();
  DeferScope::Defer(this, [self = shared_from_this()] {
    if (!DeferScope::Busy()) return self->Flush();
    // The answering thread has more work waiting (the committer with the
    // next group queued): the connection's io thread writes instead.
    asio::post(self->socket_.get_executor(), [self] { self->Flush(); });
  });
}

void Session::Flush() {
  size_t answers = 0;
  bool wake_writer = false;
  {
    MutexLock lock(&out_mu_);
    if (send_closed_ || writer_busy_ || outgoing_.empty()) return;
    ssize_t n;
    do {
      n = ::send(socket_.native_handle(), outgoing_.data(), outgoing_.size(),
                 MSG_DONTWAIT | MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n == static_cast<ssize_t>(outgoing_.size())) {
      outgoing_.clear();
      if (outgoing_.capacity() > kKeepBufferBytes) std::string().swap(outgoing_);
      answers = outgoing_answers_;
      outgoing_answers_ = 0;
    } else {
      // The socket buffer is full (or the send failed): the WriteLoop
      // writes the rest, or meets the error and closes the connection.
      if (n > 0) outgoing_.erase(0, static_cast<size_t>(n));
      writer_busy_ = true;
      wake_writer = true;
    }
  }
  if (wake_writer) Inc(metrics_->socket_writes_queued);
  if (answers > 0) AnswersWrittenOffStrand(answers);
  if (wake_writer) {
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
      self->write_wakeup_.cancel();
    });
  }
}

void Session::AnswersWrittenOffStrand(size_t answers) {
  size_t before = inflight_.fetch_sub(answers);
  // The reader waits when the cap was reached; a graceful close waits for
  // the last answer after the reader stopped.
  bool reader_may_wait = before >= options_.max_inflight_requests;
  bool closer_may_wait = before == answers && reader_done_.load();
  if (!reader_may_wait && !closer_may_wait) return;
  asio::post(socket_.get_executor(), [self = shared_from_this()] {
    self->read_wakeup_.cancel();
    self->write_wakeup_.cancel();
  });
}

void Session::SendFrame(v1::Frame frame, bool answers_request) {
  if (closed_flag_.load(std::memory_order_acquire)) return;
  Enqueue(frame, answers_request);
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
    self->Enqueue(request, /*answers_request=*/false);
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
  {
    MutexLock lock(&out_mu_);
    send_closed_ = true;
    outgoing_.clear();
    outgoing_answers_ = 0;
    boost::system::error_code ec;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }
  read_wakeup_.cancel();
  write_wakeup_.cancel();
  auto outbound = std::move(outbound_);
  outbound_.clear();
  for (auto& [id, done] : outbound) done(Status::Unavailable("connection closed"));
  if (on_closed_) on_closed_(id_);
}

}  // namespace halfmq::broker
