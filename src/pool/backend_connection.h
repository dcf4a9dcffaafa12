// One logged-in connection from the proxy to the backend server, and what the proxy knows of
// its session state. While a client uses it, it is bound to that client's worker thread
// (BackendConnection); while it waits in a pool, it is a stream with its state (IdleBackend),
// which any worker can adopt. Its stream stays registered with the loop of the worker that
// last used it, so that the next client on that worker adopts it without a system call (an
// epoll_ctl to add it and one to remove it, and an ioctl for the non-blocking mode, per
// session otherwise); another worker's adoption moves it (ByteStream::Rebind).
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "auth/login_secret.h"
#include "config/proxy_config.h"
#include "net/byte_stream.h"
#include "net/io_buffer.h"
#include "net/socket.h"
#include "pool/backend_auth.h"
#include "pool/backend_endpoint.h"
#include "pool/pool_key.h"
#include "pool/session_variables.h"
#include "pool/statement_cache.h"
#include "pool/tracker_settings.h"
#include "protocol/handshake.h"
#include "protocol/packets.h"

namespace longlink::pool {

// A row of a text result: each value, NULL as nullopt.
using Row = std::vector<std::optional<std::string>>;

using Clock = std::chrono::steady_clock;

// What the backend said about itself in its greeting.
struct ServerIdentity {
  // As sent, e.g. "5.5.5-10.11.6-MariaDB-0+deb12u1"; static storage (InternServerVersion), so
  // that the many connections to one server share one copy.
  std::string_view version = {};
  protocol::Capabilities capabilities = 0;  // All 64 bits offered.
  std::uint8_t collation = 0;               // The server's default.
  std::uint16_t status_flags = 0;
};

// The identity a greeting announces.
ServerIdentity IdentityOf(const protocol::HandshakeV10& greeting);

// A copy of `version` that lives until the process ends; equal versions share one copy.
// Thread-safe. The set of versions is as small as the set of servers the proxy has seen.
std::string_view InternServerVersion(std::string_view version);

// A greeting's scramble (mysql_native_password uses 20 bytes), held inline: idle connections
// are many and a heap string per connection is not free.
class ServerScramble {
 public:
  ServerScramble() = default;
  // Keeps the first 20 bytes of `data`.
  explicit ServerScramble(std::string_view data);
  std::string_view view() const { return {reinterpret_cast<const char*>(bytes_.data()), size_}; }

 private:
  std::array<std::uint8_t, auth::kScrambleLength> bytes_ = {};
  std::uint8_t size_ = 0;
};

// The proxy's knowledge of a backend connection's session.
struct BackendState {
  PoolKey key = {};
  ServerIdentity server = {};
  protocol::Capabilities capabilities = 0;  // Negotiated on this connection.
  std::uint32_t thread_id = 0;              // CONNECTION_ID() on the server.
  ServerScramble scramble = {};             // The greeting's, for COM_CHANGE_USER.
  std::uint16_t status_flags = 0;           // From the last OK/EOF.
  std::string schema = {};                  // Current default schema ("" = none).
  std::uint64_t max_allowed_packet = 0;     // @@max_allowed_packet.
  std::uint32_t wait_timeout = 0;           // @@wait_timeout, seconds.
  // The server's global tracker settings when the connection was opened: what a client's
  // session starts with (the proxy turns trackers on for its own use regardless).
  TrackerSettings global_tracking = {};
  // Transaction pooling: the session variables set on this connection since it was opened or
  // last reset, as the tracker reported them, and its LAST_INSERT_ID() (0 after a reset).
  SessionVariables variables = {};
  std::uint64_t last_insert_id = 0;
  // When its session last started afresh (opened, reset, COM_CHANGE_USER): its unset
  // variables have the globals of then.
  Clock::time_point reset_at = {};
  // Transaction pooling: the server-side prepared statements the proxy keeps on it, and the
  // server's @@global.max_prepared_stmt_count when it was opened (0: unknown).
  StatementCache statements = {};
  std::uint32_t max_prepared_stmt_count = 0;
  // The session on the connection started afresh (opened, reset, COM_CHANGE_USER): nothing
  // set on it is left, and its unset variables have the globals of now.
  void StartedAfresh() {
    variables.Clear();
    statements.Clear();
    last_insert_id = 0;
    reset_at = Clock::now();
  }
  // A hash of the schema and `variables` when it was last returned to its pool (0: none set),
  // so that a client whose session has the same finds it (Pools::Acquire's `prefer`).
  std::uint64_t fingerprint = 0;
  // A Unix socket: a password may travel in clear (caching_sha2_password full authentication).
  bool secure_transport = false;
  // Logged in to an account whose password has expired: the server answers only SET
  // PASSWORD / ALTER USER (and SETs) until the password is changed. Never shared.
  bool sandboxed = false;
  Clock::time_point created_at = {};
  Clock::time_point last_used_at = {};   // Last released to the pool (or opened).
  Clock::time_point last_alive_at = {};  // Last reply from the server (command, ping, reset).
  // Last time its socket was seen with nothing to read (checkout): no proof of life, but
  // a check just made need not be repeated for the command that follows.
  Clock::time_point quiet_at = {};
  // When the connection was last heard from: a reply, or a check that found nothing to read.
  Clock::time_point heard_at() const { return std::max(last_alive_at, quiet_at); }
  // Heard from less than kNoCheckWithin before `now`: the poll that looks for a close is not
  // worth its system call (before a command on a held connection, at a checkout). A close in
  // that gap is found by the command itself.
  bool JustHeard(Clock::time_point now) const { return now - heard_at() < kNoCheckWithin; }
  static constexpr std::chrono::milliseconds kNoCheckWithin{1};
};

// What an idle connection's stream that turned readable says: "closed by the server", "server
// error 1927: Connection was killed", ... Reads nothing (peeks); for logs.
std::string IdleSocketNews(const net::ByteStream& stream);
// The ERR an idle connection's server sent before closing it (KILL: 1927, shutdown: 1053,
// ...), if that is what its stream has to read. Peeks.
std::optional<protocol::ErrPacket> IdleSocketError(const net::ByteStream& stream);
// True if an idle connection's server reset it (MariaDB resets a connection that passed its
// wait_timeout or idle_transaction_timeout; a KILL or shutdown closes it).
bool IdleSocketWasReset(const net::ByteStream& stream);

// The statement that turns on the trackers the proxy needs on a connection of `key`: state
// changes; for transaction pooling also the schema, the transaction state (characteristics if
// that is the global setting) and every system variable.
std::string TrackingStatement(const PoolKey& key);

// The statement that makes a reset (COM_RESET_CONNECTION, COM_CHANGE_USER) session look like a
// fresh login with `key`'s handshake: the trackers on (TrackingStatement), and what the
// handshake's flags set at login, which a reset forgets: IGNORE_SPACE in sql_mode, and for
// INTERACTIVE, wait_timeout = interactive_timeout.
std::string FreshSessionStatement(const PoolKey& key);

// A pooled connection at rest: owns its stream (closed on destruction), attached to the loop
// that last used it or detached. Thread-safe as any value: one owner at a time, on any thread
// (no operation is pending on its stream).
class IdleBackend {
 public:
  IdleBackend(net::ByteStream stream, BackendState state)
      : stream_(std::move(stream)), state_(std::move(state)) {}
  IdleBackend(IdleBackend&& other) noexcept = default;
  IdleBackend& operator=(IdleBackend&& other) noexcept = default;
  IdleBackend(const IdleBackend&) = delete;
  IdleBackend& operator=(const IdleBackend&) = delete;

  const BackendState& state() const { return state_; }
  // For the idle watcher and IdleSocketNews.
  const net::ByteStream& stream() const { return stream_; }
  // True if the server closed it or sent something unsolicited (wait_timeout, KILL, shutdown).
  bool PeerClosedOrSpoke() const { return stream_.PeerClosedOrSpoke(); }
  // Sends COM_QUIT (without waiting) and closes once the server has closed its end, or after
  // kQuitTimeout (net::CloseAfterPeer, on `executor`'s loop; at once without one): the server
  // ends the session without logging an aborted connection, and the TIME_WAIT is the database
  // host's, not the application host's.
  void QuitAndClose(const asio::any_io_executor& executor);
  static constexpr std::chrono::milliseconds kQuitTimeout{2000};

  std::uint64_t watch_token = 0;  // The pool's key for this connection in its IdleWatcher.
  std::uint64_t registry_id = 0;  // Its ConnectionId in the pools' registry; 0: none.

 private:
  friend class BackendConnection;
  net::ByteStream stream_;
  BackendState state_;
};

// The result of opening a connection: a connection, or why not (and the server's ERR, if it
// sent one, for the client to see as it is).
class BackendConnection;
struct OpenResult {
  std::unique_ptr<BackendConnection> connection = {};
  std::string error = {};
  std::optional<protocol::ErrPacket> server_error = {};
  // The server could not be reached or was not ready (refused, timed out, closed during login,
  // "Too many connections", "Server shutdown in progress"): worth retrying. Not for a refused
  // login.
  bool retryable = false;
};

class BackendConnection {
 public:
  // REQUIRES: `stream` is attached.
  BackendConnection(net::ByteStream stream, BackendState state)
      : stream_(std::move(stream)), state_(std::move(state)) {}
  BackendConnection(const BackendConnection&) = delete;
  BackendConnection& operator=(const BackendConnection&) = delete;

  // Connects to the endpoint's address, starts TLS if the endpoint has a TLS context (the
  // server must offer it; its certificate is checked as the context says), logs in as
  // key.user with `secret` (BackendAuth), requesting the key's capabilities plus
  // SESSION_TRACK, turns on the session-state tracker (kTrackStateChange) and reads
  // @@max_allowed_packet and @@wait_timeout. The whole exchange is bounded by the endpoint's
  // connect_timeout.
  static net::Awaitable<OpenResult> Open(asio::any_io_executor executor,
                                         const BackendEndpoint& endpoint, const PoolKey& key,
                                         const auth::LoginSecret& secret);

  // Binds an idle connection to `executor`'s thread: no system call if it is attached to that
  // loop already. Null if its stream cannot be bound (the connection is then closed).
  static std::unique_ptr<BackendConnection> Adopt(asio::any_io_executor executor, IdleBackend idle);
  // Gives it up, for a pool; the connection must be between commands. Its stream stays
  // attached to this loop (Adopt on the same loop takes it back as it is).
  IdleBackend Park() &&;

  // The stream to the server, for relaying a client's commands and results.
  net::ByteStream& stream() { return stream_; }
  // Its ConnectionId in the pools' registry (0: none); kept by Park and Adopt.
  std::uint64_t registry_id() const { return registry_id_; }
  void set_registry_id(std::uint64_t id) { registry_id_ = id; }
  BackendState& state() { return state_; }
  const BackendState& state() const { return state_; }

  // COM_RESET_CONNECTION: ends the transaction, drops user variables, temporary tables,
  // prepared statements and locks, restores session variables. The schema stays. The session
  // is made a fresh login's again in the same round trip (FreshSessionStatement).
  // Bounded by `timeout` (a server that stops answering must not hold the session forever).
  net::Awaitable<Status> Reset(std::chrono::milliseconds timeout);
  // The same, followed by COM_INIT_DB `schema` in the same round trip; a server ERR for the
  // schema is returned in `*server_error` with an ok status.
  net::Awaitable<Status> ResetAndInitDb(std::chrono::milliseconds timeout, std::string schema,
                                        std::optional<protocol::ErrPacket>* server_error);
  // What Reset sends (COM_RESET_CONNECTION and the fresh-session SET, framed), for a caller
  // that sends it ahead of a client's command in one write and reads the two replies
  // (kResetReplies) before the command's.
  protocol::Bytes ResetRequest() const;
  // Sends commands framed one after another (ResetRequest, a pipeline) without waiting for
  // replies: in one write, or on a compressed connection each in a frame of its own (the
  // server starts each command's frame ids at 0, and does not read a second command out of
  // one frame).
  net::Awaitable<std::error_code> WriteCommands(protocol::ByteView framed);
  static constexpr int kResetReplies = 2;
  // COM_PING, bounded by `timeout`.
  net::Awaitable<Status> Ping(std::chrono::milliseconds timeout);
  // Runs a statement that answers OK (e.g. a SET); a server ERR is an error.
  net::Awaitable<Status> Execute(std::string sql) {  // By value: the frame keeps it.
    return Execute(std::move(sql), nullptr);
  }
  // The same; a server ERR is returned in `*server_error` with an ok status (the connection
  // stays usable).
  net::Awaitable<Status> Execute(std::string sql, std::optional<protocol::ErrPacket>* server_error);
  // Turns the proxy's trackers on again (after a client's COM_RESET_CONNECTION) and forgets
  // the session variables the reset cleared.
  net::Awaitable<Status> TrackStateChanges() {
    state_.StartedAfresh();
    return Execute(TrackingStatement(state_.key));
  }
  // Between commands: true if the server closed the connection or sent something unsolicited.
  bool PeerClosedOrSpoke() const { return stream_.PeerClosedOrSpoke(); }

  // Makes the server flag every session-state change (user variables, temporary tables,
  // PREPARE, session variables, schema) in its OK packets; COM_RESET_CONNECTION turns it off.
  static constexpr const char* kTrackStateChange = "SET SESSION session_track_state_change=ON";
  // COM_INIT_DB. A server ERR (unknown schema, no access) is returned in `*server_error` with
  // an ok status: the connection stays usable.
  net::Awaitable<Status> InitDb(const std::string& schema,
                                std::optional<protocol::ErrPacket>* server_error);
  // COM_CHANGE_USER to the same user without a schema and with handshake collation
  // `collation`: a reset that also clears the schema and makes `collation` what later resets
  // restore (so the connection can serve the pool of that collation: key.collation is set).
  // The tracker is turned on again.
  net::Awaitable<Status> ChangeUser(const auth::LoginSecret& secret, std::uint8_t collation);
  // Sends one query and returns the first row's values (NULL as nullopt).
  // With `server_error`, a server ERR is returned there with an ok status and no values.
  net::Awaitable<Result<std::vector<std::optional<std::string>>>> QueryRow(
      const std::string& sql, std::optional<protocol::ErrPacket>* server_error = nullptr);
  // Sends one query and returns up to `max_rows` rows (the rest are read and dropped).
  net::Awaitable<Result<std::vector<Row>>> QueryRows(
      const std::string& sql, std::size_t max_rows,
      std::optional<protocol::ErrPacket>* server_error = nullptr);

 private:
  // Reset, followed by COM_INIT_DB `*schema` if `schema` is given (its ERR in `*server_error`).
  net::Awaitable<Status> ResetSession(std::chrono::milliseconds timeout, const std::string* schema,
                                      std::optional<protocol::ErrPacket>* server_error);
  // Reads the reply to a command that answers OK or ERR; updates status flags.
  net::Awaitable<Status> ReadOk(std::optional<protocol::ErrPacket>* server_error);
  // Reads a text result set and returns up to `max_rows` rows.
  net::Awaitable<Result<std::vector<Row>>> ReadRows(
      std::size_t max_rows, std::optional<protocol::ErrPacket>* server_error = nullptr);
  // Answers auth switches until OK or ERR (login and CHANGE_USER).
  net::Awaitable<Status> FinishAuthentication(BackendAuth& auth,
                                              std::optional<protocol::ErrPacket>* server_error);

  net::ByteStream stream_;
  BackendState state_;
  std::uint64_t registry_id_ = 0;
  // For the proxy's own exchanges (login, reset, ping, ...), made when one starts and freed
  // when it ends with nothing left over: a connection between exchanges, or one that relays
  // a client's commands (with the session's buffers), holds none. Idle clients are many.
  net::IoBuffer& Buffer() {
    if (!buffer_) buffer_ = std::make_unique<net::IoBuffer>(kControlBufferSize);
    return *buffer_;
  }
  void EndExchange() {
    if (buffer_ && buffer_->empty()) buffer_.reset();
  }
  // Declared first in a public exchange: ends it however the coroutine returns.
  struct Exchange {
    BackendConnection& connection;
    ~Exchange() { connection.EndExchange(); }
  };
  static constexpr std::size_t kControlBufferSize = 1024;
  std::unique_ptr<net::IoBuffer> buffer_;
};

}  // namespace longlink::pool
