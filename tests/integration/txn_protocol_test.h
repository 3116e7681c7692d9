// The fixture of the wire-level transaction tests (txn_protocol_test.cc:
// commit, rollback, errors, the state cache; txn_check_test.cc: check-backs,
// their bounds and policies, recovery after kill -9): the test plays the
// producer itself with raw frames, so it controls exactly when checks are
// answered, with what, and when connections go away.
#ifndef HALFMQ_TESTS_INTEGRATION_TXN_PROTOCOL_TEST_H_
#define HALFMQ_TESTS_INTEGRATION_TXN_PROTOCOL_TEST_H_

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "tests/util/broker_process.h"
#include "tests/util/raw_client.h"
#include "tests/util/temp_dir.h"

namespace halfmq::testing {

class TxnProtocolTest : public ::testing::Test {
 protected:
  void StartBroker(std::vector<std::string> extra = {}, const std::string& data = "data") {
    std::vector<std::string> flags = {"--txn_check_delay_ms=100", "--txn_check_backoff_max_ms=200",
                                      "--txn_scan_interval_ms=20"};
    flags.insert(flags.end(), extra.begin(), extra.end());
    broker_ = BrokerProcess::Start(dir_.Sub(data), flags);
    ASSERT_NE(broker_, nullptr);
    admin_ = std::make_unique<RawClient>(broker_->address());
    ASSERT_TRUE(admin_->connected());
  }

  std::unique_ptr<RawClient> Connect() {
    auto c = std::make_unique<RawClient>(broker_->address());
    EXPECT_TRUE(c->connected());
    return c;
  }

  static v1::Frame Call(RawClient* c, v1::Frame f) {
    auto r = c->Call(std::move(f));
    EXPECT_TRUE(r.has_value());
    return r.value_or(v1::Frame());
  }

  void CreateTopic(const std::string& name) {
    v1::Frame f;
    f.mutable_create_topic()->set_name(name);
    f.mutable_create_topic()->set_queues(1);
    ASSERT_EQ(Call(admin_.get(), f).status().code(), v1::Status::OK);
  }

  static v1::Frame HalfFrame(const std::string& txn, const std::string& group,
                             const std::vector<std::pair<std::string, std::string>>& msgs) {
    v1::Frame f;
    auto* h = f.mutable_send_half();
    h->set_txn_id(txn);
    h->set_producer_group(group);
    for (const auto& [topic, id] : msgs) {
      auto* m = h->add_messages();
      m->set_topic(topic);
      m->set_message_id(id);
      m->set_body("body of " + id);
    }
    return f;
  }

  static v1::Frame EndFrame(const std::string& txn, v1::TxnOutcome outcome,
                            bool from_check = false, bool from_operator = false) {
    v1::Frame f;
    auto* e = f.mutable_end_transaction();
    e->set_txn_id(txn);
    e->set_outcome(outcome);
    e->set_from_check(from_check);
    e->set_from_operator(from_operator);
    return f;
  }

  std::vector<std::string> ReceiveIds(const std::string& group, const std::string& topic,
                                      uint32_t wait_ms = 0) {
    v1::Frame f;
    auto* r = f.mutable_receive();
    r->set_group(group);
    r->set_topic(topic);
    r->set_max_messages(100);
    r->set_wait_ms(wait_ms);
    v1::Frame got = Call(admin_.get(), f);
    EXPECT_EQ(got.status().code(), v1::Status::OK) << got.status().message();
    std::vector<std::string> ids;
    v1::Frame ack;
    ack.mutable_ack()->set_group(group);
    for (const auto& m : got.receive_response().messages()) {
      ids.push_back(m.message().message_id());
      ack.mutable_ack()->add_receipt_handles(m.receipt_handle());
    }
    if (!ids.empty()) Call(admin_.get(), ack);
    return ids;
  }

  int64_t Stat(const std::string& name) {
    v1::Frame f;
    f.mutable_get_broker_stats();
    v1::Frame r = Call(admin_.get(), f);
    auto it = r.get_broker_stats_response().counters().find(name);
    return it == r.get_broker_stats_response().counters().end() ? -1 : it->second;
  }

  std::vector<v1::TransactionInfo> List(v1::TxnState state) {
    v1::Frame f;
    f.mutable_list_transactions()->set_state(state);
    v1::Frame r = Call(admin_.get(), f);
    EXPECT_EQ(r.status().code(), v1::Status::OK);
    return {r.list_transactions_response().transactions().begin(),
            r.list_transactions_response().transactions().end()};
  }

  // The kinds of a message's trace events, oldest first (empty if unknown).
  std::vector<v1::TraceKind> TraceKinds(const std::string& message_id,
                                        std::vector<v1::TraceEvent>* events = nullptr) {
    v1::Frame f;
    f.mutable_trace_message()->set_message_id(message_id);
    v1::Frame r = Call(admin_.get(), f);
    std::vector<v1::TraceKind> kinds;
    for (const auto& e : r.trace_message_response().events()) {
      kinds.push_back(e.kind());
      if (events) events->push_back(e);
    }
    return kinds;
  }
  static int Count(const std::vector<v1::TraceKind>& kinds, v1::TraceKind kind) {
    return static_cast<int>(std::count(kinds.begin(), kinds.end(), kind));
  }

  // Reads frames on a producer connection until a CheckTransaction arrives.
  static std::optional<v1::Frame> NextCheck(RawClient* producer) {
    for (;;) {
      auto f = producer->ReadFrame();
      if (!f) return std::nullopt;
      if (f->type() == v1::REQUEST && f->has_check_transaction()) return f;
    }
  }

  // Answers a check the way the client library does: the verdict first (an
  // acknowledged EndTransaction), then the check's own response.
  static void Answer(RawClient* producer, const v1::Frame& check, v1::TxnOutcome outcome) {
    if (outcome != v1::UNKNOWN) {
      v1::Frame end = Call(producer, EndFrame(check.check_transaction().txn_id(), outcome, true));
      EXPECT_EQ(end.status().code(), v1::Status::OK) << end.status().message();
    }
    v1::Frame response;
    response.mutable_check_transaction_response()->set_outcome(outcome);
    ASSERT_TRUE(producer->Reply(check, response));
  }

  static std::unique_ptr<RawClient> Hello(std::unique_ptr<RawClient> c, const std::string& group,
                                          uint32_t max_checks = 0) {
    v1::Frame f;
    f.mutable_hello()->set_client_id("producer");
    f.mutable_hello()->add_producer_groups(group);
    f.mutable_hello()->set_max_outstanding_checks(max_checks);
    EXPECT_EQ(Call(c.get(), f).status().code(), v1::Status::OK);
    return c;
  }

  TempDir dir_;
  std::unique_ptr<BrokerProcess> broker_;
  std::unique_ptr<RawClient> admin_;
};

}  // namespace halfmq::testing

#endif  // HALFMQ_TESTS_INTEGRATION_TXN_PROTOCOL_TEST_H_
