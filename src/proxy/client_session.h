// One client connection, from greeting to close: logs the client in at the proxy
// (mysql_native_password against the configured users), checks out a backend connection of
// the client's pool, relays commands and streams results, and gives the backend back reset.
//
// Memory: between commands a session holds its socket, a few short strings, a 64-byte buffer
// for the start of the next command and one coroutine frame (Run's); buffers are borrowed
// from the worker's BufferPool only while bytes are in flight.
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
#include "protocol/packets.h"
#include "protocol/response.h"
#include "proxy/kill_statement.h"
#include "proxy/proxy_context.h"
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

  // Runs the session to its end; never throws. `self` owns this session, so the coroutine's
  // frame is all that keeps it (the one frame an idle session has; co_spawn it directly).
  net::Awaitable<void> Run(std::unique_ptr<ClientSession> self);

  // For the worker's sweep: closes a client that has stopped in the middle of a packet for
  // proxy.net_read_timeout; if the client is idle and the held backend is due for a keepalive
  // ping, wakes the session to send it; if the client has been idle for
  // WorkerSessions::kWatchAfter, puts the backend into the worker's watched set.
  void OnSweep(pool::Clock::time_point now);
  // For the watched set: the held backend turned readable or closed while the client is
  // idle; wakes the session to find out (MaintainIdleBackend).
  void OnBackendReadable();

  // For KILL from another session (on this session's worker): who this session is and which
  // backend it holds.
  SessionView View() const;
  // KILL CONNECTION from session `by`: shuts the client connection down; the session then
  // ends as if the client had gone (a command in progress is not answered, its backend is
  // closed; an idle session's backend goes back to its pool reset).
  void Terminate(std::uint64_t by);

 private:
  enum class Outcome {
    kOk,
    kClientGone,    // The client closed or reset; anything sent after is lost.
    kBackendGone,   // The backend connection failed.
    kClientError,   // The client broke the protocol; an ERR was sent (or not possible).
    kBackendError,  // The backend broke the protocol.
  };

  net::Awaitable<bool> LogIn();
  net::Awaitable<bool> Authenticate(const std::string& user, const std::string& first_token,
                                    const std::string& plugin, std::uint8_t* sequence,
                                    const auth::Scramble& scramble,
                                    std::optional<auth::PasswordSecret>* secret,
                                    std::optional<protocol::ErrPacket>* rejection = nullptr);
  // Checks out a backend for the current key and applies the wanted schema. On failure the
  // client has been sent an ERR with `sequence`.
  net::Awaitable<bool> AttachBackend(const std::string& schema, std::uint8_t sequence);
  // Checks out a backend of the session's pool into backend_; the ERR for the client if none.
  net::Awaitable<std::optional<protocol::ErrPacket>> CheckOut();
  // Reads and serves one command; false when the session ends (QUIT, client gone, a fatal
  // error already answered).
  net::Awaitable<bool> ServeCommand();
  // Pings the held backend or notices that it is closed (the client is idle).
  net::Awaitable<void> MaintainIdleBackend();
  // Takes the held backend out of the worker's watched set, if it is there.
  void StopWatchingBackend();
  // Ends the idle wait so that Run calls MaintainIdleBackend.
  void WakeForMaintenance();
  // The held backend died between commands: closes it and remembers what to rebuild.
  void LoseBackend(const std::string& why);
  // Before a command, with no backend after LoseBackend: a fresh one with the same state, or
  // the ERR for the client (`fatal`: the state is gone, close the client after it).
  net::Awaitable<std::optional<protocol::ErrPacket>> Reattach(bool reads_previous, bool* fatal);
  net::Awaitable<Outcome> HandleChangeUser();
  // A COM_CHANGE_USER that failed: the session is reset but keeps its user, schema and
  // character set, and `error` is sent after a second, as MariaDB does.
  net::Awaitable<Outcome> RefuseChangeUser(protocol::ErrPacket error, std::uint8_t sequence);
  // A KILL by number from this client (the COM_QUERY already read; `text` for the log):
  // KILL [QUERY|CONNECTION] <session id> is carried out on the proxy's terms, the rest is
  // refused (docs/PROXY.md, "Connection ids and KILL").
  net::Awaitable<Outcome> HandleKill(KillStatement kill, std::string text);
  // Kills the statement that session `target_id` (seen as `target`, on `worker`) runs, if
  // any, through this session's backend: reads the query id its backend thread runs, checks
  // that the target still holds that backend, and kills that query id only, so that a thread
  // id that by then serves another client is never hit. The ERR for the client if the server
  // refused.
  net::Awaitable<std::optional<protocol::ErrPacket>> KillRunningQuery(KillStatement kill,
                                                                      std::uint64_t target_id,
                                                                      SessionView target);
  net::Awaitable<Outcome> Relay(protocol::Command command);
  // Forwards one logical client packet (all its chunks) to the backend, streaming; checks its
  // sequence ids from `*sequence` on and advances it. `*empty`: the packet had no payload.
  net::Awaitable<Outcome> ForwardClientPacket(std::uint8_t* sequence, bool* empty);
  // Relays the backend's reply to the command just forwarded; `cursor_requested`: a
  // STMT_EXECUTE that asked for a cursor (ResponseTracker).
  net::Awaitable<Outcome> RelayResponse(protocol::ResponseShape shape,
                                        bool cursor_requested = false);
  // Reads from the client until `in_` holds `count` bytes. False if the client went away.
  net::Awaitable<bool> FillClient(std::size_t count);
  // Sends one packet the proxy made. False if the client went away.
  net::Awaitable<bool> SendToClient(const protocol::Bytes& payload, std::uint8_t sequence);
  net::Awaitable<bool> SendError(const protocol::ErrPacket& error, std::uint8_t sequence);
  // Returns the backend to its pool (clean) or closes it (state unknown).
  net::Awaitable<void> ReleaseBackend(bool clean);
  // Re-encodes a backend OK for this client if their capabilities differ; tracks the schema.
  std::optional<protocol::Bytes> AdaptOk(protocol::ByteView payload, std::uint8_t sequence);
  std::size_t MaxClientPacket() const;
  // Reads and drops the rest of the current command packet (all its chunks).
  net::Awaitable<bool> DropClientPacket();
  // Returns both buffers to the worker's pool (their contents are dropped).
  void GiveBack();
  // The OK that ends a login or COM_CHANGE_USER, with the backend's status flags.
  net::Awaitable<bool> SendLoginOk(std::uint8_t sequence);

  ProxyContext& context_;
  WorkerSessions& sessions_;
  net::BufferPool& buffers_;
  net::Socket client_;
  const std::uint64_t id_;
  const std::string peer_host_;
  const bool admitted_;

  // After login.
  protocol::Capabilities client_caps_ = 0;
  std::string user_;
  std::uint8_t collation_ = 0;
  auth::Scramble scramble_ = {};  // From the greeting; COM_CHANGE_USER tokens use it.
  std::optional<auth::PasswordSecret> secret_;
  std::unique_ptr<pool::BackendConnection> backend_;
  bool backend_options_changed_ = false;  // COM_SET_OPTION: not the pool key's settings.
  SessionState state_;
  // The code of the ERR that ended the last relayed reply, if one did.
  std::optional<std::uint16_t> last_reply_error_;
  // Failed COM_CHANGE_USER attempts; from the third on the server answers "Unknown command".
  std::uint8_t failed_change_users_ = 0;
  // While the proxy waits for the rest of a packet from the client: since when (the sweep
  // closes the client after proxy.net_read_timeout). Zero otherwise.
  pool::Clock::time_point reading_since_ = {};
  // Sets reading_since_ for as long as it lives: declare one around each such wait.
  struct PartialRead {
    explicit PartialRead(ClientSession& waiting) : session(waiting) {
      session.reading_since_ = pool::Clock::now();
    }
    ~PartialRead() { session.reading_since_ = {}; }
    PartialRead(const PartialRead&) = delete;
    PartialRead& operator=(const PartialRead&) = delete;
    ClientSession& session;
  };

  // The client is idle and Run waits for its next command.
  bool idle_waiting_ = false;
  // The sweep or the watched set asked for MaintainIdleBackend.
  bool maintenance_due_ = false;
  // The held backend is in the worker's watched set (only during the idle wait).
  bool backend_watched_ = false;
  // Counts checkouts: with the thread id it names the backend a KILL saw (SessionView).
  std::uint32_t checkouts_ = 0;
  // After LoseBackend, until Reattach: what the lost backend's session was. Rare, so it is
  // held apart from the session (idle sessions are many).
  struct LostBackend {
    bool clean = false;
    std::string schema = {};
    std::string reason = {};  // Why the state is not clean, for the client's ERR.
  };
  std::unique_ptr<LostBackend> lost_;

  // The idle wait reads the start of the next command here (a command this short comes
  // whole); it moves to in_ when it arrives.
  std::array<std::uint8_t, 64> next_command_;
  std::unique_ptr<net::IoBuffer> in_;   // Client bytes not yet forwarded.
  std::unique_ptr<net::IoBuffer> out_;  // Backend bytes not yet relayed.
};

}  // namespace longlink::proxy
