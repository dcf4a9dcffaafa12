#include "auth/login_secret.h"

namespace longlink::auth {

LoginSecret LoginSecret::FromPassword(std::string_view password) {
  LoginSecret secret;
  if (password.empty()) return secret;
  secret.native_ = PasswordSecret::FromPassword(password);
  secret.password_ = std::string(password);
  return secret;
}

LoginSecret LoginSecret::FromNative(const PasswordSecret& native) {
  LoginSecret secret;
  secret.native_ = native;
  return secret;
}

std::optional<std::string_view> LoginSecret::password() const {
  if (is_empty_password()) return std::string_view();
  if (password_) return std::string_view(*password_);
  return std::nullopt;
}

}  // namespace longlink::auth
