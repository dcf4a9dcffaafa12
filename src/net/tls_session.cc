#include "net/tls_session.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <asio/error.hpp>
#include <asio/ip/address.hpp>
#include <cerrno>

namespace longlink::net {

namespace {

class TlsErrorCategory : public std::error_category {
 public:
  const char* name() const noexcept override { return "tls"; }
  std::string message(int value) const override {
    const char* reason =
        ERR_reason_error_string(ERR_PACK(ERR_LIB_SSL, 0, static_cast<unsigned long>(value)));
    return reason ? reason : "TLS error " + std::to_string(value);
  }
};

struct SslOwner {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};

Result<std::unique_ptr<SSL, SslOwner>> NewSsl(const TlsContext& context, int fd) {
  ERR_clear_error();
  std::unique_ptr<SSL, SslOwner> ssl(SSL_new(context.native_handle()));
  if (!ssl || SSL_set_fd(ssl.get(), fd) != 1) {
    return Error{"cannot start TLS: " + TakeTlsErrors("out of memory")};
  }
  return ssl;
}

}  // namespace

const std::error_category& TlsCategory() {
  static const TlsErrorCategory category;
  return category;
}

Result<std::unique_ptr<TlsSession>> TlsSession::ForServer(TlsContextPtr context, int fd) {
  auto ssl = NewSsl(*context, fd);
  if (!ssl.ok()) return ssl.error();
  SSL_set_accept_state(ssl->get());
  return std::unique_ptr<TlsSession>(new TlsSession(std::move(context), ssl->release()));
}

Result<std::unique_ptr<TlsSession>> TlsSession::ForClient(TlsContextPtr context, int fd,
                                                          std::string host,
                                                          std::string session_key) {
  auto made = NewSsl(*context, fd);
  if (!made.ok()) return made.error();
  SSL* ssl = made->get();
  SSL_set_connect_state(ssl);
  std::error_code not_ip;
  static_cast<void>(asio::ip::make_address(host, not_ip));
  // SSL_set_tlsext_host_name, without its C cast.
  if (not_ip && !host.empty() &&
      SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
               const_cast<char*>(host.c_str())) != 1) {
    return Error{"cannot send the TLS server name " + host + ": " + TakeTlsErrors("invalid")};
  }
  if (context->verifies_peer()) {
    if (host.empty()) return Error{"cannot verify the server's certificate: no host name"};
    const int set = not_ip ? SSL_set1_host(ssl, host.c_str())
                           : X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str());
    if (set != 1) {
      return Error{"cannot check the server's certificate against " + host + ": " +
                   TakeTlsErrors("invalid host")};
    }
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  }
  std::unique_ptr<TlsSession> session(new TlsSession(std::move(context), made->release()));
  session->host_ = std::move(host);
  session->session_key_ = session_key.empty() ? session->host_ : std::move(session_key);
  TlsContext::SetSessionKey(ssl, &session->session_key_);
  if (SSL_SESSION* kept = session->context_->TakeSession(session->session_key_)) {
    session->offered_session_ = SSL_set_session(ssl, kept) == 1;
    SSL_SESSION_free(kept);
    ERR_clear_error();
  }
  return session;
}

TlsSession::~TlsSession() {
  // OpenSSL spoils the session of a connection freed without a shutdown, so that it is never
  // resumed; only a failed connection's should be.
  if (!failed_ && handshake_done())
    SSL_set_shutdown(ssl_, SSL_get_shutdown(ssl_) | SSL_SENT_SHUTDOWN);
  SSL_free(ssl_);
}

TlsStep TlsSession::Outcome(int ret, std::size_t bytes, int saved_errno) {
  TlsStep step;
  if (ret == 1) {
    step.bytes = bytes;
    return step;
  }
  switch (SSL_get_error(ssl_, ret)) {
    case SSL_ERROR_WANT_READ:
      step.wait = TlsStep::Wait::kRead;
      return step;
    case SSL_ERROR_WANT_WRITE:
      step.wait = TlsStep::Wait::kWrite;
      return step;
    case SSL_ERROR_ZERO_RETURN:  // close_notify (or an EOF: SSL_OP_IGNORE_UNEXPECTED_EOF).
      step.error = asio::error::eof;
      return step;
    case SSL_ERROR_SYSCALL:
      failed_ = true;
      failure_ = TakeTlsErrors("");
      step.error = saved_errno != 0 ? std::error_code(saved_errno, std::system_category())
                                    : std::error_code(asio::error::eof);
      return step;
    default: {
      failed_ = true;
      const unsigned long first = ERR_peek_error();
      failure_ = TakeTlsErrors("protocol error");
      step.error = std::error_code(first != 0 ? ERR_GET_REASON(first) : SSL_R_UNKNOWN_PROTOCOL,
                                   TlsCategory());
      return step;
    }
  }
}

TlsStep TlsSession::Handshake() {
  ERR_clear_error();
  errno = 0;
  const int ret = SSL_do_handshake(ssl_);
  const int saved_errno = errno;
  TlsStep step = Outcome(ret, 0, saved_errno);
  if (step.error && offered_session_) context_->ForgetSession(session_key_);
  return step;
}

std::string TlsSession::HandshakeFailure(const std::error_code& error) const {
  const long verify = SSL_get_verify_result(ssl_);
  if (verify != X509_V_OK) {
    const bool server = context_->role() == TlsContext::Role::kServer;
    std::string text = std::string(server ? "the client's" : "the server's") +
                       " certificate failed verification: " + X509_verify_cert_error_string(verify);
    if (verify == X509_V_ERR_HOSTNAME_MISMATCH) {
      text += " (it is not issued for the host name \"" + host_ + "\")";
    } else if (verify == X509_V_ERR_IP_ADDRESS_MISMATCH) {
      text += " (it is not issued for the IP address " + host_ + ")";
    }
    return text;
  }
  if (!failure_.empty()) return failure_;
  if (error == asio::error::eof) return "the peer closed the connection during the handshake";
  if (error == asio::error::operation_aborted) return "timed out";
  return error.message();
}

TlsStep TlsSession::Read(std::span<std::uint8_t> out) {
  ERR_clear_error();
  errno = 0;
  std::size_t got = 0;
  const int ret = SSL_read_ex(ssl_, out.data(), out.size(), &got);
  return Outcome(ret, got, errno);
}

TlsStep TlsSession::Write(std::span<const std::uint8_t> bytes) {
  ERR_clear_error();
  errno = 0;
  std::size_t sent = 0;
  const int ret = SSL_write_ex(ssl_, bytes.data(), bytes.size(), &sent);
  return Outcome(ret, sent, errno);
}

TlsStep TlsSession::Peek(std::span<std::uint8_t> out) {
  ERR_clear_error();
  errno = 0;
  std::size_t got = 0;
  const int ret = SSL_peek_ex(ssl_, out.data(), out.size(), &got);
  return Outcome(ret, got, errno);
}

std::size_t TlsSession::pending() const {
  const int n = SSL_pending(ssl_);
  return n > 0 ? static_cast<std::size_t>(n) : 0;
}

void TlsSession::CloseNotify() {
  if (failed_ || !handshake_done() || (SSL_get_shutdown(ssl_) & SSL_SENT_SHUTDOWN) != 0) return;
  ERR_clear_error();
  SSL_shutdown(ssl_);
  ERR_clear_error();
}

bool TlsSession::handshake_done() const { return SSL_is_init_finished(ssl_) == 1; }

bool TlsSession::session_reused() const { return SSL_session_reused(ssl_) == 1; }

std::string_view TlsSession::version() const { return SSL_get_version(ssl_); }

std::optional<TlsSession::PeerCertificate> TlsSession::peer_certificate() const {
  X509* cert = SSL_get1_peer_certificate(ssl_);
  if (cert == nullptr) return std::nullopt;
  auto oneline = [](const X509_NAME* name) {
    char* text = X509_NAME_oneline(name, nullptr, 0);
    std::string result = text != nullptr ? text : "";
    OPENSSL_free(text);
    return result;
  };
  PeerCertificate peer{.verified = SSL_get_verify_result(ssl_) == X509_V_OK,
                       .issuer = oneline(X509_get_issuer_name(cert)),
                       .subject = oneline(X509_get_subject_name(cert))};
  X509_free(cert);
  return peer;
}

std::string_view TlsSession::cipher() const {
  const char* name = SSL_get_cipher_name(ssl_);
  return name ? name : "";
}

}  // namespace longlink::net
