// Status and Result: errors as values across component boundaries.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace dlnest {

/// The outcome of an operation that can fail: ok, or a code with a message a user can act on.
class Status {
 public:
  enum class Code {
    kOk,
    kNotFound,
    kAlreadyExists,
    kInvalidArgument,
    kCorruption,
    kIOError,
    kFailedPrecondition
  };

  Status() = default;

  static Status ok() { return Status(); }
  static Status not_found(std::string msg) { return Status(Code::kNotFound, std::move(msg)); }
  static Status already_exists(std::string msg) {
    return Status(Code::kAlreadyExists, std::move(msg));
  }
  static Status invalid_argument(std::string msg) {
    return Status(Code::kInvalidArgument, std::move(msg));
  }
  static Status corruption(std::string msg) { return Status(Code::kCorruption, std::move(msg)); }
  static Status io_error(std::string msg) { return Status(Code::kIOError, std::move(msg)); }
  static Status failed_precondition(std::string msg) {
    return Status(Code::kFailedPrecondition, std::move(msg));
  }

  bool is_ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  /// "IO error: <message>", or "OK".
  std::string to_string() const;

  /// A copy whose message is prefixed with `context: `, keeping the code.
  Status with_context(const std::string& context) const;

 private:
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {}

  Code code_ = Code::kOk;
  std::string message_;
};

/// A value of type T, or the Status saying why there is none.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}  // NOLINT: implicit by design

  bool is_ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return is_ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  /// By value, so `for (auto& x : *make_result())` does not outlive the temporary.
  T value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T operator*() && { return std::move(*this).value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace dlnest

/// Returns the Status of `expr` from the enclosing function when it is not ok.
#define DLNEST_RETURN_IF_ERROR(expr)          \
  do {                                        \
    ::dlnest::Status dlnest_status_ = (expr); \
    if (!dlnest_status_.is_ok()) return dlnest_status_; \
  } while (0)

#define DLNEST_STATUS_CONCAT_INNER(a, b) a##b
#define DLNEST_STATUS_CONCAT(a, b) DLNEST_STATUS_CONCAT_INNER(a, b)
#define DLNEST_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.is_ok()) return tmp.status();             \
  lhs = std::move(tmp).value()

/// Evaluates `expr` (a Result); returns its Status from the enclosing function when it is not
/// ok, else moves the value into `lhs` (which may declare a variable: `auto x`).
#define DLNEST_ASSIGN_OR_RETURN(lhs, expr) \
  DLNEST_ASSIGN_OR_RETURN_IMPL(DLNEST_STATUS_CONCAT(dlnest_result_, __LINE__), lhs, expr)
