#include "broker/produce_service.h"

#include <condition_variable>
#include <future>
#include <map>
#include <mutex>

#include <gtest/gtest.h>

#include "tests/util/temp_dir.h"

namespace halfmq::broker {

// A connection that records the frames sent on it.
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

  // The response to `request_id`; fails the test after 10 s.
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

class ProduceServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    storage::StoreOptions options;
    options.path = dir_.Sub("db");
    store_ = std::move(storage::Store::Open(options)).value();
    topics_ = std::make_unique<TopicManager>(store_.get(), &clock_);
    std::promise<void> created;
    topics_->Create("orders", 1, /*fifo=*/false, [&](Result<std::shared_ptr<Topic>> t) {
      EXPECT_TRUE(t.ok());
      created.set_value();
    });
    created.get_future().wait();
    log_ = std::make_unique<MessageLog>(store_.get(), topics_.get(), &clock_, &metrics_,
                                        MessageLimits{1024, 1000000});
    delays_ = std::make_unique<DelayService>(store_.get(), topics_.get(), log_.get(), &clock_,
                                             &metrics_, std::chrono::milliseconds(1000));
    produce_ = std::make_unique<ProduceService>(store_.get(), log_.get(), delays_.get(), &tracer_,
                                                &clock_, &metrics_, /*dedup_window_ms=*/600000,
                                                pool_);
  }
  void TearDown() override {
    pool_.join();
    // The committer may still hold callbacks (with their dedup leases) of
    // answered sends: stop it before the service that owns the gate goes.
    store_.reset();
  }

  static v1::SendRequest Request(const std::string& id, bool fresh) {
    v1::SendRequest r;
    v1::Message* m = r.add_messages();
    m->set_topic("orders");
    m->set_message_id(id);
    m->set_body("body of " + id);
    r.set_fresh_ids(fresh);
    return r;
  }
  void Send(const std::shared_ptr<RecordingConnection>& conn, uint64_t request_id,
            v1::SendRequest request) {
    produce_->Send(std::move(request), Responder(conn, request_id, BudgetLease()), conn);
  }
  // Holds (topic, id) in the dedup gate, as a racing retry on another
  // connection would while its write is in progress.
  std::shared_ptr<KeyGate::Lease> Hold(const std::string& id) {
    return produce_->gate_.TryAcquire({std::string("orders") + '\0' + id});
  }

  testing::TempDir dir_;
  ManualClock clock_{1000};
  Metrics metrics_;
  Tracer tracer_{true};
  asio::thread_pool pool_{2};
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<TopicManager> topics_;
  std::unique_ptr<MessageLog> log_;
  std::unique_ptr<DelayService> delays_;
  std::unique_ptr<ProduceService> produce_;
};

namespace {

uint64_t OffsetOf(const v1::Frame& f) {
  EXPECT_EQ(f.status().code(), v1::Status::OK) << f.status().message();
  EXPECT_EQ(f.send_response().results_size(), 1);
  return f.send_response().results_size() == 1 ? f.send_response().results(0).offset() : ~0ull;
}

TEST_F(ProduceServiceTest, ASendHeldUpByAnotherConnectionsRetryIsNotOvertaken) {
  auto conn = std::make_shared<RecordingConnection>(1);
  auto held = Hold("x");
  ASSERT_NE(held, nullptr);
  Send(conn, 1, Request("x", /*fresh=*/false));  // waits for "x"
  Send(conn, 2, Request("y", /*fresh=*/true));   // must wait behind it
  Send(conn, 3, Request("z", /*fresh=*/false));
  held.reset();  // the other connection's write is durable
  EXPECT_EQ(OffsetOf(conn->Await(1)), 0u);
  EXPECT_EQ(OffsetOf(conn->Await(2)), 1u);
  EXPECT_EQ(OffsetOf(conn->Await(3)), 2u);
}

TEST_F(ProduceServiceTest, OtherConnectionsAreNotHeldUpAndIdleLanesTakeTheFastPath) {
  auto a = std::make_shared<RecordingConnection>(1);
  auto b = std::make_shared<RecordingConnection>(2);
  auto held = Hold("x");
  Send(a, 1, Request("x", /*fresh=*/false));  // waits for "x"
  Send(b, 1, Request("y", /*fresh=*/true));   // another connection: not behind it
  EXPECT_EQ(OffsetOf(b->Await(1)), 0u);
  held.reset();
  EXPECT_EQ(OffsetOf(a->Await(1)), 1u);
  // A's lane is idle again: a fresh send goes straight through, and a repeat
  // of "x" (not fresh) is answered from the dedup window.
  Send(a, 2, Request("w", /*fresh=*/true));
  EXPECT_EQ(OffsetOf(a->Await(2)), 2u);
  Send(a, 3, Request("x", /*fresh=*/false));
  v1::Frame dup = a->Await(3);
  EXPECT_EQ(OffsetOf(dup), 1u);
  EXPECT_TRUE(dup.send_response().results(0).deduplicated());
}

}  // namespace
}  // namespace halfmq::broker
