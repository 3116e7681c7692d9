// Connection behaviour against a scripted FakeBroker: handshake, pipelining,
// errors and retries, connection loss and reconnect, limits, broker-to-client
// requests, and close.
#include "client/connection.h"

#include <atomic>
#include <future>
#include <map>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "client/convert.h"
#include "client/fake_broker.h"
#include "common/asio.h"
#include "proto/framing.h"
#include "halfmq/consumer.h"
#include "halfmq/producer.h"
#include "halfmq/transaction.h"

namespace halfmq::client {
namespace {

using std::chrono::milliseconds;
using testing::FakeBroker;

ClientOptions TestOptions(const FakeBroker& broker) {
  ClientOptions o;
  o.broker = broker.address();
  o.client_id = "test-client";
  o.connect_timeout = milliseconds(5000);
  o.request_timeout = milliseconds(5000);
  o.reconnect_backoff_initial = milliseconds(1);
  o.reconnect_backoff_max = milliseconds(5);
  o.max_retries = 0;
  return o;
}

std::unique_ptr<Connection> Open(const ClientOptions& options) {
  auto c = Connection::Create(options);
  EXPECT_TRUE(c.ok()) << c.status();
  return std::move(c).value();
}

v1::Frame ListTopics() {
  v1::Frame f;
  f.mutable_list_topics();
  return f;
}

v1::Frame ListTopicsResponse(const std::string& name) {
  v1::Frame f;
  f.mutable_list_topics_response()->add_topics()->set_name(name);
  return f;
}

// An async call whose result the test can wait for. The promise is shared
// with the callback, which may run after the test body ends (a connection
// destroyed at the end of a test completes its calls with "client closed").
class PendingResult {
 public:
  ResponseCallback Callback() {
    return [promise = promise_](Result<v1::Frame> r) { promise->set_value(std::move(r)); };
  }
  Result<v1::Frame> Get() {
    if (future_.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
      return Status::Internal("test: no result within 10 s");
    }
    return future_.get();
  }

 private:
  std::shared_ptr<std::promise<Result<v1::Frame>>> promise_ =
      std::make_shared<std::promise<Result<v1::Frame>>>();
  std::future<Result<v1::Frame>> future_ = promise_->get_future();
};

TEST(ConnectionTest, SendsHelloFirstWithCustomizedProducerGroups) {
  FakeBroker broker;
  auto conn = Open(TestOptions(broker));
  conn->SetHelloCustomizer([](v1::HelloRequest* hello) { hello->add_producer_groups("pay"); });
  ASSERT_TRUE(conn->Connect().ok());
  auto hellos = broker.hellos();
  ASSERT_EQ(hellos.size(), 1u);
  EXPECT_EQ(hellos[0].client_id(), "test-client");
  EXPECT_EQ(hellos[0].protocol_version(), 1u);
  ASSERT_EQ(hellos[0].producer_groups_size(), 1);
  EXPECT_EQ(hellos[0].producer_groups(0), "pay");
}

TEST(ConnectionTest, PipelinedResponsesMayArriveOutOfOrder) {
  FakeBroker broker;
  auto conn = Open(TestOptions(broker));
  PendingResult first, second;
  conn->Call(ListTopics(), {}, first.Callback());
  conn->Call(ListTopics(), {}, second.Callback());
  auto r1 = broker.Next();
  auto r2 = broker.Next();
  ASSERT_TRUE(r1 && r2);
  EXPECT_EQ(r1->frame.type(), v1::REQUEST);
  EXPECT_NE(r1->frame.request_id(), r2->frame.request_id());
  broker.Reply(*r2, ListTopicsResponse("second"));
  broker.Reply(*r1, ListTopicsResponse("first"));
  auto a = first.Get();
  auto b = second.Get();
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(a->list_topics_response().topics(0).name(), "first");
  EXPECT_EQ(b->list_topics_response().topics(0).name(), "second");
}

TEST(ConnectionTest, BrokerErrorIsReturnedAtOnceWithoutRetry) {
  FakeBroker broker;
  ClientOptions options = TestOptions(broker);
  options.max_retries = 3;
  auto conn = Open(options);
  PendingResult pending;
  conn->Call(ListTopics(), {}, pending.Callback());
  auto r = broker.Next();
  ASSERT_TRUE(r);
  broker.ReplyError(*r, v1::Status::NOT_FOUND, "topic 'x' does not exist");
  auto result = pending.Get();
  EXPECT_EQ(result.status(), Status::NotFound("topic 'x' does not exist"));
  // The next frame the broker sees is a new call, not a retry.
  PendingResult next;
  v1::Frame stats;
  stats.mutable_get_broker_stats();
  conn->Call(stats, {}, next.Callback());
  auto r2 = broker.Next();
  ASSERT_TRUE(r2);
  EXPECT_TRUE(r2->frame.has_get_broker_stats());
}

TEST(ConnectionTest, RetryableErrorsAreRetriedWithTheSameMessageIds) {
  FakeBroker broker;
  ClientOptions options = TestOptions(broker);
  options.max_retries = 2;
  auto conn = Open(options);
  auto frame = BuildSendFrame({Message("orders").Body("x")});
  ASSERT_TRUE(frame.ok());
  PendingResult pending;
  conn->Call(*frame, {}, pending.Callback());
  std::string message_id;
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto r = broker.Next();
    ASSERT_TRUE(r);
    ASSERT_TRUE(r->frame.has_send());
    if (attempt == 0) message_id = r->frame.send().messages(0).message_id();
    EXPECT_EQ(r->frame.send().messages(0).message_id(), message_id);
    // Only the first attempt may tell the broker its ids are new.
    EXPECT_EQ(r->frame.send().fresh_ids(), attempt == 0);
    broker.ReplyError(*r, v1::Status::RESOURCE_EXHAUSTED, "busy");
  }
  auto result = pending.Get();
  EXPECT_EQ(result.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(result.status().message(), "busy (after 3 attempts)");
}

TEST(ConnectionTest, RetriedHalfSendIsNoLongerFresh) {
  FakeBroker broker;
  ClientOptions options = TestOptions(broker);
  options.max_retries = 1;
  auto conn = Open(options);
  auto frame = BuildSendHalfFrame("t1", "pg", 0, {Message("orders").Body("x")}, /*fresh_txn=*/true);
  ASSERT_TRUE(frame.ok());
  PendingResult pending;
  conn->Call(*frame, {}, pending.Callback());
  auto first = broker.Next();
  ASSERT_TRUE(first);
  EXPECT_TRUE(first->frame.send_half().fresh_txn());
  broker.ReplyError(*first, v1::Status::UNAVAILABLE, "shutting down");
  auto second = broker.Next();
  ASSERT_TRUE(second);
  EXPECT_FALSE(second->frame.send_half().fresh_txn());
  v1::Frame ok;
  ok.mutable_send_half_response()->set_txn_id("t1");
  broker.Reply(*second, ok);
  EXPECT_TRUE(pending.Get().ok());
}

// Only the first half send of an id the producer generated is flagged
// fresh_txn: not a second send of it, not an id of the application's own.
TEST(TransactionProducerTest, OnlyTheFirstHalfSendOfAGeneratedIdIsFresh) {
  FakeBroker broker;
  auto producer = TransactionProducer::Connect(
      TestOptions(broker), "pg", [](const CheckRequest&) { return TxnState::kUnknown; });
  ASSERT_TRUE(producer.ok()) << producer.status();
  auto half_send = [&](const std::string& txn_id) {
    std::promise<Status> done;
    (*producer)->SendHalfAsync(txn_id, {Message("orders").Body("x")},
                               [&done](Result<std::vector<HalfReceipt>> r) {
                                 done.set_value(r.status());
                               });
    auto r = broker.Next();
    EXPECT_TRUE(r);
    if (!r) return false;
    bool fresh = r->frame.send_half().fresh_txn();
    v1::Frame ok;
    ok.mutable_send_half_response()->set_txn_id(txn_id);
    broker.Reply(*r, ok);
    EXPECT_TRUE(done.get_future().get().ok());
    return fresh;
  };
  std::string id = (*producer)->NewTransactionId();
  EXPECT_TRUE(half_send(id));
  EXPECT_FALSE(half_send(id));
  EXPECT_FALSE(half_send("order-42"));
  // A Begin() handle: its first Send is fresh, the next is not.
  Transaction txn = (*producer)->Begin();
  for (bool expect_fresh : {true, false}) {
    auto sent = std::async(std::launch::async, [&] { return txn.Send(Message("orders").Body("y")); });
    auto r = broker.Next();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->frame.send_half().fresh_txn(), expect_fresh);
    v1::Frame ok;
    ok.mutable_send_half_response()->set_txn_id(r->frame.send_half().txn_id());
    broker.Reply(*r, ok);
    EXPECT_TRUE(sent.get().ok());
  }
}

TEST(ConnectionTest, ConnectionLossFailsInFlightCallsAndNextCallReconnects) {
  FakeBroker broker;
  auto conn = Open(TestOptions(broker));  // max_retries = 0
  PendingResult a, b;
  conn->Call(ListTopics(), {}, a.Callback());
  conn->Call(ListTopics(), {}, b.Callback());
  auto r = broker.Next();
  ASSERT_TRUE(r);
  ASSERT_TRUE(broker.Next());
  broker.Close(r->conn);
  for (PendingResult* p : {&a, &b}) {
    auto result = p->Get();
    EXPECT_EQ(result.status().code(), StatusCode::kUnavailable);
    // With why: the broker closed it (not a reset or a timeout).
    EXPECT_NE(result.status().message().find("connection lost: closed by the broker"),
              std::string::npos)
        << result.status();
  }
  PendingResult c;
  conn->Call(ListTopics(), {}, c.Callback());
  auto r2 = broker.Next();
  ASSERT_TRUE(r2);
  broker.Reply(*r2, ListTopicsResponse("again"));
  EXPECT_TRUE(c.Get().ok());
  EXPECT_EQ(broker.hellos().size(), 2u);  // Hello again on the new connection
}

TEST(ConnectionTest, RetryableCallSurvivesConnectionLoss) {
  FakeBroker broker;
  ClientOptions options = TestOptions(broker);
  options.max_retries = 3;
  auto conn = Open(options);
  PendingResult pending;
  conn->Call(ListTopics(), {}, pending.Callback());
  auto r = broker.Next();
  ASSERT_TRUE(r);
  broker.Close(r->conn);
  auto retry = broker.Next();
  ASSERT_TRUE(retry);
  EXPECT_NE(retry->conn, r->conn);
  broker.Reply(*retry, ListTopicsResponse("t"));
  auto result = pending.Get();
  EXPECT_TRUE(result.ok()) << result.status();
}

TEST(ConnectionTest, UnansweredRequestTimesOut) {
  FakeBroker broker;
  ClientOptions options = TestOptions(broker);
  options.request_timeout = milliseconds(50);
  auto conn = Open(options);
  ASSERT_TRUE(conn->Connect().ok());
  auto result = conn->CallSync(ListTopics());
  EXPECT_EQ(result.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(result.status().message().find("timed out after 50 ms"), std::string::npos)
      << result.status();
}

// The connection reads whatever the socket holds and parses frames out of
// it: answers split anywhere, several in one read, and one larger than a
// read all arrive whole.
TEST(ConnectionTest, ResponsesSplitAnywhereAreReassembled) {
  FakeBroker broker;
  auto conn = Open(TestOptions(broker));
  constexpr int kCalls = 3;
  PendingResult pending[kCalls];
  std::optional<FakeBroker::Received> requests[kCalls];
  for (int i = 0; i < kCalls; ++i) {
    conn->Call(ListTopics(), {}, pending[i].Callback());
    requests[i] = broker.Next();
    ASSERT_TRUE(requests[i]);
  }
  std::vector<std::string> names = {"first", std::string(300000, 'x'), "third"};
  std::string wire;
  for (int i = 0; i < kCalls; ++i) {
    v1::Frame f = ListTopicsResponse(names[i]);
    f.set_request_id(requests[i]->frame.request_id());
    f.set_type(v1::RESPONSE);
    ASSERT_TRUE(proto::AppendFrame(f, 1 << 20, &wire));
  }
  // Pieces of 5 bytes, then the rest of the large one at once.
  size_t at = 0;
  for (; at < 2000; at += 5) broker.SendRaw(requests[0]->conn, wire.substr(at, 5));
  broker.SendRaw(requests[0]->conn, wire.substr(at));
  for (int i = 0; i < kCalls; ++i) {
    auto r = pending[i].Get();
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->list_topics_response().topics(0).name(), names[i]);
  }
}

TEST(ConnectionTest, PipelinedResponsesOfEverySizeSplitAnywhereArriveWhole) {
  // Responses around the client's 128 KiB read chunk and far past it, in
  // random order, written in pieces that end anywhere: the client once took
  // a whole read buffer as the start of a large frame and overflowed it.
  FakeBroker broker;
  auto conn = Open(TestOptions(broker));
  constexpr size_t kChunk = 128 << 10;
  const std::vector<size_t> sizes = {1,         50,         kChunk - 30, kChunk - 10, kChunk,
                                     kChunk + 5, kChunk + 40, 300000,     1 << 20};
  std::mt19937 rng(7);
  constexpr int kCalls = 60;
  PendingResult pending[kCalls];
  std::optional<FakeBroker::Received> requests[kCalls];
  std::vector<std::string> names(kCalls);
  for (int i = 0; i < kCalls; ++i) {
    conn->Call(ListTopics(), {}, pending[i].Callback());
    requests[i] = broker.Next();
    ASSERT_TRUE(requests[i]);
    names[i] = std::string(sizes[rng() % sizes.size()], static_cast<char>('a' + i % 26));
  }
  std::string wire;
  for (int i = 0; i < kCalls; ++i) {
    v1::Frame f = ListTopicsResponse(names[i]);
    f.set_request_id(requests[i]->frame.request_id());
    f.set_type(v1::RESPONSE);
    ASSERT_TRUE(proto::AppendFrame(f, 2 << 20, &wire));
  }
  std::uniform_int_distribution<size_t> piece(1, 3 * kChunk);
  for (size_t at = 0; at < wire.size();) {
    size_t n = std::min(piece(rng), wire.size() - at);
    broker.SendRaw(requests[0]->conn, wire.substr(at, n));
    at += n;
  }
  for (int i = 0; i < kCalls; ++i) {
    auto r = pending[i].Get();
    ASSERT_TRUE(r.ok()) << "call " << i << ": " << r.status();
    ASSERT_EQ(r->list_topics_response().topics_size(), 1);
    EXPECT_TRUE(r->list_topics_response().topics(0).name() == names[i]) << "call " << i;
  }
}

TEST(ConnectionTest, OversizedFrameFromBrokerClosesTheConnection) {
  FakeBroker broker;
  ClientOptions options = TestOptions(broker);
  options.max_frame_bytes = 1024;
  auto conn = Open(options);
  PendingResult pending;
  conn->Call(ListTopics(), {}, pending.Callback());
  auto r = broker.Next();
  ASSERT_TRUE(r);
  broker.SendRaw(r->conn, std::string("\x00\x00\x10\x00", 4));  // 4096 bytes follow
  auto result = pending.Get();
  EXPECT_EQ(result.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(result.status().message().find("over max_frame_bytes 1024"), std::string::npos)
      << result.status();
}

TEST(ConnectionTest, MalformedFrameFromBrokerClosesTheConnection) {
  FakeBroker broker;
  auto conn = Open(TestOptions(broker));
  PendingResult pending;
  conn->Call(ListTopics(), {}, pending.Callback());
  auto r = broker.Next();
  ASSERT_TRUE(r);
  broker.SendRaw(r->conn, std::string("\x00\x00\x00\x03\xff\xff\xff", 7));
  auto result = pending.Get();
  EXPECT_EQ(result.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(result.status().message().find("malformed frame"), std::string::npos)
      << result.status();
}

TEST(ConnectionTest, ResponseWithTheWrongBodyIsInternal) {
  FakeBroker broker;
  auto conn = Open(TestOptions(broker));
  PendingResult pending;
  conn->Call(ListTopics(), {}, pending.Callback());
  auto r = broker.Next();
  ASSERT_TRUE(r);
  v1::Frame wrong;
  wrong.mutable_get_broker_stats_response();
  broker.Reply(*r, wrong);
  EXPECT_EQ(pending.Get().status().code(), StatusCode::kInternal);
}

TEST(ConnectionTest, RequestOverTheFrameLimitFailsLocally) {
  FakeBroker broker;
  ClientOptions options = TestOptions(broker);
  options.max_frame_bytes = 1024;
  auto conn = Open(options);
  auto frame = BuildSendFrame({Message("orders").Body(std::string(2000, 'x'))});
  ASSERT_TRUE(frame.ok());
  auto result = conn->CallSync(*frame);
  EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument);
  // The connection is still usable.
  PendingResult pending;
  conn->Call(ListTopics(), {}, pending.Callback());
  auto r = broker.Next();
  ASSERT_TRUE(r);
  broker.Reply(*r, ListTopicsResponse("t"));
  EXPECT_TRUE(pending.Get().ok());
}

TEST(ConnectionTest, BrokerRequestWithoutHandlerGetsNoHandler) {
  FakeBroker broker;
  auto conn = Open(TestOptions(broker));
  PendingResult pending;
  conn->Call(ListTopics(), {}, pending.Callback());
  auto r = broker.Next();
  ASSERT_TRUE(r);
  v1::Frame check;
  check.set_request_id(77);
  check.set_type(v1::REQUEST);
  check.mutable_check_transaction()->set_txn_id("t1");
  broker.Send(r->conn, check);
  auto answer = broker.Next();
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->frame.type(), v1::RESPONSE);
  EXPECT_EQ(answer->frame.request_id(), 77u);
  EXPECT_EQ(answer->frame.status().code(), v1::Status::INVALID_ARGUMENT);
  EXPECT_EQ(answer->frame.status().message(), "no handler");
  broker.Reply(*r, ListTopicsResponse("t"));
  EXPECT_TRUE(pending.Get().ok());
}

TEST(ConnectionTest, BrokerRequestIsRoutedToTheHandlerAndAnsweredFromAnotherThread) {
  FakeBroker broker;
  auto conn = Open(TestOptions(broker));
  std::thread responder_thread;
  conn->SetRequestHandler([&](const v1::Frame& request, Responder responder) {
    std::string txn = request.check_transaction().txn_id();
    responder_thread = std::thread([responder, txn] {
      v1::Frame response;
      response.mutable_check_transaction_response()->set_outcome(txn == "t1" ? v1::COMMIT
                                                                             : v1::ROLLBACK);
      responder.Respond(std::move(response));
    });
  });
  ASSERT_TRUE(conn->Connect().ok());
  PendingResult pending;
  conn->Call(ListTopics(), {}, pending.Callback());
  auto r = broker.Next();
  ASSERT_TRUE(r);
  v1::Frame check;
  check.set_request_id(5);
  check.set_type(v1::REQUEST);
  check.mutable_check_transaction()->set_txn_id("t1");
  broker.Send(r->conn, check);
  auto answer = broker.Next();
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->frame.request_id(), 5u);
  EXPECT_EQ(answer->frame.status().code(), v1::Status::OK);
  EXPECT_EQ(answer->frame.check_transaction_response().outcome(), v1::COMMIT);
  responder_thread.join();
  broker.Reply(*r, ListTopicsResponse("t"));
  EXPECT_TRUE(pending.Get().ok());
}

TEST(ConnectionTest, CloseCompletesPendingCallsAndLaterCalls) {
  FakeBroker broker;
  auto conn = Open(TestOptions(broker));
  PendingResult in_flight;
  conn->Call(ListTopics(), {}, in_flight.Callback());
  ASSERT_TRUE(broker.Next());
  conn->Close();
  EXPECT_EQ(in_flight.Get().status(), Status::Unavailable("client closed"));
  PendingResult after;
  conn->Call(ListTopics(), {}, after.Callback());
  EXPECT_EQ(after.Get().status(), Status::Unavailable("client closed"));
}

TEST(ConnectionTest, DestructorCompletesPendingCalls) {
  FakeBroker broker;
  PendingResult pending;
  {
    auto conn = Open(TestOptions(broker));
    conn->Call(ListTopics(), {}, pending.Callback());
    ASSERT_TRUE(broker.Next());
  }
  EXPECT_EQ(pending.Get().status(), Status::Unavailable("client closed"));
}

TEST(ConnectionTest, SyncCallFromACallbackIsRefused) {
  FakeBroker broker;
  auto conn = Open(TestOptions(broker));
  std::promise<Status> nested;
  conn->Call(ListTopics(), {},
             [&](Result<v1::Frame>) { nested.set_value(conn->CallSync(ListTopics()).status()); });
  auto r = broker.Next();
  ASSERT_TRUE(r);
  broker.Reply(*r, ListTopicsResponse("t"));
  auto f = nested.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(f.get().code(), StatusCode::kFailedPrecondition);
}

TEST(ConnectionTest, UnreachableBrokerFailsAfterRetries) {
  std::string address;
  {
    FakeBroker gone;
    address = gone.address();
  }
  ClientOptions options;
  options.broker = address;
  options.max_retries = 2;
  options.reconnect_backoff_initial = milliseconds(1);
  options.reconnect_backoff_max = milliseconds(2);
  auto conn = Open(options);
  Status s = conn->Connect();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("cannot connect to broker " + address), std::string::npos) << s;
  EXPECT_NE(s.message().find("(after 3 attempts)"), std::string::npos) << s;
}

// Liveness of the bound: a caller blocked on the only slot proceeds once the
// slot frees. (That it really blocks cannot be observed without timing.)
TEST(ConnectionTest, CallerWaitingForASlotProceedsWhenItFrees) {
  FakeBroker broker;
  ClientOptions options = TestOptions(broker);
  options.max_inflight_requests = 1;
  auto conn = Open(options);
  PendingResult first;
  conn->Call(ListTopics(), {}, first.Callback());
  auto r1 = broker.Next();
  ASSERT_TRUE(r1);
  // The second call waits for the slot inside Call, on its own thread.
  PendingResult second;
  std::thread caller([&] { conn->Call(ListTopics(), {}, second.Callback()); });
  broker.Reply(*r1, ListTopicsResponse("1"));
  auto r2 = broker.Next();
  ASSERT_TRUE(r2);
  EXPECT_TRUE(first.Get().ok());
  broker.Reply(*r2, ListTopicsResponse("2"));
  caller.join();
  EXPECT_TRUE(second.Get().ok());
}

// Producer, Consumer and PushConsumer are tested against a real broker in
// tests/integration/consume_test.cc; the scripted peer above is only for
// transport faults a real broker never produces.

TEST(PushConsumerTest, RejectsBadOptions) {
  PushConsumerOptions o;
  o.topic = "orders";
  o.concurrency = 0;
  ClientOptions client;
  auto r = PushConsumer::Start(client, "g", o,
                               [](const ReceivedMessage&) { return ConsumeResult::kSuccess; });
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  o.concurrency = 1;
  r = PushConsumer::Start(client, "g", o, nullptr);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace halfmq::client
