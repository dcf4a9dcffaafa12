#include "proxy/client_session.h"

#include <algorithm>
#include <asio/buffer.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>
#include <cctype>
#include <cstring>
#include <vector>

#include "common/log.h"
#include "common/log_rate_limit.h"
#include "common/log_text.h"
#include "net/packet_io.h"
#include "protocol/command.h"
#include "protocol/frame.h"
#include "protocol/handshake.h"
#include "protocol/response.h"
#include "protocol/session_track.h"

namespace longlink::proxy {

namespace cap = protocol::capability;
using protocol::Bytes;
using protocol::ByteView;
using protocol::Command;
using protocol::ErrPacket;
using protocol::MakeErrPacket;
namespace server_error = protocol::server_error;

namespace {

constexpr std::uint16_t kNotStateChanged =
    static_cast<std::uint16_t>(~protocol::status::kSessionStateChanged);

// Login packets are small; anything larger is not a login.
constexpr std::size_t kLoginPacketLimit = 64 * 1024;

// Queries up to this size are scanned for session state (SessionState); larger ones make the
// session dirty. One default buffer holds them.
constexpr std::size_t kScanLimit = 16 * 1024 - protocol::kPacketHeaderSize;

// A command that comes this long after the last reply first checks that the backend is still
// there (one poll); a client that sends commands back to back skips the system call.
constexpr auto kIdleCheckAfter = std::chrono::milliseconds(1);

// A failed COM_CHANGE_USER is answered after this long, and from the fourth attempt in a
// session on with "Unknown command", as MariaDB does (sql_parse.cc, COM_CHANGE_USER).
constexpr auto kFailedChangeUserDelay = std::chrono::seconds(1);
constexpr std::uint8_t kMaxFailedChangeUsers = 3;

// Used before the backend's max_allowed_packet is known and when it reports none.
constexpr std::size_t kDefaultMaxPacket = 16 * 1024 * 1024;

// ERR for failures of the proxy's own: the backend is unreachable or broke the protocol.
ErrPacket BackendUnavailable(const std::string& why) {
  return ErrPacket{.code = 1105, .sql_state = "08S01", .message = "longlink: " + why};
}

}  // namespace

ClientSession::ClientSession(ProxyContext& context, WorkerSessions& sessions,
                             net::BufferPool& buffers, net::Socket socket, std::uint64_t id,
                             std::string peer_host, bool admitted)
    : context_(context),
      sessions_(sessions),
      buffers_(buffers),
      client_(std::move(socket)),
      id_(id),
      peer_host_(std::move(peer_host)),
      admitted_(admitted) {
  sessions_.Add(id_, this);
}

ClientSession::~ClientSession() {
  if (backend_) StopWatchingBackend();
  sessions_.Remove(id_);
  GiveBack();
  if (backend_) context_.pools().Discard(std::move(backend_));
  if (admitted_) context_.ClientGone();
}

void ClientSession::GiveBack() {
  buffers_.Give(std::move(in_));
  buffers_.Give(std::move(out_));
}

net::Awaitable<bool> ClientSession::SendLoginOk(std::uint8_t sequence) {
  protocol::OkPacket ok;
  ok.status_flags = backend_->state().status_flags & kNotStateChanged;
  const Bytes ok_bytes = protocol::Encode(ok, client_caps_);
  co_return co_await SendToClient(ok_bytes, sequence);
}

std::size_t ClientSession::MaxClientPacket() const {
  if (context_.config().proxy.max_allowed_packet > 0) {
    return static_cast<std::size_t>(context_.config().proxy.max_allowed_packet);
  }
  if (backend_ && backend_->state().max_allowed_packet > 0) {
    return static_cast<std::size_t>(backend_->state().max_allowed_packet);
  }
  return kDefaultMaxPacket;
}

net::Awaitable<bool> ClientSession::SendToClient(const Bytes& payload, std::uint8_t sequence) {
  auto sent = co_await net::WritePacket(client_, payload, sequence);
  co_return sent.ok();
}

net::Awaitable<bool> ClientSession::SendError(const ErrPacket& error, std::uint8_t sequence) {
  const Bytes payload = protocol::Encode(error, client_caps_ | cap::kProtocol41);
  co_return co_await SendToClient(payload, sequence);
}

net::Awaitable<void> ClientSession::Run(std::unique_ptr<ClientSession> /*self*/) {
  bool serving = co_await LogIn();
  if (serving) Log(LogLevel::kDebug, id_, "logged in as {} from {}", LogQuoted(user_), peer_host_);
  while (serving) {
    if (!in_ || in_->empty()) {
      // Idle between commands: no buffers, and the wait is in this frame rather than in a
      // nested coroutine, so that an idle session holds as few frames as it can. Meanwhile
      // the sweep's wake-ups (CheckIdleBackend) are served. The wait is a read into the
      // session's small buffer rather than a readiness wait: Asio re-arms epoll for every
      // readiness wait (one epoll_ctl per command), not for a read; and a short command
      // arrives whole with this one read.
      GiveBack();
      std::size_t arrived = 0;
      while (arrived == 0) {
        if (maintenance_due_) {
          maintenance_due_ = false;
          if (backend_) co_await MaintainIdleBackend();
        }
        idle_waiting_ = true;
        auto [error, n] = co_await client_.async_read_some(
            asio::buffer(next_command_.data(), next_command_.size()), net::kNoThrow);
        idle_waiting_ = false;
        StopWatchingBackend();  // Before anything uses, hands on or closes the backend.
        arrived = n;
        if (error && (error != asio::error::operation_aborted || !maintenance_due_)) break;
      }
      if (arrived == 0) break;
      in_ = buffers_.Take();
      std::memcpy(in_->Room().data(), next_command_.data(), arrived);
      in_->Commit(arrived);
    }
    serving = co_await ServeCommand();
  }
  if (backend_) co_await ReleaseBackend(/*clean=*/true);
  std::error_code ignored;
  client_.close(ignored);
}

net::Awaitable<bool> ClientSession::LogIn() {
  net::Deadline deadline(client_, context_.config().proxy.handshake_timeout);
  in_ = buffers_.Take();

  const pool::ServerIdentity server = context_.ServerIdentity();
  scramble_ = auth::GenerateScramble();
  protocol::HandshakeV10 greeting;
  greeting.server_version = server.version;
  greeting.connection_id = static_cast<std::uint32_t>(id_);
  greeting.auth_plugin_data.assign(scramble_.begin(), scramble_.end());
  greeting.capabilities = server.capabilities & kRelayableCapabilities;
  greeting.character_set = server.collation;
  greeting.status_flags = protocol::status::kAutocommit;
  greeting.auth_plugin_name = std::string(protocol::auth_plugin::kNativePassword);
  const Bytes greeting_bytes = protocol::Encode(greeting);
  if (!co_await SendToClient(greeting_bytes, 0)) co_return false;

  auto read = co_await net::ReadPacket(client_, *in_, kLoginPacketLimit);
  if (!read.ok()) {
    if (read.failure == net::ReadFailure::kClosed) {
      Log(LogLevel::kDebug, id_, "client left during login: {}",
          deadline.expired() ? "handshake timeout" : read.error);
      static LogRateLimit timeouts;
      if (deadline.expired()) {
        if (auto note = timeouts.Admit(); note.write) {
          Log(LogLevel::kInfo, id_, "closing client {}: no login within {} ms{}", peer_host_,
              context_.config().proxy.handshake_timeout.count(), note.suffix);
        }
      }
      co_return false;
    }
    {
      const ErrPacket error_packet = MakeErrPacket(server_error::kHandshakeError, "Bad handshake");
      co_await SendError(error_packet, 2);
    };
    co_return false;
  }
  std::uint8_t sequence = static_cast<std::uint8_t>(read.packet.last_sequence_id + 1);
  const Bytes& payload = read.packet.payload;
  if (read.packet.sequence_id != 1) {
    {
      const ErrPacket error_packet =
          MakeErrPacket(server_error::kNetPacketsOutOfOrder, "Got packets out of order");
      co_await SendError(error_packet, sequence);
    };
    co_return false;
  }
  if (protocol::IsSslRequest(payload)) {
    {
      const ErrPacket error_packet =
          MakeErrPacket(server_error::kHandshakeError,
                        "Bad handshake: longlink does not offer TLS; connect without it");
      co_await SendError(error_packet, sequence);
    };
    co_return false;
  }
  auto response = protocol::Decode<protocol::HandshakeResponse41>(payload);
  if (!response.ok() || !(response->capabilities & cap::kProtocol41)) {
    static LogRateLimit bad_handshakes;
    if (auto note = bad_handshakes.Admit(); note.write) {
      Log(LogLevel::kInfo, id_, "bad handshake from {}: {}{}", peer_host_,
          response.ok() ? "client lacks PROTOCOL_41" : response.error().message, note.suffix);
    }
    {
      const ErrPacket error_packet = MakeErrPacket(server_error::kHandshakeError, "Bad handshake");
      co_await SendError(error_packet, sequence);
    };
    co_return false;
  }
  client_caps_ = response->capabilities & greeting.capabilities;
  if (!admitted_) {
    const ErrPacket error_packet = protocol::TooManyConnectionsError();
    co_await SendError(error_packet, sequence);
    co_return false;
  }
  user_ = response->username;
  collation_ = response->character_set != 0 ? response->character_set : server.collation;

  const std::string plugin =
      (client_caps_ & cap::kPluginAuth) && !response->auth_plugin_name.empty()
          ? response->auth_plugin_name
          : std::string(protocol::auth_plugin::kNativePassword);
  if (!co_await Authenticate(user_, response->auth_response, plugin, &sequence, scramble_,
                             &secret_)) {
    co_return false;
  }
  if (!co_await AttachBackend(response->database, sequence)) co_return false;

  if (!co_await SendLoginOk(sequence)) co_return false;
  if (in_->empty()) buffers_.Give(std::move(in_));
  co_return true;
}

net::Awaitable<bool> ClientSession::Authenticate(const std::string& user,
                                                 const std::string& first_token,
                                                 const std::string& plugin, std::uint8_t* sequence,
                                                 const auth::Scramble& scramble,
                                                 std::optional<auth::PasswordSecret>* secret,
                                                 std::optional<ErrPacket>* rejection) {
  std::string token = first_token;
  std::string current_scramble(scramble.begin(), scramble.end());
  if (plugin != protocol::auth_plugin::kNativePassword) {
    // Ask the client to restart with mysql_native_password (and a fresh scramble).
    const auto fresh = auth::GenerateScramble();
    current_scramble.assign(fresh.begin(), fresh.end());
    protocol::AuthSwitchRequest request{
        .plugin_name = std::string(protocol::auth_plugin::kNativePassword),
        .plugin_data = current_scramble + std::string(1, '\0')};
    const Bytes request_bytes = protocol::Encode(request);
    if (!co_await SendToClient(request_bytes, *sequence)) co_return false;
    if (!in_) in_ = buffers_.Take();
    auto reply = co_await net::ReadPacket(client_, *in_, kLoginPacketLimit);
    if (!reply.ok()) co_return false;
    *sequence = static_cast<std::uint8_t>(reply.packet.last_sequence_id + 1);
    token.assign(reply.packet.payload.begin(), reply.packet.payload.end());
  }
  const auth::NativePasswordCredential* credential = context_.FindUser(user);
  // An unknown user takes the same path as a wrong password (the decoy never matches).
  std::optional<auth::PasswordSecret> verified =
      (credential != nullptr ? *credential : context_.decoy_credential())
          .Verify(protocol::AsBytes(token), protocol::AsBytes(current_scramble));
  if (credential == nullptr) verified.reset();
  if (!verified) {
    static LogRateLimit denials;
    if (auto note = denials.Admit(); note.write) {
      Log(LogLevel::kInfo, id_, "access denied for user {} from {}{}{}", LogQuoted(user),
          peer_host_, credential == nullptr ? " (unknown user)" : "", note.suffix);
    }
    const ErrPacket error_packet = protocol::AccessDeniedError(user, peer_host_, !token.empty());
    if (rejection != nullptr) {
      *rejection = error_packet;
    } else {
      co_await SendError(error_packet, *sequence);
    }
    co_return false;
  }
  *secret = std::move(verified);
  co_return true;
}

net::Awaitable<std::optional<ErrPacket>> ClientSession::CheckOut() {
  pool::PoolKey key{.user = user_,
                    .capabilities = client_caps_ & pool::key_capability::kMask,
                    .collation = collation_};
  auto checkout = co_await context_.pools().Acquire(client_.get_executor(), key, *secret_, id_);
  if (!checkout.connection) {
    ErrPacket error;
    if (checkout.failure == pool::CheckoutFailure::kPoolFull) {
      error = MakeErrPacket(server_error::kConCountError,
                            "Too many connections: longlink: " + checkout.error);
    } else if (checkout.server_error) {
      error = protocol::WithSqlState(*checkout.server_error);
    } else {
      error = BackendUnavailable(checkout.error);
    }
    Log(LogLevel::kWarning, id_, "no backend for {}: {}", LogQuoted(user_), checkout.error);
    co_return error;
  }
  backend_ = std::move(checkout.connection);
  ++checkouts_;
  co_return std::nullopt;
}

net::Awaitable<bool> ClientSession::AttachBackend(const std::string& schema,
                                                  std::uint8_t sequence) {
  state_.Reset();
  lost_.reset();
  if (auto refused = co_await CheckOut()) {
    co_await SendError(*refused, sequence);
    co_return false;
  }
  if (!context_.server_identity_known()) context_.LearnServerIdentity(backend_->state().server);

  if (!schema.empty() && backend_->state().schema != schema) {
    std::optional<ErrPacket> refused;
    auto done = co_await backend_->InitDb(schema, &refused);
    if (!done.ok()) {
      context_.pools().Discard(std::move(backend_));
      {
        const ErrPacket error_packet =
            BackendUnavailable("backend lost while selecting the schema: " + done.error().message);
        co_await SendError(error_packet, sequence);
      };
      co_return false;
    }
    if (refused) {
      co_await SendError(*refused, sequence);
      co_return false;  // Run() returns the backend to the pool.
    }
  } else if (schema.empty() && !backend_->state().schema.empty()) {
    auto done = co_await backend_->ChangeUser(*secret_, backend_->state().key.collation);
    if (!done.ok()) {
      context_.pools().Discard(std::move(backend_));
      {
        const ErrPacket error_packet =
            BackendUnavailable("cannot clear the schema: " + done.error().message);
        co_await SendError(error_packet, sequence);
      };
      co_return false;
    }
  }
  co_return true;
}

net::Awaitable<bool> ClientSession::FillClient(std::size_t count) {
  if (!in_) in_ = buffers_.Take();
  if (in_->size() >= count) co_return true;
  in_->Reserve(count);
  while (in_->size() < count) {
    auto room = in_->Room();
    const PartialRead partial(*this);
    auto [error, n] =
        co_await client_.async_read_some(asio::buffer(room.data(), room.size()), net::kNoThrow);
    if (error || n == 0) co_return false;
    in_->Commit(n);
  }
  co_return true;
}

void ClientSession::OnSweep(pool::Clock::time_point now) {
  if (reading_since_ != pool::Clock::time_point{} &&
      now - reading_since_ >= context_.config().proxy.net_read_timeout) {
    static LogRateLimit stalled;
    if (auto note = stalled.Admit(now); note.write) {
      Log(LogLevel::kInfo, id_,
          "closing client {}: it stopped in the middle of a packet for {} ms "
          "(proxy.net_read_timeout){}",
          peer_host_, context_.config().proxy.net_read_timeout.count(), note.suffix);
    }
    reading_since_ = {};
    std::error_code ignored;
    client_.shutdown(net::Socket::shutdown_both, ignored);  // The pending read sees the end.
    return;
  }
  if (!idle_waiting_ || !backend_ || maintenance_due_) return;
  const pool::BackendState& state = backend_->state();
  if (now - state.last_alive_at >= context_.pools().KeepaliveInterval(state)) {
    WakeForMaintenance();
    return;
  }
  if (!backend_watched_ &&
      now - std::max(state.last_alive_at, state.quiet_at) >= WorkerSessions::kWatchAfter) {
    backend_watched_ = sessions_.Watch(id_, backend_->stream());
    // Without the watched set (epoll refused), a poll on each pass.
    if (!backend_watched_ && backend_->PeerClosedOrSpoke()) WakeForMaintenance();
  }
}

void ClientSession::OnBackendReadable() {
  StopWatchingBackend();
  if (idle_waiting_ && backend_ && !maintenance_due_) WakeForMaintenance();
}

void ClientSession::StopWatchingBackend() {
  if (!backend_watched_) return;
  sessions_.Unwatch(backend_->stream());
  backend_watched_ = false;
}

void ClientSession::WakeForMaintenance() {
  maintenance_due_ = true;
  std::error_code ignored;
  client_.cancel(ignored);  // Ends Run's idle wait; it runs MaintainIdleBackend.
}

net::Awaitable<void> ClientSession::MaintainIdleBackend() {
  if (backend_->PeerClosedOrSpoke()) {
    LoseBackend(pool::IdleSocketNews(backend_->stream()));
    co_return;
  }
  auto alive = co_await backend_->Ping(context_.config().backend.connect_timeout);
  if (!alive.ok()) LoseBackend("keepalive ping failed: " + alive.error().message);
}

void ClientSession::LoseBackend(const std::string& why) {
  const std::uint16_t status = backend_->state().status_flags;
  lost_ = std::make_unique<LostBackend>(LostBackend{
      .clean = state_.clean(status),
      .schema = backend_->state().schema,
      .reason = std::string(state_.dirty_reason(status)),
  });
  Log(LogLevel::kInfo, id_,
      "backend connection {} lost while the client was idle: {}; session state {}{}",
      backend_->state().thread_id, why, lost_->reason,
      lost_->clean ? ": a fresh connection takes over at the next command"
                   : ": the next command gets ERR 1927");
  context_.pools().Discard(std::move(backend_));
}

net::Awaitable<std::optional<ErrPacket>> ClientSession::Reattach(bool reads_previous, bool* fatal) {
  *fatal = true;
  if (!lost_->clean || reads_previous) {
    const std::string why = lost_->clean
                                ? std::string("the command reads the previous statement's results")
                                : "its session state (" + lost_->reason + ") is gone";
    co_return MakeErrPacket(server_error::kConnectionKilled,
                            "Connection was killed: longlink lost the backend connection while "
                            "the client was idle, and " +
                                why);
  }
  *fatal = false;
  if (auto refused = co_await CheckOut()) co_return refused;
  std::string failed;
  if (!lost_->schema.empty()) {
    std::optional<ErrPacket> refused;
    auto done = co_await backend_->InitDb(lost_->schema, &refused);
    if (!done.ok()) failed = done.error().message;
    if (refused) failed = "schema " + LogQuoted(lost_->schema) + ": " + refused->message;
  }
  for (const std::string& statement : state_.replay()) {
    if (!failed.empty()) break;
    auto done = co_await backend_->Execute(statement);
    if (!done.ok()) failed = LogQuoted(statement) + ": " + done.error().message;
  }
  if (!failed.empty()) {
    Log(LogLevel::kWarning, id_, "cannot restore the session on a fresh backend: {}", failed);
    context_.pools().Discard(std::move(backend_));
    *fatal = true;
    co_return MakeErrPacket(server_error::kConnectionKilled,
                            "Connection was killed: longlink lost the backend connection while "
                            "the client was idle and could not restore the session: " +
                                failed);
  }
  Log(LogLevel::kInfo, id_, "continuing on backend connection {} (schema {}, {} SET replayed)",
      backend_->state().thread_id, LogQuoted(lost_->schema), state_.replay().size());
  lost_.reset();
  co_return std::nullopt;
}

net::Awaitable<bool> ClientSession::DropClientPacket() {
  const PartialRead partial(*this);
  auto read = co_await net::ReadPacket(client_, *in_, MaxClientPacket());
  co_return read.ok();
}

net::Awaitable<bool> ClientSession::ServeCommand() {
  if (!co_await FillClient(protocol::kPacketHeaderSize)) co_return false;
  const auto header = protocol::DecodePacketHeader(in_->data());
  if (header->sequence_id != 0) {
    Log(LogLevel::kInfo, id_, "closing: command packet with sequence id {}", header->sequence_id);
    {
      const ErrPacket error_packet =
          MakeErrPacket(server_error::kNetPacketsOutOfOrder, "Got packets out of order");
      co_await SendError(error_packet, static_cast<std::uint8_t>(header->sequence_id + 1));
    };
    co_return false;
  }
  if (header->payload_length == 0) {
    // The server reads an empty command as COM_SLEEP, answers "Unknown command" and goes on.
    in_->Consume(protocol::kPacketHeaderSize);
    const ErrPacket error_packet = MakeErrPacket(server_error::kUnknownComError, "Unknown command");
    co_return co_await SendError(error_packet, 1);
  }
  if (!co_await FillClient(protocol::kPacketHeaderSize + 1)) co_return false;
  const auto command = static_cast<Command>(in_->data()[protocol::kPacketHeaderSize]);
  // A backend that died while the client was idle is replaced before the command goes out.
  // Right after a reply there is no need to ask (the watched set and the relay cover that
  // gap).
  if (backend_ && command != Command::kQuit &&
      pool::Clock::now() - std::max(backend_->state().last_alive_at, backend_->state().quiet_at) >=
          kIdleCheckAfter &&
      backend_->PeerClosedOrSpoke()) {
    LoseBackend(pool::IdleSocketNews(backend_->stream()));
  }

  Outcome outcome = Outcome::kOk;
  switch (command) {
    case Command::kQuit:
      co_return false;
    case Command::kChangeUser:
      outcome = co_await HandleChangeUser();
      break;
    default:
      outcome = co_await Relay(command);
      break;
  }
  switch (outcome) {
    case Outcome::kOk:
      break;
    case Outcome::kClientGone:
    case Outcome::kClientError:
      co_return false;
    case Outcome::kBackendGone:
    case Outcome::kBackendError:
      if (backend_) context_.pools().Discard(std::move(backend_));
      co_return false;
  }
  co_return backend_ || lost_;
}

net::Awaitable<ClientSession::Outcome> ClientSession::Relay(Command command) {
  const auto shape = protocol::ResponseShapeOf(command);
  if (!shape) {
    // Replication streams: not through a pool. Drop the packet, answer ERR.
    if (!co_await DropClientPacket()) co_return Outcome::kClientGone;
    {
      const ErrPacket error_packet = MakeErrPacket(
          server_error::kUnknownComError, "Unknown command: longlink does not relay replication");
      co_await SendError(error_packet, 1);
    };
    co_return Outcome::kOk;
  }
  bool reads_previous = false;
  const bool text_command = command == Command::kQuery || command == Command::kStmtPrepare;
  const auto header = *protocol::DecodePacketHeader(in_->data());
  if (text_command && header.payload_length <= kScanLimit) {
    const std::size_t size = protocol::kPacketHeaderSize + header.payload_length;
    if (!co_await FillClient(size)) co_return Outcome::kClientGone;
    const auto text = protocol::AsChars(
        in_->data().subspan(protocol::kPacketHeaderSize + 1, header.payload_length - 1));
    const StatementScan scan = ScanStatement(text);
    if (scan.kill && command == Command::kStmtPrepare) {
      // A prepared KILL would run with whatever thread id it is given: not through a pool.
      in_->Consume(size);
      const ErrPacket error_packet =
          MakeErrPacket(server_error::kKillDenied,
                        "longlink: KILL cannot be prepared through the proxy; send it as a query");
      if (!co_await SendError(error_packet, 1)) co_return Outcome::kClientGone;
      co_return Outcome::kOk;
    }
    if (scan.kill) {
      std::optional<KillStatement> kill = ParseKillStatement(text);
      if (scan.multiple || !kill) kill = KillStatement{};  // Not relayed (kOther).
      if (kill->target != KillStatement::Target::kUser) {
        const std::string statement(text);
        in_->Consume(size);
        co_return co_await HandleKill(*kill, statement);
      }
    }
    if (command == Command::kQuery) {
      reads_previous = scan.reads_previous;
      state_.OnQuery(text, scan);
    } else {
      state_.OnCommand(command);
    }
  } else if (command == Command::kQuery) {
    state_.OnUnscannedQuery();
  } else {
    state_.OnCommand(command);
  }
  if (!backend_) {
    bool fatal = false;
    if (auto refused = co_await Reattach(reads_previous, &fatal)) {
      if (fatal) {
        co_await SendError(*refused, 1);
        co_return Outcome::kClientError;
      }
      // The command did not run; the client may try again (the state is clean).
      if (!co_await DropClientPacket()) co_return Outcome::kClientGone;
      if (!co_await SendError(*refused, 1)) co_return Outcome::kClientGone;
      co_return Outcome::kOk;
    }
  }
  bool cursor_requested = false;
  if (command == Command::kStmtExecute) {
    // Whether the execute asks for a cursor decides where its response ends.
    constexpr std::size_t kFlagsEnd = 6;  // Command, statement id, flags.
    const std::size_t have = std::min<std::size_t>(header.payload_length, kFlagsEnd);
    if (!co_await FillClient(protocol::kPacketHeaderSize + have)) co_return Outcome::kClientGone;
    cursor_requested =
        protocol::StmtExecuteRequestsCursor(in_->data().subspan(protocol::kPacketHeaderSize, have));
  }
  std::uint8_t sequence = 0;
  bool empty = false;
  const Outcome forwarded = co_await ForwardClientPacket(&sequence, &empty);
  if (forwarded != Outcome::kOk) co_return forwarded;
  if (command == Command::kSetOption) backend_options_changed_ = true;
  const Outcome relayed = co_await RelayResponse(*shape, cursor_requested);
  if (relayed == Outcome::kOk && last_reply_error_ &&
      protocol::ServerClosesAfter(*last_reply_error_)) {
    // The server ends the connection after this error (ER_NET_PACKET_TOO_LARGE, a KILL, ...):
    // so does the proxy, so that the client's next command fails as it would direct (2006)
    // instead of meeting a dead backend.
    Log(LogLevel::kInfo, id_, "closing: the server ended backend connection {} with error {}",
        backend_->state().thread_id, *last_reply_error_);
    co_return Outcome::kBackendGone;
  }
  if (relayed == Outcome::kOk && command == Command::kResetConnection && !last_reply_error_) {
    // The reset turned the state tracker off and cleared the session.
    auto tracking = co_await backend_->TrackStateChanges();
    if (!tracking.ok()) co_return Outcome::kBackendGone;
    state_.Reset();
  }
  co_return relayed;
}

SessionView ClientSession::View() const {
  return SessionView{.user = user_,
                     .backend_thread = backend_ ? backend_->state().thread_id : 0,
                     .backend_generation = checkouts_,
                     .busy = !idle_waiting_};
}

void ClientSession::Terminate(std::uint64_t by) {
  Log(LogLevel::kInfo, id_, "closing the client connection: KILL CONNECTION from session {}", by);
  std::error_code ignored;
  client_.shutdown(net::Socket::shutdown_both, ignored);  // Pending reads see the end.
}

net::Awaitable<ClientSession::Outcome> ClientSession::HandleKill(KillStatement kill,
                                                                 std::string text) {
  using Target = KillStatement::Target;
  if (kill.target != Target::kThread) {
    Log(LogLevel::kInfo, id_, "refused {}: not a KILL of one session id", LogQuoted(text));
    const ErrPacket error_packet = MakeErrPacket(
        server_error::kKillDenied,
        kill.target == Target::kQueryId
            ? "longlink: KILL QUERY ID is not relayed through the pool (the query may be another "
              "client's); use KILL QUERY <session id>, or run it on the server directly"
            : "longlink: through the proxy, KILL takes one session id as a plain number (the id "
              "the client's connection got, mysql_thread_id()), as a statement of its own");
    if (!co_await SendError(error_packet, 1)) co_return Outcome::kClientGone;
    co_return Outcome::kOk;
  }
  Log(LogLevel::kInfo, id_, "{} from the client", LogQuoted(text));
  if (kill.id == id_) {  // The session kills itself, as on the server.
    if (kill.query_only) {
      const ErrPacket error_packet =
          MakeErrPacket(server_error::kQueryInterrupted, "Query execution was interrupted");
      if (!co_await SendError(error_packet, 1)) co_return Outcome::kClientGone;
      co_return Outcome::kOk;
    }
    const ErrPacket error_packet =
        MakeErrPacket(server_error::kConnectionKilled, "Connection was killed");
    co_await SendError(error_packet, 1);
    co_return Outcome::kClientError;
  }
  auto find = WorkerSessions::Find(context_.workers(), kill.id);
  const auto found = co_await std::move(find);
  if (!found) {
    const ErrPacket error_packet =
        MakeErrPacket(server_error::kNoSuchThread, "Unknown thread id: " + std::to_string(kill.id));
    if (!co_await SendError(error_packet, 1)) co_return Outcome::kClientGone;
    co_return Outcome::kOk;
  }
  if (found->second.user != user_) {
    const ErrPacket error_packet = MakeErrPacket(
        server_error::kKillDenied, "You are not owner of thread " + std::to_string(kill.id));
    if (!co_await SendError(error_packet, 1)) co_return Outcome::kClientGone;
    co_return Outcome::kOk;
  }
  if (found->second.busy && found->second.backend_thread != 0) {
    if (!backend_) {
      bool fatal = false;
      if (auto refused = co_await Reattach(/*reads_previous=*/false, &fatal)) {
        co_await SendError(*refused, 1);
        co_return fatal ? Outcome::kClientError : Outcome::kOk;
      }
    }
    if (auto refused = co_await KillRunningQuery(kill, kill.id, found->second)) {
      if (!co_await SendError(*refused, 1)) co_return Outcome::kClientGone;
      co_return backend_ ? Outcome::kOk : Outcome::kBackendGone;
    }
  }
  if (!kill.query_only) co_await found->first->Terminate(kill.id, id_);
  protocol::OkPacket ok;
  ok.status_flags =
      backend_ ? backend_->state().status_flags & kNotStateChanged : protocol::status::kAutocommit;
  const Bytes ok_bytes = protocol::Encode(ok, client_caps_);
  if (!co_await SendToClient(ok_bytes, 1)) co_return Outcome::kClientGone;
  co_return Outcome::kOk;
}

net::Awaitable<std::optional<ErrPacket>> ClientSession::KillRunningQuery(KillStatement kill,
                                                                         std::uint64_t target_id,
                                                                         SessionView target) {
  const std::string lookup =
      "SELECT COMMAND, QUERY_ID FROM information_schema.PROCESSLIST WHERE ID = " +
      std::to_string(target.backend_thread);
  auto row = co_await backend_->QueryRow(lookup);
  if (!row.ok()) {
    co_return BackendUnavailable("cannot look up session " + std::to_string(target_id) +
                                 "'s statement: " + row.error().message);
  }
  // No row: the backend is gone. "Sleep": nothing runs (the command ended meanwhile).
  if (row->size() < 2 || !(*row)[0] || !(*row)[1] || *(*row)[0] == "Sleep") co_return std::nullopt;
  const std::string query_id = *(*row)[1];
  // Still the same backend, still busy: then that query id is the target's statement (query
  // ids are never reused), whatever happens next.
  auto find_again = WorkerSessions::Find(context_.workers(), target_id);
  const auto again = co_await std::move(find_again);
  if (!again || again->second.backend_thread != target.backend_thread ||
      again->second.backend_generation != target.backend_generation || !again->second.busy) {
    co_return std::nullopt;
  }
  std::string statement = "KILL ";
  if (kill.strength == KillStatement::Strength::kHard) statement += "HARD ";
  if (kill.strength == KillStatement::Strength::kSoft) statement += "SOFT ";
  statement += "QUERY ID " + query_id;
  std::optional<ErrPacket> refused;
  auto execute = backend_->Execute(statement, &refused);
  auto done = co_await std::move(execute);
  if (!done.ok()) {
    Log(LogLevel::kWarning, id_, "'{}' failed: {}", statement, done.error().message);
    context_.pools().Discard(std::move(backend_));
    co_return MakeErrPacket(server_error::kConnectionKilled,
                            "Connection was killed: longlink lost the backend connection while "
                            "running the KILL");
  }
  if (refused && refused->code != server_error::kNoSuchQuery.code) co_return refused;
  Log(LogLevel::kInfo, id_, "killed session {}'s statement (query id {} on backend connection {})",
      target_id, query_id, target.backend_thread);
  co_return std::nullopt;
}

net::Awaitable<ClientSession::Outcome> ClientSession::ForwardClientPacket(std::uint8_t* sequence,
                                                                          bool* empty) {
  std::size_t total = 0;
  bool first = true;
  for (;;) {
    if (!co_await FillClient(protocol::kPacketHeaderSize)) co_return Outcome::kClientGone;
    const auto header = *protocol::DecodePacketHeader(in_->data());
    if (header.sequence_id != *sequence) {
      // Bytes of this packet may already be with the backend: its state is unknown.
      {
        const ErrPacket error_packet =
            MakeErrPacket(server_error::kNetPacketsOutOfOrder, "Got packets out of order");
        co_await SendError(error_packet, static_cast<std::uint8_t>(header.sequence_id + 1));
      };
      co_return first ? Outcome::kClientError : Outcome::kBackendError;
    }
    *sequence = static_cast<std::uint8_t>(*sequence + 1);
    total += header.payload_length;
    if (total > MaxClientPacket()) {
      Log(LogLevel::kInfo, id_, "closing: packet larger than max_allowed_packet ({} bytes)",
          MaxClientPacket());
      {
        const ErrPacket error_packet =
            MakeErrPacket(server_error::kNetPacketTooLarge,
                          "Got a packet bigger than 'max_allowed_packet' bytes");
        co_await SendError(error_packet, *sequence);
      };
      co_return first ? Outcome::kClientError : Outcome::kBackendError;
    }
    if (first) *empty = header.payload_length == 0;
    first = false;
    std::size_t remaining = protocol::kPacketHeaderSize + header.payload_length;
    while (remaining > 0) {
      if (in_->empty()) {
        auto room = in_->Room();
        const PartialRead partial(*this);
        auto [error, n] =
            co_await client_.async_read_some(asio::buffer(room.data(), room.size()), net::kNoThrow);
        if (error || n == 0) co_return Outcome::kBackendError;  // Half a packet sent.
        in_->Commit(n);
      }
      const std::size_t n = std::min(remaining, in_->size());
      auto [error, written] = co_await asio::async_write(
          backend_->stream(), asio::buffer(in_->data().data(), n), net::kNoThrow);
      if (error) co_return Outcome::kBackendGone;
      in_->Consume(n);
      remaining -= n;
    }
    if (header.payload_length < protocol::kMaxChunkPayload) co_return Outcome::kOk;
  }
}

std::optional<Bytes> ClientSession::AdaptOk(ByteView payload, std::uint8_t sequence) {
  auto ok = protocol::Decode<protocol::OkPacket>(payload, backend_->state().capabilities);
  if (!ok.ok()) return std::nullopt;
  state_.OnOk(*ok);
  if (!ok->session_state.empty()) {
    auto changes = protocol::DecodeSessionState(protocol::AsBytes(ok->session_state));
    if (changes.ok()) {
      for (const auto& change : *changes) {
        if (const auto* schema = std::get_if<protocol::SchemaChange>(&change)) {
          backend_->state().schema = schema->schema;
        }
      }
    }
  }
  if (client_caps_ & cap::kSessionTrack) return std::nullopt;
  if (!(ok->status_flags & protocol::status::kSessionStateChanged) && ok->session_state.empty()) {
    return std::nullopt;
  }
  ok->status_flags &= kNotStateChanged;
  ok->session_state.clear();
  return protocol::Frame(protocol::Encode(*ok, client_caps_), sequence);
}

net::Awaitable<ClientSession::Outcome> ClientSession::RelayResponse(protocol::ResponseShape shape,
                                                                    bool cursor_requested) {
  if (shape == protocol::ResponseShape::kNone) co_return Outcome::kOk;
  if (!out_) out_ = buffers_.Take();
  protocol::ResponseTracker tracker(shape, backend_->state().capabilities, cursor_requested);
  bool continuation = false;
  bool sent_any = false;
  std::uint8_t last_sequence = 0;
  std::vector<asio::const_buffer> pieces;
  std::vector<Bytes> replacements;

  while (!tracker.complete()) {
    // Relay every complete chunk buffered so far.
    const ByteView data = out_->data();
    std::size_t pos = 0;
    std::size_t run_start = 0;
    pieces.clear();
    replacements.clear();      // Moving a Bytes keeps its data: pieces stay valid on growth.
    bool client_turn = false;  // The server waits for the client (LOCAL INFILE).
    while (!tracker.complete() && !client_turn) {
      auto chunk = protocol::PeekChunk(data.subspan(pos));
      if (!chunk) break;
      last_sequence = chunk->header.sequence_id;
      if (!continuation) {
        auto kind = tracker.OnServerPacket(chunk->payload);
        if (!kind.ok()) {
          Log(LogLevel::kWarning, id_, "backend broke the protocol: {} (packet starts {})",
              kind.error().message, LogHexPrefix(chunk->payload, 64));
          if (!sent_any) {
            {
              const ErrPacket error_packet =
                  BackendUnavailable("the backend sent an invalid reply");
              co_await SendError(error_packet, 1);
            };
          }
          co_return Outcome::kBackendError;
        }
        if (*kind == protocol::ServerPacketKind::kOk ||
            *kind == protocol::ServerPacketKind::kOkAsEof) {
          if (auto replacement = AdaptOk(chunk->payload, chunk->header.sequence_id)) {
            if (pos > run_start) pieces.emplace_back(data.data() + run_start, pos - run_start);
            replacements.push_back(std::move(*replacement));
            pieces.emplace_back(replacements.back().data(), replacements.back().size());
            run_start = pos + chunk->size();
          }
        }
      }
      continuation = chunk->continues();
      pos += chunk->size();
      client_turn = !continuation && tracker.awaiting_client();
    }
    if (pos > run_start) pieces.emplace_back(data.data() + run_start, pos - run_start);
    if (!pieces.empty()) {
      auto [error, written] = co_await asio::async_write(client_, pieces, net::kNoThrow);
      if (error) co_return Outcome::kBackendError;  // The rest of the response is unread.
      sent_any = true;
    }
    out_->Consume(pos);
    if (tracker.complete()) break;

    if (client_turn) {
      // LOAD DATA LOCAL INFILE: the client sends the file, then an empty packet.
      std::uint8_t sequence = static_cast<std::uint8_t>(last_sequence + 1);
      for (;;) {
        bool empty = false;
        const Outcome forwarded = co_await ForwardClientPacket(&sequence, &empty);
        if (forwarded != Outcome::kOk) {
          // The server is in the middle of the LOAD: whatever went wrong on the client's side,
          // the backend's state is unknown (found by the session fuzzer: a misnumbered file
          // packet used to release it as clean, and the pool's reset met the LOAD).
          co_return forwarded == Outcome::kBackendGone ? forwarded : Outcome::kBackendError;
        }
        if (empty) break;
      }
      // The server's OK or ERR follows; the tracker clears awaiting_client when it comes.
    }

    // Need more bytes: make room for a whole chunk.
    if (auto header = protocol::DecodePacketHeader(out_->data())) {
      out_->Reserve(protocol::kPacketHeaderSize + header->payload_length);
    }
    auto room = out_->Room();
    auto [error, n] = co_await backend_->stream().async_read_some(
        asio::buffer(room.data(), room.size()), net::kNoThrow);
    if (error || n == 0) {
      Log(LogLevel::kWarning, id_, "backend connection {} lost during a command: {}",
          backend_->state().thread_id, net::ErrorText(error ? error : asio::error::eof));
      // Between packets the client can still read an ERR (in place of the next row); in the
      // middle of a split packet it can only see the close.
      if (!continuation) {
        const ErrPacket error_packet = MakeErrPacket(
            server_error::kConnectionKilled,
            "Connection was killed: longlink lost the backend connection during the command "
            "(it may or may not have run; it is not repeated)");
        co_await SendError(error_packet,
                           sent_any ? static_cast<std::uint8_t>(last_sequence + 1) : 1);
      }
      co_return Outcome::kBackendGone;
    }
    out_->Commit(n);
  }
  if (!out_->empty()) {
    Log(LogLevel::kWarning, id_, "backend sent {} bytes after the end of a reply", out_->size());
    co_return Outcome::kBackendError;
  }
  last_reply_error_.reset();
  if (tracker.ended_with_error()) {
    last_reply_error_ = tracker.error()->code;
  } else {
    backend_->state().status_flags = tracker.status_flags();
  }
  backend_->state().last_alive_at = pool::Clock::now();
  co_return Outcome::kOk;
}

net::Awaitable<ClientSession::Outcome> ClientSession::HandleChangeUser() {
  net::PacketRead read;
  {
    const PartialRead partial(*this);
    read = co_await net::ReadPacket(client_, *in_, kLoginPacketLimit);
  }
  if (!read.ok()) co_return Outcome::kClientGone;
  auto change = protocol::Decode<protocol::ChangeUser>(read.packet.payload, client_caps_);
  std::uint8_t sequence = static_cast<std::uint8_t>(read.packet.last_sequence_id + 1);
  if (!change.ok()) {
    {
      const ErrPacket error_packet = MakeErrPacket(server_error::kHandshakeError, "Bad handshake");
      co_await SendError(error_packet, sequence);
    };
    co_return Outcome::kClientError;
  }
  std::optional<auth::PasswordSecret> secret;
  std::optional<ErrPacket> rejection;
  if (failed_change_users_ >= kMaxFailedChangeUsers) {
    // As the server: after three failures it does not even try.
    rejection = MakeErrPacket(server_error::kUnknownComError, "Unknown command");
  } else {
    const std::string plugin = change->auth_plugin_name.empty()
                                   ? std::string(protocol::auth_plugin::kNativePassword)
                                   : change->auth_plugin_name;
    if (!co_await Authenticate(change->username, change->auth_response, plugin, &sequence,
                               scramble_, &secret, &rejection)) {
      if (!rejection) co_return Outcome::kClientGone;
    }
  }
  if (rejection) co_return co_await RefuseChangeUser(*rejection, sequence);
  // The old session ends: its backend goes back reset; the new user gets one of its own pool.
  if (backend_) co_await ReleaseBackend(/*clean=*/true);
  user_ = change->username;
  secret_ = std::move(secret);
  if (change->character_set != 0) collation_ = static_cast<std::uint8_t>(change->character_set);
  if (!co_await AttachBackend(change->database, sequence)) co_return Outcome::kClientError;
  if (!co_await SendLoginOk(sequence)) co_return Outcome::kClientGone;
  Log(LogLevel::kDebug, id_, "changed user to {}", LogQuoted(user_));
  co_return Outcome::kOk;
}

net::Awaitable<ClientSession::Outcome> ClientSession::RefuseChangeUser(ErrPacket error,
                                                                       std::uint8_t sequence) {
  // MariaDB has already reset the session when it checks the new account; when that fails it
  // keeps the old user, schema and handshake character set, and answers after a second (to
  // slow down guessing). A COM_RESET_CONNECTION leaves the backend in that state.
  ++failed_change_users_;
  state_.Reset();
  if (backend_) {
    auto reset = co_await backend_->Reset(context_.config().backend.connect_timeout);
    if (!reset.ok()) LoseBackend("reset after a failed COM_CHANGE_USER: " + reset.error().message);
  } else if (lost_) {
    lost_->clean = true;  // Nothing of the old session's state is left to lose.
    lost_->reason.clear();
  }
  static LogRateLimit refusals;
  if (auto note = refusals.Admit(); note.write) {
    Log(LogLevel::kInfo, id_, "COM_CHANGE_USER refused ({} failed in this session): {}{}",
        failed_change_users_, LogQuoted(error.message), note.suffix);
  }
  asio::steady_timer pause(client_.get_executor(), kFailedChangeUserDelay);
  co_await pause.async_wait(net::kNoThrow);
  if (!co_await SendError(error, sequence)) co_return Outcome::kClientGone;
  co_return Outcome::kOk;
}

net::Awaitable<void> ClientSession::ReleaseBackend(bool clean) {
  auto backend = std::move(backend_);
  if (!clean || backend_options_changed_) {
    context_.pools().Discard(std::move(backend));
    backend_options_changed_ = false;
    co_return;
  }
  co_await context_.pools().Release(std::move(backend), id_);
}

}  // namespace longlink::proxy
