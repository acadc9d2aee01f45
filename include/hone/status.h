// hone/status.h: error values returned by every hone call.
//
//   hone::StatusOr<std::unique_ptr<hone::Session>> s = hone::Session::FromFile("m.onnx");
//   if (!s.ok()) { std::cerr << s.status().ToString() << "\n"; return 1; }
//   auto session = std::move(s).value();
//
// The core never throws; it returns Status / StatusOr. Frontends (CLI, servers, Python) translate
// the code into their own error kind through one table each.
#pragma once

#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace hone {

enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument,  // the caller's input is wrong (shape, dtype, missing input, bad flag)
  kInvalidModel,     // the model file is malformed or inconsistent
  kNotSupported,     // valid, but hone cannot do it (unknown op, opset, dtype)
  kNotFound,         // a named thing (file, model, input) does not exist
  kOutOfMemory,
  kUnavailable,
  kDeadlineExceeded,
  kCancelled,
  kInternal,  // a bug in hone
};

const char* StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "InvalidModel: node "conv_3" (Conv v11): input W rank: expected 4, got 3"
  std::string ToString() const;
  // Same code, message prefixed with "context: ".
  Status WithContext(std::string_view context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// A value or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    if (std::get<0>(v_).ok()) std::abort();          // an OK status carries no value
  }
  StatusOr(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design

  bool ok() const { return v_.index() == 1; }
  Status status() const { return ok() ? Status() : std::get<0>(v_); }
  T& value() & { return std::get<1>(v_); }
  const T& value() const& { return std::get<1>(v_); }
  T&& value() && { return std::get<1>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<Status, T> v_;
};

}  // namespace hone

#define HONE_CONCAT_INNER_(a, b) a##b
#define HONE_CONCAT_(a, b) HONE_CONCAT_INNER_(a, b)

#define HONE_RETURN_IF_ERROR(expr)               \
  do {                                           \
    ::hone::Status hone_status_ = (expr);        \
    if (!hone_status_.ok()) return hone_status_; \
  } while (0)

#define HONE_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()

#define HONE_ASSIGN_OR_RETURN(lhs, expr) \
  HONE_ASSIGN_OR_RETURN_IMPL_(HONE_CONCAT_(hone_statusor_, __LINE__), lhs, expr)
