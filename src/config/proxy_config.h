// The typed configuration of `longlink proxy`: what the TOML file (docs/CONFIG.md) and the
// short command-line form both produce, validated once at start.
//
// Every field has a default that works for one local MariaDB; a file needs only [backend]
// and [[users]]. Errors name the key ("pool.max_connections: must be at least 1, got 0") and,
// for a file, the line.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "config/admin_settings.h"
#include "config/socket_address.h"
#include "config/tls_settings.h"

namespace longlink::config {

using Milliseconds = std::chrono::milliseconds;

// A duration as the file and the flags write it: a whole number and a unit, "500ms", "5s",
// "2m", "1h"; a bare number is seconds. "0s" parses (ValidateProxyConfig rejects it).
Result<Milliseconds> ParseDuration(std::string_view text);
// A size in bytes: a whole number with an optional binary unit, "1048576", "1024KiB",
// "16MiB", "1GiB", or MySQL's short form "16M" ("K", "M", "G" are also binary).
Result<std::uint64_t> ParseSize(std::string_view text);

// [proxy]
struct ProxySettings {
  unsigned workers = 0;  // Event-loop threads; 0 = the number of cores.
  // Client connections beyond this get ERR 1040 "Too many connections" instead of a greeting.
  std::uint32_t max_client_connections = 10000;
  // Transaction pooling: protocol prepared statements one client may have open (the proxy
  // remembers each); beyond it COM_STMT_PREPARE gets ERR 1461, as at the server's
  // max_prepared_stmt_count.
  std::uint32_t max_client_prepared_statements = 1024;
  // A client that has not finished logging in by then is closed.
  Milliseconds handshake_timeout{10000};
  // A client that stops in the middle of a packet (a command, LOCAL INFILE data) for this long
  // is closed, as the server does after its net_read_timeout; its backend connection, which
  // holds half a command, is closed too. An idle client (between commands) is not affected.
  Milliseconds net_read_timeout{30000};
  // "error", "warning", "info", "debug".
  std::string log_level = "info";
  // The version the greeting announces; empty = mirror the backend's.
  std::string server_version = {};
  // The largest packet accepted from a client, in bytes; 0 = the backend's max_allowed_packet.
  std::uint64_t max_allowed_packet = 0;
  // Offer clients the compressed protocol (CLIENT_COMPRESS, zlib), as the server does; a
  // client that asks for it (mariadb --compress) gets it, whatever the backend link uses.
  bool compression = true;
  friend bool operator==(const ProxySettings&, const ProxySettings&) = default;
};

// [listen]
struct ListenSettings {
  std::vector<SocketAddress> tcp = {};    // Default: 127.0.0.1:6033 when no listener is given.
  std::string unix_socket = {};           // Absolute path; empty = none.
  std::uint32_t unix_socket_mode = 0660;  // File mode of the socket; TOML: "0660" or 432.
  int backlog = 1024;
  // TCP clients must use TLS ([client_tls]); a plain login gets the server's answer under
  // require_secure_transport (1045 Access denied). The Unix socket counts as secure.
  bool require_tls = false;
  friend bool operator==(const ListenSettings&, const ListenSettings&) = default;
};

// [backend]
struct BackendSettings {
  SocketAddress address = {};  // Required.
  // Backend connections of all pools together, open or opening. At this limit a session that
  // needs one closes an idle connection of another pool, or waits (queue_timeout).
  std::uint32_t max_connections = 100;
  Milliseconds connect_timeout{5000};
  // While the server cannot be reached (refused, timed out, shutting down, "Too many
  // connections"), a session that needs a new connection waits this long as the proxy retries
  // with backoff; then the client gets the last error.
  Milliseconds retry_timeout{5000};
  // Use the compressed protocol to the backend when the server offers it (a slow link between
  // the proxy and the server); independent of the clients' choice.
  bool compression = false;
  friend bool operator==(const BackendSettings&, const BackendSettings&) = default;
};

// [pool]: per pool; a pool is one user with one set of session-relevant client capabilities.
// How long a client holds a backend connection (docs/PROXY.md, "Transaction pooling").
enum class PoolMode : std::uint8_t {
  kSession,      // From login until the client leaves.
  kTransaction,  // While a transaction (or autocommit statement) runs, or the session is pinned.
};
// "session" / "transaction"; nullopt for anything else.
std::optional<PoolMode> ParsePoolMode(std::string_view text);

struct PoolSettings {
  PoolMode mode = PoolMode::kSession;
  std::uint32_t max_connections = 20;  // Backend connections, open or opening.
  // Backend connections of one user, across all of its pools (one per collation and set of
  // capability flags); 0 = max_connections.
  std::uint32_t max_user_connections = 0;
  std::uint32_t min_idle = 1;  // Kept open for users seen since start.
  // Transaction pooling: server-side prepared statements kept per backend connection (least
  // recently used closed beyond it); never more than the server's max_prepared_stmt_count
  // shared among backend.max_connections.
  std::uint32_t max_prepared_statements = 256;
  // How long a client waits for a backend connection when the pool is at max_connections.
  Milliseconds queue_timeout{5000};
  // Idle connections (pooled, or held by a client between commands) get a COM_PING after this
  // long without a round trip, or after half the connection's @@wait_timeout if that is sooner.
  Milliseconds keepalive_interval{30000};
  // A pooled connection idle longer than this is pinged at checkout (replaced if it fails).
  Milliseconds check_delay{5000};
  // Idle pooled connections beyond min_idle are closed after this long unused.
  Milliseconds max_idle_time{600000};
  // Connections older than this are closed when they are idle or released.
  Milliseconds max_lifetime{3600000};
  friend bool operator==(const PoolSettings&, const PoolSettings&) = default;
};

// [[users]]: who may log in at the proxy, and with what secret it logs in to the backend.
struct UserSettings {
  std::string name = {};
  // Exactly one of these is set (an empty password is password = "").
  std::optional<std::string> password = {};       // Plaintext.
  std::optional<std::string> password_hash = {};  // "*" + 40 hex digits (mysql.user).
  // This user must log in over TLS, also on the Unix socket (the server's REQUIRE SSL).
  bool require_tls = false;
  // This user's pools' mode, if not pool.mode's.
  std::optional<PoolMode> pool_mode = {};
  friend bool operator==(const UserSettings&, const UserSettings&) = default;
};

// [auth]: the account longlink reads credentials with, for clients whose user [[users]] does
// not list (MariaDB: mysql.global_priv; MySQL: mysql.user). It needs SELECT on that table
// and nothing else; docs/PROXY.md gives the GRANT.
struct AuthSettings {
  std::string user = {};      // Empty: no lookups; only [[users]] log in.
  std::string password = {};  // Plaintext ("" is the empty password).
  // A user's account as read is trusted this long; a failed login re-reads it sooner
  // (AccountDirectory). 0: read at every login.
  Milliseconds cache_ttl{1000};
  friend bool operator==(const AuthSettings&, const AuthSettings&) = default;
};

struct ProxyConfig {
  ProxySettings proxy = {};
  ListenSettings listen = {};
  BackendSettings backend = {};
  PoolSettings pool = {};
  AuthSettings auth = {};
  ClientTlsSettings client_tls = {};
  BackendTlsSettings backend_tls = {};
  AdminSettings admin = {};
  MetricsSettings metrics = {};
  // Names unique. Empty only with an [auth] user (then every account is read from the server).
  std::vector<UserSettings> users = {};
  friend bool operator==(const ProxyConfig&, const ProxyConfig&) = default;
};

// Settings laid over a file's before they are checked: the command line's flags, which may
// also supply what the file lacks (a file without [backend] plus --backend). An error names
// the flag.
using ConfigOverlay = std::function<Status(ProxyConfig&)>;

// Parses TOML text, lays `overlay` over it, applies the defaults (ApplyDefaults) and validates
// the result. `source` names the file in errors ("longlink.toml:12: ..."). Unknown keys and
// tables are errors (a typo must not silently fall back to a default).
Result<ProxyConfig> ParseProxyConfig(std::string_view toml_text, std::string_view source,
                                     const ConfigOverlay& overlay = {});
// Reads and parses a file; an unreadable file is an error naming the path and errno text.
Result<ProxyConfig> LoadProxyConfig(const std::string& path, const ConfigOverlay& overlay = {});
// Defaults that depend on other settings: with no listener at all, TCP 127.0.0.1:6033 (so a
// file or flags that name only a Unix socket listen on that socket alone).
void ApplyDefaults(ProxyConfig& config);
// Checks cross-field rules of a config built by flags or by ParseProxyConfig: a backend, at
// least one user, unique names, valid hashes, min_idle <= max_connections, and so on.
Status ValidateProxyConfig(const ProxyConfig& config);

}  // namespace longlink::config
