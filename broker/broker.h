// Broker: assembles storage, services and the network server into one
// running node, and runs its start-up recovery and graceful shutdown.
//
// Start-up: check free disk space (deleting the reserve file on a nearly
// full disk, see DiskMonitor), open RocksDB, rebuild every in-memory cache from it (topics and
// queue offsets, subscriptions, cursors, in-flight entries), then listen.
// Shutdown (SIGINT/SIGTERM in halfmq-broker): stop accepting, answer parked
// long polls, stop reading requests, wait for in-flight requests to be
// answered (bounded by shutdown_grace), close connections, stop threads,
// write everything queued and close RocksDB.
//
// Not copyable. Open/Start/Shutdown are called from one controlling thread
// (never an io thread).
#ifndef HALFMQ_BROKER_BROKER_H_
#define HALFMQ_BROKER_BROKER_H_

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "broker/admin_service.h"
#include "broker/consume_service.h"
#include "broker/delay_service.h"
#include "broker/disk_monitor.h"
#include "broker/dispatcher.h"
#include "broker/memory_budget.h"
#include "broker/message_log.h"
#include "broker/metrics.h"
#include "broker/produce_service.h"
#include "broker/retention.h"
#include "broker/server.h"
#include "broker/topic_manager.h"
#include "broker/txn_service.h"
#include "common/asio.h"
#include "common/clock.h"
#include "common/status.h"
#include "storage/store.h"

namespace halfmq::broker {

struct BrokerOptions {
  std::string listen = "127.0.0.1:7480";
  storage::StoreOptions store;
  int io_threads = 2;
  int read_threads = 2;
  size_t max_frame_bytes = 8 << 20;
  size_t max_message_bytes = 4 << 20;
  size_t max_inflight_requests = 1024;
  size_t max_connections = 20000;
  size_t max_connections_per_ip = 1000;  // 0: no per-address bound
  // Connection timeouts (see broker/session.h; 0 turns one off).
  std::chrono::milliseconds hello_timeout{10000};
  std::chrono::milliseconds frame_timeout{30000};
  std::chrono::milliseconds idle_timeout{600000};
  std::chrono::milliseconds write_timeout{60000};
  size_t memory_budget_bytes = 256 << 20;
  int64_t retention_ms = 72ll * 3600 * 1000;
  std::chrono::milliseconds retention_interval{60000};
  uint32_t default_invisible_ms = 30000;
  size_t max_inflight_per_subscription = 100000;
  std::chrono::milliseconds shutdown_grace{10000};
  std::chrono::seconds stats_log_interval{60};
  std::chrono::milliseconds dead_letter_interval{100};
  int64_t max_delay_ms = 30ll * 24 * 3600 * 1000;
  // A send whose message id is already stored in the topic within this
  // window is answered with the original result (0: no dedup).
  int64_t dedup_window_ms = 10 * 60 * 1000;
  // Record message histories (deliveries, acks, nacks, transaction steps,
  // dead letters) for `halfmq msg trace`.
  bool trace = true;
  std::chrono::milliseconds delay_max_sleep{1000};
  TxnOptions txn;
  ProducerRegistryOptions producers;
  DiskOptions disk;
  Clock* clock = Clock::Real();
};

// Checks option combinations. Errors: INVALID_ARGUMENT naming the option.
Status ValidateOptions(const BrokerOptions& options);

class Broker {
 public:
  static Result<std::unique_ptr<Broker>> Open(const BrokerOptions& options);
  ~Broker();
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  // Listens and starts the io threads. Returns the bound endpoint.
  Result<asio::ip::tcp::endpoint> Start();
  // Graceful shutdown; idempotent.
  void Shutdown();

  asio::io_context& io() { return io_; }
  AdminService& admin() { return *admin_; }
  RetentionService& retention() { return *retention_; }
  TxnService& txn() { return *txn_; }
  ConsumeService& consume() { return *consume_; }
  // Requests dispatched here bypass the network (in-process harnesses such
  // as the request fuzzer); such a caller reports its connections' ends
  // through ConnectionClosed, as the server does for sessions.
  Dispatcher& dispatcher() { return *dispatcher_; }
  void ConnectionClosed(uint64_t connection_id);

 private:
  explicit Broker(const BrokerOptions& options);
  Status Recover();
  asio::awaitable<void> LogStatsLoop();

  const BrokerOptions options_;
  Metrics metrics_;
  // Declared before store_: the store's commit thread wakes it until the
  // store is destroyed.
  std::unique_ptr<DiskMonitor> disk_;
  std::unique_ptr<storage::Store> store_;
  // The pool is declared before the io_context so that handlers still queued
  // in the io_context (holding strands on the pool) are destroyed first.
  asio::thread_pool pool_;
  // io_ runs the accept loop, timers and long-poll bookkeeping, and hosts
  // sessions like each of extra_io_ (one per further --io_threads); every
  // io_context is run by exactly one thread.
  asio::io_context io_{1};
  std::vector<std::unique_ptr<asio::io_context>> extra_io_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::unique_ptr<TopicManager> topics_;
  std::unique_ptr<MessageLog> log_;
  std::unique_ptr<Tracer> tracer_;
  std::unique_ptr<DelayService> delays_;
  std::unique_ptr<ConsumeService> consume_;
  std::unique_ptr<ProduceService> produce_;
  std::unique_ptr<AdminService> admin_;
  std::unique_ptr<ProducerRegistry> registry_;
  std::unique_ptr<TxnService> txn_;
  std::unique_ptr<QueryService> query_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::unique_ptr<MemoryBudget> budget_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<RetentionService> retention_;
  std::vector<std::thread> io_threads_;
  bool started_ = false;
  bool shut_down_ = false;
};

}  // namespace halfmq::broker

#endif  // HALFMQ_BROKER_BROKER_H_
