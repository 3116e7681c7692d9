// Strong types for the identifiers HalfMQ passes around, so that a queue id
// cannot be given where an offset is expected, or a producer group where a
// consumer group is. All are small values, cheap to copy, thread-compatible.
#ifndef HALFMQ_COMMON_IDS_H_
#define HALFMQ_COMMON_IDS_H_

#include <compare>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

namespace halfmq {

template <typename Tag, typename T>
class StrongInt {
 public:
  using ValueType = T;
  constexpr StrongInt() = default;
  constexpr explicit StrongInt(T value) : value_(value) {}
  constexpr T value() const { return value_; }
  friend constexpr auto operator<=>(StrongInt, StrongInt) = default;
  friend std::ostream& operator<<(std::ostream& os, StrongInt id) { return os << id.value_; }

 private:
  T value_{};
};

template <typename Tag>
class StrongName {
 public:
  StrongName() = default;
  explicit StrongName(std::string value) : value_(std::move(value)) {}
  const std::string& value() const { return value_; }
  bool empty() const { return value_.empty(); }
  friend auto operator<=>(const StrongName&, const StrongName&) = default;
  friend bool operator==(const StrongName&, const StrongName&) = default;
  friend std::ostream& operator<<(std::ostream& os, const StrongName& n) { return os << n.value_; }

 private:
  std::string value_;
};

// Queue index within a topic, 0..queues-1.
using QueueId = StrongInt<struct QueueIdTag, uint32_t>;
// Position of a message in one queue; dense, starting at 0.
using Offset = StrongInt<struct OffsetTag, uint64_t>;
// Numeric id the broker assigns to a topic; used in storage keys.
using TopicId = StrongInt<struct TopicIdTag, uint32_t>;
// Numeric id the broker assigns to a (consumer group, topic) subscription.
using SubscriptionId = StrongInt<struct SubscriptionIdTag, uint32_t>;

using TopicName = StrongName<struct TopicNameTag>;
using ConsumerGroup = StrongName<struct ConsumerGroupTag>;
using ProducerGroup = StrongName<struct ProducerGroupTag>;
using TxnId = StrongName<struct TxnIdTag>;
using MessageId = StrongName<struct MessageIdTag>;

}  // namespace halfmq

namespace std {
template <typename Tag, typename T>
struct hash<halfmq::StrongInt<Tag, T>> {
  size_t operator()(halfmq::StrongInt<Tag, T> id) const { return std::hash<T>()(id.value()); }
};
template <typename Tag>
struct hash<halfmq::StrongName<Tag>> {
  size_t operator()(const halfmq::StrongName<Tag>& n) const {
    return std::hash<std::string>()(n.value());
  }
};
}  // namespace std

#endif  // HALFMQ_COMMON_IDS_H_
