// The TLS part of the proxy's configuration: [client_tls] (the proxy as a TLS server, what
// clients see) and [backend_tls] (the proxy as a TLS client of the backend), and the TLS
// versions both name. Plain values; net::TlsContext builds OpenSSL contexts from them, and
// the files they name are read then (at start and at each reload), not here.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace longlink::config {

enum class TlsVersion { kTls1_0, kTls1_1, kTls1_2, kTls1_3 };

// "TLSv1.2", "1.2", "tls1.2" (any case) -> kTls1_2; nullopt for anything else.
std::optional<TlsVersion> ParseTlsVersion(std::string_view text);
// "TLSv1.2" (OpenSSL's and MariaDB's spelling; TLS 1.0 is "TLSv1").
std::string_view TlsVersionName(TlsVersion version);

// [client_tls]: TLS toward clients. On when cert and key are set: the greeting then offers
// CLIENT_SSL on every listener (the Unix socket too: clients that ask get TLS there).
struct ClientTlsSettings {
  std::string cert = {};  // PEM: the certificate, then its intermediates.
  std::string key = {};   // PEM private key, unencrypted.
  // PEM CA certificates for client certificates, as MariaDB's ssl_ca: a client that presents
  // a certificate must have one they signed (the handshake fails otherwise); one without a
  // certificate is let in unless its account says REQUIRE X509 (or ISSUER, SUBJECT).
  std::string ca = {};
  TlsVersion min_version = TlsVersion::kTls1_2;
  std::optional<TlsVersion> max_version = {};  // None: the highest OpenSSL supports.
  std::string ciphers = {};       // TLS 1.2 and older, OpenSSL's list syntax; "" = default.
  std::string ciphersuites = {};  // TLS 1.3, OpenSSL's syntax; "" = default.
  bool enabled() const { return !cert.empty(); }
  friend bool operator==(const ClientTlsSettings&, const ClientTlsSettings&) = default;
};

// [backend_tls]: TLS to the backend. On when the table is present, unless enabled = false.
struct BackendTlsSettings {
  bool enabled = false;
  // CA certificates that may sign the server's: a PEM file, a directory prepared with
  // `openssl rehash`, or both. Neither: the system's store (/etc/ssl/certs).
  std::string ca = {};
  std::string ca_dir = {};
  // Check the server's certificate chain and that it names the server (server_name). Off:
  // any certificate is taken (encryption without authentication).
  bool verify = true;
  // The name the server's certificate must carry (a DNS name or an IP address), also sent as
  // SNI; empty: the host of backend.address ("localhost" for a Unix socket).
  std::string server_name = {};
  std::string cert = {};  // Optional client certificate (PEM) ...
  std::string key = {};   // ... and its key: both or neither.
  TlsVersion min_version = TlsVersion::kTls1_2;
  std::optional<TlsVersion> max_version = {};
  std::string ciphers = {};
  std::string ciphersuites = {};
  // Resume TLS sessions (tickets) on new backend connections: an abbreviated handshake.
  bool session_resumption = true;
  friend bool operator==(const BackendTlsSettings&, const BackendTlsSettings&) = default;
};

}  // namespace longlink::config
