// RocksDB's info log (the LOG file in the data directory), written so that a
// full disk cannot stop the broker.
//
// RocksDB's own file logger writes through a WritableFileWriter, which after
// one failed append asserts on the next (the Debian build keeps its
// assertions): on a full disk the first flush that logs a line aborted the
// process. This logger writes each line with write(2) and drops lines the
// disk has no room for. Past max_bytes the file is renamed to LOG.old and a
// new one started, so the log keeps at most about twice that.
//
// Thread-safe (RocksDB logs from many threads).
#ifndef HALFMQ_STORAGE_INFO_LOG_H_
#define HALFMQ_STORAGE_INFO_LOG_H_

#include <cstdarg>
#include <cstdint>
#include <memory>
#include <string>

#include <rocksdb/env.h>

#include "common/mutex.h"
#include "common/thread_annotations.h"

namespace halfmq::storage {

class InfoLog : public rocksdb::Logger {
 public:
  // Appends to `dir`/LOG (created if missing; `dir` must exist).
  InfoLog(std::string dir, uint64_t max_bytes);
  ~InfoLog() override;

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override EXCLUDES(mu_);
  size_t GetLogFileSize() const override EXCLUDES(mu_);
  // Lines lost to write errors (a full disk) since the start.
  uint64_t dropped_lines() const EXCLUDES(mu_);

 protected:
  rocksdb::Status CloseImpl() override EXCLUDES(mu_);

 private:
  void OpenLocked() REQUIRES(mu_);

  const std::string path_;
  const uint64_t max_bytes_;
  mutable Mutex mu_;
  int fd_ GUARDED_BY(mu_) = -1;
  uint64_t size_ GUARDED_BY(mu_) = 0;
  uint64_t dropped_ GUARDED_BY(mu_) = 0;
};

}  // namespace halfmq::storage

#endif  // HALFMQ_STORAGE_INFO_LOG_H_
