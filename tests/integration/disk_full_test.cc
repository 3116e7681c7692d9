// A full disk is an error, not a crash: a real broker on a real 64 MiB tmpfs
// (tests run as root; skipped where mounting is not permitted).
//
// DiskFullTest.RefusesNewMessagesBelowThresholdAndRecovers: the disk alarm
// (--min_free_disk_mb) refuses sends and half messages with
// RESOURCE_EXHAUSTED before RocksDB runs out, while receives, acks and the
// commit of an open transaction go on; sends resume once space is freed; a
// kill -9 and restart on the nearly full disk works and loses nothing
// acknowledged.
//
// DiskFullTest.RocksDbOutOfSpaceMakesStorageReadOnly: without the alarm
// RocksDB itself gets ENOSPC: the broker does not crash, answers with typed
// errors, serves reads, and restarts on the full disk (deleting its reserve
// file) with everything acknowledged.
#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "halfmq/halfmq.h"
#include "tests/util/broker_process.h"
#include "tests/util/eventually.h"
#include "tests/util/temp_dir.h"

namespace halfmq::testing {
namespace {

constexpr size_t kBodyBytes = 64 << 10;
// Bounds every fill loop: 64 MiB of 64 KiB bodies is 1024 sends.
constexpr int kMaxSends = 4000;

// Incompressible (RocksDB compresses blobs with LZ4), different per message.
std::string RandomBody(std::mt19937_64* rng) {
  std::string body(kBodyBytes, '\0');
  for (size_t i = 0; i + 8 <= body.size(); i += 8) {
    uint64_t v = (*rng)();
    std::memcpy(&body[i], &v, 8);
  }
  return body;
}

class DiskFullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    disk_ = dir_.Sub("disk");
    std::filesystem::create_directories(disk_);
    if (::mount("tmpfs", disk_.c_str(), "tmpfs", 0, "size=64m") != 0) {
      GTEST_SKIP() << "cannot mount a 64 MiB tmpfs (" << std::strerror(errno)
                   << "); this test needs root (or CAP_SYS_ADMIN)";
    }
    mounted_ = true;
    options_.max_retries = 0;  // RESOURCE_EXHAUSTED must reach the test
  }
  void TearDown() override {
    if (broker_) broker_->Kill9();
    broker_.reset();
    if (mounted_) {
      EXPECT_EQ(::umount2(disk_.c_str(), MNT_DETACH), 0) << std::strerror(errno);
    }
  }

  // The data directory is the mount point itself, so the broker's log
  // (<data_dir>.log) stays off the small disk. Small memtables so that
  // flushes happen on this disk; a memtable budget well above them: at it,
  // RocksDB switches memtables (and starts a new, preallocated WAL) on every
  // write while a flush is behind, which eats a small disk in WAL files.
  void Start(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> flags = {"--write_buffer_mb=1", "--memtable_budget_mb=8",
                                      "--block_cache_mb=8", "--disk_check_interval_ms=20"};
    flags.insert(flags.end(), extra.begin(), extra.end());
    broker_ = BrokerProcess::Start(disk_, flags);
    ASSERT_NE(broker_, nullptr);
    options_.broker = broker_->address();
    auto admin = Admin::Connect(options_);
    ASSERT_TRUE(admin.ok()) << admin.status();
    admin_ = std::move(admin).value();
  }

  void WriteFiller(size_t bytes) {
    std::ofstream out(disk_ + "/filler", std::ios::binary);
    std::string chunk(1 << 20, 'f');
    for (size_t n = 0; n < bytes; n += chunk.size()) out.write(chunk.data(), chunk.size());
    out.close();
    ASSERT_TRUE(out.good()) << "writing the filler file";
  }

  // Fills the disk to the last byte.
  void FillRest() {
    int fd = ::open((disk_ + "/filler2").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(fd, 0) << std::strerror(errno);
    std::string chunk(64 << 10, 'f');
    for (size_t size = chunk.size(); size >= 512; size /= 2) {
      while (::write(fd, chunk.data(), size) == static_cast<ssize_t>(size)) {
      }
    }
    ::close(fd);
  }

  int64_t Stat(const std::string& name) {
    auto stats = admin_->GetBrokerStats();
    EXPECT_TRUE(stats.ok()) << stats.status();
    return stats.ok() ? (*stats)[name] : -1;
  }

  // Sends until the first refusal (returned) or kMaxSends; acked ids go to
  // acked_.
  Status FillUntilRefused(Producer* producer) {
    for (int i = 0; i < kMaxSends; ++i) {
      auto r = producer->Send(Message("t").Body(RandomBody(&rng_)));
      if (!r.ok()) return r.status();
      acked_.push_back(r->message_id);
    }
    return Status::Ok();
  }

  void ExpectAllAckedReadable() {
    for (const std::string& id : acked_) {
      auto got = admin_->GetMessage(id, "t");
      ASSERT_TRUE(got.ok()) << "acknowledged message " << id << " lost: " << got.status();
      ASSERT_EQ(got->size(), 1u);
      ASSERT_FALSE((*got)[0].body.empty());
    }
  }

  TempDir dir_;
  std::string disk_;
  bool mounted_ = false;
  std::unique_ptr<BrokerProcess> broker_;
  ClientOptions options_;
  std::unique_ptr<Admin> admin_;
  std::mt19937_64 rng_{42};
  std::vector<std::string> acked_;
};

TEST_F(DiskFullTest, RefusesNewMessagesBelowThresholdAndRecovers) {
  WriteFiller(16 << 20);  // freed later: well above the threshold's margin
  ASSERT_NO_FATAL_FAILURE(Start());  // default --min_free_disk_mb: half of 64 MiB, 32 MiB
  ASSERT_TRUE(admin_->CreateTopic("t", 2).ok());
  auto txn_producer = TransactionProducer::Connect(
      options_, "payments", [](const CheckRequest&) { return TxnState::kUnknown; });
  ASSERT_TRUE(txn_producer.ok());
  Transaction open_txn = (*txn_producer)->Begin();
  ASSERT_TRUE(open_txn.Send(Message("t").Key("before-full").Body("half")).ok());
  auto producer = Producer::Connect(options_);
  ASSERT_TRUE(producer.ok());

  Status refused = FillUntilRefused(producer->get());
  ASSERT_EQ(refused.code(), StatusCode::kResourceExhausted) << refused << broker_->LogTail();
  EXPECT_NE(refused.message().find("disk free below --min_free_disk_mb=256"), std::string::npos)
      << refused;
  ASSERT_GT(acked_.size(), 10u) << broker_->LogTail();
  EXPECT_GE(Stat("disk_low_events"), 1);  // disk_low itself may clear (see below)
  EXPECT_EQ(Stat("storage_read_only"), 0);  // RocksDB never ran out
  EXPECT_EQ(Stat("store_failed_batches"), 0);
  EXPECT_GE(Stat("disk_refused_requests"), 1);

  // New half messages are refused; the open transaction still commits.
  // RocksDB may free space by itself (obsolete WAL files go after a flush)
  // and so clear the alarm between two requests: then fill again.
  Transaction late = (*txn_producer)->Begin();
  StatusCode late_code = StatusCode::kOk;
  for (int round = 0; round < 5; ++round) {
    late_code = late.Send(Message("t").Body("late")).status().code();
    if (late_code == StatusCode::kResourceExhausted) break;
    ASSERT_EQ(FillUntilRefused(producer->get()).code(), StatusCode::kResourceExhausted);
  }
  EXPECT_EQ(late_code, StatusCode::kResourceExhausted);
  auto committed = open_txn.Commit();
  ASSERT_TRUE(committed.ok()) << committed.status();
  acked_.push_back((*committed)[0].message_id);

  // Receives and acks go on.
  auto consumer = Consumer::Connect(options_, "g");
  ASSERT_TRUE(consumer.ok());
  ReceiveOptions ro;
  ro.max_messages = 8;
  ro.wait = std::chrono::milliseconds(0);
  auto got = (*consumer)->Receive("t", ro);
  ASSERT_TRUE(got.ok()) << got.status() << broker_->LogTail();
  ASSERT_FALSE(got->empty());
  for (const auto& m : *got) {
    Status acked = (*consumer)->Ack(m);
    ASSERT_TRUE(acked.ok()) << acked << broker_->LogTail();
  }

  // Space comes back: sends resume by themselves.
  std::filesystem::remove(disk_ + "/filler");
  ASSERT_TRUE(Eventually([&] { return Stat("disk_low") == 0; })) << broker_->LogTail();
  auto resumed = (*producer)->Send(Message("t").Body(RandomBody(&rng_)));
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  acked_.push_back(resumed->message_id);

  // Fill again, then crash and restart on the nearly full disk.
  refused = FillUntilRefused(producer->get());
  ASSERT_EQ(refused.code(), StatusCode::kResourceExhausted) << refused << broker_->LogTail();
  EXPECT_EQ(Stat("storage_read_only"), 0);
  producer->reset();
  consumer->reset();
  txn_producer->reset();
  admin_.reset();
  broker_->Kill9();
  ASSERT_NO_FATAL_FAILURE(Start());
  ExpectAllAckedReadable();
  EXPECT_EQ(Stat("storage_read_only"), 0);
}

TEST_F(DiskFullTest, RocksDbOutOfSpaceMakesStorageReadOnly) {
  WriteFiller(8 << 20);
  ASSERT_NO_FATAL_FAILURE(Start({"--min_free_disk_mb=0"}));  // no alarm: RocksDB itself runs out
  ASSERT_TRUE(Eventually([&] { return Stat("disk_reserve_bytes") == (8 << 20); }))
      << broker_->LogTail();
  ASSERT_TRUE(admin_->CreateTopic("t", 2).ok());
  auto producer = Producer::Connect(options_);
  ASSERT_TRUE(producer.ok());

  Status failed = FillUntilRefused(producer->get());
  ASSERT_FALSE(failed.ok()) << "the disk never filled";
  // The batches in the failed write are answered INTERNAL; later requests
  // are refused up front.
  EXPECT_TRUE(failed.code() == StatusCode::kInternal || failed.code() == StatusCode::kUnavailable)
      << failed;
  ASSERT_GT(acked_.size(), 10u) << broker_->LogTail();
  ASSERT_TRUE(Eventually([&] { return Stat("storage_read_only") == 1; })) << broker_->LogTail();
  auto after = (*producer)->Send(Message("t").Body("x"));
  EXPECT_EQ(after.status().code(), StatusCode::kUnavailable) << after.status();
  EXPECT_NE(after.status().message().find("read-only"), std::string::npos) << after.status();
  // Reads are served while read-only, from a live (not crashed) broker.
  ExpectAllAckedReadable();

  // Restart on a disk full to the last byte: the reserve file makes room.
  producer->reset();
  admin_.reset();
  broker_->Kill9();
  FillRest();
  ASSERT_NO_FATAL_FAILURE(Start({"--min_free_disk_mb=0"}));
  EXPECT_NE(broker_->LogTail(100000).find("deleted the reserve file"), std::string::npos);
  EXPECT_EQ(Stat("storage_read_only"), 0);
  ExpectAllAckedReadable();
  auto producer2 = Producer::Connect(options_);
  ASSERT_TRUE(producer2.ok());
  EXPECT_TRUE((*producer2)->Send(Message("t").Body("small")).ok());
}

}  // namespace
}  // namespace halfmq::testing
