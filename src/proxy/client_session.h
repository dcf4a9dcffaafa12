// One client connection, from greeting to close: logs the client in at the proxy
// (ClientLogin), leases a backend connection of the client's pool (BackendLease), serves its
// commands (CommandRelay streams each to the backend and the reply back; KILL and
// COM_CHANGE_USER are the proxy's own), and gives the backend back when the client leaves.
// Its parts: client_channel (the client's socket and the one error path), client_login,
// backend_lease, command_relay, session_state, session_kill.cc (KILL), session_transaction.cc
// (transaction pooling: the backend is checked out for a command when none is held, restored to
// the session's state in the command's own write, and given back as soon as the session may
// move; docs/PROXY.md "Transaction pooling").
//
// Memory: between commands a session holds its socket, a few short strings, a 64-byte buffer
// for the start of the next command and one pending read (WaitIdle), no coroutine frame;
// buffers are borrowed from the worker's BufferPool only while bytes are in flight.
//
// Backends die (wait_timeout, KILL, restarts; docs/OPERATIONS.md). While the client is idle
// between commands, the worker's sweep (WorkerSessions) has the session ping its backend before
// the server's wait_timeout, and the worker's watched set reports a close. A backend lost while the
// client is idle is replaced before the next command if the session state is clean (SessionState):
// the schema and SET statements are applied again; otherwise that command gets ERR 1927 and the
// client is closed. A backend lost during a command is never replayed: the client gets ERR 1927 (or
// the server's own error) and is closed.
//
// Sequence ids are relayed unchanged: a command starts at 0 on both hops, the backend's reply
// continues from there. The proxy writes its own packets (greeting, auth, OK after login, ERR)
// with the id that comes next.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "net/io_buffer.h"
#include "net/socket.h"
#include "pool/backend_connection.h"
#include "protocol/command.h"
#include "protocol/packets.h"
#include "proxy/backend_lease.h"
#include "proxy/client_channel.h"
#include "proxy/client_statements.h"
#include "proxy/command_relay.h"
#include "proxy/kill_statement.h"
#include "proxy/pool_stats.h"
#include "proxy/prepared_kill.h"
#include "proxy/proxy_context.h"
#include "proxy/session_assignment.h"
#include "proxy/session_restore.h"
#include "proxy/session_state.h"
#include "proxy/worker_sessions.h"

namespace longlink::proxy {

class ClientSession {
 public:
  // `peer_host`: how the client is named in errors ("localhost" for a Unix socket).
  // `admitted`: false beyond max_client_connections; the client then gets ERR 1040 after its
  // handshake response (as MariaDB does, so every client library reads it), and is not counted.
  ClientSession(ProxyContext& context, WorkerSessions& sessions, net::BufferPool& buffers,
                net::Socket socket, std::uint64_t id, std::string peer_host, bool admitted);
  ~ClientSession();
  ClientSession(const ClientSession&) = delete;
  ClientSession& operator=(const ClientSession&) = delete;

  // Runs `session` on its loop to its end (call on that loop's thread). An internal error
  // (an exception) ends it and is logged.
  static void Start(std::unique_ptr<ClientSession> session);
  // For harnesses (the session fuzzer), which treat it as a failure: called, besides the error
  // logged, when an internal error (an exception) ends a session. Set before sessions start.
  static void SetInternalErrorHook(void (*hook)(std::uint64_t session));

  // For the worker's sweep: closes a client that has stopped in the middle of a packet for
  // proxy.net_read_timeout, or that has been idle longer than the wait_timeout it set; if the
  // client is idle and the held backend is due for a keepalive ping, wakes the session to send
  // it; if the client has been idle for WorkerSessions::kWatchAfter, puts the backend into the
  // worker's watched set. Returns when the sweep must visit next: while a command is in
  // progress, at once (the epoch: every pass); while the client idles, the first of those
  // deadlines (none moves before the next command, which makes the session busy again).
  pool::Clock::time_point OnSweep(pool::Clock::time_point now);
  // For the watched set: the held backend turned readable or closed while the client is
  // idle; wakes the session to find out (MaintainIdleBackend).
  void OnBackendReadable();

  // For KILL from another session (on this session's worker): who this session is and which
  // backend it holds.
  SessionView View() const;
  // For SHOW CLIENTS (on this session's worker).
  ClientInfo Describe();
  // KILL CONNECTION from session `by`: shuts the client connection down; the session then
  // ends as if the client had gone (a command in progress is not answered, its backend is
  // closed; an idle session's backend goes back to its pool reset).
  void Terminate(std::uint64_t by);

 private:
  // Where Run starts.
  enum class Step : std::uint8_t {
    kLogIn,  // A new client.
    kServe,  // The client's next command arrived (or the idle backend needs care).
    kEnd,    // The client is gone: give the backend back and close.
  };
  // Serves the session from `step` while it is busy. `self` owns the session: when the client
  // is idle, Run hands it to WaitIdle and ends, so that an idle session holds no coroutine
  // frame; at the end of the session Run's frame is the last owner.
  net::Awaitable<void> Run(std::unique_ptr<ClientSession> self, Step step);
  // Spawns Run on the session's loop; an internal error (an exception) ends the session and
  // is logged.
  static void Spawn(std::unique_ptr<ClientSession> self, Step step);
  // Between commands: a read of the start of the next command into next_command_, whose
  // handler owns the session (OnIdleRead). An idle session costs its object, that one pending
  // read and its socket's registration. The sweep's wake-ups (WakeForMaintenance), KILL and
  // shutdown end the read.
  static void WaitIdle(std::unique_ptr<ClientSession> self);
  void OnIdleRead(std::unique_ptr<ClientSession> self, std::error_code error, std::size_t arrived);
  // Logs the client in (ClientLogin) and sends the OK. False if the session ends (the client
  // was answered or went away). The login does not touch the server (CanLogInAlone) once
  // the proxy knows what a fresh session starts with: the backend comes with the first
  // command (attach_due_) or, in transaction pooling, with each transaction. Otherwise it
  // attaches a backend first (AttachBackend).
  net::Awaitable<bool> LogIn();
  // Whether a login naming `schema` can be answered without a backend (KnownSchemas).
  bool CanLogInAlone(const std::string& schema) const;
  // A new session (login, COM_CHANGE_USER, a backend attached): nothing of the old state.
  void BeginSession(const std::string& schema, const pool::TrackerSettings& tracking);
  // The status flags of the OK that ends a login: a fresh session's.
  std::uint16_t LoginStatus(const std::optional<pool::FreshSession>& fresh) const;
  // Acquires a backend for the current pool key and applies `schema`. On failure, the ERR
  // for the client (no backend held), with `*fatal` if the server refused the schema (the
  // session cannot go on).
  net::Awaitable<std::optional<protocol::ErrPacket>> AttachBackend(const std::string& schema,
                                                                   bool* fatal);
  // Whether the held backend keeps something of this session that must not wait for the next
  // client's reset (BackendLease::Release): it is not movable (a transaction, a lock, a
  // temporary table, a cursor, ...) or has the client's own wait_timeout.
  bool LeavesServerState() const;
  // Counts the session as `user` (max_user_connections `limit`, 0: none); false if the
  // limit is reached (the session stays counted as before).
  bool CountUser(const std::string& user, std::uint32_t limit);
  static protocol::ErrPacket UserLimitError(const std::string& user, std::uint32_t limit);
  pool::PoolKey Key() const;
  // Reads and serves one command; false when the session ends (QUIT, client gone, a fatal
  // error already answered).
  net::Awaitable<bool> ServeCommand();
  // Pings the held backend or notices that it is closed (the client is idle).
  net::Awaitable<void> MaintainIdleBackend();
  // Takes the held backend out of the worker's watched set, if it is there.
  void StopWatchingBackend();
  // Ends WaitIdle's read so that Run calls MaintainIdleBackend.
  void WakeForMaintenance();
  // The held backend died between commands: closes it and remembers what to rebuild. If the
  // session was pinned to it and the server ended it without a word, the client connection
  // ends now the way the backend's did (`reset`: a TCP reset, as for wait_timeout and
  // idle_transaction_timeout; else a close, as for KILL or a shutdown), so that the client's
  // next command fails as it would direct (2006/2013); if the server sent an ERR, the client
  // gets that ERR at its next command and is closed.
  void LoseBackend(const std::string& why, std::optional<protocol::ErrPacket> server_error = {},
                   bool reset = false);
  // LoseBackend with what the idle socket says.
  void LoseIdleBackend();
  net::Awaitable<Outcome> HandleChangeUser();
  // A COM_CHANGE_USER that failed: the session is reset but keeps its user, schema and
  // character set, and `error` is sent after a second, as MariaDB does.
  net::Awaitable<Outcome> RefuseChangeUser(protocol::ErrPacket error, std::uint8_t sequence);
  // A KILL of a thread from this client (its command, `size` bytes, still in the channel):
  // the number, or the expression's value on the session's backend, names this session, a
  // proxy session (its greeting id, or the backend thread it holds and the killer could know
  // of), an idle pooled connection, or none of the proxy's. The proxy answers the first three
  // itself (then the command is consumed); nullopt: relay the statement as written, the
  // server decides (docs/PROXY.md, "Connection ids and KILL"). `text` is for the log. In
  // session_kill.cc.
  net::Awaitable<std::optional<Outcome>> HandleKill(KillStatement kill, std::string text,
                                                    std::size_t size);
  // HandleKill without consuming the command.
  net::Awaitable<std::optional<Outcome>> ResolveKill(KillStatement kill, std::string text);
  // Resolves thread number `number` (see HandleKill). `shown`: the number as the client
  // sees it in errors.
  net::Awaitable<std::optional<Outcome>> KillNumber(const KillStatement& kill,
                                                    std::uint64_t number);
  // KILL of the session `target_id` (a live session of the proxy's, seen as `view`);
  // `number` is what the client named it by.
  net::Awaitable<Outcome> KillSession(const KillStatement& kill, std::uint64_t number,
                                      std::uint64_t target_id, WorkerSessions* worker,
                                      SessionView view);
  // A COM_STMT_EXECUTE or COM_STMT_CLOSE (payload `length` bytes) of a prepared KILL
  // (prepared_kills_): an execute is resolved as HandleKill resolves a KILL in a query, with
  // its parameters bound; nullopt: relay the command as it is.
  net::Awaitable<std::optional<Outcome>> HandlePreparedKill(protocol::Command command,
                                                            std::uint32_t length);
  // A KILL the proxy does not relay (inside a multi-statement query or an executable
  // comment): ERR 1095, nothing of the query runs.
  net::Awaitable<Outcome> RefuseKill(std::string text);
  // Kills the statement that session `target_id` (seen as `target`, on `worker`) runs, if
  // any, through this session's backend: reads the query id its backend thread runs, checks
  // that the target still holds that backend, and kills that query id only, so that a thread
  // id that by then serves another client is never hit. The ERR for the client if the server
  // refused.
  net::Awaitable<std::optional<protocol::ErrPacket>> KillRunningQuery(KillStatement kill,
                                                                      std::uint64_t target_id,
                                                                      SessionView target);
  // After the client SET wait_timeout to an expression: reads the session's value; the sweep
  // enforces it if it is not the one the pool's sessions start with. (A plain number or
  // DEFAULT is read from the statement: a query would clear the SET's warnings.)
  net::Awaitable<Outcome> FollowWaitTimeout();
  // What a query or prepare changes of the session, learnt before it runs, that takes effect
  // only if it succeeds (AfterCommand).
  struct CommandEffects {
    SessionAssignment wait_timeout = {};              // The session's wait_timeout, if it sets it.
    bool sets_state_tracking = false;                 // It sets session_track_state_change.
    std::optional<KillStatement> prepared_kill = {};  // COM_STMT_PREPARE of a KILL.
    std::optional<SqlPrepareStatement> sql_prepare = {};  // SQL PREPARE/EXECUTE/DEALLOCATE.
    std::optional<KillStatement> sql_prepared_kill = {};  // What that PREPARE prepares.
    bool ddl = false;                                     // CREATE, ALTER, DROP, ... (NoteDdl).
  };
  // A command succeeded (no ERR): its effects on what the proxy follows of the session.
  net::Awaitable<Outcome> AfterCommand(protocol::Command command,
                                       std::optional<CommandRelay::Prepared> prepared,
                                       CommandEffects effects);
  // The session on the backend was reset (COM_RESET_CONNECTION, a failed COM_CHANGE_USER, a
  // new lease): forgets what the proxy followed of it.
  void ForgetSessionState();
  // SQL PREPARE / EXECUTE / DEALLOCATE (`effects->sql_prepare`; the query `text`, `size` bytes
  // in the channel): a PREPARE of a KILL is noted in `effects`, an EXECUTE of one is resolved
  // as HandleKill resolves a KILL in a query. In session_kill.cc.
  net::Awaitable<std::optional<Outcome>> HandleSqlPrepare(CommandEffects* effects, std::string text,
                                                          std::size_t size);
  // Serves one command that goes to the backend (CommandRelay).
  net::Awaitable<Outcome> Relay(protocol::Command command);

  // Transaction pooling (session_transaction.cc; docs/PROXY.md "Transaction pooling").
  bool transaction_pooling() const { return key_transaction_pooling_; }
  // Before a command, with no connection held: takes one from the pool (one whose state
  // matches the session's first) and plans what brings it to the session's state
  // (restore_). The ERR for the client if none came.
  net::Awaitable<std::optional<protocol::ErrPacket>> CheckOut();
  // Puts restore_ (and, before a command that does not read the last statement's results, the
  // LAST_INSERT_ID() query if that value is unknown) ahead of the command, and has the relay
  // show the client only its own trackers' entries.
  void PrepareRelay(CommandRelay& relay, protocol::Command command, bool reads_previous);
  // After a command: gives the connection back if the session may move (no transaction, no
  // pin), and logs a new pin.
  void ReleaseIfMovable();
  // Brings the pool counters up to date with this session (holding, pinned by reason);
  // `gone`: the session ends (counted out).
  void UpdatePoolStats(bool gone = false);
  // The session now belongs to the pool of Key() (login, COM_CHANGE_USER).
  void JoinPoolStats();
  // backend_.Acquire for Key(), counted as a wait in the pool's counters.
  net::Awaitable<std::optional<protocol::ErrPacket>> AcquireBackend(std::uint64_t prefer);
  // A command that began at `start` was answered (`failed`: with an ERR): the pool's command,
  // statement, transaction, error, byte and latency counters. In session_transaction.cc.
  void CountCommand(protocol::Command command, pool::Clock::time_point start, bool failed);
  // The current command runs `text` (its first bytes if `truncated`): kept for its digest.
  void NoteDigestText(std::string_view text, bool truncated);
  // Before a command, with no backend after LoseBackend: a fresh one with the same state, or
  // the ERR for the client (`fatal`: the state is gone, close the client after it).
  net::Awaitable<std::optional<protocol::ErrPacket>> Reattach(bool reads_previous, bool* fatal);
  std::size_t MaxClientPacket() const;
  // What holds the session to its connection: its state's pin or hold, else a statement's
  // long data or cursor (transaction pooling).
  PinReason SessionPin() const;

  // Protocol prepared statements in transaction pooling (session_statements.cc; docs/PROXY.md
  // "Prepared statements in transaction pooling").
  // The proxy owns the client's statement ids (statements_): transaction pooling with a
  // MariaDB backend. Decided when the session joins its pool.
  bool VirtualStatements() const;
  // Server statements one connection keeps: pool.max_prepared_statements, within the server's
  // max_prepared_stmt_count shared among backend.max_connections.
  std::size_t StatementCapacity() const;
  // A successful statement of `scan` that may change what prepared statements mean (DDL):
  // the shapes known so far are not reused.
  void NoteDdl(const StatementScan& scan);
  // Checks out (or reattaches) a connection if none is held; the outcome if the client was
  // answered instead (its command is already consumed).
  net::Awaitable<std::optional<Outcome>> HoldBackend(bool reads_previous);
  // The COM_STMT_CLOSEs the held connection's cache has due, ahead of the command.
  void PrependStatementCloses(CommandRelay& relay);
  // Serves a STMT_PREPARE, EXECUTE, SEND_LONG_DATA, RESET, FETCH or CLOSE with proxy ids.
  net::Awaitable<Outcome> RelayStatement(protocol::Command command);
  // A COM_STMT_PREPARE: answered from a known shape, or prepared on the held connection. In
  // session_prepare.cc, with SwitchesContext, PrepareUnderItsContext and RememberPreparedKill.
  net::Awaitable<Outcome> PrepareStatement(protocol::Bytes payload);
  void CloseStatement(protocol::ByteView payload);
  net::Awaitable<Outcome> RunStatement(protocol::Command command, protocol::Bytes payload);
  // After a statement command's reply: as Relay's ending (restore errors, OnReplyEnd, an
  // error after which the server closes).
  Outcome AfterStatementReply(CommandRelay& relay, protocol::Command command, Outcome relayed);
  // True if `shape` must be prepared under another schema or parse variables than the
  // session's now (they changed since its prepare).
  bool SwitchesContext(const StatementShape& shape) const;
  // Prepares `shape` on the held connection under its own schema and parse variables, in an
  // exchange of the proxy's (restore, closes, switch, PREPARE, switch back): the server
  // statement id; or nullopt with `*answered` (kOk: the client got the error that stopped
  // its `command`, which did not run).
  net::Awaitable<std::optional<std::uint32_t>> PrepareUnderItsContext(const StatementShape& shape,
                                                                      protocol::Command command,
                                                                      Outcome* answered);
  // Before a prepare on the held connection: evicts what must go for one more statement, and
  // puts the closes due ahead of the prepare.
  void MakeRoomForPrepare(CommandRelay& relay);
  void AddToCache(const pool::StatementKey& key, std::uint32_t server_id, std::uint64_t owner);
  void RememberPreparedKill(std::uint32_t id, KillStatement kill, std::uint16_t parameters);

  ProxyContext& context_;
  WorkerSessions& sessions_;
  net::BufferPool& buffers_;
  ClientChannel client_;
  const std::uint64_t id_;
  const std::string peer_host_;
  const bool admitted_;
  const pool::Clock::time_point connected_at_ = pool::Clock::now();
  // In AcquireBackend: waiting for a backend connection.
  bool waiting_ = false;
  // Session pooling: logged in without a backend; the next command (but COM_QUIT) attaches
  // one first.
  bool attach_due_ = false;

  // After login.
  std::string user_;
  std::uint8_t collation_ = 0;
  auth::Scramble scramble_ = {};  // From the greeting; COM_CHANGE_USER tokens use it.
  std::optional<auth::LoginSecret> secret_;
  // The account's password has expired: the session gets connections of its own, which the
  // server sandboxes (PoolKey::expired_password).
  bool expired_password_ = false;
  // The user counted by ProxyContext::AdmitUser (max_user_connections), if any.
  std::optional<std::string> counted_user_;
  BackendLease backend_;
  SessionState state_;
  // Transaction pooling for this session's pool (pool.mode; never for an expired password).
  bool key_transaction_pooling_ = false;
  // The restore planned at checkout, sent with the next command (transaction pooling).
  std::optional<RestorePlan> restore_;
  // The held connection has the session's state (restored, or the session began on it).
  bool synced_ = false;
  // When the session (its user's) began: a connection reset before has older globals.
  pool::Clock::time_point started_at_ = {};
  // This session's pool counters, and what it counts there now.
  std::shared_ptr<PoolStatsCell> stats_;
  bool counted_holding_ = false;
  // The last reply left the session in a transaction (for the transactions counter).
  bool in_transaction_ = false;
  // The statement the current command runs, for the digests (SHOW QUERIES): the start of a
  // COM_QUERY's text (`digest_truncated_`: only its start), or a prepared statement's text;
  // empty for other commands or with digests off. Its capacity is reused.
  std::string digest_text_;
  bool digest_truncated_ = false;
  // Rows the last relayed reply carried or changed.
  std::uint64_t last_rows_ = 0;
  PinReason counted_pin_ = PinReason::kNone;
  // The code of the ERR that ended the last relayed reply, if one did.
  std::optional<std::uint16_t> last_reply_error_;
  // The session's prepared statements when the proxy owns their ids (VirtualStatements);
  // made at the first prepare.
  std::unique_ptr<ClientStatements> statements_;
  bool virtual_statements_ = false;
  // The status flags the session's last reply ended with (transaction pooling: what a reply
  // the proxy makes carries).
  std::uint16_t last_status_ = 0;
  // KILL statements the client prepared (COM_STMT_PREPARE), by statement id. Rare: held
  // apart.
  std::unique_ptr<PreparedKills> prepared_kills_;
  // KILL statements the client prepared with SQL PREPARE, by name.
  std::unique_ptr<SqlPreparedKills> sql_prepared_kills_;
  // This session ran a statement that tells its backend's thread id since it got it.
  bool revealed_thread_ = false;
  // When this session last read the process list (ids of other sessions' backends).
  pool::Clock::time_point processlist_seen_at_ = {};
  // The wait_timeout the client set for its session (zero: none; the server's global
  // wait_timeout is the pool's business, and a client that sets none is never timed out).
  // The sweep closes the client when it idles that long, as the server would.
  std::chrono::seconds client_wait_timeout_{0};
  // The client set session_track_state_change itself since its session started: the
  // backend's tracker is then the client's, and its entries are the client's to see.
  bool client_set_state_tracking_ = false;
  // When the last command ended (the client's idle time, for client_wait_timeout_).
  pool::Clock::time_point idle_since_ = {};
  // Failed COM_CHANGE_USER attempts; from the third on the server answers "Unknown command".
  std::uint8_t failed_change_users_ = 0;

  // The client is idle: WaitIdle's read is pending.
  bool idle_waiting_ = false;
  // The sweep or the watched set asked for MaintainIdleBackend.
  bool maintenance_due_ = false;
  // The held backend is in the worker's watched set (only during the idle wait).
  bool backend_watched_ = false;
  // Its place in the worker's sweep (WorkerSessions::Add).
  std::size_t sweep_slot_ = 0;

  // WaitIdle reads the start of the next command here (a command this short comes
  // whole); it moves to the channel's input when it arrives.
  std::array<std::uint8_t, 64> next_command_;
};

}  // namespace longlink::proxy
