// Helpers for the broker's unit tests: a Connection that records what is
// sent on it, and a store + topic manager + message log in a temporary
// directory. Test-only; not part of halfmq_broker.
#ifndef HALFMQ_BROKER_TEST_UTIL_H_
#define HALFMQ_BROKER_TEST_UTIL_H_

#include <chrono>
#include <condition_variable>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <gtest/gtest.h>

#include "broker/message_log.h"
#include "broker/metrics.h"
#include "broker/responder.h"
#include "broker/topic_manager.h"
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

}  // namespace halfmq::broker::test_util

#endif  // HALFMQ_BROKER_TEST_UTIL_H_
