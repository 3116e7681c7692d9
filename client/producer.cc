// Producer: validates and encodes messages (client/convert.h) and sends them
// over its Connection. Message ids are assigned in BuildSendFrame, before the
// first attempt, so every retry carries the same ids.
#include "halfmq/producer.h"

#include <utility>

#include "client/connection.h"
#include "client/convert.h"

namespace halfmq {

class Producer::Impl {
 public:
  explicit Impl(std::unique_ptr<client::Connection> connection)
      : connection_(std::move(connection)) {}

  Result<std::vector<SendReceipt>> SendBatch(const std::vector<Message>& messages) {
    auto frame = client::BuildSendFrame(messages);
    if (!frame.ok()) return frame.status();
    auto response = connection_->CallSync(std::move(frame).value());
    if (!response.ok()) return response.status();
    return client::ReceiptsFromResponse(*response, messages.size());
  }

  void SendBatchAsync(const std::vector<Message>& messages,
                      std::function<void(Result<std::vector<SendReceipt>>)> done) {
    auto frame = client::BuildSendFrame(messages);
    if (!frame.ok()) {
      connection_->Post([done = std::move(done), status = frame.status()] { done(status); });
      return;
    }
    size_t count = messages.size();
    connection_->Call(std::move(frame).value(), client::CallOptions{},
                      [done = std::move(done), count](Result<v1::Frame> response) {
                        if (!response.ok()) return done(response.status());
                        done(client::ReceiptsFromResponse(*response, count));
                      });
  }

  void SendAsync(const Message& message, std::function<void(Result<SendReceipt>)> done) {
    auto frame = client::BuildSendFrame({message});
    if (!frame.ok()) {
      // Delivered on the client thread like every other outcome, so callers
      // need not handle a re-entrant callback.
      connection_->Post([done = std::move(done), status = frame.status()] { done(status); });
      return;
    }
    connection_->Call(std::move(frame).value(), client::CallOptions{},
                      [done = std::move(done)](Result<v1::Frame> response) {
                        if (!response.ok()) {
                          done(response.status());
                          return;
                        }
                        auto receipts = client::ReceiptsFromResponse(*response, 1);
                        if (!receipts.ok()) {
                          done(receipts.status());
                          return;
                        }
                        done(std::move(receipts->front()));
                      });
  }

 private:
  std::unique_ptr<client::Connection> connection_;
};

Result<std::unique_ptr<Producer>> Producer::Connect(const ClientOptions& options) {
  auto connection = client::Connection::Create(options);
  if (!connection.ok()) return connection.status();
  HALFMQ_RETURN_IF_ERROR((*connection)->Connect());
  return std::unique_ptr<Producer>(
      new Producer(std::make_unique<Impl>(std::move(connection).value())));
}

Producer::Producer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Producer::~Producer() = default;

Result<SendReceipt> Producer::Send(const Message& message) {
  auto receipts = impl_->SendBatch({message});
  if (!receipts.ok()) return receipts.status();
  return std::move(receipts->front());
}

Result<std::vector<SendReceipt>> Producer::SendBatch(const std::vector<Message>& messages) {
  return impl_->SendBatch(messages);
}

void Producer::SendAsync(const Message& message, std::function<void(Result<SendReceipt>)> done) {
  impl_->SendAsync(message, std::move(done));
}

void Producer::SendBatchAsync(const std::vector<Message>& messages,
                              std::function<void(Result<std::vector<SendReceipt>>)> done) {
  impl_->SendBatchAsync(messages, std::move(done));
}

}  // namespace halfmq
