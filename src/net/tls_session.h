// One TLS connection's state: an owned OpenSSL SSL object over a connected, non-blocking
// socket's descriptor (SSL_set_fd: OpenSSL reads and writes the descriptor itself), and the
// context it was made from. Each call is one non-blocking step that either finishes or says
// which readiness to wait for; net::ByteStream turns the steps into asynchronous operations
// on its event loop. The SSL object is bound to the descriptor, not to a loop, so it travels
// with a detached stream.
//
// Writes: after a Write that asked to wait, the next Write must repeat the same bytes
// (OpenSSL's rule); a stream whose write failed or was cancelled must be closed.
// REQUIRES: SIGPIPE ignored (OpenSSL writes with write(2); the proxy ignores it at start).
// Not thread-safe: one owner at a time, like the stream.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

#include "common/result.h"
#include "net/tls_context.h"

namespace longlink::net {

// Errors OpenSSL reports on an established connection ("decryption failed or bad record
// mac", "tlsv1 alert internal error"): the value is the reason code of OpenSSL's SSL library.
const std::error_category& TlsCategory();

// The outcome of one step: finished (`error` set or not) or waiting for readiness.
struct TlsStep {
  enum class Wait { kNone, kRead, kWrite };
  Wait wait = Wait::kNone;
  std::size_t bytes = 0;  // Read/Write/Peek: bytes moved.
  std::error_code error;  // asio::error::eof when the peer closed (close_notify or EOF).
};

class TlsSession {
 public:
  // A session that accepts (server role) or connects (client role) over `fd`. `host` (client
  // role): the name or IP literal to check the certificate against and to send as SNI (a
  // name only); `session_key`: where resumable sessions are filed ("" = `host`).
  // REQUIRES: `context` of the matching role; `fd` connected and non-blocking.
  static Result<std::unique_ptr<TlsSession>> ForServer(TlsContextPtr context, int fd);
  static Result<std::unique_ptr<TlsSession>> ForClient(TlsContextPtr context, int fd,
                                                       std::string host, std::string session_key);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // One step of the handshake. After a failure, HandshakeFailure() says why.
  TlsStep Handshake();
  // Why the handshake failed, for an operator: the certificate verification result and the
  // host it was checked against, an alert from the peer, a protocol mismatch, or the socket
  // error from `error` (a step's error or a wait's).
  std::string HandshakeFailure(const std::error_code& error) const;

  TlsStep Read(std::span<std::uint8_t> out);
  TlsStep Write(std::span<const std::uint8_t> bytes);
  // Copies decrypted bytes without consuming them. When none are buffered, reads one record
  // from the socket if it has one (a non-data record, such as a TLS 1.3 ticket, is processed
  // and the step waits): so this can change what the descriptor reports as readable.
  TlsStep Peek(std::span<std::uint8_t> out);
  // Decrypted bytes waiting in the session (that the descriptor no longer shows).
  std::size_t pending() const;
  // Sends a close_notify once, without waiting, if the handshake finished and nothing failed.
  void CloseNotify();

  bool handshake_done() const;
  // Whether the finished handshake resumed an earlier session.
  bool session_reused() const;
  std::string_view version() const;  // "TLSv1.3"
  std::string_view cipher() const;   // "TLS_AES_256_GCM_SHA384"
  // The peer's certificate, as MariaDB reads it for REQUIRE X509/ISSUER/SUBJECT: whether it
  // sent one, whether it verified, and its issuer and subject in X509_NAME_oneline's form
  // ("/C=FI/CN=app"). nullopt: the peer sent none.
  struct PeerCertificate {
    bool verified = false;
    std::string issuer;
    std::string subject;
    friend bool operator==(const PeerCertificate&, const PeerCertificate&) = default;
  };
  std::optional<PeerCertificate> peer_certificate() const;
  const TlsContext& context() const { return *context_; }
  SSL* native_handle() const { return ssl_; }

 private:
  TlsSession(TlsContextPtr context, SSL* ssl) : context_(std::move(context)), ssl_(ssl) {}
  // Classifies the result `ret` of an SSL call (errno as it was right after the call).
  TlsStep Outcome(int ret, std::size_t bytes, int saved_errno);

  TlsContextPtr context_;
  SSL* ssl_;
  std::string host_;         // Client role.
  std::string session_key_;  // Client role: where sessions are filed (its address is in ssl_).
  bool offered_session_ = false;
  bool failed_ = false;  // A fatal error: no close_notify.
  std::string failure_;  // OpenSSL's reasons for the last failed step.
};

}  // namespace longlink::net
