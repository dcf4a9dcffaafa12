#include "proxy/proxy_context.h"

#include "common/log.h"
#include "common/log_text.h"
#include "proxy/tls_setup.h"

namespace longlink::proxy {

namespace {

std::vector<auth::AccountCredential> DecoyCredentials() {
  const auth::Scramble random = auth::GenerateScramble();
  const std::string password(random.begin(), random.end());
  return {auth::AccountCredential{
      .plugin = std::string(auth::server_plugin::kNativePassword),
      .auth_string = auth::NativePasswordCredential::FromPassword(password).HashString()}};
}

}  // namespace

bool ProxyContext::TransactionPoolingFor(const std::string& user) const {
  config::PoolMode mode = config_.pool.mode;
  for (const config::UserSettings& listed : config_.users) {
    if (listed.name == user && listed.pool_mode) mode = *listed.pool_mode;
  }
  return mode == config::PoolMode::kTransaction;
}

ProxyContext::ProxyContext(config::ProxyConfig config)
    : config_(std::move(config)),
      backend_(config_.backend, config_.backend_tls),
      accounts_(config_, backend_),
      decoy_(DecoyCredentials()),
      pools_(config_.backend, config_.pool, backend_),
      // Digests are read on the admin console only: none without one.
      query_digests_(config_.admin.enabled() ? config_.admin.max_query_digests : 0) {}

Status ProxyContext::LoadTls() {
  auto client = MakeClientTlsContext(config_.client_tls);
  if (!client.ok()) return client.error();
  auto backend = MakeBackendTlsContext(config_.backend_tls);
  if (!backend.ok()) return backend.error();
  client_tls_.Replace(std::move(*client));
  backend_.set_tls(std::move(*backend));
  return Status();
}

void ProxyContext::ReloadTls() {
  if (config_.client_tls.enabled()) {
    auto client = MakeClientTlsContext(config_.client_tls);
    if (client.ok()) {
      client_tls_.Replace(std::move(*client));
      Log(LogLevel::kInfo, 0, "reloaded the TLS certificate for clients ({})",
          LogQuoted(config_.client_tls.cert));
    } else {
      Log(LogLevel::kError, 0, "TLS reload failed, clients keep the previous certificate: {}",
          client.error().message);
    }
  }
  if (config_.backend_tls.enabled) {
    auto backend = MakeBackendTlsContext(config_.backend_tls);
    if (backend.ok()) {
      backend_.set_tls(std::move(*backend));
      Log(LogLevel::kInfo, 0, "reloaded the TLS settings for the backend");
    } else {
      Log(LogLevel::kError, 0,
          "TLS reload failed, backend connections keep the previous "
          "settings: {}",
          backend.error().message);
    }
  }
}

const auth::RsaKeyPair* ProxyContext::rsa_key() {
  std::call_once(rsa_once_, [this] {
    auto made = auth::RsaKeyPair::Generate();
    if (made.ok()) {
      rsa_key_.emplace(std::move(*made));
    } else {
      Log(LogLevel::kError, 0, "cannot make the RSA key for caching_sha2_password: {}",
          made.error().message);
    }
  });
  return rsa_key_ ? &*rsa_key_ : nullptr;
}

bool ProxyContext::AdmitUser(const std::string& user, std::uint32_t limit) {
  std::lock_guard lock(user_sessions_mutex_);
  std::uint32_t& sessions = user_sessions_[user];
  if (limit != 0 && sessions >= limit) return false;
  ++sessions;
  return true;
}

void ProxyContext::UserGone(const std::string& user) {
  std::lock_guard lock(user_sessions_mutex_);
  auto it = user_sessions_.find(user);
  if (it == user_sessions_.end()) return;
  if (--it->second == 0) user_sessions_.erase(it);
}

pool::ServerIdentity ProxyContext::ServerIdentity() const {
  std::lock_guard lock(identity_mutex_);
  pool::ServerIdentity identity;
  if (identity_) {
    identity = *identity_;
  } else {
    identity.version = "5.5.5-10.11.0-MariaDB-longlink";
    identity.capabilities = kRelayableCapabilities & ~protocol::capability::kClientMysql;
    identity.collation = protocol::collation::kUtf8mb4GeneralCi;
    identity.status_flags = protocol::status::kAutocommit;
  }
  if (!config_.proxy.server_version.empty()) identity.version = config_.proxy.server_version;
  return identity;
}

void ProxyContext::LearnServerIdentity(const pool::ServerIdentity& identity) {
  std::lock_guard lock(identity_mutex_);
  identity_ = identity;
}

bool ProxyContext::server_identity_known() const {
  std::lock_guard lock(identity_mutex_);
  return identity_.has_value();
}

bool ProxyContext::AdmitClient() {
  accepted_.fetch_add(1, std::memory_order_relaxed);
  const std::uint32_t now = clients_.fetch_add(1) + 1;
  if (now > config_.proxy.max_client_connections) {
    clients_.fetch_sub(1);
    refused_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  return true;
}

}  // namespace longlink::proxy
