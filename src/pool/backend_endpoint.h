// Where and how the proxy reaches its backend: the address, the time a connection may take
// to open, and TLS ([backend_tls]). One per proxy, shared by the pools and the account
// lookups; the TLS context is the one part that changes (a certificate reload replaces it),
// and a connection takes the current one once, when it opens.
#pragma once

#include <chrono>
#include <string>

#include "config/proxy_config.h"
#include "net/tls_context.h"

namespace longlink::pool {

class BackendEndpoint {
 public:
  // `backend.address` and `connect_timeout`, and the name the server's certificate must
  // carry (backend_tls.server_name, or the address's host; "localhost" for a Unix socket).
  BackendEndpoint(const config::BackendSettings& backend, const config::BackendTlsSettings& tls);
  BackendEndpoint(const BackendEndpoint&) = delete;
  BackendEndpoint& operator=(const BackendEndpoint&) = delete;

  const config::SocketAddress& address() const { return address_; }
  std::chrono::milliseconds connect_timeout() const { return connect_timeout_; }
  // backend.compression: ask for the compressed protocol if the server offers it.
  bool compression() const { return compression_; }

  // The TLS context new connections use; null: plain connections. Any thread.
  net::TlsContextPtr tls() const { return tls_.Current(); }
  void set_tls(net::TlsContextPtr context) { tls_.Replace(std::move(context)); }
  const std::string& tls_server_name() const { return tls_server_name_; }
  // The key TLS sessions to this backend are kept under (the address).
  const std::string& tls_session_key() const { return tls_session_key_; }

 private:
  const config::SocketAddress address_;
  const std::chrono::milliseconds connect_timeout_;
  const bool compression_;
  const std::string tls_server_name_;
  const std::string tls_session_key_;
  net::TlsContextSlot tls_;
};

}  // namespace longlink::pool
