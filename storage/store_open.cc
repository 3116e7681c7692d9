// Store: opening, closing and committing.
#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string_view>

#include <glog/logging.h>
#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/listener.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/table_properties_collectors.h>

#include "storage/index_filter.h"
#include "storage/info_log.h"
#include "storage/insert_hint.h"
#include "storage/memtable_rep.h"
#include "storage/rocksdb_internals.h"
#include "storage/rocksdb_status.h"
#include "storage/store.h"
#include "storage/wal_file.h"

namespace halfmq::storage {
namespace {

// Lowers the CPU priority of RocksDB's flush and compaction threads to
// `nice`, from the first job each runs. Flushes compete with the commit
// writer, the network threads and the clients for the CPU; at normal
// priority a 64 MiB flush of the messages keyspace held a core for 80-100 ms
// several times a second and set the tail latency. RocksDB's own
// LowerThreadPoolCPUPriority offers only nice 19, which on a saturated
// machine starves flushes (a flush took over 30 s under a parallel ASan
// test run) until RocksDB stalls writes; nice 10 still gives them about a
// tenth of a contended core.
class BackgroundNice : public rocksdb::EventListener {
 public:
  explicit BackgroundNice(int nice) : nice_(nice) {}
  const char* Name() const override { return "halfmq.BackgroundNice"; }
  void OnFlushBegin(rocksdb::DB*, const rocksdb::FlushJobInfo&) override { Apply(); }
  void OnCompactionBegin(rocksdb::DB*, const rocksdb::CompactionJobInfo&) override { Apply(); }

 private:
  void Apply() const {
    thread_local bool applied = false;
    if (applied) return;
    applied = true;
    // Only RocksDB's own pool threads ("rocksdb:high", "rocksdb:low"), never
    // a thread of ours that happens to run a job.
    char name[16] = {};
    if (pthread_getname_np(pthread_self(), name, sizeof(name)) != 0 ||
        std::string_view(name).substr(0, 8) != "rocksdb:") {
      return;
    }
    if (setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), nice_) != 0) {
      LOG(WARNING) << "lowering the priority of RocksDB thread " << name << ": "
                   << std::strerror(errno);
    }
  }

  const int nice_;
};

constexpr char kFormatVersionKey[] = "halfmq.format_version";
constexpr char kFormatVersion[] = "2";

// Format 1 kept half messages and outcomes in `txn`, and the age and
// settled-expiry indexes in `txn_due`, next to the state records and the
// check-due index. Format 2 gives each stream its own keyspace, with the
// same key bytes. Moves them, in batches that each put and delete the same
// keys, so a crash part way leaves every key in exactly one place and the
// next start continues; the version is written last.
Status MigrateFromFormat1(rocksdb::DB* db, const std::vector<rocksdb::ColumnFamilyHandle*>& h) {
  struct Move {
    Keyspace from;
    char prefix;
    Keyspace to;
  };
  const Move moves[] = {{Keyspace::kTxn, 'H', Keyspace::kTxnHalf},
                        {Keyspace::kTxn, 'O', Keyspace::kTxnOutcome},
                        {Keyspace::kTxnDue, 'A', Keyspace::kTxnAge},
                        {Keyspace::kTxnDue, 'X', Keyspace::kTxnSettled}};
  constexpr size_t kBatchKeys = 10000;
  uint64_t moved = 0;
  for (const Move& m : moves) {
    rocksdb::ColumnFamilyHandle* from = h[static_cast<int>(m.from)];
    rocksdb::ColumnFamilyHandle* to = h[static_cast<int>(m.to)];
    const std::string begin(1, m.prefix);
    const std::string end(1, static_cast<char>(m.prefix + 1));
    std::string next = begin;
    for (;;) {
      rocksdb::WriteBatch batch;
      size_t n = 0;
      {
        rocksdb::ReadOptions ro;
        rocksdb::Slice upper(end);
        ro.iterate_upper_bound = &upper;
        std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, from));
        for (it->Seek(next); it->Valid() && n < kBatchKeys; it->Next(), ++n) {
          rocksdb::Status s = batch.Put(to, it->key(), it->value());
          if (s.ok()) s = batch.Delete(from, it->key());
          if (!s.ok()) return FromRocksDb(s, "migrating transaction keys");
          next.assign(it->key().data(), it->key().size());
          next.push_back('\0');
        }
        if (!it->status().ok()) return FromRocksDb(it->status(), "migrating transaction keys");
      }
      if (n == 0) break;
      rocksdb::WriteOptions wo;
      wo.sync = true;
      rocksdb::Status s = db->Write(wo, &batch);
      if (!s.ok()) return FromRocksDb(s, "migrating transaction keys");
      moved += n;
    }
    rocksdb::Slice b(begin), e(end);
    rocksdb::Status s = db->CompactRange(rocksdb::CompactRangeOptions(), from, &b, &e);
    if (!s.ok()) return FromRocksDb(s, "compacting migrated transaction keys");
  }
  LOG(INFO) << "storage format 1 -> 2: moved " << moved
            << " transaction keys into their own keyspaces";
  return Status::Ok();
}

rocksdb::BlockBasedTableOptions TableOptions(const std::shared_ptr<rocksdb::Cache>& cache) {
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  // Index and filter blocks live in the (bounded) block cache, partitioned
  // so that a lookup reads one small partition rather than a whole file's
  // filter, with high priority and the top levels pinned, so data blocks
  // streaming through (e.g. a million pending transactions being written
  // and compacted) do not evict them: otherwise every point lookup re-reads
  // and re-checksums a large filter block.
  table.cache_index_and_filter_blocks = true;
  table.cache_index_and_filter_blocks_with_high_priority = true;
  table.pin_top_level_index_and_filter = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  table.index_type = rocksdb::BlockBasedTableOptions::IndexType::kTwoLevelIndexSearch;
  table.partition_filters = true;
  table.metadata_block_size = 4096;
  return table;
}

// The options of CfOptions that do not follow its switch: small files for the
// time indexes, the memtable representation, insert hints and small
// memtables for small keys.
void SetTimeIndexAndMemtableOptions(Keyspace k, const StorageComponents& components,
                                    const InsertHints& hints, rocksdb::ColumnFamilyOptions* cf) {
  if (k == Keyspace::kTxnDue || k == Keyspace::kDelayed) {
    // Time indexes whose new keys land inside the range of the keys waiting
    // in them (a check due in 6 s sorts before one due in an hour; a delay
    // of 1 s before one of a day). A flush's compaction rewrites every file
    // of the level below that its keys' range overlaps; with the default
    // 64 MiB files that was the whole index, 1M pending checks (3.5 MiB
    // compressed, ~0.3 s of CPU) again at every flush. Small files bound it
    // to the few around the new keys.
    cf->target_file_size_base = 256 << 10;
  }
  // Our single commit writer inserts without RocksDB's concurrent memtable
  // writes, which is what the hints need (see storage/insert_hint.h).
  if (components.insert_hints) cf->memtable_insert_with_hint_prefix_extractor = hints.For(k);
  // Otherwise RocksDB's default, its SkipListFactory.
  if (components.own_memtable) cf->memtable_factory = NewOrderedMemTableFactory();
  if (k == Keyspace::kTxnAge || k == Keyspace::kTxnOutcome || k == Keyspace::kTxnSettled) {
    // Small keys (and outcome records): smaller memtables.
    cf->write_buffer_size = 8 << 20;
    cf->max_write_buffer_number = 2;
  }
}

rocksdb::ColumnFamilyOptions CfOptions(Keyspace k, const StoreOptions& options,
                                       const StorageComponents& components,
                                       const std::shared_ptr<rocksdb::Cache>& cache,
                                       const rocksdb::CompactionFilter* index_filter,
                                       const InsertHints& hints) {
  rocksdb::ColumnFamilyOptions cf;
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(TableOptions(cache)));
  switch (k) {
    case Keyspace::kMessages:
      // The bulk of the data: large memtables so that most consumers read
      // recent messages from memory, LZ4 on disk.
      cf.write_buffer_size = options.message_write_buffer_bytes;
      cf.max_write_buffer_number = 4;
      cf.compression = rocksdb::kLZ4Compression;
      cf.bottommost_compression = rocksdb::kZSTD;
      if (options.message_blob_min_bytes > 0) {
        // Bodies go to blob files when flushed, so compactions (which the
        // sorted log needs as it grows, and retention's range deletes) move
        // only keys and blob references, not every body again at every
        // level. Retention leaves whole blob files without live references
        // (messages expire in store-time order), and RocksDB deletes such
        // files; no blob garbage collection is needed. No blob cache:
        // consumers mostly read a message once per group, and caching bodies
        // cost more CPU and memory than the reads it saved (measured).
        cf.enable_blob_files = true;
        cf.min_blob_size = options.message_blob_min_bytes;
        cf.blob_file_size = 256 << 20;
        cf.blob_compression_type = rocksdb::kLZ4Compression;
      }
      break;
    case Keyspace::kIndex:
      // Written with every message; read on every send (dedup) and lookup,
      // mostly for ids that do not exist: whole-key bloom filters in the
      // memtable as on disk. Old entries are dropped in compaction, and
      // every file is compacted at least daily so that happens.
      cf.compaction_filter = index_filter;
      cf.memtable_prefix_bloom_size_ratio = 0.05;
      cf.memtable_whole_key_filtering = true;
      cf.periodic_compaction_seconds = 24 * 3600;
      cf.write_buffer_size = 32 << 20;
      cf.max_write_buffer_number = 3;
      cf.compression = rocksdb::kLZ4Compression;
      break;
    case Keyspace::kTxnHalf:
    case Keyspace::kDelayed:
      // Message bodies waiting for a commit or a due time: kept in blob
      // files, so that compactions (which the small state records and
      // tombstones around them need) move only keys and blob references.
      // With many transactions pending, rewriting their bodies at every
      // compaction would starve the foreground on two cores.
      cf.enable_blob_files = true;
      cf.min_blob_size = 256;
      cf.blob_file_size = 64 << 20;
      cf.blob_compression_type = rocksdb::kLZ4Compression;
      cf.enable_blob_garbage_collection = true;
      cf.blob_garbage_collection_age_cutoff = 0.5;
      [[fallthrough]];
    case Keyspace::kInflight:
    case Keyspace::kTxn:
    case Keyspace::kTxnDue:
    case Keyspace::kTxnAge:
      // Keys written and soon deleted (deliveries acked, transactions
      // settled, due entries moved). Files dense with tombstones are
      // compacted early so scans from the head of a range (the due index)
      // do not wade through them.
      cf.table_properties_collector_factories.emplace_back(
          rocksdb::NewCompactOnDeletionCollectorFactory(/*sliding_window_size=*/128 * 1024,
                                                        /*deletion_trigger=*/32 * 1024));
      [[fallthrough]];
    default:
      // Small, hot state: cursors, in-flight entries, transactions.
      cf.write_buffer_size = 16 << 20;
      cf.max_write_buffer_number = 3;
      cf.compression = rocksdb::kLZ4Compression;
      break;
  }
  SetTimeIndexAndMemtableOptions(k, components, hints, &cf);
  return cf;
}

// The options of the database (the data directory must exist).
rocksdb::DBOptions DbOptions(const StoreOptions& options, const StorageComponents& components) {
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;
  db_options.max_total_wal_size = options.max_total_wal_bytes;
  db_options.bytes_per_sync = 1 << 20;
  // RocksDB's info log (LOG) through our logger, which survives a full disk
  // (storage/info_log.h); at most LOG and LOG.old of 16 MiB each.
  db_options.info_log = std::make_shared<InfoLog>(options.path, 16 << 20);
  db_options.db_write_buffer_size = options.memtable_budget_bytes;
  // One thread writes (the Committer), so RocksDB never has a group of
  // writers to insert in parallel; our memtables (memtable_rep.h) take one
  // inserting thread at a time, which DB::Open checks against this option.
  db_options.allow_concurrent_memtable_write = false;
  // With --flush=async the committer syncs the WAL itself; RocksDB must not
  // buffer WAL writes in process memory, so that a crash of the process
  // never loses an acknowledged write.
  db_options.manual_wal_flush = false;
  // WAL preallocation and zero-fill ahead (wal_file.h).
  db_options.env = WalEnv(components.wal_zero_fill);
  // On a nearly full disk (StoreOptions::low_disk): no flush during WAL
  // replay and no preallocation (the zero fill stops by itself there).
  db_options.avoid_flush_during_recovery = options.low_disk;
  db_options.allow_fallocate = !options.low_disk;
  if (options.background_nice > 0) {
    db_options.listeners.push_back(std::make_shared<BackgroundNice>(options.background_nice));
  }
  return db_options;
}

}  // namespace

Result<std::unique_ptr<Store>> Store::Open(const StoreOptions& options) {
  const StorageComponents components = ComponentsInUse(options);
  LOG(INFO) << "storage: " << DescribeComponents(components);
  std::error_code dir_error;
  std::filesystem::create_directories(options.path, dir_error);
  if (dir_error) {
    return Status::Internal("creating " + options.path + ": " + dir_error.message());
  }
  rocksdb::DBOptions db_options = DbOptions(options, components);

  // Half of the cache is reserved for index and filter blocks.
  auto cache = rocksdb::NewLRUCache(options.block_cache_bytes, /*num_shard_bits=*/-1,
                                    /*strict_capacity_limit=*/false,
                                    /*high_pri_pool_ratio=*/0.5);
  auto index_filter = std::make_unique<IndexExpiryFilter>(options.index_ttl_ms);
  InsertHints hints;  // off while the WAL is recovered (see insert_hint.h)
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (int i = 0; i < kNumKeyspaces; ++i) {
    auto k = static_cast<Keyspace>(i);
    descriptors.emplace_back(KeyspaceName(k),
                             CfOptions(k, options, components, cache, index_filter.get(), hints));
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, options.path, descriptors, &handles, &raw);
  if (!s.ok()) return FromRocksDb(s, "opening RocksDB at " + options.path);
  std::unique_ptr<rocksdb::DB> db(raw);
  // On an error below, handles must be released before the DB closes.
  auto fail = [&](Status status) {
    for (auto* h : handles) db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    return status;
  };
  // Write batches (and the WAL) name column families by id, and Batch maps
  // keyspaces to handles by index, so ids must equal our keyspace numbering. They do as long as the
  // families were created in this order, which Open has always done.
  for (int i = 0; i < kNumKeyspaces; ++i) {
    if (handles[i]->GetID() != static_cast<uint32_t>(i)) {
      return fail(Status::FailedPrecondition(
          std::string("column family ") + KeyspaceName(static_cast<Keyspace>(i)) + " has id " +
          std::to_string(handles[i]->GetID()) + ", expected " + std::to_string(i)));
    }
  }

  std::string version;
  s = db->Get(rocksdb::ReadOptions(), handles[0], kFormatVersionKey, &version);
  if (s.IsNotFound()) {
    rocksdb::WriteOptions wo;
    wo.sync = true;
    s = db->Put(wo, handles[0], kFormatVersionKey, kFormatVersion);
    if (!s.ok()) return fail(FromRocksDb(s, "writing format version"));
  } else if (!s.ok()) {
    return fail(FromRocksDb(s, "reading format version"));
  } else if (version == "1") {
    Status migrated = MigrateFromFormat1(db.get(), handles);
    if (!migrated.ok()) return fail(migrated);
    rocksdb::WriteOptions wo;
    wo.sync = true;
    s = db->Put(wo, handles[0], kFormatVersionKey, kFormatVersion);
    if (!s.ok()) return fail(FromRocksDb(s, "writing format version"));
  } else if (version != kFormatVersion) {
    return fail(Status::FailedPrecondition("data directory has storage format " + version +
                                           ", this broker reads format " + kFormatVersion));
  }
  hints.Enable();
  std::unique_ptr<Store> store(new Store(options, std::move(db), std::move(handles)));
  store->index_filter_ = std::move(index_filter);
  return store;
}

Store::Store(const StoreOptions& options, std::unique_ptr<rocksdb::DB> db,
             std::vector<rocksdb::ColumnFamilyHandle*> handles)
    : options_(options), db_(std::move(db)), handles_(std::move(handles)) {
  IdleWork idle;
  if (options_.idle_flush_after.count() > 0) {
    idle.after = options_.idle_flush_after;
    idle.min_bytes = options_.idle_flush_min_bytes;
    idle.run = [this] {
      rocksdb::FlushOptions flush;
      flush.wait = false;               // on the commit thread: schedule only
      flush.allow_write_stall = true;   // never wait for a stall to clear
      rocksdb::Status s = db_->Flush(flush, handles_);
      LOG_IF(WARNING, !s.ok()) << "idle flush: " << s.ToString();
    };
  }
  committer_ = std::make_unique<Committer>(db_.get(), options_.flush, options_.flush_interval,
                                           options_.commit_spin, std::move(idle),
                                           options_.written);
}

Store::~Store() {
  committer_->Stop();
  committer_.reset();
  for (auto* h : handles_) {
    rocksdb::Status s = db_->DestroyColumnFamilyHandle(h);
    LOG_IF(ERROR, !s.ok()) << "destroying column family handle: " << s.ToString();
  }
  handles_.clear();
  rocksdb::Status s = db_->Close();
  LOG_IF(ERROR, !s.ok()) << "closing RocksDB: " << s.ToString();
}

void Store::Commit(Batch batch, Committer::Callback done) {
  committer_->Submit(std::move(batch.batch_), std::move(done));
}

Status Store::CommitAndWait(Batch batch) {
  CommitWaiter written;
  Commit(std::move(batch), written.Callback());
  if (written.Wait()) return Status::Ok();
  return Status::Unavailable("storage is read-only: " + write_status().message());
}

StoreStats Store::stats() const {
  StoreStats s;
  s.committer = committer_->stats();
  for (auto* h : handles_) {
    uint64_t v = 0;
    if (db_->GetIntProperty(h, rocksdb::DB::Properties::kEstimateLiveDataSize, &v)) {
      s.live_data_bytes += v;
    }
    if (db_->GetIntProperty(h, rocksdb::DB::Properties::kCurSizeAllMemTables, &v)) {
      s.memtable_bytes += v;
    }
  }
  return s;
}

}  // namespace halfmq::storage
