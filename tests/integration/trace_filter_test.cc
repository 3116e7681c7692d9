// Message traces and tag filters against a real broker (wire level).
#include <algorithm>
#include <set>

#include <gtest/gtest.h>

#include "tests/util/eventually.h"
#include "tests/util/raw_broker_test.h"

namespace halfmq::testing {
namespace {

class TraceFilterTest : public RawBrokerTest {
 protected:
  void SetUp() override {
    StartBroker();
    v1::Frame hello;
    hello.mutable_hello()->set_client_id("worker-1");
    ASSERT_EQ(Call(hello).status().code(), v1::Status::OK);
    v1::Frame f;
    f.mutable_create_topic()->set_name("events");
    f.mutable_create_topic()->set_queues(1);
    ASSERT_EQ(Call(f).status().code(), v1::Status::OK);
  }
  std::vector<v1::ReceivedMessage> Receive(const std::string& group, const std::string& filter,
                                           uint32_t wait_ms = 0) {
    v1::Frame f;
    auto* r = f.mutable_receive();
    r->set_group(group);
    r->set_topic("events");
    r->set_max_messages(100);
    r->set_wait_ms(wait_ms);
    r->set_tag_filter(filter);
    v1::Frame got = Call(f);
    EXPECT_EQ(got.status().code(), v1::Status::OK) << got.status().message();
    return {got.receive_response().messages().begin(), got.receive_response().messages().end()};
  }
  void Send(const std::string& id, const std::string& tag) {
    v1::Frame f;
    auto* m = f.mutable_send()->add_messages();
    m->set_topic("events");
    m->set_message_id(id);
    m->set_tag(tag);
    ASSERT_EQ(Call(f).status().code(), v1::Status::OK);
  }
  std::vector<v1::TraceEvent> Trace(const std::string& id) {
    v1::Frame f;
    f.mutable_trace_message()->set_message_id(id);
    v1::Frame r = Call(f);
    EXPECT_EQ(r.status().code(), v1::Status::OK) << r.status().message();
    return {r.trace_message_response().events().begin(), r.trace_message_response().events().end()};
  }
  static std::vector<v1::TraceKind> Kinds(const std::vector<v1::TraceEvent>& events) {
    std::vector<v1::TraceKind> kinds;
    for (const auto& e : events) kinds.push_back(e.kind());
    return kinds;
  }

};

TEST_F(TraceFilterTest, TraceShowsEachStep) {
  // A transaction commits; the message is delivered, nacked, delivered
  // again, and acked.
  v1::Frame half;
  half.mutable_send_half()->set_txn_id("t1");
  half.mutable_send_half()->set_producer_group("pg");
  auto* m = half.mutable_send_half()->add_messages();
  m->set_topic("events");
  m->set_message_id("traced");
  ASSERT_EQ(Call(half).status().code(), v1::Status::OK);
  v1::Frame end;
  end.mutable_end_transaction()->set_txn_id("t1");
  end.mutable_end_transaction()->set_outcome(v1::COMMIT);
  ASSERT_EQ(Call(end).status().code(), v1::Status::OK);
  auto got = Receive("g", "");
  ASSERT_EQ(got.size(), 1u);
  v1::Frame nack;
  nack.mutable_nack()->set_group("g");
  nack.mutable_nack()->add_receipt_handles(got[0].receipt_handle());
  nack.mutable_nack()->set_delay_ms(0);
  nack.mutable_nack()->set_reason("db locked");
  ASSERT_EQ(Call(nack).status().code(), v1::Status::OK);
  auto again = Receive("g", "", 10000);
  ASSERT_EQ(again.size(), 1u);
  v1::Frame ack;
  ack.mutable_ack()->set_group("g");
  ack.mutable_ack()->add_receipt_handles(again[0].receipt_handle());
  ASSERT_EQ(Call(ack).status().code(), v1::Status::OK);

  auto events = Trace("traced");
  std::vector<v1::TraceKind> expected = {v1::TRACE_HALF_STORED, v1::TRACE_COMMITTED,
                                         v1::TRACE_STORED,      v1::TRACE_DELIVERED,
                                         v1::TRACE_NACKED,      v1::TRACE_DELIVERED,
                                         v1::TRACE_ACKED};
  // Events of the same millisecond may come in either order; compare as
  // sets of kinds and check the order of the ones that matter.
  auto kinds = Kinds(events);
  std::multiset<int> want(expected.begin(), expected.end()), have(kinds.begin(), kinds.end());
  EXPECT_EQ(want, have);
  std::vector<const v1::TraceEvent*> deliveries;
  for (const auto& e : events) {
    if (e.kind() == v1::TRACE_DELIVERED) deliveries.push_back(&e);
    if (e.kind() == v1::TRACE_NACKED) {
      EXPECT_EQ(e.detail(), "db locked");
    }
    if (e.kind() == v1::TRACE_HALF_STORED) {
      EXPECT_NE(e.detail().find("t1"), std::string::npos);
    }
  }
  ASSERT_EQ(deliveries.size(), 2u);
  EXPECT_EQ(deliveries[0]->group(), "g");
  EXPECT_EQ(deliveries[0]->client(), "worker-1");
  EXPECT_EQ(deliveries[0]->attempt(), 1u);
  EXPECT_EQ(deliveries[1]->attempt(), 2u);
  EXPECT_EQ(events.back().kind(), v1::TRACE_ACKED);

  v1::Frame unknown;
  unknown.mutable_trace_message()->set_message_id("never-sent");
  EXPECT_EQ(Call(unknown).status().code(), v1::Status::NOT_FOUND);
}

TEST_F(TraceFilterTest, AnExpiredDeliveryIsTraced) {
  Send("slow", "");
  v1::Frame f;
  auto* r = f.mutable_receive();
  r->set_group("g");
  r->set_topic("events");
  r->set_max_messages(1);
  r->set_invisible_ms(100);
  ASSERT_EQ(Call(f).receive_response().messages_size(), 1);
  r->set_invisible_ms(60000);
  r->set_wait_ms(30000);  // woken when it becomes visible again
  ASSERT_EQ(Call(f).receive_response().messages_size(), 1);
  auto kinds = Kinds(Trace("slow"));
  std::vector<v1::TraceKind> expected = {v1::TRACE_STORED, v1::TRACE_DELIVERED,
                                         v1::TRACE_EXPIRED, v1::TRACE_DELIVERED};
  EXPECT_EQ(kinds, expected);
}

// A delivery is stored as one event when it ends; while it is open (also
// after a crash) the trace shows it from the in-flight entry. Either way the
// trace has exactly one DELIVERED per delivery, with its client.
TEST_F(TraceFilterTest, AnOpenDeliveryIsTracedBeforeAndAfterItEnds) {
  Send("open", "");
  auto got = Receive("g", "");
  ASSERT_EQ(got.size(), 1u);
  auto count = [](const std::vector<v1::TraceEvent>& events, v1::TraceKind kind) {
    return std::count_if(events.begin(), events.end(),
                         [kind](const v1::TraceEvent& e) { return e.kind() == kind; });
  };
  auto events = Trace("open");
  ASSERT_EQ(count(events, v1::TRACE_DELIVERED), 1) << events.size();
  EXPECT_EQ(events.back().kind(), v1::TRACE_DELIVERED);
  EXPECT_EQ(events.back().client(), "worker-1");
  EXPECT_EQ(events.back().attempt(), 1u);
  int64_t delivered_at = events.back().time_ms();

  broker_->Kill9();
  StartBroker();
  events = Trace("open");
  ASSERT_EQ(count(events, v1::TRACE_DELIVERED), 1);
  EXPECT_EQ(events.back().client(), "worker-1");
  EXPECT_EQ(events.back().time_ms(), delivered_at);

  v1::Frame ack;
  ack.mutable_ack()->set_group("g");
  ack.mutable_ack()->add_receipt_handles(got[0].receipt_handle());
  ASSERT_EQ(Call(ack).status().code(), v1::Status::OK);
  events = Trace("open");
  ASSERT_EQ(Kinds(events), (std::vector<v1::TraceKind>{v1::TRACE_STORED, v1::TRACE_DELIVERED,
                                                      v1::TRACE_ACKED}));
  EXPECT_EQ(events[1].time_ms(), delivered_at);
  EXPECT_EQ(events[1].client(), "worker-1");
  EXPECT_EQ(events[2].delivered_ms(), delivered_at);
  EXPECT_EQ(events[2].client(), "worker-1");
}

// Acked after a nack: the nack ended the delivery, the ack adds no second
// DELIVERED. Nacked on its last attempt: the dead letter ends it.
TEST_F(TraceFilterTest, NackedDeliveriesAreTracedOnce) {
  Send("nacked", "");
  auto got = Receive("g", "");
  ASSERT_EQ(got.size(), 1u);
  v1::Frame nack;
  nack.mutable_nack()->set_group("g");
  nack.mutable_nack()->add_receipt_handles(got[0].receipt_handle());
  nack.mutable_nack()->set_delay_ms(60000);
  ASSERT_EQ(Call(nack).status().code(), v1::Status::OK);
  v1::Frame ack;
  ack.mutable_ack()->set_group("g");
  ack.mutable_ack()->add_receipt_handles(got[0].receipt_handle());
  ASSERT_EQ(Call(ack).status().code(), v1::Status::OK);
  EXPECT_EQ(Kinds(Trace("nacked")),
            (std::vector<v1::TraceKind>{v1::TRACE_STORED, v1::TRACE_DELIVERED, v1::TRACE_NACKED,
                                        v1::TRACE_ACKED}));

  v1::Frame config;
  config.mutable_set_group_config()->set_group("once");
  config.mutable_set_group_config()->mutable_retry_policy()->set_max_attempts(1);
  config.mutable_set_group_config()->mutable_retry_policy()->mutable_fixed()->add_delays_ms(10);
  ASSERT_EQ(Call(config).status().code(), v1::Status::OK);
  Send("last", "");
  std::vector<v1::ReceivedMessage> last;
  for (const auto& m : Receive("once", "")) {
    if (m.message().message_id() == "last") last.push_back(m);
  }
  ASSERT_EQ(last.size(), 1u);
  nack.mutable_nack()->set_group("once");
  nack.mutable_nack()->set_receipt_handles(0, last[0].receipt_handle());
  ASSERT_EQ(Call(nack).status().code(), v1::Status::OK);
  // The dead letter's own copy adds a STORED event at about the same time,
  // so look for the group's events rather than at the last one.
  std::vector<v1::TraceEvent> once;
  ASSERT_TRUE(Eventually([&] {
    once.clear();
    for (const auto& e : Trace("last")) {
      if (e.group() == "once") once.push_back(e);
    }
    return !once.empty() && once.back().kind() == v1::TRACE_DEAD_LETTERED;
  }));
  ASSERT_EQ(Kinds(once), (std::vector<v1::TraceKind>{v1::TRACE_DELIVERED,
                                                    v1::TRACE_DEAD_LETTERED}));
  EXPECT_EQ(once[0].client(), "worker-1");
  EXPECT_EQ(once[1].client(), "worker-1");
  EXPECT_EQ(once[1].delivered_ms(), once[0].time_ms());
}

TEST_F(TraceFilterTest, FilteredRunsDoNotHideALaterMatch) {
  for (int i = 0; i < 300; ++i) Send("noise-" + std::to_string(i), "noise");
  Send("signal", "paid");
  // Far more non-matching messages than one receive reads: it must read on
  // past them rather than answer empty.
  auto got = Receive("billing", "paid", 0);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].message().message_id(), "signal");
}

TEST_F(TraceFilterTest, TagFilterSkipsOtherTagsAndIsKeptAcrossRestart) {
  Send("m-paid", "paid");
  Send("m-refunded", "refunded");
  Send("m-created", "created");
  auto got = Receive("billing", "paid || refunded");
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].message().message_id(), "m-paid");
  EXPECT_EQ(got[1].message().message_id(), "m-refunded");
  // Another group is not affected.
  EXPECT_EQ(Receive("audit", "").size(), 3u);

  broker_->Kill9();
  StartBroker();
  Send("m-paid-2", "paid");
  Send("m-created-2", "created");
  // No filter given: the group's stored filter applies.
  auto later = Receive("billing", "");
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0].message().message_id(), "m-paid-2");
  // "*" lifts it for what comes next.
  Send("m-created-3", "created");
  auto all = Receive("billing", "*");
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].message().message_id(), "m-created-3");
  v1::Frame bad;
  bad.mutable_receive()->set_group("billing");
  bad.mutable_receive()->set_topic("events");
  bad.mutable_receive()->set_max_messages(1);
  bad.mutable_receive()->set_tag_filter(std::string("a\nb"));
  EXPECT_EQ(Call(bad).status().code(), v1::Status::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace halfmq::testing
