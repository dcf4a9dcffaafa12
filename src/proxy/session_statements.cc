// ClientSession's protocol prepared statements in transaction pooling (docs/PROXY.md,
// "Prepared statements in transaction pooling"): the client's statement ids are the proxy's
// (ClientStatements), each connection keeps the server statements it has (StatementCache), and
// a statement missing where an execute runs is prepared there first, in the same write, the
// execute naming it as MariaDB's "statement prepared last" (id 0xFFFFFFFF). COM_STMT_PREPARE
// itself, and a prepare under a statement's own schema and parse variables: session_prepare.cc.
#include <algorithm>
#include <string>

#include "common/log.h"
#include "common/log_text.h"
#include "protocol/command.h"
#include "protocol/frame.h"
#include "protocol/stmt_execute.h"
#include "proxy/client_session.h"
#include "proxy/proxy_errors.h"

namespace longlink::proxy {

using protocol::Bytes;
using protocol::ByteView;
using protocol::Command;
using protocol::ErrPacket;
using protocol::MakeErrPacket;
namespace server_error = protocol::server_error;

namespace {

// The name the server gives the command in "Unknown prepared statement handler (N) given to
// ...".
std::string_view HandlerName(Command command) {
  switch (command) {
    case Command::kStmtFetch:
      return "mysqld_stmt_fetch";
    case Command::kStmtReset:
      return "mysqld_stmt_reset";
    default:
      return "mysqld_stmt_execute";
  }
}

// Errors that say an object a statement names is gone or changed: its kept PREPARE reply may
// describe what is no longer there.
bool ObjectGone(std::uint16_t code) {
  switch (code) {
    case 1049:  // ER_BAD_DB_ERROR
    case 1054:  // ER_BAD_FIELD_ERROR
    case 1109:  // ER_UNKNOWN_TABLE
    case 1142:  // ER_TABLEACCESS_DENIED_ERROR
    case 1143:  // ER_COLUMNACCESS_DENIED_ERROR
    case 1146:  // ER_NO_SUCH_TABLE
    case 1305:  // ER_SP_DOES_NOT_EXIST
    case 1356:  // ER_VIEW_INVALID
    case 1615:  // ER_NEED_REPREPARE
      return true;
    default:
      return false;
  }
}

Bytes Framed(ByteView payload) { return protocol::Frame(payload, 0); }

std::uint8_t ChunksOf(std::size_t payload_size) {
  return static_cast<std::uint8_t>(protocol::ChunkCount(payload_size));
}

}  // namespace

bool ClientSession::VirtualStatements() const {
  if (!transaction_pooling()) return false;
  // MariaDB's "statement prepared last" id lets a statement be prepared and executed in one
  // write; a server without it (MySQL) keeps the session on the connection it prepared on.
  const pool::ServerIdentity server = context_.ServerIdentity();
  return context_.server_identity_known() &&
         (server.capabilities & protocol::capability::kClientMysql) == 0;
}

std::size_t ClientSession::StatementCapacity() const {
  std::size_t capacity = context_.config().pool.max_prepared_statements;
  const std::uint32_t server_limit = backend_->state().max_prepared_stmt_count;
  if (server_limit > 0) {
    // The caches of all backend connections together stay within the server's limit.
    const std::size_t share =
        server_limit / std::max<std::uint32_t>(context_.config().backend.max_connections, 1);
    capacity = std::min(capacity, std::max<std::size_t>(share, 1));
  }
  return capacity;
}

void ClientSession::NoteDdl(const StatementScan& scan) {
  if (IsDdlKeyword(scan.first_keyword) || scan.multiple) context_.statement_shapes().Invalidate();
}

net::Awaitable<std::optional<Outcome>> ClientSession::HoldBackend(bool reads_previous) {
  if (!backend_.held() && !backend_.lost()) {
    if (auto refused = co_await CheckOut()) {
      if (!co_await client_.SendError(*refused, 1)) co_return Outcome::kClientGone;
      co_return Outcome::kOk;
    }
  }
  if (!backend_.held()) {
    bool fatal = false;
    if (auto refused = co_await Reattach(reads_previous, &fatal)) {
      if (!co_await client_.SendError(*refused, 1)) co_return Outcome::kClientGone;
      co_return fatal ? Outcome::kClientError : Outcome::kOk;
    }
  }
  co_return std::nullopt;
}

void ClientSession::PrependStatementCloses(CommandRelay& relay) {
  pool::StatementCache& cache = backend_->state().statements;
  if (!cache.closes_due()) return;
  Bytes closes;
  for (const std::uint32_t id : cache.TakeCloses()) {
    const Bytes close = Framed(protocol::Encode(protocol::StmtClose{id}));
    closes.insert(closes.end(), close.begin(), close.end());
  }
  relay.Prepend(closes, 0);
}

net::Awaitable<Outcome> ClientSession::RelayStatement(Command command) {
  const auto header = *protocol::DecodePacketHeader(client_.in().data());
  if (prepared_kills_ && (command == Command::kStmtExecute || command == Command::kStmtClose)) {
    if (header.payload_length >= 5 && statements_) {
      // The last-prepared id names the statement HandlePreparedKill knows by its own id.
      if (!co_await client_.Fill(protocol::kPacketHeaderSize + 5)) co_return Outcome::kClientGone;
      const auto payload = client_.in().mutable_data().subspan(protocol::kPacketHeaderSize, 5);
      const std::optional<std::uint32_t> id = protocol::StatementIdOf(payload);
      if (id == protocol::kLastPreparedStatementId) {
        protocol::SetStatementId(payload, statements_->Resolve(*id));
      }
    }
    if (command == Command::kStmtExecute) {
      auto hold = HoldBackend(/*reads_previous=*/false);
      if (auto answered = co_await std::move(hold)) {
        if (!co_await client_.DropPacket(MaxClientPacket())) co_return Outcome::kClientGone;
        co_return *answered;
      }
    }
    auto handle = HandlePreparedKill(command, header.payload_length);
    if (const std::optional<Outcome> handled = co_await std::move(handle)) co_return *handled;
  }
  net::PacketRead read;
  { read = co_await client_.ReadPacket(MaxClientPacket()); }
  if (read.failure == net::ReadFailure::kTooLarge) {
    Log(LogLevel::kInfo, id_, "closing: packet larger than max_allowed_packet ({} bytes)",
        MaxClientPacket());
    const ErrPacket error_packet = MakeErrPacket(
        server_error::kNetPacketTooLarge, "Got a packet bigger than 'max_allowed_packet' bytes");
    co_await client_.SendError(error_packet, 1);
    co_return Outcome::kClientError;
  }
  if (!read.ok()) co_return Outcome::kClientGone;
  Bytes payload = std::move(read.packet.payload);
  if (!statements_) {
    statements_ =
        std::make_unique<ClientStatements>(context_.config().proxy.max_client_prepared_statements);
  }
  if (command == Command::kStmtBulkExecute) {
    // The proxy offers no bulk operations, so the server would refuse it (measured), and its
    // statement id would be the client's.
    const ErrPacket error =
        MakeErrPacket(server_error::kUnsupportedPs,
                      "This command is not supported in the prepared statement protocol yet");
    if (!co_await client_.SendError(error, 1)) co_return Outcome::kClientGone;
    state_.OnProxyError();
    co_return Outcome::kOk;
  }
  if (command == Command::kStmtPrepare) co_return co_await PrepareStatement(std::move(payload));
  if (command == Command::kStmtClose) {
    CloseStatement(payload);
    co_return Outcome::kOk;
  }
  co_return co_await RunStatement(command, std::move(payload));
}

void ClientSession::CloseStatement(ByteView payload) {
  const std::optional<std::uint32_t> id = protocol::StatementIdOf(payload);
  if (!id) return;
  const std::uint32_t resolved = statements_->Resolve(*id);
  ClientStatement* statement = statements_->Find(resolved);
  if (statement == nullptr) return;  // As the server: no reply, nothing happens.
  if ((statement->long_data || statement->cursor) && backend_.held()) {
    // Its server statement holds its long data or cursor: closed with the next command there.
    backend_->state().statements.Disown(statement->owner, /*drop=*/true);
  }
  statements_->Erase(resolved);
}

void ClientSession::MakeRoomForPrepare(CommandRelay& relay) {
  const std::size_t evicted = backend_->state().statements.MakeRoom(StatementCapacity());
  if (evicted > 0 && stats_) {
    stats_->statement_evictions.fetch_add(evicted, std::memory_order_relaxed);
  }
  PrependStatementCloses(relay);
}

void ClientSession::AddToCache(const pool::StatementKey& key, std::uint32_t server_id,
                               std::uint64_t owner) {
  const std::size_t evicted =
      backend_->state().statements.Add(key, server_id, owner, StatementCapacity());
  if (evicted > 0 && stats_) {
    stats_->statement_evictions.fetch_add(evicted, std::memory_order_relaxed);
  }
}

Outcome ClientSession::AfterStatementReply(CommandRelay& relay, Command command, Outcome relayed) {
  last_reply_error_ = relay.error_code();
  last_rows_ = relay.rows();
  if (relay.prepended_error()) {
    Log(LogLevel::kWarning, id_, "the session state could not be restored before a command: {}",
        *relay.prepended_error());
    backend_.MarkNotReusable();
  }
  if (relayed != Outcome::kOk) return relayed;
  state_.OnReplyEnd(command, relay.warnings(), last_reply_error_.has_value());
  if (last_reply_error_ && protocol::ServerClosesAfter(*last_reply_error_)) {
    Log(LogLevel::kInfo, id_, "closing: the server ended backend connection {} with error {}",
        backend_->state().thread_id, *last_reply_error_);
    return Outcome::kBackendGone;
  }
  return Outcome::kOk;
}

net::Awaitable<Outcome> ClientSession::RunStatement(Command command, Bytes payload) {
  const std::optional<std::uint32_t> sent_id = protocol::StatementIdOf(payload);
  const bool answers = command != Command::kStmtSendLongData;
  ClientStatement* statement = nullptr;
  std::uint32_t resolved = 0;
  if (sent_id) {
    resolved = statements_->Resolve(*sent_id);
    statement = statements_->Find(resolved);
  }
  if (statement == nullptr && sent_id) {
    if (!answers) co_return Outcome::kOk;  // The server ignores long data for no statement.
    const ErrPacket error =
        MakeErrPacket(server_error::kUnknownStmtHandler,
                      "Unknown prepared statement handler (" + std::to_string(*sent_id) +
                          ") given to " + std::string(HandlerName(command)));
    if (!co_await client_.SendError(error, 1)) co_return Outcome::kClientGone;
    state_.OnProxyError();
    co_return Outcome::kOk;
  }
  if (statement != nullptr && command == Command::kStmtExecute &&
      payload.size() < protocol::kExecuteFixedSize) {
    // As the server answers an execute cut short (measured).
    const ErrPacket error =
        MakeErrPacket(server_error::kMalformedPacket, "Malformed communication packet");
    if (!co_await client_.SendError(error, 1)) co_return Outcome::kClientGone;
    state_.OnProxyError();
    co_return Outcome::kOk;
  }
  if (statement == nullptr) {
    // Too short to name a statement (under 4 bytes of id): the server's answer, as sent.
    if (auto answered = co_await HoldBackend(false)) co_return *answered;
    CommandRelay relay(client_, backend_.connection(), buffers_, state_, id_, MaxClientPacket());
    PrepareRelay(relay, command, /*reads_previous=*/true);
    PrependStatementCloses(relay);
    const Outcome sent = co_await relay.SendCommand(Framed(payload), ChunksOf(payload.size()));
    if (sent != Outcome::kOk) co_return sent;
    auto shape = protocol::ResponseShapeOf(command);
    const Outcome relayed = co_await relay.RelayResponse(*shape);
    co_return AfterStatementReply(relay, command, relayed);
  }
  const std::shared_ptr<const StatementShape> shape = statement->shape;
  if (command == Command::kStmtExecute) NoteDigestText(shape->key->text, /*truncated=*/false);
  if (command == Command::kStmtFetch && !statement->cursor) {
    const ErrPacket error =
        MakeErrPacket(server_error::kStmtHasNoOpenCursor,
                      "The statement (" + std::to_string(*sent_id) + ") has no open cursor");
    if (!co_await client_.SendError(error, 1)) co_return Outcome::kClientGone;
    state_.OnProxyError();
    co_return Outcome::kOk;
  }
  std::optional<protocol::ExecuteLayout> layout;
  bool cursor_requested = false;
  if (command == Command::kStmtExecute) {
    auto parsed = protocol::ParseExecuteLayout(payload, shape->parameters);
    if (!parsed.ok() || (!parsed->types_bound && shape->parameters > 0 &&
                         statement->types.size() != 2u * shape->parameters)) {
      // Never bound (or cut short): the server's answer.
      const ErrPacket error = MakeErrPacket(server_error::kWrongArguments,
                                            "Incorrect arguments to mysqld_stmt_execute");
      if (!co_await client_.SendError(error, 1)) co_return Outcome::kClientGone;
      state_.OnProxyError();
      co_return Outcome::kOk;
    }
    if (*sent_id == protocol::kLastPreparedStatementId && !parsed->types_bound &&
        shape->parameters > 0) {
      // By that id the server takes no remembered types: the values cannot be read.
      const ErrPacket error =
          MakeErrPacket(server_error::kMalformedPacket, "Malformed communication packet");
      if (!co_await client_.SendError(error, 1)) co_return Outcome::kClientGone;
      state_.OnProxyError();
      co_return Outcome::kOk;
    }
    layout = *parsed;
    if (auto types = protocol::ExecuteTypes(payload, *layout, shape->parameters)) {
      statement->types.assign(types->begin(), types->end());
    }
    cursor_requested = protocol::StmtExecuteRequestsCursor(payload);
  }

  bool reads_previous = false;
  if (command == Command::kStmtExecute) {
    // The execute runs the statement: what a query of its text does to the session.
    if (shape->scan) {
      const StatementScan& scan = *shape->scan;
      reads_previous = scan.reads_previous;
      state_.OnQuery(shape->key->text, scan);
      if (scan.names_processlist) processlist_seen_at_ = pool::Clock::now();
    } else {
      reads_previous = true;
      state_.OnUnscannedQuery();
    }
  } else {
    state_.OnCommand(command);
  }
  if (auto answered = co_await HoldBackend(reads_previous)) co_return *answered;
  bool follow_wait_timeout = false;
  if (command == Command::kStmtExecute && shape->scan) {
    const StatementScan& scan = *shape->scan;
    if (scan.names_connection_id) {
      revealed_thread_ = true;
      backend_.MarkNotReusable();
    }
    // As Relay does for a query: the profiling history stays with the connection; the
    // client's own wait_timeout is read back after (a parameter may set it).
    const bool set = scan.first_keyword == "SET";
    if (set && scan.names_profiling) backend_.MarkNotReusable();
    follow_wait_timeout = set && scan.names_wait_timeout;
  }

  // The statement on this connection, or prepared here first. (A restore that starts with a
  // reset, sent ahead of whatever goes first, closes them all.)
  if (restore_ && restore_->reset) backend_->state().statements.Clear();
  std::optional<std::uint32_t> server_id =
      backend_->state().statements.Find(*shape->key, statement->owner);
  if (!server_id && (SwitchesContext(*shape))) {
    // The session's schema or parse variables changed since its prepare: the prepare runs
    // under the old ones in an exchange of its own, so that the command never runs if the
    // switch fails (the schema was dropped). Rare: one round trip more.
    Outcome answered = Outcome::kOk;
    auto prepare = PrepareUnderItsContext(*shape, command, &answered);
    server_id = co_await std::move(prepare);
    if (!server_id) co_return answered;
  }

  CommandRelay relay(client_, backend_.connection(), buffers_, state_, id_, MaxClientPacket());
  PrepareRelay(relay, command == Command::kStmtExecute ? Command::kQuery : command, reads_previous);
  PrependStatementCloses(relay);
  pool::StatementCache& cache = backend_->state().statements;
  const bool lazy = !server_id;
  if (lazy) {
    // Prepared in the command's own write, which names it "the statement prepared last".
    MakeRoomForPrepare(relay);
    relay.PrependPrepare(Framed(protocol::Encode(protocol::StmtPrepare{shape->key->text})));
    relay.ReplaceErrorWithFailedPrepare();
    server_id = protocol::kLastPreparedStatementId;
  } else if (stats_) {
    stats_->statement_cache_hits.fetch_add(1, std::memory_order_relaxed);
  }

  if (layout && !layout->types_bound && shape->parameters > 0) {
    payload = protocol::WithTypes(payload, *layout, statement->types, *server_id);
  } else {
    protocol::SetStatementId(payload, *server_id);
  }
  const Outcome sent = co_await relay.SendCommand(Framed(payload), ChunksOf(payload.size()));
  if (sent != Outcome::kOk) co_return sent;
  std::vector<std::string> columns_seen;
  if (command == Command::kStmtExecute) {
    relay.CaptureColumns(&columns_seen);
    // A statement without columns at its prepare (CALL) returns whatever results it makes.
    if (statement->columns > 0) relay.FollowMetadata(statement->columns);
  }
  const auto response = protocol::ResponseShapeOf(command);
  const Outcome relayed = co_await relay.RelayResponse(*response, cursor_requested);
  if (lazy && !relay.prepended_prepares().empty()) {
    const CommandRelay::PrependedPrepare& result = relay.prepended_prepares().back();
    if (result.statement) {
      if (stats_) stats_->prepares_sent.fetch_add(1, std::memory_order_relaxed);
      server_id = *result.statement;
      AddToCache(shape->key, *server_id, 0);
    } else {
      server_id.reset();
    }
  }
  const Outcome ended = AfterStatementReply(relay, command, relayed);
  if (ended == Outcome::kOk && command == Command::kStmtExecute) {
    // DDL the proxy did not see shows here: prepares of the statement go to the server again.
    const bool gone = last_reply_error_ && ObjectGone(*last_reply_error_);
    const bool changed = !last_reply_error_ && !shape->column_names.empty() &&
                         !columns_seen.empty() && columns_seen != shape->column_names;
    if (gone || changed) context_.statement_shapes().Forget(*shape, /*any=*/gone);
    if (!columns_seen.empty()) statement->columns = static_cast<std::uint16_t>(columns_seen.size());
  }
  if (ended != Outcome::kOk || !server_id) co_return ended;
  if (command == Command::kStmtExecute && !last_reply_error_ && shape->scan) {
    NoteDdl(*shape->scan);
  }
  if (follow_wait_timeout && !last_reply_error_) {
    const Outcome followed = co_await FollowWaitTimeout();
    if (followed != Outcome::kOk) co_return followed;
  }

  // What the command left on the server statement.
  const std::uint16_t status = backend_->state().status_flags;
  switch (command) {
    case Command::kStmtSendLongData: {
      statements_->SetLongData(*statement, true);
      cache.SetOwner(*server_id, statement->owner);
      // A parameter number out of range leaves an error on the server statement until it is
      // reset: such a statement serves no one else after its execute.
      if (payload.size() >= 7) {
        const auto parameter = static_cast<std::uint16_t>(payload[5] | (payload[6] << 8));
        if (parameter >= shape->parameters) statement->bad_long_data = true;
      }
      break;
    }
    case Command::kStmtExecute: {
      const bool had_long_data = statement->long_data;
      statements_->SetLongData(*statement, false);
      const bool cursor =
          !last_reply_error_ && cursor_requested && (status & protocol::status::kCursorExists) != 0;
      statements_->SetCursor(*statement, cursor);
      if (had_long_data && statement->bad_long_data) {
        cache.Drop(*server_id);
        statement->bad_long_data = false;
      } else {
        cache.SetOwner(*server_id, cursor ? statement->owner : 0);
      }
      break;
    }
    case Command::kStmtFetch:
      if (!last_reply_error_ && (status & protocol::status::kCursorExists) == 0) {
        statements_->SetCursor(*statement, false);
        cache.SetOwner(*server_id, 0);
      }
      break;
    case Command::kStmtReset:
      if (!last_reply_error_) {
        statements_->SetLongData(*statement, false);
        statements_->SetCursor(*statement, false);
        cache.SetOwner(*server_id, 0);
        statement->bad_long_data = false;
      }
      break;
    default:
      break;
  }
  co_return Outcome::kOk;
}

}  // namespace longlink::proxy
