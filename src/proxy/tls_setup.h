// The proxy's two TLS contexts, built from the config: [client_tls] (the proxy as a server)
// and [backend_tls] (the proxy as a client of the backend). At start a failure is fatal (the
// error names the table and the file); at a reload (SIGHUP) the failing side keeps its
// current context and the error is logged.
#pragma once

#include "common/result.h"
#include "config/proxy_config.h"
#include "net/tls_context.h"

namespace longlink::proxy {

// Null when the side is off (no [client_tls] cert; [backend_tls] absent or enabled = false).
Result<net::TlsContextPtr> MakeClientTlsContext(const config::ClientTlsSettings& settings);
Result<net::TlsContextPtr> MakeBackendTlsContext(const config::BackendTlsSettings& settings);

}  // namespace longlink::proxy
