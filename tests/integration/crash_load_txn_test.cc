// Crash safety of transactions under load: kill -9 the broker with 64 half
// sends and transaction ends in flight, restart it, and check every
// acknowledged outcome and every transaction left pending (see
// crash_load_test.cc for the approach; the fixture is in crash_load_test.h).
// Instantiated over both memtables in crash_load_test.cc.
#include "tests/integration/crash_load_test.h"

#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace halfmq::testing {
namespace {

// Transactions: 64 half sends and ends in flight. Transaction i commits
// (i % 3 == 0), rolls back (i % 3 == 1) or is left pending (i % 3 == 2);
// the kill lands once enough commits are acknowledged. After the restart,
// before any producer of the group is online: every acknowledged commit is
// visible where its receipt said; nothing of a rollback or a pending
// transaction is; every transaction left pending is still listed; nothing
// settled is. Then a checker comes online and answers for the pending ones
// (commit for even i, rollback for odd i, and the intended outcome for the
// others): once nothing is listed, exactly the committed transactions are
// visible, each whole.
TEST_P(CrashLoadTest, AcknowledgedTransactionOutcomesSurviveKill9) {
  constexpr size_t kCommitsAcked = 300;
  Start();
  CreateTopic("payments", 4);

  enum class Intent { kCommit, kRollback, kPending };
  auto intent = [](size_t i) {
    return i % 3 == 0 ? Intent::kCommit : i % 3 == 1 ? Intent::kRollback : Intent::kPending;
  };
  // What the producer's "database" says, as a checker reads it.
  auto decided_commit = [&](size_t i) {
    return intent(i) == Intent::kPending ? i % 2 == 0 : intent(i) == Intent::kCommit;
  };
  auto txn_id = [](size_t i) { return "tx-" + std::to_string(i); };
  auto message_count = [](size_t i) { return 1 + (i / 6) % 2; };
  auto message_id = [&](size_t i, size_t j) { return txn_id(i) + "-" + std::to_string(j); };
  auto body = [&](size_t i, size_t j) { return BodyOf(message_id(i, j), i * 2 + j); };

  struct Txn {
    bool half_acked = false;
    bool end_posted = false;
    bool end_acked = false;
    std::vector<Location> committed_at;
  };
  std::vector<Txn> txns;
  size_t commits_acked = 0;
  Pipeline load(broker_->address());
  ASSERT_TRUE(load.connected());
  // Tags: 2i for the half send of transaction i, 2i+1 for its end.
  auto post_half = [&] {
    size_t i = txns.size();
    txns.emplace_back();
    v1::Frame f;
    auto* h = f.mutable_send_half();
    h->set_txn_id(txn_id(i));
    h->set_producer_group("payments");
    h->set_fresh_txn(true);
    for (size_t j = 0; j < message_count(i); ++j) {
      auto* m = h->add_messages();
      m->set_topic("payments");
      m->set_message_id(message_id(i, j));
      m->set_body(body(i, j));
    }
    return load.Post(std::move(f), 2 * i);
  };
  auto on_response = [&](uint64_t tag, const v1::Frame& r) {
    size_t i = tag / 2;
    ASSERT_EQ(r.status().code(), v1::Status::OK) << txn_id(i) << ": " << r.status().message();
    Txn& t = txns[i];
    if (tag % 2 == 0) {
      ASSERT_EQ(static_cast<size_t>(r.send_half_response().message_ids_size()), message_count(i));
      t.half_acked = true;
      if (intent(i) == Intent::kPending) return;
      v1::Frame f;
      f.mutable_end_transaction()->set_txn_id(txn_id(i));
      f.mutable_end_transaction()->set_outcome(intent(i) == Intent::kCommit ? v1::COMMIT
                                                                            : v1::ROLLBACK);
      // Counted as posted even when the broker is already gone: its outcome
      // is then unknown, as for one that was sent and never answered.
      t.end_posted = true;
      load.Post(std::move(f), tag + 1);
      return;
    }
    const auto& e = r.end_transaction_response();
    EXPECT_TRUE(e.applied()) << txn_id(i);
    t.end_acked = true;
    if (intent(i) == Intent::kCommit) {
      EXPECT_EQ(e.outcome(), v1::COMMIT);
      ASSERT_EQ(static_cast<size_t>(e.results_size()), message_count(i));
      for (const auto& result : e.results()) {
        t.committed_at.push_back(Location{result.queue_id(), result.offset()});
      }
      ++commits_acked;
    } else {
      EXPECT_EQ(e.outcome(), v1::ROLLBACK);
    }
  };

  while (load.inflight() < kWindow) ASSERT_TRUE(post_half());
  while (commits_acked < kCommitsAcked) {
    auto r = load.Next();
    ASSERT_TRUE(r.has_value()) << broker_->LogTail();
    ASSERT_NO_FATAL_FAILURE(on_response(r->first, r->second));
    while (load.inflight() < kWindow) ASSERT_TRUE(post_half());
  }
  ASSERT_EQ(load.inflight(), kWindow);
  broker_->Kill9();
  while (auto r = load.Next()) {
    // An end posted now is never sent: the connection is gone.
    ASSERT_NO_FATAL_FAILURE(on_response(r->first, r->second));
  }
  RecordProperty("transactions", static_cast<int>(txns.size()));
  RecordProperty("commits_acked", static_cast<int>(commits_acked));

  Restart();
  // No producer of the group is online: nothing is checked or resolved yet.
  auto listed = ListTransactions();
  size_t still_pending = 0;
  {
    Violations bad;
    for (size_t i = 0; i < txns.size(); ++i) {
      const Txn& t = txns[i];
      auto it = listed.find(txn_id(i));
      if (t.end_acked) {
        bad.Check(it == listed.end(), "settled transaction listed", txn_id(i));
      } else if (t.half_acked && !t.end_posted) {
        ++still_pending;
        bad.Check(it != listed.end(), "pending transaction lost", txn_id(i));
        if (it == listed.end()) continue;
        bad.Check(it->second.state() == v1::PENDING, "pending transaction not pending", txn_id(i));
        bad.Check(it->second.message_count() == message_count(i),
                  "pending transaction lost messages", txn_id(i));
      }
    }
    for (const auto& [id, info] : listed) {
      bad.Check(info.producer_group() == "payments", "wrong group", id);
      bad.Check(static_cast<size_t>(std::stoul(id.substr(3))) < txns.size(), "never sent", id);
    }
  }
  EXPECT_GT(still_pending, 0u);

  Delivered seen;
  ASSERT_NO_FATAL_FAILURE(ReceiveAll("billing", "payments", &seen));
  auto check_visible = [&](bool resolved) {
    Violations bad;
    for (size_t i = 0; i < txns.size(); ++i) {
      const Txn& t = txns[i];
      size_t visible = 0;
      for (size_t j = 0; j < message_count(i); ++j) {
        auto it = seen.by_id.find(message_id(i, j));
        if (it == seen.by_id.end()) continue;
        ++visible;
        bad.Check(it->second.body == body(i, j), "wrong body", message_id(i, j));
        if (t.end_acked && intent(i) == Intent::kCommit) {
          bad.Check(it->second.where == t.committed_at[j], "acknowledged commit moved",
                    message_id(i, j) + " from " + t.committed_at[j].ToString() + " to " +
                        it->second.where.ToString());
        }
      }
      bad.Check(visible == 0 || visible == message_count(i), "transaction partly visible",
                txn_id(i));
      if (t.end_acked && intent(i) == Intent::kCommit) {
        bad.Check(visible == message_count(i), "acknowledged commit lost", txn_id(i));
      }
      if (!decided_commit(i) || (!resolved && intent(i) != Intent::kCommit)) {
        bad.Check(visible == 0,
                  intent(i) == Intent::kRollback ? "rolled back transaction visible"
                                                 : "visible without a commit",
                  txn_id(i));
      }
      if (resolved && t.half_acked && decided_commit(i)) {
        bad.Check(visible == message_count(i), "committed by its check, not visible", txn_id(i));
      }
    }
    for (const auto& [id, copy] : seen.by_id) {
      bad.Check(id.rfind("tx-", 0) == 0, "never sent", id);
    }
  };
  check_visible(false);

  // A producer of the group comes online and answers the checks.
  ClientOptions options;
  options.broker = broker_->address();
  auto checker = TransactionProducer::Connect(options, "payments", [&](const CheckRequest& c) {
    size_t i = std::stoul(c.txn_id.substr(3));
    return decided_commit(i) ? TxnState::kCommit : TxnState::kRollback;
  });
  ASSERT_TRUE(checker.ok()) << checker.status();
  ASSERT_TRUE(Eventually([&] { return ListTransactions().empty(); }, kDeadlineMs))
      << listed.size() << " listed after the restart; " << ListTransactions().size()
      << " still listed";
  ASSERT_NO_FATAL_FAILURE(ReceiveAll("billing", "payments", &seen));
  check_visible(true);
  ExpectDense("billing", "payments", seen);
}

}  // namespace
}  // namespace halfmq::testing
