#include "cluster/etcd_json.h"

#include <utility>

#include "common/base64.h"
#include "common/utf8.h"

namespace halfmq::cluster {

// etcd answers errors with gRPC codes; ours are the wire codes of HalfMQ.
Status FromGrpc(int64_t code, const std::string& message) {
  std::string text = "etcd: " + message;
  switch (code) {
    case 3:   // INVALID_ARGUMENT
    case 11:  // OUT_OF_RANGE (e.g. a compacted revision)
      return Status::InvalidArgument(std::move(text));
    case 5:  // NOT_FOUND
      return Status::NotFound(std::move(text));
    case 6:  // ALREADY_EXISTS
      return Status::AlreadyExists(std::move(text));
    case 7:  // PERMISSION_DENIED
      return Status(StatusCode::kPermissionDenied, std::move(text));
    case 8:  // RESOURCE_EXHAUSTED
      return Status::ResourceExhausted(std::move(text));
    case 9:  // FAILED_PRECONDITION
      return Status::FailedPrecondition(std::move(text));
    case 4:   // DEADLINE_EXCEEDED
    case 14:  // UNAVAILABLE (e.g. no leader)
      return Status::Unavailable(std::move(text));
    case 16:  // UNAUTHENTICATED
      return Status(StatusCode::kUnauthenticated, std::move(text));
    default:
      return Status::Internal(std::move(text));
  }
}

// An error answer: {"error":"...","code":N,"message":"..."} from unary
// calls, {"error":{"grpc_code":N,"message":"..."}} from streaming ones.
std::optional<Status> ErrorOf(const JsonValue& answer) {
  const JsonValue* error = answer.Find("error");
  if (error == nullptr) return std::nullopt;
  const JsonValue* holder = error->is_object() ? error : &answer;
  const JsonValue* code = holder->Find(error->is_object() ? "grpc_code" : "code");
  const JsonValue* message = holder->Find("message");
  Result<int64_t> number = code != nullptr ? code->AsInt64() : Result<int64_t>(int64_t{2});
  std::string text = message != nullptr && message->is_string() ? message->text()
                     : error->is_string()                       ? error->text()
                                                                : "unknown error";
  return FromGrpc(number.ok() ? *number : 2, text);
}

Status Malformed(std::string_view what) {
  return Status::Internal("etcd: malformed answer: " + std::string(what));
}

// An integer member; proto3 leaves zeros out, so absent is 0.
Result<int64_t> IntMember(const JsonValue& object, std::string_view name) {
  const JsonValue* v = object.Find(name);
  if (v == nullptr) return int64_t{0};
  Result<int64_t> n = v->AsInt64();
  if (!n.ok()) return Malformed(std::string(name) + ": " + n.status().message());
  return n;
}

// A base64 bytes member; absent is empty.
Result<std::string> BytesMember(const JsonValue& object, std::string_view name) {
  const JsonValue* v = object.Find(name);
  if (v == nullptr) return std::string();
  if (!v->is_string()) return Malformed(std::string(name) + " is not a string");
  Result<std::string> bytes = Base64Decode(v->text());
  if (!bytes.ok()) return Malformed(std::string(name) + ": " + bytes.status().message());
  return bytes;
}

Result<int64_t> HeaderRevision(const JsonValue& answer) {
  const JsonValue* header = answer.Find("header");
  if (header == nullptr || !header->is_object()) return Malformed("no header");
  return IntMember(*header, "revision");
}

Result<KeyValue> ParseKeyValue(const JsonValue& v) {
  if (!v.is_object()) return Malformed("key-value is not an object");
  KeyValue kv;
  Result<std::string> key = BytesMember(v, "key");
  Result<std::string> value = BytesMember(v, "value");
  Result<int64_t> create = IntMember(v, "create_revision");
  Result<int64_t> mod = IntMember(v, "mod_revision");
  Result<int64_t> version = IntMember(v, "version");
  Result<int64_t> lease = IntMember(v, "lease");
  for (const Status* s : {&key.status(), &value.status(), &create.status(), &mod.status(),
                          &version.status(), &lease.status()}) {
    if (!s->ok()) return *s;
  }
  return KeyValue{std::move(*key), std::move(*value), *create, *mod, *version, *lease};
}

Result<std::vector<KeyValue>> ParseKvs(const JsonValue& range_answer) {
  std::vector<KeyValue> kvs;
  const JsonValue* list = range_answer.Find("kvs");
  if (list == nullptr) return kvs;
  if (!list->is_array()) return Malformed("kvs is not an array");
  for (size_t i = 0; i < list->size(); ++i) {
    Result<KeyValue> kv = ParseKeyValue(list->at(i));
    if (!kv.ok()) return kv.status();
    kvs.push_back(std::move(*kv));
  }
  return kvs;
}

Result<JsonValue> InterpretGatewayAnswer(const std::string& endpoint, unsigned http_status,
                                         const std::string& body) {
  Result<JsonValue> answer = ParseJson(body);
  if (!answer.ok()) {
    if (http_status == 200) return Malformed(answer.status().message());
    return Status::Internal("etcd " + endpoint + " answered HTTP " + std::to_string(http_status) +
                            ": " + SanitizeUtf8(body.substr(0, 200)));
  }
  if (!answer->is_object()) return Malformed("not an object");
  if (std::optional<Status> error = ErrorOf(*answer)) return *error;
  if (http_status != 200) {
    return Status::Internal("etcd " + endpoint + " answered HTTP " + std::to_string(http_status));
  }
  // Streaming calls (lease keep-alive) wrap each message in "result".
  if (const JsonValue* result = answer->Find("result"); result != nullptr) {
    if (!result->is_object()) return Malformed("result is not an object");
    return JsonValue(*result);
  }
  return answer;
}

}  // namespace halfmq::cluster
