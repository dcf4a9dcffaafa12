// Logging a client in at the proxy: the greeting (the backend's version and capabilities, a
// fresh scramble, the session id as connection id), the handshake response, and the
// authentication of a user against the configured accounts (mysql_native_password; a client
// that starts with another plugin is switched to it). COM_CHANGE_USER authenticates through
// the same path.
//
// An unknown user takes the same path and time as a wrong password (a decoy credential), and
// gets the same error, so that the answer does not tell which users exist. Rejections are
// logged rate-limited, with the client's strings escaped.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "auth/native_password.h"
#include "protocol/packets.h"
#include "proxy/client_channel.h"
#include "proxy/proxy_context.h"

namespace longlink::proxy {

// What a client that logged in asked for.
struct LoginRequest {
  std::string user = {};
  std::string schema = {};  // Empty: none.
  std::uint8_t collation = 0;
  auth::Scramble scramble = {};  // From the greeting; COM_CHANGE_USER tokens use it.
  auth::PasswordSecret secret = {};
  std::uint8_t sequence = 0;  // For the proxy's next packet (the OK or ERR that ends login).
};

class ClientLogin {
 public:
  // Login packets are small; anything larger is not a login.
  static constexpr std::size_t kPacketLimit = 64 * 1024;

  // `session`: the session id (the greeting's connection id, and the logs'); `peer_host`: how
  // the client is named in errors.
  ClientLogin(ProxyContext& context, ClientChannel& client, std::uint64_t session,
              const std::string& peer_host);

  // Greets the client, reads its handshake response and authenticates it. On success the
  // channel's capabilities are set and the client waits for the OK that ends login; nullopt
  // if the client was refused (it got its ERR) or went away. `admitted`: false beyond
  // max_client_connections (ERR 1040 after the handshake response, as MariaDB does).
  net::Awaitable<std::optional<LoginRequest>> GreetAndAuthenticate(bool admitted);

  // Checks `first_token` for `user` (with `plugin`, switched to mysql_native_password if it is
  // another), reading more from the client as needed; `*sequence` is the proxy's next
  // sequence id and is advanced. On success `*secret` is set. On refusal the ERR is sent, or
  // stored in `*rejection` if given. False if refused or the client went away.
  net::Awaitable<bool> Authenticate(const std::string& user, const std::string& first_token,
                                    const std::string& plugin, std::uint8_t* sequence,
                                    const auth::Scramble& scramble,
                                    std::optional<auth::PasswordSecret>* secret,
                                    std::optional<protocol::ErrPacket>* rejection = nullptr);

 private:
  ProxyContext& context_;
  ClientChannel& client_;
  const std::uint64_t session_;
  const std::string& peer_host_;
};

}  // namespace longlink::proxy
