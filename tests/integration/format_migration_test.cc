// A broker opening a data directory of storage format 1 (transaction keys
// sharing the `txn` and `txn_due` keyspaces) migrates it and then settles
// the transactions that were pending and remembers the ones that were
// settled, exactly as before.
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "storage/raw_keyspace_access.h"
#include "storage/store.h"
#include "tests/util/broker_process.h"
#include "tests/util/raw_client.h"
#include "tests/util/temp_dir.h"

namespace halfmq::testing {
namespace {

namespace keys = storage::keys;
using storage::Keyspace;

v1::Frame Call(RawClient* c, v1::Frame f) {
  auto r = c->Call(std::move(f));
  EXPECT_TRUE(r.has_value());
  return r.value_or(v1::Frame());
}

v1::Frame Half(const std::string& txn, const std::string& id) {
  v1::Frame f;
  f.mutable_send_half()->set_txn_id(txn);
  f.mutable_send_half()->set_producer_group("pg");
  auto* m = f.mutable_send_half()->add_messages();
  m->set_topic("orders");
  m->set_message_id(id);
  m->set_body(std::string(2000, 'b'));  // large enough for a blob file
  return f;
}

v1::Frame End(const std::string& txn) {
  v1::Frame f;
  f.mutable_end_transaction()->set_txn_id(txn);
  f.mutable_end_transaction()->set_outcome(v1::COMMIT);
  return f;
}

// Moves every key with `prefix` from `from` to `to`: the format 2 layout
// back to format 1.
void MoveBack(storage::Store* store, Keyspace from, char prefix, Keyspace to) {
  std::string begin(1, prefix);
  storage::Batch batch = store->NewBatch();
  int n = 0;
  using storage::RawKeyspaceAccess;
  ASSERT_TRUE(RawKeyspaceAccess::Scan(store, from, begin, keys::PrefixSuccessor(begin),
                                      [&](std::string_view key, std::string_view value) {
                                        RawKeyspaceAccess::Put(&batch, to, key, value);
                                        RawKeyspaceAccess::Delete(&batch, from, key);
                                        ++n;
                                        return true;
                                      })
                  .ok());
  EXPECT_GT(n, 0) << "no '" << prefix << "' keys to move";
  EXPECT_TRUE(store->CommitAndWait(std::move(batch)).ok());
}

TEST(FormatMigrationTest, Format1TransactionsSettleAfterMigration) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  const std::vector<std::string> flags = {"--txn_check_delay_ms=600000",
                                          "--txn_check_backoff_max_ms=600000"};
  {
    auto broker = BrokerProcess::Start(data, flags);
    ASSERT_NE(broker, nullptr);
    RawClient c(broker->address());
    ASSERT_TRUE(c.connected());
    v1::Frame topic;
    topic.mutable_create_topic()->set_name("orders");
    topic.mutable_create_topic()->set_queues(1);
    ASSERT_EQ(Call(&c, topic).status().code(), v1::Status::OK);
    ASSERT_EQ(Call(&c, Half("settled", "m0")).status().code(), v1::Status::OK);
    ASSERT_EQ(Call(&c, End("settled")).status().code(), v1::Status::OK);
    ASSERT_EQ(Call(&c, Half("pending", "m1")).status().code(), v1::Status::OK);
    ASSERT_EQ(broker->Terminate(), 0);
  }
  {
    storage::StoreOptions options;
    options.path = data;
    auto store = storage::Store::Open(options);
    ASSERT_TRUE(store.ok()) << store.status();
    MoveBack(store->get(), Keyspace::kTxnHalf, 'H', Keyspace::kTxn);
    MoveBack(store->get(), Keyspace::kTxnOutcome, 'O', Keyspace::kTxn);
    MoveBack(store->get(), Keyspace::kTxnAge, 'A', Keyspace::kTxnDue);
    MoveBack(store->get(), Keyspace::kTxnSettled, 'X', Keyspace::kTxnDue);
    storage::Batch version = (*store)->NewBatch();
    storage::RawKeyspaceAccess::Put(&version, Keyspace::kDefault, "halfmq.format_version", "1");
    EXPECT_TRUE((*store)->CommitAndWait(std::move(version)).ok());
  }
  auto broker = BrokerProcess::Start(data, flags);
  ASSERT_NE(broker, nullptr);
  EXPECT_NE(broker->LogTail(100000).find("storage format 1 -> 2"), std::string::npos)
      << broker->LogTail();
  RawClient c(broker->address());
  ASSERT_TRUE(c.connected());
  v1::Frame end = Call(&c, End("pending"));
  ASSERT_EQ(end.status().code(), v1::Status::OK) << end.status().message();
  EXPECT_TRUE(end.end_transaction_response().applied());
  end = Call(&c, End("settled"));
  ASSERT_EQ(end.status().code(), v1::Status::OK) << end.status().message();
  EXPECT_FALSE(end.end_transaction_response().applied());  // remembered outcome
  std::set<std::string> got;
  for (int i = 0; i < 3 && got.size() < 2; ++i) {
    v1::Frame receive;
    receive.mutable_receive()->set_group("g");
    receive.mutable_receive()->set_topic("orders");
    receive.mutable_receive()->set_max_messages(10);
    receive.mutable_receive()->set_wait_ms(5000);
    v1::Frame r = Call(&c, receive);
    ASSERT_EQ(r.status().code(), v1::Status::OK);
    for (const auto& m : r.receive_response().messages()) got.insert(m.message().message_id());
  }
  EXPECT_EQ(got, (std::set<std::string>{"m0", "m1"}));
  v1::Frame list;
  list.mutable_list_transactions();
  EXPECT_EQ(Call(&c, list).list_transactions_response().transactions_size(), 0);
}

}  // namespace
}  // namespace halfmq::testing
