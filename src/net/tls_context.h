// TLS settings and contexts for both ends of the proxy: the server role (clients connect to
// the proxy over TLS) and the client role (the proxy connects to backends over TLS). A
// TlsContext owns one OpenSSL SSL_CTX built from a settings value and never changes after it
// is built; connections (net::ByteStream's TLS session) hold a shared_ptr to the context they
// started with. Reloading certificates is building a new context and replacing the one in a
// TlsContextSlot: connections already open keep the old one until they end.
//
// The client role keeps a small cache of TLS sessions per peer (the session key, normally the
// backend's address), so that the next connection to the same backend resumes the session
// instead of paying a full handshake. The cache is the one mutable part of a context and is
// thread-safe: a context is shared by every worker's loop.
#pragma once

#include <atomic>
#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "common/result.h"
#include "config/tls_settings.h"

using SSL_CTX = struct ssl_ctx_st;          // NOLINT: OpenSSL's opaque types, without
using SSL_SESSION = struct ssl_session_st;  // NOLINT: its headers.
using SSL = struct ssl_st;                  // NOLINT

namespace longlink::net {

using config::ParseTlsVersion;
using config::TlsVersion;
using config::TlsVersionName;

// The proxy as a TLS server: what clients see.
struct TlsServerSettings {
  std::string cert_file;  // PEM: the certificate first, then its intermediates. Required.
  std::string key_file;   // PEM private key for that certificate, unencrypted. Required.
  TlsVersion min_version = TlsVersion::kTls1_2;
  std::optional<TlsVersion> max_version;  // None: the highest the library supports.
  std::string ciphers;       // TLS 1.2 and older, OpenSSL's syntax; "" = OpenSSL's default.
  std::string ciphersuites;  // TLS 1.3, OpenSSL's syntax; "" = OpenSSL's default.
  // PEM CA certificates that sign client certificates. When set, a client may present a
  // certificate and it must verify against them (as MariaDB's ssl_ca); a client without one
  // is let in (the session's peer_certificate() says so).
  std::string client_ca_file;
};

// The proxy as a TLS client: how it connects to backends.
struct TlsClientSettings {
  // CA certificates that may sign the server's certificate: a PEM file, a directory hashed
  // with `openssl rehash`, or both. Both empty: the system's store.
  std::string ca_file;
  std::string ca_dir;
  // Verify the server's certificate chain and that it names the host connected to (a DNS
  // name, or an IP literal against the certificate's IP addresses). Off: any certificate.
  bool verify = true;
  std::string cert_file;  // Optional client certificate (PEM, intermediates after it) ...
  std::string key_file;   // ... and its key: both or neither.
  TlsVersion min_version = TlsVersion::kTls1_2;
  std::optional<TlsVersion> max_version;
  std::string ciphers;
  std::string ciphersuites;
  // Sessions kept for resumption, one per session key (backend); 0 turns resumption off.
  std::size_t session_cache_size = 256;
};

class TlsContext {
 public:
  enum class Role { kServer, kClient };

  // Builds a context. The error names the file and what is wrong with it: missing or
  // unreadable, not PEM, a key that does not belong to the certificate, an unknown cipher.
  static Result<std::shared_ptr<const TlsContext>> ForServer(const TlsServerSettings& settings);
  static Result<std::shared_ptr<const TlsContext>> ForClient(const TlsClientSettings& settings);

  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  Role role() const { return role_; }
  // Client role: whether the peer's certificate and host name are checked.
  bool verifies_peer() const { return verify_; }
  // The SSL_CTX, to make connections from (SSL_new). The context still owns it.
  SSL_CTX* native_handle() const { return ctx_; }

  // Client role, resumption. A session for `key` to offer on the next handshake, with a
  // reference the caller owns (SSL_SESSION_free, or SSL_set_session then free), or null.
  SSL_SESSION* TakeSession(std::string_view key) const;
  // Remembers `session` for `key`, taking the caller's reference (replacing any session
  // kept for that key; the oldest key goes when the cache is full).
  void KeepSession(std::string_view key, SSL_SESSION* session) const;
  // Forgets the session for `key` (after a failed handshake that offered it).
  void ForgetSession(std::string_view key) const;

  // Registers `key` as the session key of `ssl` (made from this context), for the context
  // to file the sessions OpenSSL reports for it. `key` must outlive `ssl`'s handshakes.
  static void SetSessionKey(SSL* ssl, const std::string* key);

 private:
  struct Private;  // Construction and OpenSSL callbacks (tls_context.cc).
  TlsContext(Role role, SSL_CTX* ctx) : role_(role), ctx_(ctx) {}

  Role role_;
  SSL_CTX* ctx_;
  bool verify_ = false;
  std::size_t cache_size_ = 0;
  // Client role: the session cache, most recently kept last.
  mutable std::mutex mutex_;
  mutable std::list<std::pair<std::string, SSL_SESSION*>> sessions_;
};

using TlsContextPtr = std::shared_ptr<const TlsContext>;

// The current context of one side (clients or backends). Reload builds a new context and
// Replaces; a connection takes Current() once when it starts and keeps it. Any thread.
class TlsContextSlot {
 public:
  TlsContextSlot() = default;
  explicit TlsContextSlot(TlsContextPtr context) : current_(std::move(context)) {}
  TlsContextSlot(const TlsContextSlot&) = delete;
  TlsContextSlot& operator=(const TlsContextSlot&) = delete;

  // Null when TLS is off on this side.
  TlsContextPtr Current() const { return current_.load(std::memory_order_acquire); }
  void Replace(TlsContextPtr context) {
    current_.store(std::move(context), std::memory_order_release);
  }

 private:
  std::atomic<TlsContextPtr> current_;
};

// The reasons in OpenSSL's error queue for this thread, joined with "; " (emptying it), or
// `otherwise` when it is empty.
std::string TakeTlsErrors(std::string_view otherwise);

}  // namespace longlink::net
