// What every session of one `longlink proxy` process shares: the configuration, the users,
// the pools, what the backend said about itself, and counters. Read-mostly; the mutable parts
// are atomics or guarded here.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "auth/native_password.h"
#include "config/proxy_config.h"
#include "pool/backend_connection.h"
#include "pool/pool.h"
#include "protocol/constants.h"

namespace longlink::proxy {

class WorkerSessions;

// The capabilities the proxy offers clients: those it can relay. Never compression, TLS (not
// yet), MySQL-only bits, or MariaDB's PROGRESS/BULK/CACHE_METADATA. MariaDB's
// EXTENDED_METADATA (type and format names in column definitions) is relayed: it is part of
// the pool key, so a client that asked for it gets a backend connection that did.
inline constexpr protocol::Capabilities kRelayableCapabilities = [] {
  namespace cap = protocol::capability;
  return cap::kClientMysql | cap::kFoundRows | cap::kLongFlag | cap::kConnectWithDb |
         cap::kNoSchema | cap::kOdbc | cap::kLocalFiles | cap::kIgnoreSpace | cap::kProtocol41 |
         cap::kInteractive | cap::kTransactions | cap::kSecureConnection | cap::kMultiStatements |
         cap::kMultiResults | cap::kPsMultiResults | cap::kPluginAuth | cap::kConnectAttrs |
         cap::kPluginAuthLenencClientData | cap::kSessionTrack | cap::kDeprecateEof |
         cap::kMariadbExtendedMetadata;
}();

class ProxyContext {
 public:
  explicit ProxyContext(config::ProxyConfig config);

  const config::ProxyConfig& config() const { return config_; }
  pool::Pools& pools() { return pools_; }

  // The user's configured credential, or nullptr.
  const auth::NativePasswordCredential* FindUser(const std::string& name) const;
  // A credential no login matches (a random password made at start): an unknown user's token
  // is checked against it, so that the answer takes as long as for a wrong password and its
  // timing does not tell which users exist.
  const auth::NativePasswordCredential& decoy_credential() const { return decoy_; }

  // What the proxy announces to clients: the backend's version and capabilities once known
  // (from the first backend greeting), a MariaDB-like default before.
  pool::ServerIdentity ServerIdentity() const;
  void LearnServerIdentity(const pool::ServerIdentity& identity);
  bool server_identity_known() const;

  // Every worker's sessions, for KILL across workers. REQUIRES: all added before the workers
  // run; read-only after.
  void AddWorker(WorkerSessions* sessions) { workers_.push_back(sessions); }
  const std::vector<WorkerSessions*>& workers() const { return workers_; }

  // Session ids (the greeting's connection id) start here, far above the thread ids a server
  // hands out, so that a number in a KILL names a session or a server thread, never both.
  static constexpr std::uint64_t kFirstSessionId = 1'000'000'001;
  std::uint64_t NextSessionId() { return kFirstSessionId + next_session_id_.fetch_add(1); }
  // Counts a client in; false (and not counted) beyond max_client_connections.
  bool AdmitClient();
  void ClientGone() { clients_.fetch_sub(1); }

 private:
  const config::ProxyConfig config_;
  std::unordered_map<std::string, auth::NativePasswordCredential> users_;
  const auth::NativePasswordCredential decoy_;
  pool::Pools pools_;
  mutable std::mutex identity_mutex_;
  std::optional<pool::ServerIdentity> identity_;
  std::atomic<std::uint64_t> next_session_id_{0};
  std::atomic<std::uint32_t> clients_{0};
  std::vector<WorkerSessions*> workers_;
};

}  // namespace longlink::proxy
