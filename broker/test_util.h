// Helpers for the broker's unit tests: a Connection that records what is
// sent on it, and a store + topic manager + message log in a temporary
// directory. Test-only; not part of halfmq_broker.
#ifndef HALFMQ_BROKER_TEST_UTIL_H_
#define HALFMQ_BROKER_TEST_UTIL_H_

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "broker/consume_service.h"
#include "broker/delay_service.h"
#include "broker/message_log.h"
#include "broker/metrics.h"
#include "broker/produce_service.h"
#include "broker/query_service.h"
#include "broker/responder.h"
#include "broker/topic_manager.h"
#include "broker/tracer.h"
#include "broker/txn_service.h"
#include "common/clock.h"
#include "storage/store.h"
#include "tests/util/temp_dir.h"

namespace halfmq::broker::test_util {

// A connection with an identity that records the frames sent on it (by
// request id) and refuses broker-initiated requests.
class RecordingConnection : public Connection {
 public:
  explicit RecordingConnection(uint64_t id) : id_(id) {}
  void SendFrame(v1::Frame frame, bool) override {
    std::lock_guard<std::mutex> lock(mu_);
    frames_[frame.request_id()] = std::move(frame);
    cv_.notify_all();
  }
  void SendRequest(v1::Frame, std::function<void(Result<v1::Frame>)> done) override {
    done(Status::Unavailable("not connected"));
  }
  uint64_t id() const override { return id_; }
  const std::string& peer() const override { return peer_; }
  void SetClientId(const std::string&) override {}
  std::string client_id() const override { return ""; }

  // The frame sent for `request_id`; fails the test if none comes in 10 s.
  v1::Frame Await(uint64_t request_id) {
    std::unique_lock<std::mutex> lock(mu_);
    bool got = cv_.wait_for(lock, std::chrono::seconds(10),
                            [&] { return frames_.count(request_id) > 0; });
    EXPECT_TRUE(got) << "no response to request " << request_id;
    return got ? frames_[request_id] : v1::Frame();
  }

 private:
  uint64_t id_;
  std::string peer_ = "test";
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, v1::Frame> frames_;
};

// A store in a temporary directory with a topic manager and a message log,
// on a manual clock at 1000 ms.
struct LogTestEnv {
  void Open() {
    storage::StoreOptions options;
    options.path = dir.Sub("db");
    store = std::move(storage::Store::Open(options)).value();
    topics = std::make_unique<TopicManager>(store.get(), &clock);
    log = std::make_unique<MessageLog>(store.get(), topics.get(), &clock, &metrics,
                                       MessageLimits{1024, 1000000});
  }
  void CreateTopic(const std::string& name, uint32_t queues) {
    std::promise<void> created;
    topics->Create(name, queues, /*fifo=*/false, [&](Result<std::shared_ptr<Topic>> t) {
      EXPECT_TRUE(t.ok()) << t.status();
      created.set_value();
    });
    created.get_future().wait();
  }

  halfmq::testing::TempDir dir;
  ManualClock clock{1000};
  Metrics metrics;
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<TopicManager> topics;
  std::unique_ptr<MessageLog> log;
};

// The send path with its delay scheduler and the query service, over a
// LogTestEnv: sends go through a real ProduceService (so delayed messages,
// id and key index records and trace events are stored as in the broker),
// the DelayService is not started (tests move the clock and call RunOnce,
// or Start it themselves), and queries answer on `pool`.
struct SendQueryEnv {
  void Open() {
    log.Open();
    StartServices();
  }
  // Closes and reopens the store (topics recovered), with new services.
  void Reopen() {
    StopServices();
    log.log.reset();
    log.topics.reset();
    log.store.reset();
    log.Open();
    Status recovered = log.topics->Recover();
    ASSERT_TRUE(recovered.ok()) << recovered;
    StartServices();
  }
  ~SendQueryEnv() { StopServices(); }

  // Sends `request` on a new connection; returns the response frame.
  v1::Frame Send(v1::SendRequest request) {
    auto conn = std::make_shared<RecordingConnection>(++next_connection);
    produce->Send(std::move(request), Responder(conn, 1, BudgetLease()), conn);
    return conn->Await(1);
  }
  // Sends one message; returns its result (the test fails on an error).
  v1::SendResult SendOne(const v1::Message& message) {
    v1::SendRequest request;
    *request.add_messages() = message;
    request.set_fresh_ids(true);
    v1::Frame f = Send(std::move(request));
    EXPECT_EQ(f.status().code(), v1::Status::OK) << f.status().message();
    return f.send_response().results_size() == 1 ? f.send_response().results(0) : v1::SendResult();
  }
  // Runs one query (`call` starts it with a Responder) and returns its
  // response frame.
  template <typename Call>
  v1::Frame Query(Call call) {
    auto conn = std::make_shared<RecordingConnection>(++next_connection);
    call(Responder(conn, 1, BudgetLease()));
    return conn->Await(1);
  }

  LogTestEnv log;
  Tracer tracer{true};
  // The query service's answer to OpenDeliveries (none unless a test sets it).
  QueryService::OpenDeliveries open_deliveries;
  std::unique_ptr<asio::thread_pool> pool;
  std::unique_ptr<DelayService> delays;
  std::unique_ptr<ProduceService> produce;
  std::unique_ptr<QueryService> queries;
  uint64_t next_connection = 0;

 private:
  void StartServices() {
    pool = std::make_unique<asio::thread_pool>(2);
    delays =
        std::make_unique<DelayService>(log.store.get(), log.topics.get(), log.log.get(), &log.clock,
                                       &log.metrics, std::chrono::milliseconds(1000));
    produce = std::make_unique<ProduceService>(log.store.get(), log.log.get(), delays.get(),
                                               &tracer, &log.clock, &log.metrics,
                                               /*dedup_window_ms=*/600000, *pool);
    queries = std::make_unique<QueryService>(
        log.store.get(), log.topics.get(), *pool, [this](TopicId t, QueueId q, Offset offset) {
          return open_deliveries ? open_deliveries(t, q, offset) : std::vector<v1::TraceEvent>();
        });
  }
  void StopServices() {
    if (pool) pool->join();
    if (delays) delays->Stop();
    // Committer callbacks of answered sends may hold dedup leases of the
    // produce service: write everything queued before it goes.
    log.store.reset();
    queries.reset();
    produce.reset();
    delays.reset();
    pool.reset();
  }
};

// --- TxnService ---------------------------------------------------------------

// A producer connection that serves transaction checks: it records each
// CheckTransaction the broker sends, and the test answers it (Answer) or
// fails it as a closed connection would (Drop).
class CheckingConnection : public RecordingConnection {
 public:
  using RecordingConnection::RecordingConnection;
  void SendRequest(v1::Frame frame, std::function<void(Result<v1::Frame>)> done) override {
    std::lock_guard<std::mutex> lock(checks_mu_);
    checks_.push_back(Check{std::move(frame), std::move(done)});
    checks_cv_.notify_all();
  }
  // The oldest check not yet answered; fails the test if none comes in 10 s.
  v1::CheckTransactionRequest AwaitCheck() {
    std::unique_lock<std::mutex> lock(checks_mu_);
    bool got = checks_cv_.wait_for(lock, std::chrono::seconds(10), [&] { return !checks_.empty(); });
    EXPECT_TRUE(got) << "no check sent";
    return got ? checks_.front().frame.check_transaction() : v1::CheckTransactionRequest();
  }
  // Answers the oldest check with OK (the producer took it).
  void Answer() { Finish(Result<v1::Frame>(v1::Frame())); }
  // The connection closed before the producer answered.
  void Drop() { Finish(Status::Unavailable("connection closed")); }
  size_t pending() {
    std::lock_guard<std::mutex> lock(checks_mu_);
    return checks_.size();
  }

 private:
  struct Check {
    v1::Frame frame;
    std::function<void(Result<v1::Frame>)> done;
  };
  void Finish(Result<v1::Frame> response) {
    std::function<void(Result<v1::Frame>)> done;
    {
      std::lock_guard<std::mutex> lock(checks_mu_);
      EXPECT_FALSE(checks_.empty()) << "no check to answer";
      if (checks_.empty()) return;
      done = std::move(checks_.front().done);
      checks_.pop_front();
    }
    done(std::move(response));
  }

  std::mutex checks_mu_;
  std::condition_variable checks_cv_;
  std::deque<Check> checks_;
};

// A TxnService over a LogTestEnv's store, with its own delay service,
// producer registry, tracer and blocking pool. Close() and Open() again
// restart it on the same data directory, as a broker restart would. The
// scanner thread is not started: tests drive it with ScanOnce().
struct TxnTestEnv {
  void Open(TxnOptions options = {}) {
    base.Open();
    ASSERT_TRUE(base.topics->Recover().ok());
    pool = std::make_unique<asio::thread_pool>(2);
    delays = std::make_unique<DelayService>(base.store.get(), base.topics.get(), base.log.get(),
                                            &base.clock, &base.metrics,
                                            std::chrono::milliseconds(1000));
    registry = std::make_unique<ProducerRegistry>(ProducerRegistryOptions{});
    txn = std::make_unique<TxnService>(base.store.get(), base.topics.get(), base.log.get(),
                                       delays.get(), registry.get(), &tracer, &base.clock,
                                       &base.metrics, options, *pool);
    ASSERT_TRUE(txn->Recover().ok());
  }
  // Finishes queued work, then closes the store (its committer runs or drops
  // the callbacks that hold gate leases) before the services go.
  void Close() {
    if (pool) pool->join();
    base.store.reset();
    txn.reset();
    delays.reset();
    registry.reset();
    base.log.reset();
    base.topics.reset();
    pool.reset();
  }
  ~TxnTestEnv() { Close(); }

  // Request helpers: each sends one request and returns its answer.
  v1::Frame SendHalf(const std::string& txn_id, const std::vector<std::string>& message_ids,
                     const std::string& group = "pg", const std::string& topic = "orders") {
    v1::SendHalfRequest r;
    r.set_txn_id(txn_id);
    r.set_producer_group(group);
    for (const auto& id : message_ids) {
      v1::Message* m = r.add_messages();
      m->set_topic(topic);
      m->set_message_id(id);
      m->set_body("body of " + id);
    }
    uint64_t request_id = ++next_request;
    txn->SendHalf(std::move(r), Responder(producer, request_id, BudgetLease()), producer);
    return producer->Await(request_id);
  }
  v1::Frame End(const std::string& txn_id, v1::TxnOutcome outcome, bool from_operator = false) {
    v1::EndTransactionRequest r;
    r.set_txn_id(txn_id);
    r.set_outcome(outcome);
    r.set_from_operator(from_operator);
    uint64_t request_id = ++next_request;
    txn->EndTransaction(std::move(r), Responder(producer, request_id, BudgetLease()));
    return producer->Await(request_id);
  }
  v1::Frame List(v1::TxnState state) {
    v1::ListTransactionsRequest r;
    r.set_state(state);
    uint64_t request_id = ++next_request;
    txn->ListTransactions(std::move(r), Responder(producer, request_id, BudgetLease()));
    return producer->Await(request_id);
  }

  LogTestEnv base;
  Tracer tracer{true};
  std::unique_ptr<asio::thread_pool> pool;
  std::unique_ptr<DelayService> delays;
  std::unique_ptr<ProducerRegistry> registry;
  std::unique_ptr<TxnService> txn;
  // The producer's connection: requests are answered on it, and it serves
  // checks once registered (RegisterProducer).
  std::shared_ptr<CheckingConnection> producer = std::make_shared<CheckingConnection>(1);
  uint64_t next_request = 0;
};

// A ConsumeService over a LogTestEnv (real store, manual clock), with an io
// thread for its long polls and a blocking pool of two threads. Requests
// are answered on `conn`; Call and Receive wait for the answer (10 s
// bound). Not thread-safe: one test thread drives it.
class ConsumeTestEnv {
 public:
  ~ConsumeTestEnv() { Close(); }

  void Open(ConsumeOptions options = {}) {
    options_ = options;
    log.Open();
    io_thread_ = std::thread([this] { io_.run(); });
    service = NewService();
    Status s = service->Recover();
    EXPECT_TRUE(s.ok()) << s;
  }
  // Another service over the same store, not yet recovered (a restart's).
  std::unique_ptr<ConsumeService> NewService() {
    return std::make_unique<ConsumeService>(log.store.get(), log.topics.get(), log.log.get(),
                                            &tracer_, &log.clock, &log.metrics, options_, io_,
                                            pool_);
  }
  // Stops the service; the store writes or drops what is queued while the
  // service (which its callbacks use) still lives. Tests leave no receive
  // parked.
  void Close() {
    if (closed_) return;
    closed_ = true;
    if (service) {
      service->Shutdown();
      service->Stop();
    }
    pool_.join();
    log.store.reset();
    work_.reset();
    io_.stop();
    if (io_thread_.joinable()) io_thread_.join();
    service.reset();
  }

  // Calls a handler of `on` (the service by default) and waits for its answer.
  template <typename Request>
  v1::Frame Call(void (ConsumeService::*handler)(Request, Responder), Request request,
                 ConsumeService* on = nullptr) {
    uint64_t id = next_request_++;
    ((on ? on : service.get())->*handler)(std::move(request), Responder(conn, id, BudgetLease()));
    return conn->Await(id);
  }
  // Starts a receive without waiting; Await(id) gets its answer.
  uint64_t StartReceive(const std::string& group, const std::string& topic, uint32_t max,
                        uint32_t invisible_ms = 1000, uint32_t wait_ms = 0) {
    v1::ReceiveRequest r;
    r.set_group(group);
    r.set_topic(topic);
    r.set_max_messages(max);
    r.set_invisible_ms(invisible_ms);
    r.set_wait_ms(wait_ms);
    uint64_t id = next_request_++;
    service->Receive(std::move(r), Responder(conn, id, BudgetLease()), "test-client");
    return id;
  }
  v1::ReceiveResponse Receive(const std::string& group, const std::string& topic, uint32_t max,
                              uint32_t invisible_ms = 1000) {
    v1::Frame f = conn->Await(StartReceive(group, topic, max, invisible_ms));
    EXPECT_EQ(f.status().code(), v1::Status::OK) << f.status().message();
    return f.receive_response();
  }
  // Appends one message per body to queue 0 of `topic` (ids m0001, m0002,
  // ... in publish order), in FIFO `message_group` if given, and waits
  // until they are durable.
  std::vector<v1::SendResult> Publish(const std::string& topic,
                                      const std::vector<std::string>& bodies,
                                      const std::string& message_group = "") {
    std::vector<AppendEntry> entries;
    for (const auto& body : bodies) {
      AppendEntry e;
      e.topic = log.topics->Find(topic);
      EXPECT_NE(e.topic, nullptr) << topic;
      e.queue = QueueId(0);
      char id[16];
      snprintf(id, sizeof(id), "m%04d", ++published_);
      e.message_id = id;
      e.record.set_message_id(id);
      e.record.set_body(body);
      e.record.set_message_group(message_group);
      entries.push_back(std::move(e));
    }
    std::promise<std::vector<v1::SendResult>> done;
    log.log->Append(std::move(entries), log.store->NewBatch(), "",
                    [&](std::vector<v1::SendResult> r) { done.set_value(std::move(r)); });
    return done.get_future().get();
  }

  LogTestEnv log;
  std::shared_ptr<RecordingConnection> conn = std::make_shared<RecordingConnection>(1);
  std::unique_ptr<ConsumeService> service;

 private:
  ConsumeOptions options_;
  Tracer tracer_{true};
  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{
      asio::make_work_guard(io_)};
  std::thread io_thread_;
  asio::thread_pool pool_{2};
  uint64_t next_request_ = 1;
  int published_ = 0;
  bool closed_ = false;
};

}  // namespace halfmq::broker::test_util

#endif  // HALFMQ_BROKER_TEST_UTIL_H_
