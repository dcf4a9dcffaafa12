// What the proxy holds to log in to a backend as a user, learned when the client logged in at
// the proxy or read from the config:
//   - the password itself, when the config holds it or the client sent it (full
//     authentication of caching_sha2_password): answers every plugin the backend may ask for
//     (mysql_native_password, client_ed25519, caching_sha2_password);
//   - else SHA1(password), recovered from a mysql_native_password token against the stored
//     hash: answers mysql_native_password only.
// The empty password is both (it answers every plugin with an empty response).
//
// Either form logs in as the user wherever the password is valid: treat it like the password.
// Nothing here logs it.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "auth/native_password.h"

namespace longlink::auth {

class LoginSecret {
 public:
  // The empty password.
  LoginSecret() = default;
  static LoginSecret FromPassword(std::string_view password);
  static LoginSecret FromNative(const PasswordSecret& native);

  bool is_empty_password() const { return native_.is_empty_password(); }
  // The password, when known (always for the empty password).
  std::optional<std::string_view> password() const;
  bool knows_password() const { return password().has_value(); }

  // mysql_native_password's answer to `scramble` (20 bytes, no NUL).
  std::vector<std::uint8_t> NativeResponse(std::span<const std::uint8_t> scramble) const {
    return native_.AuthResponse(scramble);
  }
  const PasswordSecret& native() const { return native_; }

  // Two secrets are equal when they log in the same way (the same SHA1(password), and the
  // password itself known by both or neither).
  friend bool operator==(const LoginSecret& a, const LoginSecret& b) {
    return a.native_ == b.native_ && a.password_ == b.password_;
  }

 private:
  PasswordSecret native_;
  std::optional<std::string> password_;  // Non-empty passwords only.
};

}  // namespace longlink::auth
