#include "storage/wal_file.h"

#include <sys/stat.h>

#include <fstream>
#include <random>
#include <string>

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace halfmq::storage
