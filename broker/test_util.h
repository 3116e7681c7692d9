// Helpers for the broker's unit tests: a Connection that records what is
// sent on it, and a store + topic manager + message log in a temporary
// directory. Test-only; not part of halfmq_broker.
#ifndef HALFMQ_BROKER_TEST_UTIL_H_
#define HALFMQ_BROKER_TEST_UTIL_H_

#include <chrono>
#include <condition_variable>
#include <cstdio>
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
#include "broker/message_log.h"
#include "broker/metrics.h"
#include "broker/responder.h"
#include "broker/topic_manager.h"
#include "broker/tracer.h"
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
