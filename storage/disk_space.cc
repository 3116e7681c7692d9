#include "storage/disk_space.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace halfmq::storage {
namespace {

Status Errno(const std::string& what, int error) {
  return Status::Internal(what + ": " + std::strerror(error));
}

// fsync of a directory, so that a rename or unlink in it is durable.
void SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

Result<DiskSpace> StatDisk(const std::string& path) {
  struct statvfs st;
  if (::statvfs(path.c_str(), &st) != 0) return Errno("statvfs " + path, errno);
  DiskSpace d;
  d.total_bytes = static_cast<uint64_t>(st.f_blocks) * st.f_frsize;
  d.free_bytes = static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
  return d;
}

std::string ReserveFilePath(const std::string& dir) { return dir + "/RESERVED"; }

uint64_t ReserveFileBytes(const std::string& dir) {
  struct stat st;
  if (::stat(ReserveFilePath(dir).c_str(), &st) != 0) return 0;
  return static_cast<uint64_t>(st.st_size);
}

Status CreateReserveFile(const std::string& dir, uint64_t bytes) {
  const std::string tmp = ReserveFilePath(dir) + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("creating " + tmp, errno);
  // posix_fallocate returns the error rather than setting errno.
  int error = ::posix_fallocate(fd, 0, static_cast<off_t>(bytes));
  if (error == 0 && ::fsync(fd) != 0) error = errno;
  ::close(fd);
  if (error == 0 && ::rename(tmp.c_str(), ReserveFilePath(dir).c_str()) != 0) error = errno;
  if (error != 0) {
    ::unlink(tmp.c_str());
    return Errno("allocating " + std::to_string(bytes) + " bytes for " + ReserveFilePath(dir),
                 error);
  }
  SyncDir(dir);
  return Status::Ok();
}

Result<uint64_t> DeleteReserveFile(const std::string& dir) {
  ::unlink((ReserveFilePath(dir) + ".tmp").c_str());  // left by a crash, if any
  uint64_t bytes = ReserveFileBytes(dir);
  if (::unlink(ReserveFilePath(dir).c_str()) != 0) {
    if (errno == ENOENT) return uint64_t{0};
    return Errno("deleting " + ReserveFilePath(dir), errno);
  }
  SyncDir(dir);
  return bytes;
}

}  // namespace halfmq::storage
