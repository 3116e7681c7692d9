#include "storage/wal_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <thread>
#include <vector>

#include <glog/logging.h>

#include "common/mutex.h"
#include "common/thread_annotations.h"
#include "common/thread_name.h"
#include "storage/rocksdb_internals.h"

namespace halfmq::storage {
namespace {

bool EndsWith(const std::string& name, std::string_view suffix) {
  return name.size() > suffix.size() &&
         name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool IsWal(const std::string& name) { return EndsWith(name, ".log"); }

bool IsTableOrBlob(const std::string& name) {
  return EndsWith(name, ".sst") || EndsWith(name, ".blob");
}

// The zero-filler relies on how RocksDB writes its WAL (storage/README.md,
// "RocksDB internals we depend on"): compiled only for the checked release.
#if HALFMQ_ROCKSDB_INTERNALS_CHECKED

// Below this much free space the WAL is not zero-filled ahead.
constexpr uint64_t kZeroFillMinFreeBytes = 64ull << 20;

// One open WAL file as the zeroer sees it. Offsets are file offsets.
struct ZeroState {
  explicit ZeroState(int file) : fd(file) {}
  ~ZeroState() { ::close(fd); }

  const int fd;  // our own descriptor, for pwrite/fdatasync/ftruncate
  Mutex mu;
  CondVar claim_done;
  uint64_t written GUARDED_BY(mu) = 0;  // end of the appends reserved so far
  uint64_t zeroed GUARDED_BY(mu) = 0;   // zero-filled (or written) below this
  // The range being zero-filled now (empty when begin == end).
  uint64_t claim_begin GUARDED_BY(mu) = 0;
  uint64_t claim_end GUARDED_BY(mu) = 0;
  bool closed GUARDED_BY(mu) = false;  // no more claims
};

// The thread that zero-fills every open WAL of one file system ahead of its
// writer (see the header).
class Zeroer {
 public:
  explicit Zeroer(WalZeroOptions options)
      : options_(options), zeros_(options.chunk_bytes, '\0') {
    thread_ = std::thread([this] {
      SetCurrentThreadName("halfmq-walzero");
      Loop();
    });
  }
  ~Zeroer() {
    {
      MutexLock lock(&mu_);
      stop_ = true;
      cv_.SignalAll();
    }
    thread_.join();
  }

  const WalZeroOptions& options() const { return options_; }

  void Add(std::shared_ptr<ZeroState> file) {
    MutexLock lock(&mu_);
    files_.push_back(std::move(file));
    work_ = true;
    cv_.Signal();
  }
  void Remove(const ZeroState* file) {
    MutexLock lock(&mu_);
    files_.erase(std::remove_if(files_.begin(), files_.end(),
                                [file](const auto& f) { return f.get() == file; }),
                 files_.end());
  }
  void Wake() {
    MutexLock lock(&mu_);
    work_ = true;
    cv_.Signal();
  }

 private:
  void Loop() {
    for (;;) {
      std::vector<std::shared_ptr<ZeroState>> files;
      {
        MutexLock lock(&mu_);
        while (!stop_ && !work_) cv_.Wait(&mu_);
        if (stop_) return;
        work_ = false;
        files = files_;
      }
      for (bool more = true; more;) {
        more = false;
        for (const auto& f : files) more |= ZeroChunk(f.get());
      }
    }
  }

  // Zero-fills the next chunk of `f` if it is less than ahead_bytes ahead of
  // its writer; false if there was nothing to do.
  bool ZeroChunk(ZeroState* f) {
    uint64_t begin, end;
    {
      MutexLock lock(&f->mu);
      if (f->closed) return false;
      begin = std::max(f->zeroed, f->written);
      if (begin >= f->written + options_.ahead_bytes) return false;
      end = begin + options_.chunk_bytes;
    }
    // Zeros are only a head start for the writer's syncs: on a nearly full
    // file system they would take space the WAL itself (and the flushes
    // that follow a disk alarm) needs, so none are written there.
    struct statvfs fs;
    if (::fstatvfs(f->fd, &fs) == 0 &&
        static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize < kZeroFillMinFreeBytes) {
      return false;
    }
    {
      MutexLock lock(&f->mu);
      if (f->closed || std::max(f->zeroed, f->written) != begin) return true;  // moved on: look again
      f->claim_begin = begin;
      f->claim_end = end;
    }
    bool ok = true;
    int error = 0;
    for (uint64_t at = begin; at < end;) {
      ssize_t n = ::pwrite(f->fd, zeros_.data(), end - at, static_cast<off_t>(at));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ok = false;
        error = n < 0 ? errno : EIO;
        break;
      }
      at += static_cast<uint64_t>(n);
    }
    {
      MutexLock lock(&f->mu);
      f->claim_begin = f->claim_end = 0;
      if (ok) f->zeroed = end;
      if (!ok) f->closed = true;  // e.g. a full disk: stop, the writer goes on
      f->claim_done.SignalAll();
    }
    if (!ok) {
      LOG(WARNING) << "zero-filling the WAL ahead of its writer failed: " << std::strerror(error)
                   << "; its syncs may be slower";
      return false;
    }
    // Write the zeros and the now-written extents out, so that the commit
    // writer's syncs find nothing of this range left to do.
    ::fdatasync(f->fd);
    return true;
  }

  const WalZeroOptions options_;
  const std::string zeros_;
  Mutex mu_;
  CondVar cv_;
  std::vector<std::shared_ptr<ZeroState>> files_ GUARDED_BY(mu_);
  bool work_ GUARDED_BY(mu_) = false;
  bool stop_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

class ZeroAheadWalFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  ZeroAheadWalFile(std::unique_ptr<rocksdb::FSWritableFile> target, Zeroer* zeroer,
                   std::shared_ptr<ZeroState> state)
      : FSWritableFileOwnerWrapper(std::move(target)), zeroer_(zeroer), state_(std::move(state)) {
    zeroer_->Add(state_);
  }
  ~ZeroAheadWalFile() override { StopZeroing(); }

  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* dbg) override {
    Reserve(data.size());
    return target()->Append(data, options, dbg);
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           const rocksdb::DataVerificationInfo& info,
                           rocksdb::IODebugContext* dbg) override {
    Reserve(data.size());
    return target()->Append(data, options, info, dbg);
  }
  rocksdb::IOStatus Close(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    uint64_t size = StopZeroing();
    rocksdb::IOStatus s = target()->Close(options, dbg);
    // RocksDB trims its own preallocation; zeros we wrote past it go too.
    struct stat st;
    if (s.ok() && state_ != nullptr && ::fstat(state_->fd, &st) == 0 &&
        static_cast<uint64_t>(st.st_size) > size &&
        ::ftruncate(state_->fd, static_cast<off_t>(size)) != 0) {
      LOG(WARNING) << "trimming a closed WAL: " << std::strerror(errno);
    }
    state_.reset();
    return s;
  }

 private:
  // Reserves [written, written + n) for an append; waits while the zeroer is
  // writing into that range.
  void Reserve(uint64_t n) {
    bool wake;
    {
      MutexLock lock(&state_->mu);
      uint64_t end = state_->written + n;
      while (state_->claim_begin < state_->claim_end && state_->claim_begin < end &&
             state_->written < state_->claim_end) {
        state_->claim_done.Wait(&state_->mu);
      }
      state_->written = end;
      wake = !state_->closed && state_->zeroed < end + zeroer_->options().ahead_bytes / 2;
    }
    if (wake) zeroer_->Wake();
  }

  // Ends zeroing (waits for a chunk being written); returns the bytes
  // appended.
  uint64_t StopZeroing() {
    if (state_ == nullptr) return 0;
    uint64_t written;
    {
      MutexLock lock(&state_->mu);
      state_->closed = true;
      while (state_->claim_begin < state_->claim_end) state_->claim_done.Wait(&state_->mu);
      written = state_->written;
    }
    zeroer_->Remove(state_.get());
    return written;
  }

  Zeroer* const zeroer_;
  std::shared_ptr<ZeroState> state_;
};

#endif  // HALFMQ_ROCKSDB_INTERNALS_CHECKED

class WalFileSystem : public rocksdb::FileSystemWrapper {
 public:
  WalFileSystem(std::shared_ptr<rocksdb::FileSystem> target, WalZeroOptions options)
      : FileSystemWrapper(std::move(target)) {
#if HALFMQ_ROCKSDB_INTERNALS_CHECKED
    if (options.ahead_bytes > 0 && options.chunk_bytes > 0) {
      zeroer_ = std::make_unique<Zeroer>(options);
    }
#else
    (void)options;
#endif
  }
  const char* Name() const override { return "HalfmqWalFileSystem"; }

  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override {
    if (!IsWal(name)) {
      // No preallocation for table and blob files: RocksDB reserves 1.1x
      // their target size up front (70 MiB for a 64 MiB SST, the blob file
      // size for blob files), which on a nearly full disk takes the last free
      // blocks for a moment (or for good, where a failed fallocate keeps
      // what it got) and makes concurrent WAL appends fail with ENOSPC.
      // They are written sequentially and synced every bytes_per_sync anyway.
      if (!IsTableOrBlob(name)) return target()->NewWritableFile(name, options, result, dbg);
      rocksdb::FileOptions plain = options;
      plain.allow_fallocate = false;
      return target()->NewWritableFile(name, plain, result, dbg);
    }
    rocksdb::FileOptions extending = options;
    extending.fallocate_with_keep_size = false;
    rocksdb::IOStatus s = target()->NewWritableFile(name, extending, result, dbg);
    if (s.ok() && !options.use_direct_writes) ZeroAhead(name, result);
    return s;
  }
  rocksdb::IOStatus ReopenWritableFile(const std::string& name,
                                       const rocksdb::FileOptions& options,
                                       std::unique_ptr<rocksdb::FSWritableFile>* result,
                                       rocksdb::IODebugContext* dbg) override {
    rocksdb::FileOptions out = options;
    if (IsWal(name)) out.fallocate_with_keep_size = false;
    return target()->ReopenWritableFile(name, out, result, dbg);
  }

 private:
#if HALFMQ_ROCKSDB_INTERNALS_CHECKED
  // Wraps a new WAL so that the zeroer fills ahead of it, through a
  // descriptor of our own.
  void ZeroAhead(const std::string& name, std::unique_ptr<rocksdb::FSWritableFile>* file) {
    if (zeroer_ == nullptr) return;
    int fd = ::open(name.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
      LOG(WARNING) << "not zero-filling WAL " << name << " ahead: " << std::strerror(errno);
      return;
    }
    *file = std::make_unique<ZeroAheadWalFile>(std::move(*file), zeroer_.get(),
                                               std::make_shared<ZeroState>(fd));
  }

  std::unique_ptr<Zeroer> zeroer_;  // null without zeroing
#else
  // No zero fill on a release it was not checked for.
  void ZeroAhead(const std::string&, std::unique_ptr<rocksdb::FSWritableFile>*) {}
#endif
};

}  // namespace

std::shared_ptr<rocksdb::FileSystem> NewWalFileSystem(std::shared_ptr<rocksdb::FileSystem> base,
                                                      WalZeroOptions options) {
  return std::make_shared<WalFileSystem>(std::move(base), options);
}

rocksdb::Env* WalEnv(bool zero_fill) {
  // Created on first use: a zeroer thread runs only in a process that
  // zero-fills.
  if (zero_fill) {
    static rocksdb::Env* const env =
        rocksdb::NewCompositeEnv(NewWalFileSystem(rocksdb::FileSystem::Default(), WalZeroOptions()))
            .release();
    return env;
  }
  WalZeroOptions none;
  none.ahead_bytes = 0;
  static rocksdb::Env* const plain =
      rocksdb::NewCompositeEnv(NewWalFileSystem(rocksdb::FileSystem::Default(), none)).release();
  return plain;
}

}  // namespace halfmq::storage
