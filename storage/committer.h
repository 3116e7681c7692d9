// Committer: group commit. Requests from many connections hand their write
// batches to one writer thread, which writes everything that queued up while
// the previous write was in progress as a single RocksDB write: one WAL
// append and, in sync mode, one fsync for the whole group. Callers never
// block on disk; they get a callback when their batch is durable.
//
// FlushMode::kSync: the callback runs after the group's WAL fsync.
// FlushMode::kAsync: the callback runs after the write reached the OS (it
// survives a process crash, not a power loss); a sync thread fsyncs the WAL
// every flush_interval.
//
// Batches are applied in submission order, and callbacks run in that order on
// the writer thread, inside one DeferScope per group (common/deferred.h),
// opened busy when the next group is already queued.
// Callbacks must be short and must not block (post work elsewhere). A failed RocksDB write is fatal: in-memory state may already
// reflect the batch, so the process exits and restart recovers from the last
// durable state (design invariant 7).
//
// Owned by Store. Submit() is thread-safe.
#ifndef HALFMQ_STORAGE_COMMITTER_H_
#define HALFMQ_STORAGE_COMMITTER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

#include <rocksdb/write_batch.h>

#include "common/mutex.h"
#include "common/thread_annotations.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
}  // namespace rocksdb

namespace halfmq::storage {

enum class FlushMode { kSync, kAsync };

struct CommitterStats {
  uint64_t batches = 0;   // batches submitted and written
  uint64_t groups = 0;    // RocksDB writes (each one WAL append)
  uint64_t syncs = 0;     // WAL fsyncs
  uint64_t bytes = 0;     // WriteBatch bytes written
  uint64_t max_group = 0; // largest number of batches in one write
};

class Committer {
 public:
  using Callback = std::function<void()>;

  // `handles` maps column family ids to handles (for merging batches); both
  // `db` and the handles must outlive the Committer.
  Committer(rocksdb::DB* db, std::vector<rocksdb::ColumnFamilyHandle*> handles, FlushMode mode,
            std::chrono::milliseconds flush_interval);
  ~Committer();
  Committer(const Committer&) = delete;
  Committer& operator=(const Committer&) = delete;

  // Queues `batch`; `done` runs on the writer thread once it is durable.
  // Must not be called after Stop().
  void Submit(rocksdb::WriteBatch batch, Callback done) EXCLUDES(mu_);

  // Writes everything queued, syncs, and joins the threads. Idempotent.
  void Stop() EXCLUDES(mu_);

  CommitterStats stats() const;

 private:
  struct Pending {
    rocksdb::WriteBatch batch;
    Callback done;
  };

  void WriterLoop();
  void SyncLoop();
  void WriteGroup(std::vector<Pending>* group);

  rocksdb::DB* const db_;
  const std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  const FlushMode mode_;
  const std::chrono::milliseconds flush_interval_;

  mutable Mutex mu_;
  CondVar work_cv_;
  CondVar sync_cv_;
  std::vector<Pending> queue_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  bool stopped_ GUARDED_BY(mu_) = false;

  std::atomic<uint64_t> stat_batches_{0};
  std::atomic<uint64_t> stat_groups_{0};
  std::atomic<uint64_t> stat_syncs_{0};
  std::atomic<uint64_t> stat_bytes_{0};
  std::atomic<uint64_t> stat_max_group_{0};

  std::thread writer_;
  std::thread syncer_;
};

}  // namespace halfmq::storage

#endif  // HALFMQ_STORAGE_COMMITTER_H_
