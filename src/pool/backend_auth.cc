#include "pool/backend_auth.h"

#include "auth/caching_sha2.h"
#include "auth/ed25519.h"
#include "protocol/constants.h"
#include "protocol/handshake.h"

namespace longlink::pool {

namespace plugin = protocol::auth_plugin;
using protocol::AsBytes;
using protocol::AsChars;
using protocol::ByteView;

namespace {

using auth::caching_sha2::kFastAuthSuccess;
using auth::caching_sha2::kPerformFullAuthentication;
using auth::caching_sha2::kRequestPublicKey;

std::string ToString(const std::vector<std::uint8_t>& bytes) {
  return std::string(bytes.begin(), bytes.end());
}

std::string WithNul(std::string_view password) {
  std::string out(password);
  out.push_back('\0');
  return out;
}

}  // namespace

BackendAuth::BackendAuth(const auth::LoginSecret& secret, std::string user, bool secure_transport)
    : secret_(secret),
      user_(std::move(user)),
      secure_transport_(secure_transport),
      plugin_(plugin::kNativePassword) {}

std::string BackendAuth::FirstResponse(std::string_view scramble) {
  plugin_ = std::string(plugin::kNativePassword);
  scramble_ = std::string(scramble);
  step_ = Step::kStarted;
  return ToString(secret_.NativeResponse(AsBytes(scramble_)));
}

Error BackendAuth::NeedsPassword(std::string_view plugin) const {
  return Error{"the server asks for auth plugin '" + std::string(plugin) + "' for user '" + user_ +
               "', which needs the password itself: list the user in [[users]] with its password, "
               "or let it log in with a plugin that gives longlink the password (see "
               "docs/PROXY.md, \"Accounts and auth plugins\")"};
}

Result<std::optional<std::string>> BackendAuth::Answer(ByteView payload) {
  if (payload.empty()) return Error{"empty packet during login"};
  if (payload[0] == protocol::header::kEof) return Switch(payload);
  // Plugin data: MySQL prefixes 0x01 always, MariaDB only when the data starts with 0x01.
  std::string_view data = AsChars(payload);
  if (data.front() == protocol::header::kAuthMoreData) data.remove_prefix(1);
  if (plugin_ == plugin::kCachingSha2Password) return CachingSha2More(data);
  return Error{"unexpected plugin data during login with auth plugin '" + plugin_ + "'"};
}

Result<std::optional<std::string>> BackendAuth::Switch(ByteView payload) {
  auto request = protocol::Decode<protocol::AuthSwitchRequest>(payload);
  if (!request.ok()) return Error{"bad auth switch: " + request.error().message};
  if (request->IsOldPasswordSwitch()) {
    return Error{"the server asks for the pre-4.1 password scramble, which longlink refuses"};
  }
  plugin_ = request->plugin_name;
  step_ = Step::kStarted;
  if (plugin_ == plugin::kNativePassword) {
    scramble_ = std::string(protocol::ScrambleOf(*request));
    return std::optional(ToString(secret_.NativeResponse(AsBytes(scramble_))));
  }
  const std::optional<std::string_view> password = secret_.password();
  if (plugin_ == plugin::kEd25519) {
    if (!password) return NeedsPassword(plugin_);
    scramble_ = request->plugin_data;
    if (scramble_.size() != auth::kEd25519NonceLength) {
      return Error{"bad client_ed25519 nonce (" + std::to_string(scramble_.size()) + " bytes)"};
    }
    const auth::Ed25519Signature signature = auth::Ed25519Sign(*password, AsBytes(scramble_));
    return std::optional(std::string(signature.begin(), signature.end()));
  }
  if (plugin_ == plugin::kCachingSha2Password) {
    if (!password) return NeedsPassword(plugin_);
    scramble_ = std::string(protocol::ScrambleOf(*request));
    return std::optional(ToString(auth::CachingSha2Token(*password, AsBytes(scramble_))));
  }
  if (plugin_ == plugin::kClearPassword) {
    if (!password) return NeedsPassword(plugin_);
    if (!secure_transport_) {
      return Error{"the server asks for mysql_clear_password for user '" + user_ +
                   "': longlink sends a password in clear over a Unix socket only"};
    }
    return std::optional(WithNul(*password));
  }
  return Error{"the server asks for auth plugin '" + plugin_ + "' for user '" + user_ +
               "', which longlink does not speak (it speaks mysql_native_password, "
               "client_ed25519, caching_sha2_password and mysql_clear_password)"};
}

Result<std::optional<std::string>> BackendAuth::CachingSha2More(std::string_view data) {
  const std::optional<std::string_view> password = secret_.password();
  if (!password) return NeedsPassword(plugin_);
  switch (step_) {
    case Step::kStarted:
      if (data.size() == 1 && data[0] == kFastAuthSuccess) return std::optional<std::string>();
      if (data.size() == 1 && data[0] == kPerformFullAuthentication) {
        if (secure_transport_) {
          step_ = Step::kSentFullAuth;
          return std::optional(WithNul(*password));
        }
        step_ = Step::kAwaitingPublicKey;
        return std::optional(std::string(1, kRequestPublicKey));
      }
      return Error{"unexpected caching_sha2_password data during login"};
    case Step::kAwaitingPublicKey: {
      const std::string plain = WithNul(*password);
      const auto mixed = auth::XorPasswordWithNonce(AsBytes(plain), AsBytes(scramble_));
      auto encrypted = auth::RsaEncrypt(data, mixed);
      if (!encrypted.ok()) {
        return Error{"caching_sha2_password: the server's public key: " +
                     encrypted.error().message};
      }
      step_ = Step::kSentFullAuth;
      return std::optional(ToString(*encrypted));
    }
    case Step::kSentFullAuth:
      break;
  }
  return Error{"unexpected caching_sha2_password data after full authentication"};
}

}  // namespace longlink::pool
