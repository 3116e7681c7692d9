#include "storage/insert_hint.h"

#include <map>
#include <random>

#include <gtest/gtest.h>

#include "storage/store.h"
#include "tests/util/temp_dir.h"

namespace halfmq::storage {
namespace {

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

TEST(InsertHintTest, KeyspacesWithRangeDeletesHaveNoHints) {
  for (Keyspace k : {Keyspace::kMessages, Keyspace::kInflight, Keyspace::kDefault,
                     Keyspace::kMeta, Keyspace::kDelayed}) {
    EXPECT_FALSE(HasInsertHints(k)) << KeyspaceName(k);
    EXPECT_EQ(InsertHintPrefix(k), nullptr) << KeyspaceName(k);
  }
  for (Keyspace k : {Keyspace::kCursors, Keyspace::kTxn, Keyspace::kTxnDue, Keyspace::kIndex,
                     Keyspace::kTxnHalf, Keyspace::kTxnOutcome, Keyspace::kTxnAge,
                     Keyspace::kTxnSettled}) {
    EXPECT_TRUE(HasInsertHints(k)) << KeyspaceName(k);
    EXPECT_NE(InsertHintPrefix(k), nullptr) << KeyspaceName(k);
  }
}

TEST(InsertHintDeathTest, RangeDeleteInAHintedKeyspaceIsFatal) {
  // The store's threads are running: re-execute rather than fork from here.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  testing::TempDir dir;
  StoreOptions options;
  options.path = dir.Sub("db");
  auto store = Store::Open(options);
  ASSERT_TRUE(store.ok()) << store.status();
  Batch b = (*store)->NewBatch();
  EXPECT_DEATH(b.DeleteRange(Keyspace::kTxn, "M0", "M9"), "insert with hints");
}

// What the hints are for: several streams of nearly ordered keys, puts and
// deletes interleaved, in every hinted keyspace, plus range deletes beside
// point writes where there are no hints. The memtables (and those the WAL
// is recovered into) must read back exactly what a plain map holds.
// Debian's RocksDB keeps its assertions, so a corrupted skip list also aborts
// here (as it did with hints in the in-flight keyspace).
TEST(InsertHintTest, InterleavedStreamsReadBackExactly) {
  testing::TempDir dir;
  StoreOptions options;
  options.path = dir.Sub("db");
  std::unique_ptr<Store> store;
  auto open = [&] {
    store.reset();
    auto opened = Store::Open(options);
    ASSERT_TRUE(opened.ok()) << opened.status();
    store = std::move(opened).value();
  };
  open();
  const std::vector<Keyspace> spaces = {Keyspace::kTxn,      Keyspace::kTxnDue,
                                        Keyspace::kTxnHalf,  Keyspace::kTxnOutcome,
                                        Keyspace::kTxnAge,   Keyspace::kIndex,
                                        Keyspace::kInflight, Keyspace::kCursors};
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
        b.Delete(k, it->first);
        m.erase(it);
      } else {
        std::string value = "v" + std::to_string(n);
        b.Put(k, key, value);
        m[key] = value;
      }
    }
    if (round % 10 == 9) {
      // An ack run: a range delete where there are no hints.
      std::string from = keys::InflightKey(SubscriptionId(1), QueueId(round % 4), Offset(0));
      std::string to = keys::InflightKey(SubscriptionId(1), QueueId(round % 4),
                                         Offset(1'000'000 + round * 40 - 100));
      b.DeleteInflightRange(SubscriptionId(1), QueueId(round % 4), Offset(0),
                            Offset(1'000'000 + round * 40 - 100));
      auto& m = model[Keyspace::kInflight];
      m.erase(m.lower_bound(from), m.lower_bound(to));
    }
    store->CommitAndWait(std::move(b));
    // Recovery replays the WAL into new memtables, with hints too.
    if (round == 100) open();
  }
  for (Keyspace k : spaces) {
    std::map<std::string, std::string> seen;
    ASSERT_TRUE(store
                    ->Scan(k, "", "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
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
