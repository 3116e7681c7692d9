#include "storage/store.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "rocksdb/db.h"
#include "storage/committer.h"
#include "storage/raw_keyspace_access.h"
#include "storage/test_util.h"
#include "tests/util/eventually.h"
#include "tests/util/temp_dir.h"

namespace halfmq::storage {
namespace {

class StoreTest : public ::testing::TestWithParam<FlushMode> {
 protected:
  std::unique_ptr<Store> OpenStore(std::chrono::microseconds commit_spin = {}) {
    StoreOptions options;
    options.flush = GetParam();
    options.flush_interval = std::chrono::milliseconds(5);
    options.commit_spin = commit_spin;
    return OpenTestStore(dir_.Sub("db"), options);
  }

  static std::string Msg(const std::string& id, int64_t store_ms) {
    v1::StoredMessage m;
    m.set_message_id(id);
    m.set_body("body-" + id);
    m.set_store_time_ms(store_ms);
    return m.SerializeAsString();
  }

  testing::TempDir dir_;
};

TEST_P(StoreTest, TopicsAndSubscriptionsSurviveReopen) {
  {
    auto store = OpenStore();
    Batch b = store->NewBatch();
    v1::TopicRecord t;
    t.set_id(1);
    t.set_name("orders");
    t.set_queues(4);
    b.PutTopic(t);
    v1::SubscriptionRecord s;
    s.set_id(3);
    s.set_group("billing");
    s.set_topic("orders");
    s.set_topic_id(1);
    b.PutSubscription(s);
    EXPECT_TRUE(store->CommitAndWait(std::move(b)).ok());
  }
  auto store = OpenStore();
  std::vector<v1::TopicRecord> topics;
  ASSERT_TRUE(store->LoadTopics(&topics).ok());
  ASSERT_EQ(topics.size(), 1u);
  EXPECT_EQ(topics[0].name(), "orders");
  EXPECT_EQ(topics[0].queues(), 4u);
  std::vector<v1::SubscriptionRecord> subs;
  ASSERT_TRUE(store->LoadSubscriptions(&subs).ok());
  ASSERT_EQ(subs.size(), 1u);
  EXPECT_EQ(subs[0].group(), "billing");
}

TEST_P(StoreTest, MessagesReadBackInOffsetOrderAndQueueEndRecovers) {
  {
    auto store = OpenStore();
    Batch b = store->NewBatch();
    for (int i = 0; i < 10; ++i) {
      b.PutMessage(TopicId(1), QueueId(2), Offset(i), Msg("m" + std::to_string(i), 100 + i));
    }
    // A neighbouring queue must not leak into reads of queue 2.
    b.PutMessage(TopicId(1), QueueId(3), Offset(0), Msg("other", 1));
    EXPECT_TRUE(store->CommitAndWait(std::move(b)).ok());
  }
  auto store = OpenStore();
  auto last = store->LastMessageOffset(TopicId(1), QueueId(2));
  ASSERT_TRUE(last.ok());
  ASSERT_TRUE(last->has_value());
  EXPECT_EQ(**last, Offset(9));
  auto none = store->LastMessageOffset(TopicId(1), QueueId(5));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());

  std::vector<LoggedMessage> out;
  ASSERT_TRUE(
      store->ReadMessages(TopicId(1), QueueId(2), Offset(3), Offset(100), 4, 1 << 20, &out).ok());
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].offset, Offset(3));
  EXPECT_EQ(out[3].message.message_id(), "m6");

  out.clear();
  ASSERT_TRUE(
      store->ReadMessages(TopicId(1), QueueId(2), Offset(8), Offset(100), 10, 1 << 20, &out).ok());
  EXPECT_EQ(out.size(), 2u);
}

TEST_P(StoreTest, DeleteMessagesRemovesRangeAndRecordsLowWatermark) {
  auto store = OpenStore();
  Batch b = store->NewBatch();
  for (int i = 0; i < 10; ++i) b.PutMessage(TopicId(1), QueueId(0), Offset(i), Msg("x", i));
  EXPECT_TRUE(store->CommitAndWait(std::move(b)).ok());

  Batch del = store->NewBatch();
  del.DeleteMessages(TopicId(1), QueueId(0), Offset(0), Offset(6));
  del.PutQueueLow(TopicId(1), QueueId(0), Offset(6));
  EXPECT_TRUE(store->CommitAndWait(std::move(del)).ok());
  ASSERT_TRUE(store->CompactMessages(TopicId(1), QueueId(0), Offset(0), Offset(6)).ok());

  auto gone = store->ReadMessage(TopicId(1), QueueId(0), Offset(5));
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(gone->has_value());
  auto kept = store->ReadMessage(TopicId(1), QueueId(0), Offset(6));
  ASSERT_TRUE(kept.ok());
  EXPECT_TRUE(kept->has_value());
  auto low = store->QueueLow(TopicId(1), QueueId(0));
  ASSERT_TRUE(low.ok());
  EXPECT_EQ(**low, Offset(6));
  std::vector<LoggedMessage> out;
  ASSERT_TRUE(
      store->ReadMessages(TopicId(1), QueueId(0), Offset(0), Offset(10), 100, 1 << 20, &out).ok());
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].offset, Offset(6));
}

// Message bodies live in blob files; retention (range delete + compaction)
// must give their disk space back.
TEST_P(StoreTest, RetentionReclaimsMessageBlobFiles) {
  auto store = OpenStore();
  auto blob_bytes = [this] {
    uintmax_t total = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir_.Sub("db"))) {
      if (e.path().extension() == ".blob") total += e.file_size();
    }
    return total;
  };
  constexpr int kMessages = 4000;
  // Incompressible bodies, so the blob files' size shows them.
  std::string body(1024, '\0');
  uint32_t x = 12345;
  for (char& c : body) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>(x >> 24);
  }
  for (int start = 0; start < kMessages; start += 500) {
    Batch b = store->NewBatch();
    for (int i = start; i < start + 500; ++i) {
      v1::StoredMessage m;
      m.set_message_id("m" + std::to_string(i));
      m.set_body(body + std::to_string(i));
      b.PutMessage(TopicId(1), QueueId(i % 2), Offset(i / 2), m.SerializeAsString());
    }
    EXPECT_TRUE(store->CommitAndWait(std::move(b)).ok());
  }
  // Compacting flushes the memtable: the bodies go to blob files.
  for (uint32_t q = 0; q < 2; ++q) {
    ASSERT_TRUE(store->CompactMessages(TopicId(1), QueueId(q), Offset(0), Offset(kMessages)).ok());
  }
  EXPECT_GT(blob_bytes(), uintmax_t{kMessages} * 512);
  auto read = store->ReadMessage(TopicId(1), QueueId(1), Offset(7));
  ASSERT_TRUE(read.ok());
  ASSERT_TRUE(read->has_value());
  EXPECT_EQ((*read)->body(), body + "15");
  // Retention of everything, queue by queue as RetentionService does.
  for (uint32_t q = 0; q < 2; ++q) {
    Batch del = store->NewBatch();
    del.DeleteMessages(TopicId(1), QueueId(q), Offset(0), Offset(kMessages / 2));
    EXPECT_TRUE(store->CommitAndWait(std::move(del)).ok());
    ASSERT_TRUE(store->CompactMessages(TopicId(1), QueueId(q), Offset(0), Offset(kMessages)).ok());
  }
  EXPECT_TRUE(halfmq::testing::Eventually([&] { return blob_bytes() == 0; }))
      << blob_bytes() << " bytes of blob files left";
}

// The global memtable bound flushes keyspaces whose own (larger) bounds
// would have kept everything in memory.
TEST(StoreMemtableBudgetTest, AllMemtablesStayWithinTheBudget) {
  testing::TempDir dir;
  StoreOptions options = TestStoreOptions(dir.Sub("db"));
  options.memtable_budget_bytes = 1 << 20;  // the messages keyspace alone allows 4 x 64 MiB
  options.message_blob_min_bytes = 0;       // keep bodies in the memtable
  options.idle_flush_after = std::chrono::milliseconds(0);  // only the budget flushes
  auto store = Store::Open(options);
  ASSERT_TRUE(store.ok()) << store.status();
  std::string body(4096, 'm');
  for (int batch = 0; batch < 32; ++batch) {  // 16 MiB in all
    Batch b = (*store)->NewBatch();
    for (int i = 0; i < 128; ++i) {
      int n = batch * 128 + i;
      v1::StoredMessage m;
      m.set_message_id("m" + std::to_string(n));
      m.set_body(body + std::to_string(n));
      b.PutMessage(TopicId(1), QueueId(0), Offset(n), m.SerializeAsString());
    }
    EXPECT_TRUE((*store)->CommitAndWait(std::move(b)).ok());
  }
  // Flushes run in the background; what is left in memory ends up near the
  // budget plus memtable overhead (3.2 MiB in a debug build, 6.3 MiB seen
  // under ASan with other tests running), far below the 16+ MiB that stay
  // without it. RocksDB enforces the budget when it is written to: a write
  // that found the last flush still running triggers none, so small writes
  // go on until it takes effect (as traffic would).
  int nudges = 0;
  EXPECT_TRUE(halfmq::testing::Eventually([&] {
    Batch b = (*store)->NewBatch();
    b.PutMessage(TopicId(1), QueueId(1), Offset(nudges++), "nudge");
    EXPECT_TRUE((*store)->CommitAndWait(std::move(b)).ok());
    return (*store)->stats().memtable_bytes <= uint64_t{8} << 20;
  })) << (*store)->stats().memtable_bytes
      << " bytes in memtables";
  auto read = (*store)->ReadMessage(TopicId(1), QueueId(0), Offset(5));
  ASSERT_TRUE(read.ok());
  ASSERT_TRUE(read->has_value());
}

// Once the writes stop, what they left in the memtables is flushed, once.
TEST(StoreIdleFlushTest, MemtablesAreFlushedWhenWritesStop) {
  testing::TempDir dir;
  StoreOptions options = TestStoreOptions(dir.Sub("db"));
  options.message_blob_min_bytes = 0;
  options.idle_flush_after = std::chrono::milliseconds(50);
  options.idle_flush_min_bytes = 256 << 10;
  auto store = OpenTestStore(dir.Sub("db"), options);
  ASSERT_NE(store, nullptr);
  std::string body(4096, 'm');
  for (int batch = 0; batch < 4; ++batch) {  // 512 KiB
    Batch b = store->NewBatch();
    for (int i = 0; i < 32; ++i) {
      int n = batch * 32 + i;
      v1::StoredMessage m;
      m.set_body(body + std::to_string(n));
      b.PutMessage(TopicId(1), QueueId(0), Offset(n), m.SerializeAsString());
    }
    EXPECT_TRUE(store->CommitAndWait(std::move(b)).ok());
  }
  EXPECT_TRUE(halfmq::testing::Eventually([&] {
    return store->stats().committer.idle_runs == 1 && store->stats().memtable_bytes < uint64_t{256}
                                                                                          << 10;
  })) << store->stats().committer.idle_runs
      << " idle runs, " << store->stats().memtable_bytes << " bytes in memtables";
  auto read = store->ReadMessage(TopicId(1), QueueId(0), Offset(100));
  ASSERT_TRUE(read.ok());
  ASSERT_TRUE(read->has_value());
  EXPECT_EQ((*read)->body(), body + "100");
}

TEST_P(StoreTest, InflightAndCursorsLoadPerSubscription) {
  auto store = OpenStore();
  Batch b = store->NewBatch();
  v1::InflightRecord r;
  r.set_attempt(2);
  r.set_visible_at_ms(1234);
  b.PutInflight(SubscriptionId(1), QueueId(0), Offset(5), r);
  b.PutInflight(SubscriptionId(1), QueueId(1), Offset(7), r);
  b.PutInflight(SubscriptionId(2), QueueId(0), Offset(9), r);
  v1::CursorRecord c;
  c.set_delivered_offset(8);
  b.PutCursor(SubscriptionId(1), QueueId(1), c);
  EXPECT_TRUE(store->CommitAndWait(std::move(b)).ok());
  Batch d = store->NewBatch();
  d.DeleteInflight(SubscriptionId(1), QueueId(0), Offset(5));
  EXPECT_TRUE(store->CommitAndWait(std::move(d)).ok());

  std::vector<std::pair<QueueId, Offset>> seen;
  ASSERT_TRUE(store
                  ->LoadInflight(SubscriptionId(1),
                                 [&](QueueId q, Offset o, const v1::InflightRecord& rec) {
                                   EXPECT_EQ(rec.attempt(), 2u);
                                   seen.emplace_back(q, o);
                                 })
                  .ok());
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].second, Offset(7));
  int cursors = 0;
  ASSERT_TRUE(store
                  ->LoadCursors(SubscriptionId(1),
                                [&](QueueId q, const v1::CursorRecord& rec) {
                                  EXPECT_EQ(q, QueueId(1));
                                  EXPECT_EQ(rec.delivered_offset(), 8u);
                                  ++cursors;
                                })
                  .ok());
  EXPECT_EQ(cursors, 1);
}

// Many threads commit at once; every callback runs exactly once, in
// submission order per thread, and everything is readable afterwards.
TEST_P(StoreTest, ConcurrentCommitsAreGroupedAndAllCompleted) {
  auto store = OpenStore();
  constexpr int kThreads = 8;
  constexpr int kPerThread = 200;
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  std::vector<std::vector<int>> order(kThreads);
  std::mutex order_mu;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<std::future<void>> waits;
      for (int i = 0; i < kPerThread; ++i) {
        auto p = std::make_shared<std::promise<void>>();
        waits.push_back(p->get_future());
        Batch b = store->NewBatch();
        b.PutMessage(TopicId(t + 1), QueueId(0), Offset(i), Msg("m", i));
        store->Commit(std::move(b), [&, p, t, i] {
          {
            std::lock_guard<std::mutex> l(order_mu);
            order[t].push_back(i);
          }
          done.fetch_add(1);
          p->set_value();
        });
      }
      for (auto& w : waits) w.wait();
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(done.load(), kThreads * kPerThread);
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(order[t].size(), static_cast<size_t>(kPerThread));
    for (int i = 0; i < kPerThread; ++i) EXPECT_EQ(order[t][i], i);
    auto last = store->LastMessageOffset(TopicId(t + 1), QueueId(0));
    ASSERT_TRUE(last.ok());
    EXPECT_EQ(**last, Offset(kPerThread - 1));
  }
  auto stats = store->stats();
  EXPECT_EQ(stats.committer.batches, static_cast<uint64_t>(kThreads * kPerThread));
  EXPECT_LE(stats.committer.groups, stats.committer.batches);
  // Spinning is off unless asked for.
  EXPECT_EQ(stats.committer.spins_hit + stats.committer.spins_missed, 0u);
}

TEST_P(StoreTest, BatchesQueuedTogetherAreWrittenAsOneGroupInOrder) {
  auto store = OpenStore();
  // The first batch's callback holds the writer, so the next three queue up
  // and are merged into one write.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> holding;
  Batch first = store->NewBatch();
  RawKeyspaceAccess::Put(&first, Keyspace::kTxn, "Ma", "1");
  store->Commit(std::move(first), [&] {
    holding.set_value();
    released.wait();
  });
  holding.get_future().wait();
  std::vector<std::future<void>> waits;
  auto commit = [&](Batch b) {
    auto p = std::make_shared<std::promise<void>>();
    waits.push_back(p->get_future());
    store->Commit(std::move(b), [p] { p->set_value(); });
  };
  Batch b1 = store->NewBatch();
  RawKeyspaceAccess::Put(&b1, Keyspace::kTxn, "Mb", "2");
  const std::string due("Cg\0k", 4);
  RawKeyspaceAccess::Put(&b1, Keyspace::kTxnDue, due, "");
  for (int i = 0; i < 6; ++i) {
    b1.PutInflight(SubscriptionId(1), QueueId(0), Offset(i), v1::InflightRecord());
  }
  commit(std::move(b1));
  Batch b2 = store->NewBatch();
  RawKeyspaceAccess::Delete(&b2, Keyspace::kTxn, "Ma");
  RawKeyspaceAccess::Put(&b2, Keyspace::kTxn, "Mb", "3");  // overwrites b1's, in the same group
  b2.DeleteInflightRange(SubscriptionId(1), QueueId(0), Offset(1), Offset(4));
  commit(std::move(b2));
  Batch b3 = store->NewBatch();
  RawKeyspaceAccess::Delete(&b3, Keyspace::kTxnDue, due);
  b3.PutMessage(TopicId(1), QueueId(0), Offset(0), Msg("m", 1));
  commit(std::move(b3));
  release.set_value();
  for (auto& w : waits) w.wait();

  EXPECT_GE(store->stats().committer.max_group, 3u);
  EXPECT_FALSE(RawKeyspaceAccess::Get(store.get(), Keyspace::kTxn, "Ma")->has_value());
  EXPECT_EQ(RawKeyspaceAccess::Get(store.get(), Keyspace::kTxn, "Mb")->value_or(""), "3");
  EXPECT_FALSE(RawKeyspaceAccess::Get(store.get(), Keyspace::kTxnDue, due)->has_value());
  std::vector<uint64_t> inflight;
  ASSERT_TRUE(RawKeyspaceAccess::Scan(
                  store.get(), Keyspace::kInflight, keys::InflightPrefix(SubscriptionId(1)),
                  keys::PrefixSuccessor(keys::InflightPrefix(SubscriptionId(1))),
                  [&](std::string_view key, std::string_view) {
                    inflight.push_back(keys::ParseInflightKey(key)->offset.value());
                    return true;
                  })
                  .ok());
  EXPECT_EQ(inflight, (std::vector<uint64_t>{0, 4, 5}));
  auto last = store->LastMessageOffset(TopicId(1), QueueId(0));
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(**last, Offset(0));
}

TEST_P(StoreTest, CommitterSpinFindsABatchSubmittedWhileItSpins) {
  // Deterministic: the batch is submitted from the writer's own spin-start
  // sync point, so the spin finds it whatever the scheduling.
  rocksdb::Options o;
  o.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(o, dir_.Sub("committer"), &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  std::atomic<Committer*> committer{nullptr};
  std::atomic<bool> submitted{false};
  std::promise<void> durable;
  IdleWork hooks;
  hooks.spin_started = [&] {
    if (submitted.exchange(true)) return;
    Committer* c;
    while ((c = committer.load()) == nullptr) std::this_thread::yield();  // constructor returning
    rocksdb::WriteBatch batch;
    ASSERT_TRUE(batch.Put("k", "v").ok());
    c->Submit(std::move(batch), [&] { durable.set_value(); });
  };
  // A spin far longer than any test: only the batch (or Stop) ends it.
  Committer c(db.get(), GetParam(), std::chrono::milliseconds(5), std::chrono::hours(1),
              std::move(hooks));
  committer.store(&c);
  durable.get_future().wait();
  EXPECT_EQ(c.stats().spins_hit, 1u);
  EXPECT_EQ(c.stats().spins_missed, 0u);
  c.Stop();  // does not wait for the next spin to run out
  std::string value;
  EXPECT_TRUE(db->Get(rocksdb::ReadOptions(), "k", &value).ok());
  EXPECT_EQ(value, "v");
}

TEST_P(StoreTest, CommitterSpinThatFindsNothingIsCountedAndSleeps) {
  auto store = OpenStore(std::chrono::milliseconds(1));
  Batch b = store->NewBatch();
  b.PutMessage(TopicId(1), QueueId(0), Offset(0), Msg("m", 0));
  EXPECT_TRUE(store->CommitAndWait(std::move(b)).ok());
  EXPECT_TRUE(testing::Eventually([&] { return store->stats().committer.spins_missed >= 1; }));
}

// The open WAL is preallocated by extending the file (not with
// FALLOC_FL_KEEP_SIZE), so a small append does not change its size: after
// a 1 KiB write the file is already far larger than what was written.
TEST_P(StoreTest, OpenWalFileIsExtendedAhead) {
  auto store = OpenStore();
  Batch b = store->NewBatch();
  b.PutMessage(TopicId(1), QueueId(0), Offset(0), Msg("m", 0));
  EXPECT_TRUE(store->CommitAndWait(std::move(b)).ok());
  uintmax_t largest_wal = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir_.Sub("db"))) {
    if (entry.path().extension() == ".log") {
      largest_wal = std::max(largest_wal, entry.file_size());
    }
  }
  EXPECT_GE(largest_wal, uintmax_t{1} << 20) << "WAL not extended ahead of its writes";
}

TEST(SpinBackoffTest, VainSpinsDoubleTheIdlePeriodsSkippedUpToTheCap) {
  SpinBackoff b;
  EXPECT_TRUE(b.ShouldSpin());
  auto skipped_before_next_spin = [&] {
    int skipped = 0;
    while (!b.ShouldSpin()) ++skipped;
    return skipped;
  };
  std::vector<int> skips;
  for (int i = 0; i < 11; ++i) {
    b.Missed();
    skips.push_back(skipped_before_next_spin());
  }
  EXPECT_EQ(skips, (std::vector<int>{1, 2, 4, 8, 16, 32, 64, 128, 256, 256, 256}));
  // A spin that finds work resets the back-off.
  b.Hit();
  b.Missed();
  EXPECT_EQ(skipped_before_next_spin(), 1);
}

INSTANTIATE_TEST_SUITE_P(FlushModes, StoreTest,
                         ::testing::Values(FlushMode::kSync, FlushMode::kAsync),
                         [](const ::testing::TestParamInfo<FlushMode>& p) {
                           return p.param == FlushMode::kSync ? "Sync" : "Async";
                         });

// The nice value of this process's threads with the given name (-100 if
// there is none).
int NiceOfThread(const std::string& name) {
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string line;
    std::getline(comm, line);
    if (line != name) continue;
    std::ifstream stat(task.path() / "stat");
    std::string all((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    // Fields after the parenthesised name: state is field 3, nice field 19.
    std::istringstream rest(all.substr(all.rfind(')') + 2));
    std::string field;
    for (int i = 3; i <= 19 && rest >> field; ++i) {
    }
    return std::stoi(field);
  }
  return -100;
}

TEST(StoreOpenTest, FlushesAndCompactionsRunAtTheirNiceValue) {
  testing::TempDir dir;
  StoreOptions options;
  auto store = OpenTestStore(dir.Sub("db"), options);
  ASSERT_NE(store, nullptr);
  Batch b = store->NewBatch();
  b.PutMessage(TopicId(1), QueueId(0), Offset(0), "m");
  EXPECT_TRUE(store->CommitAndWait(std::move(b)).ok());
  // Flushes the memtable (a job of the flush pool) and compacts.
  ASSERT_TRUE(store->CompactMessages(TopicId(1), QueueId(0), Offset(0), Offset(1)).ok());
  EXPECT_TRUE(testing::Eventually([&] {
    return NiceOfThread("rocksdb:high") == options.background_nice;
  })) << "flush thread nice "
      << NiceOfThread("rocksdb:high");
  // Nothing else of ours was reniced.
  EXPECT_EQ(NiceOfThread("halfmq-commit"), 0);
}

TEST(StoreOpenTest, SecondOpenOfSameDirectoryFails) {
  testing::TempDir dir;
  StoreOptions options = TestStoreOptions(dir.Sub("db"));
  auto first = Store::Open(options);
  ASSERT_TRUE(first.ok());
  auto second = Store::Open(options);
  EXPECT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kInternal);
}

// A data directory of format 1 keeps half messages and outcomes in `txn` and
// the age and settled indexes in `txn_due`; opening it moves them to their
// own keyspaces (same key bytes) and leaves the rest alone.
TEST(StoreOpenTest, Format1TransactionKeysMoveToTheirOwnKeyspaces) {
  testing::TempDir dir;
  StoreOptions options = TestStoreOptions(dir.Sub("db"));
  const std::string big(4000, 'h');  // stored in a blob file
  {
    auto store = Store::Open(options);
    ASSERT_TRUE(store.ok()) << store.status();
    Batch b = (*store)->NewBatch();
    RawKeyspaceAccess::Put(&b, Keyspace::kTxn, keys::TxnHalfKey("t1", 0), "half");
    RawKeyspaceAccess::Put(&b, Keyspace::kTxn, keys::TxnHalfKey("t1", 1), big);
    RawKeyspaceAccess::Put(&b, Keyspace::kTxn, keys::TxnMetaKey("t1"), "meta");
    RawKeyspaceAccess::Put(&b, Keyspace::kTxn, keys::TxnUnresolvedKey("t2"), "");
    RawKeyspaceAccess::Put(&b, Keyspace::kTxn, keys::TxnOutcomeKey("t0"), "outcome");
    RawKeyspaceAccess::Put(&b, Keyspace::kTxnDue, keys::TxnCheckDueKey("g", 5, "t1"), "");
    RawKeyspaceAccess::Put(&b, Keyspace::kTxnDue, keys::TxnTimeKey(keys::kTxnAgePrefix, 7, "t1"),
                           "");
    RawKeyspaceAccess::Put(&b, Keyspace::kTxnDue,
                           keys::TxnTimeKey(keys::kTxnSettledPrefix, 9, "t0"), "");
    RawKeyspaceAccess::Put(&b, Keyspace::kDefault, "halfmq.format_version", "1");
    EXPECT_TRUE((*store)->CommitAndWait(std::move(b)).ok());
  }
  auto expect = [](Store* store, Keyspace k, const std::string& key,
                   std::optional<std::string> value) {
    auto got = RawKeyspaceAccess::Get(store, k, key);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, value) << KeyspaceName(k) << " " << key;
  };
  for (int open = 0; open < 2; ++open) {  // the second open finds format 2
    auto store = Store::Open(options);
    ASSERT_TRUE(store.ok()) << store.status();
    Store* s = store->get();
    expect(s, Keyspace::kTxnHalf, keys::TxnHalfKey("t1", 0), "half");
    expect(s, Keyspace::kTxnHalf, keys::TxnHalfKey("t1", 1), big);
    expect(s, Keyspace::kTxn, keys::TxnHalfKey("t1", 0), std::nullopt);
    expect(s, Keyspace::kTxn, keys::TxnHalfKey("t1", 1), std::nullopt);
    expect(s, Keyspace::kTxnOutcome, keys::TxnOutcomeKey("t0"), "outcome");
    expect(s, Keyspace::kTxn, keys::TxnOutcomeKey("t0"), std::nullopt);
    expect(s, Keyspace::kTxn, keys::TxnMetaKey("t1"), "meta");
    expect(s, Keyspace::kTxn, keys::TxnUnresolvedKey("t2"), "");
    expect(s, Keyspace::kTxnDue, keys::TxnCheckDueKey("g", 5, "t1"), "");
    expect(s, Keyspace::kTxnAge, keys::TxnTimeKey(keys::kTxnAgePrefix, 7, "t1"), "");
    expect(s, Keyspace::kTxnDue, keys::TxnTimeKey(keys::kTxnAgePrefix, 7, "t1"), std::nullopt);
    expect(s, Keyspace::kTxnSettled, keys::TxnTimeKey(keys::kTxnSettledPrefix, 9, "t0"), "");
    expect(s, Keyspace::kTxnDue, keys::TxnTimeKey(keys::kTxnSettledPrefix, 9, "t0"), std::nullopt);
    expect(s, Keyspace::kDefault, "halfmq.format_version", "2");
  }
}

TEST(StoreOpenTest, UnknownFormatIsRefused) {
  testing::TempDir dir;
  StoreOptions options = TestStoreOptions(dir.Sub("db"));
  {
    auto store = Store::Open(options);
    ASSERT_TRUE(store.ok());
    Batch b = (*store)->NewBatch();
    RawKeyspaceAccess::Put(&b, Keyspace::kDefault, "halfmq.format_version", "99");
    EXPECT_TRUE((*store)->CommitAndWait(std::move(b)).ok());
  }
  auto again = Store::Open(options);
  EXPECT_EQ(again.status().code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace halfmq::storage
