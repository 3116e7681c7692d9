// Wire-level tests against a real broker: every request type's happy path
// and its typed errors, and that bad frames close only their own connection.
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "proto/framing.h"
#include "tests/util/broker_process.h"
#include "tests/util/eventually.h"
#include "tests/util/raw_client.h"
#include "tests/util/temp_dir.h"

namespace halfmq::testing {
namespace {

class ProtocolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = BrokerProcess::Start(dir_.Sub("data"), {"--max_frame_bytes=1048576",
                                                      "--max_message_bytes=65536"});
    ASSERT_NE(broker_, nullptr);
    client_ = std::make_unique<RawClient>(broker_->address());
    ASSERT_TRUE(client_->connected());
  }

  v1::Frame Call(v1::Frame request) {
    auto f = client_->Call(std::move(request));
    EXPECT_TRUE(f.has_value()) << broker_->LogTail();
    return f.value_or(v1::Frame());
  }

  v1::Status::Code CreateTopic(const std::string& name, uint32_t queues) {
    v1::Frame f;
    f.mutable_create_topic()->set_name(name);
    f.mutable_create_topic()->set_queues(queues);
    return Call(f).status().code();
  }

  v1::Frame Send(const std::string& topic, const std::string& id, const std::string& body) {
    v1::Frame f;
    auto* m = f.mutable_send()->add_messages();
    m->set_topic(topic);
    m->set_message_id(id);
    m->set_body(body);
    return Call(f);
  }

  v1::Frame Receive(const std::string& group, const std::string& topic, uint32_t max,
                    uint32_t wait_ms = 0) {
    v1::Frame f;
    auto* r = f.mutable_receive();
    r->set_group(group);
    r->set_topic(topic);
    r->set_max_messages(max);
    r->set_wait_ms(wait_ms);
    return Call(f);
  }

  TempDir dir_;
  std::unique_ptr<BrokerProcess> broker_;
  std::unique_ptr<RawClient> client_;
};

TEST_F(ProtocolTest, HelloReportsLimits) {
  v1::Frame f;
  f.mutable_hello()->set_client_id("test");
  f.mutable_hello()->set_protocol_version(1);
  v1::Frame r = Call(f);
  EXPECT_EQ(r.status().code(), v1::Status::OK);
  EXPECT_EQ(r.hello_response().protocol_version(), 1u);
  EXPECT_EQ(r.hello_response().max_frame_bytes(), 1048576u);
  EXPECT_EQ(r.hello_response().max_message_bytes(), 65536u);
}

// The broker names its allocator at start-up; a release build must really
// run on jemalloc (nothing calls it by name, so a linker dropping the
// library would silently fall back to glibc's malloc).
TEST_F(ProtocolTest, BrokerRunsOnTheAllocatorItWasBuiltWith) {
#ifdef HALFMQ_BROKER_WITH_JEMALLOC
  const std::string expected = "allocator: jemalloc";
#else
  const std::string expected = "allocator: glibc malloc";
#endif
  EXPECT_NE(broker_->LogTail(1 << 20).find(expected), std::string::npos)
      << broker_->LogTail();
}

TEST_F(ProtocolTest, SendReceiveAck) {
  ASSERT_EQ(CreateTopic("orders", 1), v1::Status::OK);
  EXPECT_EQ(CreateTopic("orders", 1), v1::Status::ALREADY_EXISTS);
  v1::Frame sent = Send("orders", "m1", "hello");
  ASSERT_EQ(sent.status().code(), v1::Status::OK) << sent.status().message();
  ASSERT_EQ(sent.send_response().results_size(), 1);
  EXPECT_EQ(sent.send_response().results(0).offset(), 0u);

  v1::Frame got = Receive("billing", "orders", 10);
  ASSERT_EQ(got.status().code(), v1::Status::OK) << got.status().message();
  ASSERT_EQ(got.receive_response().messages_size(), 1);
  const auto& m = got.receive_response().messages(0);
  EXPECT_EQ(m.message().body(), "hello");
  EXPECT_EQ(m.message().message_id(), "m1");
  EXPECT_EQ(m.attempt(), 1u);

  v1::Frame ack;
  ack.mutable_ack()->set_group("billing");
  ack.mutable_ack()->add_receipt_handles(m.receipt_handle());
  v1::Frame acked = Call(ack);
  ASSERT_EQ(acked.status().code(), v1::Status::OK);
  ASSERT_EQ(acked.ack_response().results_size(), 1);
  EXPECT_EQ(acked.ack_response().results(0).code(), v1::Status::OK);
  // Acking again is fine; a handle presented for another group is not.
  EXPECT_EQ(Call(ack).ack_response().results(0).code(), v1::Status::OK);
  ack.mutable_ack()->set_group("other");
  EXPECT_EQ(Call(ack).ack_response().results(0).code(), v1::Status::INVALID_ARGUMENT);

  EXPECT_EQ(Receive("billing", "orders", 10).receive_response().messages_size(), 0);
}

TEST_F(ProtocolTest, LongPollIsWokenByAppend) {
  ASSERT_EQ(CreateTopic("events", 2), v1::Status::OK);
  // Park a receive with a long wait on a second connection, then send.
  RawClient consumer(broker_->address());
  ASSERT_TRUE(consumer.connected());
  v1::Frame recv;
  recv.set_request_id(77);
  recv.mutable_receive()->set_group("g");
  recv.mutable_receive()->set_topic("events");
  recv.mutable_receive()->set_max_messages(1);
  recv.mutable_receive()->set_wait_ms(30000);
  // Subscribe first so the message sent below is not "before" the group.
  ASSERT_EQ(Receive("g", "events", 1).status().code(), v1::Status::OK);
  ASSERT_TRUE(consumer.SendFrame(recv));
  ASSERT_EQ(Send("events", "wake", "x").status().code(), v1::Status::OK);
  auto got = consumer.ReadFrame();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->request_id(), 77u);
  ASSERT_EQ(got->receive_response().messages_size(), 1);
  EXPECT_EQ(got->receive_response().messages(0).message().message_id(), "wake");
}

TEST_F(ProtocolTest, InvalidRequestsGetTypedErrorsAndWriteNothing) {
  ASSERT_EQ(CreateTopic("t", 2), v1::Status::OK);
  ASSERT_EQ(Receive("g", "t", 1).status().code(), v1::Status::OK);  // subscribes g
  EXPECT_EQ(CreateTopic("bad name", 1), v1::Status::INVALID_ARGUMENT);
  EXPECT_EQ(CreateTopic("toomany", 100000), v1::Status::INVALID_ARGUMENT);
  EXPECT_EQ(Send("missing", "a", "x").status().code(), v1::Status::NOT_FOUND);
  EXPECT_EQ(Send("bad/topic", "a", "x").status().code(), v1::Status::INVALID_ARGUMENT);
  EXPECT_EQ(Send("t", "", "x").status().code(), v1::Status::INVALID_ARGUMENT);
  EXPECT_EQ(Send("t", "big", std::string(70000, 'x')).status().code(),
            v1::Status::INVALID_ARGUMENT);
  // A batch with one bad message stores none of them.
  v1::Frame batch;
  for (const char* id : {"ok1", "ok2", ""}) {
    auto* m = batch.mutable_send()->add_messages();
    m->set_topic("t");
    m->set_message_id(id);
    m->set_queue_id(0);
  }
  EXPECT_EQ(Call(batch).status().code(), v1::Status::INVALID_ARGUMENT);
  EXPECT_EQ(Receive("bad group!", "t", 1).status().code(), v1::Status::INVALID_ARGUMENT);
  EXPECT_EQ(Receive("g", "t", 0).status().code(), v1::Status::INVALID_ARGUMENT);
  EXPECT_EQ(Receive("g", "nope", 1).status().code(), v1::Status::NOT_FOUND);

  v1::Frame lag;
  lag.mutable_get_lag()->set_group("g");
  v1::Frame lr = Call(lag);
  ASSERT_EQ(lr.status().code(), v1::Status::OK);
  for (const auto& q : lr.get_lag_response().queues()) {
    EXPECT_EQ(q.end_offset(), 0u) << "a rejected send wrote a message";
  }
  v1::Frame unknown_group;
  unknown_group.mutable_get_lag()->set_group("never-seen");
  EXPECT_EQ(Call(unknown_group).status().code(), v1::Status::NOT_FOUND);
}

TEST_F(ProtocolTest, GarbageFrameClosesOnlyThatConnection) {
  ASSERT_EQ(CreateTopic("t", 1), v1::Status::OK);
  RawClient bad(broker_->address());
  ASSERT_TRUE(bad.connected());
  std::string garbage = std::string("\x00\x00\x00\x08", 4) + "\xff\xff\xff\xff\xff\xff\xff\xff";
  ASSERT_TRUE(bad.SendBytes(garbage));
  EXPECT_TRUE(bad.WaitForClose());
  EXPECT_EQ(Send("t", "still", "ok").status().code(), v1::Status::OK);
}

TEST_F(ProtocolTest, OversizeFrameClosesOnlyThatConnection) {
  ASSERT_EQ(CreateTopic("t", 1), v1::Status::OK);
  RawClient bad(broker_->address());
  ASSERT_TRUE(bad.connected());
  uint8_t header[4];
  proto::EncodeFrameLength(2u << 20, header);  // over --max_frame_bytes, body never sent
  ASSERT_TRUE(bad.SendBytes(std::string(reinterpret_cast<char*>(header), 4)));
  EXPECT_TRUE(bad.WaitForClose());
  EXPECT_EQ(Send("t", "still", "ok").status().code(), v1::Status::OK);
}

TEST_F(ProtocolTest, RequestWithoutBodyClosesConnection) {
  RawClient bad(broker_->address());
  v1::Frame empty;
  empty.set_request_id(1);
  ASSERT_TRUE(bad.SendFrame(empty));
  EXPECT_TRUE(bad.WaitForClose());
}

TEST_F(ProtocolTest, PipelinedSendsOfOneConnectionKeepTheirOrderInAQueue) {
  ASSERT_EQ(CreateTopic("ordered", 2), v1::Status::OK);
  constexpr int kSends = 200;
  for (int i = 0; i < kSends; ++i) {
    v1::Frame f;
    auto* m = f.mutable_send()->add_messages();
    m->set_topic("ordered");
    m->set_message_id("seq-" + std::to_string(i));
    m->set_sharding_key("account-1");
    client_->Post(std::move(f));
  }
  std::map<std::string, uint64_t> offset_of;
  while (offset_of.size() < kSends) {
    auto f = client_->ReadFrame();
    ASSERT_TRUE(f.has_value());
    ASSERT_EQ(f->status().code(), v1::Status::OK);
    const auto& r = f->send_response().results(0);
    offset_of[r.message_id()] = r.offset();
  }
  for (int i = 1; i < kSends; ++i) {
    EXPECT_LT(offset_of["seq-" + std::to_string(i - 1)], offset_of["seq-" + std::to_string(i)])
        << "send " << i << " was stored before send " << i - 1;
  }
}

// Pipelined answers far larger than the socket buffers: the answering
// threads write what the socket takes and hand the rest to the connection's
// writer, which hands the socket back once it caught up. Every answer must
// arrive whole, once.
TEST_F(ProtocolTest, AnswersThatOverflowTheSocketArriveWholeAndOnce) {
  ASSERT_EQ(CreateTopic("big", 1), v1::Status::OK);
  const std::string body(60000, 'b');
  ASSERT_EQ(Send("big", "big-1", body).status().code(), v1::Status::OK);
  constexpr int kLookups = 400;  // 24 MB of answers
  std::set<uint64_t> expected;
  for (int i = 0; i < kLookups; ++i) {
    v1::Frame f;
    f.mutable_get_message()->set_message_id("big-1");
    expected.insert(client_->Post(std::move(f)));
  }
  // Not reading until the broker reports that this connection's socket
  // was full and its answers were queued for the writer.
  RawClient observer(broker_->address());
  ASSERT_TRUE(observer.connected());
  ASSERT_TRUE(Eventually([&] {
    v1::Frame stats;
    stats.mutable_get_broker_stats();
    auto r = observer.Call(stats);
    return r.has_value() &&
           r->get_broker_stats_response().counters().at("socket_writes_queued") > 0;
  })) << broker_->LogTail();
  // Requests answered while the writer still holds queued answers.
  for (int i = 0; i < 50; ++i) {
    v1::Frame f;
    f.mutable_list_topics();
    expected.insert(client_->Post(std::move(f)));
  }
  std::set<uint64_t> seen;
  while (seen.size() < expected.size()) {
    auto f = client_->ReadFrame();
    ASSERT_TRUE(f.has_value()) << broker_->LogTail();
    ASSERT_EQ(f->status().code(), v1::Status::OK);
    ASSERT_TRUE(seen.insert(f->request_id()).second) << "answered twice: " << f->request_id();
    if (f->has_get_message_response()) {
      ASSERT_EQ(f->get_message_response().messages_size(), 1);
      EXPECT_EQ(f->get_message_response().messages(0).message().body(), body);
    }
  }
  EXPECT_EQ(seen, expected);
  EXPECT_EQ(CreateTopic("still-open", 1), v1::Status::OK);
}

// With a cap of two unanswered requests per connection the reader stops
// after two; answers written by other threads must wake it again.
TEST_F(ProtocolTest, ReaderResumesWhenAnswersFreeTheInflightCap) {
  TempDir dir;
  auto capped = BrokerProcess::Start(dir.Sub("data"), {"--max_inflight_requests=2"});
  ASSERT_NE(capped, nullptr);
  RawClient c(capped->address());
  ASSERT_TRUE(c.connected());
  v1::Frame create;
  create.mutable_create_topic()->set_name("capped");
  create.mutable_create_topic()->set_queues(1);
  ASSERT_EQ(c.Call(create)->status().code(), v1::Status::OK);
  constexpr int kSends = 300;
  for (int i = 0; i < kSends; ++i) {
    v1::Frame f;
    auto* m = f.mutable_send()->add_messages();
    m->set_topic("capped");
    m->set_message_id("capped-" + std::to_string(i));
    m->set_body("x");
    c.Post(std::move(f));
  }
  for (int i = 0; i < kSends; ++i) {
    auto f = c.ReadFrame();
    ASSERT_TRUE(f.has_value()) << "answer " << i << " missing\n" << capped->LogTail();
    ASSERT_EQ(f->status().code(), v1::Status::OK) << f->status().message();
  }
  EXPECT_EQ(capped->Terminate(), 0) << capped->LogTail();
}

// The broker reads whatever the socket holds and parses frames out of it:
// frames split anywhere (inside the header too), several in one read, and
// frames larger than one read all arrive whole.
TEST_F(ProtocolTest, FramesSplitAnywhereAreReassembled) {
  ASSERT_EQ(CreateTopic("split", 1), v1::Status::OK);
  std::string wire;
  // 300 small frames (30 KB: the read buffer fills, compacts and grows while
  // a partial frame is pending), one larger than a read, one more.
  std::vector<std::string> bodies;
  for (int i = 0; i < 300; ++i) bodies.push_back("small-" + std::string(80, 'a' + i % 26));
  bodies.push_back(std::string(40000, 'L'));
  bodies.push_back("after");
  for (size_t i = 0; i < bodies.size(); ++i) {
    v1::Frame f;
    f.set_request_id(1000 + i);
    f.set_type(v1::REQUEST);
    auto* m = f.mutable_send()->add_messages();
    m->set_topic("split");
    m->set_message_id("split-" + std::to_string(i));
    m->set_body(bodies[i]);
    ASSERT_TRUE(proto::AppendFrame(f, 1 << 20, &wire));
  }
  // 7-byte pieces, each its own send(): most reads see a partial frame.
  for (size_t at = 0; at < wire.size(); at += 7) {
    ASSERT_TRUE(client_->SendBytes(wire.substr(at, 7)));
  }
  std::set<uint64_t> answered;
  for (size_t i = 0; i < bodies.size(); ++i) {
    auto f = client_->ReadFrame();
    ASSERT_TRUE(f.has_value()) << broker_->LogTail();
    EXPECT_EQ(f->status().code(), v1::Status::OK) << f->status().message();
    answered.insert(f->request_id());
  }
  EXPECT_EQ(answered.size(), bodies.size());
  EXPECT_EQ(*answered.begin(), 1000u);
  EXPECT_EQ(*answered.rbegin(), 1000u + bodies.size() - 1);
  // And all were stored whole, in order.
  v1::Frame receive;
  receive.mutable_receive()->set_group("g");
  receive.mutable_receive()->set_topic("split");
  receive.mutable_receive()->set_max_messages(1000);
  size_t next = 0;
  while (next < bodies.size()) {
    v1::Frame got = Call(receive);
    ASSERT_GT(got.receive_response().messages_size(), 0);
    for (const auto& m : got.receive_response().messages()) {
      ASSERT_LT(next, bodies.size());
      EXPECT_EQ(m.message().body(), bodies[next]) << "message " << next;
      ++next;
    }
  }
}

TEST_F(ProtocolTest, UnknownRequestTypeIsAnsweredNotDisconnected) {
  // request_id = 5, then field 99 (length-delimited, empty): a request body
  // from a newer protocol revision.
  std::string body = std::string("\x08\x05", 2) + std::string("\x9a\x06\x00", 3);
  uint8_t header[4];
  proto::EncodeFrameLength(static_cast<uint32_t>(body.size()), header);
  ASSERT_TRUE(client_->SendBytes(std::string(reinterpret_cast<char*>(header), 4) + body));
  auto r = client_->ReadFrame();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->request_id(), 5u);
  EXPECT_EQ(r->status().code(), v1::Status::INVALID_ARGUMENT);
  ASSERT_EQ(CreateTopic("still-open", 1), v1::Status::OK);
}

TEST_F(ProtocolTest, GracefulShutdownExitsZero) {
  ASSERT_EQ(CreateTopic("t", 1), v1::Status::OK);
  EXPECT_EQ(broker_->Terminate(), 0) << broker_->LogTail();
}

}  // namespace
}  // namespace halfmq::testing
