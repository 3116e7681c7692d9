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
// that both recover from the same WAL the same way.
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "halfmq/halfmq.h"
#include "tests/util/broker_process.h"
#include "tests/util/eventually.h"
#include "tests/util/raw_client.h"
#include "tests/util/temp_dir.h"

namespace halfmq::testing {
namespace {

constexpr size_t kWindow = 64;      // requests in flight on the load connection
constexpr int kDeadlineMs = 60000;  // turns a hang into a failure; never a timing bound

// Body of a message, derived from its id so that any copy can be checked.
// Sizes straddle --message_blob_min_bytes (256), so both the LSM tree and
// blob files are exercised.
std::string BodyOf(const std::string& id, size_t n) {
  return id + ":" + std::string(10 + (n * 37) % 600, static_cast<char>('a' + n % 26));
}

// Where a message is stored, as a SendResult or a delivery says.
struct Location {
  uint32_t queue = 0;
  uint64_t offset = 0;
  bool operator==(const Location& o) const { return queue == o.queue && offset == o.offset; }
  std::string ToString() const { return std::to_string(queue) + "/" + std::to_string(offset); }
};

// Violations found by the checks after a restart, by kind, reported when it
// goes out of scope: a broker that lost state fails with one line per kind
// (a count and the first few cases) rather than thousands of lines.
class Violations {
 public:
  Violations() = default;
  Violations(const Violations&) = delete;
  Violations& operator=(const Violations&) = delete;
  ~Violations() {
    for (const auto& [kind, found] : by_kind_) {
      std::string first;
      for (const auto& d : found.first) first += "\n  " + d;
      ADD_FAILURE() << found.second << " x " << kind << ", e.g.:" << first;
    }
  }

  // Records `detail` as a violation of `kind` unless `ok`.
  void Check(bool ok, const std::string& kind, const std::string& detail) {
    if (ok) return;
    auto& found = by_kind_[kind];
    if (found.first.size() < 5) found.first.push_back(detail);
    ++found.second;
  }

 private:
  std::map<std::string, std::pair<std::vector<std::string>, size_t>> by_kind_;
};

// What a consumer group saw of a topic: every delivery, by message id.
struct Delivered {
  struct Copy {
    Location where;
    std::string body;
    uint32_t attempt = 0;
  };
  std::map<std::string, Copy> by_id;
  // queue -> offsets delivered
  std::map<uint32_t, std::set<uint64_t>> offsets;
};

class CrashLoadTest : public ::testing::TestWithParam<std::string> {
 protected:
  // Check-back is quick (so pending transactions are resolved within the
  // test once a checker is online) and not rate-limited. The load answers
  // its checks UNKNOWN, so however long it runs (sanitizer builds), a
  // transaction must not run out of checks and become unresolved.
  void Start() {
    broker_ = BrokerProcess::Start(
        dir_.Sub("data"),
        {"--storage_memtable=" + GetParam(), "--flush=sync", "--txn_check_delay_ms=300",
         "--txn_check_backoff_max_ms=400", "--txn_scan_interval_ms=20",
         "--txn_check_rate_per_group=100000", "--txn_max_checks=1000"});
    ASSERT_NE(broker_, nullptr);
    admin_ = std::make_unique<RawClient>(broker_->address());
    ASSERT_TRUE(admin_->connected());
  }

  void Restart() {
    broker_.reset();  // already killed; the object only reaped it
    Start();
  }

  v1::Frame Call(v1::Frame f) {
    auto r = admin_->Call(std::move(f));
    EXPECT_TRUE(r.has_value()) << broker_->LogTail();
    return r.value_or(v1::Frame());
  }

  void CreateTopic(const std::string& name, uint32_t queues) {
    v1::Frame f;
    f.mutable_create_topic()->set_name(name);
    f.mutable_create_topic()->set_queues(queues);
    ASSERT_EQ(Call(f).status().code(), v1::Status::OK);
  }

  std::vector<v1::QueueLag> Lag(const std::string& group, const std::string& topic) {
    v1::Frame f;
    f.mutable_get_lag()->set_group(group);
    f.mutable_get_lag()->set_topic(topic);
    v1::Frame r = Call(f);
    EXPECT_EQ(r.status().code(), v1::Status::OK) << r.status().message();
    return {r.get_lag_response().queues().begin(), r.get_lag_response().queues().end()};
  }

  // Pending and unresolved transactions, every page.
  std::map<std::string, v1::TransactionInfo> ListTransactions() {
    std::map<std::string, v1::TransactionInfo> all;
    std::string after;
    for (;;) {
      v1::Frame f;
      f.mutable_list_transactions()->set_start_after(after);
      v1::Frame r = Call(f);
      EXPECT_EQ(r.status().code(), v1::Status::OK) << r.status().message();
      const auto& page = r.list_transactions_response().transactions();
      if (page.empty()) return all;
      for (const auto& t : page) all[t.txn_id()] = t;
      after = page.rbegin()->txn_id();
    }
  }

  // Receives everything the group has not received yet (with a long
  // invisibility, so nothing comes twice unless it is stored twice) until
  // the group's lag shows every queue delivered to its end. Adds to `seen`,
  // failing on an id delivered twice.
  void ReceiveAll(const std::string& group, const std::string& topic, Delivered* seen) {
    Violations bad;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kDeadlineMs);
    for (;;) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "never delivered to the end";
      v1::Frame f;
      auto* r = f.mutable_receive();
      r->set_group(group);
      r->set_topic(topic);
      r->set_max_messages(1024);
      r->set_invisible_ms(600000);
      r->set_wait_ms(100);
      v1::Frame got = Call(f);
      ASSERT_EQ(got.status().code(), v1::Status::OK) << got.status().message();
      for (const auto& m : got.receive_response().messages()) {
        const std::string& id = m.message().message_id();
        Location where{m.queue_id(), m.offset()};
        auto [it, fresh] =
            seen->by_id.emplace(id, Delivered::Copy{where, m.message().body(), m.attempt()});
        bad.Check(fresh, "id stored twice",
                  id + " at " + where.ToString() + " and " + it->second.where.ToString());
        bad.Check(seen->offsets[where.queue].insert(where.offset).second, "offset delivered twice",
                  where.ToString());
      }
      if (got.receive_response().messages_size() > 0) continue;
      bool at_end = true;
      for (const auto& q : Lag(group, topic)) at_end &= q.delivered_offset() == q.end_offset();
      if (at_end) return;
    }
  }

  // Offsets of every queue are dense from 0: exactly one message at each
  // offset below the queue's end, and the group received each of them.
  void ExpectDense(const std::string& group, const std::string& topic, const Delivered& seen) {
    uint64_t total = 0;
    for (const auto& q : Lag(group, topic)) {
      EXPECT_EQ(q.min_offset(), 0u);
      total += q.end_offset();
      auto it = seen.offsets.find(q.queue_id());
      size_t n = it == seen.offsets.end() ? 0 : it->second.size();
      EXPECT_EQ(n, q.end_offset()) << "queue " << q.queue_id();
      if (n > 0) {
        EXPECT_EQ(*it->second.rbegin(), q.end_offset() - 1) << "queue " << q.queue_id();
      }
    }
    EXPECT_EQ(total, seen.by_id.size());
  }

  TempDir dir_;
  std::unique_ptr<BrokerProcess> broker_;
  std::unique_ptr<RawClient> admin_;
};

// Keeps kWindow requests in flight on one raw connection. The caller posts
// requests with a tag and consumes responses one at a time; transaction
// checks the broker sends meanwhile are answered UNKNOWN (the load's
// transactions are still "running" as far as it knows).
class Pipeline {
 public:
  explicit Pipeline(const std::string& address) : c_(address) {}
  bool connected() const { return c_.connected(); }
  size_t inflight() const { return tags_.size(); }

  // False if the request could not be written (the broker is gone); it is
  // then never answered.
  bool Post(v1::Frame request, uint64_t tag) {
    uint64_t id = c_.Post(std::move(request));
    if (id == 0) return false;
    tags_[id] = tag;
    return true;
  }

  // The next response and its request's tag; nullopt once the connection
  // is closed (the broker died).
  std::optional<std::pair<uint64_t, v1::Frame>> Next() {
    for (;;) {
      auto f = c_.ReadFrame(kDeadlineMs);
      if (!f) return std::nullopt;
      if (f->type() == v1::REQUEST) {
        v1::Frame answer;
        answer.mutable_check_transaction_response()->set_outcome(v1::UNKNOWN);
        c_.Reply(*f, std::move(answer));  // may fail once the broker is gone
        continue;
      }
      auto it = tags_.find(f->request_id());
      if (it == tags_.end()) {
        ADD_FAILURE() << "response to an unknown request " << f->request_id();
        continue;
      }
      uint64_t tag = it->second;
      tags_.erase(it);
      return std::make_pair(tag, std::move(*f));
    }
  }

 private:
  RawClient c_;
  std::map<uint64_t, uint64_t> tags_;  // request id -> tag
};

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

INSTANTIATE_TEST_SUITE_P(Memtables, CrashLoadTest, ::testing::Values("halfmq", "rocksdb"));

}  // namespace
}  // namespace halfmq::testing
