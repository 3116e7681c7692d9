// Producer: sends messages. Thread-safe; one Producer shares one connection
// among all threads that use it. A message without an id gets one generated
// once, before the first attempt, so a retried send carries the same id.
// Destroying a Producer completes outstanding SendAsync calls with
// UNAVAILABLE "client closed".
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
  // unknown topic; INVALID_ARGUMENT for a bad name, queue id or oversize
  // message; UNAVAILABLE / RESOURCE_EXHAUSTED after retries ran out.
  Result<SendReceipt> Send(const Message& message);

  // Sends messages atomically: all are stored or none. Receipts are in
  // order. Same errors as Send.
  Result<std::vector<SendReceipt>> SendBatch(const std::vector<Message>& messages);

  // Sends without waiting. `done` runs once, on the client's thread, also
  // for validation errors; it must not block, and may call SendAsync again
  // but not the synchronous methods (they return FAILED_PRECONDITION there).
  // Many sends may be outstanding at once (up to
  // ClientOptions::max_inflight_requests; beyond that the call waits, except
  // when made from a `done` callback).
  void SendAsync(const Message& message, std::function<void(Result<SendReceipt>)> done);

 private:
  class Impl;
  explicit Producer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace halfmq

#endif  // HALFMQ_CLIENT_PRODUCER_H_
