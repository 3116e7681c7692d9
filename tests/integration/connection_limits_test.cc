// The broker's connection handling against clients that pipeline, stall,
// trickle, stop reading or open too many connections: frames of every size
// pipelined and split anywhere arrive whole; memory is reserved for bytes
// received, not claimed; hello, frame, idle and write timeouts close the
// connections they should and only those; per-address connection limits;
// warnings about bad connections are rate-limited.
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "proto/framing.h"
#include "tests/util/broker_process.h"
#include "tests/util/eventually.h"
#include "tests/util/raw_client.h"
#include "tests/util/temp_dir.h"

namespace halfmq::testing {
namespace {

std::string Framed(const v1::Frame& f) {
  std::string out;
  EXPECT_TRUE(proto::AppendFrame(f, 64 << 20, &out));
  return out;
}

v1::Frame Hello(const std::vector<std::string>& producer_groups = {}) {
  v1::Frame f;
  f.mutable_hello()->set_client_id("connection-limits-test");
  for (const auto& g : producer_groups) f.mutable_hello()->add_producer_groups(g);
  return f;
}

v1::Frame ListTopics() {
  v1::Frame f;
  f.mutable_list_topics();
  return f;
}

// A message body that tells which message it is and its size.
std::string Body(size_t size, int i) {
  std::string b(size, '\0');
  for (size_t k = 0; k < size; ++k) b[k] = static_cast<char>('a' + (k * 7 + i) % 26);
  return b;
}

class ConnectionLimitsTest : public ::testing::Test {
 protected:
  void Start(std::vector<std::string> flags) {
    broker_ = BrokerProcess::Start(dir_.Sub("data"), flags);
    ASSERT_NE(broker_, nullptr);
  }

  // A request on a connection of its own, from an address no test's other
  // connections use (so it neither idles nor counts against 127.0.0.1).
  std::optional<v1::Frame> AdminCall(const v1::Frame& request) {
    RawClient admin(broker_->address(), "127.0.0.9");
    EXPECT_TRUE(admin.connected());
    return admin.Call(request);
  }

  v1::Status::Code CreateTopic(const std::string& name) {
    v1::Frame create;
    create.mutable_create_topic()->set_name(name);
    create.mutable_create_topic()->set_queues(1);
    auto r = AdminCall(create);
    return r ? r->status().code() : v1::Status::INTERNAL;
  }

  // One counter of GetBrokerStats.
  int64_t Stat(const std::string& name) {
    v1::Frame f;
    f.mutable_get_broker_stats();
    auto r = AdminCall(f);
    EXPECT_TRUE(r.has_value()) << broker_->LogTail();
    if (!r) return -1;
    const auto& counters = r->get_broker_stats_response().counters();
    auto it = counters.find(name);
    EXPECT_NE(it, counters.end()) << name;
    return it == counters.end() ? -1 : it->second;
  }

  bool Answers(RawClient* c) {
    auto r = c->Call(ListTopics(), 30000);
    return r.has_value() && r->status().code() == v1::Status::OK;
  }

  bool BrokerAnswers() {
    RawClient c(broker_->address(), "127.0.0.9");
    return Answers(&c);
  }

  TempDir dir_;
  std::unique_ptr<BrokerProcess> broker_;
};

TEST_F(ConnectionLimitsTest, PipelinedFramesOfEverySizeSplitAnywhereArriveWhole) {
  Start({"--max_frame_bytes=4194304", "--max_message_bytes=2097152"});
  ASSERT_EQ(CreateTopic("mixed"), v1::Status::OK);

  // Frame sizes around the broker's 16 KiB read chunk and well past it,
  // in random order, among small requests.
  const std::vector<size_t> sizes = {1,         100,           16 * 1024 - 200, 16 * 1024 - 60,
                                     16 * 1024, 16 * 1024 + 60, 40000,          200000,
                                     1 << 20,   (2 << 20) - 400};
  std::mt19937 rng(20261205);
  RawClient c(broker_->address());
  ASSERT_TRUE(c.connected());
  std::string wire;
  std::map<uint64_t, int> send_ids;  // request id -> message index
  std::vector<size_t> body_size;
  uint64_t next_id = 1;
  for (int i = 0; i < 120; ++i) {
    v1::Frame f;
    if (rng() % 3 == 0) {
      f = ListTopics();
    } else {
      auto* m = f.mutable_send()->add_messages();
      m->set_topic("mixed");
      m->set_message_id("m" + std::to_string(body_size.size()));
      body_size.push_back(sizes[rng() % sizes.size()]);
      m->set_body(Body(body_size.back(), static_cast<int>(body_size.size() - 1)));
      send_ids[next_id] = static_cast<int>(body_size.size() - 1);
    }
    f.set_request_id(next_id++);
    f.set_type(v1::REQUEST);
    wire += Framed(f);
  }
  // Written in pieces that end anywhere: in headers, at frame boundaries,
  // just after one.
  std::uniform_int_distribution<size_t> piece(1, 50000);
  for (size_t at = 0; at < wire.size();) {
    size_t n = std::min(piece(rng), wire.size() - at);
    ASSERT_TRUE(c.SendBytes(wire.substr(at, n)));
    at += n;
  }
  std::set<uint64_t> answered;
  for (uint64_t i = 1; i < next_id; ++i) {
    auto r = c.ReadFrame();
    ASSERT_TRUE(r.has_value()) << broker_->LogTail();
    ASSERT_EQ(r->status().code(), v1::Status::OK) << r->status().message();
    EXPECT_TRUE(answered.insert(r->request_id()).second);
  }
  EXPECT_EQ(answered.size(), next_id - 1);

  // Every body is stored as sent, in the order sent.
  v1::Frame receive;
  receive.mutable_receive()->set_group("g");
  receive.mutable_receive()->set_topic("mixed");
  receive.mutable_receive()->set_max_messages(1);
  for (size_t i = 0; i < body_size.size(); ++i) {
    auto r = c.Call(receive);
    ASSERT_TRUE(r.has_value());
    ASSERT_EQ(r->receive_response().messages_size(), 1) << "message " << i;
    const auto& m = r->receive_response().messages(0).message();
    EXPECT_EQ(m.message_id(), "m" + std::to_string(i));
    ASSERT_EQ(m.body().size(), body_size[i]);
    EXPECT_TRUE(m.body() == Body(body_size[i], static_cast<int>(i))) << "message " << i;
  }
  EXPECT_EQ(Stat("frames_malformed"), 0);
}

TEST_F(ConnectionLimitsTest, HeadersClaimingLargeFramesReserveNoMemoryForOthers) {
  // 32 connections claim 8 MiB frames, send a few bytes and stop: 256 MiB
  // claimed against a 64 MiB budget. Others are served meanwhile.
  Start({"--memory_budget_bytes=67108864", "--frame_timeout_ms=0"});
  std::vector<std::unique_ptr<RawClient>> claimers;
  for (int i = 0; i < 32; ++i) {
    claimers.push_back(std::make_unique<RawClient>(broker_->address()));
    ASSERT_TRUE(claimers.back()->connected());
    ASSERT_TRUE(claimers.back()->SendBytes(FrameHeader(8 << 20) + std::string(1000, 'x')));
  }
  // Wait until the broker has read from all of them (each took its first
  // read's bytes), then send 1 MiB on a fresh connection.
  ASSERT_EQ(CreateTopic("t"), v1::Status::OK);
  RawClient c(broker_->address());
  v1::Frame send;
  auto* m = send.mutable_send()->add_messages();
  m->set_topic("t");
  m->set_message_id("big");
  m->set_body(std::string(1 << 20, 'b'));
  auto r = c.Call(send);
  ASSERT_TRUE(r.has_value()) << broker_->LogTail();
  EXPECT_EQ(r->status().code(), v1::Status::OK) << r->status().message();
  EXPECT_EQ(Stat("memory_budget_waits"), 0);
}

TEST_F(ConnectionLimitsTest, AConnectionThatSendsNothingIsClosedAfterTheHelloTimeout) {
  Start({"--hello_timeout_ms=300"});
  RawClient silent(broker_->address());
  ASSERT_TRUE(silent.connected());
  EXPECT_TRUE(silent.WaitForClose());
  EXPECT_EQ(Stat("connections_hello_timeouts"), 1);
  EXPECT_TRUE(BrokerAnswers());  // a connection that sends a request in time
}

TEST_F(ConnectionLimitsTest, AFrameThatStopsOrTricklesIsClosedAfterTheFrameTimeout) {
  Start({"--frame_timeout_ms=400"});
  RawClient stalled(broker_->address());
  ASSERT_TRUE(Answers(&stalled));
  ASSERT_TRUE(stalled.SendBytes(FrameHeader(1000) + "only this"));
  RawClient trickle(broker_->address());
  ASSERT_TRUE(Answers(&trickle));
  // One byte every 50 ms of a 200-byte frame: 10 s, far past the timeout.
  std::string frame = FrameHeader(196) + std::string(196, 'x');
  bool closed = false;
  for (size_t i = 0; i < frame.size() && !closed; ++i) {
    if (!trickle.SendBytes(frame.substr(i, 1))) closed = true;
    if (!closed) closed = trickle.WaitForClose(50);
  }
  EXPECT_TRUE(closed);
  EXPECT_TRUE(stalled.WaitForClose());
  EXPECT_EQ(Stat("connections_frame_timeouts"), 2);
  EXPECT_TRUE(BrokerAnswers());
}

TEST_F(ConnectionLimitsTest, IdleConnectionsCloseButLongPollsAndProducersStay) {
  Start({"--idle_timeout_ms=300"});
  ASSERT_EQ(CreateTopic("t"), v1::Status::OK);

  RawClient producer(broker_->address());
  ASSERT_EQ(producer.Call(Hello({"payments"}))->status().code(), v1::Status::OK);
  // A long poll of 2 s, longer than the idle timeout, is answered, not cut.
  RawClient poller(broker_->address());
  v1::Frame receive;
  receive.mutable_receive()->set_group("g");
  receive.mutable_receive()->set_topic("t");
  receive.mutable_receive()->set_max_messages(1);
  receive.mutable_receive()->set_wait_ms(2000);
  auto polled = poller.Call(receive);
  ASSERT_TRUE(polled.has_value());
  EXPECT_EQ(polled->status().code(), v1::Status::OK);
  EXPECT_EQ(Stat("connections_idle_timeouts"), 0);
  // Once idle, the poller is closed; the producer, idle as long, is not.
  EXPECT_TRUE(poller.WaitForClose());
  EXPECT_GE(Stat("connections_idle_timeouts"), 1);
  EXPECT_TRUE(Answers(&producer));
}

TEST_F(ConnectionLimitsTest, AClientThatStopsReadingIsClosedAfterTheWriteTimeout) {
  Start({"--write_timeout_ms=500"});
  ASSERT_EQ(CreateTopic("t"), v1::Status::OK);
  RawClient producer(broker_->address());
  for (int i = 0; i < 24; ++i) {
    v1::Frame send;
    auto* m = send.mutable_send()->add_messages();
    m->set_topic("t");
    m->set_message_id("m" + std::to_string(i));
    m->set_body(std::string(1 << 20, 'z'));
    ASSERT_EQ(producer.Call(send)->status().code(), v1::Status::OK);
  }
  // GetMessage answers 1 MiB each; 64 of them never read are far more than
  // the socket buffers hold.
  RawClient deaf(broker_->address());
  for (int i = 0; i < 64; ++i) {
    v1::Frame get;
    get.mutable_get_message()->set_topic("t");
    get.mutable_get_message()->set_message_id("m" + std::to_string(i % 24));
    deaf.Post(get);
  }
  EXPECT_TRUE(Eventually([&] { return Stat("connections_write_timeouts") >= 1; }));
  EXPECT_TRUE(Answers(&producer));
}

TEST_F(ConnectionLimitsTest, ConnectionsPerAddressAreBounded) {
  Start({"--max_connections_per_ip=4"});
  std::vector<std::unique_ptr<RawClient>> local;
  for (int i = 0; i < 4; ++i) {
    local.push_back(std::make_unique<RawClient>(broker_->address()));
    ASSERT_TRUE(Answers(local.back().get()));
  }
  RawClient refused(broker_->address());
  ASSERT_TRUE(refused.connected());  // the kernel accepted it; the broker closes it
  EXPECT_TRUE(refused.WaitForClose());
  EXPECT_EQ(Stat("connections_rejected_per_ip"), 1);
  RawClient other(broker_->address(), "127.0.0.2");
  ASSERT_TRUE(other.connected());
  EXPECT_TRUE(Answers(&other));
  // A closed connection frees its address's slot.
  local.pop_back();
  EXPECT_TRUE(Eventually([&] {
    RawClient again(broker_->address());
    return Answers(&again);
  }));
}

TEST_F(ConnectionLimitsTest, WarningsAboutBadConnectionsAreRateLimited) {
  Start({});
  for (int i = 0; i < 150; ++i) {
    RawClient bad(broker_->address());
    ASSERT_TRUE(bad.SendBytes(FrameHeader(64 << 20)));
    ASSERT_TRUE(bad.WaitForClose());
  }
  EXPECT_EQ(Stat("frames_oversize"), 150);
  // At most the burst and a few per second were written; the rest counted.
  int64_t suppressed = Stat("log_lines_suppressed");
  EXPECT_GT(suppressed, 0);
  std::string log = broker_->LogTail(1 << 20);
  size_t lines = 0;
  for (size_t at = log.find("exceeds --max_frame_bytes"); at != std::string::npos;
       at = log.find("exceeds --max_frame_bytes", at + 1)) {
    ++lines;
  }
  EXPECT_EQ(static_cast<int64_t>(lines) + suppressed, 150);
}

}  // namespace
}  // namespace halfmq::testing
