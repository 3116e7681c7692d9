#include "storage/group_table.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "storage/group_table_testing.h"
#include "storage/test_util.h"
#include "tests/util/temp_dir.h"

namespace halfmq::storage {
namespace {

v1::DeadLetterRecord DeadLetter(const std::string& id, int64_t dead_lettered_ms = 1) {
  v1::DeadLetterRecord r;
  r.set_message_id(id);
  r.mutable_info()->set_dead_lettered_ms(dead_lettered_ms);
  r.set_dead_letter_topic("%DLQ.g");
  return r;
}

class GroupTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = OpenTestStore(dir_.Sub("db"));
    ASSERT_NE(store_, nullptr);
  }
  void Reopen() {
    store_.reset();
    store_ = OpenTestStore(dir_.Sub("db"));
    ASSERT_NE(store_, nullptr);
  }
  // Message ids of the group's records after `start_after`, at most `limit`.
  std::vector<std::string> Ids(const std::string& group, const std::string& start_after = "",
                               size_t limit = 100) {
    std::vector<std::string> ids;
    GroupTable table(store_.get());
    Status s = table.ScanDeadLetters(ConsumerGroup(group), MessageId(start_after),
                                     [&](v1::DeadLetterRecord r) {
                                       ids.push_back(r.message_id());
                                       return ids.size() < limit;
                                     });
    EXPECT_TRUE(s.ok()) << s;
    return ids;
  }
  void PutDeadLetters(const std::string& group, const std::vector<std::string>& ids) {
    GroupTable table(store_.get());
    Batch b = store_->NewBatch();
    for (const auto& id : ids) {
      table.PutDeadLetter(&b, ConsumerGroup(group), MessageId(id), DeadLetter(id));
    }
    ASSERT_TRUE(store_->CommitAndWait(std::move(b)).ok());
  }

  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(GroupTableTest, ConfigsSurviveReopenAndLatestWins) {
  {
    GroupTable table(store_.get());
    Batch b = store_->NewBatch();
    for (const char* group : {"billing", "audit"}) {
      v1::GroupConfigRecord r;
      r.set_group(group);
      r.mutable_retry_policy()->set_max_attempts(3);
      table.PutConfig(&b, r);
    }
    ASSERT_TRUE(store_->CommitAndWait(std::move(b)).ok());
    Batch b2 = store_->NewBatch();
    v1::GroupConfigRecord r;
    r.set_group("billing");
    r.mutable_retry_policy()->set_max_attempts(7);
    table.PutConfig(&b2, r);
    ASSERT_TRUE(store_->CommitAndWait(std::move(b2)).ok());
  }
  Reopen();
  std::vector<std::pair<std::string, uint32_t>> loaded;
  ASSERT_TRUE(GroupTable(store_.get())
                  .LoadConfigs([&](v1::GroupConfigRecord r) {
                    loaded.emplace_back(r.group(), r.retry_policy().max_attempts());
                  })
                  .ok());
  EXPECT_EQ(loaded, (std::vector<std::pair<std::string, uint32_t>>{{"audit", 3}, {"billing", 7}}));
}

TEST_F(GroupTableTest, DeadLetterGetPutDelete) {
  GroupTable table(store_.get());
  auto missing = table.GetDeadLetter(ConsumerGroup("g"), MessageId("m1"));
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());

  PutDeadLetters("g", {"m1"});
  auto got = table.GetDeadLetter(ConsumerGroup("g"), MessageId("m1"));
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->dead_letter_topic(), "%DLQ.g");
  // Another group's record of the same id is a different record.
  EXPECT_FALSE(table.GetDeadLetter(ConsumerGroup("h"), MessageId("m1"))->has_value());

  Batch b = store_->NewBatch();
  table.DeleteDeadLetter(&b, ConsumerGroup("g"), MessageId("m1"));
  ASSERT_TRUE(store_->CommitAndWait(std::move(b)).ok());
  EXPECT_FALSE(table.GetDeadLetter(ConsumerGroup("g"), MessageId("m1"))->has_value());
}

TEST_F(GroupTableTest, ScanIsOneGroupInIdOrderFromAPosition) {
  PutDeadLetters("g", {"m3", "m1", "m2"});
  // "g" is a prefix of "g2": its records must not show up in g's scan.
  PutDeadLetters("g2", {"m0"});
  PutDeadLetters("f", {"m9"});
  EXPECT_EQ(Ids("g"), (std::vector<std::string>{"m1", "m2", "m3"}));
  EXPECT_EQ(Ids("g", "m1"), (std::vector<std::string>{"m2", "m3"}));
  EXPECT_EQ(Ids("g", "m3"), std::vector<std::string>{});
  EXPECT_EQ(Ids("g", "", 2), (std::vector<std::string>{"m1", "m2"}));
  EXPECT_EQ(Ids("g2"), std::vector<std::string>{"m0"});
}

TEST_F(GroupTableTest, ScanReportsACorruptRecord) {
  PutDeadLetters("g", {"m1"});
  ASSERT_TRUE(PutCorruptDeadLetterForTest(store_.get(), ConsumerGroup("g"), MessageId("m2")).ok());
  GroupTable table(store_.get());
  std::vector<std::string> ids;
  Status s = table.ScanDeadLetters(ConsumerGroup("g"), MessageId(), [&](v1::DeadLetterRecord r) {
    ids.push_back(r.message_id());
    return true;
  });
  EXPECT_EQ(s.code(), StatusCode::kInternal) << s;
  EXPECT_EQ(ids, std::vector<std::string>{"m1"});
  EXPECT_EQ(table.GetDeadLetter(ConsumerGroup("g"), MessageId("m2")).status().code(),
            StatusCode::kInternal);
}

TEST_F(GroupTableTest, ScanAllNamesEachRecordsGroup) {
  PutDeadLetters("g", {"m1", "m2"});
  PutDeadLetters("h", {"m1"});
  std::vector<std::string> seen;
  ASSERT_TRUE(GroupTable(store_.get())
                  .ScanAllDeadLetters([&](const ConsumerGroup& group,
                                          const v1::DeadLetterRecord& r) {
                    seen.push_back(group.value() + "/" + r.message_id());
                    return true;
                  })
                  .ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"g/m1", "g/m2", "h/m1"}));
}

TEST_F(GroupTableTest, ReadInflightReadsOneRecord) {
  Batch b = store_->NewBatch();
  v1::InflightRecord r;
  r.set_attempt(3);
  r.set_last_reason("boom");
  b.PutInflight(SubscriptionId(4), QueueId(1), Offset(17), r);
  ASSERT_TRUE(store_->CommitAndWait(std::move(b)).ok());
  auto got = store_->ReadInflight(SubscriptionId(4), QueueId(1), Offset(17));
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->attempt(), 3u);
  EXPECT_EQ((*got)->last_reason(), "boom");
  EXPECT_FALSE(store_->ReadInflight(SubscriptionId(4), QueueId(1), Offset(18))->has_value());
  EXPECT_FALSE(store_->ReadInflight(SubscriptionId(5), QueueId(1), Offset(17))->has_value());
}

}  // namespace
}  // namespace halfmq::storage
