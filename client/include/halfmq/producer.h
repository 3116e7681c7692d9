// Producer: sends messages. Thread-safe; one Producer shares one connection
// among all threads that use it. Destroying a Producer completes outstanding
// SendAsync calls with UNAVAILABLE "client closed".
//
// Idempotent sends: the message id is the idempotency key (Message::Id). A
// message without an id gets one generated once, before the first attempt,
// and the client retries UNAVAILABLE and RESOURCE_EXHAUSTED failures (up to
// ClientOptions::max_retries, with full-jitter backoff) resending the same
// ids. The broker remembers ids for its dedup window (10 minutes by default,
// across restarts): a send whose id it already stored in that window stores
// nothing and returns the original SendReceipt with `deduplicated` set. So a
// retry never stores a message twice, and a caller that sets its own ids
// (e.g. order numbers) may itself retry a send whose outcome it does not
// know, with the same ids.
#ifndef HALFMQ_CLIENT_PRODUCER_H_
#define HALFMQ_CLIENT_PRODUCER_H_

#include <functional>
#include <memory>
#include <vector>

#include "common/status.h"
#include "halfmq/message.h"
#include "halfmq/options.h"

namespace halfmq {

class Producer {
 public:
  // Connects to options.broker. Errors: UNAVAILABLE if the broker cannot be
  // reached within connect_timeout (after retries), INVALID_ARGUMENT for a
  // malformed broker address.
  static Result<std::unique_ptr<Producer>> Connect(const ClientOptions& options);

  ~Producer();
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  // Sends one message and waits until it is durable. Errors: NOT_FOUND for an
  // unknown topic; INVALID_ARGUMENT for a bad name, queue id, message group,
  // delay (or a delivery time beyond the broker's maximum) or oversize
  // message; UNAVAILABLE / RESOURCE_EXHAUSTED after retries ran out (the
  // message may or may not be stored: send it again with the same id).
  Result<SendReceipt> Send(const Message& message);

  // Sends messages atomically: all are stored or none. Receipts are in
  // order. Same errors as Send. A batch retried after it was stored is
  // answered with every receipt `deduplicated`.
  Result<std::vector<SendReceipt>> SendBatch(const std::vector<Message>& messages);

  // Sends without waiting. `done` runs once, on the client's thread, also
  // for validation errors; it must not block, and may call SendAsync again
  // but not the synchronous methods (they return FAILED_PRECONDITION there).
  // Many sends may be outstanding at once (up to
  // ClientOptions::max_inflight_requests; beyond that the call waits, except
  // when made from a `done` callback).
  void SendAsync(const Message& message, std::function<void(Result<SendReceipt>)> done);

  // SendBatch without waiting: the messages are stored atomically, all or
  // none, and `done` runs once with their receipts in order (same rules as
  // SendAsync). The way to high throughput: one request, one durable write
  // for many messages.
  void SendBatchAsync(const std::vector<Message>& messages,
                      std::function<void(Result<std::vector<SendReceipt>>)> done);

 private:
  class Impl;
  explicit Producer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace halfmq

#endif  // HALFMQ_CLIENT_PRODUCER_H_
