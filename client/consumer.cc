// Consumer: receive / ack (also asynchronously) / nack over one Connection.
#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "client/connection.h"
#include "client/convert.h"
#include "common/limits.h"
#include "common/utf8.h"
#include "halfmq/consumer.h"

namespace halfmq {
namespace {

// Receipt handles per Ack request; larger AckBatch calls are split.
constexpr size_t kMaxHandlesPerRequest = kMaxReceiveMessages;
// Nack reasons are informational; a long one only costs broker memory.
constexpr size_t kMaxReasonBytes = 1024;

Status CheckMs(std::string_view what, std::chrono::milliseconds value, uint32_t max) {
  if (value.count() < 0 || value.count() > max) {
    return Status::InvalidArgument(std::string(what) + " must be in 0.." + std::to_string(max) +
                                   " ms");
  }
  return Status::Ok();
}

Status CheckHandle(const std::string& handle) {
  if (handle.empty()) return Status::InvalidArgument("receipt handle is empty");
  return Status::Ok();
}

// The Ack request for handles [start, end) of `handles`.
v1::Frame AckRequest(const std::string& group, const std::vector<std::string>& handles,
                     size_t start, size_t end) {
  v1::Frame request;
  v1::AckRequest* ack = request.mutable_ack();
  ack->set_group(group);
  for (size_t i = start; i < end; ++i) ack->add_receipt_handles(handles[i]);
  return request;
}

// The per-handle statuses of an Ack response for `n` handles.
Result<std::vector<Status>> AckStatuses(const Result<v1::Frame>& response, size_t n) {
  if (!response.ok()) return response.status();
  return client::PerHandleStatuses(response->ack_response().results(), n);
}

}  // namespace

class Consumer::Impl {
 public:
  Impl(std::unique_ptr<client::Connection> connection, std::string group)
      : connection_(std::move(connection)), group_(std::move(group)) {}

  const std::string& group() const { return group_; }
  Result<std::vector<ReceivedMessage>> Receive(const std::string& topic,
                                               const ReceiveOptions& options);
  Result<std::vector<Status>> AckBatch(const std::vector<std::string>& receipt_handles);
  void AckBatchAsync(const std::vector<std::string>& receipt_handles,
                     std::function<void(Result<std::vector<Status>>)> done);
  // Without `delay`, the group's retry policy decides.
  Status Nack(const std::string& receipt_handle, std::optional<std::chrono::milliseconds> delay,
              const std::string& reason);
  Result<int64_t> ChangeInvisibleDuration(const std::string& receipt_handle,
                                          std::chrono::milliseconds invisible_for);

 private:
  std::unique_ptr<client::Connection> connection_;
  const std::string group_;
};

Result<std::vector<ReceivedMessage>> Consumer::Impl::Receive(const std::string& topic,
                                                             const ReceiveOptions& options) {
  HALFMQ_RETURN_IF_ERROR(client::ValidateReadableTopic(topic));
  if (options.max_messages < 1 || options.max_messages > kMaxReceiveMessages) {
    return Status::InvalidArgument("max_messages must be in 1.." +
                                   std::to_string(kMaxReceiveMessages));
  }
  HALFMQ_RETURN_IF_ERROR(CheckMs("invisible_for", options.invisible_for, kMaxInvisibleMs));
  HALFMQ_RETURN_IF_ERROR(CheckMs("wait", options.wait, kMaxWaitMs));
  if (!IsValidUtf8(options.tag_filter)) {
    return Status::InvalidArgument("tag filter is not valid UTF-8");
  }
  v1::Frame request;
  v1::ReceiveRequest* receive = request.mutable_receive();
  receive->set_group(group_);
  receive->set_topic(topic);
  receive->set_max_messages(options.max_messages);
  receive->set_invisible_ms(static_cast<uint32_t>(options.invisible_for.count()));
  receive->set_wait_ms(static_cast<uint32_t>(options.wait.count()));
  receive->set_tag_filter(options.tag_filter);
  client::CallOptions call_options;
  call_options.extra_timeout = options.wait;
  auto response = connection_->CallSync(std::move(request), call_options);
  if (!response.ok()) return response.status();
  std::vector<ReceivedMessage> messages;
  const auto& received = response->receive_response().messages();
  messages.reserve(received.size());
  for (const v1::ReceivedMessage& m : received) messages.push_back(client::FromProto(m));
  return messages;
}

Result<std::vector<Status>> Consumer::Impl::AckBatch(
    const std::vector<std::string>& receipt_handles) {
  for (const std::string& handle : receipt_handles) HALFMQ_RETURN_IF_ERROR(CheckHandle(handle));
  std::vector<Status> results;
  results.reserve(receipt_handles.size());
  for (size_t start = 0; start < receipt_handles.size(); start += kMaxHandlesPerRequest) {
    size_t end = std::min(receipt_handles.size(), start + kMaxHandlesPerRequest);
    auto statuses = AckStatuses(
        connection_->CallSync(AckRequest(group_, receipt_handles, start, end)), end - start);
    if (!statuses.ok()) return statuses.status();
    for (Status& s : *statuses) results.push_back(std::move(s));
  }
  return results;
}

void Consumer::Impl::AckBatchAsync(const std::vector<std::string>& receipt_handles,
                                   std::function<void(Result<std::vector<Status>>)> done) {
  for (const std::string& handle : receipt_handles) {
    Status s = CheckHandle(handle);
    if (!s.ok()) {
      // Delivered on the client thread like every other outcome.
      connection_->Post([done = std::move(done), s] { done(s); });
      return;
    }
  }
  // One request per kMaxHandlesPerRequest handles; the last to answer
  // reports for all (the first error, or every status in order).
  struct Join {
    std::mutex mu;
    std::vector<Status> results;
    Status error;
    size_t remaining = 0;
    std::function<void(Result<std::vector<Status>>)> done;
  };
  auto join = std::make_shared<Join>();
  join->results.resize(receipt_handles.size());
  join->done = std::move(done);
  join->remaining = (receipt_handles.size() + kMaxHandlesPerRequest - 1) / kMaxHandlesPerRequest;
  if (join->remaining == 0) {
    connection_->Post([join] { join->done(std::vector<Status>()); });
    return;
  }
  for (size_t start = 0; start < receipt_handles.size(); start += kMaxHandlesPerRequest) {
    size_t end = std::min(receipt_handles.size(), start + kMaxHandlesPerRequest);
    connection_->Call(AckRequest(group_, receipt_handles, start, end), client::CallOptions{},
                      [join, start, end](Result<v1::Frame> response) {
                        auto statuses = AckStatuses(response, end - start);
                        bool last;
                        {
                          std::lock_guard<std::mutex> lock(join->mu);
                          if (!statuses.ok()) {
                            if (join->error.ok()) join->error = statuses.status();
                          } else {
                            for (size_t i = 0; i < statuses->size(); ++i) {
                              join->results[start + i] = std::move((*statuses)[i]);
                            }
                          }
                          last = --join->remaining == 0;
                        }
                        if (!last) return;
                        if (!join->error.ok()) return join->done(join->error);
                        join->done(std::move(join->results));
                      });
  }
}

Status Consumer::Impl::Nack(const std::string& receipt_handle,
                            std::optional<std::chrono::milliseconds> delay,
                            const std::string& reason) {
  HALFMQ_RETURN_IF_ERROR(CheckHandle(receipt_handle));
  if (delay.has_value()) HALFMQ_RETURN_IF_ERROR(CheckMs("nack delay", *delay, kMaxInvisibleMs));
  v1::Frame request;
  v1::NackRequest* nack = request.mutable_nack();
  nack->set_group(group_);
  nack->add_receipt_handles(receipt_handle);
  // Unset (not 0) lets the broker apply the group's retry policy.
  if (delay.has_value()) nack->set_delay_ms(static_cast<uint32_t>(delay->count()));
  nack->set_reason(SanitizeUtf8(reason.substr(0, kMaxReasonBytes)));
  auto response = connection_->CallSync(std::move(request));
  if (!response.ok()) return response.status();
  auto statuses = client::PerHandleStatuses(response->nack_response().results(), 1);
  if (!statuses.ok()) return statuses.status();
  return statuses->front();
}

Result<int64_t> Consumer::Impl::ChangeInvisibleDuration(const std::string& receipt_handle,
                                                        std::chrono::milliseconds invisible_for) {
  HALFMQ_RETURN_IF_ERROR(CheckHandle(receipt_handle));
  HALFMQ_RETURN_IF_ERROR(CheckMs("invisible_for", invisible_for, kMaxInvisibleMs));
  v1::Frame request;
  v1::ChangeInvisibleDurationRequest* change = request.mutable_change_invisible_duration();
  change->set_group(group_);
  change->set_receipt_handle(receipt_handle);
  change->set_invisible_ms(static_cast<uint32_t>(invisible_for.count()));
  auto response = connection_->CallSync(std::move(request));
  if (!response.ok()) return response.status();
  return response->change_invisible_duration_response().invisible_until_ms();
}

Result<std::unique_ptr<Consumer>> Consumer::Connect(const ClientOptions& options,
                                                    std::string group) {
  HALFMQ_RETURN_IF_ERROR(client::ValidateGroup(group));
  auto connection = client::Connection::Create(options);
  if (!connection.ok()) return connection.status();
  HALFMQ_RETURN_IF_ERROR((*connection)->Connect());
  return std::unique_ptr<Consumer>(
      new Consumer(std::make_unique<Impl>(std::move(connection).value(), std::move(group))));
}

Consumer::Consumer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Consumer::~Consumer() = default;

const std::string& Consumer::group() const { return impl_->group(); }

Result<std::vector<ReceivedMessage>> Consumer::Receive(const std::string& topic,
                                                       const ReceiveOptions& options) {
  return impl_->Receive(topic, options);
}

Status Consumer::Ack(const ReceivedMessage& message) { return Ack(message.receipt_handle); }

Status Consumer::Ack(const std::string& receipt_handle) {
  auto results = impl_->AckBatch({receipt_handle});
  if (!results.ok()) return results.status();
  return results->front();
}

Result<std::vector<Status>> Consumer::AckBatch(const std::vector<std::string>& receipt_handles) {
  return impl_->AckBatch(receipt_handles);
}

void Consumer::AckBatchAsync(const std::vector<std::string>& receipt_handles,
                             std::function<void(Result<std::vector<Status>>)> done) {
  impl_->AckBatchAsync(receipt_handles, std::move(done));
}

Status Consumer::Nack(const ReceivedMessage& message, const std::string& reason) {
  return impl_->Nack(message.receipt_handle, std::nullopt, reason);
}

Status Consumer::Nack(const ReceivedMessage& message, std::chrono::milliseconds delay,
                      const std::string& reason) {
  return impl_->Nack(message.receipt_handle, delay, reason);
}

Result<int64_t> Consumer::ChangeInvisibleDuration(const ReceivedMessage& message,
                                                  std::chrono::milliseconds invisible_for) {
  return impl_->ChangeInvisibleDuration(message.receipt_handle, invisible_for);
}

}  // namespace halfmq
