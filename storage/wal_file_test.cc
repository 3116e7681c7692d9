#include "storage/wal_file.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/transaction_log.h>

#include "storage/rocksdb_internals.h"
#include "tests/util/eventually.h"
#include "tests/util/temp_dir.h"

namespace halfmq::storage {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

uint64_t SizeOf(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The byte the tests write at a file offset.
char Pattern(uint64_t offset) { return static_cast<char>('a' + (offset * 7 + offset / 4099) % 26); }

class WalFileTest : public ::testing::Test {
 protected:
  std::unique_ptr<rocksdb::FSWritableFile> Open(rocksdb::FileSystem* fs, const std::string& name) {
    std::unique_ptr<rocksdb::FSWritableFile> file;
    rocksdb::IOStatus s = fs->NewWritableFile(dir_.Sub(name), rocksdb::FileOptions(), &file,
                                              nullptr);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return file;
  }

  testing::TempDir dir_;
};

// The zeroer races the appends with small chunks kept close ahead; every
// byte appended must read back as written, and the closed file must end
// where the appends did.
TEST_F(WalFileTest, ZeroFillAheadNeverOverwritesAppendedBytes) {
  if (!RocksDbInternalsChecked()) GTEST_SKIP() << "no zero fill for this RocksDB release";
  WalZeroOptions zero;
  zero.ahead_bytes = 64 << 10;
  zero.chunk_bytes = 4 << 10;
  auto fs = NewWalFileSystem(rocksdb::FileSystem::Default(), zero);
  auto file = Open(fs.get(), "000007.log");
  std::mt19937 rng(11);
  uint64_t offset = 0;
  std::string chunk;
  for (int i = 0; i < 3000; ++i) {
    size_t n = 1 + rng() % 9000;
    chunk.resize(n);
    for (size_t k = 0; k < n; ++k) chunk[k] = Pattern(offset + k);
    ASSERT_TRUE(file->Append(chunk, rocksdb::IOOptions(), nullptr).ok());
    offset += n;
    if (i % 16 == 0) {
      ASSERT_TRUE(file->Sync(rocksdb::IOOptions(), nullptr).ok());
    }
  }
  ASSERT_TRUE(file->Close(rocksdb::IOOptions(), nullptr).ok());
  file.reset();
  std::string got = ReadAll(dir_.Sub("000007.log"));
  ASSERT_EQ(got.size(), offset);
  for (uint64_t k = 0; k < offset; ++k) {
    ASSERT_EQ(got[k], Pattern(k)) << "at offset " << k;
  }
}

// Past the write position the file is already written with zeros (so the
// writer's syncs convert no extents), and it is cut back when closed.
TEST_F(WalFileTest, BytesAheadOfTheWriterAreZeroFilledAndTrimmedAtClose) {
  if (!RocksDbInternalsChecked()) GTEST_SKIP() << "no zero fill for this RocksDB release";
  WalZeroOptions zero;
  zero.ahead_bytes = 256 << 10;
  zero.chunk_bytes = 64 << 10;
  auto fs = NewWalFileSystem(rocksdb::FileSystem::Default(), zero);
  auto file = Open(fs.get(), "000008.log");
  std::string path = dir_.Sub("000008.log");
  ASSERT_TRUE(file->Append(std::string(1000, 'x'), rocksdb::IOOptions(), nullptr).ok());
  ASSERT_TRUE(file->Flush(rocksdb::IOOptions(), nullptr).ok());
  ASSERT_TRUE(testing::Eventually([&] {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 &&
           static_cast<uint64_t>(st.st_blocks) * 512 >= 1000 + zero.ahead_bytes;
  })) << "allocated " << SizeOf(path);
  std::string got = ReadAll(path);
  ASSERT_GE(got.size(), 1000 + zero.ahead_bytes);
  EXPECT_EQ(got.substr(0, 1000), std::string(1000, 'x'));
  EXPECT_EQ(got.find_first_not_of('\0', 1000), std::string::npos);
  ASSERT_TRUE(file->Close(rocksdb::IOOptions(), nullptr).ok());
  EXPECT_EQ(SizeOf(path), 1000u);
}

TEST_F(WalFileTest, OtherFilesAreWrittenAsIs) {
  auto fs = NewWalFileSystem(rocksdb::FileSystem::Default(), WalZeroOptions());
  auto file = Open(fs.get(), "000009.sst");
  ASSERT_TRUE(file->Append(std::string(1000, 'x'), rocksdb::IOOptions(), nullptr).ok());
  ASSERT_TRUE(file->Sync(rocksdb::IOOptions(), nullptr).ok());
  EXPECT_EQ(SizeOf(dir_.Sub("000009.sst")), 1000u);
  ASSERT_TRUE(file->Close(rocksdb::IOOptions(), nullptr).ok());
  EXPECT_EQ(SizeOf(dir_.Sub("000009.sst")), 1000u);
}


// What the WAL file system assumes of RocksDB's own WAL writer (see
// storage/README.md, "RocksDB internals we depend on"), with and without
// zero fill: RocksDB names its WAL *.log; it appends to it only through
// Append (every synced write reads back, with zeros being written ahead);
// it cuts the extended file back to its records when it closes it; and
// after a crash, the file as it then is (records, then preallocated or
// zero-filled bytes) recovers every synced write.
class WalFileRocksDbTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    if (GetParam() && !RocksDbInternalsChecked()) {
      GTEST_SKIP() << "no zero fill for this RocksDB release";
    }
    WalZeroOptions zero;
    if (!GetParam()) zero.ahead_bytes = 0;
    env_ = rocksdb::NewCompositeEnv(NewWalFileSystem(rocksdb::FileSystem::Default(), zero));
  }

  std::unique_ptr<rocksdb::DB> OpenDb(const std::string& path) {
    rocksdb::Options options;
    options.create_if_missing = true;
    options.env = env_.get();
    rocksdb::DB* db = nullptr;
    rocksdb::Status s = rocksdb::DB::Open(options, path, &db);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return std::unique_ptr<rocksdb::DB>(db);
  }

  static std::string Value(int i) { return std::string(1000, '0' + i % 10) + "x"; }

  void ExpectAllKeys(rocksdb::DB* db, int n) {
    for (int i = 0; i < n; ++i) {
      std::string value;
      ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), "k" + std::to_string(i), &value).ok()) << i;
      ASSERT_EQ(value, Value(i));
    }
  }

  testing::TempDir dir_;
  std::unique_ptr<rocksdb::Env> env_;
};

TEST_P(WalFileRocksDbTest, WalIsNamedExtendedTrimmedAtCloseAndRecoversAfterACrash) {
  constexpr int kKeys = 300;
  const std::string path = dir_.Sub("db");
  const std::string crash = dir_.Sub("crash");
  std::string wal;
  {
    auto db = OpenDb(path);
    ASSERT_NE(db, nullptr);
    rocksdb::WriteOptions sync;
    sync.sync = true;
    for (int i = 0; i < kKeys; ++i) {
      ASSERT_TRUE(db->Put(sync, "k" + std::to_string(i), Value(i)).ok());
    }
    rocksdb::VectorLogPtr wals;
    ASSERT_TRUE(db->GetSortedWalFiles(wals).ok());
    ASSERT_EQ(wals.size(), 1u);
    wal = path + wals[0]->PathName();
    // The name our file system recognises a WAL by.
    ASSERT_TRUE(EndsWith(wal, ".log")) << wal;
    EXPECT_GT(SizeOf(wal), uint64_t{kKeys} * 1000 + (1 << 20)) << "not extended ahead";
    // A kill -9 now leaves the files as they are: copy them.
    std::filesystem::copy(path, crash);
    ExpectAllKeys(db.get(), kKeys);
  }
  // Closed: cut back to its last record, which ends with a value's 'x'.
  std::string closed = ReadAll(wal);
  ASSERT_LT(closed.size(), uint64_t{kKeys} * 1100);
  ASSERT_FALSE(closed.empty());
  EXPECT_EQ(closed.back(), 'x');
  for (const std::string& p : {path, crash}) {
    auto db = OpenDb(p);
    ASSERT_NE(db, nullptr) << p;
    ExpectAllKeys(db.get(), kKeys);
  }
}

INSTANTIATE_TEST_SUITE_P(ZeroFill, WalFileRocksDbTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "ZeroFilled" : "OnlyExtended";
                         });

}  // namespace
}  // namespace halfmq::storage
