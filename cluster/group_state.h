// A broker group's coordination state in etcd: the records (broker
// registration, group state, primary key), their JSON encoding, and
// GroupCoordinator, the compare-and-swap operations on them.
//
// Key layout, all under /halfmq/<cluster>/ (see cluster/README.md):
//   brokers/<group>/<broker_id>  BrokerRegistration, on the broker's lease;
//                                the key's create_revision is the broker's
//                                incarnation (a new lease gives a new one).
//   groups/<group>/state         GroupState, without a lease; changed only by
//                                transactions that compare its mod_revision.
//   groups/<group>/primary       PrimaryRecord, on the primary's lease; its
//                                absence is what lets another member run for
//                                election.
//
// Records are JSON objects written with common/json.h; unknown members are
// ignored (a newer broker may add some), missing or mistyped ones are
// rejected with INTERNAL naming the key.
#ifndef HALFMQ_CLUSTER_GROUP_STATE_H_
#define HALFMQ_CLUSTER_GROUP_STATE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace halfmq::cluster {

class EtcdClient;

// A member of the in-sync set: the broker and the incarnation it had when it
// joined. A restarted broker has a new incarnation and so is no longer in
// sync until the primary adds it again (it may have lost its unsynced tail).
struct InSyncMember {
  std::string broker_id;
  int64_t incarnation = 0;

  friend bool operator==(const InSyncMember&, const InSyncMember&) = default;
};

// Epoch `epoch` began at sequence `first_sequence` (what truncation compares).
struct EpochStart {
  int64_t epoch = 0;
  uint64_t first_sequence = 0;

  friend bool operator==(const EpochStart&, const EpochStart&) = default;
};

// The value of groups/<group>/state. epoch 0 (with everything empty) stands
// for "no state yet"; a stored state has epoch >= 1, a primary, and a
// history with strictly increasing epochs whose last entry is `epoch`.
struct GroupState {
  int64_t epoch = 0;
  std::string primary;
  std::vector<InSyncMember> in_sync;
  std::vector<EpochStart> history;

  // Whether `broker_id` is in the set with exactly `incarnation`.
  bool IsInSync(std::string_view broker_id, int64_t incarnation) const;

  friend bool operator==(const GroupState&, const GroupState&) = default;
};

// The value of brokers/<group>/<broker_id>.
struct BrokerRegistration {
  std::string address;  // HOST:PORT that clients and peers dial
  uint64_t last_sequence = 0;

  friend bool operator==(const BrokerRegistration&, const BrokerRegistration&) = default;
};

// The value of groups/<group>/primary.
struct PrimaryRecord {
  std::string broker_id;
  int64_t epoch = 0;

  friend bool operator==(const PrimaryRecord&, const PrimaryRecord&) = default;
};

std::string EncodeGroupState(const GroupState& state);
std::string EncodeBrokerRegistration(const BrokerRegistration& registration);
std::string EncodePrimaryRecord(const PrimaryRecord& record);

// `key` is only for the error message. Errors: INTERNAL "malformed record
// at <key>: <what>".
Result<GroupState> DecodeGroupState(std::string_view key, std::string_view value);
Result<BrokerRegistration> DecodeBrokerRegistration(std::string_view key, std::string_view value);
Result<PrimaryRecord> DecodePrimaryRecord(std::string_view key, std::string_view value);

// Cluster, group and broker names become key segments: non-empty, at most
// 128 bytes, only [A-Za-z0-9._-]. Errors: INVALID_ARGUMENT naming `what`.
Status ValidateKeySegment(std::string_view what, std::string_view name);

// The keys of the layout above.
std::string BrokersPrefix(std::string_view cluster, std::string_view group);
std::string BrokerKey(std::string_view cluster, std::string_view group, std::string_view broker_id);
std::string GroupStateKey(std::string_view cluster, std::string_view group);
std::string PrimaryKey(std::string_view cluster, std::string_view group);

// A group state as read, with the key's mod_revision (0: no state stored).
struct VersionedGroupState {
  GroupState state;
  int64_t mod_revision = 0;
};

struct ElectionResult {
  bool won = false;
  // Why not, when lost (someone else changed the state first, or this broker
  // is not eligible).
  std::string reason;
  // The state written, when won.
  VersionedGroupState state;
};

// One broker's view of its group's coordination keys. Every call blocks on
// etcd (use it from the coordination thread, never an io_context thread).
// Does not own the EtcdClient, which must outlive it; thread-compatible
// (EtcdClient itself is thread-safe, so two coordinators may share one).
//
// Errors of every call: those of EtcdClient (UNAVAILABLE, ...), and INTERNAL
// for a malformed record in etcd.
class GroupCoordinator {
 public:
  // The names must pass ValidateKeySegment (CHECKed: flag validation is the
  // caller's job).
  GroupCoordinator(EtcdClient* etcd, std::string cluster, std::string group, std::string broker_id);

  const std::string& broker_id() const { return broker_id_; }

  // Writes this broker's registration on `lease_id` and returns its
  // incarnation (the key's create_revision). Re-registering on the same lease
  // keeps the incarnation; on another lease the old key is deleted first so
  // the incarnation changes. Errors also: NOT_FOUND (unknown lease),
  // FAILED_PRECONDITION (the key kept changing under us: another process
  // with the same broker id).
  Result<int64_t> Register(std::string_view address, uint64_t last_sequence, int64_t lease_id);

  // The group state and its mod_revision; {epoch 0, empty, revision 0} when
  // none is stored.
  Result<VersionedGroupState> ReadState();

  // Creates the group: epoch 1, this broker primary and sole in-sync member,
  // history {1, last_sequence + 1}, and the primary key on `lease_id`; only
  // if neither the state nor the primary key exists. Returns whether it did.
  Result<bool> Bootstrap(int64_t incarnation, uint64_t last_sequence, int64_t lease_id);

  // Runs for primary: one transaction that requires the state unchanged
  // since it was read and the primary key absent, and writes epoch + 1, this
  // broker as primary, history entry {epoch + 1, last_sequence + 1}, and the
  // primary key on `lease_id`. Requires this broker in the in-sync set with
  // `incarnation` unless `unclean` (then the in-sync set becomes this broker
  // alone: nobody else is known to match its data). Lost, with the reason,
  // when not eligible or when someone changed the keys first.
  // Errors also: NOT_FOUND (unknown lease).
  Result<ElectionResult> TryElect(int64_t incarnation, uint64_t last_sequence, int64_t lease_id,
                                  bool unclean = false);

  // Replaces the state read as `base` with `next` if its mod_revision is
  // still base.mod_revision; returns the new mod_revision.
  // Errors also: FAILED_PRECONDITION "group state changed concurrently".
  Result<int64_t> CompareAndSwap(const VersionedGroupState& base, const GroupState& next);

  // The primary's changes to the in-sync set. Each reads the state, requires
  // this broker to be its primary in `expected_epoch` (and the primary key to
  // still say so: the lease is alive), and swaps in the changed set by
  // mod_revision. Removing an absent member or adding one already present
  // with that incarnation writes nothing. Return the state now stored.
  // Errors also: FAILED_PRECONDITION (not the primary, another epoch, or the
  // keys changed concurrently: the caller must stop acknowledging).
  Result<VersionedGroupState> RemoveFromInSync(std::string_view broker_id, int64_t expected_epoch);
  Result<VersionedGroupState> AddToInSync(std::string_view broker_id, int64_t incarnation,
                                          int64_t expected_epoch);

 private:
  // Reads the state and checks that this broker is its primary in `epoch`.
  Result<VersionedGroupState> ReadAsPrimary(int64_t epoch);
  // Swaps in `next` if the state is still `base` and the primary key still
  // names this broker in base's epoch.
  Result<VersionedGroupState> SwapAsPrimary(const VersionedGroupState& base, GroupState next);

  EtcdClient* const etcd_;
  const std::string cluster_;
  const std::string group_;
  const std::string broker_id_;
  const std::string state_key_;
  const std::string primary_key_;
};

}  // namespace halfmq::cluster

#endif  // HALFMQ_CLUSTER_GROUP_STATE_H_
