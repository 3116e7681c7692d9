// Free space of the file system that holds the data directory, and the
// reserve file the broker keeps there (docs/operations.md, "Disk full").
//
// The reserve file, <data_dir>/RESERVED, is plain allocated space that the
// broker gives back when it starts on a disk with less free space than its
// threshold: RocksDB needs room to open (a new MANIFEST, WAL and info log)
// and replay its WAL, and a disk filled to the last byte would otherwise keep
// the broker from starting at all. RocksDB ignores files it does not name.
//
// Free functions, no state; safe from any thread. They touch the disk, so
// they never run on a network thread.
#ifndef HALFMQ_STORAGE_DISK_SPACE_H_
#define HALFMQ_STORAGE_DISK_SPACE_H_

#include <cstdint>
#include <string>

#include "common/status.h"

namespace halfmq::storage {

struct DiskSpace {
  uint64_t total_bytes = 0;
  uint64_t free_bytes = 0;  // available to an unprivileged writer (f_bavail)
};

// statvfs of `path`. Errors: INTERNAL with the errno text.
Result<DiskSpace> StatDisk(const std::string& path);

// Name of the reserve file inside `dir`.
std::string ReserveFilePath(const std::string& dir);

// Size of the reserve file, 0 if there is none.
uint64_t ReserveFileBytes(const std::string& dir);

// Creates the reserve file with `bytes` allocated (written through a
// temporary name and renamed, so a crash or a full disk never leaves a
// partial one under the real name). Errors: INTERNAL (ENOSPC and the like);
// nothing is left behind then.
Status CreateReserveFile(const std::string& dir, uint64_t bytes);

// Deletes the reserve file if there is one; returns the bytes it held.
// Errors: INTERNAL.
Result<uint64_t> DeleteReserveFile(const std::string& dir);

}  // namespace halfmq::storage

#endif  // HALFMQ_STORAGE_DISK_SPACE_H_
