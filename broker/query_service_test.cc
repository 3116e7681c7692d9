#include "broker/query_service.h"

#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "broker/test_util.h"

namespace halfmq::broker {
namespace {

class QueryServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_.Open();
    env_.log.CreateTopic("orders", 2);
    env_.log.CreateTopic("audit", 1);
  }

  static v1::Message Msg(const std::string& topic, const std::string& id,
                         std::vector<std::string> keys = {}) {
    v1::Message m;
    m.set_topic(topic);
    m.set_message_id(id);
    m.set_queue_id(0);
    m.set_body(topic + " body of " + id);
    for (auto& k : keys) m.add_keys(std::move(k));
    return m;
  }
  v1::Frame Get(const std::string& id, const std::string& topic = "") {
    v1::GetMessageRequest r;
    r.set_message_id(id);
    r.set_topic(topic);
    return env_.Query([&](Responder resp) { env_.queries->GetMessage(r, std::move(resp)); });
  }
  v1::Frame Find(const std::string& topic, const std::string& key, uint32_t limit = 0) {
    v1::FindMessagesRequest r;
    r.set_topic(topic);
    r.set_key(key);
    r.set_limit(limit);
    return env_.Query([&](Responder resp) { env_.queries->FindMessages(r, std::move(resp)); });
  }
  v1::Frame Trace(const std::string& id) {
    v1::TraceMessageRequest r;
    r.set_message_id(id);
    return env_.Query([&](Responder resp) { env_.queries->TraceMessage(r, std::move(resp)); });
  }
  // "KIND@time" for each event of a trace.
  static std::vector<std::string> Kinds(const v1::Frame& f) {
    std::vector<std::string> out;
    for (const auto& e : f.trace_message_response().events()) {
      out.push_back(v1::TraceKind_Name(e.kind()) + "@" + std::to_string(e.time_ms()));
    }
    return out;
  }

  test_util::SendQueryEnv env_;
};

TEST_F(QueryServiceTest, GetMessageFindsTheIdInEveryTopicOrInTheNamedOne) {
  env_.SendOne(Msg("orders", "m1"));
  env_.SendOne(Msg("orders", "m10"));
  env_.SendOne(Msg("audit", "m1"));

  v1::Frame all = Get("m1");
  ASSERT_EQ(all.status().code(), v1::Status::OK) << all.status().message();
  ASSERT_EQ(all.get_message_response().messages_size(), 2);
  std::vector<std::string> bodies;
  for (const auto& found : all.get_message_response().messages()) {
    EXPECT_EQ(found.message().message_id(), "m1");
    bodies.push_back(found.message().body());
  }
  EXPECT_NE(std::find(bodies.begin(), bodies.end(), "audit body of m1"), bodies.end());
  EXPECT_NE(std::find(bodies.begin(), bodies.end(), "orders body of m1"), bodies.end());

  v1::Frame one = Get("m1", "audit");
  ASSERT_EQ(one.get_message_response().messages_size(), 1);
  EXPECT_EQ(one.get_message_response().messages(0).message().topic(), "audit");
  EXPECT_EQ(one.get_message_response().messages(0).offset(), 0u);

  EXPECT_EQ(Get("m").status().code(), v1::Status::NOT_FOUND);
  EXPECT_EQ(Get("m1", "nosuch").status().code(), v1::Status::NOT_FOUND);
}

TEST_F(QueryServiceTest, ADelayedMessageIsNotFoundUntilItIsStored) {
  v1::Message m = Msg("orders", "later");
  m.set_deliver_at_ms(4000);
  env_.SendOne(m);
  EXPECT_EQ(Get("later").status().code(), v1::Status::NOT_FOUND);
  env_.log.clock.Set(4000);
  ASSERT_EQ(env_.delays->RunOnce(), 1u);
  v1::Frame f = Get("later");
  ASSERT_EQ(f.get_message_response().messages_size(), 1);
  EXPECT_EQ(f.get_message_response().messages(0).store_time_ms(), 4000);
}

TEST_F(QueryServiceTest, FindMessagesByKeyIsPerTopicOldestFirstAndLimited) {
  env_.SendOne(Msg("orders", "a", {"k"}));
  env_.log.clock.Set(2000);
  env_.SendOne(Msg("orders", "b", {"other", "k"}));
  env_.SendOne(Msg("orders", "c", {"kk"}));
  env_.SendOne(Msg("audit", "d", {"k"}));
  env_.log.clock.Set(3000);
  env_.SendOne(Msg("orders", "e", {"k"}));

  auto ids = [](const v1::Frame& f) {
    EXPECT_EQ(f.status().code(), v1::Status::OK) << f.status().message();
    std::vector<std::string> out;
    for (const auto& m : f.find_messages_response().messages()) {
      out.push_back(m.message().message_id());
    }
    return out;
  };
  EXPECT_EQ(ids(Find("orders", "k")), (std::vector<std::string>{"a", "b", "e"}));
  EXPECT_EQ(ids(Find("orders", "k", 2)), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(ids(Find("audit", "k")), (std::vector<std::string>{"d"}));
  EXPECT_TRUE(ids(Find("orders", "none")).empty());
  EXPECT_EQ(Find("nosuch", "k").status().code(), v1::Status::NOT_FOUND);
}

TEST_F(QueryServiceTest, TraceShowsStoredDelayedTracedAndOpenEventsInTimeOrder) {
  v1::Message m = Msg("orders", "t");
  m.set_deliver_at_ms(2000);
  env_.SendOne(m);
  EXPECT_EQ(Kinds(Trace("t")), (std::vector<std::string>{"TRACE_DELAYED@1000"}));

  env_.log.clock.Set(2000);
  ASSERT_EQ(env_.delays->RunOnce(), 1u);
  // An ack that ends a delivery which began at 2500: the DELIVERED event
  // is stored inside it.
  storage::Batch batch = env_.log.store->NewBatch();
  env_.tracer.Add(&batch, {.message_id = "t",
                           .time_ms = 3000,
                           .kind = v1::TRACE_ACKED,
                           .group = "g",
                           .client = "c1",
                           .attempt = 1,
                           .delivered_ms = 2500});
  ASSERT_TRUE(env_.log.store->CommitAndWait(std::move(batch)).ok());
  // And a delivery still open, as the consume service reports it.
  std::vector<std::string> asked;
  env_.open_deliveries = [&](TopicId t, QueueId q, Offset offset) {
    asked.push_back(std::to_string(t.value()) + "/" + std::to_string(q.value()) + "/" +
                    std::to_string(offset.value()));
    v1::TraceEvent open;
    open.set_time_ms(3500);
    open.set_kind(v1::TRACE_DELIVERED);
    return std::vector<v1::TraceEvent>{open};
  };

  v1::Frame f = Trace("t");
  ASSERT_EQ(f.status().code(), v1::Status::OK) << f.status().message();
  EXPECT_EQ(Kinds(f), (std::vector<std::string>{"TRACE_DELAYED@1000", "TRACE_STORED@2000",
                                                "TRACE_DELIVERED@2500", "TRACE_ACKED@3000",
                                                "TRACE_DELIVERED@3500"}));
  EXPECT_EQ(asked, (std::vector<std::string>{
                       std::to_string(env_.log.topics->Find("orders")->id().value()) + "/0/0"}));
  const auto& events = f.trace_message_response().events();
  EXPECT_EQ(events[1].detail(), "topic orders, queue 0, offset 0");
  EXPECT_EQ(events[2].client(), "c1");
  EXPECT_EQ(events[2].group(), "g");
  EXPECT_EQ(events[2].attempt(), 1u);
}

TEST_F(QueryServiceTest, TraceOfAnUnknownIdIsNotFound) {
  env_.SendOne(Msg("orders", "known"));
  EXPECT_EQ(Trace("unknown").status().code(), v1::Status::NOT_FOUND);
  EXPECT_EQ(Kinds(Trace("known")), (std::vector<std::string>{"TRACE_STORED@1000"}));
}

}  // namespace
}  // namespace halfmq::broker
