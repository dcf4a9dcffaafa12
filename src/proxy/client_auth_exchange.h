// One authentication exchange with a client, as the server side of a plugin: what the proxy
// sends (an AuthSwitchRequest, plugin data) and reads until it holds the client's proof
// (auth::ClientProof). It decides nothing about the account: ClientLogin checks the proof.
//
//   kNative           mysql_native_password: the client's first token if it started with
//                     this plugin on the greeting's scramble, else a switch with a fresh one
//   kEd25519          client_ed25519: a switch with a 32-byte nonce; the proof is the signature
//   kCachingSha2Fast  caching_sha2_password's fast path, for an account whose password the
//                     proxy knows: a token that proves it gets 0x01 0x03 (the OK follows);
//                     any other goes on as kCachingSha2Full
//   kCachingSha2Full  caching_sha2_password's full authentication, which gives the proxy the
//                     password: 0x01 0x04, then the password in clear (a Unix socket, or a
//                     client that believes its connection secure), or the RSA exchange (the
//                     client asks for the proxy's public key with 0x02 and sends the password
//                     encrypted with it). A password in clear from another host is refused
//                     (as MySQL refuses it): the proof is kInvalid.
// An empty token is the empty password's proof in every caching_sha2_password exchange.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "auth/client_proof.h"
#include "auth/native_password.h"
#include "proxy/client_channel.h"
#include "proxy/proxy_context.h"

namespace longlink::proxy {

enum class ExchangeKind { kNative, kEd25519, kCachingSha2Fast, kCachingSha2Full };

class ClientAuthExchange {
 public:
  // Packets of an exchange are small.
  static constexpr std::size_t kPacketLimit = 64 * 1024;

  // `*sequence`: the proxy's next sequence id, advanced as packets go and come.
  ClientAuthExchange(ProxyContext& context, ClientChannel& client, std::uint8_t* sequence)
      : context_(context), client_(client), sequence_(*sequence) {}

  // Runs `kind`. `client_plugin` and `first_token`: what the client's handshake response (or
  // COM_CHANGE_USER) carried, for `scramble`. `known_password`: for kCachingSha2Fast. nullopt
  // if the client went away or sent what no client of the plugin sends.
  net::Awaitable<std::optional<auth::ClientProof>> Run(
      ExchangeKind kind, const std::string& client_plugin, const std::string& first_token,
      const auth::Scramble& scramble, const std::optional<std::string>& known_password);

 private:
  // Sends `payload` and reads the client's answer; nullopt if the client went away.
  net::Awaitable<std::optional<std::string>> Ask(const protocol::Bytes& payload);
  // The token for `plugin`: the first one if the client started with `plugin`, else asked
  // for by a switch with `nonce` (which then becomes the nonce).
  net::Awaitable<std::optional<std::string>> TokenFor(std::string_view plugin,
                                                      const std::string& client_plugin,
                                                      const std::string& first_token,
                                                      std::string* nonce);
  net::Awaitable<std::optional<auth::ClientProof>> FullAuthentication(const std::string& nonce);

  ProxyContext& context_;
  ClientChannel& client_;
  std::uint8_t& sequence_;
};

}  // namespace longlink::proxy
