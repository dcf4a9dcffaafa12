#include "proxy/client_auth_exchange.h"

#include "auth/caching_sha2.h"
#include "auth/ed25519.h"
#include "protocol/handshake.h"

namespace longlink::proxy {

namespace plugin = protocol::auth_plugin;
using auth::ClientProof;
using protocol::AsBytes;
using protocol::Bytes;

namespace {

using auth::caching_sha2::kFastAuthSuccess;
using auth::caching_sha2::kPerformFullAuthentication;
using auth::caching_sha2::kRequestPublicKey;

std::string AsString(const auth::Scramble& scramble) {
  return std::string(scramble.begin(), scramble.end());
}

// A fresh nonce of `length` random printable bytes.
std::string Nonce(std::size_t length) {
  std::string nonce;
  while (nonce.size() < length) nonce += AsString(auth::GenerateScramble());
  nonce.resize(length);
  return nonce;
}

Bytes MoreData(std::string data) {
  return protocol::Encode(protocol::AuthMoreData{std::move(data)});
}

}  // namespace

net::Awaitable<std::optional<std::string>> ClientAuthExchange::Ask(const Bytes& payload) {
  if (!co_await client_.Send(payload, sequence_)) co_return std::nullopt;
  auto reply = co_await client_.ReadPacket(kPacketLimit);
  if (!reply.ok()) co_return std::nullopt;
  sequence_ = static_cast<std::uint8_t>(reply.packet.last_sequence_id + 1);
  co_return std::string(reply.packet.payload.begin(), reply.packet.payload.end());
}

net::Awaitable<std::optional<std::string>> ClientAuthExchange::TokenFor(
    std::string_view wanted, const std::string& client_plugin, const std::string& first_token,
    std::string* nonce) {
  // A client whose plugin is not the greeting's sends an empty token (its data was made for
  // another plugin) and waits for a switch; only a token it made for `wanted` is one.
  const bool made_for_wanted =
      client_plugin == wanted && (wanted == plugin::kNativePassword || !first_token.empty());
  if (made_for_wanted) co_return first_token;
  const bool nul_ended = wanted != plugin::kEd25519;  // Scramble plugins end it with a NUL.
  *nonce = Nonce(wanted == plugin::kEd25519 ? auth::kEd25519NonceLength : auth::kScrambleLength);
  const protocol::AuthSwitchRequest request{
      .plugin_name = std::string(wanted),
      .plugin_data = nul_ended ? *nonce + std::string(1, '\0') : *nonce};
  const Bytes request_bytes = protocol::Encode(request);
  co_return co_await Ask(request_bytes);
}

net::Awaitable<std::optional<ClientProof>> ClientAuthExchange::Run(
    ExchangeKind kind, const std::string& client_plugin, const std::string& first_token,
    const auth::Scramble& scramble, const std::optional<std::string>& known_password) {
  std::string nonce = AsString(scramble);
  switch (kind) {
    case ExchangeKind::kNative: {
      auto token = co_await TokenFor(plugin::kNativePassword, client_plugin, first_token, &nonce);
      if (!token) co_return std::nullopt;
      co_return ClientProof{.kind = ClientProof::Kind::kNativeToken,
                            .data = std::move(*token),
                            .nonce = std::move(nonce)};
    }
    case ExchangeKind::kEd25519: {
      auto signature = co_await TokenFor(plugin::kEd25519, client_plugin, first_token, &nonce);
      if (!signature) co_return std::nullopt;
      co_return ClientProof{.kind = ClientProof::Kind::kEd25519Signature,
                            .data = std::move(*signature),
                            .nonce = std::move(nonce)};
    }
    case ExchangeKind::kCachingSha2Fast:
    case ExchangeKind::kCachingSha2Full:
      break;
  }
  auto token = co_await TokenFor(plugin::kCachingSha2Password, client_plugin, first_token, &nonce);
  if (!token) co_return std::nullopt;
  if (token->empty()) {
    co_return ClientProof{.kind = ClientProof::Kind::kPassword};  // The empty password.
  }
  if (kind == ExchangeKind::kCachingSha2Fast && known_password &&
      auth::VerifyCachingSha2Token(AsBytes(*token), AsBytes(nonce), *known_password)) {
    const Bytes success = MoreData(std::string(1, kFastAuthSuccess));
    if (!co_await client_.Send(success, sequence_)) co_return std::nullopt;
    ++sequence_;
    co_return ClientProof{.kind = ClientProof::Kind::kCachingSha2Token,
                          .data = std::move(*token),
                          .nonce = std::move(nonce)};
  }
  co_return co_await FullAuthentication(nonce);
}

net::Awaitable<std::optional<ClientProof>> ClientAuthExchange::FullAuthentication(
    const std::string& nonce) {
  const Bytes full = MoreData(std::string(1, kPerformFullAuthentication));
  auto reply = co_await Ask(full);
  if (!reply) co_return std::nullopt;
  const auth::RsaKeyPair* key = context_.rsa_key();
  std::optional<std::string> encrypted;
  if (*reply == std::string(1, kRequestPublicKey)) {
    if (key == nullptr) co_return std::nullopt;  // Logged when the key could not be made.
    const Bytes pem = MoreData(key->public_pem());
    encrypted = co_await Ask(pem);
    if (!encrypted) co_return std::nullopt;
  } else {
    encrypted = std::move(reply);  // Encrypted with a key the client had, or in clear.
  }
  std::string password;
  auto decrypted = key != nullptr ? key->Decrypt(AsBytes(*encrypted))
                                  : Result<std::vector<std::uint8_t>>(Error{"no key"});
  if (decrypted.ok()) {
    const auto plain = auth::XorPasswordWithNonce(*decrypted, AsBytes(nonce));
    password.assign(plain.begin(), plain.end());
  } else if (client_.secure() || net::IsLocalConnection(client_.socket())) {
    // The password in clear: fine over TLS or where it never left the host (a client that
    // believes its connection secure, TLS or a Unix socket, sends it so).
    password = std::move(*encrypted);
  } else {
    // Over the network in clear, or not for this key: refused, as MySQL refuses it.
    co_return ClientProof{.kind = ClientProof::Kind::kInvalid};
  }
  if (!password.empty() && password.back() == '\0') password.pop_back();
  co_return ClientProof{.kind = ClientProof::Kind::kPassword, .data = std::move(password)};
}

}  // namespace longlink::proxy
