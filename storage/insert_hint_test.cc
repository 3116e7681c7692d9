#include "storage/insert_hint.h"

#include <map>
#include <random>

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include "storage/raw_keyspace_access.h"
#include "storage/store.h"
#include "storage/test_util.h"
#include "tests/util/temp_dir.h"

namespace halfmq::storage {
namespace {

std::shared_ptr<const rocksdb::SliceTransform> InsertHintPrefix(Keyspace k) {
  InsertHints hints;
  hints.Enable();
  return hints.For(k);
}

std::string Prefix(Keyspace k, const std::string& key) {
  auto t = InsertHintPrefix(k);
  if (t == nullptr) return "<none>";
  EXPECT_TRUE(t->InDomain(key));
  return t->Transform(key).ToString();
}

TEST(InsertHintTest, PrefixNamesTheKeyStream) {
  std::string due = keys::TxnCheckDueKey("payments", 1234, "txn-1");
  EXPECT_EQ(Prefix(Keyspace::kTxnDue, due), std::string("Cpayments\0", 10));
  EXPECT_EQ(Prefix(Keyspace::kTxn, keys::TxnMetaKey("0190a1b2c3d4ffff")), "M");
  EXPECT_EQ(Prefix(Keyspace::kIndex, keys::IdIndexKey("0190a1", TopicId(1))), "I");
  // Trace events land all over the index keyspace: no hint.
  EXPECT_FALSE(InsertHintPrefix(Keyspace::kIndex)->InDomain(keys::TraceKey("0190a1", 5, 1)));
  EXPECT_EQ(Prefix(Keyspace::kCursors, keys::CursorKey(SubscriptionId(3), QueueId(2))),
            keys::CursorKey(SubscriptionId(3), QueueId(2)));
  // Short and unterminated keys are their own prefix.
  EXPECT_EQ(Prefix(Keyspace::kTxnDue, "C"), "C");
  EXPECT_EQ(Prefix(Keyspace::kTxnDue, "Cgroup"), "Cgroup");
  EXPECT_EQ(Prefix(Keyspace::kTxn, ""), "");
}

TEST(InsertHintTest, WhichKeyspacesHaveHints) {
  for (Keyspace k : {Keyspace::kDefault, Keyspace::kMeta, Keyspace::kDelayed}) {
    EXPECT_FALSE(HasInsertHints(k)) << KeyspaceName(k);
    EXPECT_EQ(InsertHintPrefix(k), nullptr) << KeyspaceName(k);
  }
  for (Keyspace k : {Keyspace::kMessages, Keyspace::kInflight, Keyspace::kCursors, Keyspace::kTxn,
                     Keyspace::kTxnDue, Keyspace::kIndex, Keyspace::kTxnHalf, Keyspace::kTxnOutcome,
                     Keyspace::kTxnAge, Keyspace::kTxnSettled}) {
    EXPECT_TRUE(HasInsertHints(k)) << KeyspaceName(k);
    EXPECT_NE(InsertHintPrefix(k), nullptr) << KeyspaceName(k);
  }
}

// Recovery at open replays range deletes written by older versions, which
// began at point keys: until the store enables them, no key gets a hint.
TEST(InsertHintTest, NoKeyIsInTheDomainUntilEnabled) {
  InsertHints hints;
  std::string message = keys::MessageKey(TopicId(1), QueueId(0), Offset(5));
  EXPECT_FALSE(hints.For(Keyspace::kMessages)->InDomain(message));
  EXPECT_FALSE(hints.For(Keyspace::kTxn)->InDomain(keys::TxnMetaKey("t")));
  hints.Enable();
  EXPECT_TRUE(hints.For(Keyspace::kMessages)->InDomain(message));
  EXPECT_TRUE(hints.For(Keyspace::kTxn)->InDomain(keys::TxnMetaKey("t")));
}

// A data directory from before range deletes began outside the hint domain:
// its WAL holds a range delete that begins at a point key, among point
// writes to the same queue. Opening the store replays it without hints (with
// them, RocksDB 7.8's range-tombstone skip list is corrupted and its
// assertions abort), and the store then works with hints on.
TEST(InsertHintTest, WalFromBeforeIsRecoveredWithoutHints) {
  testing::TempDir dir;
  const std::string path = dir.Sub("db");
  ASSERT_NE(OpenTestStore(path), nullptr);  // creates the keyspaces
  std::map<std::string, std::string> model;
  {
    rocksdb::DBOptions db_options;
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (int i = 0; i < kNumKeyspaces; ++i) {
      descriptors.emplace_back(KeyspaceName(static_cast<Keyspace>(i)),
                               rocksdb::ColumnFamilyOptions());
    }
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(db_options, path, descriptors, &handles, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    rocksdb::ColumnFamilyHandle* inflight = handles[static_cast<int>(Keyspace::kInflight)];
    rocksdb::WriteBatch batch;
    for (int i = 0; i < 200; ++i) {
      std::string key = keys::InflightKey(SubscriptionId(1), QueueId(i % 2), Offset(i));
      ASSERT_TRUE(batch.Put(inflight, key, "v").ok());
      model[key] = "v";
      if (i % 50 == 49) {
        std::string from = keys::InflightKey(SubscriptionId(1), QueueId(i % 2), Offset(i - 40));
        std::string to = keys::InflightKey(SubscriptionId(1), QueueId(i % 2), Offset(i - 10));
        ASSERT_TRUE(batch.DeleteRange(inflight, from, to).ok());
        model.erase(model.lower_bound(from), model.lower_bound(to));
      }
    }
    rocksdb::WriteOptions wo;
    wo.sync = true;
    ASSERT_TRUE(db->Write(wo, &batch).ok());
    for (auto* h : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
  }
  std::unique_ptr<Store> store = OpenTestStore(path);
  ASSERT_NE(store, nullptr);
  Batch b = store->NewBatch();
  for (int i = 200; i < 300; ++i) {
    std::string key = keys::InflightKey(SubscriptionId(1), QueueId(i % 2), Offset(i));
    b.PutInflight(SubscriptionId(1), QueueId(i % 2), Offset(i), v1::InflightRecord());
    model[key] = "";
  }
  b.DeleteInflightRange(SubscriptionId(1), QueueId(0), Offset(150), Offset(250));
  model.erase(model.lower_bound(keys::InflightKey(SubscriptionId(1), QueueId(0), Offset(150))),
              model.lower_bound(keys::InflightKey(SubscriptionId(1), QueueId(0), Offset(250))));
  EXPECT_TRUE(store->CommitAndWait(std::move(b)).ok());
  std::map<std::string, std::string> seen;
  ASSERT_TRUE(RawKeyspaceAccess::Scan(store.get(), Keyspace::kInflight, "", "\xff",
                                      [&](std::string_view key, std::string_view value) {
                                        seen.emplace(std::string(key), std::string(value));
                                        return true;
                                      })
                  .ok());
  EXPECT_EQ(seen, model);
}

// Range deletes in the queue keyspaces begin at keys no point key equals,
// which the hints leave alone, and delete exactly the offsets asked for.
TEST(InsertHintTest, RangeDeletesBeginOutsideTheHintDomain) {
  auto hint = InsertHintPrefix(Keyspace::kMessages);
  std::string k0 = keys::MessageKey(TopicId(3), QueueId(1), Offset(0));
  std::string k7 = keys::MessageKey(TopicId(3), QueueId(1), Offset(7));
  EXPECT_TRUE(hint->InDomain(k7));
  EXPECT_EQ(hint->Transform(k7).ToString(), k7.substr(0, 8));
  for (const std::string& first : {k0, k7}) {
    std::string begin = keys::OffsetRangeBegin(first);
    EXPECT_FALSE(hint->InDomain(begin));
    EXPECT_LE(begin, first);
  }
  EXPECT_GT(keys::OffsetRangeBegin(k7), keys::MessageKey(TopicId(3), QueueId(1), Offset(6)));
  EXPECT_GT(keys::OffsetRangeBegin(k0),
            keys::MessageKey(TopicId(3), QueueId(0), Offset(UINT64_MAX)));
  EXPECT_FALSE(InsertHintPrefix(Keyspace::kInflight)
                   ->InDomain(keys::OffsetRangeBegin(
                       keys::InflightKey(SubscriptionId(2), QueueId(0), Offset(9)))));
}

TEST(InsertHintDeathTest, RangeDeleteInAHintedKeyspaceIsFatal) {
  // The store's threads are running: re-execute rather than fork from here.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  testing::TempDir dir;
  auto store = OpenTestStore(dir.Sub("db"));
  ASSERT_NE(store, nullptr);
  Batch b = store->NewBatch();
  EXPECT_DEATH(RawKeyspaceAccess::DeleteRange(&b, Keyspace::kTxn, "M0", "M9"), "insert with hints");
}

// What the hints are for: several streams of nearly ordered keys, puts and
// deletes interleaved, in every hinted keyspace, with range deletes among
// the in-flight entries and the messages. The memtables (and those the WAL
// is recovered into) must read back exactly what a plain map holds.
// Debian's RocksDB keeps its assertions, so a corrupted skip list also aborts
// here (as it did when range deletes began at point keys).
TEST(InsertHintTest, InterleavedStreamsReadBackExactly) {
  testing::TempDir dir;
  std::unique_ptr<Store> store;
  auto open = [&] {
    store.reset();
    store = OpenTestStore(dir.Sub("db"));
    ASSERT_NE(store, nullptr);
  };
  open();
  const std::vector<Keyspace> spaces = {
      Keyspace::kTxn,        Keyspace::kTxnDue,  Keyspace::kTxnHalf,
      Keyspace::kTxnOutcome, Keyspace::kTxnAge,  Keyspace::kIndex,
      Keyspace::kInflight,   Keyspace::kCursors, Keyspace::kMessages};
  std::map<Keyspace, std::map<std::string, std::string>> model;
  std::mt19937 rng(7);
  const char* groups[] = {"a", "bb", "ccc"};
  for (int round = 0; round < 200; ++round) {
    Batch b = store->NewBatch();
    for (int i = 0; i < 40; ++i) {
      int n = round * 40 + i;
      // Time-ordered with some jitter, as ids from several producers are.
      int64_t t = 1'000'000 + n - static_cast<int>(rng() % 16);
      Keyspace k = spaces[rng() % spaces.size()];
      std::string key;
      switch (k) {
        case Keyspace::kTxnDue:
          key = keys::TxnCheckDueKey(groups[rng() % 3], t, "t" + std::to_string(n));
          break;
        case Keyspace::kTxnAge:
          key = keys::TxnTimeKey(keys::kTxnAgePrefix, t, "t" + std::to_string(n));
          break;
        case Keyspace::kInflight:
          key = keys::InflightKey(SubscriptionId(1), QueueId(rng() % 4), Offset(t));
          break;
        case Keyspace::kCursors:
          key = keys::CursorKey(SubscriptionId(rng() % 3), QueueId(rng() % 4));
          break;
        case Keyspace::kMessages:
          key = keys::MessageKey(TopicId(1), QueueId(rng() % 4), Offset(n));
          break;
        case Keyspace::kIndex:
          key = (rng() % 2 ? keys::TraceKey(std::to_string(t), t, n)
                           : keys::IdIndexKey(std::to_string(t), TopicId(1)));
          break;
        default:
          key = std::string(1, static_cast<char>('H' + rng() % 3)) + std::to_string(t);
          break;
      }
      auto& m = model[k];
      if (!m.empty() && rng() % 3 == 0) {
        // Delete a recent key of this keyspace (what a settle does).
        auto it = m.lower_bound(key);
        if (it == m.end()) --it;
        RawKeyspaceAccess::Delete(&b, k, it->first);
        m.erase(it);
      } else {
        std::string value = "v" + std::to_string(n);
        RawKeyspaceAccess::Put(&b, k, key, value);
        m[key] = value;
      }
    }
    if (round % 10 == 9) {
      // An ack run, and retention of a queue's old messages (from offset 0
      // and from a later offset: the two shapes of range-delete begin key).
      QueueId q(round % 4);
      uint64_t from = 1'000'000 + round * 40 - 300, to = 1'000'000 + round * 40 - 100;
      b.DeleteInflightRange(SubscriptionId(1), q, Offset(from), Offset(to));
      auto& inflight = model[Keyspace::kInflight];
      inflight.erase(inflight.lower_bound(keys::InflightKey(SubscriptionId(1), q, Offset(from))),
                     inflight.lower_bound(keys::InflightKey(SubscriptionId(1), q, Offset(to))));
      uint64_t low = round % 20 == 9 ? 0 : round * 40 - 200;
      b.DeleteMessages(TopicId(1), q, Offset(low), Offset(round * 40 - 20));
      auto& messages = model[Keyspace::kMessages];
      messages.erase(
          messages.lower_bound(keys::MessageKey(TopicId(1), q, Offset(low))),
          messages.lower_bound(keys::MessageKey(TopicId(1), q, Offset(round * 40 - 20))));
    }
    EXPECT_TRUE(store->CommitAndWait(std::move(b)).ok());
    // Recovery replays the WAL into new memtables, with hints too.
    if (round == 100) open();
  }
  for (Keyspace k : spaces) {
    std::map<std::string, std::string> seen;
    ASSERT_TRUE(RawKeyspaceAccess::Scan(store.get(), k, "",
                                        "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
                                        [&](std::string_view key, std::string_view value) {
                                          seen.emplace(std::string(key), std::string(value));
                                          return true;
                                        })
                    .ok());
    EXPECT_EQ(seen, model[k]) << KeyspaceName(k);
  }
}

}  // namespace
}  // namespace halfmq::storage
