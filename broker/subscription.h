// Subscription: one consumer group's view of one topic, with per-message
// acknowledgement (like SQS or RocketMQ 5's simple consumer).
//
// Per queue it keeps a delivery cursor (every offset below it was handed out
// at least once) and the in-flight set: messages received and not yet acked,
// each with its attempt count and the time it becomes deliverable again. An
// acked message leaves the in-flight set and, being below the cursor, is never
// delivered again. A message whose invisibility ends is redelivered with its
// attempt incremented. All of this is persisted (cursors and in-flight keyspaces)
// in the same batch that changes it; memory is a cache rebuilt at start-up.
//
// Threading: all fields are guarded by mu_. Receives of one subscription run
// one at a time on its receive strand (on the broker's blocking pool, since
// they read messages from disk); acks, nacks and visibility changes run on
// network threads and only take mu_. Batches are submitted to the committer
// while mu_ is held, so they reach RocksDB in the order memory changed.
//
// Owned by ConsumeService (shared with the topic, which notifies it of
// appends, and with pending receives). Lives until the broker stops.
#ifndef HALFMQ_BROKER_SUBSCRIPTION_H_
#define HALFMQ_BROKER_SUBSCRIPTION_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <optional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "broker/topic_manager.h"
#include "common/asio.h"
#include "common/ids.h"
#include "common/mutex.h"
#include "proto/halfmq/v1/records.pb.h"

namespace halfmq::broker {

// A receive waiting for messages (long poll). Wakes on an append, on a
// message becoming visible again, at its deadline, or at shutdown; then runs
// `resume` once. Thread-safe: Arm and Wake may be called from any thread.
class LongPoll : public std::enable_shared_from_this<LongPoll> {
 public:
  LongPoll(asio::io_context& io, std::function<void()> resume);
  // Fires at `at` unless woken earlier.
  void Arm(asio::steady_timer::time_point at);
  void Wake();
  // True once it has resumed its receive (any thread).
  bool fired() const { return fired_flag_.load(std::memory_order_acquire); }

 private:
  void Fire();
  asio::strand<asio::io_context::executor_type> strand_;
  asio::steady_timer timer_;
  bool fired_ = false;  // strand only
  std::atomic<bool> fired_flag_{false};
  std::function<void()> resume_;
};

class Subscription : public AppendListener, public std::enable_shared_from_this<Subscription> {
 public:
  struct Inflight {
    uint32_t attempt = 0;
    int64_t visible_at_ms = 0;       // deliverable again from here
    int64_t first_received_ms = 0;
    int64_t invisible_until_ms = 0;  // end of the current delivery
    // FIFO topics only.
    std::string message_group{};
    bool blocked = false;  // waits for the group's previous message
    std::string message_id{};  // for traces
    bool nacked = false;     // the current delivery ended in a nack, not an expiry
    // The current delivery (for the trace event written when it ends); 0 if
    // unknown (recovered from an older record).
    int64_t delivered_ms = 0;
    std::string client{};
  };
  struct Cursor {
    Offset delivered{0};  // every offset below was delivered at least once
    uint64_t skipped = 0;  // how many of them were never delivered (retention)
    std::map<Offset, Inflight> inflight;
  };

  Subscription(SubscriptionId id, ConsumerGroup group, std::shared_ptr<Topic> topic,
               asio::thread_pool& pool, v1::SubscriptionRecord record);

  SubscriptionId id() const { return id_; }
  const ConsumerGroup& group() const { return group_; }
  const std::shared_ptr<Topic>& topic() const { return topic_; }
  asio::strand<asio::thread_pool::executor_type>& receive_strand() { return receive_strand_; }

  // AppendListener: new messages are durable; wake long polls.
  void OnAppend() override EXCLUDES(mu_);
  // Wakes every long poll (something became visible, or shutdown).
  void WakeAll() EXCLUDES(mu_);

  Mutex& mu() RETURN_CAPABILITY(mu_) { return mu_; }

  // --- State, all under mu() ---------------------------------------------
  Cursor& cursor(QueueId q) REQUIRES(mu_) { return cursors_[q.value()]; }
  std::vector<Cursor>& cursors() REQUIRES(mu_) { return cursors_; }
  size_t inflight_count() const REQUIRES(mu_) { return inflight_count_; }
  uint64_t version() const REQUIRES(mu_) { return version_; }
  uint32_t NextRoundRobinStart() REQUIRES(mu_) { return rr_++ % topic_->queue_count(); }

  // Adds or updates an in-flight entry, keeping the visibility index in step.
  void SetInflight(QueueId q, Offset offset, const Inflight& entry) REQUIRES(mu_);
  void EraseInflight(QueueId q, Offset offset) REQUIRES(mu_);
  // Up to `max` in-flight messages visible at `now`, earliest first, that
  // may be delivered again (not final, not being dead-lettered).
  std::vector<std::pair<QueueId, Offset>> VisibleInflight(int64_t now, size_t max) const
      REQUIRES(mu_);
  // Earliest time an in-flight message becomes visible; INT64_MAX if none.
  int64_t NextVisibleMs() const REQUIRES(mu_);

  // Deliveries before a message is dead-lettered (from the group's retry
  // policy). Entries at or past it are final: when their invisibility ends
  // they go to the dead-letter topic instead of back to consumers.
  uint32_t max_attempts() const REQUIRES(mu_) { return max_attempts_; }
  void SetMaxAttempts(uint32_t max_attempts) REQUIRES(mu_);
  // Up to `max` final entries whose invisibility ended by `now`.
  std::vector<std::pair<QueueId, Offset>> ExpiredFinal(int64_t now, size_t max) const
      REQUIRES(mu_);
  // Entries being moved to the dead-letter topic (not picked again).
  bool MarkMoving(QueueId q, Offset offset) REQUIRES(mu_) {
    return moving_.insert({q.value(), offset}).second;
  }
  void UnmarkMoving(QueueId q, Offset offset) REQUIRES(mu_) {
    moving_.erase({q.value(), offset});
  }
  bool IsMoving(QueueId q, Offset offset) const REQUIRES(mu_) {
    return moving_.count({q.value(), offset}) > 0;
  }

  // --- FIFO message groups (topics created with fifo) ---------------------
  // A group is busy while one of its messages is delivered and not yet
  // acked or dead-lettered; its later messages wait (blocked entries).
  bool FifoBusy(QueueId q, const std::string& group) const REQUIRES(mu_) {
    return fifo_busy_.count({q.value(), group}) > 0;
  }
  void FifoSetBusy(QueueId q, const std::string& group) REQUIRES(mu_) {
    fifo_busy_.insert({q.value(), group});
  }
  // Adds a blocked entry for `offset` behind the group's current message.
  void FifoBlock(QueueId q, Offset offset, const std::string& group,
                 const std::string& message_id, int64_t now) REQUIRES(mu_);
  // The group's current message is done. Returns the offset of its next
  // message, now made deliverable (the caller persists its entry), or
  // nullopt when the group is idle again.
  std::optional<Offset> FifoRelease(QueueId q, const std::string& group, int64_t now)
      REQUIRES(mu_);
  // Rebuilds the FIFO state from the in-flight entries (start-up).
  void FifoRebuild() REQUIRES(mu_);

  // --- Tag filter ----------------------------------------------------------
  // The stored record of this subscription (its filter changes with it).
  const v1::SubscriptionRecord& record() const REQUIRES(mu_) { return record_; }
  // Sets the filter: "*" (or "") passes every tag, "a||b" only those tags.
  // Returns true if it changed (the caller persists record()).
  bool SetTagFilter(const std::string& expression) REQUIRES(mu_);
  bool TagMatches(const std::string& tag) const REQUIRES(mu_) {
    return filter_tags_.empty() || filter_tags_.count(tag) > 0;
  }
  // Records something that may let a waiting receive make progress.
  void BumpVersion() REQUIRES(mu_) { ++version_; }
  // Parks a long poll; drops the ones that already fired (timed out), so the
  // list holds only polls that are still waiting.
  void AddWaiter(std::shared_ptr<LongPoll> poll) REQUIRES(mu_);

 private:
  const SubscriptionId id_;
  const ConsumerGroup group_;
  const std::shared_ptr<Topic> topic_;
  asio::strand<asio::thread_pool::executor_type> receive_strand_;

  Mutex mu_;
  std::vector<Cursor> cursors_ GUARDED_BY(mu_);
  // (visible_at_ms, queue, offset) of every in-flight entry.
  std::set<std::tuple<int64_t, uint32_t, Offset>> by_visible_ GUARDED_BY(mu_);
  // (invisible_until_ms, queue, offset) of final entries.
  std::set<std::tuple<int64_t, uint32_t, Offset>> final_ GUARDED_BY(mu_);
  std::set<std::pair<uint32_t, Offset>> moving_ GUARDED_BY(mu_);
  std::map<std::pair<uint32_t, std::string>, std::deque<Offset>> fifo_waiting_ GUARDED_BY(mu_);
  std::set<std::pair<uint32_t, std::string>> fifo_busy_ GUARDED_BY(mu_);
  v1::SubscriptionRecord record_ GUARDED_BY(mu_);
  std::set<std::string> filter_tags_ GUARDED_BY(mu_);  // empty: all
  uint32_t max_attempts_ GUARDED_BY(mu_) = 16;
  size_t inflight_count_ GUARDED_BY(mu_) = 0;
  uint32_t rr_ GUARDED_BY(mu_) = 0;
  uint64_t version_ GUARDED_BY(mu_) = 0;
  std::vector<std::shared_ptr<LongPoll>> waiters_ GUARDED_BY(mu_);
};

}  // namespace halfmq::broker

#endif  // HALFMQ_BROKER_SUBSCRIPTION_H_
