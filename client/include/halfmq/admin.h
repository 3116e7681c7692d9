// Admin: topics, subscriptions, lag and broker statistics. Thread-safe.
#ifndef HALFMQ_CLIENT_ADMIN_H_
#define HALFMQ_CLIENT_ADMIN_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "halfmq/options.h"

namespace halfmq {

struct TopicInfo {
  std::string name;
  uint32_t queues = 0;
  int64_t created_ms = 0;
};

struct QueueLag {
  std::string topic;
  uint32_t queue_id = 0;
  uint64_t min_offset = 0;        // earliest retained
  uint64_t end_offset = 0;        // next to be written
  uint64_t delivered_offset = 0;  // next the group has not received
  uint64_t lag = 0;               // not yet acked: undelivered + in flight
  uint64_t inflight = 0;          // received, not yet acked
  uint64_t skipped = 0;           // removed by retention before delivery
};

enum class StartPosition { kEarliest, kLatest };

class Admin {
 public:
  static Result<std::unique_ptr<Admin>> Connect(const ClientOptions& options);
  ~Admin();
  Admin(const Admin&) = delete;
  Admin& operator=(const Admin&) = delete;

  // queues == 0 means the broker default (8). Errors: ALREADY_EXISTS,
  // INVALID_ARGUMENT (name, queue count).
  Result<TopicInfo> CreateTopic(const std::string& name, uint32_t queues = 0);
  Result<std::vector<TopicInfo>> ListTopics();

  // Subscribes `group` to `topic` starting at its earliest retained or its
  // latest message. Errors: NOT_FOUND (topic), ALREADY_EXISTS.
  Status CreateSubscription(const std::string& group, const std::string& topic,
                            StartPosition start);

  // Lag of `group` per queue, for one topic or (empty) all it subscribes to.
  // Errors: NOT_FOUND if the group has no subscription.
  Result<std::vector<QueueLag>> GetLag(const std::string& group, const std::string& topic = "");

  // Broker counters (see docs/operations.md).
  Result<std::map<std::string, int64_t>> GetBrokerStats();

 private:
  class Impl;
  explicit Admin(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace halfmq

#endif  // HALFMQ_CLIENT_ADMIN_H_
