#include "proxy/client_session.h"

#include <algorithm>
#include <asio/buffer.hpp>
#include <asio/co_spawn.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>
#include <atomic>
#include <cctype>
#include <charconv>
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
#include "proxy/client_login.h"
#include "proxy/proxy_errors.h"

namespace longlink::proxy {

namespace cap = protocol::capability;
using protocol::Bytes;
using protocol::ByteView;
using protocol::Command;
using protocol::ErrPacket;
using protocol::MakeErrPacket;
namespace server_error = protocol::server_error;

namespace {

// Queries up to this size are scanned for session state (SessionState); larger ones make the
// session dirty. One default buffer holds them.
constexpr std::size_t kScanLimit = 16 * 1024 - protocol::kPacketHeaderSize;
// How much of a statement's text its digest reads.
constexpr std::size_t kDigestInput = QueryDigests::kMaxShapeBytes;

// Used before the backend's max_allowed_packet is known and when it reports none.
constexpr std::size_t kDefaultMaxPacket = 16 * 1024 * 1024;

}  // namespace

ClientSession::ClientSession(ProxyContext& context, WorkerSessions& sessions,
                             net::BufferPool& buffers, net::Socket socket, std::uint64_t id,
                             std::string peer_host, bool admitted)
    : context_(context),
      sessions_(sessions),
      buffers_(buffers),
      client_(std::move(socket), buffers),
      id_(id),
      peer_host_(std::move(peer_host)),
      admitted_(admitted),
      backend_(context.pools(), id, context.config().backend.connect_timeout) {
  sweep_slot_ = sessions_.Add(id_, this);
}

ClientSession::~ClientSession() {
  if (backend_.held()) StopWatchingBackend();
  UpdatePoolStats(/*gone=*/true);
  sessions_.Remove(id_, sweep_slot_);
  if (counted_user_) context_.UserGone(*counted_user_);
  if (admitted_) context_.ClientGone();
}

std::size_t ClientSession::MaxClientPacket() const {
  if (context_.config().proxy.max_allowed_packet > 0) {
    return static_cast<std::size_t>(context_.config().proxy.max_allowed_packet);
  }
  if (backend_.held() && backend_->state().max_allowed_packet > 0) {
    return static_cast<std::size_t>(backend_->state().max_allowed_packet);
  }
  return kDefaultMaxPacket;
}

namespace {
std::atomic<void (*)(std::uint64_t)> internal_error_hook{nullptr};
}  // namespace

void ClientSession::Start(std::unique_ptr<ClientSession> session) {
  Spawn(std::move(session), Step::kLogIn);
}

void ClientSession::SetInternalErrorHook(void (*hook)(std::uint64_t session)) {
  internal_error_hook.store(hook);
}

void ClientSession::Spawn(std::unique_ptr<ClientSession> self, Step step) {
  ClientSession* const session = self.get();
  const std::uint64_t id = session->id_;
  asio::co_spawn(session->client_.executor(), session->Run(std::move(self), step),
                 [id](std::exception_ptr failure) {
                   if (!failure) return;
                   if (auto* hook = internal_error_hook.load()) hook(id);
                   try {
                     std::rethrow_exception(failure);
                   } catch (const std::exception& e) {
                     Log(LogLevel::kError, id, "session ended by an internal error: {}", e.what());
                   } catch (...) {
                     Log(LogLevel::kError, id, "session ended by an internal error");
                   }
                 });
}

net::Awaitable<void> ClientSession::Run(std::unique_ptr<ClientSession> self, Step step) {
  bool serving = step != Step::kEnd;
  if (step == Step::kLogIn) {
    serving = co_await LogIn();
    if (serving) {
      Log(LogLevel::kDebug, id_, "logged in as {} from {}", LogQuoted(user_), peer_host_);
    }
  }
  while (serving) {
    if (!client_.has_input()) {
      if (maintenance_due_) {
        maintenance_due_ = false;
        if (backend_.held()) co_await MaintainIdleBackend();
      }
      if (!client_.stream().is_open()) break;  // Aborted meanwhile (a lost pinned backend).
      WaitIdle(std::move(self));               // Its handler runs after this frame is gone.
      co_return;
    }
    serving = co_await ServeCommand();
  }
  co_await backend_.Release(/*clean=*/true, LeavesServerState());
  client_.Close();
}

void ClientSession::WaitIdle(std::unique_ptr<ClientSession> self) {
  // No buffers while idle. The wait is a read into the session's small buffer rather than a
  // readiness wait: Asio re-arms epoll for every readiness wait (one epoll_ctl per command),
  // not for a read; and a short command arrives whole with this one read.
  ClientSession& session = *self;
  session.client_.GiveBack();
  session.client_.stream().TrimBuffers();
  session.idle_waiting_ = true;
  session.client_.stream().async_read_some(
      asio::buffer(session.next_command_.data(), session.next_command_.size()),
      [self = std::move(self)](std::error_code error, std::size_t arrived) mutable {
        ClientSession& idle = *self;
        idle.OnIdleRead(std::move(self), error, arrived);
      });
}

void ClientSession::OnIdleRead(std::unique_ptr<ClientSession> self, std::error_code error,
                               std::size_t arrived) {
  idle_waiting_ = false;
  sessions_.SweepEveryPass(sweep_slot_);
  StopWatchingBackend();  // Before anything uses, hands on or closes the backend.
  if (arrived > 0) client_.Deliver(next_command_.data(), arrived);
  // Serve the next command; or, woken by the sweep, care for the backend and wait again; or
  // end: the client went away, or was shut down.
  const bool serve = arrived > 0 || (error == asio::error::operation_aborted && maintenance_due_);
  Spawn(std::move(self), serve ? Step::kServe : Step::kEnd);
}

bool ClientSession::LeavesServerState() const {
  return backend_.held() &&
         (!state_.movable(backend_->state().status_flags) || client_wait_timeout_.count() != 0);
}

pool::PoolKey ClientSession::Key() const {
  protocol::Capabilities capabilities = client_.capabilities() & pool::key_capability::kMask;
  if (expired_password_) {
    capabilities |= client_.capabilities() & protocol::capability::kCanHandleExpiredPasswords;
  }
  return pool::PoolKey{.user = user_,
                       .capabilities = capabilities,
                       .collation = collation_,
                       .expired_password = expired_password_,
                       .transaction_pooling = key_transaction_pooling_};
}

net::Awaitable<std::optional<ErrPacket>> ClientSession::Reattach(bool reads_previous, bool* fatal) {
  if (transaction_pooling() && !backend_.lost_pinned() && !reads_previous) {
    // Nothing was left on the lost connection that the session needs: any other will do.
    backend_.ForgetLoss();
    *fatal = false;
    co_return co_await CheckOut();
  }
  auto replace =
      backend_.Replace(client_.executor(), Key(), *secret_, state_, reads_previous, fatal);
  auto refused = co_await std::move(replace);
  if (backend_.held()) revealed_thread_ = false;  // Another thread id.
  co_return refused;
}

net::Awaitable<bool> ClientSession::ServeCommand() {
  if (!co_await client_.Fill(protocol::kPacketHeaderSize)) co_return false;
  // Under compression the server checks the frame ids, not the packet ids inside the frames
  // (docs/COMPRESSION.md): a compressed client's command is taken whatever its packet id, as
  // packet 0 (CommandRelay renumbers its further packets).
  if (client_.stream().compressed()) client_.in().mutable_data()[3] = 0;
  const auto header = protocol::DecodePacketHeader(client_.in().data());
  if (header->sequence_id != 0) {
    Log(LogLevel::kInfo, id_, "closing: command packet with sequence id {}", header->sequence_id);
    {
      const ErrPacket error_packet =
          MakeErrPacket(server_error::kNetPacketsOutOfOrder, "Got packets out of order");
      co_await client_.SendError(error_packet, static_cast<std::uint8_t>(header->sequence_id + 1));
    };
    co_return false;
  }
  if (header->payload_length == 0) {
    // The server reads an empty command as COM_SLEEP, answers "Unknown command" and goes on.
    client_.in().Consume(protocol::kPacketHeaderSize);
    const ErrPacket error_packet = MakeErrPacket(server_error::kUnknownComError, "Unknown command");
    co_return co_await client_.SendError(error_packet, 1);
  }
  if (!co_await client_.Fill(protocol::kPacketHeaderSize + 1)) co_return false;
  const auto command = static_cast<Command>(client_.in().data()[protocol::kPacketHeaderSize]);
  if (attach_due_ && command != Command::kQuit && command != Command::kChangeUser) {
    // Logged in without a backend: the first command brings one (its reset goes with the
    // command, CommandRelay::ResetFirst).
    bool fatal = false;
    auto attach = AttachBackend(state_.schema(), &fatal);
    if (auto refused = co_await std::move(attach)) {
      if (fatal) {
        co_await client_.SendError(*refused, 1);
        co_return false;
      }
      // The command did not run; the next one tries again.
      if (!co_await client_.DropPacket(MaxClientPacket())) co_return false;
      co_return co_await client_.SendError(*refused, 1);
    }
  }
  // A backend that died while the client was idle is replaced before the command goes out.
  // Right after a reply there is no need to ask (the watched set and the relay cover that
  // gap).
  if (backend_.held() && command != Command::kQuit &&
      !backend_->state().JustHeard(pool::Clock::now()) && backend_->PeerClosedOrSpoke()) {
    LoseIdleBackend();
    if (!backend_.lost()) co_return false;  // The client connection was reset.
  }

  const pool::Clock::time_point started = pool::Clock::now();
  const std::uint64_t errors_before = client_.errors_sent();
  last_reply_error_.reset();
  digest_text_.clear();
  last_rows_ = 0;
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
      backend_.Discard();
      co_return false;
  }
  CountCommand(command, started,
               last_reply_error_.has_value() || client_.errors_sent() != errors_before);
  idle_since_ = pool::Clock::now();
  if (transaction_pooling()) {
    if (backend_.held()) last_status_ = backend_->state().status_flags;
    ReleaseIfMovable();
    UpdatePoolStats();
    co_return true;
  }
  co_return backend_.held() || backend_.lost();
}

net::Awaitable<Outcome> ClientSession::Relay(Command command) {
  const auto shape = protocol::ResponseShapeOf(command);
  if (command == Command::kProcessInfo) processlist_seen_at_ = pool::Clock::now();
  if (!shape) {
    // Replication streams: not through a pool. Drop the packet, answer ERR.
    if (!co_await client_.DropPacket(MaxClientPacket())) co_return Outcome::kClientGone;
    {
      const ErrPacket error_packet = MakeErrPacket(
          server_error::kUnknownComError, "Unknown command: longlink does not relay replication");
      co_await client_.SendError(error_packet, 1);
    };
    co_return Outcome::kOk;
  }
  if (virtual_statements_ &&
      (command == Command::kStmtPrepare || command == Command::kStmtExecute ||
       command == Command::kStmtSendLongData || command == Command::kStmtClose ||
       command == Command::kStmtReset || command == Command::kStmtFetch ||
       command == Command::kStmtBulkExecute)) {
    co_return co_await RelayStatement(command);
  }
  if (transaction_pooling() && !backend_.held() && !backend_.lost()) {
    if (auto refused = co_await CheckOut()) {
      // The command did not run; the client may try again.
      if (!co_await client_.DropPacket(MaxClientPacket())) co_return Outcome::kClientGone;
      if (!co_await client_.SendError(*refused, 1)) co_return Outcome::kClientGone;
      co_return Outcome::kOk;
    }
  }
  bool reads_previous = false;
  CommandEffects effects;
  const bool text_command = command == Command::kQuery || command == Command::kStmtPrepare;
  const auto header = *protocol::DecodePacketHeader(client_.in().data());
  if (prepared_kills_ && (command == Command::kStmtExecute || command == Command::kStmtClose)) {
    auto handle = HandlePreparedKill(command, header.payload_length);
    if (const std::optional<Outcome> handled = co_await std::move(handle)) co_return *handled;
  }
  if (text_command && header.payload_length <= kScanLimit) {
    const std::size_t size = protocol::kPacketHeaderSize + header.payload_length;
    if (!co_await client_.Fill(size)) co_return Outcome::kClientGone;
    const auto text = protocol::AsChars(
        client_.in().data().subspan(protocol::kPacketHeaderSize + 1, header.payload_length - 1));
    if (command == Command::kQuery) NoteDigestText(text, /*truncated=*/false);
    const StatementScan scan = ScanStatement(text);
    if (scan.names_connection_id) {
      // The client learns its backend's thread id, which it may KILL later: that id must
      // never name another client's session, so the connection serves no other client.
      revealed_thread_ = true;
      backend_.MarkNotReusable();
    }
    if (scan.kill) {
      std::optional<KillStatement> kill = ParseKillStatement(text);
      if (scan.multiple || !kill) {
        // A KILL in a multi-statement query or an executable comment: not relayed.
        client_.in().Consume(size);
        co_return co_await RefuseKill(std::string(text));
      }
      if (kill->NamesThread() && command == Command::kStmtPrepare) {
        // The server prepares it (its answer is the client's); each execute is resolved as a
        // KILL in a query is (HandlePreparedKill).
        effects.prepared_kill = std::move(kill);
      } else if (kill->NamesThread()) {
        auto handle = HandleKill(std::move(*kill), std::string(text), size);
        if (const std::optional<Outcome> handled = co_await std::move(handle)) co_return *handled;
        // Not one of the proxy's: the server decides, on the statement as written.
      }
    }
    if (command == Command::kQuery && !scan.multiple &&
        (scan.first_keyword == "PREPARE" || scan.first_keyword == "EXECUTE" ||
         scan.first_keyword == "DEALLOCATE" || scan.first_keyword == "DROP")) {
      effects.sql_prepare = ParseSqlPrepareStatement(text);
      if (effects.sql_prepare) {
        auto handle = HandleSqlPrepare(&effects, std::string(text), size);
        if (const std::optional<Outcome> handled = co_await std::move(handle)) co_return *handled;
      }
    }
    if (scan.names_processlist) processlist_seen_at_ = pool::Clock::now();
    if (command == Command::kQuery) {
      reads_previous = scan.reads_previous;
      state_.OnQuery(text, scan);
      const bool set = scan.first_keyword == "SET";
      if (set && scan.names_wait_timeout && !scan.multiple) {
        effects.wait_timeout = FindSessionAssignment(text, "wait_timeout");
        effects.wait_timeout.value = {};  // Points into the command, about to be forwarded.
      }
      // The server keeps the profiling history until the connection ends (measured: neither
      // COM_RESET_CONNECTION nor COM_CHANGE_USER clears it): such a connection is not reused.
      if (set && scan.names_profiling) backend_.MarkNotReusable();
      effects.sets_state_tracking = set && scan.names_state_change_tracking;
      effects.ddl = IsDdlKeyword(scan.first_keyword) || scan.multiple;
    } else {
      state_.OnCommand(command);
    }
  } else if (command == Command::kQuery) {
    if (context_.query_digests().enabled()) {
      // The start of a large query is enough for its digest (its shape is cut there).
      const std::size_t have = std::min<std::size_t>(header.payload_length, kDigestInput + 1);
      if (!co_await client_.Fill(protocol::kPacketHeaderSize + have)) {
        co_return Outcome::kClientGone;
      }
      NoteDigestText(
          protocol::AsChars(client_.in().data().subspan(protocol::kPacketHeaderSize + 1, have - 1)),
          /*truncated=*/true);
    }
    state_.OnUnscannedQuery();
  } else {
    state_.OnCommand(command);
  }
  if (!backend_.held()) {
    bool fatal = false;
    if (auto refused = co_await Reattach(reads_previous, &fatal)) {
      if (fatal) {
        co_await client_.SendError(*refused, 1);
        co_return Outcome::kClientError;
      }
      // The command did not run; the client may try again (the state is clean).
      if (!co_await client_.DropPacket(MaxClientPacket())) co_return Outcome::kClientGone;
      if (!co_await client_.SendError(*refused, 1)) co_return Outcome::kClientGone;
      co_return Outcome::kOk;
    }
  }
  bool cursor_requested = false;
  if (command == Command::kStmtExecute) {
    // Whether the execute asks for a cursor decides where its response ends.
    constexpr std::size_t kFlagsEnd = 6;  // Command, statement id, flags.
    const std::size_t have = std::min<std::size_t>(header.payload_length, kFlagsEnd);
    if (!co_await client_.Fill(protocol::kPacketHeaderSize + have)) co_return Outcome::kClientGone;
    cursor_requested = protocol::StmtExecuteRequestsCursor(
        client_.in().data().subspan(protocol::kPacketHeaderSize, have));
  }
  std::uint8_t sequence = 0;
  bool empty = false;
  CommandRelay relay(client_, backend_.connection(), buffers_, state_, id_, MaxClientPacket());
  if (backend_.reset_due()) {
    relay.ResetFirst();
    backend_.ResetDone();
    backend_->state().statements.Clear();
  }
  if (transaction_pooling()) {
    PrepareRelay(relay, command, reads_previous);
    PrependStatementCloses(relay);
  } else if (!client_set_state_tracking_ && !effects.sets_state_tracking &&
             !backend_->state().global_tracking.state_change) {
    // A SET of the tracker is answered as the tracker it sets would answer: not hidden.
    relay.HideStateChangeTracking();
  }
  const Outcome forwarded = co_await relay.ForwardCommand(&sequence, &empty);
  if (forwarded != Outcome::kOk) co_return forwarded;
  if (command == Command::kSetOption) backend_.MarkNotReusable();
  const Outcome relayed = co_await relay.RelayResponse(*shape, cursor_requested);
  last_reply_error_ = relay.error_code();
  last_rows_ = relay.rows();
  if (relay.prepended_error()) {
    // The command ran on a session that is not quite the client's; the connection is not
    // handed to anyone else.
    Log(LogLevel::kWarning, id_, "the session state could not be restored before a command: {}",
        *relay.prepended_error());
    backend_.MarkNotReusable();
  }
  if (relayed == Outcome::kOk) {
    state_.OnReplyEnd(command, relay.warnings(), last_reply_error_.has_value());
  }
  if (relayed == Outcome::kOk && last_reply_error_ &&
      protocol::ServerClosesAfter(*last_reply_error_)) {
    // The server ends the connection after this error (ER_NET_PACKET_TOO_LARGE, a KILL, ...):
    // so does the proxy, so that the client's next command fails as it would direct (2006)
    // instead of meeting a dead backend.
    Log(LogLevel::kInfo, id_, "closing: the server ended backend connection {} with error {}",
        backend_->state().thread_id, *last_reply_error_);
    co_return Outcome::kBackendGone;
  }
  if (relayed != Outcome::kOk) co_return relayed;
  if (last_reply_error_) co_return Outcome::kOk;
  co_return co_await AfterCommand(command, relay.prepared(), std::move(effects));
}

net::Awaitable<Outcome> ClientSession::AfterCommand(Command command,
                                                    std::optional<CommandRelay::Prepared> prepared,
                                                    CommandEffects effects) {
  if (effects.ddl) context_.statement_shapes().Invalidate();
  if (command == Command::kResetConnection) {
    // The reset closed the connection's statements, turned the state tracker off and cleared
    // the session.
    backend_->state().statements.Clear();
    auto tracking = co_await backend_->TrackStateChanges();
    if (!tracking.ok()) co_return Outcome::kBackendGone;
    ForgetSessionState();
    state_.set_schema(backend_->state().schema);  // A reset keeps the schema.
    synced_ = true;
    started_at_ = backend_->state().reset_at;
  }
  if (effects.prepared_kill && prepared) {
    if (!prepared_kills_) prepared_kills_ = std::make_unique<PreparedKills>();
    (*prepared_kills_)[prepared->statement] =
        PreparedKill{.kill = std::move(*effects.prepared_kill), .parameters = prepared->parameters};
  }
  if (effects.sql_prepare && effects.sql_prepare->kind != SqlPrepareStatement::Kind::kExecute) {
    // A PREPARE replaces what the name held; DEALLOCATE ends it.
    if (effects.sql_prepared_kill) {
      if (!sql_prepared_kills_) sql_prepared_kills_ = std::make_unique<SqlPreparedKills>();
      (*sql_prepared_kills_)[effects.sql_prepare->name] = std::move(*effects.sql_prepared_kill);
    } else if (sql_prepared_kills_) {
      sql_prepared_kills_->erase(effects.sql_prepare->name);
    }
  }
  if (effects.sets_state_tracking) client_set_state_tracking_ = true;
  using Kind = SessionAssignment::Kind;
  switch (effects.wait_timeout.kind) {
    case Kind::kNone:
      break;
    case Kind::kNumber:  // The server's range: 1 s to a year.
      client_wait_timeout_ =
          std::chrono::seconds(std::clamp<std::int64_t>(effects.wait_timeout.number, 1, 31536000));
      break;
    case Kind::kDefault:  // The global: the pool's business.
      client_wait_timeout_ = std::chrono::seconds(0);
      break;
    case Kind::kOther:
      co_return co_await FollowWaitTimeout();
  }
  co_return Outcome::kOk;
}

void ClientSession::ForgetSessionState() {
  state_.Reset();
  if (backend_.held()) state_.set_tracking(backend_->state().global_tracking);
  client_wait_timeout_ = std::chrono::seconds(0);
  client_set_state_tracking_ = false;
  if (statements_) statements_->Clear();
  prepared_kills_.reset();
  sql_prepared_kills_.reset();
}

net::Awaitable<Outcome> ClientSession::FollowWaitTimeout() {
  const std::string select = "SELECT @@session.wait_timeout";
  auto query = backend_->QueryRow(select);
  auto row = co_await std::move(query);
  if (!row.ok()) {
    Log(LogLevel::kWarning, id_, "backend connection {} lost reading @@wait_timeout: {}",
        backend_.thread_id(), row.error().message);
    co_return Outcome::kBackendGone;
  }
  std::uint64_t seconds = 0;
  if (row->size() == 1 && (*row)[0]) {
    const std::string& text = *(*row)[0];
    std::from_chars(text.data(), text.data() + text.size(), seconds);
  }
  client_wait_timeout_ = seconds != backend_->state().wait_timeout
                             ? std::chrono::seconds(static_cast<std::int64_t>(seconds))
                             : std::chrono::seconds(0);
  co_return Outcome::kOk;
}

SessionView ClientSession::View() const {
  return SessionView{.user = user_,
                     .backend_thread = backend_.thread_id(),
                     .backend_generation = backend_.generation(),
                     .busy = !idle_waiting_,
                     .leased_at = backend_.acquired_at(),
                     .revealed_thread = revealed_thread_};
}

ClientInfo ClientSession::Describe() {
  ClientInfo info{.id = id_,
                  .user = user_,
                  .schema = state_.schema(),
                  .transaction_pooling = key_transaction_pooling_,
                  .connected_at = connected_at_,
                  .idle_since = idle_since_,
                  .backend_thread = backend_.thread_id()};
  if (client_.stream().unix_socket()) {
    info.address = "unix";
  } else {
    std::error_code error;
    const auto endpoint = client_.socket().remote_endpoint(error);
    info.address = error ? peer_host_ : net::EndpointText(endpoint);
  }
  if (!user_.empty()) info.pool = Key().ToString();
  if (user_.empty() || !secret_) {
    info.state = "login";
  } else if (waiting_) {
    info.state = "waiting";
  } else {
    info.state = idle_waiting_ ? "idle" : "active";
  }
  if (backend_.held()) {
    if (const PinReason pin = SessionPin(); pin != PinReason::kNone) {
      info.pinned = std::string(PinReasonName(pin));
    }
  }
  info.tls = client_.stream().tls() != nullptr;
  info.compressed = client_.stream().compressed();
  return info;
}

void ClientSession::Terminate(std::uint64_t by) {
  Log(LogLevel::kInfo, id_, "closing the client connection: KILL CONNECTION from session {}", by);
  client_.Shutdown();  // Pending reads see the end.
}

}  // namespace longlink::proxy
