// Crash safety under load: kill -9 the broker while 64 requests are in
// flight on one connection (sends; half sends and transaction ends; receives
// and acks), restart it on the same data, and check that everything the
// broker acknowledged is there, that nothing rolled back or left pending is
// visible, and that nothing appears twice.
//
// The load is raw pipelined frames on one connection, driven by the test
// thread: it keeps the window full, reacts to each response (a half send's
// answer posts its EndTransaction, a receive's answer posts its acks), and
// kills the broker itself once enough acknowledgements have arrived, so the
// kill always lands with a full window and no sleep decides anything.
// Responses that reached the socket before the kill still count as
// acknowledged (they are read after it). Every check after the restart
// waits on a response or polls an observable state (lag, the transaction
// listing) with a deadline that only turns a hang into a failure.
//
// Parameterized over the memtable representation (--storage_memtable), so
// that both recover from the same WAL the same way. The transaction load is
// in crash_load_txn_test.cc, the shared fixture in crash_load_test.h.
#include "tests/integration/crash_load_test.h"

#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace halfmq::testing {
namespace {

// Sends: 64 send requests in flight (1 to 3 messages each) until at least
// kAcked messages are acknowledged, then kill -9. After the restart every
// acknowledged message is at the queue and offset its receipt named, with
// its body; nothing is stored twice; offsets stay dense; a retry of each
// request whose answer was lost (same ids, as a client does after a crash)
// is deduplicated exactly when the first attempt was stored.
TEST_P(CrashLoadTest, AcknowledgedSendsSurviveKill9With64InFlight) {
  constexpr size_t kAcked = 2000;
  Start();
  CreateTopic("orders", 4);

  std::map<uint64_t, std::vector<std::string>> requests;  // tag -> message ids
  std::map<std::string, size_t> sent;                     // id -> sequence number
  std::map<std::string, Location> acked;
  Pipeline load(broker_->address());
  ASSERT_TRUE(load.connected());
  uint64_t next_tag = 0;
  auto post = [&] {
    v1::Frame f;
    std::vector<std::string>& ids = requests[next_tag];
    for (size_t i = 0; i < 1 + next_tag % 3; ++i) {
      size_t n = sent.size();
      std::string id = "m-" + std::to_string(n);
      auto* m = f.mutable_send()->add_messages();
      m->set_topic("orders");
      m->set_message_id(id);
      m->set_body(BodyOf(id, n));
      ids.push_back(id);
      sent[id] = n;
    }
    ASSERT_TRUE(load.Post(std::move(f), next_tag++));
  };
  auto on_response = [&](uint64_t tag, const v1::Frame& r) {
    ASSERT_EQ(r.status().code(), v1::Status::OK) << r.status().message();
    const auto& ids = requests.at(tag);
    ASSERT_EQ(static_cast<size_t>(r.send_response().results_size()), ids.size());
    for (size_t i = 0; i < ids.size(); ++i) {
      const auto& result = r.send_response().results(static_cast<int>(i));
      EXPECT_EQ(result.message_id(), ids[i]);
      EXPECT_FALSE(result.deduplicated());
      acked[ids[i]] = Location{result.queue_id(), result.offset()};
    }
    requests.erase(tag);
  };

  while (load.inflight() < kWindow) ASSERT_NO_FATAL_FAILURE(post());
  while (acked.size() < kAcked) {
    auto r = load.Next();
    ASSERT_TRUE(r.has_value()) << broker_->LogTail();
    ASSERT_NO_FATAL_FAILURE(on_response(r->first, r->second));
    ASSERT_NO_FATAL_FAILURE(post());
  }
  ASSERT_EQ(load.inflight(), kWindow);
  broker_->Kill9();
  while (auto r = load.Next()) ASSERT_NO_FATAL_FAILURE(on_response(r->first, r->second));
  size_t unanswered = requests.size();
  RecordProperty("acked_messages", static_cast<int>(acked.size()));
  RecordProperty("unanswered_requests", static_cast<int>(unanswered));

  Restart();
  Delivered seen;
  ASSERT_NO_FATAL_FAILURE(ReceiveAll("verify", "orders", &seen));
  {
    Violations bad;
    for (const auto& [id, where] : acked) {
      auto it = seen.by_id.find(id);
      bad.Check(it != seen.by_id.end(), "acknowledged send lost", id);
      if (it == seen.by_id.end()) continue;
      bad.Check(it->second.where == where, "acknowledged send moved",
                id + " from " + where.ToString() + " to " + it->second.where.ToString());
      bad.Check(it->second.body == BodyOf(id, sent.at(id)), "wrong body", id);
    }
    for (const auto& [id, copy] : seen.by_id) bad.Check(sent.count(id), "never sent", id);
    // A request whose answer was lost is stored all or nothing.
    for (const auto& [tag, ids] : requests) {
      size_t stored = 0;
      for (const auto& id : ids) stored += seen.by_id.count(id);
      bad.Check(stored == 0 || stored == ids.size(), "request partly stored", ids[0]);
    }
  }
  ExpectDense("verify", "orders", seen);

  // The client's retry after the crash: the same ids again.
  for (const auto& [tag, ids] : requests) {
    v1::Frame f;
    for (const auto& id : ids) {
      auto* m = f.mutable_send()->add_messages();
      m->set_topic("orders");
      m->set_message_id(id);
      m->set_body(BodyOf(id, sent.at(id)));
    }
    v1::Frame r = Call(f);
    ASSERT_EQ(r.status().code(), v1::Status::OK) << r.status().message();
    ASSERT_EQ(static_cast<size_t>(r.send_response().results_size()), ids.size());
    for (size_t i = 0; i < ids.size(); ++i) {
      const auto& result = r.send_response().results(static_cast<int>(i));
      auto it = seen.by_id.find(ids[i]);
      bool was_stored = it != seen.by_id.end();
      EXPECT_EQ(result.deduplicated(), was_stored) << ids[i];
      if (was_stored) {
        EXPECT_EQ((Location{result.queue_id(), result.offset()}), it->second.where) << ids[i];
      }
    }
  }
  ASSERT_NO_FATAL_FAILURE(ReceiveAll("verify", "orders", &seen));
  EXPECT_EQ(seen.by_id.size(), sent.size()) << "every message sent once, stored once";
  ExpectDense("verify", "orders", seen);
}

// Acks: a topic of kMessages, received 32 at a time with a short
// invisibility, three of every four acked; 64 receives and acks in flight
// when the kill lands. After the restart no message whose ack was
// acknowledged is delivered again, every message never acked is (again, or
// for the first time) with a higher attempt than any delivery seen, and once
// those are acked the group has no lag left.
TEST_P(CrashLoadTest, AcknowledgedAcksSurviveKill9) {
  constexpr size_t kMessages = 3000;
  constexpr size_t kAcksAcked = 1000;
  constexpr size_t kReceivesInFlight = 4;
  Start();
  CreateTopic("events", 4);
  std::set<std::string> all;
  for (size_t n = 0; n < kMessages;) {
    v1::Frame f;
    for (size_t k = 0; k < 100; ++k, ++n) {
      std::string id = "e-" + std::to_string(n);
      auto* m = f.mutable_send()->add_messages();
      m->set_topic("events");
      m->set_message_id(id);
      m->set_body(BodyOf(id, n));
      all.insert(id);
    }
    ASSERT_EQ(Call(f).status().code(), v1::Status::OK);
  }
  // Messages the consumer never acks: every fourth.
  auto never_acked = [](const std::string& id) { return std::stoul(id.substr(2)) % 4 == 0; };

  std::map<std::string, uint32_t> last_attempt;  // id -> highest attempt delivered
  std::set<std::string> ack_acked;
  std::deque<std::pair<std::string, std::string>> to_ack;  // id, receipt handle
  std::map<uint64_t, std::string> ack_tags;                // tag -> id
  size_t receives_inflight = 0;
  uint64_t next_tag = 0;
  Pipeline load(broker_->address());
  ASSERT_TRUE(load.connected());
  constexpr uint64_t kReceiveTag = UINT64_MAX;
  auto fill = [&] {
    while (load.inflight() < kWindow) {
      if (!to_ack.empty()) {
        v1::Frame f;
        f.mutable_ack()->set_group("workers");
        f.mutable_ack()->add_receipt_handles(to_ack.front().second);
        ack_tags[next_tag] = to_ack.front().first;
        to_ack.pop_front();
        if (!load.Post(std::move(f), next_tag++)) return;
      } else if (receives_inflight < kReceivesInFlight) {
        v1::Frame f;
        auto* r = f.mutable_receive();
        r->set_group("workers");
        r->set_topic("events");
        r->set_max_messages(32);
        r->set_invisible_ms(1000);
        r->set_wait_ms(0);
        if (!load.Post(std::move(f), kReceiveTag)) return;
        ++receives_inflight;
      } else {
        return;
      }
    }
  };
  auto on_response = [&](uint64_t tag, const v1::Frame& r) {
    ASSERT_EQ(r.status().code(), v1::Status::OK) << r.status().message();
    if (tag == kReceiveTag) {
      --receives_inflight;
      for (const auto& m : r.receive_response().messages()) {
        const std::string& id = m.message().message_id();
        EXPECT_GT(m.attempt(), last_attempt[id]) << id;
        last_attempt[id] = m.attempt();
        if (!never_acked(id)) to_ack.emplace_back(id, m.receipt_handle());
      }
      return;
    }
    std::string id = ack_tags.at(tag);
    ack_tags.erase(tag);
    ASSERT_EQ(r.ack_response().results_size(), 1);
    // A handle that expired (the message was delivered again meanwhile) is
    // refused: that ack was not acknowledged.
    auto code = r.ack_response().results(0).code();
    EXPECT_TRUE(code == v1::Status::OK || code == v1::Status::FAILED_PRECONDITION) << code;
    if (code == v1::Status::OK) ack_acked.insert(id);
  };

  fill();
  // Killed once enough acks are acknowledged and some are in flight.
  while (ack_acked.size() < kAcksAcked || ack_tags.empty()) {
    auto r = load.Next();
    ASSERT_TRUE(r.has_value()) << broker_->LogTail();
    ASSERT_NO_FATAL_FAILURE(on_response(r->first, r->second));
    fill();
  }
  broker_->Kill9();
  while (auto r = load.Next()) ASSERT_NO_FATAL_FAILURE(on_response(r->first, r->second));
  RecordProperty("acks_acked", static_cast<int>(ack_acked.size()));
  RecordProperty("delivered", static_cast<int>(last_attempt.size()));

  Restart();
  // Every message whose ack was not acknowledged must come (back), except
  // those with an ack that was never answered: their outcome is unknown.
  std::set<std::string> unanswered;
  for (const auto& [tag, id] : ack_tags) unanswered.insert(id);
  std::set<std::string> must_deliver;
  for (const auto& id : all) {
    if (!ack_acked.count(id) && !unanswered.count(id)) must_deliver.insert(id);
  }
  std::set<std::string> after;
  Violations bad;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kDeadlineMs);
  for (;;) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline)
        << after.size() << " delivered after the restart, " << must_deliver.size() << " must be";
    v1::Frame f;
    auto* rr = f.mutable_receive();
    rr->set_group("workers");
    rr->set_topic("events");
    rr->set_max_messages(1024);
    rr->set_invisible_ms(600000);
    rr->set_wait_ms(200);
    v1::Frame got = Call(f);
    ASSERT_EQ(got.status().code(), v1::Status::OK) << got.status().message();
    v1::Frame ack;
    ack.mutable_ack()->set_group("workers");
    for (const auto& m : got.receive_response().messages()) {
      const std::string& id = m.message().message_id();
      bad.Check(!ack_acked.count(id), "acknowledged ack lost (redelivered)", id);
      bad.Check(after.insert(id).second, "delivered twice after the restart", id);
      auto it = last_attempt.find(id);
      bad.Check(it == last_attempt.end() || m.attempt() > it->second,
                "attempt not above the last delivery's", id);
      bad.Check(m.message().body() == BodyOf(id, std::stoul(id.substr(2))), "wrong body", id);
      ack.mutable_ack()->add_receipt_handles(m.receipt_handle());
    }
    if (got.receive_response().messages_size() > 0) {
      v1::Frame acked = Call(ack);
      ASSERT_EQ(acked.status().code(), v1::Status::OK);
      for (const auto& s : acked.ack_response().results()) ASSERT_EQ(s.code(), v1::Status::OK);
      continue;
    }
    bool done = true;
    for (const auto& id : must_deliver) done &= after.count(id) > 0;
    for (const auto& q : Lag("workers", "events")) done &= q.lag() == 0;
    if (done) break;
  }
  for (const auto& id : must_deliver) bad.Check(after.count(id), "never redelivered", id);
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(Memtables, CrashLoadTest, ::testing::Values("halfmq", "rocksdb"));

}  // namespace halfmq::testing
