#include "broker/retention.h"

#include <glog/logging.h>

#include "common/thread_name.h"
#include "storage/group_table.h"

namespace halfmq::broker {

RetentionService::RetentionService(storage::Store* store, TopicManager* topics, Clock* clock,
                                   Metrics* metrics, int64_t retention_ms,
                                   std::chrono::milliseconds interval)
    : store_(store),
      topics_(topics),
      clock_(clock),
      metrics_(metrics),
      retention_ms_(retention_ms),
      interval_(interval) {}

RetentionService::~RetentionService() { Stop(); }

void RetentionService::Start() {
  thread_ = std::thread([this] {
    SetCurrentThreadName("halfmq-retain");
    Loop();
  });
}

void RetentionService::Stop() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
    cv_.SignalAll();
  }
  if (thread_.joinable()) thread_.join();
}

void RetentionService::Loop() {
  for (;;) {
    {
      MutexLock lock(&mu_);
      if (!stop_) cv_.WaitFor(&mu_, interval_);
      if (stop_) return;
    }
    auto removed = RunOnce();
    if (!removed.ok()) LOG(ERROR) << "retention pass failed: " << removed.status();
  }
}

Result<Offset> RetentionService::FirstToKeep(const Topic& topic, QueueId q, Offset lo, Offset hi,
                                             int64_t cutoff_ms) {
  // Invariant: everything before lo is expired; hi is the first known keeper
  // (or the end).
  while (lo < hi) {
    Offset mid(lo.value() + (hi.value() - lo.value()) / 2);
    auto t = store_->MessageStoreTime(topic.id(), q, mid);
    if (!t.ok()) return t.status();
    if (!t->has_value() || **t < cutoff_ms) {
      lo = Offset(mid.value() + 1);
    } else {
      hi = mid;
    }
  }
  return lo;
}

Result<uint64_t> RetentionService::RunOnce() {
  int64_t cutoff = clock_->NowMs() - retention_ms_;
  uint64_t removed = 0;
  for (const auto& topic : topics_->List()) {
    for (uint32_t qi = 0; qi < topic->queue_count(); ++qi) {
      QueueId q(qi);
      QueueState& qs = topic->queue(q);
      Offset lo(qs.min_offset.load());
      Offset hi(qs.durable_end.load());
      if (lo >= hi) continue;
      auto keep = FirstToKeep(*topic, q, lo, hi, cutoff);
      if (!keep.ok()) return keep.status();
      if (*keep == lo) continue;
      storage::Batch batch = store_->NewBatch();
      batch.DeleteMessages(topic->id(), q, lo, *keep);
      batch.PutQueueLow(topic->id(), q, *keep);
      HALFMQ_RETURN_IF_ERROR(store_->CommitAndWait(std::move(batch)));
      qs.min_offset.store(keep->value());
      removed += keep->value() - lo.value();
      VLOG(1) << "retention: " << topic->name() << "/" << qi << " removed [" << lo << ", " << *keep
              << ")";
      Status s = store_->CompactMessages(topic->id(), q, lo, *keep);
      LOG_IF(WARNING, !s.ok()) << "compacting after retention: " << s;
    }
  }
  // Dead-letter records outlive nothing they point to: drop those older
  // than the retention (their dead-letter messages are gone by now too).
  {
    storage::Batch batch = store_->NewBatch();
    HALFMQ_RETURN_IF_ERROR(
        storage::GroupTable(store_).DeleteDeadLettersBefore(cutoff, /*max_count=*/10000, &batch));
    if (!batch.empty()) HALFMQ_RETURN_IF_ERROR(store_->CommitAndWait(std::move(batch)));
  }
  Inc(metrics_->retention_runs);
  Inc(metrics_->retention_deleted, static_cast<int64_t>(removed));
  if (removed > 0) LOG(INFO) << "retention removed " << removed << " messages";
  return removed;
}

}  // namespace halfmq::broker
