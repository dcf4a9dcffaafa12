#include "proxy/tls_setup.h"

namespace longlink::proxy {

Result<net::TlsContextPtr> MakeClientTlsContext(const config::ClientTlsSettings& settings) {
  if (!settings.enabled()) return net::TlsContextPtr();
  net::TlsServerSettings server{.cert_file = settings.cert,
                                .key_file = settings.key,
                                .min_version = settings.min_version,
                                .max_version = settings.max_version,
                                .ciphers = settings.ciphers,
                                .ciphersuites = settings.ciphersuites,
                                .client_ca_file = settings.ca};
  auto context = net::TlsContext::ForServer(server);
  if (!context.ok()) return Error{"[client_tls]: " + context.error().message};
  return *context;
}

Result<net::TlsContextPtr> MakeBackendTlsContext(const config::BackendTlsSettings& settings) {
  if (!settings.enabled) return net::TlsContextPtr();
  net::TlsClientSettings client{.ca_file = settings.ca,
                                .ca_dir = settings.ca_dir,
                                .verify = settings.verify,
                                .cert_file = settings.cert,
                                .key_file = settings.key,
                                .min_version = settings.min_version,
                                .max_version = settings.max_version,
                                .ciphers = settings.ciphers,
                                .ciphersuites = settings.ciphersuites,
                                .session_cache_size = settings.session_resumption ? 256U : 0U};
  auto context = net::TlsContext::ForClient(client);
  if (!context.ok()) return Error{"[backend_tls]: " + context.error().message};
  return *context;
}

}  // namespace longlink::proxy
