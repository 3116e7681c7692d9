#include "storage/delayed_table.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "storage/store.h"
#include "storage/test_util.h"
#include "tests/util/temp_dir.h"

namespace halfmq::storage {
namespace {

class DelayedTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = OpenTestStore(dir_.Sub("db"));
    ASSERT_NE(store_, nullptr);
  }
  static v1::Message Msg(const std::string& id) {
    v1::Message m;
    m.set_topic("orders");
    m.set_message_id(id);
    m.set_body("body of " + id);
    return m;
  }
  void Put(int64_t due_ms, uint64_t unique, const std::string& id) {
    Batch b = store_->NewBatch();
    DelayedTable::Put(&b, {due_ms, unique}, Msg(id));
    ASSERT_TRUE(store_->CommitAndWait(std::move(b)).ok());
  }
  // Ids of the messages due at `now_ms`, in scan order.
  std::vector<std::string> Due(int64_t now_ms) const {
    std::vector<std::string> ids;
    Status s =
        DelayedTable(store_.get()).ScanDue(now_ms, [&](DelayedTable::Slot slot, v1::Message* m) {
          EXPECT_LE(slot.due_ms, now_ms);
          ids.push_back(m != nullptr ? m->message_id() : "<corrupt>");
          return true;
        });
    EXPECT_TRUE(s.ok()) << s;
    return ids;
  }

  halfmq::testing::TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(DelayedTableTest, OnlyDueMessagesAreScannedInDueThenUniqueOrder) {
  Put(3000, 1, "late");
  Put(1000, 9, "b");
  Put(1000, 2, "a");
  Put(2000, 5, "c");
  EXPECT_TRUE(Due(999).empty());
  EXPECT_EQ(Due(1000), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(Due(2999), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(Due(3000), (std::vector<std::string>{"a", "b", "c", "late"}));
  auto count = DelayedTable(store_.get()).Count();
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 4);
}

TEST_F(DelayedTableTest, DeletingTheScannedSlotsRemovesExactlyThose) {
  Put(1000, 1, "a");
  Put(1000, 2, "b");
  Put(4000, 3, "c");
  DelayedTable table(store_.get());
  Batch del = store_->NewBatch();
  ASSERT_TRUE(table
                  .ScanDue(1500,
                           [&](DelayedTable::Slot slot, v1::Message*) {
                             DelayedTable::Delete(&del, slot);
                             return true;
                           })
                  .ok());
  EXPECT_EQ(del.count(), 2u);
  ASSERT_TRUE(store_->CommitAndWait(std::move(del)).ok());
  EXPECT_TRUE(Due(1500).empty());
  EXPECT_EQ(Due(4000), (std::vector<std::string>{"c"}));
  auto earliest = table.EarliestDue();
  ASSERT_TRUE(earliest.ok());
  EXPECT_EQ(*earliest, std::optional<int64_t>(4000));
}

TEST_F(DelayedTableTest, EarliestDueIsEmptyWhenNothingWaitsAndSurvivesReopen) {
  DelayedTable empty(store_.get());
  auto none = empty.EarliestDue();
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  Put(7000, 1, "x");
  Put(6000, 2, "y");
  store_.reset();
  store_ = OpenTestStore(dir_.Sub("db"));
  ASSERT_NE(store_, nullptr);
  auto earliest = DelayedTable(store_.get()).EarliestDue();
  ASSERT_TRUE(earliest.ok());
  EXPECT_EQ(*earliest, std::optional<int64_t>(6000));
  EXPECT_EQ(Due(7000), (std::vector<std::string>{"y", "x"}));
}

TEST_F(DelayedTableTest, ScanStopsWhenAsked) {
  for (uint64_t u = 1; u <= 5; ++u) Put(100, u, "m" + std::to_string(u));
  int seen = 0;
  ASSERT_TRUE(DelayedTable(store_.get())
                  .ScanDue(100, [&](DelayedTable::Slot, v1::Message*) { return ++seen < 3; })
                  .ok());
  EXPECT_EQ(seen, 3);
}

}  // namespace
}  // namespace halfmq::storage
