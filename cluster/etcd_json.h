// Reading etcd's JSON gateway answers (proto3 JSON mapping: base64 bytes,
// 64-bit integers as strings, zero fields left out) and its error bodies.
// Shared by EtcdClient and EtcdWatch; internal to cluster/.
//
// Pure functions, thread-safe.
#ifndef HALFMQ_CLUSTER_ETCD_JSON_H_
#define HALFMQ_CLUSTER_ETCD_JSON_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/etcd_client.h"
#include "common/json_reader.h"
#include "common/status.h"

namespace halfmq::cluster {

// etcd's gRPC status code as our Status, with "etcd: <message>".
Status FromGrpc(int64_t code, const std::string& message);

// The error an answer carries, if any: {"error":"...","code":N,"message":
// "..."} from unary calls, {"error":{"grpc_code":N,"message":"..."}} from
// streaming ones.
std::optional<Status> ErrorOf(const JsonValue& answer);

// An HTTP answer of the gateway from `endpoint`: the JSON object of a 200
// answer (unwrapped from "result" for streaming calls such as the lease
// keep-alive), etcd's error mapped by FromGrpc, or INTERNAL for anything
// else (a body that is not JSON, an HTTP error without etcd's error body).
Result<JsonValue> InterpretGatewayAnswer(const std::string& endpoint, unsigned http_status,
                                         const std::string& body);

// INTERNAL "etcd: malformed answer: <what>".
Status Malformed(std::string_view what);

// An integer member (absent is 0, as proto3 leaves zeros out).
Result<int64_t> IntMember(const JsonValue& object, std::string_view name);
// A base64 bytes member (absent is empty).
Result<std::string> BytesMember(const JsonValue& object, std::string_view name);
// header.revision of an answer.
Result<int64_t> HeaderRevision(const JsonValue& answer);

Result<KeyValue> ParseKeyValue(const JsonValue& v);
// The "kvs" array of a range answer (absent: none).
Result<std::vector<KeyValue>> ParseKvs(const JsonValue& range_answer);

}  // namespace halfmq::cluster

#endif  // HALFMQ_CLUSTER_ETCD_JSON_H_
