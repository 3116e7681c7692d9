#include "cluster/etcd_client.h"

#include <utility>

#include "cluster/etcd_http.h"
#include "cluster/etcd_json.h"
#include "cluster/etcd_watch.h"
#include "common/base64.h"
#include "common/json.h"

namespace halfmq::cluster {
namespace {

using std::chrono::steady_clock;

const char* CompareOpName(Compare::Op op) {
  switch (op) {
    case Compare::Op::kEqual:
      return "EQUAL";
    case Compare::Op::kNotEqual:
      return "NOT_EQUAL";
    case Compare::Op::kGreater:
      return "GREATER";
    case Compare::Op::kLess:
      return "LESS";
  }
  return "EQUAL";
}

JsonObject CompareJson(const Compare& c) {
  JsonObject out;
  out.Str("key", Base64Encode(c.key)).Str("result", CompareOpName(c.op));
  switch (c.target) {
    case Compare::Target::kValue:
      return out.Str("target", "VALUE").Str("value", Base64Encode(c.value));
    case Compare::Target::kVersion:
      return out.Str("target", "VERSION").Str("version", std::to_string(c.number));
    case Compare::Target::kCreateRevision:
      return out.Str("target", "CREATE").Str("create_revision", std::to_string(c.number));
    case Compare::Target::kModRevision:
      return out.Str("target", "MOD").Str("mod_revision", std::to_string(c.number));
  }
  return out;
}

JsonObject RangeJson(std::string_view key, std::string_view range_end) {
  JsonObject out;
  out.Str("key", Base64Encode(key));
  if (!range_end.empty()) out.Str("range_end", Base64Encode(range_end));
  return out;
}

JsonObject PutJson(std::string_view key, std::string_view value, int64_t lease) {
  JsonObject out;
  out.Str("key", Base64Encode(key)).Str("value", Base64Encode(value));
  if (lease != 0) out.Str("lease", std::to_string(lease));
  return out;
}

JsonObject OpJson(const TxnOp& op) {
  switch (op.type) {
    case TxnOp::Type::kPut:
      return JsonObject().Object("request_put", PutJson(op.key, op.value, op.lease));
    case TxnOp::Type::kDelete:
      return JsonObject().Object("request_delete_range", RangeJson(op.key, op.range_end));
    case TxnOp::Type::kRange:
      return JsonObject().Object("request_range", RangeJson(op.key, op.range_end));
  }
  return JsonObject();
}

std::vector<JsonObject> OpsJson(const std::vector<TxnOp>& ops) {
  std::vector<JsonObject> out;
  for (const TxnOp& op : ops) out.push_back(OpJson(op));
  return out;
}

Result<TxnOpResponse> ParseOpResponse(const JsonValue& v) {
  TxnOpResponse out;
  if (const JsonValue* range = v.Find("response_range"); range != nullptr) {
    Result<std::vector<KeyValue>> kvs = ParseKvs(*range);
    if (!kvs.ok()) return kvs.status();
    out.type = TxnOp::Type::kRange;
    out.kvs = std::move(*kvs);
  } else if (const JsonValue* del = v.Find("response_delete_range"); del != nullptr) {
    Result<int64_t> deleted = IntMember(*del, "deleted");
    if (!deleted.ok()) return deleted.status();
    out.type = TxnOp::Type::kDelete;
    out.deleted = *deleted;
  } else if (v.Find("response_put") != nullptr) {
    out.type = TxnOp::Type::kPut;
  } else {
    return Malformed("unknown transaction response");
  }
  return out;
}

}  // namespace

Compare Compare::Value(std::string key, Op op, std::string value) {
  return Compare{std::move(key), Target::kValue, op, std::move(value), 0};
}
Compare Compare::Version(std::string key, Op op, int64_t version) {
  return Compare{std::move(key), Target::kVersion, op, {}, version};
}
Compare Compare::CreateRevision(std::string key, Op op, int64_t revision) {
  return Compare{std::move(key), Target::kCreateRevision, op, {}, revision};
}
Compare Compare::ModRevision(std::string key, Op op, int64_t revision) {
  return Compare{std::move(key), Target::kModRevision, op, {}, revision};
}

TxnOp TxnOp::Put(std::string key, std::string value, int64_t lease) {
  return TxnOp{Type::kPut, std::move(key), {}, std::move(value), lease};
}
TxnOp TxnOp::Delete(std::string key) { return TxnOp{Type::kDelete, std::move(key), {}, {}, 0}; }
TxnOp TxnOp::Get(std::string key) { return TxnOp{Type::kRange, std::move(key), {}, {}, 0}; }
TxnOp TxnOp::GetPrefix(std::string prefix) {
  std::string end = PrefixRangeEnd(prefix);
  return TxnOp{Type::kRange, std::move(prefix), std::move(end), {}, 0};
}

std::string PrefixRangeEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    if (static_cast<unsigned char>(end.back()) != 0xff) {
      end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

Result<std::unique_ptr<EtcdClient>> EtcdClient::Create(const std::vector<std::string>& endpoints,
                                                       std::chrono::milliseconds call_timeout) {
  if (endpoints.empty()) return Status::InvalidArgument("etcd: no endpoints");
  if (call_timeout.count() <= 0) return Status::InvalidArgument("etcd: call timeout must be > 0");
  std::vector<HostPort> parsed;
  for (const std::string& text : endpoints) {
    Result<HostPort> address = ParseHostPort(text);
    if (!address.ok()) return address.status();
    parsed.push_back(std::move(*address));
  }
  return std::unique_ptr<EtcdClient>(new EtcdClient(std::move(parsed), call_timeout));
}

EtcdClient::EtcdClient(std::vector<HostPort> endpoints, std::chrono::milliseconds call_timeout)
    : endpoints_(std::move(endpoints)),
      call_timeout_(call_timeout),
      http_(std::make_unique<EtcdHttp>()) {}

EtcdClient::~EtcdClient() = default;

Result<JsonValue> EtcdClient::Call(std::string_view path, const std::string& body) {
  MutexLock lock(&mu_);
  const steady_clock::time_point deadline = steady_clock::now() + call_timeout_;
  std::string failures;
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    const size_t index = (preferred_ + i) % endpoints_.size();
    HttpOutcome out = http_->Post(endpoints_[index], path, body, deadline);
    if (out.status.ok()) {
      preferred_ = index;
      return InterpretGatewayAnswer(FormatHostPort(endpoints_[index]), out.http_status, out.body);
    }
    // Only a connection that never opened is safe to try elsewhere.
    if (out.connected || out.deadline_exceeded) return out.status;
    if (!failures.empty()) failures += "; ";
    failures += out.status.message();
  }
  return Status::Unavailable("etcd: no endpoint reachable (" + failures + ")");
}

Result<std::optional<KeyValue>> EtcdClient::Get(std::string_view key) {
  Result<JsonValue> answer = Call("/v3/kv/range", RangeJson(key, "").str());
  if (!answer.ok()) return answer.status();
  Result<std::vector<KeyValue>> kvs = ParseKvs(*answer);
  if (!kvs.ok()) return kvs.status();
  if (kvs->empty()) return std::optional<KeyValue>();
  return std::optional<KeyValue>(std::move(kvs->front()));
}

Result<RangeResult> EtcdClient::GetPrefix(std::string_view prefix) {
  Result<JsonValue> answer = Call("/v3/kv/range", RangeJson(prefix, PrefixRangeEnd(prefix)).str());
  if (!answer.ok()) return answer.status();
  Result<std::vector<KeyValue>> kvs = ParseKvs(*answer);
  if (!kvs.ok()) return kvs.status();
  Result<int64_t> revision = HeaderRevision(*answer);
  if (!revision.ok()) return revision.status();
  return RangeResult{std::move(*kvs), *revision};
}

Result<int64_t> EtcdClient::Put(std::string_view key, std::string_view value, int64_t lease_id) {
  Result<JsonValue> answer = Call("/v3/kv/put", PutJson(key, value, lease_id).str());
  if (!answer.ok()) return answer.status();
  return HeaderRevision(*answer);
}

Result<int64_t> EtcdClient::Delete(std::string_view key) {
  Result<JsonValue> answer = Call("/v3/kv/deleterange", RangeJson(key, "").str());
  if (!answer.ok()) return answer.status();
  return IntMember(*answer, "deleted");
}

Result<TxnResult> EtcdClient::Txn(const std::vector<Compare>& compares,
                                  const std::vector<TxnOp>& then_ops,
                                  const std::vector<TxnOp>& else_ops) {
  std::vector<JsonObject> compare_json;
  for (const Compare& c : compares) compare_json.push_back(CompareJson(c));
  JsonObject body;
  body.ObjectArray("compare", compare_json)
      .ObjectArray("success", OpsJson(then_ops))
      .ObjectArray("failure", OpsJson(else_ops));
  Result<JsonValue> answer = Call("/v3/kv/txn", body.str());
  if (!answer.ok()) return answer.status();
  TxnResult out;
  const JsonValue* succeeded = answer->Find("succeeded");
  out.succeeded = succeeded != nullptr && succeeded->bool_value();
  if (const JsonValue* responses = answer->Find("responses"); responses != nullptr) {
    for (size_t i = 0; i < responses->size(); ++i) {
      Result<TxnOpResponse> r = ParseOpResponse(responses->at(i));
      if (!r.ok()) return r.status();
      out.responses.push_back(std::move(*r));
    }
  }
  const size_t expected = out.succeeded ? then_ops.size() : else_ops.size();
  if (out.responses.size() != expected) return Malformed("wrong number of transaction responses");
  Result<int64_t> revision = HeaderRevision(*answer);
  if (!revision.ok()) return revision.status();
  out.revision = *revision;
  return out;
}

Result<Lease> EtcdClient::GrantLease(int64_t ttl_s) {
  Result<JsonValue> answer =
      Call("/v3/lease/grant", JsonObject().Str("TTL", std::to_string(ttl_s)).str());
  if (!answer.ok()) return answer.status();
  Result<int64_t> id = IntMember(*answer, "ID");
  Result<int64_t> ttl = IntMember(*answer, "TTL");
  if (!id.ok()) return id.status();
  if (!ttl.ok()) return ttl.status();
  if (*id == 0) return Malformed("lease without an ID");
  return Lease{*id, *ttl};
}

Result<int64_t> EtcdClient::KeepAliveOnce(int64_t lease_id) {
  Result<JsonValue> answer =
      Call("/v3/lease/keepalive", JsonObject().Str("ID", std::to_string(lease_id)).str());
  if (!answer.ok()) return answer.status();
  // etcd answers an expired or unknown lease with TTL 0 (left out).
  Result<int64_t> ttl = IntMember(*answer, "TTL");
  if (!ttl.ok()) return ttl.status();
  if (*ttl <= 0) {
    return Status::NotFound("etcd: lease " + std::to_string(lease_id) + " expired or unknown");
  }
  return ttl;
}

Status EtcdClient::RevokeLease(int64_t lease_id) {
  Result<JsonValue> answer =
      Call("/v3/lease/revoke", JsonObject().Str("ID", std::to_string(lease_id)).str());
  return answer.status();
}

Status EtcdClient::Compact(int64_t revision) {
  Result<JsonValue> answer =
      Call("/v3/kv/compaction", JsonObject().Str("revision", std::to_string(revision)).str());
  return answer.status();
}

Result<std::unique_ptr<EtcdWatch>> EtcdClient::Watch(
    std::string_view prefix, int64_t start_revision,
    std::function<void(const WatchResponse&)> callback) {
  size_t first = 0;
  {
    MutexLock lock(&mu_);
    first = preferred_;
  }
  return EtcdWatch::Start(endpoints_, first, std::string(prefix), start_revision,
                          std::move(callback), steady_clock::now() + call_timeout_);
}

}  // namespace halfmq::cluster
