#include "pool/backend_endpoint.h"

namespace longlink::pool {

namespace {

std::string ServerName(const config::BackendSettings& backend,
                       const config::BackendTlsSettings& tls) {
  if (!tls.server_name.empty()) return tls.server_name;
  if (backend.address.kind == config::SocketAddress::Kind::kUnix) return "localhost";
  return backend.address.host;
}

}  // namespace

BackendEndpoint::BackendEndpoint(const config::BackendSettings& backend,
                                 const config::BackendTlsSettings& tls)
    : address_(backend.address),
      connect_timeout_(backend.connect_timeout),
      compression_(backend.compression),
      tls_server_name_(ServerName(backend, tls)),
      tls_session_key_(backend.address.ToString()) {}

}  // namespace longlink::pool
