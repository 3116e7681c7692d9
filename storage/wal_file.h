// The file system RocksDB writes its WAL through.
//
// Every durable acknowledgement waits for an fdatasync of the WAL, so what
// that sync has to write matters. RocksDB preallocates a WAL in large blocks
// with fallocate, by default with FALLOC_FL_KEEP_SIZE: every append then
// still grows the file, and each sync also writes the inode. We preallocate by
// extending the file instead (fallocate_with_keep_size = false), so the size
// no longer changes (1 KiB appends: sync p50 166 -> 111 us on this ext4).
//
// That still leaves the blocks unwritten extents: the first write into each
// converts part of an extent, and the sync must write the extent tree too.
// Under load, when each group commit appends tens of KiB, nearly every sync
// converts (26 KiB appends: 173-209 us, against 90-110 us into blocks already
// written). So a zeroer thread keeps the WAL written ahead of the writer:
// it fills the next few MiB past the write position with zeros and syncs
// them, off the commit path, and the commit writer's syncs then write data
// only. After a crash the zeros past the last record read as padding
// (kZeroType), which recovery skips, as with any preallocated tail; RocksDB
// truncates the file to its real size when it closes it.
//
// Safety of the two writers: the zeroer writes only ranges it claimed past
// the writer's reserved end, and an append that would reach into a claimed
// range waits for that pwrite (tens of us) to finish; zeros are never written
// where data was or will be written before the zeros land.
#ifndef HALFMQ_STORAGE_WAL_FILE_H_
#define HALFMQ_STORAGE_WAL_FILE_H_

#include <cstdint>
#include <memory>

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

namespace halfmq::storage {

struct WalZeroOptions {
  // Keep at least this much zero-filled past the write position (0: no
  // zeroing, only the extending preallocation).
  uint64_t ahead_bytes = 4 << 20;
  // Zero-filled per pwrite + fdatasync.
  uint64_t chunk_bytes = 128 << 10;
};

// Wraps `base`: files named *.log (RocksDB's WALs) are preallocated by
// extending them and, with options.ahead_bytes > 0, zero-filled ahead (only
// when built against the RocksDB release this was checked for, see
// rocksdb_internals.h); table and blob files (*.sst, *.blob) are not
// preallocated at all (a nearly full disk, see wal_file.cc).
std::shared_ptr<rocksdb::FileSystem> NewWalFileSystem(std::shared_ptr<rocksdb::FileSystem> base,
                                                      WalZeroOptions options);

// The Env the store opens RocksDB with: the default Env over
// NewWalFileSystem(default file system, WalZeroOptions()), or with
// ahead_bytes = 0 when !zero_fill. One of each per process, created on
// first use.
rocksdb::Env* WalEnv(bool zero_fill);

}  // namespace halfmq::storage

#endif  // HALFMQ_STORAGE_WAL_FILE_H_
