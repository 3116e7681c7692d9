#include "storage/memtable_rep.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/slice_transform.h>

#include "storage/rocksdb_internals.h"
#include "tests/util/temp_dir.h"

namespace halfmq::storage {
namespace {

using Model = std::map<std::string, std::string>;

// A plain RocksDB database whose memtables are ours: large enough that
// nothing is flushed until the test asks.
std::unique_ptr<rocksdb::DB> OpenDb(const std::string& path, bool hints) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.allow_concurrent_memtable_write = false;
  options.memtable_factory = NewOrderedMemTableFactory();
  options.write_buffer_size = 64 << 20;
  if (hints) {
    // Two-byte streams, as insert_hint.h's extractors name a queue or a
    // group.
    options.memtable_insert_with_hint_prefix_extractor.reset(
        rocksdb::NewFixedPrefixTransform(2));
  }
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, path, &db);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return std::unique_ptr<rocksdb::DB>(db);
}

std::string Key(int stream, int n) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%c%c%06d", 'a' + stream / 26, 'a' + stream % 26, n);
  return buf;
}

// Every way of reading the database at `snapshot` (null: now) agrees with
// `model`: Get, a forward and a backward scan, and Seek / SeekForPrev to
// present and absent keys.
void ExpectMatches(rocksdb::DB* db, const rocksdb::Snapshot* snapshot, const Model& model,
                   std::mt19937& rng, int streams, int keys_per_stream) {
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro));

  auto m = model.begin();
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++m) {
    ASSERT_NE(m, model.end()) << "extra key " << it->key().ToString();
    ASSERT_EQ(it->key().ToString(), m->first);
    ASSERT_EQ(it->value().ToString(), m->second);
  }
  ASSERT_TRUE(it->status().ok()) << it->status().ToString();
  ASSERT_EQ(m, model.end()) << "missing key " << m->first;

  auto r = model.rbegin();
  for (it->SeekToLast(); it->Valid(); it->Prev(), ++r) {
    ASSERT_NE(r, model.rend()) << "extra key " << it->key().ToString();
    ASSERT_EQ(it->key().ToString(), r->first);
  }
  ASSERT_EQ(r, model.rend()) << "missing key " << r->first;

  // The iterator is at `expected` (the model's end: not valid).
  auto expect_at = [&](Model::const_iterator expected, const std::string& target) {
    if (expected == model.end()) {
      ASSERT_FALSE(it->Valid()) << target;
    } else {
      ASSERT_TRUE(it->Valid()) << target;
      ASSERT_EQ(it->key().ToString(), expected->first) << target;
    }
  };
  std::uniform_int_distribution<int> stream(0, streams - 1);
  std::uniform_int_distribution<int> n(0, keys_per_stream);
  for (int i = 0; i < 300; ++i) {
    // Half the targets exist (in some version), half fall between keys.
    std::string target = Key(stream(rng), n(rng));
    if (i % 2 == 1) target += "~";

    auto lower = model.lower_bound(target);
    it->Seek(target);
    ASSERT_NO_FATAL_FAILURE(expect_at(lower, target));
    if (lower != model.end()) {
      // One step back from a sought position.
      it->Prev();
      ASSERT_NO_FATAL_FAILURE(
          expect_at(lower == model.begin() ? model.end() : std::prev(lower), target));
    }

    auto upper = model.upper_bound(target);
    it->SeekForPrev(target);
    ASSERT_NO_FATAL_FAILURE(
        expect_at(upper == model.begin() ? model.end() : std::prev(upper), target));

    std::string value;
    rocksdb::Status s = db->Get(ro, target, &value);
    auto found = model.find(target);
    if (found == model.end()) {
      ASSERT_TRUE(s.IsNotFound()) << target << ": " << s.ToString();
    } else {
      ASSERT_TRUE(s.ok()) << target << ": " << s.ToString();
      ASSERT_EQ(value, found->second);
    }
  }
}

class MemTableRepTest : public ::testing::TestWithParam<bool> {};

// Puts, overwrites and deletes in the patterns our keyspaces see (streams
// written in order, with deletes of older keys and some random keys between),
// read back through every kind of read, at snapshots holding older versions
// of the same keys, before and after the memtable is flushed (which reads
// it in order and fails on any key out of order).
TEST_P(MemTableRepTest, MatchesAnOrderedMapUnderRandomWrites) {
  if (!RocksDbInternalsChecked()) GTEST_SKIP() << "not built for this RocksDB release";
  testing::TempDir dir;
  auto db = OpenDb(dir.Sub("db"), /*hints=*/GetParam());
  ASSERT_NE(db, nullptr);

  constexpr int kStreams = 30;
  constexpr int kKeysPerStream = 400;
  std::mt19937 rng(12345);
  std::vector<int> next(kStreams, 0);  // next key in order, per stream
  Model model;
  std::vector<std::pair<const rocksdb::Snapshot*, Model>> snapshots;

  for (int batch = 0; batch < 600; ++batch) {
    rocksdb::WriteBatch wb;
    int ops = std::uniform_int_distribution<int>(1, 40)(rng);
    for (int op = 0; op < ops; ++op) {
      int s = std::uniform_int_distribution<int>(0, kStreams - 1)(rng);
      int kind = std::uniform_int_distribution<int>(0, 9)(rng);
      std::string key;
      if (kind < 5 && next[s] < kKeysPerStream) {
        key = Key(s, next[s]++);  // in order within the stream
      } else {
        key = Key(s, std::uniform_int_distribution<int>(0, kKeysPerStream)(rng));
      }
      if (kind == 9) {
        ASSERT_TRUE(wb.Delete(key).ok());
        model.erase(key);
      } else {
        std::string value = key + "@" + std::to_string(batch) + "." + std::to_string(op);
        ASSERT_TRUE(wb.Put(key, value).ok());
        model[key] = value;
      }
    }
    ASSERT_TRUE(db->Write(rocksdb::WriteOptions(), &wb).ok());
    if (batch % 150 == 75) snapshots.emplace_back(db->GetSnapshot(), model);
  }

  ExpectMatches(db.get(), nullptr, model, rng, kStreams, kKeysPerStream);
  for (const auto& [snapshot, at] : snapshots) {
    ExpectMatches(db.get(), snapshot, at, rng, kStreams, kKeysPerStream);
  }

  ASSERT_TRUE(db->Flush(rocksdb::FlushOptions()).ok());
  ExpectMatches(db.get(), nullptr, model, rng, kStreams, kKeysPerStream);
  for (const auto& [snapshot, at] : snapshots) {
    ExpectMatches(db.get(), snapshot, at, rng, kStreams, kKeysPerStream);
    db->ReleaseSnapshot(snapshot);
  }
}

INSTANTIATE_TEST_SUITE_P(Hints, MemTableRepTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "WithInsertHints" : "WithoutInsertHints";
                         });

// One thread writes keys in random order while others scan: every scan is in
// order and holds every key whose write returned before the scan began.
// Under ThreadSanitizer this also checks the links' memory ordering.
TEST(MemTableRepConcurrencyTest, ReadersSeeEveryFinishedInsertInOrder) {
  if (!RocksDbInternalsChecked()) GTEST_SKIP() << "not built for this RocksDB release";
  testing::TempDir dir;
  auto db = OpenDb(dir.Sub("db"), /*hints=*/true);
  ASSERT_NE(db, nullptr);

  constexpr int kKeys = 20000;
  constexpr int kPerBatch = 16;
  std::vector<std::string> keys;
  for (int i = 0; i < kKeys; ++i) keys.push_back(Key(i % 7, i));
  std::shuffle(keys.begin(), keys.end(), std::mt19937(7));
  std::atomic<int> written{0};  // keys[0..written) are in the database

  std::thread writer([&] {
    for (int i = 0; i < kKeys; i += kPerBatch) {
      rocksdb::WriteBatch wb;
      for (int j = i; j < i + kPerBatch && j < kKeys; ++j) {
        EXPECT_TRUE(wb.Put(keys[j], "v").ok());
      }
      EXPECT_TRUE(db->Write(rocksdb::WriteOptions(), &wb).ok());
      written.store(std::min(i + kPerBatch, kKeys), std::memory_order_release);
    }
  });

  std::atomic<int> failures{0};
  auto reader = [&] {
    int scans = 0;
    while (true) {
      int before = written.load(std::memory_order_acquire);
      std::map<std::string, bool> expected;
      for (int i = 0; i < before; ++i) expected[keys[i]] = false;
      std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
      std::string last;
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        std::string k = it->key().ToString();
        if (!last.empty() && k <= last) failures.fetch_add(1);
        last = k;
        auto e = expected.find(k);
        if (e != expected.end()) e->second = true;
      }
      for (const auto& [k, seen] : expected) {
        if (!seen) failures.fetch_add(1);
      }
      ++scans;
      if (before == kKeys) break;
    }
    EXPECT_GT(scans, 0);
  };
  std::thread r1(reader);
  std::thread r2(reader);
  writer.join();
  r1.join();
  r2.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace halfmq::storage
