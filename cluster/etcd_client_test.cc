#include "cluster/etcd_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/util/etcd_process.h"
#include "tests/util/eventually.h"
#include "tests/util/temp_dir.h"

namespace halfmq::cluster {
namespace {

using ::halfmq::testing::EtcdProcess;
using ::halfmq::testing::Eventually;
using ::halfmq::testing::PickFreePort;
using std::chrono::milliseconds;

constexpr milliseconds kCallTimeout(10000);

// One etcd for the suite (starting one takes about a second); each test
// works under its own key prefix.
class EtcdClientTest : public ::halfmq::testing::EtcdSuiteTest {
 protected:
  void SetUp() override {
    ASSERT_NE(etcd_, nullptr) << "etcd did not start";
    client_ = NewClient({etcd_->client_address()});
    ASSERT_NE(client_, nullptr);
    prefix_ = std::string("/test/") +
              ::testing::UnitTest::GetInstance()->current_test_info()->name() + "/";
  }

  static std::unique_ptr<EtcdClient> NewClient(const std::vector<std::string>& endpoints,
                                               milliseconds timeout = kCallTimeout) {
    Result<std::unique_ptr<EtcdClient>> client = EtcdClient::Create(endpoints, timeout);
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? std::move(*client) : nullptr;
  }

  static std::string DeadEndpoint() { return "127.0.0.1:" + std::to_string(PickFreePort()); }

  std::unique_ptr<EtcdClient> client_;
  std::string prefix_;
};

TEST(PrefixRangeEndTest, IncrementsTheLastByteThatCan) {
  EXPECT_EQ(PrefixRangeEnd("/a/"), "/a0");
  EXPECT_EQ(PrefixRangeEnd("ab"), "ac");
  EXPECT_EQ(PrefixRangeEnd(std::string("a\xff\xff", 3)), "b");
  EXPECT_EQ(PrefixRangeEnd(std::string("\xff", 1)), std::string(1, '\0'));
  EXPECT_EQ(PrefixRangeEnd(""), std::string(1, '\0'));
}

TEST(EtcdClientCreateTest, RejectsBadArguments) {
  EXPECT_EQ(EtcdClient::Create({}, kCallTimeout).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(EtcdClient::Create({"nohost"}, kCallTimeout).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(EtcdClient::Create({"127.0.0.1:0"}, kCallTimeout).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(EtcdClient::Create({"127.0.0.1:2379"}, milliseconds(0)).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(EtcdClientTest, PutGetPrefixDelete) {
  Result<std::optional<KeyValue>> missing = client_->Get(prefix_ + "a");
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_FALSE(missing->has_value());

  Result<int64_t> rev1 = client_->Put(prefix_ + "a", "1");
  ASSERT_TRUE(rev1.ok()) << rev1.status();
  Result<int64_t> rev2 = client_->Put(prefix_ + "b", "2");
  ASSERT_TRUE(rev2.ok()) << rev2.status();
  EXPECT_GT(*rev2, *rev1);
  Result<int64_t> rev3 = client_->Put(prefix_ + "a", "one");
  ASSERT_TRUE(rev3.ok()) << rev3.status();
  ASSERT_TRUE(client_->Put(prefix_ + "c", "outside").ok());
  ASSERT_TRUE(client_->Put(prefix_.substr(0, prefix_.size() - 1) + "0", "next prefix").ok());

  Result<std::optional<KeyValue>> a = client_->Get(prefix_ + "a");
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(a->has_value());
  EXPECT_EQ((*a)->key, prefix_ + "a");
  EXPECT_EQ((*a)->value, "one");
  EXPECT_EQ((*a)->create_revision, *rev1);
  EXPECT_EQ((*a)->mod_revision, *rev3);
  EXPECT_EQ((*a)->version, 2);
  EXPECT_EQ((*a)->lease, 0);

  Result<RangeResult> all = client_->GetPrefix(prefix_);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->kvs.size(), 3u);
  EXPECT_EQ(all->kvs[0].key, prefix_ + "a");
  EXPECT_EQ(all->kvs[1].value, "2");
  EXPECT_EQ(all->kvs[2].key, prefix_ + "c");
  EXPECT_GE(all->revision, *rev3);

  Result<int64_t> deleted = client_->Delete(prefix_ + "b");
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 1);
  Result<int64_t> again = client_->Delete(prefix_ + "b");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, 0);
  Result<RangeResult> rest = client_->GetPrefix(prefix_);
  ASSERT_TRUE(rest.ok()) << rest.status();
  EXPECT_EQ(rest->kvs.size(), 2u);
}

TEST_F(EtcdClientTest, BinaryKeysAndValues) {
  const std::string key = prefix_ + std::string("\x00\xff\x01k", 4);
  const std::string value = std::string("\x00\xff\xfe\x80 \"\\\n", 8);
  ASSERT_TRUE(client_->Put(key, value).ok());
  ASSERT_TRUE(client_->Put(prefix_ + std::string("\xff\xff", 2), "").ok());
  Result<std::optional<KeyValue>> got = client_->Get(key);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->value, value);
  Result<RangeResult> all = client_->GetPrefix(prefix_);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->kvs.size(), 2u);
  EXPECT_EQ(all->kvs[0].key, key);
  EXPECT_EQ(all->kvs[1].key, prefix_ + std::string("\xff\xff", 2));
  EXPECT_EQ(all->kvs[1].value, "");
}

TEST_F(EtcdClientTest, CompareAndSwapSucceedsThenFails) {
  const std::string key = prefix_ + "epoch";
  // Create only if absent (version 0), reading the key back in the same txn.
  Result<TxnResult> create =
      client_->Txn({Compare::Version(key, Compare::Op::kEqual, 0)},
                   {TxnOp::Put(key, "1"), TxnOp::Get(key)}, {TxnOp::Get(key)});
  ASSERT_TRUE(create.ok()) << create.status();
  EXPECT_TRUE(create->succeeded);
  ASSERT_EQ(create->responses.size(), 2u);
  EXPECT_EQ(create->responses[0].type, TxnOp::Type::kPut);
  ASSERT_EQ(create->responses[1].kvs.size(), 1u);
  const int64_t mod = create->responses[1].kvs[0].mod_revision;
  EXPECT_EQ(mod, create->revision);

  // Swap on value and mod_revision: succeeds.
  Result<TxnResult> swap =
      client_->Txn({Compare::Value(key, Compare::Op::kEqual, "1"),
                    Compare::ModRevision(key, Compare::Op::kEqual, mod),
                    Compare::CreateRevision(key, Compare::Op::kEqual, mod)},
                   {TxnOp::Put(key, "2"), TxnOp::Delete(prefix_ + "other")}, {});
  ASSERT_TRUE(swap.ok()) << swap.status();
  EXPECT_TRUE(swap->succeeded);
  ASSERT_EQ(swap->responses.size(), 2u);
  EXPECT_EQ(swap->responses[1].type, TxnOp::Type::kDelete);
  EXPECT_EQ(swap->responses[1].deleted, 0);

  // The same swap again: the value moved on, so the else branch runs.
  Result<TxnResult> stale = client_->Txn({Compare::Value(key, Compare::Op::kEqual, "1")},
                                         {TxnOp::Put(key, "3")}, {TxnOp::GetPrefix(prefix_)});
  ASSERT_TRUE(stale.ok()) << stale.status();
  EXPECT_FALSE(stale->succeeded);
  ASSERT_EQ(stale->responses.size(), 1u);
  ASSERT_EQ(stale->responses[0].kvs.size(), 1u);
  EXPECT_EQ(stale->responses[0].kvs[0].value, "2");
  EXPECT_EQ(stale->responses[0].kvs[0].version, 2);
  // Greater/Less/NotEqual on numbers.
  Result<TxnResult> ordered = client_->Txn({Compare::Version(key, Compare::Op::kGreater, 1),
                                            Compare::Version(key, Compare::Op::kLess, 3),
                                            Compare::ModRevision(key, Compare::Op::kNotEqual, mod)},
                                           {}, {});
  ASSERT_TRUE(ordered.ok()) << ordered.status();
  EXPECT_TRUE(ordered->succeeded);
  Result<std::optional<KeyValue>> final_value = client_->Get(key);
  ASSERT_TRUE(final_value.ok() && final_value->has_value());
  EXPECT_EQ((*final_value)->value, "2");
}

TEST_F(EtcdClientTest, LeaseKeepAliveAndRevokeRemovesKeys) {
  Result<Lease> lease = client_->GrantLease(30);
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_NE(lease->id, 0);
  EXPECT_EQ(lease->ttl_s, 30);
  const std::string key = prefix_ + "registration";
  ASSERT_TRUE(client_->Put(key, "10.0.0.1:9876", lease->id).ok());
  Result<std::optional<KeyValue>> got = client_->Get(key);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->lease, lease->id);

  Result<int64_t> ttl = client_->KeepAliveOnce(lease->id);
  ASSERT_TRUE(ttl.ok()) << ttl.status();
  EXPECT_GT(*ttl, 0);

  ASSERT_TRUE(client_->RevokeLease(lease->id).ok());
  Result<std::optional<KeyValue>> gone = client_->Get(key);
  ASSERT_TRUE(gone.ok()) << gone.status();
  EXPECT_FALSE(gone->has_value());
  EXPECT_EQ(client_->KeepAliveOnce(lease->id).status().code(), StatusCode::kNotFound);
  Status again = client_->RevokeLease(lease->id);
  EXPECT_EQ(again.code(), StatusCode::kNotFound) << again;
  EXPECT_NE(again.message().find("lease not found"), std::string::npos) << again;
  Result<int64_t> put = client_->Put(key, "x", lease->id);
  EXPECT_EQ(put.status().code(), StatusCode::kNotFound) << put.status();
}

TEST_F(EtcdClientTest, KeyVanishesWhenLeaseExpires) {
  Result<Lease> lease = client_->GrantLease(2);
  ASSERT_TRUE(lease.ok()) << lease.status();
  const std::string key = prefix_ + "ephemeral";
  ASSERT_TRUE(client_->Put(key, "v", lease->id).ok());
  // etcd expires it after the TTL; the bound only turns a hang into a failure.
  EXPECT_TRUE(Eventually(
      [&] {
        Result<std::optional<KeyValue>> got = client_->Get(key);
        return got.ok() && !got->has_value();
      },
      20000));
  EXPECT_EQ(client_->KeepAliveOnce(lease->id).status().code(), StatusCode::kNotFound);
}

TEST_F(EtcdClientTest, FailsOverToTheNextEndpoint) {
  std::unique_ptr<EtcdClient> client = NewClient({DeadEndpoint(), etcd_->client_address()});
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Put(prefix_ + "k", "v").ok());
  Result<std::optional<KeyValue>> got = client->Get(prefix_ + "k");
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->value, "v");
}

TEST_F(EtcdClientTest, NoEndpointReachableIsUnavailable) {
  std::unique_ptr<EtcdClient> client = NewClient({DeadEndpoint(), DeadEndpoint()});
  ASSERT_NE(client, nullptr);
  Result<int64_t> put = client->Put(prefix_ + "k", "v");
  EXPECT_EQ(put.status().code(), StatusCode::kUnavailable) << put.status();
  EXPECT_NE(put.status().message().find("no endpoint reachable"), std::string::npos)
      << put.status();
}

// etcd's peer port is an HTTP server but not the JSON gateway.
TEST_F(EtcdClientTest, AnswerThatIsNotTheGatewayIsInternal) {
  std::unique_ptr<EtcdClient> client = NewClient({etcd_->peer_address()});
  ASSERT_NE(client, nullptr);
  Result<std::optional<KeyValue>> got = client->Get(prefix_ + "k");
  EXPECT_EQ(got.status().code(), StatusCode::kInternal) << got.status();
}

TEST_F(EtcdClientTest, EtcdErrorsKeepTheirMessage) {
  // etcd refuses an empty key.
  Result<int64_t> put = client_->Put("", "v");
  EXPECT_EQ(put.status().code(), StatusCode::kInvalidArgument) << put.status();
  EXPECT_NE(put.status().message().find("etcdserver: key is not provided"), std::string::npos)
      << put.status();
}

// The client is thread-safe: calls from several threads all complete.
TEST_F(EtcdClientTest, ConcurrentCallsFromSeveralThreads) {
  constexpr int kThreads = 4;
  constexpr int kPutsEach = 20;
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPutsEach; ++i) {
        const std::string key = prefix_ + std::to_string(t) + "/" + std::to_string(i);
        if (!client_->Put(key, "v").ok()) ++failures[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;
  Result<RangeResult> all = client_->GetPrefix(prefix_);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->kvs.size(), static_cast<size_t>(kThreads * kPutsEach));
}

// A listener that accepts connections into its backlog but never answers.
TEST_F(EtcdClientTest, SilentServerHitsTheDeadline) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(fd, 8), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  std::unique_ptr<EtcdClient> client =
      NewClient({"127.0.0.1:" + std::to_string(ntohs(addr.sin_port)), etcd_->client_address()},
                milliseconds(300));
  ASSERT_NE(client, nullptr);
  Result<int64_t> put = client->Put(prefix_ + "k", "v");
  EXPECT_EQ(put.status().code(), StatusCode::kUnavailable) << put.status();
  EXPECT_NE(put.status().message().find("deadline exceeded (outcome unknown)"), std::string::npos)
      << put.status();
  ::close(fd);
}

}  // namespace
}  // namespace halfmq::cluster
