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
#include <optional>
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
  // Tag filter of the group's subscription to the topic: "*" (every
  // message) or tags joined by "||", e.g. "paid||refunded". Messages whose
  // tag does not match are skipped for the whole group (not just this
  // consumer). "" keeps the filter the subscription already has (none at
  // first); the last filter given wins. The broker checks the syntax
  // (INVALID_ARGUMENT).
  std::string tag_filter;
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
  // AckBatch without waiting: `done` runs once, on the client's thread, with
  // the same result (so it must not block; see the Producer's SendAsync).
  // Lets a consumer receive its next batch while the previous one's ack is
  // being made durable.
  void AckBatchAsync(const std::vector<std::string>& receipt_handles,
                     std::function<void(Result<std::vector<Status>>)> done);

  // Gives the message back as failed, for redelivery after the delay the
  // group's RetryPolicy sets for this attempt. When it was the last attempt
  // (RetryPolicy::max_attempts) the message moves to the group's dead-letter
  // topic instead. `reason` (truncated to 1 KiB, invalid UTF-8 replaced) is
  // kept with the message and shown with the dead letter and in its trace.
  // Same errors as Ack.
  Status Nack(const ReceivedMessage& message, const std::string& reason = "");
  // Nack with an explicit delay (0: at once) instead of the policy's; the
  // attempt still counts toward max_attempts. Errors: as Ack, and
  // INVALID_ARGUMENT for a delay outside 0..12 h.
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
  kRetryLater,  // nack: retried per the group's RetryPolicy (or retry_delay)
};

struct PushConsumerOptions {
  std::string topic;
  // Listener calls running at once (and messages held at once).
  int concurrency = 8;
  std::chrono::milliseconds invisible_for{30000};
  // Delay of the nack on kRetryLater or a throw. Unset (the default): the
  // delay the group's RetryPolicy gives for the attempt. Set: this delay for
  // every attempt (0..12 h); attempts still count toward max_attempts.
  std::optional<std::chrono::milliseconds> retry_delay;
  // Long-poll wait of each receive.
  std::chrono::milliseconds poll_wait{1000};
  // ReceiveOptions::tag_filter of every receive ("" keeps the group's).
  std::string tag_filter;
};

// Runs `listener` for every message of the topic delivered to the group, at
// most `concurrency` at a time; acks on kSuccess, nacks on kRetryLater or
// when the listener throws (with the listener's exception text as the
// reason), after the group's RetryPolicy delay unless `retry_delay` is set.
// A message that fails its last attempt is dead-lettered by the broker. It
// never holds more than `concurrency` messages, so the rest stay available
// to other consumers of the group. Receive errors are retried with backoff for as long as it runs
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
