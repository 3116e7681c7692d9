// Idempotent producers (the message id is the idempotency key) and lookups
// by id and key, against a real broker at the wire level.
#include <set>

#include <gtest/gtest.h>

#include "tests/util/raw_broker_test.h"

namespace halfmq::testing {
namespace {

class DedupTest : public RawBrokerTest {
 protected:
  void CreateTopics() {
    for (const char* name : {"orders", "audit"}) {
      v1::Frame f;
      f.mutable_create_topic()->set_name(name);
      f.mutable_create_topic()->set_queues(4);
      ASSERT_EQ(Call(f).status().code(), v1::Status::OK);
    }
  }
  static v1::Message Msg(const std::string& topic, const std::string& id,
                         const std::string& key = "", uint32_t delay = 0) {
    v1::Message m;
    m.set_topic(topic);
    m.set_message_id(id);
    m.set_body("body of " + id);
    if (!key.empty()) m.add_keys(key);
    m.set_delay_ms(delay);
    return m;
  }
  static v1::Frame SendFrame(std::vector<v1::Message> msgs) {
    v1::Frame f;
    for (auto& m : msgs) *f.mutable_send()->add_messages() = std::move(m);
    return f;
  }
  v1::Frame Send(std::vector<v1::Message> msgs) { return Call(SendFrame(std::move(msgs))); }
  int64_t Stat(const std::string& name) {
    v1::Frame f;
    f.mutable_get_broker_stats();
    return Call(f).get_broker_stats_response().counters().at(name);
  }
  size_t Drain(const std::string& topic) {
    v1::Frame f;
    f.mutable_receive()->set_group("g");
    f.mutable_receive()->set_topic(topic);
    f.mutable_receive()->set_max_messages(100);
    return static_cast<size_t>(Call(f).receive_response().messages_size());
  }

};

TEST_F(DedupTest, RetryWithTheSameIdIsStoredOnce) {
  StartBroker();
  CreateTopics();
  v1::Frame first = Send({Msg("orders", "order-42")});
  ASSERT_EQ(first.status().code(), v1::Status::OK);
  EXPECT_FALSE(first.send_response().results(0).deduplicated());
  v1::Frame retry = Send({Msg("orders", "order-42")});
  ASSERT_EQ(retry.status().code(), v1::Status::OK);
  const auto& r = retry.send_response().results(0);
  EXPECT_TRUE(r.deduplicated());
  EXPECT_EQ(r.offset(), first.send_response().results(0).offset());
  EXPECT_EQ(r.queue_id(), first.send_response().results(0).queue_id());
  EXPECT_EQ(r.store_time_ms(), first.send_response().results(0).store_time_ms());
  // The same id in another topic is another message.
  EXPECT_FALSE(Send({Msg("audit", "order-42")}).send_response().results(0).deduplicated());
  // A batch mixing a retry and a new message stores only the new one.
  v1::Frame mixed = Send({Msg("orders", "order-42"), Msg("orders", "order-43")});
  EXPECT_TRUE(mixed.send_response().results(0).deduplicated());
  EXPECT_FALSE(mixed.send_response().results(1).deduplicated());
  EXPECT_EQ(Stat("messages_sent"), 3);
  EXPECT_EQ(Stat("messages_deduplicated"), 2);
  // One request cannot carry an id twice.
  EXPECT_EQ(Send({Msg("orders", "twin"), Msg("orders", "twin")}).status().code(),
            v1::Status::INVALID_ARGUMENT);
  EXPECT_EQ(Drain("orders"), 2u);
}

TEST_F(DedupTest, ConcurrentDuplicatesArePipelinedAndStoredOnce) {
  StartBroker();
  CreateTopics();
  // A retry racing its original on the wire.
  std::vector<uint64_t> ids;
  for (int i = 0; i < 8; ++i) ids.push_back(c_->Post(SendFrame({Msg("orders", "race")})));
  int deduplicated = 0;
  std::set<uint64_t> offsets;
  for (size_t got = 0; got < ids.size();) {
    auto f = c_->ReadFrame();
    ASSERT_TRUE(f.has_value());
    if (f->type() != v1::RESPONSE) continue;
    ++got;
    ASSERT_EQ(f->status().code(), v1::Status::OK);
    deduplicated += f->send_response().results(0).deduplicated();
    offsets.insert(f->send_response().results(0).offset());
  }
  EXPECT_EQ(deduplicated, 7);
  EXPECT_EQ(offsets.size(), 1u);
  EXPECT_EQ(Drain("orders"), 1u);
}

TEST_F(DedupTest, RetryOfAFreshIdSendIsDeduplicatedEvenWhenItRacesTheOriginal) {
  StartBroker();
  CreateTopics();
  // The first attempt says its ids are fresh (no lookup); the retry does
  // not, and arrives while the first may still be in flight.
  v1::Frame first = SendFrame({Msg("orders", "fresh-1")});
  first.mutable_send()->set_fresh_ids(true);
  v1::Frame retry = SendFrame({Msg("orders", "fresh-1")});
  c_->Post(first);
  c_->Post(retry);
  int deduplicated = 0;
  for (int got = 0; got < 2;) {
    auto f = c_->ReadFrame();
    ASSERT_TRUE(f.has_value());
    if (f->type() != v1::RESPONSE) continue;
    ++got;
    ASSERT_EQ(f->status().code(), v1::Status::OK) << f->status().message();
    deduplicated += f->send_response().results(0).deduplicated();
  }
  EXPECT_EQ(deduplicated, 1);
  EXPECT_EQ(Drain("orders"), 1u);
}

TEST_F(DedupTest, DedupHoldsAcrossKill9AndCoversDelayedMessages) {
  StartBroker();
  CreateTopics();
  ASSERT_EQ(Send({Msg("orders", "kept")}).status().code(), v1::Status::OK);
  ASSERT_EQ(Send({Msg("orders", "later", "", 3600000)}).status().code(), v1::Status::OK);
  broker_->Kill9();
  StartBroker();
  EXPECT_TRUE(Send({Msg("orders", "kept")}).send_response().results(0).deduplicated());
  v1::Frame delayed = Send({Msg("orders", "later", "", 3600000)});
  EXPECT_TRUE(delayed.send_response().results(0).deduplicated());
  EXPECT_GT(delayed.send_response().results(0).deliver_at_ms(), 0);
  EXPECT_EQ(Stat("delayed_pending"), 1);
}

TEST_F(DedupTest, AnIdIsStoredAgainAfterTheWindow) {
  StartBroker({"--dedup_window_ms=50"});
  CreateTopics();
  int64_t first = Send({Msg("orders", "w")}).send_response().results(0).store_time_ms();
  // Wait on the broker's clock: other sends until one is stored later than
  // the window.
  int64_t now = first;
  for (int i = 0; now <= first + 50 && i < 100000; ++i) {
    now = Send({Msg("audit", "tick-" + std::to_string(i))}).send_response().results(0)
              .store_time_ms();
  }
  ASSERT_GT(now, first + 50);
  EXPECT_FALSE(Send({Msg("orders", "w")}).send_response().results(0).deduplicated());
  EXPECT_EQ(Drain("orders"), 2u);
}

TEST_F(DedupTest, WindowZeroTurnsDedupOff) {
  StartBroker({"--dedup_window_ms=0"});
  CreateTopics();
  Send({Msg("orders", "same")});
  EXPECT_FALSE(Send({Msg("orders", "same")}).send_response().results(0).deduplicated());
  EXPECT_EQ(Drain("orders"), 2u);
}

TEST_F(DedupTest, LookupByIdAndByKey) {
  StartBroker();
  CreateTopics();
  Send({Msg("orders", "o-1", "customer-7"), Msg("orders", "o-2", "customer-7"),
        Msg("orders", "o-3", "customer-9")});
  Send({Msg("audit", "o-1", "customer-7")});
  v1::Frame get;
  get.mutable_get_message()->set_message_id("o-1");
  v1::Frame byid = Call(get);
  ASSERT_EQ(byid.status().code(), v1::Status::OK);
  EXPECT_EQ(byid.get_message_response().messages_size(), 2);  // in both topics
  get.mutable_get_message()->set_topic("audit");
  byid = Call(get);
  ASSERT_EQ(byid.get_message_response().messages_size(), 1);
  EXPECT_EQ(byid.get_message_response().messages(0).message().topic(), "audit");
  EXPECT_EQ(byid.get_message_response().messages(0).message().body(), "body of o-1");
  get.mutable_get_message()->set_message_id("nope");
  EXPECT_EQ(Call(get).status().code(), v1::Status::NOT_FOUND);

  v1::Frame find;
  find.mutable_find_messages()->set_topic("orders");
  find.mutable_find_messages()->set_key("customer-7");
  v1::Frame bykey = Call(find);
  ASSERT_EQ(bykey.status().code(), v1::Status::OK);
  ASSERT_EQ(bykey.find_messages_response().messages_size(), 2);
  EXPECT_EQ(bykey.find_messages_response().messages(0).message().message_id(), "o-1");
  EXPECT_EQ(bykey.find_messages_response().messages(1).message().message_id(), "o-2");
  find.mutable_find_messages()->set_key("nobody");
  EXPECT_EQ(Call(find).find_messages_response().messages_size(), 0);
  find.mutable_find_messages()->set_topic("missing");
  EXPECT_EQ(Call(find).status().code(), v1::Status::NOT_FOUND);
}

}  // namespace
}  // namespace halfmq::testing
