#include "storage/disk_space.h"

#include <functional>

#include <gtest/gtest.h>

#include "storage/committer.h"
#include "tests/util/temp_dir.h"

namespace halfmq::storage {
namespace {

TEST(DiskSpaceTest, StatDiskSeesTheFileSystem) {
  testing::TempDir dir;
  auto disk = StatDisk(dir.path());
  ASSERT_TRUE(disk.ok()) << disk.status();
  EXPECT_GT(disk->total_bytes, 0u);
  EXPECT_LE(disk->free_bytes, disk->total_bytes);
  EXPECT_FALSE(StatDisk(dir.path() + "/missing").ok());
}

TEST(DiskSpaceTest, ReserveFileIsCreatedAndDeleted) {
  testing::TempDir dir;
  EXPECT_EQ(ReserveFileBytes(dir.path()), 0u);
  ASSERT_TRUE(CreateReserveFile(dir.path(), 1 << 20).ok());
  EXPECT_EQ(ReserveFileBytes(dir.path()), 1u << 20);
  auto deleted = DeleteReserveFile(dir.path());
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 1u << 20);
  EXPECT_EQ(ReserveFileBytes(dir.path()), 0u);
  deleted = DeleteReserveFile(dir.path());  // none left: fine
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 0u);
}

TEST(DiskSpaceTest, CreatingReserveInMissingDirFails) {
  testing::TempDir dir;
  EXPECT_FALSE(CreateReserveFile(dir.path() + "/missing", 4096).ok());
}

TEST(CommitWaiterTest, RunCallbackReportsTrue) {
  CommitWaiter waiter;
  std::function<void()> cb = waiter.Callback();
  cb();
  cb = nullptr;
  EXPECT_TRUE(waiter.Wait());
}

TEST(CommitWaiterTest, DroppedCallbackReportsFalse) {
  CommitWaiter waiter;
  {
    std::function<void()> cb = waiter.Callback();
    std::function<void()> copy = cb;  // every copy must go
  }
  EXPECT_FALSE(waiter.Wait());
}

}  // namespace
}  // namespace halfmq::storage
