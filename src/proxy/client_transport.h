// Whether a client's connection is good enough for the account it logs in as: the listener's
// rule (listen.require_tls: TLS, or the Unix socket, as MariaDB's require_secure_transport)
// and the account's REQUIRE SSL / X509 / ISSUER / SUBJECT / CIPHER (a listed user's
// require_tls is REQUIRE SSL), checked as MariaDB's acl_check_ssl checks them after the
// password: TLS even on the Unix socket. A refusal gets the server's answer: 1045 Access
// denied, as for a wrong password.
#pragma once

#include "auth/account.h"
#include "net/tls_session.h"

namespace longlink::proxy {

struct ClientTransport {
  const net::TlsSession* tls = nullptr;  // Null: plain.
  bool unix_socket = false;
};

// `secure_transport_required`: listen.require_tls.
bool TransportAllowed(const ClientTransport& transport, bool secure_transport_required,
                      const auth::AccountTls& account);

}  // namespace longlink::proxy
