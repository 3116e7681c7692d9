// Transactions through the client library and the CLI, with real producer
// processes that die and real processes that answer checks.
#include <atomic>
#include <future>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "halfmq/halfmq.h"
#include "tests/util/broker_process.h"
#include "tests/util/eventually.h"
#include "tests/util/temp_dir.h"

namespace halfmq::testing {
namespace {

using std::chrono::milliseconds;

// Value of "key":"..." in a one-line JSON object (enough for CLI output).
std::string JsonField(const std::string& line, const std::string& key) {
  std::string pattern = "\"" + key + "\":\"";
  auto start = line.find(pattern);
  if (start == std::string::npos) return "";
  start += pattern.size();
  return line.substr(start, line.find('"', start) - start);
}

class TxnTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = BrokerProcess::Start(dir_.Sub("data"), {"--txn_check_delay_ms=200",
                                                      "--txn_check_backoff_max_ms=400",
                                                      "--txn_scan_interval_ms=20"});
    ASSERT_NE(broker_, nullptr);
    options_.broker = broker_->address();
    admin_ = std::move(Admin::Connect(options_)).value();
    ASSERT_TRUE(admin_->CreateTopic("orders", 2).ok());
    consumer_ = std::move(Consumer::Connect(options_, "billing")).value();
    EXPECT_TRUE(Receive(0).empty());  // subscribes before anything is sent
  }

  // Received message ids, acked.
  std::vector<std::string> Receive(int wait_ms, uint32_t max = 100) {
    ReceiveOptions o;
    o.max_messages = max;
    o.wait = milliseconds(wait_ms);
    auto got = consumer_->Receive("orders", o);
    EXPECT_TRUE(got.ok()) << got.status();
    std::vector<std::string> ids;
    if (!got.ok()) return ids;
    for (const auto& m : *got) {
      ids.push_back(m.message_id);
      EXPECT_TRUE(consumer_->Ack(m).ok());
    }
    return ids;
  }

  int64_t Stat(const std::string& name) {
    auto stats = admin_->GetBrokerStats();
    return stats.ok() ? (*stats)[name] : -1;
  }

  std::vector<std::string> Cli(std::vector<std::string> args) {
    args.insert(args.begin(), {"halfmq", "--broker", broker_->address()});
    return args;
  }

  TempDir dir_;
  std::unique_ptr<BrokerProcess> broker_;
  ClientOptions options_;
  std::unique_ptr<Admin> admin_;
  std::unique_ptr<Consumer> consumer_;
};

TEST_F(TxnTest, CommitRollbackAndCheckBackThroughTheLibrary) {
  // The "local database": what committed, what rolled back; anything else
  // is still in progress, so the checker answers unknown (as a real one
  // must for a local transaction that is still running).
  std::mutex mu;
  std::set<std::string> committed_in_db;
  std::set<std::string> rolled_back_in_db;
  std::promise<void> checked;
  bool signalled = false;
  auto producer = TransactionProducer::Connect(
      options_, "payments", [&](const CheckRequest& c) {
        std::lock_guard<std::mutex> l(mu);
        const std::string& key = c.message().key();
        if (key == "order-3" && !signalled) {
          signalled = true;
          checked.set_value();
        }
        if (committed_in_db.count(key)) return TxnState::kCommit;
        if (rolled_back_in_db.count(key)) return TxnState::kRollback;
        return TxnState::kUnknown;
      });
  ASSERT_TRUE(producer.ok()) << producer.status();

  // Commit: visible, exactly once; a repeated commit returns the same
  // locations and stores nothing new.
  Transaction t1 = (*producer)->Begin();
  auto h1 = t1.Send(Message("orders").Key("order-1").Body("paid"));
  ASSERT_TRUE(h1.ok()) << h1.status();
  EXPECT_TRUE(Receive(0).empty()) << "a half message was delivered";
  {
    std::lock_guard<std::mutex> l(mu);
    committed_in_db.insert("order-1");
  }
  auto r1 = t1.Commit();
  ASSERT_TRUE(r1.ok()) << r1.status();
  ASSERT_EQ(r1->size(), 1u);
  auto again = t1.Commit();
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ((*again)[0].offset, (*r1)[0].offset);
  EXPECT_EQ(Receive(5000), std::vector<std::string>{h1->message_id});
  EXPECT_EQ(Stat("messages_sent"), 1);

  // Rollback: never delivered; committing it afterwards is refused.
  Transaction t2 = (*producer)->Begin();
  auto h2 = t2.Send(Message("orders").Key("order-2").Body("declined"));
  ASSERT_TRUE(h2.ok());
  {
    std::lock_guard<std::mutex> l(mu);
    rolled_back_in_db.insert("order-2");
  }
  ASSERT_TRUE(t2.Rollback().ok());
  Transaction t2b = (*producer)->Begin(t2.id());
  EXPECT_EQ(t2b.Commit().status().code(), StatusCode::kFailedPrecondition);

  // Unknown: the producer "crashes" between its database commit and the
  // end (the handle is dropped); check-back asks, the database says commit.
  std::string lost_id;
  {
    Transaction t3 = (*producer)->Begin();
    auto h3 = t3.Send(Message("orders").Key("order-3").Body("paid"));
    ASSERT_TRUE(h3.ok());
    lost_id = h3->message_id;
    std::lock_guard<std::mutex> l(mu);
    committed_in_db.insert("order-3");
  }
  checked.get_future().wait();
  EXPECT_EQ(Receive(10000), std::vector<std::string>{lost_id});
  EXPECT_TRUE(Receive(0).empty());
  EXPECT_EQ(Stat("messages_sent"), 2) << "rolled back or repeated messages were stored";
  auto open = admin_->ListTransactions();
  ASSERT_TRUE(open.ok());
  EXPECT_TRUE(open->empty());
}

TEST_F(TxnTest, ChecksOfATransactionStillOpenInThisProcessAnswerUnknown) {
  // A checker that would roll back anything: it must not be asked about a
  // transaction whose local work is still running in this process.
  std::atomic<int> asked{0};
  auto producer = TransactionProducer::Connect(options_, "slow-db", [&](const CheckRequest&) {
    ++asked;
    return TxnState::kRollback;
  });
  ASSERT_TRUE(producer.ok());
  Transaction txn = (*producer)->Begin();
  auto half = txn.Send(Message("orders").Key("long-running").Body("x"));
  ASSERT_TRUE(half.ok());
  // Several checks come and are answered unknown while the handle is open.
  int64_t answered = Stat("txn_checks_answered");
  ASSERT_TRUE(Eventually([&] { return Stat("txn_checks_answered") >= answered + 2; }));
  EXPECT_EQ(asked.load(), 0);
  auto committed = txn.Commit();
  ASSERT_TRUE(committed.ok()) << committed.status();
  EXPECT_EQ(Receive(5000), std::vector<std::string>{half->message_id});
}

TEST_F(TxnTest, AsynchronousTransactions) {
  std::atomic<int> asked{0};
  auto producer = TransactionProducer::Connect(options_, "async", [&](const CheckRequest& c) {
    ++asked;
    return c.message().key() == "abandoned" ? TxnState::kCommit : TxnState::kRollback;
  });
  ASSERT_TRUE(producer.ok());
  auto run = [&](const std::string& txn, const std::string& key, std::optional<TxnState> end) {
    std::promise<Result<std::vector<HalfReceipt>>> half;
    (*producer)->SendHalfAsync(txn, {Message("orders").Key(key).Body(key)},
                               [&](Result<std::vector<HalfReceipt>> r) { half.set_value(r); });
    auto h = half.get_future().get();
    EXPECT_TRUE(h.ok()) << h.status();
    if (!end) return h.ok() ? (*h)[0].message_id : std::string();
    std::promise<Result<EndResult>> ended;
    (*producer)->EndAsync(txn, *end, [&](Result<EndResult> r) { ended.set_value(r); });
    auto e = ended.get_future().get();
    EXPECT_TRUE(e.ok()) << e.status();
    return h.ok() ? (*h)[0].message_id : std::string();
  };
  std::string committed = run("async-1", "committed", TxnState::kCommit);
  run("async-2", "rolled-back", TxnState::kRollback);
  std::string abandoned = run("async-3", "abandoned", std::nullopt);
  (*producer)->Abandon("async-3");  // from now on the checker decides
  std::set<std::string> got;
  for (int i = 0; i < 3 && got.size() < 2; ++i) {
    for (const auto& id : Receive(10000)) got.insert(id);
  }
  EXPECT_EQ(got, (std::set<std::string>{committed, abandoned}));
  EXPECT_GE(asked.load(), 1);
}

TEST_F(TxnTest, KilledProducerProcessIsCoveredByAnotherProcessOfTheGroup) {
  // Process A sends a half message and dies before ending it (kill -9 right
  // after it printed the acknowledged half send).
  auto a = ChildProcess::Start(Cli({"send", "orders", "--body", "order-9 paid", "--txn",
                                    "unknown", "--producer-group", "shop",
                                    "--serve-checks-ms", "600000", "--check-answer", "unknown",
                                    "--json"}));
  ASSERT_NE(a, nullptr);
  auto line = a->ReadStdoutLine();
  ASSERT_TRUE(line.has_value());
  std::string txn_id = JsonField(*line, "txn_id");
  std::string message_id = JsonField(*line, "message_id");
  ASSERT_FALSE(txn_id.empty()) << *line;
  EXPECT_EQ(JsonField(*line, "outcome"), "pending");
  a->Kill9();

  // Process B of the same group only serves checks, answering commit.
  auto b = ChildProcess::Start(Cli({"send", "orders", "--lines", "--txn", "unknown",
                                    "--producer-group", "shop", "--serve-checks-ms", "600000",
                                    "--check-answer", "commit"}));
  ASSERT_NE(b, nullptr);
  for (;;) {
    auto err = b->ReadStderrLine();
    ASSERT_TRUE(err.has_value()) << "process B never answered a check";
    if (err->find("check txn=" + txn_id) != std::string::npos) {
      EXPECT_NE(err->find("answered commit"), std::string::npos) << *err;
      break;
    }
  }
  EXPECT_EQ(Receive(10000), std::vector<std::string>{message_id});
  b->Kill9();
}

TEST_F(TxnTest, OperatorListsAndResolvesWithTheCli) {
  auto sent = RunCommand(Cli({"send", "orders", "--body", "held", "--txn", "unknown",
                              "--producer-group", "ops", "--json"}));
  ASSERT_EQ(sent.exit_code, 0) << sent.err;
  std::string txn_id = JsonField(sent.out, "txn_id");
  ASSERT_FALSE(txn_id.empty()) << sent.out;

  auto listed = RunCommand(Cli({"txn", "list", "--state", "pending", "--json"}));
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_NE(listed.out.find("\"txn_id\":\"" + txn_id + "\""), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find("\"producer_group\":\"ops\""), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find("\"state\":\"pending\""), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find("\"topics\":[\"orders\"]"), std::string::npos) << listed.out;

  auto commit = RunCommand(Cli({"txn", "commit", txn_id}));
  ASSERT_EQ(commit.exit_code, 0) << commit.err;
  auto repeat = RunCommand(Cli({"txn", "commit", txn_id}));
  EXPECT_EQ(repeat.exit_code, 0) << repeat.err;
  EXPECT_NE(repeat.out.find("already"), std::string::npos) << repeat.out;
  auto conflict = RunCommand(Cli({"txn", "rollback", txn_id}));
  EXPECT_EQ(conflict.exit_code, 1);
  EXPECT_NE(conflict.err.find("FAILED_PRECONDITION"), std::string::npos) << conflict.err;
  auto unknown = RunCommand(Cli({"txn", "rollback", "no-such-txn"}));
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("NOT_FOUND"), std::string::npos) << unknown.err;
  EXPECT_EQ(Receive(5000).size(), 1u);

  auto rolled = RunCommand(Cli({"send", "orders", "--body", "no", "--txn", "rollback", "--json"}));
  ASSERT_EQ(rolled.exit_code, 0) << rolled.err;
  EXPECT_EQ(JsonField(rolled.out, "outcome"), "rolled_back");
  auto committed = RunCommand(Cli({"send", "orders", "--body", "yes", "--txn", "commit",
                                   "--json"}));
  ASSERT_EQ(committed.exit_code, 0) << committed.err;
  EXPECT_EQ(JsonField(committed.out, "outcome"), "committed");
  EXPECT_EQ(Receive(5000), std::vector<std::string>{JsonField(committed.out, "message_id")});
}

}  // namespace
}  // namespace halfmq::testing
