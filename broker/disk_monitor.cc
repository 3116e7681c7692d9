#include "broker/disk_monitor.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include <glog/logging.h>

#include "common/thread_name.h"
#include "storage/disk_space.h"

namespace halfmq::broker {
namespace {

constexpr uint64_t kMiB = 1 << 20;

std::string MiB(uint64_t bytes) { return std::to_string(bytes / kMiB) + " MiB"; }

}  // namespace

DiskMonitor::DiskMonitor(std::string data_dir, DiskOptions options)
    : dir_(std::move(data_dir)), options_(options) {}

DiskMonitor::~DiskMonitor() { Stop(); }

Result<bool> DiskMonitor::PrepareForOpen() {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return Status::Internal("creating " + dir_ + ": " + ec.message());
  auto disk = storage::StatDisk(dir_);
  if (!disk.ok()) return disk.status();
  total_bytes_ = disk->total_bytes;
  threshold_ = std::min(options_.min_free_bytes, disk->total_bytes / 2);
  reserve_ = std::min(options_.reserve_bytes, disk->total_bytes / 8);
  LOG(INFO) << "disk: " << MiB(disk->free_bytes) << " free of " << MiB(disk->total_bytes)
            << " on " << dir_ << "; new messages are refused below " << MiB(threshold_)
            << " free (--min_free_disk_mb=" << options_.min_free_bytes / kMiB
            << ", at most half the disk); reserve file " << MiB(reserve_);
  free_bytes_.store(disk->free_bytes);
  bool low = disk->free_bytes < std::max(threshold_, reserve_);
  if (low) {
    auto deleted = storage::DeleteReserveFile(dir_);
    if (!deleted.ok()) return deleted.status();
    LOG(WARNING) << "disk: only " << MiB(disk->free_bytes) << " free on " << dir_
                 << ", below the threshold of " << MiB(std::max(threshold_, reserve_))
                 << "; deleted the reserve file (" << MiB(*deleted)
                 << ") and opening the store without flushing its WAL or preallocating "
                    "(WAL syncs are slower until the next restart)";
  }
  return low;
}

void DiskMonitor::Start(const storage::Store* store) {
  store_ = store;
  Check();  // the state is known before the first request
  thread_ = std::thread([this] {
    SetCurrentThreadName("halfmq-disk");
    Loop();
  });
}

void DiskMonitor::Stop() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
    cv_.SignalAll();
  }
  if (thread_.joinable()) thread_.join();
}

void DiskMonitor::Wake() {
  MutexLock lock(&mu_);
  wake_ = true;
  cv_.Signal();
}

void DiskMonitor::Loop() {
  for (;;) {
    {
      MutexLock lock(&mu_);
      if (!stop_ && !wake_) cv_.WaitFor(&mu_, options_.check_interval);
      if (stop_) return;
      wake_ = false;
    }
    Check();
  }
}

void DiskMonitor::Check() {
  auto disk = storage::StatDisk(dir_);
  if (!disk.ok()) {
    LOG_IF(WARNING, !stat_failed_logged_) << "disk: " << disk.status();
    stat_failed_logged_ = true;
    return;
  }
  stat_failed_logged_ = false;
  free_bytes_.store(disk->free_bytes, std::memory_order_relaxed);
  UpdateLow(disk->free_bytes);
  MaybeCreateReserve(disk->free_bytes);
  reserve_file_bytes_.store(storage::ReserveFileBytes(dir_), std::memory_order_relaxed);
}

void DiskMonitor::UpdateLow(uint64_t free_bytes) {
  if (threshold_ == 0) return;
  bool was_low = low_.load(std::memory_order_relaxed);
  if (!was_low && free_bytes < threshold_) {
    std::string flag = "--min_free_disk_mb=" + std::to_string(options_.min_free_bytes / kMiB);
    if (threshold_ != options_.min_free_bytes) {
      flag += " (" + MiB(threshold_) + " on this " + MiB(total_bytes_) + " disk)";
    }
    {
      MutexLock lock(&mu_);
      low_status_ = Status::ResourceExhausted(
          "disk free below " + flag + ": " + MiB(free_bytes) +
          " free; new messages are refused until disk space is freed");
    }
    low_.store(true, std::memory_order_release);
    low_events_.fetch_add(1, std::memory_order_relaxed);
    LOG(WARNING) << "disk: " << MiB(free_bytes) << " free on " << dir_ << ", below " << flag
                 << ": refusing sends, half messages and redrives until space is freed; "
                    "receives, acks and transaction ends go on";
  } else if (was_low && free_bytes >= threshold_ + threshold_ / 8) {
    low_.store(false, std::memory_order_release);
    LOG(INFO) << "disk: " << MiB(free_bytes) << " free on " << dir_
              << " again: accepting new messages";
  }
}

void DiskMonitor::MaybeCreateReserve(uint64_t free_bytes) {
  // Room for the reserve and as much again above the threshold, so that
  // creating it does not itself bring the disk close to the threshold.
  if (reserve_ == 0 || free_bytes < threshold_ + threshold_ / 8 + 2 * reserve_ ||
      storage::ReserveFileBytes(dir_) >= reserve_) {
    return;
  }
  Status s = storage::CreateReserveFile(dir_, reserve_);
  if (s.ok()) {
    LOG(INFO) << "disk: created the reserve file " << storage::ReserveFilePath(dir_) << " ("
              << MiB(reserve_) << ")";
    reserve_failed_logged_ = false;
  } else {
    LOG_IF(WARNING, !reserve_failed_logged_) << "disk: " << s;
    reserve_failed_logged_ = true;
  }
}

Status DiskMonitor::Admit(RequestWrites kind) const {
  if (kind == RequestWrites::kNothing) return Status::Ok();
  if (store_ != nullptr && store_->read_only()) {
    refused_.fetch_add(1, std::memory_order_relaxed);
    return Status::Unavailable("storage is read-only after a failed write (" +
                               store_->write_status().message() +
                               "); restart the broker once the disk has room");
  }
  if (kind == RequestWrites::kMessages && low_.load(std::memory_order_acquire)) {
    refused_.fetch_add(1, std::memory_order_relaxed);
    MutexLock lock(&mu_);
    return low_status_;
  }
  return Status::Ok();
}

void DiskMonitor::AddStats(std::map<std::string, int64_t>* stats) const {
  auto& s = *stats;
  s["disk_free_bytes"] = static_cast<int64_t>(free_bytes_.load(std::memory_order_relaxed));
  s["disk_min_free_bytes"] = static_cast<int64_t>(threshold_);
  s["disk_low"] = low_.load(std::memory_order_relaxed) ? 1 : 0;
  s["disk_low_events"] = low_events_.load(std::memory_order_relaxed);
  s["disk_refused_requests"] = refused_.load(std::memory_order_relaxed);
  s["disk_reserve_bytes"] =
      static_cast<int64_t>(reserve_file_bytes_.load(std::memory_order_relaxed));
  s["storage_read_only"] = store_ != nullptr && store_->read_only() ? 1 : 0;
}

}  // namespace halfmq::broker
