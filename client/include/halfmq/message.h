// Messages as producers build them and as consumers receive them.
#ifndef HALFMQ_CLIENT_MESSAGE_H_
#define HALFMQ_CLIENT_MESSAGE_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace halfmq {

// A message to send, built fluently:
//   halfmq::Message("order-paid").Key(order_id).Tag("paid").Body(json)
// A value type; copyable and movable.
//
// Queue selection: Queue, ShardingKey and MessageGroup exclude each other;
// the last one set wins. Without any of them the broker spreads messages over
// the topic's queues. Delivery time: DeliverAt and Delay exclude each other
// the same way.
class Message {
 public:
  explicit Message(std::string topic) : topic_(std::move(topic)) {}

  // Adds a lookup key (a message may have several).
  Message& Key(std::string key) {
    keys_.push_back(std::move(key));
    return *this;
  }
  Message& Tag(std::string tag) {
    tag_ = std::move(tag);
    return *this;
  }
  Message& Property(std::string name, std::string value) {
    properties_[std::move(name)] = std::move(value);
    return *this;
  }
  Message& Body(std::string body) {
    body_ = std::move(body);
    return *this;
  }
  // Pins the message to one queue of its topic.
  Message& Queue(uint32_t queue_id) {
    queue_id_ = queue_id;
    sharding_key_.clear();
    message_group_.clear();
    return *this;
  }
  // Messages with equal sharding keys land in the same queue, in send order.
  // At most 128 bytes of UTF-8 without control bytes.
  Message& ShardingKey(std::string key) {
    sharding_key_ = std::move(key);
    queue_id_.reset();
    message_group_.clear();
    return *this;
  }
  // FIFO message group (1..128 bytes, no control bytes; "" for none).
  // Messages of one group land in the same queue, in send order, and on a
  // FIFO topic (TopicOptions::fifo) a group's next message is delivered only
  // after the previous one was acked or dead-lettered; different groups are
  // delivered in parallel. On a non-FIFO topic it acts as a sharding key.
  Message& MessageGroup(std::string group) {
    message_group_ = std::move(group);
    queue_id_.reset();
    sharding_key_.clear();
    return *this;
  }

  // Delayed delivery: the message is stored now and becomes visible to
  // consumers at `broker_ms` (ms since the Unix epoch by the BROKER's clock;
  // a time in the past delivers at once). It survives broker restarts. The
  // broker bounds how far ahead (--max_delay_ms, 30 days by default) and
  // answers INVALID_ARGUMENT beyond that.
  Message& DeliverAt(int64_t broker_ms) {
    deliver_at_ms_ = broker_ms;
    delay_.reset();
    return *this;
  }
  // Delayed delivery `delay` after the broker stores the message, or, sent in
  // a transaction, after the transaction commits. 0 delivers at once.
  Message& Delay(std::chrono::milliseconds delay) {
    delay_ = delay;
    deliver_at_ms_.reset();
    return *this;
  }

  // Sets the message id: 1..128 printable ASCII bytes without spaces, e.g.
  // an order number. By default the client generates a unique, time-ordered
  // one when the message is sent.
  //
  // The id is the idempotency key. If the broker already stored a message
  // with this id within its dedup window (10 minutes by default, kept across
  // restarts), a send of it stores nothing and returns the original receipt
  // with `deduplicated` set, whatever the rest of the message says. The
  // client's own retries (on UNAVAILABLE and RESOURCE_EXHAUSTED, see
  // ClientOptions::max_retries) always resend the same id, generated or not,
  // so a retry after a lost answer never stores a message twice; setting the
  // id yourself extends that to your own retries, e.g. after a crash.
  Message& Id(std::string message_id) {
    message_id_ = std::move(message_id);
    return *this;
  }

  const std::string& topic() const { return topic_; }
  const std::vector<std::string>& keys() const { return keys_; }
  // The first key, or "" if the message has none.
  const std::string& key() const;
  const std::string& tag() const { return tag_; }
  const std::map<std::string, std::string>& properties() const { return properties_; }
  const std::string& body() const { return body_; }
  const std::optional<uint32_t>& queue_id() const { return queue_id_; }
  const std::string& sharding_key() const { return sharding_key_; }
  const std::string& message_group() const { return message_group_; }
  const std::optional<int64_t>& deliver_at_ms() const { return deliver_at_ms_; }
  const std::optional<std::chrono::milliseconds>& delay() const { return delay_; }
  const std::string& message_id() const { return message_id_; }

 private:
  std::string topic_;
  std::vector<std::string> keys_;
  std::string tag_;
  std::map<std::string, std::string> properties_;
  std::string body_;
  std::optional<uint32_t> queue_id_;
  std::string sharding_key_;
  std::string message_group_;
  std::optional<int64_t> deliver_at_ms_;
  std::optional<std::chrono::milliseconds> delay_;
  std::string message_id_;
};

// Where a sent message was stored. Returned only after it is durable on the
// broker (per the broker's --flush mode).
struct SendReceipt {
  std::string message_id;
  std::string topic;
  // 0 for a delayed message: it gets its queue and offset when it is due.
  uint32_t queue_id = 0;
  uint64_t offset = 0;
  int64_t store_time_ms = 0;
  // For a delayed message, the broker time at which it becomes visible;
  // 0 otherwise.
  int64_t deliver_at_ms = 0;
  // True if the broker already had a message with this id within its dedup
  // window: nothing new was stored and this is the original receipt.
  bool deduplicated = false;
};

// Where a dead letter came from and why it died. A message is dead-lettered
// to its group's dead-letter topic ("%DLQ.<group>") when its last attempt
// under the group's RetryPolicy fails.
struct DeadLetterInfo {
  std::string original_topic;
  uint32_t original_queue = 0;
  uint64_t original_offset = 0;
  // Deliveries to the group before it was dead-lettered.
  uint32_t attempts = 0;
  // The last nack's reason, or why the broker gave up (e.g. expiry).
  std::string reason;
  int64_t dead_lettered_ms = 0;  // broker ms
  // The consumer group that failed it.
  std::string group;
};

// A message as the broker stored it: what the producer sent (id, keys, tag,
// properties, body, group), where it is (topic, queue, offset) and when.
// Admin::GetMessage and Admin::FindMessages return it; every ReceivedMessage
// is one too (below), so code that only reads a message's contents can take
// a `const StoredMessage&` and serve both consumers and lookups.
struct StoredMessage {
  std::string message_id;
  std::string topic;
  uint32_t queue_id = 0;
  uint64_t offset = 0;
  std::vector<std::string> keys;
  std::string tag;
  std::map<std::string, std::string> properties;
  std::string body;
  // The FIFO message group it was sent with, or "".
  std::string message_group;
  int64_t born_time_ms = 0;   // producer's clock
  int64_t store_time_ms = 0;  // broker's clock
};

// A StoredMessage delivered to a consumer group: the message plus this
// delivery (its attempt number, the receipt handle that acks or nacks it and
// how long it stays invisible) and, from a dead-letter topic, why it died. A
// lookup (Admin::GetMessage) has no delivery, hence the two types.
struct ReceivedMessage : StoredMessage {
  // Set when the message is a dead letter (received from a dead-letter
  // topic): its origin and failure. Its message_id is the original one.
  std::optional<DeadLetterInfo> dead_letter;
  // 1 on the first delivery to this group, +1 on every redelivery.
  uint32_t attempt = 0;
  // Identifies this delivery to Ack, Nack and ChangeInvisibleDuration.
  std::string receipt_handle;
  // Broker time at which the message is delivered again unless acked.
  int64_t invisible_until_ms = 0;
};

// Generates a unique, time-ordered message id: 32 lowercase hex digits, the
// first 12 of which are the creation time in ms. Thread-safe.
std::string GenerateMessageId();

}  // namespace halfmq

#endif  // HALFMQ_CLIENT_MESSAGE_H_
