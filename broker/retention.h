// RetentionService: removes messages older than the retention period.
//
// Within a queue, offsets are dense and store times grow with offsets (up to
// clock steps, which only blur the cut by the size of the step), so the first
// message to keep is found by binary search with O(log n) point reads, and
// everything before it goes in one range delete plus the new low watermark,
// committed as one batch. No per-message scans or deletes. The deleted range
// is then compacted so disk space comes back under a steady load. Consumer
// groups that had not received the removed messages skip them, and their lag
// reports them as skipped.
//
// Runs on its own thread (it blocks on RocksDB). Thread-safe.
#ifndef HALFMQ_BROKER_RETENTION_H_
#define HALFMQ_BROKER_RETENTION_H_

#include <chrono>
#include <cstdint>
#include <thread>

#include "broker/metrics.h"
#include "broker/topic_manager.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "storage/store.h"

namespace halfmq::broker {

class RetentionService {
 public:
  RetentionService(storage::Store* store, TopicManager* topics, Clock* clock, Metrics* metrics,
                   int64_t retention_ms, std::chrono::milliseconds interval);
  ~RetentionService();

  void Start();
  void Stop() EXCLUDES(mu_);

  // One pass over every queue; returns how many messages it removed.
  Result<uint64_t> RunOnce();

 private:
  void Loop() EXCLUDES(mu_);
  // First offset in [lo, hi) whose message is at least `cutoff_ms` old...
  // precisely: the first to keep. Returns hi if all are older.
  Result<Offset> FirstToKeep(const Topic& topic, QueueId q, Offset lo, Offset hi,
                             int64_t cutoff_ms);

  storage::Store* const store_;
  TopicManager* const topics_;
  Clock* const clock_;
  Metrics* const metrics_;
  const int64_t retention_ms_;
  const std::chrono::milliseconds interval_;

  Mutex mu_;
  CondVar cv_;
  bool stop_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace halfmq::broker

#endif  // HALFMQ_BROKER_RETENTION_H_
