#include "proxy/client_login.h"

#include "common/log.h"
#include "common/log_rate_limit.h"
#include "common/log_text.h"
#include "net/packet_io.h"
#include "protocol/handshake.h"

namespace longlink::proxy {

namespace cap = protocol::capability;
using protocol::Bytes;
using protocol::ErrPacket;
using protocol::MakeErrPacket;
namespace server_error = protocol::server_error;

ClientLogin::ClientLogin(ProxyContext& context, ClientChannel& client, std::uint64_t session,
                         const std::string& peer_host)
    : context_(context), client_(client), session_(session), peer_host_(peer_host) {}

net::Awaitable<std::optional<LoginRequest>> ClientLogin::GreetAndAuthenticate(bool admitted) {
  net::Deadline deadline(client_.socket(), context_.config().proxy.handshake_timeout);
  LoginRequest login;

  const pool::ServerIdentity server = context_.ServerIdentity();
  login.scramble = auth::GenerateScramble();
  protocol::HandshakeV10 greeting;
  greeting.server_version = server.version;
  greeting.connection_id = static_cast<std::uint32_t>(session_);
  greeting.auth_plugin_data.assign(login.scramble.begin(), login.scramble.end());
  greeting.capabilities = server.capabilities & kRelayableCapabilities;
  greeting.character_set = server.collation;
  greeting.status_flags = protocol::status::kAutocommit;
  greeting.auth_plugin_name = std::string(protocol::auth_plugin::kNativePassword);
  const Bytes greeting_bytes = protocol::Encode(greeting);
  if (!co_await client_.Send(greeting_bytes, 0)) co_return std::nullopt;

  auto read = co_await net::ReadPacket(client_.socket(), client_.in(), kPacketLimit);
  if (!read.ok()) {
    if (read.failure == net::ReadFailure::kClosed) {
      Log(LogLevel::kDebug, session_, "client left during login: {}",
          deadline.expired() ? "handshake timeout" : read.error);
      static LogRateLimit timeouts;
      if (deadline.expired()) {
        if (auto note = timeouts.Admit(); note.write) {
          Log(LogLevel::kInfo, session_, "closing client {}: no login within {} ms{}", peer_host_,
              context_.config().proxy.handshake_timeout.count(), note.suffix);
        }
      }
      co_return std::nullopt;
    }
    {
      const ErrPacket error_packet = MakeErrPacket(server_error::kHandshakeError, "Bad handshake");
      co_await client_.SendError(error_packet, 2);
    };
    co_return std::nullopt;
  }
  std::uint8_t sequence = static_cast<std::uint8_t>(read.packet.last_sequence_id + 1);
  const Bytes& payload = read.packet.payload;
  if (read.packet.sequence_id != 1) {
    {
      const ErrPacket error_packet =
          MakeErrPacket(server_error::kNetPacketsOutOfOrder, "Got packets out of order");
      co_await client_.SendError(error_packet, sequence);
    };
    co_return std::nullopt;
  }
  if (protocol::IsSslRequest(payload)) {
    {
      const ErrPacket error_packet =
          MakeErrPacket(server_error::kHandshakeError,
                        "Bad handshake: longlink does not offer TLS; connect without it");
      co_await client_.SendError(error_packet, sequence);
    };
    co_return std::nullopt;
  }
  auto response = protocol::Decode<protocol::HandshakeResponse41>(payload);
  if (!response.ok() || !(response->capabilities & cap::kProtocol41)) {
    static LogRateLimit bad_handshakes;
    if (auto note = bad_handshakes.Admit(); note.write) {
      Log(LogLevel::kInfo, session_, "bad handshake from {}: {}{}", peer_host_,
          response.ok() ? "client lacks PROTOCOL_41" : response.error().message, note.suffix);
    }
    {
      const ErrPacket error_packet = MakeErrPacket(server_error::kHandshakeError, "Bad handshake");
      co_await client_.SendError(error_packet, sequence);
    };
    co_return std::nullopt;
  }
  client_.set_capabilities(response->capabilities & greeting.capabilities);
  if (!admitted) {
    const ErrPacket error_packet = protocol::TooManyConnectionsError();
    co_await client_.SendError(error_packet, sequence);
    co_return std::nullopt;
  }
  login.user = response->username;
  login.schema = response->database;
  login.collation = response->character_set != 0 ? response->character_set : server.collation;

  const std::string plugin =
      (client_.capabilities() & cap::kPluginAuth) && !response->auth_plugin_name.empty()
          ? response->auth_plugin_name
          : std::string(protocol::auth_plugin::kNativePassword);
  std::optional<auth::PasswordSecret> secret;
  if (!co_await Authenticate(login.user, response->auth_response, plugin, &sequence, login.scramble,
                             &secret)) {
    co_return std::nullopt;
  }
  login.secret = std::move(*secret);
  login.sequence = sequence;
  co_return login;
}

net::Awaitable<bool> ClientLogin::Authenticate(const std::string& user,
                                               const std::string& first_token,
                                               const std::string& plugin, std::uint8_t* sequence,
                                               const auth::Scramble& scramble,
                                               std::optional<auth::PasswordSecret>* secret,
                                               std::optional<ErrPacket>* rejection) {
  std::string token = first_token;
  std::string current_scramble(scramble.begin(), scramble.end());
  if (plugin != protocol::auth_plugin::kNativePassword) {
    // Ask the client to restart with mysql_native_password (and a fresh scramble).
    const auto fresh = auth::GenerateScramble();
    current_scramble.assign(fresh.begin(), fresh.end());
    protocol::AuthSwitchRequest request{
        .plugin_name = std::string(protocol::auth_plugin::kNativePassword),
        .plugin_data = current_scramble + std::string(1, '\0')};
    const Bytes request_bytes = protocol::Encode(request);
    if (!co_await client_.Send(request_bytes, *sequence)) co_return false;
    auto reply = co_await client_.ReadPacket(kPacketLimit);
    if (!reply.ok()) co_return false;
    *sequence = static_cast<std::uint8_t>(reply.packet.last_sequence_id + 1);
    token.assign(reply.packet.payload.begin(), reply.packet.payload.end());
  }
  const auth::NativePasswordCredential* credential = context_.FindUser(user);
  // An unknown user takes the same path as a wrong password (the decoy never matches).
  std::optional<auth::PasswordSecret> verified =
      (credential != nullptr ? *credential : context_.decoy_credential())
          .Verify(protocol::AsBytes(token), protocol::AsBytes(current_scramble));
  if (credential == nullptr) verified.reset();
  if (!verified) {
    static LogRateLimit denials;
    if (auto note = denials.Admit(); note.write) {
      Log(LogLevel::kInfo, session_, "access denied for user {} from {}{}{}", LogQuoted(user),
          peer_host_, credential == nullptr ? " (unknown user)" : "", note.suffix);
    }
    const ErrPacket error_packet = protocol::AccessDeniedError(user, peer_host_, !token.empty());
    if (rejection != nullptr) {
      *rejection = error_packet;
    } else {
      co_await client_.SendError(error_packet, *sequence);
    }
    co_return false;
  }
  *secret = std::move(verified);
  co_return true;
}

}  // namespace longlink::proxy
