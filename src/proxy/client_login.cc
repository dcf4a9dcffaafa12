#include "proxy/client_login.h"

#include "common/log.h"
#include "common/log_rate_limit.h"
#include "common/log_text.h"
#include "net/packet_io.h"
#include "protocol/handshake.h"
#include "proxy/client_auth_exchange.h"
#include "proxy/client_transport.h"
#include "proxy/proxy_errors.h"

namespace longlink::proxy {

namespace cap = protocol::capability;
using protocol::Bytes;
using protocol::ErrPacket;
using protocol::MakeErrPacket;
namespace server_error = protocol::server_error;

ClientLogin::ClientLogin(ProxyContext& context, ClientChannel& client, std::uint64_t session,
                         const std::string& peer_host)
    : context_(context), client_(client), session_(session), peer_host_(peer_host) {}

net::Awaitable<std::optional<LoginRequest>> ClientLogin::GreetAndAuthenticate(
    bool admitted, Admission* admission) {
  net::Deadline deadline(client_.socket(), context_.config().proxy.handshake_timeout);
  LoginRequest login;

  const pool::ServerIdentity server = context_.ServerIdentity();
  login.scramble = auth::GenerateScramble();
  protocol::HandshakeV10 greeting;
  greeting.server_version = server.version;
  greeting.connection_id = static_cast<std::uint32_t>(session_);
  greeting.auth_plugin_data.assign(login.scramble.begin(), login.scramble.end());
  greeting.capabilities = server.capabilities & kRelayableCapabilities;
  const net::TlsContextPtr tls = context_.client_tls();
  if (tls) greeting.capabilities |= cap::kSsl;
  if (context_.config().proxy.compression) greeting.capabilities |= cap::kCompress;
  greeting.character_set = server.collation;
  greeting.status_flags = protocol::status::kAutocommit;
  greeting.auth_plugin_name = std::string(protocol::auth_plugin::kNativePassword);
  const Bytes greeting_bytes = protocol::Encode(greeting);
  if (!co_await client_.Send(greeting_bytes, 0)) co_return std::nullopt;

  // Sequence id of the handshake response: 2 after an SSLRequest (1).
  std::uint8_t response_sequence = 1;
  if (tls) {
    auto started = StartTlsIfAsked(tls);
    const std::optional<bool> secure = co_await std::move(started);
    if (!secure) co_return std::nullopt;
    if (*secure) response_sequence = 2;
  }
  auto read = co_await net::ReadPacket(client_.stream(), client_.in(), kPacketLimit);
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
      co_await client_.SendError(error_packet, static_cast<std::uint8_t>(response_sequence + 1));
    };
    co_return std::nullopt;
  }
  std::uint8_t sequence = static_cast<std::uint8_t>(read.packet.last_sequence_id + 1);
  const Bytes& payload = read.packet.payload;
  if (read.packet.sequence_id != response_sequence) {
    {
      const ErrPacket error_packet =
          MakeErrPacket(server_error::kNetPacketsOutOfOrder, "Got packets out of order");
      co_await client_.SendError(error_packet, sequence);
    };
    co_return std::nullopt;
  }
  if (protocol::IsSslRequest(payload)) {
    // TLS not offered (or asked for twice): the server's answer.
    const ErrPacket error_packet = MakeErrPacket(server_error::kHandshakeError, "Bad handshake");
    co_await client_.SendError(error_packet, sequence);
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
  auto authenticate =
      Authenticate(login.user, response->auth_response, plugin, &sequence, login.scramble);
  std::optional<Admission> admitted_as = co_await std::move(authenticate);
  if (!admitted_as) co_return std::nullopt;
  *admission = std::move(*admitted_as);
  login.sequence = sequence;
  co_return login;
}

net::Awaitable<std::optional<bool>> ClientLogin::StartTlsIfAsked(net::TlsContextPtr tls) {
  // The first packet is read by its exact length: after an SSLRequest the TLS handshake
  // follows, and OpenSSL reads it from the socket.
  constexpr std::size_t kHeader = protocol::kPacketHeaderSize;
  if (!co_await client_.FillExactly(kHeader)) co_return std::nullopt;
  const auto header = *protocol::DecodePacketHeader(client_.in().data());
  const std::size_t length = header.payload_length;
  if (length != protocol::kSslRequestSize || header.sequence_id != 1) co_return false;
  if (!co_await client_.FillExactly(kHeader + length)) co_return std::nullopt;
  if (!protocol::IsSslRequest(client_.in().data().subspan(kHeader))) co_return false;
  client_.in().Consume(kHeader + length);
  auto handshake = client_.stream().HandshakeAsServer(std::move(tls));
  const Status started = co_await std::move(handshake);
  if (!started.ok()) {
    static LogRateLimit failures;
    if (auto note = failures.Admit(); note.write) {
      Log(LogLevel::kInfo, session_, "TLS with client {} failed: {}{}", peer_host_,
          started.error().message, note.suffix);
    }
    co_return std::nullopt;
  }
  co_return true;
}

namespace {

// The exchange for the first credential from `from` on that longlink can check, and that
// credential's index; nullopt if none is a password longlink can check.
struct Choice {
  ExchangeKind kind;
  std::size_t index;
};
std::optional<Choice> ChooseExchange(const std::vector<auth::AccountCredential>& credentials,
                                     const std::optional<std::string>& known_password,
                                     std::string_view client_plugin, std::size_t from = 0) {
  namespace server_plugin = auth::server_plugin;
  for (std::size_t i = from; i < credentials.size(); ++i) {
    const auth::AccountCredential& credential = credentials[i];
    if (credential.plugin.empty() || credential.plugin == server_plugin::kNativePassword) {
      // With the password known, a client that started with another plugin may keep it.
      if (known_password && client_plugin == protocol::auth_plugin::kCachingSha2Password) {
        return Choice{ExchangeKind::kCachingSha2Fast, i};
      }
      if (known_password && client_plugin == protocol::auth_plugin::kEd25519) {
        return Choice{ExchangeKind::kEd25519, i};
      }
      return Choice{ExchangeKind::kNative, i};
    }
    const bool known = known_password && auth::PasswordMatches(credential, *known_password);
    if (credential.plugin == server_plugin::kEd25519) {
      return Choice{known ? ExchangeKind::kEd25519 : ExchangeKind::kCachingSha2Full, i};
    }
    if (credential.plugin == server_plugin::kCachingSha2Password) {
      return Choice{known ? ExchangeKind::kCachingSha2Fast : ExchangeKind::kCachingSha2Full, i};
    }
  }
  return std::nullopt;
}

// The "(using password: YES|NO)" of the server's access-denied message.
bool UsedPassword(const auth::ClientProof& proof) {
  return proof.kind == auth::ClientProof::Kind::kInvalid || !proof.data.empty();
}

ErrPacket UnsupportedPluginError(const std::string& user, const std::string& plugin) {
  return MakeErrPacket(
      server_error::kNotSupportedAuthMode,
      "longlink: user '" + user + "' logs in with auth plugin '" + plugin +
          "', which longlink cannot check; give the account a password plugin "
          "(mysql_native_password, ed25519 or caching_sha2_password) or connect directly");
}

}  // namespace

net::Awaitable<void> ClientLogin::Refuse(const ErrPacket& error, std::uint8_t sequence,
                                         std::optional<ErrPacket>* rejection) {
  if (rejection != nullptr) {
    *rejection = error;
  } else {
    co_await client_.SendError(error, sequence);
  }
}

net::Awaitable<std::optional<Admission>> ClientLogin::Authenticate(
    const std::string& user, const std::string& first_token, const std::string& plugin,
    std::uint8_t* sequence, const auth::Scramble& scramble, std::optional<ErrPacket>* rejection) {
  AccountDirectory& accounts = context_.accounts();
  auto find = accounts.Find(user, /*refresh=*/false);
  AccountLookup found = co_await std::move(find);
  if (found.status == AccountLookup::Status::kUnavailable) {
    static LogRateLimit failures;
    if (auto note = failures.Admit(); note.write) {
      Log(LogLevel::kWarning, session_, "cannot read the account of user {}: {}{}", LogQuoted(user),
          found.error, note.suffix);
    }
    const ErrPacket error =
        BackendUnavailable("cannot read the account from the server (the proxy's log says why)");
    co_await Refuse(error, *sequence, rejection);
    co_return std::nullopt;
  }
  // An unknown user goes through the motions of a native account whose password no one has.
  const bool exists = found.status == AccountLookup::Status::kFound;
  const std::vector<auth::AccountCredential>& credentials =
      exists ? found.view->account.credentials : context_.decoy_credentials();
  const std::optional<std::string> known_password =
      exists ? found.view->known_password : std::nullopt;
  std::optional<Choice> choice = ChooseExchange(credentials, known_password, plugin);
  if (!choice) {
    const ErrPacket error = UnsupportedPluginError(user, credentials.front().plugin);
    co_await Refuse(error, *sequence, rejection);
    co_return std::nullopt;
  }
  if (!(client_.capabilities() & cap::kPluginAuth) &&
      (choice->kind != ExchangeKind::kNative || plugin != protocol::auth_plugin::kNativePassword)) {
    // A client without PLUGIN_AUTH cannot be switched (the server's answer, word for word).
    const ErrPacket error = MakeErrPacket(
        server_error::kNotSupportedAuthMode,
        "Client does not support authentication protocol requested by server; consider "
        "upgrading MariaDB client");
    co_await Refuse(error, *sequence, rejection);
    co_return std::nullopt;
  }
  // As MariaDB with IDENTIFIED VIA a OR b: when the proof for one credential fails, the client
  // is switched to the plugin of the next one that needs another exchange.
  ClientAuthExchange exchange(context_, client_, sequence);
  std::optional<auth::ClientProof> proof;
  auth::ProofCheck check;
  std::string client_plugin = plugin;
  while (choice) {
    auto run = exchange.Run(choice->kind, client_plugin, first_token, scramble, known_password);
    proof = co_await std::move(run);
    if (!proof) co_return std::nullopt;
    if (exists) check = auth::CheckProof(credentials, *proof, known_password);
    if (check.secret || proof->kind == auth::ClientProof::Kind::kPassword) break;
    const ExchangeKind tried = choice->kind;
    do {
      choice = ChooseExchange(credentials, known_password, "", choice->index + 1);
    } while (choice && choice->kind == tried);
    client_plugin.clear();  // Each further exchange starts with a switch.
  }
  if (!check.secret && !(exists && found.view->listed) && accounts.lookups_enabled()) {
    // The account may have changed since it was read (a new password, a new account).
    auto refind = accounts.Find(user, /*refresh=*/true);
    AccountLookup again = co_await std::move(refind);
    if (again.status == AccountLookup::Status::kFound) {
      found = std::move(again);
      check = auth::CheckProof(found.view->account.credentials, *proof, found.view->known_password);
    }
  }
  if (!check.secret) {
    // A name longer than any account's is not counted (nor kept).
    const std::uint64_t failures = user.size() <= AccountDirectory::kMaxUserNameBytes
                                       ? context_.login_failures().Record(user, peer_host_)
                                       : 0;
    static LogRateLimit denials;
    if (auto note = denials.Admit(); note.write) {
      Log(LogLevel::kInfo, session_,
          "access denied for user {} from {} (failure {} of it from there){}{}", LogQuoted(user),
          peer_host_, failures,
          found.status == AccountLookup::Status::kFound ? "" : " (unknown user)", note.suffix);
    }
    const ErrPacket error = protocol::AccessDeniedError(user, peer_host_, UsedPassword(*proof));
    co_await Refuse(error, *sequence, rejection);
    co_return std::nullopt;
  }
  const auth::Account& account = found.view->account;
  if (check.password && !found.view->listed) accounts.RememberPassword(account, *check.password);
  const ClientTransport transport{.tls = client_.stream().tls(),
                                  .unix_socket = client_.stream().unix_socket()};
  const bool secure_transport_required = context_.config().listen.require_tls;
  if (!TransportAllowed(transport, secure_transport_required, account.tls)) {
    static LogRateLimit insecure;
    if (auto note = insecure.Admit(); note.write) {
      Log(LogLevel::kInfo, session_, "access denied for user {} from {}: {}{}", LogQuoted(user),
          peer_host_,
          account.tls.kind == auth::AccountTls::Kind::kNone
              ? "TLS is required (listen.require_tls)"
              : "the account's REQUIRE (SSL, X509, ISSUER, SUBJECT or CIPHER; a listed user's "
                "require_tls) is not met",
          note.suffix);
    }
    const ErrPacket error = protocol::AccessDeniedError(user, peer_host_, UsedPassword(*proof));
    co_await Refuse(error, *sequence, rejection);
    co_return std::nullopt;
  }
  if (account.locked) {
    const ErrPacket error =
        MakeErrPacket(server_error::kAccountLocked, "Access denied, this account is locked");
    co_await Refuse(error, *sequence, rejection);
    co_return std::nullopt;
  }
  co_return Admission{.secret = std::move(*check.secret),
                      .password_expired = account.password_expired,
                      .max_user_connections = account.max_user_connections};
}

}  // namespace longlink::proxy
