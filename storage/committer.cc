#include "storage/committer.h"

#include <glog/logging.h>
#include <rocksdb/db.h>
#include <rocksdb/perf_level.h>

#include "common/deferred.h"
#include "common/thread_name.h"
#include "storage/rocksdb_status.h"

namespace halfmq::storage {
namespace {

// Largest group written at once; bigger queues are written in several
// groups so a burst does not build one enormous WriteBatch.
constexpr size_t kMaxGroupBytes = 64 << 20;

// A WriteBatch's serialized form (WriteBatch::Data(), the WAL record format)
// is a 12-byte header, sequence number (fixed64) and record count (fixed32,
// both little-endian), followed by the records. Batches are merged by
// concatenating their records under one header: one copy of each batch's
// bytes, no re-encoding.
constexpr size_t kBatchHeader = 12;

}  // namespace

CommitWaiter::CommitWaiter() : signal_(std::make_shared<Signal>()) {
  future_ = signal_->promise.get_future();
}

std::function<void()> CommitWaiter::Callback() {
  CHECK(signal_ != nullptr) << "CommitWaiter::Callback called twice";
  return [signal = std::move(signal_)] {
    if (signal->set) return;
    signal->set = true;
    signal->promise.set_value(true);
  };
}

bool CommitWaiter::Wait() { return future_.get(); }

Committer::Committer(rocksdb::DB* db, FlushMode mode, std::chrono::milliseconds flush_interval,
                     std::chrono::microseconds spin, IdleWork idle, WrittenHook written)
    : db_(db),
      mode_(mode),
      flush_interval_(flush_interval),
      spin_(spin),
      idle_(std::move(idle)),
      written_(std::move(written)) {
  writer_ = std::thread([this] {
    SetCurrentThreadName("halfmq-commit");
    // No RocksDB perf counters on the hot path: each is a thread-local
    // access through __tls_get_addr from the shared library.
    rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
    WriterLoop();
  });
  if (mode_ == FlushMode::kAsync) {
    syncer_ = std::thread([this] {
      SetCurrentThreadName("halfmq-walsync");
      SyncLoop();
    });
  }
}

Committer::~Committer() { Stop(); }

void Committer::Submit(rocksdb::WriteBatch batch, Callback done) {
  MutexLock lock(&mu_);
  CHECK(!stopping_) << "Committer::Submit after Stop";
  queue_.push_back(Pending{std::move(batch), std::move(done)});
  queued_.store(queue_.size(), std::memory_order_release);
  if (queue_.size() == 1) work_cv_.Signal();
}

void Committer::Stop() {
  {
    MutexLock lock(&mu_);
    if (stopped_) return;
    stopping_ = true;
    stop_requested_.store(true);
    work_cv_.SignalAll();
    sync_cv_.SignalAll();
  }
  if (writer_.joinable()) writer_.join();
  if (syncer_.joinable()) syncer_.join();
  if (mode_ == FlushMode::kAsync && !failed()) {
    rocksdb::Status s = db_->SyncWAL();
    LOG_IF(ERROR, !s.ok()) << "final WAL sync failed: " << s.ToString();
  }
  MutexLock lock(&mu_);
  stopped_ = true;
}

CommitterStats Committer::stats() const {
  CommitterStats s;
  s.batches = stat_batches_.load(std::memory_order_relaxed);
  s.groups = stat_groups_.load(std::memory_order_relaxed);
  s.syncs = stat_syncs_.load(std::memory_order_relaxed);
  s.bytes = stat_bytes_.load(std::memory_order_relaxed);
  s.max_group = stat_max_group_.load(std::memory_order_relaxed);
  s.spins_hit = stat_spins_hit_.load(std::memory_order_relaxed);
  s.spins_missed = stat_spins_missed_.load(std::memory_order_relaxed);
  s.idle_runs = stat_idle_runs_.load(std::memory_order_relaxed);
  s.failed_batches = stat_failed_batches_.load(std::memory_order_relaxed);
  return s;
}

Status Committer::failure() const {
  MutexLock lock(&mu_);
  return failure_;
}

void Committer::Fail(const Status& why) {
  {
    MutexLock lock(&mu_);
    if (!failure_.ok()) return;
    failure_ = why;
  }
  failed_.store(true, std::memory_order_release);
  LOG(ERROR) << "storage is read-only from now on: " << why
             << ". Requests that write get errors; nothing acknowledged is lost. Free disk space "
                "(or fix the I/O error) and restart the broker to accept writes again.";
}

void Committer::DropGroup(std::vector<Pending>* group) {
  stat_failed_batches_.fetch_add(group->size(), std::memory_order_relaxed);
  // Callbacks own Responders, which answer as they are destroyed: one scope
  // for their socket writes, as for callbacks that run.
  DeferScope scope(/*busy=*/false);
  group->clear();
}

bool Committer::SpinForWork() {
  if (spin_.count() <= 0 || !spin_backoff_.ShouldSpin()) return false;
  if (idle_.spin_started) idle_.spin_started();
  auto until = std::chrono::steady_clock::now() + spin_;
  while (queued_.load(std::memory_order_acquire) == 0 &&
         !stop_requested_.load(std::memory_order_relaxed)) {
    if (std::chrono::steady_clock::now() >= until) {
      stat_spins_missed_.fetch_add(1, std::memory_order_relaxed);
      spin_backoff_.Missed();
      return false;
    }
    // Yield rather than pause: on a small machine the thread that will
    // submit the next batch may need this core.
    std::this_thread::yield();
  }
  stat_spins_hit_.fetch_add(1, std::memory_order_relaxed);
  spin_backoff_.Hit();
  return true;
}

void Committer::WriterLoop() {
  std::vector<Pending> work;
  while (true) {
    if (queued_.load(std::memory_order_acquire) == 0) SpinForWork();
    bool idle = false;
    {
      MutexLock lock(&mu_);
      while (queue_.empty() && !stopping_) {
        if (idle_.after.count() > 0 && bytes_since_idle_ >= idle_.min_bytes) {
          if (!work_cv_.WaitFor(&mu_, idle_.after) && queue_.empty() && !stopping_) {
            idle = true;
            break;
          }
        } else {
          work_cv_.Wait(&mu_);
        }
      }
      if (!idle) {
        if (queue_.empty() && stopping_) return;
        work.swap(queue_);
        queued_.store(0, std::memory_order_relaxed);
      }
    }
    if (idle) {
      bytes_since_idle_ = 0;
      stat_idle_runs_.fetch_add(1, std::memory_order_relaxed);
      idle_.run();
      continue;
    }
    // Split very large backlogs into bounded groups, keeping order.
    size_t start = 0;
    while (start < work.size()) {
      size_t end = start;
      size_t bytes = 0;
      while (end < work.size() && (end == start || bytes + work[end].batch.GetDataSize() <=
                                                       kMaxGroupBytes)) {
        bytes += work[end].batch.GetDataSize();
        ++end;
      }
      std::vector<Pending> group(std::make_move_iterator(work.begin() + start),
                                 std::make_move_iterator(work.begin() + end));
      WriteGroup(&group);
      start = end;
    }
    work.clear();
  }
}

rocksdb::WriteBatch Committer::MergeBatches(const std::vector<Pending>& group, size_t bytes) {
  std::string rep;
  rep.reserve(bytes);
  rep.assign(kBatchHeader, '\0');
  uint32_t count = 0;
  for (const Pending& p : group) {
    const std::string& data = p.batch.Data();
    CHECK_GE(data.size(), kBatchHeader) << "malformed write batch";
    rep.append(data, kBatchHeader, std::string::npos);
    count += p.batch.Count();
  }
  for (int i = 0; i < 4; ++i) rep[8 + i] = static_cast<char>((count >> (8 * i)) & 0xff);
  return rocksdb::WriteBatch(std::move(rep));
}

void Committer::WriteGroup(std::vector<Pending>* group) {
  if (failed()) return DropGroup(group);
  rocksdb::WriteOptions options;
  options.sync = (mode_ == FlushMode::kSync);
  rocksdb::Status s;
  size_t bytes = 0;
  if (group->size() == 1) {
    bytes = (*group)[0].batch.GetDataSize();
    s = db_->Write(options, &(*group)[0].batch);
  } else {
    for (const Pending& p : *group) bytes += p.batch.GetDataSize();
    rocksdb::WriteBatch merged = MergeBatches(*group, bytes);
    bytes = merged.GetDataSize();
    s = db_->Write(options, &merged);
  }
  // See the class comment: memory may already be ahead of disk, so nothing
  // more is written until a restart recovers from RocksDB.
  if (!s.ok()) {
    Fail(FromRocksDb(s, "RocksDB write failed"));
    return DropGroup(group);
  }
  stat_batches_.fetch_add(group->size(), std::memory_order_relaxed);
  stat_groups_.fetch_add(1, std::memory_order_relaxed);
  if (options.sync) stat_syncs_.fetch_add(1, std::memory_order_relaxed);
  stat_bytes_.fetch_add(bytes, std::memory_order_relaxed);
  bytes_since_idle_ += bytes;
  bytes_since_written_ += bytes;
  if (written_.every_bytes > 0 && bytes_since_written_ >= written_.every_bytes) {
    bytes_since_written_ = 0;
    written_.run();
  }
  uint64_t prev = stat_max_group_.load(std::memory_order_relaxed);
  while (group->size() > prev &&
         !stat_max_group_.compare_exchange_weak(prev, group->size(), std::memory_order_relaxed)) {
  }
  // One scope for the whole group: work the callbacks defer per object (a
  // connection's socket write) runs once, after all of them. When the next
  // group is already waiting, that work is better done by other threads:
  // this one is the serial bottleneck.
  DeferScope scope(/*busy=*/queued_.load(std::memory_order_acquire) > 0);
  for (Pending& p : *group) {
    if (p.done) p.done();
  }
}

void Committer::SyncLoop() {
  while (true) {
    {
      MutexLock lock(&mu_);
      if (!stopping_) sync_cv_.WaitFor(&mu_, flush_interval_);
      if (stopping_) return;
    }
    if (failed()) return;
    rocksdb::Status s = db_->SyncWAL();
    if (!s.ok()) {
      // Writes acknowledged since the last sync are in the OS's cache, which
      // survives a crash of the process (the async contract) but may not
      // reach the disk: stop writing, as for a failed write.
      Fail(FromRocksDb(s, "WAL sync failed"));
      return;
    }
    stat_syncs_.fetch_add(1, std::memory_order_relaxed);
  }
}

}  // namespace halfmq::storage
