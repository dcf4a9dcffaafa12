// The client side of authentication with a backend, during a login or a COM_CHANGE_USER:
// which plugin's answer goes in the first packet, and the answer to each packet the server
// sends before its OK or ERR (an AuthSwitchRequest, or plugin data).
//
// Plugins, chosen by the server's AuthSwitchRequest:
//   mysql_native_password   from SHA1(password) (always known)
//   client_ed25519          (MariaDB ed25519) the nonce signed with the password's key
//   caching_sha2_password   (MySQL 8) the fast-path token; when the server asks for full
//                           authentication (0x01 0x04): the password in clear over a Unix
//                           socket, else RSA: ask for the server's public key (0x02) and send
//                           the password encrypted with it
//   mysql_clear_password    the password in clear, over a Unix socket only
// The last three need the password itself (auth::LoginSecret::password()); without it, or for
// another plugin, the error names the plugin and what to configure.
//
// Pure: no I/O, so the exchanges are tested against recorded packets
// (tests/unit/pool/backend_auth_test.cc).
#pragma once

#include <optional>
#include <string>

#include "auth/login_secret.h"
#include "common/result.h"
#include "protocol/wire.h"

namespace longlink::pool {

class BackendAuth {
 public:
  // `user` names the account in errors. `secure_transport`: the connection is a Unix socket
  // (or TLS), so a password may travel in clear.
  BackendAuth(const auth::LoginSecret& secret, std::string user, bool secure_transport);

  // The auth response of the login packet or COM_CHANGE_USER for `scramble` (the greeting's,
  // 20 bytes, no NUL), and the plugin it is for (plugin_name()): mysql_native_password.
  std::string FirstResponse(std::string_view scramble);
  const std::string& plugin_name() const { return plugin_; }

  // The answer to `payload`, a packet from the server that is neither OK nor ERR: an
  // AuthSwitchRequest (0xFE ...) or plugin data (0x01 ..., or raw from MariaDB). nullopt: no
  // answer is due (the server will send more). An error ends the login.
  Result<std::optional<std::string>> Answer(protocol::ByteView payload);

 private:
  Result<std::optional<std::string>> Switch(protocol::ByteView payload);
  Result<std::optional<std::string>> CachingSha2More(std::string_view data);
  Error NeedsPassword(std::string_view plugin) const;

  enum class Step { kStarted, kAwaitingPublicKey, kSentFullAuth };

  const auth::LoginSecret& secret_;
  const std::string user_;
  const bool secure_transport_;
  std::string plugin_;
  std::string scramble_;  // The current plugin's nonce.
  Step step_ = Step::kStarted;
};

}  // namespace longlink::pool
