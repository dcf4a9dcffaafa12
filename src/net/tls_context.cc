#include "net/tls_context.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace longlink::net {

namespace {

int ProtocolVersion(TlsVersion version) {
  switch (version) {
    case TlsVersion::kTls1_0:
      return TLS1_VERSION;
    case TlsVersion::kTls1_1:
      return TLS1_1_VERSION;
    case TlsVersion::kTls1_2:
      return TLS1_2_VERSION;
    case TlsVersion::kTls1_3:
      return TLS1_3_VERSION;
  }
  return TLS1_2_VERSION;
}

// Never asks for a passphrase (OpenSSL's default would prompt on the terminal).
int NoPassphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*userdata*/) { return -1; }

// Fails unless `path` can be opened for reading, naming it and the cause.
Status CheckReadable(const std::string& what, const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return Error{"cannot read " + what + " " + path + ": " + std::strerror(errno)};
  }
  std::fclose(file);
  return {};
}

struct BioCloser {
  void operator()(BIO* bio) const { BIO_free(bio); }
};

// Loads a certificate chain and its private key into `ctx` and checks that they belong
// together.
Status UseCertificateAndKey(SSL_CTX* ctx, const std::string& cert_file,
                            const std::string& key_file) {
  if (Status readable = CheckReadable("certificate", cert_file); !readable) return readable;
  if (Status readable = CheckReadable("private key", key_file); !readable) return readable;
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
    return Error{"cannot load certificate " + cert_file + ": " +
                 TakeTlsErrors("not a PEM certificate")};
  }
  std::unique_ptr<BIO, BioCloser> bio(BIO_new_file(key_file.c_str(), "rb"));
  EVP_PKEY* key =
      bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr) : nullptr;
  if (key == nullptr) {
    return Error{"cannot load private key " + key_file + ": " +
                 TakeTlsErrors("not a PEM private key") +
                 " (a PEM private key without a passphrase is needed)"};
  }
  const int used = SSL_CTX_use_PrivateKey(ctx, key);
  EVP_PKEY_free(key);
  if (used != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    return Error{"the private key in " + key_file + " does not match the certificate in " +
                 cert_file};
  }
  return {};
}

Status SetVersionsAndCiphers(SSL_CTX* ctx, TlsVersion min_version,
                             const std::optional<TlsVersion>& max_version,
                             const std::string& ciphers, const std::string& ciphersuites) {
  ERR_clear_error();
  if (SSL_CTX_set_min_proto_version(ctx, ProtocolVersion(min_version)) != 1 ||
      SSL_CTX_set_max_proto_version(ctx, max_version ? ProtocolVersion(*max_version) : 0) != 1) {
    return Error{"cannot set the TLS versions: " + TakeTlsErrors("unsupported")};
  }
  if (max_version && *max_version < min_version) {
    return Error{"the highest TLS version (" + std::string(TlsVersionName(*max_version)) +
                 ") is lower than the lowest (" + std::string(TlsVersionName(min_version)) + ")"};
  }
  if (!ciphers.empty() && SSL_CTX_set_cipher_list(ctx, ciphers.c_str()) != 1) {
    return Error{"no usable cipher in \"" + ciphers + "\": " + TakeTlsErrors("unknown")};
  }
  if (!ciphersuites.empty() && SSL_CTX_set_ciphersuites(ctx, ciphersuites.c_str()) != 1) {
    return Error{"no usable TLS 1.3 ciphersuite in \"" + ciphersuites +
                 "\": " + TakeTlsErrors("unknown")};
  }
  return {};
}

struct CtxOwner {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};

// Options both roles share: no renegotiation, no compression, an EOF without close_notify
// reads as the end of the stream (the MySQL protocol frames its own messages, so a truncation
// shows there; servers killing a connection often send none).
void SetCommonOptions(SSL_CTX* ctx) {
  SSL_CTX_set_options(
      ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_default_passwd_cb(ctx, NoPassphrase);
}

// The ex_data index of an SSL's session key (a const std::string*).
int SessionKeyIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

}  // namespace

struct TlsContext::Private {
  // OpenSSL's report of a new session on a client connection (TLS 1.2: at the end of the
  // handshake; TLS 1.3: when a ticket arrives after it). 1: the cache took the reference.
  static int OnNewSession(SSL* ssl, SSL_SESSION* session) {
    const auto* context =
        static_cast<const TlsContext*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
    const auto* key = static_cast<const std::string*>(SSL_get_ex_data(ssl, SessionKeyIndex()));
    if (context == nullptr || key == nullptr || key->empty() || context->cache_size_ == 0 ||
        SSL_SESSION_is_resumable(session) != 1) {
      return 0;
    }
    context->KeepSession(*key, session);
    return 1;
  }

  static std::shared_ptr<TlsContext> Make(Role role, SSL_CTX* ctx) {
    return std::shared_ptr<TlsContext>(new TlsContext(role, ctx));
  }
};

std::string TakeTlsErrors(std::string_view otherwise) {
  std::string text;
  while (const unsigned long error = ERR_get_error()) {
    const char* reason = ERR_reason_error_string(error);
    std::string one = reason ? reason : "error " + std::to_string(ERR_GET_REASON(error));
    if (text.find(one) != std::string::npos) continue;
    if (!text.empty()) text += "; ";
    text += one;
  }
  return text.empty() ? std::string(otherwise) : text;
}

Result<std::shared_ptr<const TlsContext>> TlsContext::ForServer(const TlsServerSettings& settings) {
  if (settings.cert_file.empty() || settings.key_file.empty()) {
    return Error{"a TLS server needs a certificate and a private key"};
  }
  ERR_clear_error();
  std::unique_ptr<SSL_CTX, CtxOwner> ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) return Error{"cannot make a TLS context: " + TakeTlsErrors("out of memory")};
  SetCommonOptions(ctx.get());
  // One id for every session this proxy issues, so that clients can resume them.
  static constexpr unsigned char kSessionIdContext[] = "longlink";
  SSL_CTX_set_session_id_context(ctx.get(), kSessionIdContext, sizeof kSessionIdContext - 1);
  if (Status versions = SetVersionsAndCiphers(ctx.get(), settings.min_version, settings.max_version,
                                              settings.ciphers, settings.ciphersuites);
      !versions) {
    return versions.error();
  }
  if (Status loaded = UseCertificateAndKey(ctx.get(), settings.cert_file, settings.key_file);
      !loaded) {
    return loaded.error();
  }
  if (!settings.client_ca_file.empty()) {
    if (Status readable = CheckReadable("client CA file", settings.client_ca_file); !readable) {
      return readable.error();
    }
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(settings.client_ca_file.c_str());
    if (names == nullptr ||
        SSL_CTX_load_verify_locations(ctx.get(), settings.client_ca_file.c_str(), nullptr) != 1) {
      if (names != nullptr) sk_X509_NAME_pop_free(names, X509_NAME_free);
      return Error{"cannot load client CA file " + settings.client_ca_file + ": " +
                   TakeTlsErrors("no PEM certificate")};
    }
    SSL_CTX_set_client_CA_list(ctx.get(), names);
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  }
  auto context = Private::Make(Role::kServer, ctx.release());
  context->verify_ = !settings.client_ca_file.empty();
  SSL_CTX_set_app_data(context->ctx_, context.get());
  return std::shared_ptr<const TlsContext>(std::move(context));
}

Result<std::shared_ptr<const TlsContext>> TlsContext::ForClient(const TlsClientSettings& settings) {
  ERR_clear_error();
  std::unique_ptr<SSL_CTX, CtxOwner> ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return Error{"cannot make a TLS context: " + TakeTlsErrors("out of memory")};
  SetCommonOptions(ctx.get());
  if (Status versions = SetVersionsAndCiphers(ctx.get(), settings.min_version, settings.max_version,
                                              settings.ciphers, settings.ciphersuites);
      !versions) {
    return versions.error();
  }
  if (settings.cert_file.empty() != settings.key_file.empty()) {
    return Error{"a TLS client certificate needs both a certificate and a private key"};
  }
  if (!settings.cert_file.empty()) {
    if (Status loaded = UseCertificateAndKey(ctx.get(), settings.cert_file, settings.key_file);
        !loaded) {
      return loaded.error();
    }
  }
  if (settings.verify) {
    if (settings.ca_file.empty() && settings.ca_dir.empty()) {
      if (SSL_CTX_set_default_verify_paths(ctx.get()) != 1) {
        return Error{"cannot load the system's CA certificates: " + TakeTlsErrors("unknown")};
      }
    } else {
      if (!settings.ca_file.empty()) {
        if (Status readable = CheckReadable("CA file", settings.ca_file); !readable) {
          return readable.error();
        }
      }
      const char* file = settings.ca_file.empty() ? nullptr : settings.ca_file.c_str();
      const char* dir = settings.ca_dir.empty() ? nullptr : settings.ca_dir.c_str();
      if (SSL_CTX_load_verify_locations(ctx.get(), file, dir) != 1) {
        return Error{"cannot load CA certificates from " +
                     (file ? settings.ca_file : settings.ca_dir) + ": " +
                     TakeTlsErrors("no PEM certificate")};
      }
    }
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  } else {
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  }
  if (settings.session_cache_size > 0) {
    // The sessions live in this context's cache, not OpenSSL's (which only servers consult).
    SSL_CTX_set_session_cache_mode(ctx.get(),
                                   SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx.get(), &Private::OnNewSession);
  } else {
    SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  }
  auto context = Private::Make(Role::kClient, ctx.release());
  context->verify_ = settings.verify;
  context->cache_size_ = settings.session_cache_size;
  SSL_CTX_set_app_data(context->ctx_, context.get());
  return std::shared_ptr<const TlsContext>(std::move(context));
}

TlsContext::~TlsContext() {
  for (auto& [key, session] : sessions_) SSL_SESSION_free(session);
  SSL_CTX_free(ctx_);
}

SSL_SESSION* TlsContext::TakeSession(std::string_view key) const {
  std::lock_guard lock(mutex_);
  for (auto& [kept_key, session] : sessions_) {
    if (kept_key == key) {
      SSL_SESSION_up_ref(session);
      return session;
    }
  }
  return nullptr;
}

void TlsContext::KeepSession(std::string_view key, SSL_SESSION* session) const {
  SSL_SESSION* replaced = nullptr;
  SSL_SESSION* dropped = nullptr;
  {
    std::lock_guard lock(mutex_);
    auto it = std::find_if(sessions_.begin(), sessions_.end(),
                           [&](const auto& entry) { return entry.first == key; });
    if (it != sessions_.end()) {
      replaced = it->second;
      sessions_.erase(it);
    } else if (sessions_.size() >= cache_size_ && !sessions_.empty()) {
      dropped = sessions_.front().second;
      sessions_.pop_front();
    }
    sessions_.emplace_back(std::string(key), session);
  }
  if (replaced != nullptr) SSL_SESSION_free(replaced);
  if (dropped != nullptr) SSL_SESSION_free(dropped);
}

void TlsContext::ForgetSession(std::string_view key) const {
  SSL_SESSION* forgotten = nullptr;
  {
    std::lock_guard lock(mutex_);
    auto it = std::find_if(sessions_.begin(), sessions_.end(),
                           [&](const auto& entry) { return entry.first == key; });
    if (it == sessions_.end()) return;
    forgotten = it->second;
    sessions_.erase(it);
  }
  SSL_SESSION_free(forgotten);
}

void TlsContext::SetSessionKey(SSL* ssl, const std::string* key) {
  SSL_set_ex_data(ssl, SessionKeyIndex(), const_cast<std::string*>(key));
}

}  // namespace longlink::net
