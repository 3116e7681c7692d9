// Store: the broker's one RocksDB instance. Owns the column families of
// storage/keys.h, the group-commit Committer, and the typed reads the broker
// needs at start-up and while serving.
//
// Writes go only through Commit(), as Batches. Reads may touch disk, so
// network threads must not call them (the broker runs them on its blocking
// pool); they are safe to call from any number of threads at once.
//
// Lifecycle: Open() -> use -> destructor (stops the committer after writing
// everything queued, then closes RocksDB cleanly). Thread-safe.
#ifndef HALFMQ_STORAGE_STORE_H_
#define HALFMQ_STORAGE_STORE_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/ids.h"
#include "common/status.h"
#include "proto/halfmq/v1/records.pb.h"
#include "storage/batch.h"
#include "storage/committer.h"
#include "storage/keys.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
class Cache;
class Iterator;
class CompactionFilter;
}  // namespace rocksdb

namespace halfmq::storage {

struct StoreOptions {
  std::string path;
  FlushMode flush = FlushMode::kSync;
  std::chrono::milliseconds flush_interval{100};
  // How long the commit writer spins for the next batch before sleeping
  // (adaptive; see Committer). 0: never spin.
  std::chrono::microseconds commit_spin{0};
  size_t block_cache_bytes = 64 << 20;
  size_t message_write_buffer_bytes = 64 << 20;
  // All memtables of all keyspaces together: beyond it RocksDB flushes one
  // (0: only the per-keyspace bounds).
  size_t memtable_budget_bytes = 256 << 20;
  // Stored messages at least this large (encoded) keep their value in blob
  // files rather than in the LSM tree (0: never).
  uint64_t message_blob_min_bytes = 256;
  // WAL files are kept until every column family's memtable that has data in
  // them is flushed; this bound forces flushes of quiet column families.
  uint64_t max_total_wal_bytes = 256ull << 20;
  // Message-index entries older than this are dropped in compaction (the
  // broker sets it to the message retention).
  int64_t index_ttl_ms = 72ll * 3600 * 1000;
  // Nice value of RocksDB's flush and compaction threads (0: leave them at
  // normal priority), so that they mostly use the CPU the foreground leaves
  // idle. Process-wide in effect: the thread pools belong to RocksDB's
  // default Env, and a thread keeps the value of the first store that ran a
  // job on it.
  int background_nice = 10;
  // Once at least idle_flush_min_bytes were written and no write came for
  // idle_flush_after, the memtables of all keyspaces are flushed (0: never),
  // so the flushes and compactions a burst leaves behind run while the broker
  // is idle rather than at the start of the next burst, and a restart replays
  // less WAL.
  std::chrono::milliseconds idle_flush_after{1000};
  uint64_t idle_flush_min_bytes = 1 << 20;
  // Memtables are our skip list (memtable_rep.h) rather than RocksDB's.
  bool own_memtable = true;
  // The WAL is zero-filled ahead of its writer (wal_file.h). Both are used
  // only on the RocksDB release they were checked for (rocksdb_internals.h).
  bool wal_zero_fill = true;
  // Opening on a nearly full disk: replays the WAL into memtables without
  // flushing them to new files (RocksDB keeps the WAL until a later flush),
  // and preallocates nothing (no fallocate; the WAL zero fill stops by
  // itself on a nearly full disk), so that the store opens in the little
  // room there is. The broker sets it when free space is below its
  // threshold at start (docs/operations.md, "Disk full"); it holds until
  // the process ends (WAL syncs are then slower).
  bool low_disk = false;
  // Called on the commit thread after every so many bytes written (see
  // WrittenHook): the broker's disk monitor checks free space then.
  WrittenHook written;
};

// A message read back from the log.
struct LoggedMessage {
  Offset offset;
  v1::StoredMessage message;
};

struct StoreStats {
  CommitterStats committer;
  uint64_t live_data_bytes = 0;  // estimate over all column families
  uint64_t memtable_bytes = 0;
};

class Store {
 public:
  // Opens or creates the store at options.path. Errors: INTERNAL with
  // RocksDB's message (corruption, permissions, lock held by another
  // process); FAILED_PRECONDITION for a data directory of another storage
  // format.
  static Result<std::unique_ptr<Store>> Open(const StoreOptions& options);

  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  Batch NewBatch() const { return Batch(handles_.data()); }

  // Group commit (see Committer): `done` runs on the writer thread once the
  // batch is durable per the flush mode. Never blocks on disk. After a failed
  // write the store is read-only (write_status()) and `done` is destroyed
  // without running, so what it owns must answer for itself then.
  void Commit(Batch batch, Committer::Callback done);

  // Commits and waits. For start-up, tests and background threads only.
  // Errors: write_status() when the store is read-only.
  [[nodiscard]] Status CommitAndWait(Batch batch);

  // OK while writes are accepted; after a failed write (full disk, I/O
  // error), why the store became read-only until the process restarts.
  Status write_status() const { return committer_->failure(); }
  bool read_only() const { return committer_->failed(); }

  // --- Start-up loads ----------------------------------------------------
  Status LoadTopics(std::vector<v1::TopicRecord>* topics) const;
  Status LoadSubscriptions(std::vector<v1::SubscriptionRecord>* subs) const;
  // Calls fn for each cursor / in-flight record of the subscription.
  Status LoadCursors(SubscriptionId sub,
                     const std::function<void(QueueId, const v1::CursorRecord&)>& fn) const;
  Status LoadInflight(
      SubscriptionId sub,
      const std::function<void(QueueId, Offset, const v1::InflightRecord&)>& fn) const;
  // One in-flight record; nullopt if there is none. Errors: INTERNAL for a
  // record that does not parse, or RocksDB's read error.
  Result<std::optional<v1::InflightRecord>> ReadInflight(SubscriptionId sub, QueueId queue,
                                                         Offset offset) const;
  // Offset of the last stored message of a queue, if any.
  Result<std::optional<Offset>> LastMessageOffset(TopicId topic, QueueId queue) const;
  // Retention low watermark of a queue, if one was ever written.
  Result<std::optional<Offset>> QueueLow(TopicId topic, QueueId queue) const;

  // --- Message reads -----------------------------------------------------
  // Reads consecutive messages of a queue starting at `from`, stopping before
  // `end`, after max_count messages, or before the record bytes would
  // exceed max_bytes (the first message is returned whatever its size).
  // Missing offsets
  // (removed by retention) are skipped.
  Status ReadMessages(TopicId topic, QueueId queue, Offset from, Offset end, size_t max_count,
                      size_t max_bytes, std::vector<LoggedMessage>* out) const;
  // Reads one message; nullopt if it does not exist (never written, or
  // removed by retention).
  Result<std::optional<v1::StoredMessage>> ReadMessage(TopicId topic, QueueId queue,
                                                       Offset offset) const;
  // Store time of one message, if it exists (retention's binary search).
  Result<std::optional<int64_t>> MessageStoreTime(TopicId topic, QueueId queue,
                                                  Offset offset) const;
  // Asks RocksDB to compact a queue's range [from, to) so that deleted
  // messages leave the disk soon. Blocking; background threads only.
  Status CompactMessages(TopicId topic, QueueId queue, Offset from, Offset to);

  StoreStats stats() const;
  const StoreOptions& options() const { return options_; }

 private:
  // The typed tables of the other keyspaces, and tests' raw access, read
  // through the raw operations below; nothing outside storage/ can.
  friend class DelayedTable;
  friend class GroupTable;
  friend class MessageIndex;
  friend class RawKeyspaceAccess;
  friend class TxnTable;

  // Raw reads by keyspace.
  Result<std::optional<std::string>> Get(Keyspace keyspace, std::string_view key) const;
  // Iterates keys >= start (and < end when end is non-empty) in order until
  // fn returns false.
  Status Scan(Keyspace keyspace, std::string_view start, std::string_view end,
              const std::function<bool(std::string_view key, std::string_view value)>& fn) const;

  Store(const StoreOptions& options, std::unique_ptr<rocksdb::DB> db,
        std::vector<rocksdb::ColumnFamilyHandle*> handles);
  rocksdb::ColumnFamilyHandle* cf(Keyspace k) const { return handles_[static_cast<int>(k)]; }

  const StoreOptions options_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // owned; destroyed before db_
  std::unique_ptr<Committer> committer_;
  std::unique_ptr<rocksdb::CompactionFilter> index_filter_;  // used by the index CF
};

}  // namespace halfmq::storage

#endif  // HALFMQ_STORAGE_STORE_H_
