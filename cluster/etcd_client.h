// A blocking etcd v3 client over etcd's JSON gateway (HTTP/1.1 POST to
// /v3/..., bodies in proto3's JSON mapping: keys and values base64, 64-bit
// integers as strings, zero and false fields left out).
//
// Why the gateway and not gRPC: it needs no generated code or protoc
// plugins, and Boost.Beast (HTTP over the Asio we already use) is
// header-only. Coordination traffic is a few calls per lease period, so one
// short-lived HTTP connection per call costs nothing that matters, and it
// sidesteps stale keep-alive connections (a request written into a socket
// the server is closing has an unknown outcome).
//
// Threading: every call BLOCKS the calling thread until etcd answers or the
// call's deadline passes. Use it from a coordination thread, never from a
// network (io_context) thread of the broker or client. An EtcdClient is
// thread-safe: calls from several threads run one at a time (each call
// holds the client's mutex for its duration). Owned by its creator; no
// background threads (a Watch has its own, see cluster/etcd_watch.h);
// destroying it while no call runs is always safe.
//
// Endpoints: a list of HOST:PORT tried in order. A call moves to the next
// endpoint only when it could not connect to one (resolve or connect
// failed), so a request is never sent twice; once sent, a transport failure
// ends the call with UNAVAILABLE "... (outcome unknown)". The last endpoint
// that answered is tried first by the next call.
#ifndef HALFMQ_CLUSTER_ETCD_CLIENT_H_
#define HALFMQ_CLUSTER_ETCD_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/host_port.h"
#include "common/json_reader.h"
#include "common/mutex.h"
#include "common/status.h"
#include "common/thread_annotations.h"

namespace halfmq::cluster {

class EtcdHttp;
class EtcdWatch;
struct WatchResponse;

// One key as etcd stores it. Revisions are etcd's store revisions; version
// counts modifications since creation; lease is 0 without one.
struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t version = 0;
  int64_t lease = 0;
};

// A condition of Txn on one key. For a missing key etcd compares version,
// create_revision and mod_revision as 0 (so "version == 0" means "absent")
// and a value compare is false.
struct Compare {
  enum class Target { kValue, kVersion, kCreateRevision, kModRevision };
  enum class Op { kEqual, kNotEqual, kGreater, kLess };

  std::string key;
  Target target = Target::kVersion;
  Op op = Op::kEqual;
  std::string value;   // for kValue
  int64_t number = 0;  // for the other targets

  static Compare Value(std::string key, Op op, std::string value);
  static Compare Version(std::string key, Op op, int64_t version);
  static Compare CreateRevision(std::string key, Op op, int64_t revision);
  static Compare ModRevision(std::string key, Op op, int64_t revision);
};

// One operation of Txn.
struct TxnOp {
  enum class Type { kPut, kDelete, kRange };

  Type type = Type::kRange;
  std::string key;
  std::string range_end;  // empty: the key alone (kDelete, kRange)
  std::string value;      // kPut
  int64_t lease = 0;      // kPut

  static TxnOp Put(std::string key, std::string value, int64_t lease = 0);
  static TxnOp Delete(std::string key);
  static TxnOp Get(std::string key);
  static TxnOp GetPrefix(std::string prefix);
};

// The answer to one TxnOp, in the same order.
struct TxnOpResponse {
  TxnOp::Type type = TxnOp::Type::kRange;
  std::vector<KeyValue> kvs;  // kRange
  int64_t deleted = 0;        // kDelete
};

struct TxnResult {
  bool succeeded = false;  // whether every compare held (then-ops ran)
  std::vector<TxnOpResponse> responses;
  int64_t revision = 0;  // store revision after the transaction
};

struct RangeResult {
  std::vector<KeyValue> kvs;  // sorted by key
  int64_t revision = 0;       // store revision the read saw
};

struct Lease {
  int64_t id = 0;
  int64_t ttl_s = 0;  // granted TTL (etcd may raise a TTL below its minimum)
};

// The smallest key greater than every key starting with `prefix` (etcd's
// range_end for a prefix read); "\0" (all keys) if there is none.
std::string PrefixRangeEnd(std::string_view prefix);

class EtcdClient {
 public:
  // `endpoints` are HOST:PORT (common/host_port.h); `call_timeout` bounds
  // each call from its start, over all endpoints tried.
  // Errors: INVALID_ARGUMENT (empty list, a bad address, timeout <= 0).
  static Result<std::unique_ptr<EtcdClient>> Create(const std::vector<std::string>& endpoints,
                                                    std::chrono::milliseconds call_timeout);
  ~EtcdClient();
  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;

  // Errors of every call: UNAVAILABLE (no endpoint could be reached, the
  // connection failed after sending, or the deadline passed: message
  // "deadline exceeded ..."; HalfMQ's status codes have no DEADLINE_EXCEEDED),
  // INTERNAL (an answer that is not etcd's JSON), and etcd's own errors
  // mapped from its gRPC code with etcd's message (INVALID_ARGUMENT,
  // NOT_FOUND, FAILED_PRECONDITION, ... ; others INTERNAL).

  // The key, or nullopt if absent.
  Result<std::optional<KeyValue>> Get(std::string_view key);
  // Every key starting with `prefix`, sorted.
  Result<RangeResult> GetPrefix(std::string_view prefix);
  // Writes `key` (attached to `lease_id` unless 0); returns the new revision.
  // Errors also: NOT_FOUND "etcdserver: requested lease not found".
  Result<int64_t> Put(std::string_view key, std::string_view value, int64_t lease_id = 0);
  // Deletes `key`; returns how many keys were deleted (0 or 1).
  Result<int64_t> Delete(std::string_view key);
  // If every compare holds, runs `then_ops`, else `else_ops`; atomically.
  Result<TxnResult> Txn(const std::vector<Compare>& compares, const std::vector<TxnOp>& then_ops,
                        const std::vector<TxnOp>& else_ops);
  // Grants a lease of `ttl_s` seconds (etcd's minimum is 2).
  Result<Lease> GrantLease(int64_t ttl_s);
  // Renews the lease once; returns its remaining TTL in seconds.
  // Errors also: NOT_FOUND (the lease expired or was revoked).
  Result<int64_t> KeepAliveOnce(int64_t lease_id);
  // Revokes the lease and deletes its keys.
  // Errors also: NOT_FOUND (no such lease).
  Status RevokeLease(int64_t lease_id);
  // Compacts etcd's history up to `revision` (watches from older revisions
  // are then canceled).
  Status Compact(int64_t revision);

  // Starts a watch on keys starting with `prefix`, from `start_revision`
  // (0: from now), on its own connection and thread; returns once etcd has
  // confirmed it (bounded by the call timeout). `callback` runs on the
  // watch's thread; see cluster/etcd_watch.h for its lifecycle. Independent
  // of this client (its mutex, its lifetime): calls go on while a watch
  // runs, and either may be destroyed first.
  Result<std::unique_ptr<EtcdWatch>> Watch(std::string_view prefix, int64_t start_revision,
                                           std::function<void(const WatchResponse&)> callback);

 private:
  // Owns the io_context the calls run on (cluster/etcd_http.h).
  EtcdClient(std::vector<HostPort> endpoints, std::chrono::milliseconds call_timeout);

  // POSTs `body` to `path` and returns the parsed JSON answer (a 200 answer,
  // or etcd's error mapped to a Status).
  Result<JsonValue> Call(std::string_view path, const std::string& body);

  const std::vector<HostPort> endpoints_;
  const std::chrono::milliseconds call_timeout_;
  Mutex mu_;
  size_t preferred_ GUARDED_BY(mu_) = 0;
  std::unique_ptr<EtcdHttp> http_ GUARDED_BY(mu_);
};

}  // namespace halfmq::cluster

#endif  // HALFMQ_CLUSTER_ETCD_CLIENT_H_
