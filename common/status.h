// Status and Result<T>: how every HalfMQ module reports errors.
//
// The codes are the wire protocol's status codes (docs/protocol.md), so a
// status travels from storage through the broker to the client unchanged.
// Both types are [[nodiscard]]; dropping one on purpose is written out as
// `status.IgnoreError()`. Values are immutable and safe to share between
// threads.
#ifndef HALFMQ_COMMON_STATUS_H_
#define HALFMQ_COMMON_STATUS_H_

#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace halfmq {

class Status;
namespace internal {
// Aborts the process: a Result was read without a value. Broken invariant.
[[noreturn]] void DieOnBadResultAccess(const Status& status);
[[noreturn]] void DieOnOkStatusInResult();
}  // namespace internal

// Numeric values equal halfmq.v1.Status.Code on the wire.
enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument = 1,
  kNotFound = 2,
  kAlreadyExists = 3,
  kFailedPrecondition = 4,
  kResourceExhausted = 5,
  kUnavailable = 6,
  kUnauthenticated = 7,
  kPermissionDenied = 8,
  kInternal = 9,
};

// Returns the protocol name of `code`, e.g. "FAILED_PRECONDITION".
std::string_view StatusCodeName(StatusCode code);

// Maps a wire integer to a code; unknown values become kInternal.
StatusCode StatusCodeFromInt(int value);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string msg) {
    return Status(StatusCode::kInvalidArgument, std::move(msg));
  }
  static Status NotFound(std::string msg) { return Status(StatusCode::kNotFound, std::move(msg)); }
  static Status AlreadyExists(std::string msg) {
    return Status(StatusCode::kAlreadyExists, std::move(msg));
  }
  static Status FailedPrecondition(std::string msg) {
    return Status(StatusCode::kFailedPrecondition, std::move(msg));
  }
  static Status ResourceExhausted(std::string msg) {
    return Status(StatusCode::kResourceExhausted, std::move(msg));
  }
  static Status Unavailable(std::string msg) {
    return Status(StatusCode::kUnavailable, std::move(msg));
  }
  static Status Internal(std::string msg) { return Status(StatusCode::kInternal, std::move(msg)); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "OK" or "CODE: message".
  std::string ToString() const;

  // Marks a status as deliberately ignored.
  void IgnoreError() const {}

  // Whether a client may retry the failed call as is: the broker was
  // unreachable or overloaded, or the call never reached it.
  bool IsRetryable() const {
    return code_ == StatusCode::kUnavailable || code_ == StatusCode::kResourceExhausted;
  }

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

std::ostream& operator<<(std::ostream& os, const Status& status);

// Either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    if (status_.ok()) internal::DieOnOkStatusInResult();
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  T& value() & {
    if (!ok()) internal::DieOnBadResultAccess(status_);
    return *value_;
  }
  const T& value() const& {
    if (!ok()) internal::DieOnBadResultAccess(status_);
    return *value_;
  }
  T&& value() && {
    if (!ok()) internal::DieOnBadResultAccess(status_);
    return std::move(*value_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  void IgnoreError() const {}

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace halfmq

// Returns early from the enclosing function when `expr` is not OK.
#define HALFMQ_RETURN_IF_ERROR(expr)        \
  do {                                      \
    ::halfmq::Status _halfmq_s = (expr);    \
    if (!_halfmq_s.ok()) return _halfmq_s;  \
  } while (0)

#endif  // HALFMQ_COMMON_STATUS_H_
