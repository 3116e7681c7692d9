#include "storage/txn_table.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "storage/keys.h"
#include "storage/raw_keyspace_access.h"
#include "storage/store.h"
#include "storage/test_util.h"
#include "tests/util/temp_dir.h"

namespace halfmq::storage {
namespace {

using Timed = std::vector<std::pair<int64_t, std::string>>;

class TxnTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = OpenTestStore(dir_.Sub("db"));
    ASSERT_NE(store_, nullptr);
    table_ = std::make_unique<TxnTable>(store_.get());
  }

  void Commit(Batch batch) { ASSERT_TRUE(store_->CommitAndWait(std::move(batch)).ok()); }

  static v1::TxnRecord Record(const std::string& id, v1::TxnState state) {
    v1::TxnRecord r;
    r.set_txn_id(id);
    r.set_producer_group("pg");
    r.set_state(state);
    return r;
  }

  static TxnTable::TimedFn Collect(Timed* out) {
    return [out](const TxnTable::TimedTxn& t) {
      out->emplace_back(t.ms, t.txn.value());
      return true;
    };
  }

  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<TxnTable> table_;
};

TEST_F(TxnTableTest, HalvesAreReadBackInOrderAndDeleted) {
  const TxnId txn("t1");
  Batch b = store_->NewBatch();
  for (uint32_t seq = 0; seq < 3; ++seq) {
    v1::Message m;
    m.set_message_id("m" + std::to_string(seq));
    TxnTable::PutHalf(&b, txn, seq, m.SerializeAsString());
  }
  Commit(std::move(b));
  auto halves = table_->ReadHalves(txn, 3);
  ASSERT_TRUE(halves.ok()) << halves.status();
  ASSERT_EQ(halves->size(), 3);
  EXPECT_EQ((*halves)[2].message_id(), "m2");
  // The record claims one more than there is: an error, not a short list.
  EXPECT_EQ(table_->ReadHalves(txn, 4).status().code(), StatusCode::kInternal);
  Batch del = store_->NewBatch();
  TxnTable::DeleteHalves(&del, txn, 3);
  Commit(std::move(del));
  EXPECT_EQ(table_->ReadHalves(txn, 1).status().code(), StatusCode::kInternal);
  EXPECT_TRUE(table_->ReadHalves(txn, 0).ok());
}

TEST_F(TxnTableTest, RecordsOutcomesAndTheUnresolvedIndex) {
  Batch b = store_->NewBatch();
  TxnTable::PutRecord(&b, Record("a", v1::PENDING));
  TxnTable::PutRecord(&b, Record("b", v1::UNRESOLVED));
  TxnTable::PutUnresolved(&b, TxnId("b"));
  TxnTable::PutRecord(&b, Record("c", v1::PENDING));
  TxnTable::PutUnresolved(&b, TxnId("gone"));  // index entry without a record: skipped
  v1::TxnOutcomeRecord o;
  o.set_txn_id("d");
  o.set_outcome(v1::COMMIT);
  TxnTable::PutOutcome(&b, o);
  TxnTable::PutSettledExpiry(&b, 5000, TxnId("d"));
  Commit(std::move(b));

  auto a = table_->GetRecord(TxnId("a"));
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(a->has_value());
  EXPECT_EQ((*a)->state(), v1::PENDING);
  EXPECT_FALSE(table_->GetRecord(TxnId("d"))->has_value());
  auto d = table_->GetOutcome(TxnId("d"));
  ASSERT_TRUE(d.ok());
  ASSERT_TRUE(d->has_value());
  EXPECT_EQ((*d)->outcome(), v1::COMMIT);

  std::vector<std::string> all;
  auto ids = [&all](const v1::TxnRecord& r) {
    all.push_back(r.txn_id());
    return true;
  };
  ASSERT_TRUE(table_->ScanRecords(TxnId(), ids).ok());
  EXPECT_EQ(all, (std::vector<std::string>{"a", "b", "c"}));
  all.clear();
  ASSERT_TRUE(table_->ScanRecords(TxnId("a"), ids).ok());  // pages after "a"
  EXPECT_EQ(all, (std::vector<std::string>{"b", "c"}));
  all.clear();
  ASSERT_TRUE(table_->ScanUnresolvedRecords(TxnId(), ids).ok());
  EXPECT_EQ(all, (std::vector<std::string>{"b"}));

  Batch del = store_->NewBatch();
  TxnTable::DeleteRecord(&del, TxnId("b"));
  TxnTable::DeleteUnresolved(&del, TxnId("b"));
  TxnTable::ForgetOutcome(&del, 5000, TxnId("d"));
  Commit(std::move(del));
  all.clear();
  ASSERT_TRUE(table_->ScanUnresolvedRecords(TxnId(), ids).ok());
  EXPECT_TRUE(all.empty());
  EXPECT_FALSE(table_->GetOutcome(TxnId("d"))->has_value());
  Timed settled;
  ASSERT_TRUE(table_->ScanSettledByExpiry(Collect(&settled)).ok());
  EXPECT_TRUE(settled.empty());
}

TEST_F(TxnTableTest, CorruptRecordIsAnError) {
  Batch b = store_->NewBatch();
  RawKeyspaceAccess::Put(&b, Keyspace::kTxn, keys::TxnMetaKey("x"), "\xff\xff\xff");
  Commit(std::move(b));
  EXPECT_EQ(table_->GetRecord(TxnId("x")).status().code(), StatusCode::kInternal);
  EXPECT_EQ(table_->ScanRecords(TxnId(), [](const v1::TxnRecord&) { return true; }).code(),
            StatusCode::kInternal);
}

TEST_F(TxnTableTest, DueChecksArePerGroupAndByTime) {
  const ProducerGroup pay("pay"), ship("ship");
  Batch b = store_->NewBatch();
  TxnTable::PutDueCheck(&b, pay, 300, TxnId("p3"));
  TxnTable::PutDueCheck(&b, pay, 100, TxnId("p1"));
  TxnTable::PutDueCheck(&b, pay, 200, TxnId("p2"));
  TxnTable::PutDueCheck(&b, ship, 50, TxnId("s1"));
  // A group whose name extends another's must not be mixed into it.
  TxnTable::PutDueCheck(&b, ProducerGroup("pay2"), 10, TxnId("q1"));
  Commit(std::move(b));

  Timed due;
  ASSERT_TRUE(table_->ScanDueChecks(pay, 0, 200, Collect(&due)).ok());
  EXPECT_EQ(due, (Timed{{100, "p1"}, {200, "p2"}}));
  due.clear();
  ASSERT_TRUE(table_->ScanDueChecks(pay, 150, INT64_MAX, Collect(&due)).ok());
  EXPECT_EQ(due, (Timed{{200, "p2"}, {300, "p3"}}));
  EXPECT_EQ(table_->FirstDueCheck(pay, 101).value(), std::optional<int64_t>(200));
  EXPECT_EQ(table_->FirstDueCheck(pay, 301).value(), std::nullopt);

  std::map<std::string, int64_t> firsts;
  ASSERT_TRUE(table_
                  ->ScanFirstDuePerGroup(
                      [&](const ProducerGroup& g, int64_t ms) { firsts[g.value()] = ms; })
                  .ok());
  EXPECT_EQ(firsts, (std::map<std::string, int64_t>{{"pay", 100}, {"pay2", 10}, {"ship", 50}}));

  Batch del = store_->NewBatch();
  TxnTable::DeleteDueCheck(&del, pay, 100, TxnId("p1"));
  Commit(std::move(del));
  EXPECT_EQ(table_->FirstDueCheck(pay, 0).value(), std::optional<int64_t>(200));
}

TEST_F(TxnTableTest, AgeDeadlinesAndSettledExpiryScanByTime) {
  Batch b = store_->NewBatch();
  TxnTable::PutAgeDeadline(&b, 2000, TxnId("late"));
  TxnTable::PutAgeDeadline(&b, 1000, TxnId("early"));
  TxnTable::PutSettledExpiry(&b, 700, TxnId("s2"));
  TxnTable::PutSettledExpiry(&b, 600, TxnId("s1"));
  Commit(std::move(b));

  Timed age;
  ASSERT_TRUE(table_->ScanAgeDeadlines(1000, Collect(&age)).ok());
  EXPECT_EQ(age, (Timed{{1000, "early"}}));
  age.clear();
  ASSERT_TRUE(table_->ScanAgeDeadlines(INT64_MAX, Collect(&age)).ok());
  EXPECT_EQ(age, (Timed{{1000, "early"}, {2000, "late"}}));
  Batch del = store_->NewBatch();
  TxnTable::DeleteAgeDeadline(&del, 1000, TxnId("early"));
  Commit(std::move(del));
  age.clear();
  ASSERT_TRUE(table_->ScanAgeDeadlines(INT64_MAX, Collect(&age)).ok());
  EXPECT_EQ(age, (Timed{{2000, "late"}}));

  Timed settled;
  ASSERT_TRUE(table_->ScanSettledByExpiry(Collect(&settled)).ok());
  EXPECT_EQ(settled, (Timed{{600, "s1"}, {700, "s2"}}));
}

// The keys are those of docs/storage_format.md: TxnTable changes no byte of
// the format.
TEST_F(TxnTableTest, WritesTheDocumentedKeys) {
  Batch b = store_->NewBatch();
  TxnTable::PutRecord(&b, Record("t", v1::PENDING));
  TxnTable::PutDueCheck(&b, ProducerGroup("g"), 42, TxnId("t"));
  TxnTable::PutAgeDeadline(&b, 43, TxnId("t"));
  TxnTable::PutHalf(&b, TxnId("t"), 1, "h");
  Commit(std::move(b));
  EXPECT_TRUE(
      RawKeyspaceAccess::Get(store_.get(), Keyspace::kTxn, keys::TxnMetaKey("t"))->has_value());
  EXPECT_TRUE(
      RawKeyspaceAccess::Get(store_.get(), Keyspace::kTxnDue, keys::TxnCheckDueKey("g", 42, "t"))
          ->has_value());
  EXPECT_TRUE(RawKeyspaceAccess::Get(store_.get(), Keyspace::kTxnAge,
                                     keys::TxnTimeKey(keys::kTxnAgePrefix, 43, "t"))
                  ->has_value());
  EXPECT_EQ(RawKeyspaceAccess::Get(store_.get(), Keyspace::kTxnHalf, keys::TxnHalfKey("t", 1))
                ->value_or(""),
            "h");
}

}  // namespace
}  // namespace halfmq::storage
