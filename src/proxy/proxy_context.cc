#include "proxy/proxy_context.h"

namespace longlink::proxy {

namespace {

auth::NativePasswordCredential CredentialOf(const config::UserSettings& user) {
  if (user.password) return auth::NativePasswordCredential::FromPassword(*user.password);
  // Validated at load: the hash parses.
  auto parsed = auth::NativePasswordCredential::FromHash(user.password_hash.value_or(""));
  return parsed.ok() ? *parsed : auth::NativePasswordCredential::FromPassword("");
}

}  // namespace

ProxyContext::ProxyContext(config::ProxyConfig config)
    : config_(std::move(config)),
      decoy_(auth::NativePasswordCredential::FromPassword([] {
        const auth::Scramble random = auth::GenerateScramble();
        return std::string(random.begin(), random.end());
      }())),
      pools_(config_.backend, config_.pool) {
  for (const auto& user : config_.users) users_.emplace(user.name, CredentialOf(user));
}

const auth::NativePasswordCredential* ProxyContext::FindUser(const std::string& name) const {
  auto it = users_.find(name);
  return it == users_.end() ? nullptr : &it->second;
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
  const std::uint32_t now = clients_.fetch_add(1) + 1;
  if (now > config_.proxy.max_client_connections) {
    clients_.fetch_sub(1);
    return false;
  }
  return true;
}

}  // namespace longlink::proxy
