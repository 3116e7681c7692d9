// Consumers with per-message acknowledgement.
//
// Consumer is the pull API: Receive a batch, then Ack or Nack each message.
// PushConsumer runs a listener on a bounded pool and acks or nacks for you.
// Several consumers in one group share its messages: each message goes to one
// of them, and goes again (attempt + 1) if it is not acked in time.
#ifndef HALFMQ_CLIENT_CONSUMER_H_
#define HALFMQ_CLIENT_CONSUMER_H_

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "halfmq/message.h"
#include "halfmq/options.h"

namespace halfmq {

struct ReceiveOptions {
  uint32_t max_messages = 32;
  // Received messages stay hidden from the group this long unless acked.
  std::chrono::milliseconds invisible_for{30000};
  // Long-poll for up to this long when nothing is available.
  std::chrono::milliseconds wait{1000};
};

// Thread-safe; calls from many threads share one connection and are
// pipelined.
class Consumer {
 public:
  // Errors: as Producer::Connect, and INVALID_ARGUMENT for a bad group name.
  static Result<std::unique_ptr<Consumer>> Connect(const ClientOptions& options, std::string group);
  ~Consumer();
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  const std::string& group() const;

  // Receives up to options.max_messages; an empty vector means none arrived
  // within options.wait. The first Receive subscribes the group to the topic
  // at its earliest retained message. Errors: NOT_FOUND (topic),
  // INVALID_ARGUMENT, UNAVAILABLE.
  Result<std::vector<ReceivedMessage>> Receive(const std::string& topic,
                                               const ReceiveOptions& options);

  // Acknowledges; the message is never delivered to this group again.
  // Acking twice is OK. Errors: FAILED_PRECONDITION if the message was
  // delivered again since (the handle expired), INVALID_ARGUMENT for a
  // handle that is not this group's.
  Status Ack(const ReceivedMessage& message);
  Status Ack(const std::string& receipt_handle);
  // Acks many at once; one status per handle, in order.
  Result<std::vector<Status>> AckBatch(const std::vector<std::string>& receipt_handles);

  // Gives the message back for redelivery after `delay`. Same errors as Ack.
  Status Nack(const ReceivedMessage& message, std::chrono::milliseconds delay,
              const std::string& reason = "");

  // Keeps the message hidden for `invisible_for` from now (to extend work on
  // it). Returns the new deadline in broker ms. Same errors as Ack.
  Result<int64_t> ChangeInvisibleDuration(const ReceivedMessage& message,
                                          std::chrono::milliseconds invisible_for);

 private:
  class Impl;
  explicit Consumer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

enum class ConsumeResult {
  kSuccess,     // ack
  kRetryLater,  // nack with PushConsumerOptions::retry_delay
};

struct PushConsumerOptions {
  std::string topic;
  // Listener calls running at once (and messages held at once).
  int concurrency = 8;
  std::chrono::milliseconds invisible_for{30000};
  std::chrono::milliseconds retry_delay{1000};
  // Long-poll wait of each receive.
  std::chrono::milliseconds poll_wait{1000};
};

// Runs `listener` for every message of the topic delivered to the group, at
// most `concurrency` at a time; acks on kSuccess, nacks with retry_delay on
// kRetryLater or when the listener throws. It never holds more than
// `concurrency` messages, so the rest stay available to other consumers of
// the group. Receive errors are retried with backoff for as long as it runs
// (there is no caller to return them to).
//
// Thread-safe. Stop() (or the destructor) ends the receive loop (waiting for
// at most one poll_wait), waits for running listeners and sends their acks or
// nacks, and nacks with no delay the messages it had not started. Stop() from
// inside the listener only begins the stop; the destructor must not run on a
// listener thread.
class PushConsumer {
 public:
  using Listener = std::function<ConsumeResult(const ReceivedMessage&)>;

  static Result<std::unique_ptr<PushConsumer>> Start(const ClientOptions& options,
                                                     std::string group,
                                                     PushConsumerOptions push_options,
                                                     Listener listener);
  ~PushConsumer();
  PushConsumer(const PushConsumer&) = delete;
  PushConsumer& operator=(const PushConsumer&) = delete;

  void Stop();

 private:
  class Impl;
  explicit PushConsumer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace halfmq

#endif  // HALFMQ_CLIENT_CONSUMER_H_
