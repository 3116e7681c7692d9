#include "broker/producer_registry.h"

#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "broker/test_util.h"
#include "common/limits.h"

namespace halfmq::broker {
namespace {

// The registry never sends on its connections; they only need an identity.
using IdOnlyConnection = test_util::RecordingConnection;

TEST(ProducerRegistryTest, NoProducerUntilRegistered) {
  ProducerRegistry r({});
  std::shared_ptr<Connection> picked;
  EXPECT_EQ(r.PickConnection(ProducerGroup("pg"), 0, &picked), ProducerRegistry::Pick::kNoProducer);
  auto c = std::make_shared<IdOnlyConnection>(1);
  r.Register(c, ProducerGroup("pg"), 0);
  EXPECT_TRUE(r.HasProducer(ProducerGroup("pg")));
  EXPECT_EQ(r.PickConnection(ProducerGroup("pg"), 0, &picked), ProducerRegistry::Pick::kPicked);
  EXPECT_EQ(picked->id(), 1u);
  r.Unregister(1);
  EXPECT_FALSE(r.HasProducer(ProducerGroup("pg")));
}

TEST(ProducerRegistryTest, RoundRobinAndPerConnectionBound) {
  ProducerRegistryOptions o;
  o.max_checks_per_connection = 2;
  o.check_rate_per_group = 1000;
  ProducerRegistry r(o);
  auto a = std::make_shared<IdOnlyConnection>(1);
  auto b = std::make_shared<IdOnlyConnection>(2);
  r.Register(a, ProducerGroup("pg"), 0);
  r.Register(b, ProducerGroup("pg"), 0);
  std::vector<uint64_t> order;
  std::shared_ptr<Connection> picked;
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(r.PickConnection(ProducerGroup("pg"), 0, &picked), ProducerRegistry::Pick::kPicked);
    order.push_back(picked->id());
  }
  EXPECT_EQ(order, (std::vector<uint64_t>{1, 2, 1, 2}));
  EXPECT_EQ(r.PickConnection(ProducerGroup("pg"), 0, &picked), ProducerRegistry::Pick::kBusy);
  EXPECT_EQ(r.Outstanding(1), 2u);
  r.Release(1, false, 0);
  ASSERT_EQ(r.PickConnection(ProducerGroup("pg"), 0, &picked), ProducerRegistry::Pick::kPicked);
  EXPECT_EQ(picked->id(), 1u);
}

TEST(ProducerRegistryTest, AdvertisedMaxOnlyLowersTheBound) {
  ProducerRegistryOptions o;
  o.max_checks_per_connection = 4;
  ProducerRegistry r(o);
  auto a = std::make_shared<IdOnlyConnection>(1);
  r.Register(a, ProducerGroup("pg"), 1);
  std::shared_ptr<Connection> picked;
  EXPECT_EQ(r.PickConnection(ProducerGroup("pg"), 0, &picked), ProducerRegistry::Pick::kPicked);
  EXPECT_EQ(r.PickConnection(ProducerGroup("pg"), 0, &picked), ProducerRegistry::Pick::kBusy);
  EXPECT_EQ(r.Capacity(ProducerGroup("pg"), 0), 0u);
}

TEST(ProducerRegistryTest, TokenBucketLimitsChecksPerGroup) {
  ProducerRegistryOptions o;
  o.max_checks_per_connection = 100;
  o.check_rate_per_group = 2;  // burst 2, then 2 per second
  ProducerRegistry r(o);
  auto a = std::make_shared<IdOnlyConnection>(1);
  r.Register(a, ProducerGroup("pg"), 0);
  std::shared_ptr<Connection> picked;
  EXPECT_EQ(r.PickConnection(ProducerGroup("pg"), 1000, &picked), ProducerRegistry::Pick::kPicked);
  EXPECT_EQ(r.PickConnection(ProducerGroup("pg"), 1000, &picked), ProducerRegistry::Pick::kPicked);
  EXPECT_EQ(r.PickConnection(ProducerGroup("pg"), 1000, &picked), ProducerRegistry::Pick::kRateLimited);
  EXPECT_EQ(r.PickConnection(ProducerGroup("pg"), 1500, &picked), ProducerRegistry::Pick::kPicked);
  EXPECT_EQ(r.PickConnection(ProducerGroup("pg"), 1500, &picked), ProducerRegistry::Pick::kRateLimited);
}

TEST(ProducerRegistryTest, FailingConnectionIsSkippedWhileOthersCanServe) {
  ProducerRegistryOptions o;
  o.failing_cooldown_ms = 1000;
  ProducerRegistry r(o);
  auto a = std::make_shared<IdOnlyConnection>(1);
  auto b = std::make_shared<IdOnlyConnection>(2);
  r.Register(a, ProducerGroup("pg"), 0);
  r.Register(b, ProducerGroup("pg"), 0);
  std::shared_ptr<Connection> picked;
  ASSERT_EQ(r.PickConnection(ProducerGroup("pg"), 0, &picked), ProducerRegistry::Pick::kPicked);
  uint64_t first = picked->id();
  r.Release(first, /*failed=*/true, 0);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(r.PickConnection(ProducerGroup("pg"), 10, &picked), ProducerRegistry::Pick::kPicked);
    EXPECT_NE(picked->id(), first);
    r.Release(picked->id(), false, 10);
  }
  // After the cool-down it is used again.
  bool used_again = false;
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(r.PickConnection(ProducerGroup("pg"), 2000, &picked), ProducerRegistry::Pick::kPicked);
    used_again |= picked->id() == first;
    r.Release(picked->id(), false, 2000);
  }
  EXPECT_TRUE(used_again);
}

std::vector<ProducerGroup> GroupNames(size_t n, const std::string& prefix = "g") {
  std::vector<ProducerGroup> out;
  for (size_t i = 0; i < n; ++i) out.push_back(ProducerGroup(prefix + std::to_string(i)));
  return out;
}

TEST(ProducerRegistryTest, AConnectionServesAtMost64Groups) {
  ProducerRegistry r({});
  auto a = std::make_shared<IdOnlyConnection>(1);
  for (const ProducerGroup& g : GroupNames(kMaxProducerGroupsPerConnection)) {
    EXPECT_EQ(r.Register(a, g, 0), ProducerRegistry::Join::kJoined) << g;
  }
  EXPECT_EQ(r.Register(a, ProducerGroup("g0"), 0), ProducerRegistry::Join::kAlreadyMember);
  // The 65th group (a SendHalf's) is refused: nothing changes, also not on
  // a second try.
  EXPECT_EQ(r.Register(a, ProducerGroup("one-too-many"), 0), ProducerRegistry::Join::kOverLimit);
  EXPECT_EQ(r.Register(a, ProducerGroup("one-too-many"), 0), ProducerRegistry::Join::kOverLimit);
  EXPECT_FALSE(r.HasProducer(ProducerGroup("one-too-many")));
  EXPECT_EQ(r.GroupCount(1), kMaxProducerGroupsPerConnection);
  // Other connections are not affected by this one's groups.
  auto b = std::make_shared<IdOnlyConnection>(2);
  EXPECT_EQ(r.Register(b, ProducerGroup("one-too-many"), 0), ProducerRegistry::Join::kJoined);
  EXPECT_TRUE(r.HasProducer(ProducerGroup("one-too-many")));
}

TEST(ProducerRegistryTest, RegisterAllJoinsAllOrNone) {
  ProducerRegistry r({});
  auto a = std::make_shared<IdOnlyConnection>(1);
  ASSERT_TRUE(r.RegisterAll(a, GroupNames(60), 0).ok());
  EXPECT_EQ(r.GroupCount(1), 60u);
  // Groups it serves already and repeats within the list count once.
  std::vector<ProducerGroup> again = GroupNames(60);
  for (int i = 0; i < 4; ++i) again.push_back(ProducerGroup("new" + std::to_string(i)));
  again.push_back(ProducerGroup("new0"));
  ASSERT_TRUE(r.RegisterAll(a, again, 0).ok());
  EXPECT_EQ(r.GroupCount(1), 64u);
  // One more would make 65: refused, nothing joined.
  Status s = r.RegisterAll(a, {ProducerGroup("late0"), ProducerGroup("new0")}, 0);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("64"), std::string::npos) << s;
  EXPECT_FALSE(r.HasProducer(ProducerGroup("late0")));
  EXPECT_EQ(r.GroupCount(1), 64u);
  // A fresh connection with 65 at once: refused, not even created.
  auto b = std::make_shared<IdOnlyConnection>(2);
  EXPECT_FALSE(r.RegisterAll(b, GroupNames(65, "b"), 0).ok());
  EXPECT_FALSE(r.HasProducer(ProducerGroup("b0")));
  EXPECT_EQ(r.GroupCount(2), 0u);
}

// Unregister swaps the last member into the leaver's place: every remaining
// member is still picked, and only they are.
TEST(ProducerRegistryTest, UnregisterKeepsTheOtherMembersInRotation) {
  ProducerRegistryOptions o;
  o.check_rate_per_group = 1e6;
  ProducerRegistry r(o);
  std::vector<std::shared_ptr<Connection>> conns;
  for (uint64_t id = 1; id <= 6; ++id) {
    conns.push_back(std::make_shared<IdOnlyConnection>(id));
    ASSERT_TRUE(r.RegisterAll(conns.back(), {ProducerGroup("pg"), ProducerGroup("other")}, 0).ok());
  }
  r.Unregister(2);
  r.Unregister(6);  // the last member
  r.Unregister(1);  // the first
  std::set<uint64_t> seen;
  std::shared_ptr<Connection> picked;
  for (int i = 0; i < 6; ++i) {
    ASSERT_EQ(r.PickConnection(ProducerGroup("pg"), 0, &picked), ProducerRegistry::Pick::kPicked);
    seen.insert(picked->id());
    r.Release(picked->id(), false, 0);
  }
  EXPECT_EQ(seen, (std::set<uint64_t>{3, 4, 5}));
  EXPECT_EQ(r.Groups(), (std::vector<ProducerGroup>{ProducerGroup("other"), ProducerGroup("pg")}));
  for (uint64_t id = 3; id <= 5; ++id) r.Unregister(id);
  EXPECT_FALSE(r.HasProducer(ProducerGroup("pg")));
  EXPECT_TRUE(r.Groups().empty());
}

// Many connections in one group and many groups of one connection: joining
// and leaving stay cheap (with the old vector scans this was quadratic, and
// 80k groups took seconds); no timing is asserted, only the bookkeeping.
TEST(ProducerRegistryTest, ManyMembersJoinAndLeave) {
  ProducerRegistry r({});
  constexpr uint64_t kConnections = 20000;
  std::vector<std::shared_ptr<Connection>> conns;
  for (uint64_t id = 1; id <= kConnections; ++id) {
    conns.push_back(std::make_shared<IdOnlyConnection>(id));
    ASSERT_TRUE(r.RegisterAll(conns.back(), {ProducerGroup("pay"), ProducerGroup("g" + std::to_string(id % 64))}, 0).ok());
  }
  EXPECT_EQ(r.Groups().size(), 65u);
  for (uint64_t id = 1; id < kConnections; ++id) r.Unregister(id);
  EXPECT_TRUE(r.HasProducer(ProducerGroup("pay")));
  std::shared_ptr<Connection> picked;
  ASSERT_EQ(r.PickConnection(ProducerGroup("pay"), 0, &picked), ProducerRegistry::Pick::kPicked);
  EXPECT_EQ(picked->id(), kConnections);
  r.Unregister(kConnections);
  EXPECT_TRUE(r.Groups().empty());
}

}  // namespace
}  // namespace halfmq::broker
