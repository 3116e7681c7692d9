#include "cluster/etcd_watch.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cluster/etcd_client.h"
#include "common/mutex.h"
#include "tests/util/etcd_process.h"
#include "tests/util/temp_dir.h"

namespace halfmq::cluster {
namespace {

using ::halfmq::testing::EtcdProcess;
using ::halfmq::testing::PickFreePort;
using ::halfmq::testing::TempDir;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr milliseconds kCallTimeout(10000);
// Only turns a hang into a failure.
constexpr milliseconds kWaitBound(20000);

// Collects what a watch delivers, on the watch thread; tests wait on it.
class Collector {
 public:
  EtcdWatch::Callback Callback() {
    return [this](const WatchResponse& r) {
      MutexLock lock(&mu_);
      ++calls_;
      if (end_.has_value()) ++after_end_;
      if (!r.status.ok()) {
        end_ = r.status;
        compact_revision_ = r.compact_revision;
      }
      for (const WatchEvent& e : r.events) events_.push_back(e);
      if (r.status.ok()) revisions_.push_back(r.revision);
      cv_.SignalAll();
    };
  }

  // The first `n` events, or fewer if they did not come within the bound.
  std::vector<WatchEvent> WaitForEvents(size_t n) {
    MutexLock lock(&mu_);
    const steady_clock::time_point deadline = steady_clock::now() + kWaitBound;
    while (events_.size() < n && steady_clock::now() < deadline) {
      cv_.WaitFor(&mu_, deadline - steady_clock::now());
    }
    return events_;
  }

  std::optional<Status> WaitForEnd() {
    MutexLock lock(&mu_);
    const steady_clock::time_point deadline = steady_clock::now() + kWaitBound;
    while (!end_.has_value() && steady_clock::now() < deadline) {
      cv_.WaitFor(&mu_, deadline - steady_clock::now());
    }
    return end_;
  }

  int64_t compact_revision() {
    MutexLock lock(&mu_);
    return compact_revision_;
  }
  int after_end() {
    MutexLock lock(&mu_);
    return after_end_;
  }
  int calls() {
    MutexLock lock(&mu_);
    return calls_;
  }

 private:
  Mutex mu_;
  CondVar cv_;
  std::vector<WatchEvent> events_ GUARDED_BY(mu_);
  std::vector<int64_t> revisions_ GUARDED_BY(mu_);
  std::optional<Status> end_ GUARDED_BY(mu_);
  int64_t compact_revision_ GUARDED_BY(mu_) = 0;
  int after_end_ GUARDED_BY(mu_) = 0;
  int calls_ GUARDED_BY(mu_) = 0;
};

class EtcdWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    etcd_ = EtcdProcess::Start(dir_.path());
    ASSERT_NE(etcd_, nullptr);
    Result<std::unique_ptr<EtcdClient>> client =
        EtcdClient::Create({etcd_->client_address()}, kCallTimeout);
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = std::move(*client);
  }

  TempDir dir_;
  std::unique_ptr<EtcdProcess> etcd_;
  std::unique_ptr<EtcdClient> client_;
};

TEST_F(EtcdWatchTest, DeliversPutsAndDeletesUnderThePrefixInOrder) {
  Collector collector;
  auto watch = client_->Watch("/w/", 0, collector.Callback());
  ASSERT_TRUE(watch.ok()) << watch.status();
  EXPECT_GT((*watch)->created_revision(), 0);

  Result<int64_t> put_a = client_->Put("/w/a", "1");
  ASSERT_TRUE(put_a.ok()) << put_a.status();
  ASSERT_TRUE(client_->Put("/w0", "outside, just after the prefix").ok());
  ASSERT_TRUE(client_->Put("/v/a", "outside").ok());
  ASSERT_TRUE(client_->Put(std::string("/w/\xff\x00", 5), std::string("\x00\xff", 2)).ok());
  ASSERT_TRUE(client_->Delete("/w/a").ok());

  std::vector<WatchEvent> events = collector.WaitForEvents(3);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].type, WatchEvent::Type::kPut);
  EXPECT_EQ(events[0].kv.key, "/w/a");
  EXPECT_EQ(events[0].kv.value, "1");
  EXPECT_EQ(events[0].kv.mod_revision, *put_a);
  EXPECT_EQ(events[1].kv.key, std::string("/w/\xff\x00", 5));
  EXPECT_EQ(events[1].kv.value, std::string("\x00\xff", 2));
  EXPECT_EQ(events[2].type, WatchEvent::Type::kDelete);
  EXPECT_EQ(events[2].kv.key, "/w/a");
  EXPECT_GT(events[2].kv.mod_revision, events[1].kv.mod_revision);
  // Destroying the watch ends it without a final callback.
  watch->reset();
  EXPECT_EQ(collector.after_end(), 0);
}

TEST_F(EtcdWatchTest, ReplaysFromAPastRevision) {
  Result<int64_t> first = client_->Put("/r/k", "1");
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(client_->Put("/r/k", "2").ok());
  Collector collector;
  auto watch = client_->Watch("/r/", *first, collector.Callback());
  ASSERT_TRUE(watch.ok()) << watch.status();
  std::vector<WatchEvent> events = collector.WaitForEvents(2);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kv.value, "1");
  EXPECT_EQ(events[1].kv.value, "2");
  EXPECT_EQ(events[1].kv.version, 2);
}

TEST_F(EtcdWatchTest, CompactedStartRevisionEndsTheWatch) {
  Result<int64_t> first = client_->Put("/c/k", "1");
  ASSERT_TRUE(first.ok()) << first.status();
  Result<int64_t> last = client_->Put("/c/k", "2");
  ASSERT_TRUE(last.ok()) << last.status();
  ASSERT_TRUE(client_->Compact(*last).ok());
  Collector collector;
  auto watch = client_->Watch("/c/", *first, collector.Callback());
  ASSERT_TRUE(watch.ok()) << watch.status();
  std::optional<Status> end = collector.WaitForEnd();
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->code(), StatusCode::kFailedPrecondition) << *end;
  EXPECT_EQ(collector.compact_revision(), *last);
  EXPECT_TRUE(collector.WaitForEvents(0).empty());
}

TEST_F(EtcdWatchTest, EtcdDyingEndsTheWatchWithUnavailable) {
  Collector collector;
  auto watch = client_->Watch("/d/", 0, collector.Callback());
  ASSERT_TRUE(watch.ok()) << watch.status();
  etcd_->Kill9();
  std::optional<Status> end = collector.WaitForEnd();
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->code(), StatusCode::kUnavailable) << *end;
}

TEST_F(EtcdWatchTest, FailsOverAndReportsUnreachableEndpoints) {
  const std::string dead = "127.0.0.1:" + std::to_string(PickFreePort());
  Result<std::unique_ptr<EtcdClient>> both =
      EtcdClient::Create({dead, etcd_->client_address()}, kCallTimeout);
  ASSERT_TRUE(both.ok()) << both.status();
  Collector collector;
  auto watch = (*both)->Watch("/f/", 0, collector.Callback());
  ASSERT_TRUE(watch.ok()) << watch.status();
  ASSERT_TRUE(client_->Put("/f/k", "v").ok());
  EXPECT_EQ(collector.WaitForEvents(1).size(), 1u);

  Result<std::unique_ptr<EtcdClient>> none = EtcdClient::Create({dead}, kCallTimeout);
  ASSERT_TRUE(none.ok()) << none.status();
  auto refused = (*none)->Watch("/f/", 0, collector.Callback());
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable) << refused.status();
}

// A listener that takes connections into its backlog but never answers:
// Start gives up at the call timeout and no callback ever runs.
TEST_F(EtcdWatchTest, SilentServerHitsTheDeadline) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(fd, 8), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  Result<std::unique_ptr<EtcdClient>> silent =
      EtcdClient::Create({"127.0.0.1:" + std::to_string(ntohs(addr.sin_port))}, milliseconds(300));
  ASSERT_TRUE(silent.ok()) << silent.status();
  Collector collector;
  auto watch = (*silent)->Watch("/s/", 0, collector.Callback());
  EXPECT_EQ(watch.status().code(), StatusCode::kUnavailable) << watch.status();
  EXPECT_NE(watch.status().message().find("deadline exceeded"), std::string::npos)
      << watch.status();
  // Start has stopped and joined the watch thread before returning.
  EXPECT_EQ(collector.calls(), 0);
  ::close(fd);
}

}  // namespace
}  // namespace halfmq::cluster
