#include "broker/txn_cache.h"

#include <string>

#include <gtest/gtest.h>

namespace halfmq::broker {
namespace {

TxnStateCache::Entry MakeEntry(const std::string& txn, int messages, size_t body) {
  TxnStateCache::Entry e;
  e.meta.set_txn_id(txn);
  e.meta.set_producer_group("g");
  e.meta.set_state(v1::PENDING);
  uint64_t bytes = 0;
  for (int i = 0; i < messages; ++i) {
    v1::Message* m = e.halves.Add();
    m->set_topic("t");
    m->set_message_id(txn + "-" + std::to_string(i));
    m->set_body(std::string(body, 'x'));
    bytes += m->ByteSizeLong();
  }
  e.meta.set_message_count(static_cast<uint32_t>(messages));
  e.meta.set_bytes(bytes);
  return e;
}

TEST(TxnStateCacheTest, TakeReturnsWhatWasPutOnceAndCounts) {
  TxnStateCache cache(1 << 20);
  EXPECT_FALSE(cache.Take(TxnId("a")).has_value());
  cache.Put(MakeEntry("a", 2, 100));
  EXPECT_TRUE(cache.Contains(TxnId("a")));
  auto e = cache.Take(TxnId("a"));
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->meta.txn_id(), "a");
  ASSERT_EQ(e->halves.size(), 2);
  EXPECT_EQ(e->halves[1].message_id(), "a-1");
  EXPECT_FALSE(cache.Contains(TxnId("a")));
  EXPECT_FALSE(cache.Take(TxnId("a")).has_value());
  auto s = cache.stats();
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.misses, 2u);
  EXPECT_EQ(s.entries, 0u);
  EXPECT_EQ(s.bytes, 0u);
}

TEST(TxnStateCacheTest, PutReplacesAndEraseDrops) {
  TxnStateCache cache(1 << 20);
  cache.Put(MakeEntry("a", 1, 10));
  cache.Put(MakeEntry("a", 3, 10));
  EXPECT_EQ(cache.stats().entries, 1u);
  auto e = cache.Take(TxnId("a"));
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->halves.size(), 3);
  cache.Put(MakeEntry("b", 1, 10));
  cache.Erase(TxnId("b"));
  cache.Erase(TxnId("never"));
  EXPECT_FALSE(cache.Contains(TxnId("b")));
  EXPECT_EQ(cache.stats().bytes, 0u);
}

TEST(TxnStateCacheTest, EvictsOldestWrittenBeyondTheBound) {
  // Each entry is about 1.5 KiB; the bound holds a few.
  TxnStateCache cache(6000);
  for (int i = 0; i < 10; ++i) cache.Put(MakeEntry("t" + std::to_string(i), 1, 1000));
  auto s = cache.stats();
  EXPECT_LE(s.bytes, 6000u);
  EXPECT_GT(s.entries, 0u);
  EXPECT_EQ(s.entries + s.evictions, 10u);
  EXPECT_TRUE(cache.Contains(TxnId("t9")));   // newest kept
  EXPECT_FALSE(cache.Contains(TxnId("t0")));  // oldest gone
  // Rewriting an entry makes it the newest.
  uint64_t kept = s.entries;
  std::string oldest = "t" + std::to_string(10 - kept);
  ASSERT_TRUE(cache.Contains(TxnId(oldest)));
  cache.Put(MakeEntry(oldest, 1, 1000));
  cache.Put(MakeEntry("t10", 1, 1000));
  EXPECT_TRUE(cache.Contains(TxnId(oldest)));
  EXPECT_FALSE(cache.Contains(TxnId("t" + std::to_string(11 - kept))));
}

TEST(TxnStateCacheTest, TooLargeEntriesAndZeroBoundKeepNothing) {
  TxnStateCache small(1000);
  small.Put(MakeEntry("big", 1, 5000));
  EXPECT_FALSE(small.Contains(TxnId("big")));
  TxnStateCache off(0);
  off.Put(MakeEntry("a", 1, 1));
  EXPECT_FALSE(off.Take(TxnId("a")).has_value());
  EXPECT_EQ(off.stats().bytes, 0u);
}

}  // namespace
}  // namespace halfmq::broker
