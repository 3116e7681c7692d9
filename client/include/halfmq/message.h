// Messages as producers build them and as consumers receive them.
#ifndef HALFMQ_CLIENT_MESSAGE_H_
#define HALFMQ_CLIENT_MESSAGE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace halfmq {

// A message to send, built fluently:
//   halfmq::Message("order-paid").Key(order_id).Tag("paid").Body(json)
// A value type; copyable and movable.
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
    return *this;
  }
  // Messages with equal sharding keys land in the same queue, in send order.
  Message& ShardingKey(std::string key) {
    sharding_key_ = std::move(key);
    queue_id_.reset();
    return *this;
  }
  // Sets the message id; by default the client generates a unique,
  // time-ordered one when the message is sent.
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
  const std::string& message_id() const { return message_id_; }

 private:
  std::string topic_;
  std::vector<std::string> keys_;
  std::string tag_;
  std::map<std::string, std::string> properties_;
  std::string body_;
  std::optional<uint32_t> queue_id_;
  std::string sharding_key_;
  std::string message_id_;
};

// Where a sent message was stored. Returned only after it is durable on the
// broker (per the broker's --flush mode).
struct SendReceipt {
  std::string message_id;
  std::string topic;
  uint32_t queue_id = 0;
  uint64_t offset = 0;
  int64_t store_time_ms = 0;
};

// A message delivered to a consumer group.
struct ReceivedMessage {
  std::string message_id;
  std::string topic;
  uint32_t queue_id = 0;
  uint64_t offset = 0;
  std::vector<std::string> keys;
  std::string tag;
  std::map<std::string, std::string> properties;
  std::string body;
  int64_t born_time_ms = 0;
  int64_t store_time_ms = 0;
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
