// What every session of one `longlink proxy` process shares: the configuration, the users,
// the pools, what the backend said about itself, and counters. Read-mostly; the mutable parts
// are atomics or guarded here.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "auth/caching_sha2.h"
#include "auth/native_password.h"
#include "common/recent_count.h"
#include "config/proxy_config.h"
#include "net/tls_context.h"
#include "pool/backend_connection.h"
#include "pool/backend_endpoint.h"
#include "pool/pool.h"
#include "protocol/constants.h"
#include "proxy/account_directory.h"
#include "proxy/known_schemas.h"
#include "proxy/login_failures.h"
#include "proxy/pool_stats.h"
#include "proxy/query_digests.h"
#include "proxy/statement_shapes.h"

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
         cap::kCanHandleExpiredPasswords | cap::kMariadbExtendedMetadata;
}();

class ProxyContext {
 public:
  explicit ProxyContext(config::ProxyConfig config);

  const config::ProxyConfig& config() const { return config_; }
  pool::Pools& pools() { return pools_; }
  // Per-pool counters (clients, holders, pins by reason, releases, replays).
  PoolStats& pool_stats() { return pool_stats_; }
  std::vector<PoolStatsSnapshot> PoolStatistics() const { return pool_stats_.Snapshot(pools_); }
  // Statement digests (SHOW QUERIES): disabled (and free) without an admin console or with
  // admin.max_query_digests = 0.
  QueryDigests& query_digests() { return query_digests_; }
  // Prepared statements known to the proxy (transaction pooling), shared by all sessions.
  StatementShapes& statement_shapes() { return statement_shapes_; }
  // Whether the pools of `user` pool transactions: its [[users]] pool_mode, else pool.mode.
  bool TransactionPoolingFor(const std::string& user) const;
  // How backend connections are made (address, timeout, TLS).
  const pool::BackendEndpoint& backend() const { return backend_; }

  // The TLS context clients get; null when [client_tls] is off. Any thread.
  net::TlsContextPtr client_tls() const { return client_tls_.Current(); }
  // Builds both TLS contexts from the config (at start): the error names the table and file.
  Status LoadTls();
  // Builds them again from the same files (SIGHUP): new connections get the new ones; a side
  // that fails keeps its current context, and the error is logged.
  void ReloadTls();

  // The accounts clients log in to: [[users]], and the server's through [auth].
  AccountDirectory& accounts() { return accounts_; }
  // Credentials no login matches (a random password made at start): an unknown user's proof
  // is checked against them, so that the answer takes as long as for a wrong password and its
  // timing does not tell which users exist.
  const std::vector<auth::AccountCredential>& decoy_credentials() const { return decoy_; }
  // The key of caching_sha2_password's RSA exchange, made on first use; nullptr if that failed
  // (logged).
  const auth::RsaKeyPair* rsa_key();
  LoginFailures& login_failures() { return login_failures_; }

  // Counts a session of `user` in, unless `limit` (the account's max_user_connections; 0: none)
  // sessions of it are already in. Every admitted session is counted out by UserGone.
  bool AdmitUser(const std::string& user, std::uint32_t limit);
  void UserGone(const std::string& user);

  // What the proxy announces to clients: the backend's version and capabilities once known
  // (from the first backend greeting), a MariaDB-like default before.
  pool::ServerIdentity ServerIdentity() const;
  void LearnServerIdentity(const pool::ServerIdentity& identity);
  bool server_identity_known() const;

  // Schemas a login may name without the server being asked (KnownSchemas).
  KnownSchemas& known_schemas() { return known_schemas_; }

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
  // Clients admitted and connected now; connections accepted at the data listeners since
  // start; those refused at max_client_connections.
  std::uint32_t clients_connected() const { return clients_.load(std::memory_order_relaxed); }
  std::uint64_t clients_accepted() const { return accepted_.load(std::memory_order_relaxed); }
  std::uint64_t clients_refused() const { return refused_.load(std::memory_order_relaxed); }
  // A client logged in (or changed user): counted for the last minute's figure.
  void NoteLogin() { recent_logins_.Add(); }
  std::uint64_t logins_last_minute() const { return recent_logins_.LastMinute(); }
  std::chrono::system_clock::time_point started_at() const { return started_at_; }
  std::chrono::steady_clock::time_point started_steady() const { return started_steady_; }

 private:
  const config::ProxyConfig config_;
  pool::BackendEndpoint backend_;
  net::TlsContextSlot client_tls_;
  AccountDirectory accounts_;
  const std::vector<auth::AccountCredential> decoy_;
  std::once_flag rsa_once_;
  std::optional<auth::RsaKeyPair> rsa_key_;
  LoginFailures login_failures_;
  std::mutex user_sessions_mutex_;
  std::unordered_map<std::string, std::uint32_t> user_sessions_;
  pool::Pools pools_;
  PoolStats pool_stats_;
  StatementShapes statement_shapes_;
  QueryDigests query_digests_;
  KnownSchemas known_schemas_;
  mutable std::mutex identity_mutex_;
  std::optional<pool::ServerIdentity> identity_;
  std::atomic<std::uint64_t> next_session_id_{0};
  std::atomic<std::uint32_t> clients_{0};
  std::atomic<std::uint64_t> accepted_{0};
  std::atomic<std::uint64_t> refused_{0};
  RecentCount recent_logins_;
  const std::chrono::system_clock::time_point started_at_ = std::chrono::system_clock::now();
  const std::chrono::steady_clock::time_point started_steady_ = std::chrono::steady_clock::now();
  std::vector<WorkerSessions*> workers_;
};

}  // namespace longlink::proxy
