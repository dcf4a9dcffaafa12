#include "proxy/client_transport.h"

namespace longlink::proxy {

bool TransportAllowed(const ClientTransport& transport, bool secure_transport_required,
                      const auth::AccountTls& account) {
  using Kind = auth::AccountTls::Kind;
  if (secure_transport_required && transport.tls == nullptr && !transport.unix_socket) {
    return false;
  }
  if (account.kind == Kind::kNone) return true;
  if (transport.tls == nullptr) return false;
  if (account.kind == Kind::kAny) return true;
  if (account.kind == Kind::kSpecified && !account.cipher.empty() &&
      account.cipher != transport.tls->cipher()) {
    return false;
  }
  const auto peer = transport.tls->peer_certificate();
  if (!peer || !peer->verified) return false;
  if (account.kind == Kind::kX509) return true;
  if (!account.issuer.empty() && account.issuer != peer->issuer) return false;
  return account.subject.empty() || account.subject == peer->subject;
}

}  // namespace longlink::proxy
