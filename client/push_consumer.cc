// PushConsumer: one receive thread feeding `concurrency` worker threads.
//
// The receiver asks the broker for at most (concurrency - held) messages,
// where `held` counts messages queued for or running in a worker, so the
// consumer never holds more messages than it can work on at once: the rest
// stay with the broker, visible to other consumers of the group. Workers run
// the listener and ack or nack from their own thread (synchronous calls are
// fine there, they are not the connection's thread).
//
// Stop: the receiver finishes its current long poll (up to poll_wait) and
// nacks anything that poll returned; workers finish the listener they are
// running and send its ack or nack; messages still queued are nacked with no
// delay so another consumer gets them at once.
#include <algorithm>
#include <deque>
#include <exception>
#include <thread>
#include <utility>
#include <vector>

#include "client/backoff.h"
#include "client/convert.h"
#include "common/limits.h"
#include "common/mutex.h"
#include "common/thread_name.h"
#include "common/utf8.h"
#include "halfmq/consumer.h"

namespace halfmq {
namespace {

// More listener threads than this is a misconfiguration; it also keeps
// (concurrency - held) within one Receive's limit.
constexpr int kMaxConcurrency = static_cast<int>(kMaxReceiveMessages);

Status ValidatePushOptions(const PushConsumerOptions& o) {
  HALFMQ_RETURN_IF_ERROR(client::ValidateReadableTopic(o.topic));
  if (o.concurrency < 1 || o.concurrency > kMaxConcurrency) {
    return Status::InvalidArgument("concurrency must be in 1.." + std::to_string(kMaxConcurrency));
  }
  auto in_range = [](std::chrono::milliseconds v, uint32_t max) {
    return v.count() >= 0 && v.count() <= max;
  };
  if (!in_range(o.invisible_for, kMaxInvisibleMs)) {
    return Status::InvalidArgument("invisible_for is out of range");
  }
  if (o.retry_delay.has_value() && !in_range(*o.retry_delay, kMaxInvisibleMs)) {
    return Status::InvalidArgument("retry_delay is out of range");
  }
  if (!in_range(o.poll_wait, kMaxWaitMs)) {
    return Status::InvalidArgument("poll_wait is out of range");
  }
  if (!IsValidUtf8(o.tag_filter)) {
    return Status::InvalidArgument("tag_filter is not valid UTF-8");
  }
  return Status::Ok();
}

}  // namespace

class PushConsumer::Impl {
 public:
  Impl(std::unique_ptr<Consumer> consumer, PushConsumerOptions options, Listener listener,
       ClientOptions client_options)
      : consumer_(std::move(consumer)),
        options_(std::move(options)),
        listener_(std::move(listener)),
        backoff_initial_(client_options.reconnect_backoff_initial),
        backoff_max_(client_options.reconnect_backoff_max) {}

  ~Impl() { Stop(); }

  void Start() {
    receiver_ = std::thread([this] {
      SetCurrentThreadName("halfmq-pushrecv");
      ReceiveLoop();
    });
    workers_.reserve(static_cast<size_t>(options_.concurrency));
    for (int i = 0; i < options_.concurrency; ++i) {
      workers_.emplace_back([this] {
        SetCurrentThreadName("halfmq-pushwork");
        WorkLoop();
      });
    }
  }

  void Stop() EXCLUDES(mu_) {
    {
      MutexLock lock(&mu_);
      stopping_ = true;
      work_cv_.SignalAll();
      capacity_cv_.SignalAll();
    }
    // A listener calling Stop cannot wait for itself; the owner's destructor
    // (on another thread) completes the stop.
    std::thread::id self = std::this_thread::get_id();
    for (const std::thread& w : workers_) {
      if (w.get_id() == self) return;
    }
    MutexLock join_lock(&join_mu_);
    if (receiver_.joinable()) receiver_.join();
    for (std::thread& w : workers_) {
      if (w.joinable()) w.join();
    }
    std::deque<ReceivedMessage> unstarted;
    {
      MutexLock lock(&mu_);
      unstarted.swap(queue_);
      held_ -= static_cast<int>(unstarted.size());
    }
    for (const ReceivedMessage& m : unstarted) {
      consumer_->Nack(m, std::chrono::milliseconds(0), "consumer stopping").IgnoreError();
    }
  }

 private:
  void ReceiveLoop() EXCLUDES(mu_) {
    int failures = 0;
    for (;;) {
      int want;
      {
        MutexLock lock(&mu_);
        while (!stopping_ && held_ >= options_.concurrency) capacity_cv_.Wait(&mu_);
        if (stopping_) return;
        want = options_.concurrency - held_;
      }
      ReceiveOptions receive;
      receive.max_messages = static_cast<uint32_t>(want);
      receive.invisible_for = options_.invisible_for;
      receive.wait = options_.poll_wait;
      receive.tag_filter = options_.tag_filter;
      auto received = consumer_->Receive(options_.topic, receive);
      if (!received.ok()) {
        // Errors here have no caller to go to. Retryable ones were already
        // retried by the connection; others (e.g. NOT_FOUND before the topic
        // exists) may heal, so keep trying, slowly.
        auto delay = client::BackoffDelay(failures++, backoff_initial_, backoff_max_);
        MutexLock lock(&mu_);
        if (!stopping_) capacity_cv_.WaitFor(&mu_, delay);
        continue;
      }
      failures = 0;
      bool stopping;
      {
        MutexLock lock(&mu_);
        stopping = stopping_;
        if (!stopping) {
          for (ReceivedMessage& m : *received) queue_.push_back(std::move(m));
          held_ += static_cast<int>(received->size());
          work_cv_.SignalAll();
        }
      }
      if (stopping) {
        for (const ReceivedMessage& m : *received) {
          consumer_->Nack(m, std::chrono::milliseconds(0), "consumer stopping").IgnoreError();
        }
        return;
      }
    }
  }

  void WorkLoop() EXCLUDES(mu_) {
    for (;;) {
      ReceivedMessage message;
      {
        MutexLock lock(&mu_);
        while (!stopping_ && queue_.empty()) work_cv_.Wait(&mu_);
        if (stopping_) return;  // Stop nacks what is still queued
        message = std::move(queue_.front());
        queue_.pop_front();
      }
      std::string failure;
      ConsumeResult result = ConsumeResult::kRetryLater;
      try {
        result = listener_(message);
        if (result != ConsumeResult::kSuccess) failure = "listener asked to retry later";
      } catch (const std::exception& e) {
        failure = std::string("listener threw: ") + e.what();
      } catch (...) {
        failure = "listener threw a non-standard exception";
      }
      // An ack or nack that fails (e.g. the handle expired because the
      // listener outran invisible_for) needs no action: the broker redelivers.
      if (failure.empty()) {
        consumer_->Ack(message).IgnoreError();
      } else if (options_.retry_delay.has_value()) {
        consumer_->Nack(message, *options_.retry_delay, failure).IgnoreError();
      } else {
        consumer_->Nack(message, failure).IgnoreError();  // the group's retry policy
      }
      MutexLock lock(&mu_);
      --held_;
      capacity_cv_.Signal();
    }
  }

  const std::unique_ptr<Consumer> consumer_;
  const PushConsumerOptions options_;
  const Listener listener_;
  const std::chrono::milliseconds backoff_initial_;
  const std::chrono::milliseconds backoff_max_;

  Mutex mu_;
  CondVar work_cv_;      // queue_ not empty, or stopping_
  CondVar capacity_cv_;  // held_ dropped, or stopping_
  std::deque<ReceivedMessage> queue_ GUARDED_BY(mu_);
  int held_ GUARDED_BY(mu_) = 0;  // queued + running
  bool stopping_ GUARDED_BY(mu_) = false;

  Mutex join_mu_;  // serializes concurrent Stop calls past the signal
  std::thread receiver_;
  std::vector<std::thread> workers_;
};

Result<std::unique_ptr<PushConsumer>> PushConsumer::Start(const ClientOptions& options,
                                                          std::string group,
                                                          PushConsumerOptions push_options,
                                                          Listener listener) {
  HALFMQ_RETURN_IF_ERROR(ValidatePushOptions(push_options));
  if (!listener) return Status::InvalidArgument("listener is empty");
  auto consumer = Consumer::Connect(options, std::move(group));
  if (!consumer.ok()) return consumer.status();
  auto impl = std::make_unique<Impl>(std::move(consumer).value(), std::move(push_options),
                                     std::move(listener), options);
  impl->Start();
  return std::unique_ptr<PushConsumer>(new PushConsumer(std::move(impl)));
}

PushConsumer::PushConsumer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PushConsumer::~PushConsumer() = default;

void PushConsumer::Stop() { impl_->Stop(); }

}  // namespace halfmq
