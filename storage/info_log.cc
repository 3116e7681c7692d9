#include "storage/info_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>

namespace halfmq::storage {

InfoLog::InfoLog(std::string dir, uint64_t max_bytes)
    : rocksdb::Logger(rocksdb::InfoLogLevel::INFO_LEVEL),
      path_(std::move(dir) + "/LOG"),
      max_bytes_(max_bytes) {
  MutexLock lock(&mu_);
  OpenLocked();
}

InfoLog::~InfoLog() { CloseImpl().PermitUncheckedError(); }

void InfoLog::OpenLocked() {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  struct stat st;
  size_ = (fd_ >= 0 && ::fstat(fd_, &st) == 0) ? static_cast<uint64_t>(st.st_size) : 0;
}

void InfoLog::Logv(const char* format, va_list ap) {
  // "2026/01/31-12:00:00.123456 1234 message\n", as RocksDB's own logger.
  char line[4096];
  auto now = std::chrono::system_clock::now();
  std::time_t secs = std::chrono::system_clock::to_time_t(now);
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch())
                    .count() % 1000000;
  struct tm t;
  ::localtime_r(&secs, &t);
  int n = std::snprintf(line, sizeof(line), "%04d/%02d/%02d-%02d:%02d:%02d.%06lld %ld ",
                        t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min,
                        t.tm_sec, static_cast<long long>(micros),
                        static_cast<long>(::syscall(SYS_gettid)));
  if (n < 0) return;
  size_t len = static_cast<size_t>(n);
  int m = std::vsnprintf(line + len, sizeof(line) - len - 1, format, ap);
  if (m < 0) return;
  len = std::min(len + static_cast<size_t>(m), sizeof(line) - 2);
  if (line[len - 1] != '\n') line[len++] = '\n';

  MutexLock lock(&mu_);
  if (size_ >= max_bytes_ && fd_ >= 0) {
    ::close(fd_);
    ::rename(path_.c_str(), (path_ + ".old").c_str());
    OpenLocked();
  }
  if (fd_ < 0) OpenLocked();
  ssize_t written = fd_ >= 0 ? ::write(fd_, line, len) : -1;
  if (written == static_cast<ssize_t>(len)) {
    size_ += len;
  } else {
    ++dropped_;  // a full disk: lose the line, never the process
  }
}

size_t InfoLog::GetLogFileSize() const {
  MutexLock lock(&mu_);
  return size_;
}

uint64_t InfoLog::dropped_lines() const {
  MutexLock lock(&mu_);
  return dropped_;
}

rocksdb::Status InfoLog::CloseImpl() {
  MutexLock lock(&mu_);
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  return rocksdb::Status::OK();
}

}  // namespace halfmq::storage
