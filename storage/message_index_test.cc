#include "storage/message_index.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "storage/store.h"
#include "storage/test_util.h"
#include "tests/util/temp_dir.h"

namespace halfmq::storage {
namespace {

class MessageIndexTest : public ::testing::Test {
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
  static v1::IndexRecord Stored(uint32_t queue, uint64_t offset, int64_t store_ms) {
    v1::IndexRecord r;
    r.set_queue_id(queue);
    r.set_offset(offset);
    r.set_store_time_ms(store_ms);
    return r;
  }
  std::vector<std::pair<TopicId, v1::IndexRecord>> Ids(const std::string& id) const {
    std::vector<std::pair<TopicId, v1::IndexRecord>> out;
    Status s = MessageIndex(store_.get()).ScanId(MessageId(id), [&](TopicId t, v1::IndexRecord r) {
      out.emplace_back(t, std::move(r));
      return true;
    });
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }

  halfmq::testing::TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(MessageIndexTest, IdRecordsAreFoundPerTopicAndSurviveReopen) {
  Batch b = store_->NewBatch();
  MessageIndex::PutId(&b, MessageId("m1"), TopicId(7), Stored(2, 40, 1000));
  MessageIndex::PutId(&b, MessageId("m1"), TopicId(3), Stored(0, 5, 1001));
  // An id that extends "m1" must not show up under it.
  MessageIndex::PutId(&b, MessageId("m10"), TopicId(3), Stored(1, 1, 1002));
  ASSERT_TRUE(store_->CommitAndWait(std::move(b)).ok());
  Reopen();

  MessageIndex index(store_.get());
  auto found = index.FindId(MessageId("m1"), TopicId(7));
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->queue_id(), 2u);
  EXPECT_EQ((*found)->offset(), 40u);
  EXPECT_EQ((*found)->store_time_ms(), 1000);
  auto missing = index.FindId(MessageId("m1"), TopicId(8));
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());

  auto all = Ids("m1");
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].first, TopicId(3));  // topic id order
  EXPECT_EQ(all[0].second.offset(), 5u);
  EXPECT_EQ(all[1].first, TopicId(7));
  EXPECT_EQ(Ids("m10").size(), 1u);
  EXPECT_TRUE(Ids("m").empty());
}

TEST_F(MessageIndexTest, ALaterIdRecordReplacesTheDelayedOne) {
  v1::IndexRecord waiting;
  waiting.set_store_time_ms(1000);
  waiting.set_deliver_at_ms(5000);
  Batch b = store_->NewBatch();
  MessageIndex::PutId(&b, MessageId("d"), TopicId(1), waiting);
  ASSERT_TRUE(store_->CommitAndWait(std::move(b)).ok());
  Batch c = store_->NewBatch();
  MessageIndex::PutId(&c, MessageId("d"), TopicId(1), Stored(0, 9, 5000));
  ASSERT_TRUE(store_->CommitAndWait(std::move(c)).ok());
  auto all = Ids("d");
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].second.deliver_at_ms(), 0);
  EXPECT_EQ(all[0].second.offset(), 9u);
}

TEST_F(MessageIndexTest, ScanIdStopsWhenAsked) {
  Batch b = store_->NewBatch();
  for (uint32_t t = 1; t <= 5; ++t) {
    MessageIndex::PutId(&b, MessageId("x"), TopicId(t), Stored(0, t, 1));
  }
  ASSERT_TRUE(store_->CommitAndWait(std::move(b)).ok());
  int seen = 0;
  ASSERT_TRUE(MessageIndex(store_.get())
                  .ScanId(MessageId("x"), [&](TopicId, v1::IndexRecord) { return ++seen < 2; })
                  .ok());
  EXPECT_EQ(seen, 2);
}

TEST_F(MessageIndexTest, KeyLookupIsPerTopicAndKeyOldestFirst) {
  Batch b = store_->NewBatch();
  MessageIndex::PutKey(&b, TopicId(1), "order-9", {3000, QueueId(1), Offset(12)});
  MessageIndex::PutKey(&b, TopicId(1), "order-9", {1000, QueueId(0), Offset(4)});
  MessageIndex::PutKey(&b, TopicId(1), "order-99", {2000, QueueId(0), Offset(5)});
  MessageIndex::PutKey(&b, TopicId(2), "order-9", {2000, QueueId(0), Offset(6)});
  ASSERT_TRUE(store_->CommitAndWait(std::move(b)).ok());
  std::vector<KeyedMessage> hits;
  ASSERT_TRUE(MessageIndex(store_.get())
                  .ScanKey(TopicId(1), "order-9",
                           [&](const KeyedMessage& m) {
                             hits.push_back(m);
                             return true;
                           })
                  .ok());
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].store_ms, 1000);
  EXPECT_EQ(hits[0].queue, QueueId(0));
  EXPECT_EQ(hits[0].offset, Offset(4));
  EXPECT_EQ(hits[1].store_ms, 3000);
  EXPECT_EQ(hits[1].queue, QueueId(1));
  EXPECT_EQ(hits[1].offset, Offset(12));
}

TEST_F(MessageIndexTest, TracesComeBackInTimeThenSequenceOrder) {
  auto event = [](v1::TraceKind kind, const std::string& detail) {
    v1::TraceEvent e;
    e.set_kind(kind);
    e.set_detail(detail);
    return e;
  };
  Batch b = store_->NewBatch();
  MessageIndex::PutTrace(&b, MessageId("t"), 2000, 1, event(v1::TRACE_ACKED, "acked"));
  MessageIndex::PutTrace(&b, MessageId("t"), 1000, 7, event(v1::TRACE_NACKED, "second"));
  MessageIndex::PutTrace(&b, MessageId("t"), 1000, 3, event(v1::TRACE_NACKED, "first"));
  MessageIndex::PutTrace(&b, MessageId("t2"), 500, 0, event(v1::TRACE_ACKED, "other id"));
  // Trace events share the keyspace with the id index: neither shows in the
  // other's scan.
  MessageIndex::PutId(&b, MessageId("t"), TopicId(1), Stored(0, 0, 900));
  ASSERT_TRUE(store_->CommitAndWait(std::move(b)).ok());
  std::vector<std::string> details;
  ASSERT_TRUE(MessageIndex(store_.get())
                  .ScanTraces(MessageId("t"),
                              [&](v1::TraceEvent e) {
                                details.push_back(e.detail());
                                return true;
                              })
                  .ok());
  EXPECT_EQ(details, (std::vector<std::string>{"first", "second", "acked"}));
  EXPECT_EQ(Ids("t").size(), 1u);
}

}  // namespace
}  // namespace halfmq::storage
