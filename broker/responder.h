// How service handlers answer requests without knowing about sockets.
//
// A ResponseSink is one connection's outgoing side (implemented by Session,
// and by a recording sink in unit tests). A Responder is the promise to
// answer one request: handlers receive it by value, may move it into
// callbacks that run on any thread, and call exactly one of Ok/Error/Reply.
// A Responder destroyed without answering answers INTERNAL, so a bug cannot
// leave a client waiting forever.
#ifndef HALFMQ_BROKER_RESPONDER_H_
#define HALFMQ_BROKER_RESPONDER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "broker/memory_budget.h"
#include "common/status.h"
#include "proto/halfmq/v1/api.pb.h"

namespace halfmq::broker {

// Thread-safe.
class ResponseSink {
 public:
  virtual ~ResponseSink() = default;
  // Queues a frame (a response, or a broker-initiated request) for sending.
  // `answers_request` is true for the response to a client request, which
  // frees one of the connection's in-flight slots. Frames for a closed
  // connection are dropped.
  virtual void SendFrame(v1::Frame frame, bool answers_request) = 0;
};

// A client connection as services see it: somewhere to send frames, with an
// identity for logs and for routing broker-initiated requests.
class Connection : public ResponseSink {
 public:
  virtual uint64_t id() const = 0;
  virtual const std::string& peer() const = 0;
  // Set by Hello; empty until then. Thread-safe.
  virtual void SetClientId(const std::string& client_id) = 0;
  virtual std::string client_id() const = 0;
  // Sends a broker-initiated request (a transaction check). `done` runs once,
  // on the connection's strand, with the client's response frame, or
  // UNAVAILABLE if the connection closes first. It must not block.
  virtual void SendRequest(v1::Frame request,
                           std::function<void(Result<v1::Frame>)> done) = 0;
};

class Responder {
 public:
  Responder() = default;
  Responder(std::shared_ptr<ResponseSink> sink, uint64_t request_id, BudgetLease lease)
      : sink_(std::move(sink)), request_id_(request_id), lease_(std::move(lease)) {}
  Responder(Responder&&) = default;
  Responder& operator=(Responder&& other) noexcept {
    if (this != &other) {
      if (sink_) Error(Status::Internal("request dropped by the broker"));
      sink_ = std::move(other.sink_);
      request_id_ = other.request_id_;
      lease_ = std::move(other.lease_);
    }
    return *this;
  }
  ~Responder() {
    if (sink_) Error(Status::Internal("request dropped by the broker"));
  }

  // Answers OK with `body`, a Frame whose response oneof is set.
  void Ok(v1::Frame body) { Reply(Status::Ok(), std::move(body)); }
  // Answers with an error and no body.
  void Error(const Status& status) { Reply(status, v1::Frame()); }
  void Reply(const Status& status, v1::Frame body) {
    if (!sink_) return;
    body.set_request_id(request_id_);
    body.set_type(v1::RESPONSE);
    body.mutable_status()->set_code(static_cast<v1::Status::Code>(status.code()));
    if (!status.ok()) body.mutable_status()->set_message(status.message());
    std::shared_ptr<ResponseSink> sink = std::move(sink_);
    sink_.reset();
    lease_.Reset();
    sink->SendFrame(std::move(body), /*answers_request=*/true);
  }

  bool answered() const { return sink_ == nullptr; }
  uint64_t request_id() const { return request_id_; }

 private:
  std::shared_ptr<ResponseSink> sink_;
  uint64_t request_id_ = 0;
  BudgetLease lease_;
};

}  // namespace halfmq::broker

#endif  // HALFMQ_BROKER_RESPONDER_H_
