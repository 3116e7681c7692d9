#include "broker/session.h"

#include <sys/socket.h>

#include <cerrno>

#include <glog/logging.h>

#include "common/asio_read.h"
#include "common/deferred.h"
#include "common/log_limiter.h"
#include "proto/frame_reader.h"
#include "proto/framing.h"

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

// Warnings about connections closed for what their peer did: a scanner
// opening thousands of connections gets a few lines a second, not one each.
LogLimiter& BadConnectionLog() {
  static LogLimiter limiter(/*lines_per_second=*/5, /*burst=*/20);
  return limiter;
}
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
      watchdog_(socket_.get_executor()),
      accepted_at_(asio::steady_timer::clock_type::now()),
      read_wakeup_(socket_.get_executor()),
      write_wakeup_(socket_.get_executor()) {
  boost::system::error_code ec;
  auto ep = socket_.remote_endpoint(ec);
  peer_ = ec ? "unknown" : ep.address().to_string() + ":" + std::to_string(ep.port());
  if (!ec) remote_address_ = ep.address();
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
}

Session::~Session() = default;

void Session::Start() {
  auto self = shared_from_this();
  asio::co_spawn(socket_.get_executor(), ReadLoop(self), asio::detached);
  asio::co_spawn(socket_.get_executor(), WriteLoop(self), asio::detached);
  asio::co_spawn(socket_.get_executor(), Watchdog(self), asio::detached);
}

void Session::SetClientId(const std::string& client_id) {
  MutexLock lock(&client_id_mu_);
  client_id_ = client_id;
}

std::string Session::client_id() const {
  MutexLock lock(&client_id_mu_);
  return client_id_;
}

asio::awaitable<void> Session::ReadLoop(std::shared_ptr<Session> self) {
  boost::system::error_code ec;
  // Reads take whatever the socket has (up to kReadChunkBytes), so a burst
  // of pipelined requests costs one system call, not two per frame.
  socket_.non_blocking(true, ec);
  proto::FrameReader reader(options_.max_frame_bytes, kReadChunkBytes);
  BudgetLease lease;  // the bytes of the frame being read
  idle_since_ = accepted_at_;
  for (;;) {
    while (inflight_ >= options_.max_inflight_requests && !closed_ && !stop_reading_) {
      read_wakeup_.expires_at(asio::steady_timer::time_point::max());
      co_await read_wakeup_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    if (closed_ || stop_reading_) break;
    std::string_view bytes;
    proto::FrameReader::Result next = reader.Next(&bytes);
    if (next == proto::FrameReader::Result::kTooLarge) {
      CloseForBadInput(
          metrics_->frames_oversize,
          "frame of " + std::to_string(reader.claimed_length()) +
              " bytes exceeds --max_frame_bytes=" + std::to_string(options_.max_frame_bytes));
      co_return;
    }
    // Memory for the frame's bytes: for a large frame before each read into
    // its buffer, for a small one (in the read buffer already) before it is
    // parsed. Waiting for it counts towards the frame's deadline.
    size_t needed =
        next == proto::FrameReader::Result::kFrame ? bytes.size() : reader.large_target();
    if (needed > lease.bytes()) {  // (a coroutine frame only when it may wait)
      Reserve reserved = co_await ReserveFrameMemory(needed, &lease);
      if (reserved == Reserve::kClosed) break;
      if (reserved == Reserve::kRefused) co_return;
    }
    if (next == proto::FrameReader::Result::kNeedMore) {
      constexpr bool kRelease = true;  // idle connections hold no read buffer
      if (reader.empty()) {
        in_frame_ = false;
        idle_since_ = asio::steady_timer::clock_type::now();
      }
      boost::system::error_code read_error = co_await ReadSome(socket_, &reader, kRelease);
      if (read_error || closed_ || stop_reading_) break;  // EOF, reset, or shutdown
      if (!in_frame_) {
        in_frame_ = true;
        frame_started_ = asio::steady_timer::clock_type::now();
        if (options_.frame_timeout.count() > 0) {
          WatchdogDeadline(frame_started_ + options_.frame_timeout);
        }
      }
      continue;
    }
    v1::Frame frame;
    if (!proto::ParseFrame(bytes, &frame)) {
      CloseForBadInput(metrics_->frames_malformed, "malformed frame");
      co_return;
    }
    // The next frame's bytes may be buffered already: its clock starts now.
    in_frame_ = !reader.empty();
    if (in_frame_) frame_started_ = asio::steady_timer::clock_type::now();
    HandleFrame(self, std::move(frame), &lease);
  }
  reader_done_.store(true);
  write_wakeup_.cancel();
}

asio::awaitable<Session::Reserve> Session::ReserveFrameMemory(size_t needed, BudgetLease* lease) {
  if (needed <= lease->bytes()) co_return Reserve::kOk;
  bool waited = false;
  TimePoint deadline = options_.frame_timeout.count() > 0 ? frame_started_ + options_.frame_timeout
                                                          : TimePoint::max();
  BudgetLease more = co_await budget_->Acquire(needed - lease->bytes(), &waited, deadline);
  if (waited) Inc(metrics_->memory_budget_waits);
  if (closed_) co_return Reserve::kClosed;
  if (more.bytes() == 0) {
    CloseForBadInput(metrics_->connections_frame_timeouts,
                     "no memory for its frame within --frame_timeout_ms");
    co_return Reserve::kRefused;
  }
  lease->Merge(std::move(more));
  co_return Reserve::kOk;
}

void Session::HandleFrame(const std::shared_ptr<Session>& self, v1::Frame frame,
                          BudgetLease* lease) {
  if (!got_first_frame_) {
    got_first_frame_ = true;
    watchdog_.cancel();  // once per connection: from the hello deadline to the others
  }
  if (frame.type() == v1::RESPONSE) {
    lease->Reset();
    // The answer to a broker-initiated request (a transaction check).
    auto it = outbound_.find(frame.request_id());
    if (it != outbound_.end()) {
      auto done = std::move(it->second);
      outbound_.erase(it);
      done(std::move(frame));
    }
    return;
  }
  if ((frame.has_hello() && frame.hello().producer_groups_size() > 0) || frame.has_send_half()) {
    serves_checks_ = true;
  }
  ++inflight_;
  uint64_t request_id = frame.request_id();
  dispatcher_->Dispatch(std::move(frame), Responder(self, request_id, std::move(*lease)), self);
  *lease = BudgetLease();
}

asio::awaitable<void> Session::Watchdog(std::shared_ptr<Session> self) {
  boost::system::error_code ec;
  while (!closed_) {
    TimePoint now = asio::steady_timer::clock_type::now();
    Timeout kind = Timeout::kNone;
    TimePoint deadline = NextDeadline(now, &kind);
    if (kind != Timeout::kNone && deadline <= now) {
      switch (kind) {
        case Timeout::kHello:
          CloseForBadInput(metrics_->connections_hello_timeouts,
                           "no whole request within --hello_timeout_ms");
          break;
        case Timeout::kFrame:
          CloseForBadInput(metrics_->connections_frame_timeouts,
                           "frame not whole within --frame_timeout_ms");
          break;
        case Timeout::kIdle:
          CloseForBadInput(metrics_->connections_idle_timeouts, "idle for --idle_timeout_ms");
          break;
        case Timeout::kWrite:
        case Timeout::kNone:
          CloseForBadInput(metrics_->connections_write_timeouts,
                           "took none of its responses for --write_timeout_ms");
          break;
      }
      co_return;
    }
    watchdog_expiry_ = deadline;
    watchdog_.expires_at(deadline);
    co_await watchdog_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

Session::TimePoint Session::NextDeadline(TimePoint now, Timeout* kind) {
  TimePoint deadline = TimePoint::max();
  auto consider = [&](TimePoint t, Timeout k) {
    if (t < deadline) {
      deadline = t;
      *kind = k;
    }
  };
  const SessionOptions& o = options_;
  if (writing_ && o.write_timeout.count() > 0)
    consider(write_started_ + o.write_timeout, Timeout::kWrite);
  if (!got_first_frame_ && o.hello_timeout.count() > 0) {
    consider(accepted_at_ + o.hello_timeout, Timeout::kHello);
  }
  if (in_frame_ && o.frame_timeout.count() > 0) {
    consider(frame_started_ + o.frame_timeout, Timeout::kFrame);
  } else if (!in_frame_ && got_first_frame_ && !serves_checks_ && o.idle_timeout.count() > 0) {
    if (inflight_.load() > 0 || !outbound_.empty() || reader_done_.load()) {
      // Not idle (a long poll waits, or answers are being written): look
      // again later, counting idleness from now.
      idle_since_ = now;
      consider(now + o.idle_timeout, Timeout::kNone);
    } else {
      consider(idle_since_ + o.idle_timeout, Timeout::kIdle);
    }
  }
  // Between frames, look at least once per frame_timeout: a frame that
  // starts later then meets a watchdog already due before its deadline, and
  // the reader never has to wake it (the hot path only compares times).
  if (!in_frame_ && o.frame_timeout.count() > 0) consider(now + o.frame_timeout, Timeout::kNone);
  return deadline;
}

void Session::WatchdogDeadline(TimePoint deadline) {
  if (deadline < watchdog_expiry_) {
    watchdog_expiry_ = deadline;
    watchdog_.cancel();
  }
}

void Session::CloseForBadInput(std::atomic<int64_t>& counter, const std::string& why) {
  Inc(counter);
  int64_t suppressed = 0;
  int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       asio::steady_timer::clock_type::now().time_since_epoch())
                       .count();
  if (BadConnectionLog().Allow(now_ms, &suppressed)) {
    LOG(WARNING) << "connection " << id_ << " from " << peer_ << ": " << why << "; closing it"
                 << (suppressed > 0
                         ? " (" + std::to_string(suppressed) + " similar lines suppressed)"
                         : std::string());
  } else {
    Inc(metrics_->log_lines_suppressed);
  }
  CloseOnStrand();
}

asio::awaitable<void> Session::WriteLoop(std::shared_ptr<Session> self) {
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
    // Written in steps, so the write deadline measures a client that takes
    // nothing, not one that reads a large answer slowly.
    writing_ = true;
    ec.clear();  // (it holds the wakeup's operation_aborted)
    for (size_t written = 0; written < writing.size() && !ec;) {
      write_started_ = asio::steady_timer::clock_type::now();
      if (options_.write_timeout.count() > 0) {
        WatchdogDeadline(write_started_ + options_.write_timeout);
      }
      size_t n = co_await socket_.async_write_some(
          asio::buffer(writing.data() + written, writing.size() - written),
          asio::redirect_error(asio::use_awaitable, ec));
      written += n;
    }
    writing_ = false;
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
    LOG(ERROR) << "connection " << id_ << ": cannot serialize frame of " << frame.ByteSizeLong()
               << " bytes";
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
    asio::post(socket_.get_executor(),
               [self = shared_from_this()] { self->write_wakeup_.cancel(); });
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
  watchdog_.cancel();
  auto outbound = std::move(outbound_);
  outbound_.clear();
  for (auto& [id, done] : outbound) done(Status::Unavailable("connection closed"));
  if (on_closed_) on_closed_(id_);
}

}  // namespace halfmq::broker
