// DiskMonitor: the broker's disk alarm (docs/operations.md, "Disk full").
//
// A thread checks the free space of the data directory's file system every
// check_interval, and sooner after every check_every_bytes the store writes
// (Wake(), from the commit thread). Below the threshold the broker refuses
// requests that add messages (sends, delayed sends, half messages, redrive)
// with RESOURCE_EXHAUSTED, and keeps serving everything else: receives,
// acks, nacks, EndTransaction (how producers settle what they already
// wrote), admin reads. It accepts them again once free space is back above
// the threshold plus a margin (an eighth of the threshold), so that the
// state does not flap. Each change is logged once.
//
// After a failed write the store is read-only (storage/committer.h): every
// request that writes is then refused with UNAVAILABLE until a restart.
//
// The reserve file (storage/disk_space.h): before the store opens,
// PrepareForOpen() deletes it if free space is below the threshold (or below
// the reserve's own size), so that RocksDB can open and replay its WAL on a
// full disk; the thread recreates it once there is room for it above the
// threshold.
//
// Sizes: the threshold is min_free_bytes, but at most half of the file
// system, so that a small disk (a test's tmpfs, a developer's partition)
// stays usable; the reserve is at most an eighth of the file system. 0
// turns either off.
//
// Owned by Broker: PrepareForOpen, then Start(store) (the store must outlive
// Stop()), then Stop(). Admit(), Wake() and AddStats() are thread-safe and
// never block on disk: Admit() reads atomics (network threads call it).
#ifndef HALFMQ_BROKER_DISK_MONITOR_H_
#define HALFMQ_BROKER_DISK_MONITOR_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <thread>

#include "common/mutex.h"
#include "common/status.h"
#include "common/thread_annotations.h"
#include "storage/store.h"

namespace halfmq::broker {

struct DiskOptions {
  uint64_t min_free_bytes = 256ull << 20;  // --min_free_disk_mb; 0: no alarm
  uint64_t reserve_bytes = 64ull << 20;    // --disk_reserve_mb; 0: no reserve file
  std::chrono::milliseconds check_interval{100};
  // The commit thread wakes the monitor after this many bytes written.
  uint64_t check_every_bytes = 1 << 20;
};

// What a request does to storage, for admission.
enum class RequestWrites {
  kNothing,   // reads only
  kState,     // small state records (acks, in-flight entries, outcomes)
  kMessages,  // adds messages (sends, half messages, redrive)
};

class DiskMonitor {
 public:
  DiskMonitor(std::string data_dir, DiskOptions options);
  ~DiskMonitor();
  DiskMonitor(const DiskMonitor&) = delete;
  DiskMonitor& operator=(const DiskMonitor&) = delete;

  // Before the store opens: creates the data directory if needed, works out
  // the thresholds, and deletes the reserve file when free space is below
  // the threshold (or the reserve). Returns whether it is (the store then opens without
  // flushing during WAL replay). Errors: INTERNAL (statvfs, deleting).
  Result<bool> PrepareForOpen();

  // Starts the monitoring thread.
  void Start(const storage::Store* store) EXCLUDES(mu_);
  void Stop() EXCLUDES(mu_);
  // Asks for a check soon. Cheap; any thread.
  void Wake() EXCLUDES(mu_);

  // OK, or the error to answer a request of this kind with: UNAVAILABLE
  // when the store is read-only, RESOURCE_EXHAUSTED for kMessages while free
  // space is below the threshold.
  Status Admit(RequestWrites kind) const EXCLUDES(mu_);

  // disk_* and storage_read_only gauges and counters (docs/operations.md).
  void AddStats(std::map<std::string, int64_t>* stats) const;

 private:
  void Loop() EXCLUDES(mu_);
  void Check() EXCLUDES(mu_);
  void UpdateLow(uint64_t free_bytes) EXCLUDES(mu_);
  void MaybeCreateReserve(uint64_t free_bytes);

  const std::string dir_;
  const DiskOptions options_;
  // Effective values (see the class comment), set by PrepareForOpen.
  uint64_t threshold_ = 0;
  uint64_t reserve_ = 0;
  uint64_t total_bytes_ = 0;
  const storage::Store* store_ = nullptr;

  mutable Mutex mu_;
  CondVar cv_;
  bool stop_ GUARDED_BY(mu_) = false;
  bool wake_ GUARDED_BY(mu_) = false;
  Status low_status_ GUARDED_BY(mu_);

  std::atomic<bool> low_{false};
  std::atomic<uint64_t> free_bytes_{0};
  std::atomic<uint64_t> reserve_file_bytes_{0};
  std::atomic<int64_t> low_events_{0};
  mutable std::atomic<int64_t> refused_{0};
  // Monitor thread only.
  bool stat_failed_logged_ = false;
  bool reserve_failed_logged_ = false;
  std::thread thread_;
};

}  // namespace halfmq::broker

#endif  // HALFMQ_BROKER_DISK_MONITOR_H_
