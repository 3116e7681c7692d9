// Topics and the in-memory state of their queues.
//
// A Topic is created once and lives until the broker stops (topics are not
// deleted yet). Each queue tracks three offsets:
//   min_offset   earliest retained message (retention moves it up),
//   durable_end  one past the last durable message: what consumers may see,
//   next_offset  next offset to assign (may run ahead of durable_end while
//                writes wait for their group commit).
// Appends hold the queue's mutex while assigning offsets *and* handing the
// batch to the committer, so batches reach RocksDB in offset order and
// durable_end only ever moves forward over durable messages.
//
// TopicManager is thread-safe; Topic's immutable fields may be read freely,
// its queues through their own synchronisation.
#ifndef HALFMQ_BROKER_TOPIC_MANAGER_H_
#define HALFMQ_BROKER_TOPIC_MANAGER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/ids.h"
#include "common/mutex.h"
#include "common/status.h"
#include "proto/halfmq/v1/api.pb.h"
#include "storage/store.h"

namespace halfmq::broker {

struct QueueState {
  Mutex mu;
  uint64_t next_offset GUARDED_BY(mu) = 0;
  std::atomic<uint64_t> durable_end{0};
  std::atomic<uint64_t> min_offset{0};
};

// Told when new messages of a topic become durable. Implementations must be
// quick and must not block: they run on the committer thread.
class AppendListener {
 public:
  virtual ~AppendListener() = default;
  virtual void OnAppend() = 0;
};

class Topic {
 public:
  Topic(TopicId id, std::string name, uint32_t queues, int64_t created_ms, bool fifo = false,
        bool internal = false);

  TopicId id() const { return id_; }
  const std::string& name() const { return name_; }
  uint32_t queue_count() const { return static_cast<uint32_t>(queues_.size()); }
  int64_t created_ms() const { return created_ms_; }
  bool fifo() const { return fifo_; }
  bool internal() const { return internal_; }
  QueueState& queue(QueueId q) { return *queues_[q.value()]; }
  const QueueState& queue(QueueId q) const { return *queues_[q.value()]; }

  // Round-robin queue choice for messages without a selector.
  QueueId NextRoundRobinQueue() {
    return QueueId(round_robin_.fetch_add(1, std::memory_order_relaxed) % queue_count());
  }

  // Listeners are held weakly: a subscription holds its topic, not the
  // other way round.
  void AddListener(const std::shared_ptr<AppendListener>& listener) EXCLUDES(listeners_mu_);
  // Runs every listener; called after durable_end moved.
  void NotifyAppend() EXCLUDES(listeners_mu_);

  v1::TopicInfo Info() const;

 private:
  const TopicId id_;
  const std::string name_;
  const int64_t created_ms_;
  const bool fifo_;
  const bool internal_;
  std::vector<std::unique_ptr<QueueState>> queues_;
  std::atomic<uint32_t> round_robin_{0};
  Mutex listeners_mu_;
  std::vector<std::weak_ptr<AppendListener>> listeners_ GUARDED_BY(listeners_mu_);
};

class TopicManager {
 public:
  TopicManager(storage::Store* store, Clock* clock) : store_(store), clock_(clock) {}

  // Loads topics and their queue offsets from the store. Start-up only.
  Status Recover();

  using TopicCallback = std::function<void(Result<std::shared_ptr<Topic>>)>;

  // Creates a topic durably; `done` runs on the committer thread with the
  // new topic or ALREADY_EXISTS / INVALID_ARGUMENT (name, queue count).
  void Create(const std::string& name, uint32_t queues, bool fifo, TopicCallback done)
      EXCLUDES(mu_);

  // The broker's own topic `name` (it starts with '%'), created with
  // `queues` queues if it does not exist yet. `done` may run on the
  // committer thread.
  void EnsureInternal(const std::string& name, uint32_t queues, TopicCallback done)
      EXCLUDES(mu_);

  // nullptr if no such topic (or it is still being created).
  std::shared_ptr<Topic> Find(const std::string& name) const EXCLUDES(mu_);
  std::shared_ptr<Topic> FindById(TopicId id) const EXCLUDES(mu_);
  std::vector<std::shared_ptr<Topic>> List() const EXCLUDES(mu_);

 private:
  storage::Store* const store_;
  Clock* const clock_;
  mutable Mutex mu_;
  std::map<std::string, std::shared_ptr<Topic>> by_name_ GUARDED_BY(mu_);
  std::map<uint32_t, std::shared_ptr<Topic>> by_id_ GUARDED_BY(mu_);
  // Names being created, with callers waiting for an internal topic.
  std::map<std::string, std::vector<TopicCallback>> creating_ GUARDED_BY(mu_);

  void CreateLocked(v1::TopicRecord record, TopicCallback done) REQUIRES(mu_);
  uint32_t next_id_ GUARDED_BY(mu_) = 1;
};

}  // namespace halfmq::broker

#endif  // HALFMQ_BROKER_TOPIC_MANAGER_H_
