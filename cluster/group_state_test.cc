#include "cluster/group_state.h"

#include <atomic>
#include <chrono>
#include <latch>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "cluster/etcd_client.h"
#include "tests/util/etcd_process.h"
#include "tests/util/temp_dir.h"

namespace halfmq::cluster {
namespace {

using ::halfmq::testing::EtcdProcess;

constexpr std::chrono::milliseconds kCallTimeout(10000);
constexpr char kKey[] = "/halfmq/c/groups/g/state";

GroupState SampleState() {
  GroupState state;
  state.epoch = 3;
  state.primary = "b2";
  state.in_sync = {{"b2", 17}, {"b1", 9}};
  state.history = {{1, 1}, {2, 40}, {3, 18446744073709551615ULL}};
  return state;
}

TEST(GroupStateCodecTest, RoundTrips) {
  GroupState state = SampleState();
  Result<GroupState> decoded = DecodeGroupState(kKey, EncodeGroupState(state));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, state);

  BrokerRegistration registration{"127.0.0.1:7001", 123};
  Result<BrokerRegistration> reg =
      DecodeBrokerRegistration(kKey, EncodeBrokerRegistration(registration));
  ASSERT_TRUE(reg.ok()) << reg.status();
  EXPECT_EQ(*reg, registration);

  PrimaryRecord primary{"b2", 3};
  Result<PrimaryRecord> rec = DecodePrimaryRecord(kKey, EncodePrimaryRecord(primary));
  ASSERT_TRUE(rec.ok()) << rec.status();
  EXPECT_EQ(*rec, primary);
}

TEST(GroupStateCodecTest, IgnoresUnknownMembers) {
  Result<PrimaryRecord> rec =
      DecodePrimaryRecord(kKey, R"({"broker_id":"b1","epoch":2,"added_later":[1]})");
  ASSERT_TRUE(rec.ok()) << rec.status();
  EXPECT_EQ(*rec, (PrimaryRecord{"b1", 2}));
}

void ExpectMalformed(const Status& status, const std::string& input) {
  EXPECT_EQ(status.code(), StatusCode::kInternal) << input << ": " << status;
  EXPECT_NE(status.message().find(kKey), std::string::npos) << input << ": " << status;
}

TEST(GroupStateCodecTest, RejectsMalformedState) {
  const std::string ok_tail = R"(,"in_sync":[{"broker_id":"b1","incarnation":5}],)"
                              R"("history":[{"epoch":1,"first_sequence":1}]})";
  const std::vector<std::string> bad = {
      "",
      "not json",
      "[]",
      R"({"epoch":1,"primary":"b1"})",
      R"({"primary":"b1")" + ok_tail,
      R"({"epoch":0,"primary":"b1")" + ok_tail,
      R"({"epoch":"x","primary":"b1")" + ok_tail,
      R"({"epoch":1.5,"primary":"b1")" + ok_tail,
      R"({"epoch":1,"primary":""})" + ok_tail,
      R"({"epoch":1,"primary":7})" + ok_tail,
      R"({"epoch":1,"primary":"b1","in_sync":{},"history":[{"epoch":1,"first_sequence":1}]})",
      R"({"epoch":1,"primary":"b1","in_sync":[1],"history":[{"epoch":1,"first_sequence":1}]})",
      R"({"epoch":1,"primary":"b1","in_sync":[{"broker_id":"b1","incarnation":0}],)"
      R"("history":[{"epoch":1,"first_sequence":1}]})",
      R"({"epoch":1,"primary":"b1","in_sync":[{"broker_id":"b1","incarnation":5},)"
      R"({"broker_id":"b1","incarnation":6}],"history":[{"epoch":1,"first_sequence":1}]})",
      R"({"epoch":1,"primary":"b1","in_sync":[],"history":[]})",
      R"({"epoch":2,"primary":"b1","in_sync":[],"history":[{"epoch":1,"first_sequence":1}]})",
      R"({"epoch":2,"primary":"b1","in_sync":[],"history":[{"epoch":2,"first_sequence":1},)"
      R"({"epoch":2,"first_sequence":3}]})",
      R"({"epoch":1,"primary":"b1","in_sync":[],"history":[{"epoch":1,"first_sequence":-1}]})",
  };
  for (const std::string& input : bad) {
    ExpectMalformed(DecodeGroupState(kKey, input).status(), input);
  }
}

TEST(GroupStateCodecTest, RejectsMalformedRegistrationAndPrimary) {
  for (const std::string input : {"{}", R"({"address":"a"})", R"({"address":1,"last_sequence":1})",
                                  R"({"address":"a","last_sequence":-2})", "[1]"}) {
    ExpectMalformed(DecodeBrokerRegistration(kKey, input).status(), input);
  }
  for (const std::string input : {"{}", R"({"broker_id":"","epoch":1})",
                                  R"({"broker_id":"b","epoch":0})", R"({"epoch":1})", "null"}) {
    ExpectMalformed(DecodePrimaryRecord(kKey, input).status(), input);
  }
}

TEST(GroupStateKeysTest, LayoutAndSegments) {
  EXPECT_EQ(BrokerKey("prod", "g1", "b-1"), "/halfmq/prod/brokers/g1/b-1");
  EXPECT_EQ(BrokersPrefix("prod", "g1"), "/halfmq/prod/brokers/g1/");
  EXPECT_EQ(GroupStateKey("prod", "g1"), "/halfmq/prod/groups/g1/state");
  EXPECT_EQ(PrimaryKey("prod", "g1"), "/halfmq/prod/groups/g1/primary");
  EXPECT_TRUE(ValidateKeySegment("group", "a.B_9-z").ok());
  for (const std::string& bad :
       std::vector<std::string>{"", "a/b", "..", ".", "a b", std::string(129, 'a')}) {
    EXPECT_EQ(ValidateKeySegment("group", bad).code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(GroupStateKeysTest, InSyncNeedsTheSameIncarnation) {
  GroupState state = SampleState();
  EXPECT_TRUE(state.IsInSync("b1", 9));
  EXPECT_FALSE(state.IsInSync("b1", 10));
  EXPECT_FALSE(state.IsInSync("b3", 9));
}

// One etcd for the suite; each test uses its own cluster name.
class GroupCoordinatorTest : public ::halfmq::testing::EtcdSuiteTest {
 protected:
  void SetUp() override {
    ASSERT_NE(etcd_, nullptr) << "etcd did not start";
    client_ = NewClient();
    ASSERT_NE(client_, nullptr);
    cluster_ = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }

  static std::unique_ptr<EtcdClient> NewClient() {
    Result<std::unique_ptr<EtcdClient>> client =
        EtcdClient::Create({etcd_->client_address()}, kCallTimeout);
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? std::move(*client) : nullptr;
  }

  GroupCoordinator Coordinator(const std::string& broker_id, EtcdClient* client = nullptr) {
    return GroupCoordinator(client != nullptr ? client : client_.get(), cluster_, "g", broker_id);
  }

  int64_t NewLease() {
    Result<Lease> lease = client_->GrantLease(30);
    EXPECT_TRUE(lease.ok()) << lease.status();
    return lease.ok() ? lease->id : 0;
  }

  std::optional<PrimaryRecord> ReadPrimaryKey() {
    Result<std::optional<KeyValue>> kv = client_->Get(PrimaryKey(cluster_, "g"));
    EXPECT_TRUE(kv.ok()) << kv.status();
    if (!kv.ok() || !kv->has_value()) return std::nullopt;
    Result<PrimaryRecord> record = DecodePrimaryRecord("primary", (*kv)->value);
    EXPECT_TRUE(record.ok()) << record.status();
    return record.ok() ? std::optional<PrimaryRecord>(*record) : std::nullopt;
  }

  // Registers `c` on `lease` and returns its incarnation.
  static int64_t Registered(GroupCoordinator& c, int64_t lease, uint64_t last_sequence = 0) {
    Result<int64_t> incarnation = c.Register("127.0.0.1:1", last_sequence, lease);
    EXPECT_TRUE(incarnation.ok()) << incarnation.status();
    return incarnation.ok() ? *incarnation : 0;
  }

  std::unique_ptr<EtcdClient> client_;
  std::string cluster_;
};

TEST_F(GroupCoordinatorTest, RegistrationIncarnationChangesWithANewLease) {
  GroupCoordinator b1 = Coordinator("b1");
  int64_t lease1 = NewLease();
  int64_t first = Registered(b1, lease1, 5);
  EXPECT_GT(first, 0);
  EXPECT_EQ(Registered(b1, lease1, 8), first);  // same lease: same incarnation

  Result<std::optional<KeyValue>> kv = client_->Get(BrokerKey(cluster_, "g", "b1"));
  ASSERT_TRUE(kv.ok() && kv->has_value());
  Result<BrokerRegistration> reg = DecodeBrokerRegistration("b1", (*kv)->value);
  ASSERT_TRUE(reg.ok()) << reg.status();
  EXPECT_EQ(*reg, (BrokerRegistration{"127.0.0.1:1", 8}));
  EXPECT_EQ((*kv)->lease, lease1);

  int64_t lease2 = NewLease();
  int64_t second = Registered(b1, lease2);
  EXPECT_GT(second, first);
  kv = client_->Get(BrokerKey(cluster_, "g", "b1"));
  ASSERT_TRUE(kv.ok() && kv->has_value());
  EXPECT_EQ((*kv)->lease, lease2);

  ASSERT_TRUE(client_->RevokeLease(lease2).ok());
  kv = client_->Get(BrokerKey(cluster_, "g", "b1"));
  ASSERT_TRUE(kv.ok());
  EXPECT_FALSE(kv->has_value());
  EXPECT_GT(Registered(b1, NewLease()), second);

  EXPECT_EQ(b1.Register("a", 0, 123456789).status().code(), StatusCode::kNotFound);
}

TEST_F(GroupCoordinatorTest, BootstrapsOnce) {
  GroupCoordinator b1 = Coordinator("b1");
  GroupCoordinator b2 = Coordinator("b2");
  Result<VersionedGroupState> empty = b1.ReadState();
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(empty->mod_revision, 0);
  EXPECT_EQ(empty->state, GroupState());

  int64_t lease1 = NewLease();
  int64_t inc1 = Registered(b1, lease1);
  Result<bool> first = b1.Bootstrap(inc1, 41, lease1);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(*first);
  int64_t lease2 = NewLease();
  Result<bool> second = b2.Bootstrap(Registered(b2, lease2), 0, lease2);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE(*second);

  Result<VersionedGroupState> read = b2.ReadState();
  ASSERT_TRUE(read.ok()) << read.status();
  GroupState expected{1, "b1", {{"b1", inc1}}, {{1, 42}}};
  EXPECT_EQ(read->state, expected);
  EXPECT_GT(read->mod_revision, 0);
  EXPECT_EQ(ReadPrimaryKey(), (PrimaryRecord{"b1", 1}));
}

TEST_F(GroupCoordinatorTest, PrimaryKeyVanishesWhenItsLeaseIsRevoked) {
  GroupCoordinator b1 = Coordinator("b1");
  int64_t lease = NewLease();
  Result<bool> boot = b1.Bootstrap(Registered(b1, lease), 0, lease);
  ASSERT_TRUE(boot.ok() && *boot) << boot.status();
  ASSERT_TRUE(ReadPrimaryKey().has_value());
  ASSERT_TRUE(client_->RevokeLease(lease).ok());
  EXPECT_FALSE(ReadPrimaryKey().has_value());
  // The state has no lease: it outlives the primary.
  Result<VersionedGroupState> read = b1.ReadState();
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->state.epoch, 1);
}

TEST_F(GroupCoordinatorTest, NoElectionWhilePrimaryKeyIsHeld) {
  GroupCoordinator b1 = Coordinator("b1");
  GroupCoordinator b2 = Coordinator("b2");
  int64_t lease1 = NewLease();
  Result<bool> boot = b1.Bootstrap(Registered(b1, lease1), 0, lease1);
  ASSERT_TRUE(boot.ok() && *boot);
  int64_t lease2 = NewLease();
  int64_t inc2 = Registered(b2, lease2);
  ASSERT_TRUE(b1.AddToInSync("b2", inc2, 1).ok());
  Result<ElectionResult> election = b2.TryElect(inc2, 0, lease2);
  ASSERT_TRUE(election.ok()) << election.status();
  EXPECT_FALSE(election->won);
  EXPECT_FALSE(election->reason.empty());
  EXPECT_EQ(ReadPrimaryKey(), (PrimaryRecord{"b1", 1}));
}

// Two replicas in the in-sync set race for primary, each on its own etcd
// connection, every time the primary's lease is revoked: exactly one wins.
TEST_F(GroupCoordinatorTest, ElectionRaceHasExactlyOneWinner) {
  GroupCoordinator b0 = Coordinator("b0");
  int64_t primary_lease = NewLease();
  Result<bool> boot = b0.Bootstrap(Registered(b0, primary_lease), 0, primary_lease);
  ASSERT_TRUE(boot.ok() && *boot);

  std::unique_ptr<EtcdClient> clients[2] = {NewClient(), NewClient()};
  ASSERT_TRUE(clients[0] && clients[1]);
  GroupCoordinator racers[2] = {Coordinator("r0", clients[0].get()),
                                Coordinator("r1", clients[1].get())};
  int64_t leases[2] = {NewLease(), NewLease()};
  int64_t incarnations[2] = {Registered(racers[0], leases[0]), Registered(racers[1], leases[1])};
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(b0.AddToInSync(racers[i].broker_id(), incarnations[i], 1).ok());
  }

  constexpr int kRounds = 5;
  for (int round = 0; round < kRounds; ++round) {
    ASSERT_TRUE(client_->RevokeLease(primary_lease).ok());
    Result<ElectionResult> results[2] = {Status::Internal("not run"), Status::Internal("not run")};
    std::latch start(2);
    std::vector<std::thread> threads;
    for (int i = 0; i < 2; ++i) {
      threads.emplace_back([&, i] {
        start.arrive_and_wait();
        results[i] = racers[i].TryElect(incarnations[i], 100 * round, leases[i]);
      });
    }
    for (std::thread& t : threads) t.join();
    ASSERT_TRUE(results[0].ok()) << results[0].status();
    ASSERT_TRUE(results[1].ok()) << results[1].status();
    ASSERT_NE(results[0]->won, results[1]->won) << "round " << round;
    int winner = results[0]->won ? 0 : 1;
    const int64_t epoch = round + 2;
    EXPECT_EQ(results[winner]->state.state.epoch, epoch);
    EXPECT_EQ(ReadPrimaryKey(), (PrimaryRecord{racers[winner].broker_id(), epoch}));
    Result<VersionedGroupState> read = b0.ReadState();
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_EQ(read->state, results[winner]->state.state);
    EXPECT_EQ(read->state.history.back(), (EpochStart{epoch, uint64_t(100 * round + 1)}));
    EXPECT_EQ(read->state.history.size(), size_t(epoch));

    // The winner's lease ends next round; it gets a fresh one, so its
    // registration (and in-sync incarnation) must follow.
    primary_lease = leases[winner];
    leases[winner] = NewLease();
    int64_t old = incarnations[winner];
    incarnations[winner] = Registered(racers[winner], leases[winner]);
    ASSERT_TRUE(
        racers[winner].AddToInSync(racers[winner].broker_id(), incarnations[winner], epoch).ok());
    EXPECT_NE(old, incarnations[winner]);
  }
}

TEST_F(GroupCoordinatorTest, ReplicaOutsideInSyncSetWinsOnlyUnclean) {
  GroupCoordinator b1 = Coordinator("b1");
  GroupCoordinator b2 = Coordinator("b2");
  int64_t lease1 = NewLease();
  Result<bool> boot = b1.Bootstrap(Registered(b1, lease1), 10, lease1);
  ASSERT_TRUE(boot.ok() && *boot);
  int64_t lease2 = NewLease();
  int64_t inc2 = Registered(b2, lease2);
  // In the set, but with an older incarnation: a restart lost that place.
  ASSERT_TRUE(b1.AddToInSync("b2", inc2 - 1, 1).ok());
  ASSERT_TRUE(client_->RevokeLease(lease1).ok());

  Result<ElectionResult> clean = b2.TryElect(inc2, 7, lease2);
  ASSERT_TRUE(clean.ok()) << clean.status();
  EXPECT_FALSE(clean->won);
  EXPECT_NE(clean->reason.find("not in the in-sync set"), std::string::npos) << clean->reason;
  EXPECT_FALSE(ReadPrimaryKey().has_value());

  Result<ElectionResult> unclean = b2.TryElect(inc2, 7, lease2, /*unclean=*/true);
  ASSERT_TRUE(unclean.ok()) << unclean.status();
  ASSERT_TRUE(unclean->won) << unclean->reason;
  Result<VersionedGroupState> read = b2.ReadState();
  ASSERT_TRUE(read.ok()) << read.status();
  GroupState expected{2, "b2", {{"b2", inc2}}, {{1, 11}, {2, 8}}};
  EXPECT_EQ(read->state, expected);
  EXPECT_EQ(read->mod_revision, unclean->state.mod_revision);
  EXPECT_EQ(ReadPrimaryKey(), (PrimaryRecord{"b2", 2}));
}

TEST_F(GroupCoordinatorTest, StaleCompareAndSwapFails) {
  GroupCoordinator b1 = Coordinator("b1");
  int64_t lease = NewLease();
  Result<bool> boot = b1.Bootstrap(Registered(b1, lease), 0, lease);
  ASSERT_TRUE(boot.ok() && *boot);
  Result<VersionedGroupState> base = b1.ReadState();
  ASSERT_TRUE(base.ok()) << base.status();

  GroupState first = base->state;
  first.in_sync.push_back({"b2", 5});
  Result<int64_t> swapped = b1.CompareAndSwap(*base, first);
  ASSERT_TRUE(swapped.ok()) << swapped.status();
  EXPECT_GT(*swapped, base->mod_revision);

  GroupState second = base->state;
  second.in_sync.push_back({"b3", 6});
  Result<int64_t> stale = b1.CompareAndSwap(*base, second);
  EXPECT_EQ(stale.status().code(), StatusCode::kFailedPrecondition) << stale.status();
  Result<VersionedGroupState> read = b1.ReadState();
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->state, first);
  EXPECT_EQ(read->mod_revision, *swapped);
}

TEST_F(GroupCoordinatorTest, InSyncChangesOnlyByThePrimaryInItsEpoch) {
  GroupCoordinator b1 = Coordinator("b1");
  GroupCoordinator b2 = Coordinator("b2");
  int64_t lease1 = NewLease();
  int64_t inc1 = Registered(b1, lease1);
  Result<bool> boot = b1.Bootstrap(inc1, 0, lease1);
  ASSERT_TRUE(boot.ok() && *boot);
  int64_t inc2 = Registered(b2, NewLease());
  Result<VersionedGroupState> added = b1.AddToInSync("b2", inc2, 1);
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_TRUE(added->state.IsInSync("b2", inc2));

  EXPECT_EQ(b2.RemoveFromInSync("b1", 1).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(b2.AddToInSync("b3", 4, 1).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(b1.RemoveFromInSync("b2", 2).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(b1.RemoveFromInSync("b2", 0).status().code(), StatusCode::kFailedPrecondition);
  Result<VersionedGroupState> read = b1.ReadState();
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->state, added->state);  // nothing written by the refused calls
  EXPECT_EQ(read->mod_revision, added->mod_revision);

  Result<VersionedGroupState> removed = b1.RemoveFromInSync("b2", 1);
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(removed->state.in_sync, (std::vector<InSyncMember>{{"b1", inc1}}));

  // A primary whose lease is gone may no longer change the set, even before
  // anyone else is elected.
  ASSERT_TRUE(client_->RevokeLease(lease1).ok());
  EXPECT_EQ(b1.AddToInSync("b2", inc2, 1).status().code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace halfmq::cluster
