#include "cluster/group_state.h"

#include <algorithm>
#include <optional>
#include <utility>

#include <glog/logging.h>

#include "cluster/etcd_client.h"
#include "common/json.h"
#include "common/json_reader.h"

namespace halfmq::cluster {
namespace {

// Register retries this often when its own key changes between the read and
// the write (only another process with the same broker id does that).
constexpr int kRegisterAttempts = 3;
constexpr size_t kMaxKeySegment = 128;

Status Malformed(std::string_view key, std::string_view what) {
  return Status::Internal("malformed record at " + std::string(key) + ": " + std::string(what));
}

// Field readers: each fails with INTERNAL naming the key and the member.
class RecordReader {
 public:
  explicit RecordReader(std::string_view key) : key_(key) {}

  Result<JsonValue> Parse(std::string_view value) const {
    Result<JsonValue> json = ParseJson(value);
    if (!json.ok()) return Malformed(key_, json.status().message());
    if (!json->is_object()) return Malformed(key_, "not a JSON object");
    return json;
  }
  Result<const JsonValue*> Member(const JsonValue& obj, std::string_view name) const {
    const JsonValue* member = obj.Find(name);
    if (member == nullptr) return Malformed(key_, "missing \"" + std::string(name) + "\"");
    return member;
  }
  Result<std::string> Str(const JsonValue& obj, std::string_view name) const {
    Result<const JsonValue*> member = Member(obj, name);
    if (!member.ok()) return member.status();
    if (!(*member)->is_string()) return Bad(name, "not a string");
    return (*member)->text();
  }
  Result<int64_t> Int(const JsonValue& obj, std::string_view name, int64_t min) const {
    Result<const JsonValue*> member = Member(obj, name);
    if (!member.ok()) return member.status();
    if (!(*member)->is_number()) return Bad(name, "not a number");
    Result<int64_t> n = (*member)->AsInt64();
    if (!n.ok() || *n < min) return Bad(name, "not an integer >= " + std::to_string(min));
    return *n;
  }
  Result<uint64_t> Uint(const JsonValue& obj, std::string_view name) const {
    Result<const JsonValue*> member = Member(obj, name);
    if (!member.ok()) return member.status();
    if (!(*member)->is_number()) return Bad(name, "not a number");
    Result<uint64_t> n = (*member)->AsUint64();
    if (!n.ok()) return Bad(name, "not an unsigned integer");
    return *n;
  }
  Result<const JsonValue*> Array(const JsonValue& obj, std::string_view name) const {
    Result<const JsonValue*> member = Member(obj, name);
    if (!member.ok()) return member.status();
    if (!(*member)->is_array()) return Bad(name, "not an array");
    for (size_t i = 0; i < (*member)->size(); ++i) {
      if (!(*member)->at(i).is_object()) return Bad(name, "an element is not an object");
    }
    return member;
  }
  Status Bad(std::string_view name, std::string_view what) const {
    return Malformed(key_, "\"" + std::string(name) + "\" " + std::string(what));
  }

 private:
  std::string_view key_;
};

// Assigns the value of a Result to `lhs`, or returns its status.
#define HALFMQ_CONCAT_INNER_(a, b) a##b
#define HALFMQ_CONCAT_(a, b) HALFMQ_CONCAT_INNER_(a, b)
#define HALFMQ_ASSIGN_OR_RETURN_(lhs, expr) \
  HALFMQ_ASSIGN_OR_RETURN_IMPL_(HALFMQ_CONCAT_(result_, __LINE__), lhs, expr)
#define HALFMQ_ASSIGN_OR_RETURN_IMPL_(result, lhs, expr) \
  auto result = (expr);                                  \
  if (!result.ok()) return result.status();              \
  lhs = std::move(*result)

Result<std::vector<InSyncMember>> DecodeInSync(const RecordReader& r, const JsonValue& obj) {
  const JsonValue* array;
  HALFMQ_ASSIGN_OR_RETURN_(array, r.Array(obj, "in_sync"));
  std::vector<InSyncMember> members;
  for (size_t i = 0; i < array->size(); ++i) {
    InSyncMember m;
    HALFMQ_ASSIGN_OR_RETURN_(m.broker_id, r.Str(array->at(i), "broker_id"));
    HALFMQ_ASSIGN_OR_RETURN_(m.incarnation, r.Int(array->at(i), "incarnation", 1));
    for (const InSyncMember& other : members) {
      if (other.broker_id == m.broker_id) return r.Bad("in_sync", "names a broker twice");
    }
    members.push_back(std::move(m));
  }
  return members;
}

Result<std::vector<EpochStart>> DecodeHistory(const RecordReader& r, const JsonValue& obj) {
  const JsonValue* array;
  HALFMQ_ASSIGN_OR_RETURN_(array, r.Array(obj, "history"));
  std::vector<EpochStart> history;
  for (size_t i = 0; i < array->size(); ++i) {
    EpochStart e;
    HALFMQ_ASSIGN_OR_RETURN_(e.epoch, r.Int(array->at(i), "epoch", 1));
    HALFMQ_ASSIGN_OR_RETURN_(e.first_sequence, r.Uint(array->at(i), "first_sequence"));
    if (!history.empty() && e.epoch <= history.back().epoch) {
      return r.Bad("history", "epochs are not increasing");
    }
    history.push_back(e);
  }
  return history;
}

}  // namespace

bool GroupState::IsInSync(std::string_view broker_id, int64_t incarnation) const {
  return std::any_of(in_sync.begin(), in_sync.end(), [&](const InSyncMember& m) {
    return m.broker_id == broker_id && m.incarnation == incarnation;
  });
}

std::string EncodeGroupState(const GroupState& state) {
  std::vector<JsonObject> in_sync;
  for (const InSyncMember& m : state.in_sync) {
    in_sync.push_back(JsonObject().Str("broker_id", m.broker_id).Int("incarnation", m.incarnation));
  }
  std::vector<JsonObject> history;
  for (const EpochStart& e : state.history) {
    history.push_back(JsonObject().Int("epoch", e.epoch).Uint("first_sequence", e.first_sequence));
  }
  return JsonObject()
      .Int("epoch", state.epoch)
      .Str("primary", state.primary)
      .ObjectArray("in_sync", in_sync)
      .ObjectArray("history", history)
      .str();
}

std::string EncodeBrokerRegistration(const BrokerRegistration& registration) {
  return JsonObject()
      .Str("address", registration.address)
      .Uint("last_sequence", registration.last_sequence)
      .str();
}

std::string EncodePrimaryRecord(const PrimaryRecord& record) {
  return JsonObject().Str("broker_id", record.broker_id).Int("epoch", record.epoch).str();
}

Result<GroupState> DecodeGroupState(std::string_view key, std::string_view value) {
  RecordReader r(key);
  JsonValue json;
  HALFMQ_ASSIGN_OR_RETURN_(json, r.Parse(value));
  GroupState state;
  HALFMQ_ASSIGN_OR_RETURN_(state.epoch, r.Int(json, "epoch", 1));
  HALFMQ_ASSIGN_OR_RETURN_(state.primary, r.Str(json, "primary"));
  if (state.primary.empty()) return r.Bad("primary", "is empty");
  HALFMQ_ASSIGN_OR_RETURN_(state.in_sync, DecodeInSync(r, json));
  HALFMQ_ASSIGN_OR_RETURN_(state.history, DecodeHistory(r, json));
  if (state.history.empty() || state.history.back().epoch != state.epoch) {
    return r.Bad("history", "does not end with the current epoch");
  }
  return state;
}

Result<BrokerRegistration> DecodeBrokerRegistration(std::string_view key, std::string_view value) {
  RecordReader r(key);
  JsonValue json;
  HALFMQ_ASSIGN_OR_RETURN_(json, r.Parse(value));
  BrokerRegistration registration;
  HALFMQ_ASSIGN_OR_RETURN_(registration.address, r.Str(json, "address"));
  HALFMQ_ASSIGN_OR_RETURN_(registration.last_sequence, r.Uint(json, "last_sequence"));
  return registration;
}

Result<PrimaryRecord> DecodePrimaryRecord(std::string_view key, std::string_view value) {
  RecordReader r(key);
  JsonValue json;
  HALFMQ_ASSIGN_OR_RETURN_(json, r.Parse(value));
  PrimaryRecord record;
  HALFMQ_ASSIGN_OR_RETURN_(record.broker_id, r.Str(json, "broker_id"));
  if (record.broker_id.empty()) return r.Bad("broker_id", "is empty");
  HALFMQ_ASSIGN_OR_RETURN_(record.epoch, r.Int(json, "epoch", 1));
  return record;
}

Status ValidateKeySegment(std::string_view what, std::string_view name) {
  bool ok = !name.empty() && name.size() <= kMaxKeySegment && name != "." && name != "..";
  for (char c : name) {
    bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '.' || c == '_' || c == '-';
    ok = ok && allowed;
  }
  if (ok) return Status::Ok();
  return Status::InvalidArgument(std::string(what) + " \"" + std::string(name) + "\" must be 1.." +
                                 std::to_string(kMaxKeySegment) + " bytes of [A-Za-z0-9._-]");
}

std::string BrokersPrefix(std::string_view cluster, std::string_view group) {
  return "/halfmq/" + std::string(cluster) + "/brokers/" + std::string(group) + "/";
}

std::string BrokerKey(std::string_view cluster, std::string_view group,
                      std::string_view broker_id) {
  return BrokersPrefix(cluster, group) + std::string(broker_id);
}

std::string GroupStateKey(std::string_view cluster, std::string_view group) {
  return "/halfmq/" + std::string(cluster) + "/groups/" + std::string(group) + "/state";
}

std::string PrimaryKey(std::string_view cluster, std::string_view group) {
  return "/halfmq/" + std::string(cluster) + "/groups/" + std::string(group) + "/primary";
}

GroupCoordinator::GroupCoordinator(EtcdClient* etcd, std::string cluster, std::string group,
                                   std::string broker_id)
    : etcd_(etcd),
      cluster_(std::move(cluster)),
      group_(std::move(group)),
      broker_id_(std::move(broker_id)),
      state_key_(GroupStateKey(cluster_, group_)),
      primary_key_(PrimaryKey(cluster_, group_)) {
  CHECK(etcd_ != nullptr);
  CHECK(ValidateKeySegment("cluster", cluster_).ok()) << cluster_;
  CHECK(ValidateKeySegment("group", group_).ok()) << group_;
  CHECK(ValidateKeySegment("broker_id", broker_id_).ok()) << broker_id_;
}

Result<int64_t> GroupCoordinator::Register(std::string_view address, uint64_t last_sequence,
                                           int64_t lease_id) {
  const std::string key = BrokerKey(cluster_, group_, broker_id_);
  const std::string value = EncodeBrokerRegistration({std::string(address), last_sequence});
  for (int attempt = 0; attempt < kRegisterAttempts; ++attempt) {
    std::optional<KeyValue> existing;
    HALFMQ_ASSIGN_OR_RETURN_(existing, etcd_->Get(key));
    if (existing.has_value() && existing->lease != lease_id) {
      // etcd keeps a key's create_revision across puts, so a new lease alone
      // would not give a new incarnation: delete the old registration first.
      // (etcd refuses a delete and a put of one key in the same transaction.)
      TxnResult deleted;
      HALFMQ_ASSIGN_OR_RETURN_(
          deleted,
          etcd_->Txn({Compare::ModRevision(key, Compare::Op::kEqual, existing->mod_revision)},
                     {TxnOp::Delete(key)}, {}));
      if (!deleted.succeeded) continue;
      existing.reset();
    }
    Compare unchanged = existing.has_value()
                            ? Compare::ModRevision(key, Compare::Op::kEqual, existing->mod_revision)
                            : Compare::CreateRevision(key, Compare::Op::kEqual, 0);
    TxnResult put;
    HALFMQ_ASSIGN_OR_RETURN_(
        put, etcd_->Txn({unchanged}, {TxnOp::Put(key, value, lease_id), TxnOp::Get(key)}, {}));
    if (!put.succeeded) continue;
    if (put.responses.size() != 2 || put.responses[1].kvs.size() != 1) {
      return Status::Internal("registration of " + key + ": unexpected transaction answer");
    }
    return put.responses[1].kvs[0].create_revision;
  }
  return Status::FailedPrecondition("registration " + key + " kept changing concurrently (" +
                                    "another broker with the same id?)");
}

Result<VersionedGroupState> GroupCoordinator::ReadState() {
  std::optional<KeyValue> kv;
  HALFMQ_ASSIGN_OR_RETURN_(kv, etcd_->Get(state_key_));
  VersionedGroupState versioned;
  if (!kv.has_value()) return versioned;
  HALFMQ_ASSIGN_OR_RETURN_(versioned.state, DecodeGroupState(state_key_, kv->value));
  versioned.mod_revision = kv->mod_revision;
  return versioned;
}

Result<bool> GroupCoordinator::Bootstrap(int64_t incarnation, uint64_t last_sequence,
                                         int64_t lease_id) {
  GroupState state;
  state.epoch = 1;
  state.primary = broker_id_;
  state.in_sync.push_back({broker_id_, incarnation});
  state.history.push_back({1, last_sequence + 1});
  TxnResult txn;
  HALFMQ_ASSIGN_OR_RETURN_(
      txn, etcd_->Txn({Compare::CreateRevision(state_key_, Compare::Op::kEqual, 0),
                       Compare::CreateRevision(primary_key_, Compare::Op::kEqual, 0)},
                      {TxnOp::Put(state_key_, EncodeGroupState(state)),
                       TxnOp::Put(primary_key_, EncodePrimaryRecord({broker_id_, 1}), lease_id)},
                      {}));
  if (txn.succeeded) {
    LOG(INFO) << "group " << group_ << " bootstrapped with " << broker_id_ << " as primary";
  }
  return txn.succeeded;
}

Result<ElectionResult> GroupCoordinator::TryElect(int64_t incarnation, uint64_t last_sequence,
                                                  int64_t lease_id, bool unclean) {
  ElectionResult result;
  VersionedGroupState base;
  HALFMQ_ASSIGN_OR_RETURN_(base, ReadState());
  if (base.mod_revision == 0) {
    result.reason = "the group has no state yet (bootstrap it first)";
    return result;
  }
  if (!unclean && !base.state.IsInSync(broker_id_, incarnation)) {
    result.reason = broker_id_ + " (incarnation " + std::to_string(incarnation) +
                    ") is not in the in-sync set of epoch " + std::to_string(base.state.epoch);
    return result;
  }
  GroupState next = base.state;
  next.epoch = base.state.epoch + 1;
  next.primary = broker_id_;
  if (unclean) next.in_sync = {{broker_id_, incarnation}};
  next.history.push_back({next.epoch, last_sequence + 1});
  TxnResult txn;
  HALFMQ_ASSIGN_OR_RETURN_(
      txn, etcd_->Txn(
               {Compare::ModRevision(state_key_, Compare::Op::kEqual, base.mod_revision),
                Compare::CreateRevision(primary_key_, Compare::Op::kEqual, 0)},
               {TxnOp::Put(state_key_, EncodeGroupState(next)),
                TxnOp::Put(primary_key_, EncodePrimaryRecord({broker_id_, next.epoch}), lease_id)},
               {}));
  if (!txn.succeeded) {
    result.reason = "the group state changed or a primary holds the primary key";
    return result;
  }
  if (unclean) {
    LOG(WARNING) << "UNCLEAN election: " << broker_id_ << " is primary of group " << group_
                 << " in epoch " << next.epoch << "; writes of epoch " << base.state.epoch
                 << " it lacks are lost";
  } else {
    LOG(INFO) << broker_id_ << " elected primary of group " << group_ << " in epoch " << next.epoch;
  }
  result.won = true;
  result.state = {std::move(next), txn.revision};
  return result;
}

Result<int64_t> GroupCoordinator::CompareAndSwap(const VersionedGroupState& base,
                                                 const GroupState& next) {
  // mod_revision 0 compares as "absent", so a base read before bootstrap
  // creates the state only if it is still absent.
  TxnResult txn;
  HALFMQ_ASSIGN_OR_RETURN_(
      txn, etcd_->Txn({Compare::ModRevision(state_key_, Compare::Op::kEqual, base.mod_revision)},
                      {TxnOp::Put(state_key_, EncodeGroupState(next))}, {}));
  if (!txn.succeeded) {
    return Status::FailedPrecondition("group state " + state_key_ +
                                      " changed concurrently (expected mod_revision " +
                                      std::to_string(base.mod_revision) + ")");
  }
  return txn.revision;
}

Result<VersionedGroupState> GroupCoordinator::ReadAsPrimary(int64_t epoch) {
  VersionedGroupState base;
  HALFMQ_ASSIGN_OR_RETURN_(base, ReadState());
  if (base.state.epoch != epoch) {
    return Status::FailedPrecondition("group " + group_ + " is in epoch " +
                                      std::to_string(base.state.epoch) + ", not " +
                                      std::to_string(epoch));
  }
  if (base.state.primary != broker_id_) {
    return Status::FailedPrecondition(broker_id_ + " is not the primary of group " + group_ + " (" +
                                      base.state.primary + " is)");
  }
  return base;
}

Result<VersionedGroupState> GroupCoordinator::SwapAsPrimary(const VersionedGroupState& base,
                                                            GroupState next) {
  TxnResult txn;
  HALFMQ_ASSIGN_OR_RETURN_(
      txn, etcd_->Txn({Compare::ModRevision(state_key_, Compare::Op::kEqual, base.mod_revision),
                       Compare::Value(primary_key_, Compare::Op::kEqual,
                                      EncodePrimaryRecord({broker_id_, base.state.epoch}))},
                      {TxnOp::Put(state_key_, EncodeGroupState(next))}, {}));
  if (!txn.succeeded) {
    return Status::FailedPrecondition("group state " + state_key_ +
                                      " changed concurrently or the primary key is gone");
  }
  return VersionedGroupState{std::move(next), txn.revision};
}

Result<VersionedGroupState> GroupCoordinator::RemoveFromInSync(std::string_view broker_id,
                                                               int64_t expected_epoch) {
  VersionedGroupState base;
  HALFMQ_ASSIGN_OR_RETURN_(base, ReadAsPrimary(expected_epoch));
  if (broker_id == broker_id_) {
    return Status::FailedPrecondition("the primary cannot remove itself from the in-sync set");
  }
  GroupState next = base.state;
  std::erase_if(next.in_sync, [&](const InSyncMember& m) { return m.broker_id == broker_id; });
  if (next.in_sync.size() == base.state.in_sync.size()) return base;
  LOG(INFO) << "group " << group_ << " epoch " << expected_epoch << ": removing " << broker_id
            << " from the in-sync set";
  return SwapAsPrimary(base, std::move(next));
}

Result<VersionedGroupState> GroupCoordinator::AddToInSync(std::string_view broker_id,
                                                          int64_t incarnation,
                                                          int64_t expected_epoch) {
  VersionedGroupState base;
  HALFMQ_ASSIGN_OR_RETURN_(base, ReadAsPrimary(expected_epoch));
  if (base.state.IsInSync(broker_id, incarnation)) return base;
  GroupState next = base.state;
  // A member with an older incarnation is replaced: only the new one counts.
  std::erase_if(next.in_sync, [&](const InSyncMember& m) { return m.broker_id == broker_id; });
  next.in_sync.push_back({std::string(broker_id), incarnation});
  LOG(INFO) << "group " << group_ << " epoch " << expected_epoch << ": adding " << broker_id
            << " (incarnation " << incarnation << ") to the in-sync set";
  return SwapAsPrimary(base, std::move(next));
}

#undef HALFMQ_ASSIGN_OR_RETURN_
#undef HALFMQ_ASSIGN_OR_RETURN_IMPL_
#undef HALFMQ_CONCAT_
#undef HALFMQ_CONCAT_INNER_

}  // namespace halfmq::cluster
