// Logging a client in at the proxy: the greeting (the backend's version and capabilities, a
// fresh scramble, the session id as connection id), the handshake response, and the
// authentication of a user against its account (AccountDirectory: [[users]], or the server's
// through [auth]). COM_CHANGE_USER authenticates through the same path.
//
// The exchange follows the account's first credential longlink can check (ChooseExchange):
// mysql_native_password accounts are checked by their hash; ed25519 and caching_sha2_password
// accounts by the password, which caching_sha2_password full authentication obtains (then
// kept, so later logins use the account's own plugin: client_ed25519, or the fast path). An
// account with no such credential (unix_socket, pam, gssapi, ...) gets ER_NOT_SUPPORTED_AUTH_MODE
// naming its plugin.
//
// After the password: a locked account gets the server's 4151; the caller enforces
// max_user_connections (1226) and sandboxes an expired password (Admission).
//
// An unknown user takes the same path and time as a wrong password of a mysql_native_password
// account (a decoy credential, and the same re-read of the account), and gets the same error.
// (Accounts of other plugins show their kind by the exchange, as on the server.) Failures are
// counted per user and host (LoginFailures) and logged rate-limited, with the client's strings
// escaped.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "auth/login_secret.h"
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
  std::uint8_t sequence = 0;     // For the proxy's next packet (the OK or ERR that ends login).
};

// What a login that succeeded brings.
struct Admission {
  auth::LoginSecret secret = {};
  bool password_expired = false;           // The server sandboxes the session.
  std::uint32_t max_user_connections = 0;  // The account's limit; 0: none.
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
  // `*admission` is set on success.
  net::Awaitable<std::optional<LoginRequest>> GreetAndAuthenticate(bool admitted,
                                                                   Admission* admission);

  // Authenticates `user`, whose client started with `plugin` and `first_token` for
  // `scramble`, reading more from the client as needed; `*sequence` is the proxy's next
  // sequence id and is advanced. On refusal the ERR is sent, or stored in `*rejection` if
  // given. nullopt if refused or the client went away.
  net::Awaitable<std::optional<Admission>> Authenticate(
      const std::string& user, const std::string& first_token, const std::string& plugin,
      std::uint8_t* sequence, const auth::Scramble& scramble,
      std::optional<protocol::ErrPacket>* rejection = nullptr);

 private:
  // Reads the client's first packet if it is an SSLRequest, and then completes the TLS
  // handshake: true (TLS on), false (another packet, left in the input), nullopt (the client
  // went away, or the handshake failed: logged).
  net::Awaitable<std::optional<bool>> StartTlsIfAsked(net::TlsContextPtr tls);
  // Sends `error` or stores it in `*rejection`.
  net::Awaitable<void> Refuse(const protocol::ErrPacket& error, std::uint8_t sequence,
                              std::optional<protocol::ErrPacket>* rejection);

  ProxyContext& context_;
  ClientChannel& client_;
  const std::uint64_t session_;
  const std::string& peer_host_;
};

}  // namespace longlink::proxy
