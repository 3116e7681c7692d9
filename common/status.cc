#include "common/status.h"

#include <cstdio>
#include <cstdlib>

namespace halfmq {

std::string_view StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "OK";
    case StatusCode::kInvalidArgument: return "INVALID_ARGUMENT";
    case StatusCode::kNotFound: return "NOT_FOUND";
    case StatusCode::kAlreadyExists: return "ALREADY_EXISTS";
    case StatusCode::kFailedPrecondition: return "FAILED_PRECONDITION";
    case StatusCode::kResourceExhausted: return "RESOURCE_EXHAUSTED";
    case StatusCode::kUnavailable: return "UNAVAILABLE";
    case StatusCode::kUnauthenticated: return "UNAUTHENTICATED";
    case StatusCode::kPermissionDenied: return "PERMISSION_DENIED";
    case StatusCode::kInternal: return "INTERNAL";
  }
  return "INTERNAL";
}

StatusCode StatusCodeFromInt(int value) {
  if (value < 0 || value > static_cast<int>(StatusCode::kInternal)) return StatusCode::kInternal;
  return static_cast<StatusCode>(value);
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out(StatusCodeName(code_));
  if (!message_.empty()) {
    out += ": ";
    out += message_;
  }
  return out;
}

namespace internal {
void DieOnBadResultAccess(const Status& status) {
  std::fprintf(stderr, "halfmq: value() of a failed Result: %s\n", status.ToString().c_str());
  std::abort();
}
void DieOnOkStatusInResult() {
  std::fprintf(stderr, "halfmq: Result built from an OK Status without a value\n");
  std::abort();
}
}  // namespace internal

std::ostream& operator<<(std::ostream& os, const Status& status) {
  return os << status.ToString();
}

}  // namespace halfmq
