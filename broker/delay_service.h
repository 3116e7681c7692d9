// DelayService: delayed and scheduled messages.
//
// A message sent with delay_ms or deliver_at_ms (or committed from a
// transaction with one; its delay counts from the commit) is stored in the
// `delayed` keyspace under (due time, unique number), not in its topic. This
// scheduler reads only what is due, appends it to its topic (queue and
// offset are chosen then) and deletes the delayed entry in the same batch.
// Its cost follows the messages that are due, not the number pending; it
// sleeps until the earliest due time (at most --delay_max_sleep_ms), and is
// woken when an earlier one is stored. Everything survives a restart.
//
// Runs on its own thread (it reads and waits on RocksDB). Thread-safe.
#ifndef HALFMQ_BROKER_DELAY_SERVICE_H_
#define HALFMQ_BROKER_DELAY_SERVICE_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

#include "broker/message_log.h"
#include "broker/metrics.h"
#include "broker/topic_manager.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "storage/delayed_table.h"
#include "storage/store.h"

namespace halfmq::broker {

class DelayService {
 public:
  DelayService(storage::Store* store, TopicManager* topics, MessageLog* log, Clock* clock,
               Metrics* metrics, std::chrono::milliseconds max_sleep);
  ~DelayService();

  // Counts the pending delayed messages (for the metrics). Start-up only.
  Status Recover();
  void Start();
  void Stop() EXCLUDES(mu_);

  // Adds a delayed message to `batch`. Call Scheduled(due) once the batch
  // is durable.
  void Store(const v1::Message& message, int64_t due_ms, storage::Batch* batch) EXCLUDES(mu_);
  // A delayed message due at `due_ms` is durable: wake the scheduler if it
  // sleeps past it.
  void Scheduled(int64_t due_ms, int count) EXCLUDES(mu_);

  // Appends every message due by now (up to a batch); returns how many.
  // Public for tests.
  size_t RunOnce();

 private:
  void Loop() EXCLUDES(mu_);
  // Due time of the earliest pending message, if any.
  std::optional<int64_t> NextDue() const;

  storage::Store* const store_;
  const storage::DelayedTable table_;
  TopicManager* const topics_;
  MessageLog* const log_;
  Clock* const clock_;
  Metrics* const metrics_;
  const std::chrono::milliseconds max_sleep_;

  Mutex mu_;
  CondVar cv_;
  bool stop_ GUARDED_BY(mu_) = false;
  int64_t sleeping_until_ GUARDED_BY(mu_) = 0;
  // Bumped by Scheduled(): the loop does not sleep past a message stored
  // while it was looking for the next due time.
  uint64_t generation_ GUARDED_BY(mu_) = 0;
  // Key uniquifier: increasing, so messages due in the same millisecond
  // keep their send order (seeded from the clock, so across restarts too).
  uint64_t next_unique_ GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace halfmq::broker

#endif  // HALFMQ_BROKER_DELAY_SERVICE_H_
