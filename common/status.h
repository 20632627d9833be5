// Status and Result<T>: the one error type at module boundaries.
//
// A Status carries a code (gRPC's codes, so mapping to HTTP and to
// grpc::Status is one function each), a short machine-readable `reason`
// (the `error` field of the REST API, e.g. "username_taken") and a human
// message. Result<T> is either a value or a non-OK Status.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>

namespace p2pshare {

enum class Code {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kAborted = 10,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
  kUnauthenticated = 16,
};

// "INVALID_ARGUMENT" etc.
const char* CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  // `reason` empty means the default reason of `code` (see DefaultReason).
  Status(Code code, std::string message, std::string reason = "");

  static Status Ok() { return Status(); }
  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& reason() const { return reason_; }
  const std::string& message() const { return message_; }
  // "NOT_FOUND (not_found): no such file"; "OK" for OK.
  std::string ToString() const;

  // The same status with `prefix: ` put before the message.
  Status WithContext(const std::string& prefix) const;

 private:
  Code code_ = Code::kOk;
  std::string reason_;
  std::string message_;
};

// The reason used when none is given: "bad_request", "not_found", ...
const char* DefaultReason(Code code);

inline Status InvalidArgument(std::string msg, std::string reason = "") {
  return Status(Code::kInvalidArgument, std::move(msg), std::move(reason));
}
inline Status NotFound(std::string msg, std::string reason = "") {
  return Status(Code::kNotFound, std::move(msg), std::move(reason));
}
inline Status AlreadyExists(std::string msg, std::string reason = "") {
  return Status(Code::kAlreadyExists, std::move(msg), std::move(reason));
}
inline Status PermissionDenied(std::string msg, std::string reason = "") {
  return Status(Code::kPermissionDenied, std::move(msg), std::move(reason));
}
inline Status Unauthenticated(std::string msg, std::string reason = "") {
  return Status(Code::kUnauthenticated, std::move(msg), std::move(reason));
}
inline Status ResourceExhausted(std::string msg, std::string reason = "") {
  return Status(Code::kResourceExhausted, std::move(msg), std::move(reason));
}
inline Status Unavailable(std::string msg, std::string reason = "") {
  return Status(Code::kUnavailable, std::move(msg), std::move(reason));
}
inline Status FailedPrecondition(std::string msg, std::string reason = "") {
  return Status(Code::kFailedPrecondition, std::move(msg), std::move(reason));
}
inline Status Internal(std::string msg, std::string reason = "") {
  return Status(Code::kInternal, std::move(msg), std::move(reason));
}

// HTTP status for a Status: InvalidArgument 400, Unauthenticated 401,
// PermissionDenied 403, NotFound 404, AlreadyExists 409, ResourceExhausted
// 429 (413 when the reason is "payload_too_large"), Unavailable 503, ...
int HttpStatusFor(const Status& status);
// The inverse, for clients reading an HTTP error: 400 -> InvalidArgument, ...
Code CodeForHttpStatus(int http_status);

// Either a T or a non-OK Status.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit on purpose
  Result(Status status) : status_(std::move(status)) {  // NOLINT
    assert(!status_.ok() && "Result built from an OK status has no value");
    if (status_.ok()) status_ = Internal("Result built from an OK status");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  T& value() & { assert(ok()); return *value_; }
  const T& value() const& { assert(ok()); return *value_; }
  T&& value() && { assert(ok()); return std::move(*value_); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace p2pshare

#define P2P_CONCAT_INNER(a, b) a##b
#define P2P_CONCAT(a, b) P2P_CONCAT_INNER(a, b)

// Returns the Status of `expr` from the calling function when it is not OK.
#define RETURN_IF_ERROR(expr)                        \
  do {                                               \
    ::p2pshare::Status p2p_status_ = (expr);         \
    if (!p2p_status_.ok()) return p2p_status_;       \
  } while (0)

// `lhs = value of expr`, or returns its Status when `expr` failed.
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(P2P_CONCAT(p2p_result_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(tmp).value()
