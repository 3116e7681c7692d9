#include "storage/rocksdb_internals.h"

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "storage/store.h"
#include "tests/util/temp_dir.h"

namespace halfmq::storage {
namespace {

TEST(RocksDbInternalsTest, ComponentsFollowTheOptionsWhereThisBuildHasThem) {
  StoreOptions options;
  StorageComponents c = ComponentsInUse(options);
  EXPECT_EQ(c.own_memtable, RocksDbInternalsChecked());
  EXPECT_EQ(c.wal_zero_fill, RocksDbInternalsChecked());
  EXPECT_EQ(c.insert_hints, RocksDbInternalsChecked());
  options.own_memtable = false;
  options.wal_zero_fill = false;
  c = ComponentsInUse(options);
  EXPECT_FALSE(c.own_memtable);
  EXPECT_FALSE(c.wal_zero_fill);
  EXPECT_EQ(c.insert_hints, RocksDbInternalsChecked());
}

TEST(RocksDbInternalsTest, DescriptionNamesEachComponent) {
  StorageComponents c;
  c.own_memtable = true;
  c.insert_hints = true;
  std::string s = DescribeComponents(c);
  EXPECT_NE(s.find("RocksDB " + std::to_string(ROCKSDB_MAJOR) + "." +
                   std::to_string(ROCKSDB_MINOR) + "."),
            std::string::npos)
      << s;
  EXPECT_NE(s.find("memtable halfmq, WAL zero fill off, insert hints on"), std::string::npos) << s;
  EXPECT_NE(DescribeComponents(StorageComponents())
                .find("memtable rocksdb, WAL zero fill off, insert hints off"),
            std::string::npos);
}

// The options RocksDB persisted at open (its OPTIONS-* file, every column
// family's memtable factory and insert-hint extractor by name).
std::string PersistedOptions(const std::string& db_dir) {
  std::string latest;
  for (const auto& entry : std::filesystem::directory_iterator(db_dir)) {
    std::string name = entry.path().filename();
    if (name.rfind("OPTIONS-", 0) == 0 && name > latest) latest = name;
  }
  std::ifstream in(db_dir + "/" + latest);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The store opens RocksDB with the components ComponentsInUse names: RocksDB
// itself records which memtable and which hint extractors it was given.
class StoreComponentsTest : public ::testing::TestWithParam<bool> {};

TEST_P(StoreComponentsTest, RocksDbGetsTheMemtableAndHintsInUse) {
  testing::TempDir dir;
  StoreOptions options;
  options.path = dir.Sub("db");
  options.own_memtable = GetParam();
  options.wal_zero_fill = GetParam();
  StorageComponents c = ComponentsInUse(options);
  auto store = Store::Open(options);
  ASSERT_TRUE(store.ok()) << store.status();
  std::string persisted = PersistedOptions(options.path);
  ASSERT_NE(persisted.find("memtable_factory="), std::string::npos) << persisted;
  EXPECT_EQ(persisted.find("HalfmqSkipList") != std::string::npos, c.own_memtable);
  EXPECT_EQ(persisted.find("SkipListFactory") != std::string::npos, !c.own_memtable);
  EXPECT_EQ(persisted.find("halfmq.LeadingBytes") != std::string::npos, c.insert_hints);
}

INSTANTIATE_TEST_SUITE_P(OursOrRocksDbs, StoreComponentsTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "Ours" : "RocksDbs";
                         });

}  // namespace
}  // namespace halfmq::storage
