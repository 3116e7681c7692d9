#include "broker/broker.h"

#include <latch>

#include <glog/logging.h>

#include "common/limits.h"
#include "common/thread_name.h"

namespace halfmq::broker {

namespace {
// Room in a frame for everything around the messages of a Receive response:
// per message the topic name, receipt handle and field tags (at most
// 1024 x ~200 bytes), plus the frame itself.
constexpr size_t kResponseSlackBytes = 256 << 10;
}  // namespace

Status ValidateOptions(const BrokerOptions& o) {
  if (o.store.path.empty()) return Status::InvalidArgument("--data_dir is empty");
  if (o.io_threads < 1 || o.io_threads > 64) {
    return Status::InvalidArgument("--io_threads must be 1..64");
  }
  if (o.read_threads < 1 || o.read_threads > 64) {
    return Status::InvalidArgument("--read_threads must be 1..64");
  }
  if (o.max_frame_bytes < (512 << 10) || o.max_frame_bytes > (64u << 20)) {
    return Status::InvalidArgument("--max_frame_bytes must be 512 KiB..64 MiB");
  }
  if (o.max_message_bytes < 1024 || o.max_message_bytes + kResponseSlackBytes > o.max_frame_bytes) {
    return Status::InvalidArgument(
        "--max_message_bytes must be >= 1 KiB and at least 256 KiB below --max_frame_bytes");
  }
  if (o.max_connections < 1) return Status::InvalidArgument("--max_connections must be >= 1");
  if (o.shutdown_grace.count() < 0) {
    return Status::InvalidArgument("--shutdown_grace_ms must be >= 0");
  }
  if (o.store.block_cache_bytes < (1 << 20) || o.store.message_write_buffer_bytes < (1 << 20)) {
    return Status::InvalidArgument("--block_cache_mb and --write_buffer_mb must be >= 1");
  }
  if (o.memory_budget_bytes < o.max_frame_bytes) {
    return Status::InvalidArgument("--memory_budget_bytes must be >= --max_frame_bytes");
  }
  if (o.max_inflight_requests < 1) {
    return Status::InvalidArgument("--max_inflight_requests must be >= 1");
  }
  if (o.retention_ms < 1) return Status::InvalidArgument("--retention_hours must be > 0");
  if (o.default_invisible_ms < 1 || o.default_invisible_ms > kMaxInvisibleMs) {
    return Status::InvalidArgument("--default_invisible_ms out of range");
  }
  if (o.txn.check_delay_ms < 1) return Status::InvalidArgument("--txn_check_delay_ms must be >= 1");
  if (o.txn.check_backoff_max_ms < o.txn.check_delay_ms) {
    return Status::InvalidArgument("--txn_check_backoff_max_ms must be >= --txn_check_delay_ms");
  }
  if (o.txn.max_checks < 1) return Status::InvalidArgument("--txn_max_checks must be >= 1");
  if (o.txn.max_age_ms < 1) return Status::InvalidArgument("--txn_max_age_ms must be >= 1");
  if (o.txn.check_timeout_ms < 1) {
    return Status::InvalidArgument("--txn_check_timeout_ms must be >= 1");
  }
  if (o.txn.settled_retention_ms < 1 || o.txn.settled_max < 1) {
    return Status::InvalidArgument("--txn_settled_retention_ms and --txn_settled_max must be >= 1");
  }
  if (o.txn.scan_interval.count() < 1) {
    return Status::InvalidArgument("--txn_scan_interval_ms must be >= 1");
  }
  if (o.producers.max_checks_per_connection < 1 || !(o.producers.check_rate_per_group > 0)) {
    return Status::InvalidArgument(
        "--txn_max_checks_per_connection and --txn_check_rate_per_group must be > 0");
  }
  return Status::Ok();
}

Broker::Broker(const BrokerOptions& options)
    : options_(options),
      pool_(static_cast<size_t>(options.read_threads)) {
  // Names the pool's threads: one task per thread, each held until all have
  // started, so every thread gets exactly one.
  {
    auto n = static_cast<std::ptrdiff_t>(options.read_threads);
    std::latch all_started(n), all_named(n);
    for (std::ptrdiff_t i = 0; i < n; ++i) {
      asio::post(pool_, [&] {
        SetCurrentThreadName("halfmq-pool");
        all_started.arrive_and_wait();
        all_named.count_down();
      });
    }
    all_named.wait();
  }
  work_.push_back(asio::make_work_guard(io_));
  for (int i = 1; i < options.io_threads; ++i) {
    extra_io_.push_back(std::make_unique<asio::io_context>(1));
    work_.push_back(asio::make_work_guard(*extra_io_.back()));
  }
}

Result<std::unique_ptr<Broker>> Broker::Open(const BrokerOptions& options) {
  HALFMQ_RETURN_IF_ERROR(ValidateOptions(options));
  std::unique_ptr<Broker> broker(new Broker(options));
  HALFMQ_RETURN_IF_ERROR(broker->Recover());
  return broker;
}

Status Broker::Recover() {
  disk_ = std::make_unique<DiskMonitor>(options_.store.path, options_.disk);
  auto low = disk_->PrepareForOpen();
  if (!low.ok()) return low.status();
  storage::StoreOptions store_options = options_.store;
  store_options.low_disk = *low;
  store_options.written.every_bytes = options_.disk.check_every_bytes;
  store_options.written.run = [disk = disk_.get()] { disk->Wake(); };
  auto store = storage::Store::Open(store_options);
  if (!store.ok()) return store.status();
  store_ = std::move(store).value();
  Clock* clock = options_.clock;
  topics_ = std::make_unique<TopicManager>(store_.get(), clock);
  HALFMQ_RETURN_IF_ERROR(topics_->Recover());
  log_ = std::make_unique<MessageLog>(
      store_.get(), topics_.get(), clock, &metrics_,
      MessageLimits{options_.max_message_bytes, options_.max_delay_ms});
  tracer_ = std::make_unique<Tracer>(options_.trace);
  delays_ = std::make_unique<DelayService>(store_.get(), topics_.get(), log_.get(), clock,
                                           &metrics_, options_.delay_max_sleep);
  HALFMQ_RETURN_IF_ERROR(delays_->Recover());
  ConsumeOptions consume;
  consume.default_invisible_ms = options_.default_invisible_ms;
  consume.max_inflight_per_subscription = options_.max_inflight_per_subscription;
  consume.max_receive_bytes = options_.max_frame_bytes - kResponseSlackBytes;
  consume.dead_letter_interval = options_.dead_letter_interval;
  consume_ = std::make_unique<ConsumeService>(store_.get(), topics_.get(), log_.get(),
                                              tracer_.get(), clock, &metrics_, consume, io_, pool_);
  HALFMQ_RETURN_IF_ERROR(consume_->Recover());
  produce_ = std::make_unique<ProduceService>(store_.get(), log_.get(), delays_.get(),
                                              tracer_.get(), clock, &metrics_,
                                              options_.dedup_window_ms, pool_);
  admin_ = std::make_unique<AdminService>(store_.get(), topics_.get(), &metrics_);
  registry_ = std::make_unique<ProducerRegistry>(options_.producers);
  TxnOptions txn = options_.txn;
  txn.max_txn_bytes = options_.max_frame_bytes - kResponseSlackBytes;
  txn_ = std::make_unique<TxnService>(store_.get(), topics_.get(), log_.get(), delays_.get(),
                                      registry_.get(), tracer_.get(), clock, &metrics_, txn, pool_);
  HALFMQ_RETURN_IF_ERROR(txn_->Recover());
  admin_->AddStatsSource([txn = txn_.get()](std::map<std::string, int64_t>* stats) {
    txn->AddStats(stats);
  });
  admin_->AddStatsSource([disk = disk_.get()](std::map<std::string, int64_t>* stats) {
    disk->AddStats(stats);
  });
  QueryService::OpenDeliveries open_deliveries;
  if (options_.trace) {
    open_deliveries = [consume = consume_.get()](TopicId topic, QueueId queue, Offset offset) {
      return consume->OpenDeliveries(topic, queue, offset);
    };
  }
  query_ = std::make_unique<QueryService>(store_.get(), topics_.get(), pool_,
                                          std::move(open_deliveries));
  dispatcher_ = std::make_unique<Dispatcher>(
      produce_.get(), consume_.get(), admin_.get(), txn_.get(), query_.get(), &metrics_,
      HelloLimits{options_.max_frame_bytes, options_.max_message_bytes}, disk_.get());
  budget_ = std::make_unique<MemoryBudget>(options_.memory_budget_bytes);
  ServerOptions server;
  server.session.max_frame_bytes = options_.max_frame_bytes;
  server.session.max_inflight_requests = options_.max_inflight_requests;
  server.session.hello_timeout = options_.hello_timeout;
  server.session.frame_timeout = options_.frame_timeout;
  server.session.idle_timeout = options_.idle_timeout;
  server.session.write_timeout = options_.write_timeout;
  server.max_connections = options_.max_connections;
  server.max_connections_per_ip = options_.max_connections_per_ip;
  std::vector<asio::io_context*> session_io = {&io_};
  for (auto& io : extra_io_) session_io.push_back(io.get());
  server_ = std::make_unique<Server>(io_, std::move(session_io), dispatcher_.get(), budget_.get(),
                                     &metrics_, server);
  server_->SetCloseObserver([this](uint64_t id) { ConnectionClosed(id); });
  retention_ = std::make_unique<RetentionService>(store_.get(), topics_.get(), clock, &metrics_,
                                                  options_.retention_ms,
                                                  options_.retention_interval);
  return Status::Ok();
}

Result<asio::ip::tcp::endpoint> Broker::Start() {
  CHECK(!started_);
  auto endpoint = server_->Listen(options_.listen);
  if (!endpoint.ok()) return endpoint.status();
  disk_->Start(store_.get());
  server_->Start();
  retention_->Start();
  txn_->Start();
  consume_->Start();
  delays_->Start();
  asio::co_spawn(io_, LogStatsLoop(), asio::detached);
  io_threads_.emplace_back([this] {
    SetCurrentThreadName("halfmq-io0");
    io_.run();
  });
  for (size_t i = 0; i < extra_io_.size(); ++i) {
    io_threads_.emplace_back([io = extra_io_[i].get(), i] {
      SetCurrentThreadName("halfmq-io" + std::to_string(i + 1));
      io->run();
    });
  }
  started_ = true;
  LOG(INFO) << "halfmq-broker listening on " << *endpoint << ", data in "
            << options_.store.path << ", flush="
            << (options_.store.flush == storage::FlushMode::kSync ? "sync" : "async");
  return endpoint;
}

asio::awaitable<void> Broker::LogStatsLoop() {
  asio::steady_timer timer(io_);
  for (;;) {
    timer.expires_after(options_.stats_log_interval);
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    auto s = admin_->Stats();
    LOG(INFO) << "stats: connections=" << s["connections_open"] << " sent=" << s["messages_sent"]
              << " received=" << s["messages_received"] << " acked=" << s["messages_acked"]
              << " commit_groups=" << s["store_commit_groups"]
              << " commit_batches=" << s["store_commit_batches"]
              << " rss=" << s["process_resident_bytes"];
  }
}

void Broker::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  if (started_) {
    LOG(INFO) << "shutting down: no new connections, answering in-flight requests";
    server_->StopAccepting();
    txn_->Stop();  // no new checks to connections that are about to stop reading
    consume_->Stop();
    delays_->Stop();
    consume_->Shutdown();
    server_->StopReadingAll();
    if (!server_->WaitForSessions(options_.shutdown_grace)) {
      LOG(WARNING) << "connections still open after " << options_.shutdown_grace.count()
                   << " ms; closing them";
      server_->CloseAll();
      server_->WaitForSessions(std::chrono::milliseconds(1000));
    }
    retention_->Stop();
    work_.clear();
    io_.stop();
    for (auto& io : extra_io_) io->stop();
    for (auto& t : io_threads_) t.join();
    io_threads_.clear();
  }
  pool_.join();
  if (disk_) disk_->Stop();
  // Destroying the store writes whatever is queued and closes RocksDB.
  retention_.reset();
  server_.reset();
  store_.reset();
  LOG(INFO) << "shutdown complete";
}

Broker::~Broker() { Shutdown(); }

void Broker::ConnectionClosed(uint64_t connection_id) {
  txn_->OnConnectionClosed(connection_id);
  produce_->OnConnectionClosed(connection_id);
}

}  // namespace halfmq::broker
