#include "broker/flags.h"

#include <gflags/gflags.h>

DEFINE_string(listen, "127.0.0.1:7480", "HOST:PORT to accept clients on (port 0: any free port)");
DEFINE_string(data_dir, "./data", "Directory of the broker's RocksDB instance");
DEFINE_string(flush, "sync",
              "sync: acknowledge writes after the WAL is fsynced (group commit); "
              "async: acknowledge after the write reaches the OS, fsync every "
              "--flush_interval_ms");
DEFINE_int32(flush_interval_ms, 100, "WAL fsync interval with --flush=async");
DEFINE_int32(commit_spin_us, 100,
             "How long the commit writer spins for the next write before sleeping; adaptive, "
             "backs off when spins find nothing (0: never spin)");
DEFINE_int32(io_threads, 2, "Network threads");
DEFINE_int32(read_threads, 2, "Threads that read messages from RocksDB for receives");
DEFINE_uint64(max_frame_bytes, 8 << 20, "Largest frame accepted; larger ones close the connection");
DEFINE_uint64(max_message_bytes, 4 << 20,
              "Largest message (body + keys + tag + properties) accepted");
DEFINE_uint64(max_inflight_requests, 1024,
              "Unanswered requests per connection before the broker stops reading from it");
DEFINE_uint64(max_connections, 20000, "Open client connections; more are refused");
DEFINE_uint64(max_connections_per_ip, 1000,
              "Open client connections from one source address; more are refused (0: no "
              "per-address bound)");
DEFINE_int64(hello_timeout_ms, 10000,
             "A new connection whose first request is not whole within this is closed (0: off)");
DEFINE_int64(frame_timeout_ms, 30000,
             "A frame must be whole within this from its first byte, waits for memory included; "
             "else the connection is closed (0: off)");
DEFINE_int64(idle_timeout_ms, 600000,
             "A connection that sent no request for this long and has nothing in flight is "
             "closed; long polls in progress and connections serving transaction checks are "
             "not idle (0: off)");
DEFINE_int64(write_timeout_ms, 60000,
             "A connection that takes none of its responses for this long (its reads stopped) "
             "is closed (0: off)");
DEFINE_uint64(memory_budget_bytes, 256 << 20,
              "Bytes of requests being processed, broker-wide; readers wait beyond it");
DEFINE_double(retention_hours, 72, "Messages older than this are removed");
DEFINE_int32(retention_check_interval_ms, 60000, "How often retention runs");
DEFINE_int32(default_invisible_ms, 30000,
             "Invisibility of received messages when the receive does not say");
DEFINE_uint64(max_inflight_per_subscription, 100000,
              "Received-but-unacked messages per (group, topic) before receives return only "
              "redeliveries");
DEFINE_int32(shutdown_grace_ms, 10000, "How long shutdown waits for in-flight requests");
DEFINE_int32(stats_log_interval_s, 60, "Interval of the stats log line");
DEFINE_uint64(block_cache_mb, 64, "RocksDB block cache size");
DEFINE_uint64(write_buffer_mb, 64, "RocksDB memtable size of the messages keyspace");
DEFINE_uint64(memtable_budget_mb, 256,
              "RocksDB memtables of all keyspaces together; beyond it one is flushed "
              "(0: only the per-keyspace bounds)");
DEFINE_uint64(message_blob_min_bytes, 256,
              "Stored messages at least this large go to RocksDB blob files, so compactions do "
              "not rewrite their bodies (0: keep every message in the LSM tree)");
DEFINE_int32(storage_background_nice, 10,
             "Nice value of RocksDB's flush and compaction threads (0..19; 0: normal "
             "priority), so they mostly use the CPU request handling leaves idle");
DEFINE_int32(storage_idle_flush_ms, 1000,
             "Flush all memtables once no write came for this long after at least 1 MiB was "
             "written (0: never): a burst's flushes and compactions then run while the broker "
             "is idle, and a restart replays less WAL");
DEFINE_string(storage_memtable, "halfmq",
              "Memtable representation: halfmq (our skip list, see storage/memtable_rep.h) or "
              "rocksdb (RocksDB's own skip list)");
DEFINE_bool(storage_wal_zero_fill, true,
            "Zero-fill the WAL a few MiB ahead of its writer on a thread of its own, so the "
            "commit's fdatasync writes data only (see storage/wal_file.h); false: the WAL is "
            "only preallocated");
// Disk space (broker/disk_monitor.h; docs/operations.md, "Disk full").
DEFINE_uint64(min_free_disk_mb, 256,
              "Below this much free space on the data directory's file system (at most half "
              "of it) sends, half messages and redrives are refused with RESOURCE_EXHAUSTED; "
              "receives, acks and transaction ends go on. 0: no threshold");
DEFINE_uint64(disk_reserve_mb, 64,
              "Size of <data_dir>/RESERVED (at most an eighth of the disk), deleted at start on a "
              "disk below the threshold (or with less free than this) so the store can open. 0: "
              "none");
DEFINE_int32(disk_check_interval_ms, 100,
             "How often free disk space is checked (also after every MiB written)");

DEFINE_int64(txn_check_delay_ms, 6000,
             "First check-back of a pending transaction after this long (unless the half "
             "send sets its own check immunity); later checks back off exponentially");
DEFINE_int64(txn_check_backoff_max_ms, 300000, "Longest interval between two checks");
DEFINE_uint32(txn_max_checks, 15, "Delivered checks after which a transaction becomes unresolved");
DEFINE_int64(txn_max_age_ms, 24ll * 3600 * 1000,
             "Age at which a pending transaction becomes unresolved");
DEFINE_int64(txn_check_timeout_ms, 30000,
             "A check unanswered this long counts as failed for its connection");
DEFINE_uint32(txn_max_checks_per_connection, 32,
              "Checks outstanding on one producer connection at most (a producer may ask for "
              "fewer in Hello)");
DEFINE_double(txn_check_rate_per_group, 500, "Checks per second per producer group at most");
DEFINE_int64(txn_settled_retention_ms, 24ll * 3600 * 1000,
             "How long the outcome of a settled transaction is remembered, so that a repeated "
             "EndTransaction is answered without writing");
DEFINE_uint64(txn_settled_max, 1000000, "Settled outcomes remembered at most (oldest go first)");
DEFINE_string(txn_unresolved_action, "keep",
              "What happens to a transaction that becomes unresolved: keep (for an operator), "
              "commit, or rollback");
DEFINE_uint64(txn_cache_mb, 64,
              "Memory for the state of recently written pending transactions, so that their "
              "EndTransaction settles without reading RocksDB (0: off)");
DEFINE_int32(txn_scan_interval_ms, 100, "How often the check-back scanner looks for due work");
DEFINE_uint64(txn_max_check_bytes_per_round, 64 << 20,
              "Bytes of half messages one check-back round may load and send at most (checks "
              "carry their transaction's messages); the rest wait for the next round");
DEFINE_int64(max_delay_ms, 30ll * 24 * 3600 * 1000,
             "Longest delay (or furthest deliver-at) a delayed message may ask for");
DEFINE_int32(delay_max_sleep_ms, 1000,
             "Longest the delayed-message scheduler sleeps between looks at the due index");
DEFINE_int64(dedup_window_ms, 10 * 60 * 1000,
             "A send whose message id was already stored in the topic this recently is "
             "answered with the original result and stores nothing (0 turns dedup off; "
             "must not exceed the retention)");
DEFINE_bool(trace, true,
            "Record message histories (transaction steps, deliveries, acks, nacks, dead "
            "letters, redrives) for halfmq msg trace; costs one small write per event");
DEFINE_int32(dead_letter_interval_ms, 100,
             "How often final deliveries whose invisibility ended are moved to their group's "
             "dead-letter topic");

namespace halfmq::broker {

namespace {

// The store and the disk monitor.
Status StoreFromFlags(BrokerOptions* o) {
  o->store.path = FLAGS_data_dir;
  if (FLAGS_flush == "sync") {
    o->store.flush = storage::FlushMode::kSync;
  } else if (FLAGS_flush == "async") {
    o->store.flush = storage::FlushMode::kAsync;
  } else {
    return Status::InvalidArgument("--flush must be sync or async, not '" + FLAGS_flush + "'");
  }
  if (FLAGS_flush_interval_ms < 1) return Status::InvalidArgument("--flush_interval_ms < 1");
  o->store.flush_interval = std::chrono::milliseconds(FLAGS_flush_interval_ms);
  if (FLAGS_commit_spin_us < 0 || FLAGS_commit_spin_us > 10000) {
    return Status::InvalidArgument("--commit_spin_us must be 0..10000");
  }
  o->store.commit_spin = std::chrono::microseconds(FLAGS_commit_spin_us);
  o->store.block_cache_bytes = FLAGS_block_cache_mb << 20;
  o->store.message_write_buffer_bytes = FLAGS_write_buffer_mb << 20;
  o->store.memtable_budget_bytes = FLAGS_memtable_budget_mb << 20;
  o->store.message_blob_min_bytes = FLAGS_message_blob_min_bytes;
  if (FLAGS_storage_background_nice < 0 || FLAGS_storage_background_nice > 19) {
    return Status::InvalidArgument("--storage_background_nice must be 0..19");
  }
  o->store.background_nice = FLAGS_storage_background_nice;
  if (FLAGS_storage_memtable != "halfmq" && FLAGS_storage_memtable != "rocksdb") {
    return Status::InvalidArgument("--storage_memtable must be halfmq or rocksdb");
  }
  o->store.own_memtable = FLAGS_storage_memtable == "halfmq";
  o->store.wal_zero_fill = FLAGS_storage_wal_zero_fill;
  if (FLAGS_storage_idle_flush_ms < 0) {
    return Status::InvalidArgument("--storage_idle_flush_ms must be >= 0");
  }
  o->store.idle_flush_after = std::chrono::milliseconds(FLAGS_storage_idle_flush_ms);
  if (FLAGS_min_free_disk_mb > (1ull << 30) || FLAGS_disk_reserve_mb > (1ull << 30)) {
    return Status::InvalidArgument("--min_free_disk_mb and --disk_reserve_mb must be < 2^30");
  }
  o->disk.min_free_bytes = FLAGS_min_free_disk_mb << 20;
  o->disk.reserve_bytes = FLAGS_disk_reserve_mb << 20;
  if (FLAGS_disk_check_interval_ms < 1) {
    return Status::InvalidArgument("--disk_check_interval_ms must be >= 1");
  }
  o->disk.check_interval = std::chrono::milliseconds(FLAGS_disk_check_interval_ms);
  return Status::Ok();
}

// Connections, frames, timeouts and the memory budget.
Status NetworkFromFlags(BrokerOptions* o) {
  o->io_threads = FLAGS_io_threads;
  o->read_threads = FLAGS_read_threads;
  o->max_frame_bytes = FLAGS_max_frame_bytes;
  o->max_message_bytes = FLAGS_max_message_bytes;
  o->max_inflight_requests = FLAGS_max_inflight_requests;
  o->max_connections = FLAGS_max_connections;
  o->max_connections_per_ip = FLAGS_max_connections_per_ip;
  if (FLAGS_hello_timeout_ms < 0 || FLAGS_frame_timeout_ms < 0 || FLAGS_idle_timeout_ms < 0 ||
      FLAGS_write_timeout_ms < 0) {
    return Status::InvalidArgument(
        "--hello_timeout_ms, --frame_timeout_ms, --idle_timeout_ms and --write_timeout_ms must "
        "be >= 0");
  }
  o->hello_timeout = std::chrono::milliseconds(FLAGS_hello_timeout_ms);
  o->frame_timeout = std::chrono::milliseconds(FLAGS_frame_timeout_ms);
  o->idle_timeout = std::chrono::milliseconds(FLAGS_idle_timeout_ms);
  o->write_timeout = std::chrono::milliseconds(FLAGS_write_timeout_ms);
  o->memory_budget_bytes = FLAGS_memory_budget_bytes;
  return Status::Ok();
}

// Retention, consumption, dead letters, delays, dedup and traces.
Status MessagesFromFlags(BrokerOptions* o) {
  if (!(FLAGS_retention_hours > 0)) return Status::InvalidArgument("--retention_hours must be > 0");
  o->retention_ms = static_cast<int64_t>(FLAGS_retention_hours * 3600.0 * 1000.0);
  if (o->retention_ms < 1) o->retention_ms = 1;
  if (FLAGS_retention_check_interval_ms < 1) {
    return Status::InvalidArgument("--retention_check_interval_ms must be >= 1");
  }
  o->retention_interval = std::chrono::milliseconds(FLAGS_retention_check_interval_ms);
  if (FLAGS_default_invisible_ms < 1) {
    return Status::InvalidArgument("--default_invisible_ms must be >= 1");
  }
  o->default_invisible_ms = static_cast<uint32_t>(FLAGS_default_invisible_ms);
  o->max_inflight_per_subscription = FLAGS_max_inflight_per_subscription;
  if (FLAGS_dead_letter_interval_ms < 1) {
    return Status::InvalidArgument("--dead_letter_interval_ms must be >= 1");
  }
  o->dead_letter_interval = std::chrono::milliseconds(FLAGS_dead_letter_interval_ms);
  if (FLAGS_max_delay_ms < 1 || FLAGS_delay_max_sleep_ms < 1) {
    return Status::InvalidArgument("--max_delay_ms and --delay_max_sleep_ms must be >= 1");
  }
  o->max_delay_ms = FLAGS_max_delay_ms;
  if (FLAGS_dedup_window_ms < 0 || FLAGS_dedup_window_ms > o->retention_ms) {
    return Status::InvalidArgument("--dedup_window_ms must be 0..the retention");
  }
  o->dedup_window_ms = FLAGS_dedup_window_ms;
  o->trace = FLAGS_trace;
  o->store.index_ttl_ms = o->retention_ms;
  o->delay_max_sleep = std::chrono::milliseconds(FLAGS_delay_max_sleep_ms);
  return Status::Ok();
}

// Transactions, their check-back and the producer registry.
Status TxnFromFlags(BrokerOptions* o) {
  o->txn.check_delay_ms = FLAGS_txn_check_delay_ms;
  o->txn.check_backoff_max_ms = FLAGS_txn_check_backoff_max_ms;
  o->txn.max_checks = FLAGS_txn_max_checks;
  o->txn.max_age_ms = FLAGS_txn_max_age_ms;
  o->txn.check_timeout_ms = FLAGS_txn_check_timeout_ms;
  o->txn.settled_retention_ms = FLAGS_txn_settled_retention_ms;
  o->txn.settled_max = FLAGS_txn_settled_max;
  o->txn.cache_bytes = FLAGS_txn_cache_mb << 20;
  auto action = ParseUnresolvedAction(FLAGS_txn_unresolved_action);
  if (!action.ok()) return action.status();
  o->txn.unresolved_action = *action;
  o->txn.scan_interval = std::chrono::milliseconds(FLAGS_txn_scan_interval_ms);
  if (FLAGS_txn_max_check_bytes_per_round < 1) {
    return Status::InvalidArgument("--txn_max_check_bytes_per_round must be >= 1");
  }
  o->txn.max_check_bytes_per_round = FLAGS_txn_max_check_bytes_per_round;
  o->producers.max_checks_per_connection = FLAGS_txn_max_checks_per_connection;
  o->producers.check_rate_per_group = FLAGS_txn_check_rate_per_group;
  o->producers.failing_cooldown_ms = FLAGS_txn_check_timeout_ms;
  return Status::Ok();
}

}  // namespace

Result<BrokerOptions> OptionsFromFlags() {
  BrokerOptions o;
  o.listen = FLAGS_listen;
  o.shutdown_grace = std::chrono::milliseconds(FLAGS_shutdown_grace_ms);
  o.stats_log_interval = std::chrono::seconds(std::max(1, FLAGS_stats_log_interval_s));
  HALFMQ_RETURN_IF_ERROR(StoreFromFlags(&o));
  HALFMQ_RETURN_IF_ERROR(NetworkFromFlags(&o));
  HALFMQ_RETURN_IF_ERROR(MessagesFromFlags(&o));  // after the store: sets its index TTL
  HALFMQ_RETURN_IF_ERROR(TxnFromFlags(&o));
  HALFMQ_RETURN_IF_ERROR(ValidateOptions(o));
  return o;
}

}  // namespace halfmq::broker
