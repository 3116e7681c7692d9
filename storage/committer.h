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
// Callbacks must be short and must not block (post work elsewhere).
//
// A failed write (a full disk, an I/O error; or a failed WAL sync in async
// mode) puts the committer in a failed state for the rest of the process:
// in-memory state may already reflect the batch, so only a restart, which
// rebuilds memory from what is durable (design invariant 7), may accept
// writes again. The failed group's callbacks, and those of every batch
// submitted later, are destroyed without running and nothing more is
// written: whatever a callback owns answers for itself when destroyed (a
// Responder answers an error, a CommitWaiter returns false). Nothing that
// was acknowledged is touched, and the process keeps serving reads.
// failure() says why.
//
// Waiting for work: before sleeping on its condition variable the writer
// spins for up to `spin` (yielding the CPU each round) in case the next batch
// is about to arrive. A client that waits for each answer sends its next
// request one round trip after the previous group; waking a sleeping thread
// costs 20-40 us on a VM, a sixth of a durable round trip. The spin adapts:
// each spin that ends without work doubles the number of idle periods that
// sleep at once (SpinBackoff), and one that finds work resets it, so
// an idle or sporadically used broker does not burn CPU. Under load the
// queue is rarely empty and nobody spins.
//
// Idle work: with IdleWork set, once at least `min_bytes` were written and no
// batch arrived for `after`, the writer thread runs `run` (Store flushes the
// memtables), then waits for work again; once per such idle period.
//
// Owned by Store. Submit() is thread-safe.
#ifndef HALFMQ_STORAGE_COMMITTER_H_
#define HALFMQ_STORAGE_COMMITTER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include <rocksdb/write_batch.h>

#include "common/mutex.h"
#include "common/status.h"
#include "common/thread_annotations.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
}  // namespace rocksdb

namespace halfmq::storage {

enum class FlushMode { kSync, kAsync };

// The committer's spin back-off (see Committer): after a spin that found
// nothing, the next 1, 2, 4, ... up to kMaxSkips idle periods sleep without
// spinning; a spin that found work resets it. Not thread-safe.
class SpinBackoff {
 public:
  static constexpr uint32_t kMaxSkips = 256;
  // Whether this idle period should spin (consumes one skip if not).
  bool ShouldSpin() {
    if (skips_left_ == 0) return true;
    --skips_left_;
    return false;
  }
  void Hit() { skips_next_ = 1; }
  void Missed() {
    skips_left_ = skips_next_;
    skips_next_ = skips_next_ >= kMaxSkips / 2 ? kMaxSkips : skips_next_ * 2;
  }

 private:
  uint32_t skips_left_ = 0;
  uint32_t skips_next_ = 1;
};

struct CommitterStats {
  uint64_t batches = 0;   // batches submitted and written
  uint64_t groups = 0;    // RocksDB writes (each one WAL append)
  uint64_t syncs = 0;     // WAL fsyncs
  uint64_t bytes = 0;     // WriteBatch bytes written
  uint64_t max_group = 0; // largest number of batches in one write
  uint64_t spins_hit = 0;  // idle waits whose spin found the next batch
  uint64_t spins_missed = 0;  // ... that spun in vain, then slept
  uint64_t idle_runs = 0;     // IdleWork runs
  uint64_t failed_batches = 0;  // batches dropped because a write failed (see Committer)
};

// Runs `run` on the writer thread after every `every_bytes` written
// (at most once per group); `run` must be cheap and must not block.
struct WrittenHook {
  uint64_t every_bytes = 0;  // 0: never
  std::function<void()> run;
};

struct IdleWork {
  std::chrono::milliseconds after{0};  // 0: none
  uint64_t min_bytes = 0;              // written since the last run
  std::function<void()> run;
  // Tests only: called on the writer thread when a spin begins (a sync
  // point, so a test can submit while the writer spins).
  std::function<void()> spin_started;
};

// Waits for one commit callback that may be dropped without running (see
// Committer): for start-up, tests and background threads. Not thread-safe;
// the callback may run or be dropped on any thread.
class CommitWaiter {
 public:
  CommitWaiter();
  // The callback to submit; call once.
  std::function<void()> Callback();
  // Blocks until the callback ran (true) or was dropped unrun (false).
  bool Wait();

 private:
  struct Signal {
    std::promise<bool> promise;
    bool set = false;
    ~Signal() {
      if (!set) promise.set_value(false);
    }
  };
  std::shared_ptr<Signal> signal_;
  std::future<bool> future_;
};

class Committer {
 public:
  using Callback = std::function<void()>;

  // `db` must outlive the Committer.
  Committer(rocksdb::DB* db, FlushMode mode, std::chrono::milliseconds flush_interval,
            std::chrono::microseconds spin = std::chrono::microseconds(0), IdleWork idle = {},
            WrittenHook written = {});
  ~Committer();
  Committer(const Committer&) = delete;
  Committer& operator=(const Committer&) = delete;

  // Queues `batch`; `done` runs on the writer thread once it is durable.
  // Must not be called after Stop().
  void Submit(rocksdb::WriteBatch batch, Callback done) EXCLUDES(mu_);

  // Writes everything queued, syncs, and joins the threads. Idempotent.
  void Stop() EXCLUDES(mu_);

  CommitterStats stats() const;

  // OK, or why the committer stopped writing (see the class comment).
  // Thread-safe.
  Status failure() const EXCLUDES(mu_);
  bool failed() const { return failed_.load(std::memory_order_acquire); }

 private:
  struct Pending {
    rocksdb::WriteBatch batch;
    Callback done;
  };

  void WriterLoop();
  // Spins (see the class comment) until a batch is queued; false if none
  // came within the spin or spinning is off for this wait.
  bool SpinForWork();
  void SyncLoop();
  void WriteGroup(std::vector<Pending>* group);
  // Enters the failed state (once; logs it).
  void Fail(const Status& why) EXCLUDES(mu_);
  // Destroys the group's callbacks without running them.
  void DropGroup(std::vector<Pending>* group);
  // One batch holding the records of all of `group`'s (`bytes` in all).
  static rocksdb::WriteBatch MergeBatches(const std::vector<Pending>& group, size_t bytes);

  rocksdb::DB* const db_;
  const FlushMode mode_;
  const std::chrono::milliseconds flush_interval_;
  const std::chrono::microseconds spin_;
  const IdleWork idle_;
  uint64_t bytes_since_idle_ = 0;  // writer thread only
  const WrittenHook written_;
  uint64_t bytes_since_written_ = 0;  // writer thread only

  mutable Mutex mu_;
  CondVar work_cv_;
  CondVar sync_cv_;
  std::vector<Pending> queue_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  bool stopped_ GUARDED_BY(mu_) = false;
  Status failure_ GUARDED_BY(mu_);
  std::atomic<bool> failed_{false};

  // Mirrors queue_.size() for the writer, which reads it without mu_ (to spin,
  // and to tell callbacks whether the next group is waiting).
  std::atomic<size_t> queued_{0};
  std::atomic<bool> stop_requested_{false};  // ends a spin early
  SpinBackoff spin_backoff_;  // writer thread only

  std::atomic<uint64_t> stat_idle_runs_{0};
  std::atomic<uint64_t> stat_spins_hit_{0};
  std::atomic<uint64_t> stat_spins_missed_{0};
  std::atomic<uint64_t> stat_batches_{0};
  std::atomic<uint64_t> stat_groups_{0};
  std::atomic<uint64_t> stat_syncs_{0};
  std::atomic<uint64_t> stat_bytes_{0};
  std::atomic<uint64_t> stat_max_group_{0};
  std::atomic<uint64_t> stat_failed_batches_{0};

  std::thread writer_;
  std::thread syncer_;
};

}  // namespace halfmq::storage

#endif  // HALFMQ_STORAGE_COMMITTER_H_
