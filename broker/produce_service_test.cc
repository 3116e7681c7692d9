#include "broker/produce_service.h"

#include <gtest/gtest.h>

#include "broker/test_util.h"

namespace halfmq::broker {

class ProduceServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_.Open();
    env_.CreateTopic("orders", 1);
    delays_ = std::make_unique<DelayService>(env_.store.get(), env_.topics.get(),
                                             env_.log.get(), &env_.clock, &env_.metrics,
                                             std::chrono::milliseconds(1000));
    produce_ = std::make_unique<ProduceService>(env_.store.get(), env_.log.get(), delays_.get(),
                                                &tracer_, &env_.clock, &env_.metrics,
                                                /*dedup_window_ms=*/600000, pool_);
  }
  void TearDown() override {
    pool_.join();
    // The committer may still hold callbacks (with their dedup leases) of
    // answered sends: stop it before the service that owns the gate goes.
    env_.store.reset();
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
  void Send(const std::shared_ptr<test_util::RecordingConnection>& conn, uint64_t request_id,
            v1::SendRequest request) {
    produce_->Send(std::move(request), Responder(conn, request_id, BudgetLease()), conn);
  }
  // Holds (topic, id) in the dedup gate, as a racing retry on another
  // connection would while its write is in progress.
  std::shared_ptr<KeyGate::Lease> Hold(const std::string& id) {
    return produce_->gate_.TryAcquire({std::string("orders") + '\0' + id});
  }

  test_util::LogTestEnv env_;
  Tracer tracer_{true};
  asio::thread_pool pool_{2};
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
  auto conn = std::make_shared<test_util::RecordingConnection>(1);
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
  auto a = std::make_shared<test_util::RecordingConnection>(1);
  auto b = std::make_shared<test_util::RecordingConnection>(2);
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
