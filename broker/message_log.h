// MessageLog: the append path every committed message takes, whether sent
// directly or committed from a transaction. It validates wire messages, picks
// queues, assigns offsets, and commits the messages together with any other
// state change in the caller's Batch (e.g. deleting a half record), so the
// whole change is one WriteBatch (design invariant 2).
//
// Thread-safe; holds no state of its own beyond pointers.
#ifndef HALFMQ_BROKER_MESSAGE_LOG_H_
#define HALFMQ_BROKER_MESSAGE_LOG_H_

#include <functional>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "broker/metrics.h"
#include "broker/topic_manager.h"
#include "common/clock.h"
#include "common/status.h"
#include "proto/halfmq/v1/api.pb.h"
#include "storage/store.h"

namespace halfmq::broker {

struct MessageLimits {
  size_t max_message_bytes = 4 << 20;
  // Longest delay (or furthest deliver-at) a message may ask for.
  int64_t max_delay_ms = 30ll * 24 * 3600 * 1000;
};

// A validated message with its destination, ready to append.
struct AppendEntry {
  std::shared_ptr<Topic> topic;
  QueueId queue;
  std::string message_id;
  v1::StoredMessage record;  // store_time_ms is set at append
};

class MessageLog {
 public:
  MessageLog(storage::Store* store, TopicManager* topics, Clock* clock, Metrics* metrics,
             MessageLimits limits)
      : store_(store), topics_(topics), clock_(clock), metrics_(metrics), limits_(limits) {}

  // Validates `messages` (consumed) and resolves their queues. Messages of
  // one topic without a queue selector share one round-robin queue per call.
  // Errors: INVALID_ARGUMENT (empty batch, too many messages, bad name, id,
  // key, tag, properties, sharding key, delivery time, queue id, or a message
  // over max_message_bytes), NOT_FOUND (topic).
  Result<std::vector<AppendEntry>> Prepare(
      google::protobuf::RepeatedPtrField<v1::Message>* messages) const;

  // Like Prepare, for messages validated when they were stored (a
  // transaction's half messages): only topics and queues are resolved, so a
  // later change of limits cannot strand a transaction that must commit.
  // Errors: NOT_FOUND (topic), INVALID_ARGUMENT (queue no longer exists).
  Result<std::vector<AppendEntry>> PrepareStored(
      google::protobuf::RepeatedPtrField<v1::Message>* messages) const;

  // Checks one message without consuming it (used for half messages).
  // Errors: INVALID_ARGUMENT naming the field and its limit.
  Status Validate(const v1::Message& message) const;

  // When a message asking for delayed delivery is due, counting a relative
  // delay from `now` (the send, or a transaction's commit); nullopt when it
  // is due at once.
  static std::optional<int64_t> DueTime(const v1::Message& message, int64_t now);

  // Called with the assigned locations just before the batch is committed,
  // to add state that depends on them (a transaction's remembered outcome).
  using Finalize = std::function<void(const std::vector<v1::SendResult>&, storage::Batch*)>;

  // Assigns offsets to `entries` and commits them with everything already
  // in `batch` as one write. `done` runs on the committer thread once the
  // write is durable, with one result per entry in order; by then the
  // messages are visible to consumers.
  void Append(std::vector<AppendEntry> entries, storage::Batch batch, const std::string& txn_id,
              std::function<void(std::vector<v1::SendResult>)> done,
              Finalize finalize = nullptr);

  const MessageLimits& limits() const { return limits_; }
  TopicManager* topics() const { return topics_; }

 private:
  // deliver_at_ms / delay_ms: not negative, not both, within max_delay_ms.
  Status ValidateDelivery(const v1::Message& message) const;

  Result<std::vector<AppendEntry>> Resolve(
      google::protobuf::RepeatedPtrField<v1::Message>* messages, bool validate) const;

  storage::Store* const store_;
  TopicManager* const topics_;
  Clock* const clock_;
  Metrics* const metrics_;
  const MessageLimits limits_;
};

// Stable hash of a sharding key to a queue: FNV-1a 64 modulo queue count,
// so that clients can predict it (docs/protocol.md).
QueueId QueueForShardingKey(const std::string& key, uint32_t queue_count);

}  // namespace halfmq::broker

#endif  // HALFMQ_BROKER_MESSAGE_LOG_H_
