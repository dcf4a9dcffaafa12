// Result<T>: a value or an error message, for code that must not throw (the event loop, the
// diagnose collectors). Modelled on LevelDB's Status, carrying a value like std::expected.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace longlink {

// An error: a human-readable message, already phrased for the operator
// ("cannot open /proc/net/tcp: Permission denied").
struct Error {
  std::string message;
};

// Holds either a T or an Error. Accessing the wrong alternative is a programming error
// (REQUIRES: ok() before value(), !ok() before error()).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Result<void>: success or an Error.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace longlink
