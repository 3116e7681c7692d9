// Store operations of the retention pass beyond messages.
#include <string>

#include <gtest/gtest.h>

#include "storage/group_table.h"
#include "storage/keys.h"
#include "storage/raw_keyspace_access.h"
#include "storage/store.h"
#include "storage/test_util.h"
#include "tests/util/temp_dir.h"

namespace halfmq::storage {
namespace {

// Writes a dead-letter record the way the consume service stores them.
void PutDeadLetter(Batch* b, const std::string& group, const std::string& id, int64_t at_ms) {
  v1::DeadLetterRecord r;
  r.set_message_id(id);
  r.mutable_info()->set_dead_lettered_ms(at_ms);
  RawKeyspaceAccess::Put(b, Keyspace::kMeta, keys::DeadLetterKey(group, id), r.SerializeAsString());
}

bool HasDeadLetter(const Store& store, const std::string& group, const std::string& id) {
  auto v = RawKeyspaceAccess::Get(&store, Keyspace::kMeta, keys::DeadLetterKey(group, id));
  EXPECT_TRUE(v.ok());
  return v.ok() && v->has_value();
}

TEST(StoreRetentionTest, DeadLettersOlderThanTheCutoffAreDeletedInEveryGroup) {
  halfmq::testing::TempDir dir;
  auto store = OpenTestStore(dir.Sub("db"));
  ASSERT_NE(store, nullptr);
  Batch b = store->NewBatch();
  PutDeadLetter(&b, "billing", "old", 100);
  PutDeadLetter(&b, "billing", "new", 5000);
  PutDeadLetter(&b, "audit", "old", 999);
  PutDeadLetter(&b, "audit", "edge", 1000);
  RawKeyspaceAccess::Put(&b, Keyspace::kMeta, keys::DeadLetterKey("audit", "garbage"), "\xff\xff");
  // A group config ('G') beside the dead letters is not touched.
  RawKeyspaceAccess::Put(&b, Keyspace::kMeta, keys::GroupConfigKey("billing"), "");
  ASSERT_TRUE(store->CommitAndWait(std::move(b)).ok());

  Batch del = store->NewBatch();
  ASSERT_TRUE(GroupTable(store.get()).DeleteDeadLettersBefore(1000, 100, &del).ok());
  EXPECT_EQ(del.count(), 2u);
  ASSERT_TRUE(store->CommitAndWait(std::move(del)).ok());
  EXPECT_FALSE(HasDeadLetter(*store, "billing", "old"));
  EXPECT_FALSE(HasDeadLetter(*store, "audit", "old"));
  EXPECT_TRUE(HasDeadLetter(*store, "billing", "new"));
  EXPECT_TRUE(HasDeadLetter(*store, "audit", "edge"));
  EXPECT_TRUE(HasDeadLetter(*store, "audit", "garbage"));  // unreadable: kept
  auto config =
      RawKeyspaceAccess::Get(store.get(), Keyspace::kMeta, keys::GroupConfigKey("billing"));
  ASSERT_TRUE(config.ok());
  EXPECT_TRUE(config->has_value());
}

TEST(StoreRetentionTest, DeadLetterDeletionStopsAtTheBatchBound) {
  halfmq::testing::TempDir dir;
  auto store = OpenTestStore(dir.Sub("db"));
  ASSERT_NE(store, nullptr);
  Batch b = store->NewBatch();
  for (int i = 0; i < 10; ++i) PutDeadLetter(&b, "g", "m" + std::to_string(i), 1);
  ASSERT_TRUE(store->CommitAndWait(std::move(b)).ok());
  Batch del = store->NewBatch();
  ASSERT_TRUE(GroupTable(store.get()).DeleteDeadLettersBefore(1000, 4, &del).ok());
  EXPECT_EQ(del.count(), 4u);
}

}  // namespace
}  // namespace halfmq::storage
