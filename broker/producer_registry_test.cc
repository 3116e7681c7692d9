#include "broker/producer_registry.h"

#include <gtest/gtest.h>

#include "broker/test_util.h"

namespace halfmq::broker {
namespace {

// The registry never sends on its connections; they only need an identity.
using IdOnlyConnection = test_util::RecordingConnection;

TEST(ProducerRegistryTest, NoProducerUntilRegistered) {
  ProducerRegistry r({});
  std::shared_ptr<Connection> picked;
  EXPECT_EQ(r.PickConnection("pg", 0, &picked), ProducerRegistry::Pick::kNoProducer);
  auto c = std::make_shared<IdOnlyConnection>(1);
  r.Register(c, "pg", 0);
  EXPECT_TRUE(r.HasProducer("pg"));
  EXPECT_EQ(r.PickConnection("pg", 0, &picked), ProducerRegistry::Pick::kPicked);
  EXPECT_EQ(picked->id(), 1u);
  r.Unregister(1);
  EXPECT_FALSE(r.HasProducer("pg"));
}

TEST(ProducerRegistryTest, RoundRobinAndPerConnectionBound) {
  ProducerRegistryOptions o;
  o.max_checks_per_connection = 2;
  o.check_rate_per_group = 1000;
  ProducerRegistry r(o);
  auto a = std::make_shared<IdOnlyConnection>(1);
  auto b = std::make_shared<IdOnlyConnection>(2);
  r.Register(a, "pg", 0);
  r.Register(b, "pg", 0);
  std::vector<uint64_t> order;
  std::shared_ptr<Connection> picked;
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(r.PickConnection("pg", 0, &picked), ProducerRegistry::Pick::kPicked);
    order.push_back(picked->id());
  }
  EXPECT_EQ(order, (std::vector<uint64_t>{1, 2, 1, 2}));
  EXPECT_EQ(r.PickConnection("pg", 0, &picked), ProducerRegistry::Pick::kBusy);
  EXPECT_EQ(r.Outstanding(1), 2u);
  r.Release(1, false, 0);
  ASSERT_EQ(r.PickConnection("pg", 0, &picked), ProducerRegistry::Pick::kPicked);
  EXPECT_EQ(picked->id(), 1u);
}

TEST(ProducerRegistryTest, AdvertisedMaxOnlyLowersTheBound) {
  ProducerRegistryOptions o;
  o.max_checks_per_connection = 4;
  ProducerRegistry r(o);
  auto a = std::make_shared<IdOnlyConnection>(1);
  r.Register(a, "pg", 1);
  std::shared_ptr<Connection> picked;
  EXPECT_EQ(r.PickConnection("pg", 0, &picked), ProducerRegistry::Pick::kPicked);
  EXPECT_EQ(r.PickConnection("pg", 0, &picked), ProducerRegistry::Pick::kBusy);
  EXPECT_EQ(r.Capacity("pg", 0), 0u);
}

TEST(ProducerRegistryTest, TokenBucketLimitsChecksPerGroup) {
  ProducerRegistryOptions o;
  o.max_checks_per_connection = 100;
  o.check_rate_per_group = 2;  // burst 2, then 2 per second
  ProducerRegistry r(o);
  auto a = std::make_shared<IdOnlyConnection>(1);
  r.Register(a, "pg", 0);
  std::shared_ptr<Connection> picked;
  EXPECT_EQ(r.PickConnection("pg", 1000, &picked), ProducerRegistry::Pick::kPicked);
  EXPECT_EQ(r.PickConnection("pg", 1000, &picked), ProducerRegistry::Pick::kPicked);
  EXPECT_EQ(r.PickConnection("pg", 1000, &picked), ProducerRegistry::Pick::kRateLimited);
  EXPECT_EQ(r.PickConnection("pg", 1500, &picked), ProducerRegistry::Pick::kPicked);
  EXPECT_EQ(r.PickConnection("pg", 1500, &picked), ProducerRegistry::Pick::kRateLimited);
}

TEST(ProducerRegistryTest, FailingConnectionIsSkippedWhileOthersCanServe) {
  ProducerRegistryOptions o;
  o.failing_cooldown_ms = 1000;
  ProducerRegistry r(o);
  auto a = std::make_shared<IdOnlyConnection>(1);
  auto b = std::make_shared<IdOnlyConnection>(2);
  r.Register(a, "pg", 0);
  r.Register(b, "pg", 0);
  std::shared_ptr<Connection> picked;
  ASSERT_EQ(r.PickConnection("pg", 0, &picked), ProducerRegistry::Pick::kPicked);
  uint64_t first = picked->id();
  r.Release(first, /*failed=*/true, 0);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(r.PickConnection("pg", 10, &picked), ProducerRegistry::Pick::kPicked);
    EXPECT_NE(picked->id(), first);
    r.Release(picked->id(), false, 10);
  }
  // After the cool-down it is used again.
  bool used_again = false;
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(r.PickConnection("pg", 2000, &picked), ProducerRegistry::Pick::kPicked);
    used_again |= picked->id() == first;
    r.Release(picked->id(), false, 2000);
  }
  EXPECT_TRUE(used_again);
}

}  // namespace
}  // namespace halfmq::broker
