// ClientSession's prepares in transaction pooling (docs/PROXY.md, "Prepared statements in
// transaction pooling"). A COM_STMT_PREPARE of a statement another client of the pool prepared
// under the same schema and parse variables is answered from that prepare's shape
// (StatementShapes): the server's reply with this client's statement id, no round trip, unless
// the session holds its connection. Any other is prepared on the session's connection, and its
// reply kept as a shape for the next client. A statement whose session changed schema or parse
// variables since its prepare is prepared again under the old ones before an execute
// (PrepareUnderItsContext). Executes and the rest: session_statements.cc.
#include <asio/buffer.hpp>
#include <asio/write.hpp>
#include <string>

#include "common/log.h"
#include "protocol/command.h"
#include "protocol/frame.h"
#include "protocol/stmt_execute.h"
#include "proxy/client_session.h"

namespace longlink::proxy {

using protocol::Bytes;
using protocol::Command;
using protocol::ErrPacket;
using protocol::MakeErrPacket;
namespace server_error = protocol::server_error;

net::Awaitable<Outcome> ClientSession::PrepareStatement(Bytes payload) {
  if (stats_) stats_->prepares_asked.fetch_add(1, std::memory_order_relaxed);
  const std::string text(reinterpret_cast<const char*>(payload.data()) + 1, payload.size() - 1);
  if (statements_->full()) {
    const ErrPacket error =
        MakeErrPacket(server_error::kMaxPreparedStmtCount,
                      "Can't create more than max_prepared_stmt_count statements (current value: " +
                          std::to_string(statements_->limit()) + ")");
    Log(LogLevel::kInfo, id_,
        "prepare refused: {} statements open (max_client_prepared_statements)",
        statements_->size());
    if (!co_await client_.SendError(error, 1)) co_return Outcome::kClientGone;
    state_.OnProxyError();
    co_return Outcome::kOk;
  }
  // Scanned whatever its size (once: each execute uses the scan), unlike a query.
  std::optional<StatementScan> scan = ScanStatement(text);
  std::optional<KillStatement> prepared_kill;
  if (scan->kill) {
    std::optional<KillStatement> kill = ParseKillStatement(text);
    if (scan->multiple || !kill) co_return co_await RefuseKill(text);
    if (kill->NamesThread()) prepared_kill = std::move(kill);
  }
  auto shape = std::make_shared<StatementShape>();
  shape->key =
      pool::MakeStatementKey(text, StatementContext(Key(), state_.schema(), state_.variables()));
  shape->schema = state_.schema();
  shape->variables = ParseVariablesOf(state_.variables());
  shape->scan = std::move(scan);
  shape->epoch = context_.statement_shapes().epoch();

  // Another client prepared it: the server's reply, with this client's id. Not for a session
  // that holds its connection (the prepare must clear that connection's warnings).
  const bool held = backend_.held() || backend_.lost();
  std::shared_ptr<const StatementShape> known;
  if (!held) known = context_.statement_shapes().Find(*shape->key);
  if (!known) {
    if (auto answered = co_await HoldBackend(/*reads_previous=*/false)) co_return *answered;
    // Clients that prepare at once wait for connections: one of them may have prepared it.
    if (!held) known = context_.statement_shapes().Find(*shape->key);
  }
  if (known) {
    const std::uint32_t id = statements_->Add(known);
    Bytes reply;
    std::uint8_t sequence = 1;
    // The EOFs carry the status of the session that prepared it: this one's session flags
    // instead (it holds no connection: no transaction; nothing of a statement's own).
    constexpr std::uint16_t kSessionFlags = protocol::status::kAutocommit |
                                            protocol::status::kNoBackslashEscapes |
                                            protocol::status::kAnsiQuotes;
    const auto status = static_cast<std::uint16_t>(last_status_ & kSessionFlags);
    for (std::size_t i = 0; i < known->reply.size(); ++i) {
      Bytes packet = known->reply[i];
      if (i == 0) protocol::SetStatementId(packet, id);
      if (i > 0 && packet.size() == 5 && packet[0] == protocol::header::kEof) {
        packet[3] = static_cast<std::uint8_t>(status & 0xff);
        packet[4] = static_cast<std::uint8_t>(status >> 8);
      }
      sequence = protocol::AppendFramed(packet, sequence, &reply);
    }
    if (prepared_kill) RememberPreparedKill(id, std::move(*prepared_kill), known->parameters);
    auto [error, written] = co_await asio::async_write(
        client_.stream(), asio::buffer(reply.data(), reply.size()), net::kNoThrow);
    client_.CountSent(written);
    if (error) co_return Outcome::kClientGone;
    state_.OnReplyEnd(Command::kStmtPrepare, 0, false);
    co_return Outcome::kOk;
  }

  CommandRelay relay(client_, backend_.connection(), buffers_, state_, id_, MaxClientPacket());
  if (backend_.reset_due()) {
    relay.ResetFirst();
    backend_.ResetDone();
    backend_->state().statements.Clear();
  }
  PrepareRelay(relay, Command::kStmtPrepare, /*reads_previous=*/false);
  // The new statement replaces one of the same text here (its metadata wins); the server
  // never holds more than the cache's capacity, even for a moment.
  pool::StatementCache& cache = backend_->state().statements;
  if (auto older = cache.Find(*shape->key, 0)) cache.Drop(*older);
  MakeRoomForPrepare(relay);
  const std::uint32_t id = statements_->next_id();
  relay.ExposePreparedAs(id, &shape->reply, StatementShapes::kMaxReplyBytes);
  const Bytes framed = protocol::Frame(payload, 0);
  const Outcome sent = co_await relay.SendCommand(
      framed, static_cast<std::uint8_t>(protocol::ChunkCount(payload.size())));
  if (sent != Outcome::kOk) co_return sent;
  const Outcome relayed = co_await relay.RelayResponse(protocol::ResponseShape::kStmtPrepare);
  if (const Outcome ended = AfterStatementReply(relay, Command::kStmtPrepare, relayed);
      ended != Outcome::kOk || last_reply_error_) {
    if (ended == Outcome::kOk) statements_->PrepareFailed();
    co_return ended;
  }
  const std::optional<CommandRelay::Prepared> prepared = relay.prepared();
  if (!prepared) co_return Outcome::kBackendError;
  if (stats_) stats_->prepares_sent.fetch_add(1, std::memory_order_relaxed);
  shape->parameters = prepared->parameters;
  shape->columns = prepared->columns;
  shape->column_names =
      PreparedColumnNames(shape->reply, shape->parameters, shape->columns,
                          (Key().capabilities & protocol::capability::kDeprecateEof) != 0);
  if (prepared->warnings > 0) shape->reply.clear();  // SHOW WARNINGS must see them.
  std::shared_ptr<const StatementShape> done = std::move(shape);
  if (!done->reply.empty()) context_.statement_shapes().Add(done);
  AddToCache(done->key, prepared->statement, 0);
  statements_->Add(done);
  if (prepared_kill) RememberPreparedKill(id, std::move(*prepared_kill), done->parameters);
  co_return Outcome::kOk;
}

void ClientSession::RememberPreparedKill(std::uint32_t id, KillStatement kill,
                                         std::uint16_t parameters) {
  if (!prepared_kills_) prepared_kills_ = std::make_unique<PreparedKills>();
  (*prepared_kills_)[id] = PreparedKill{.kill = std::move(kill), .parameters = parameters};
}

bool ClientSession::SwitchesContext(const StatementShape& shape) const {
  const bool schema =
      !shape.schema.empty() && !state_.schema().empty() && shape.schema != state_.schema();
  return schema || ParseVariablesOf(state_.variables()) != shape.variables;
}

net::Awaitable<std::optional<std::uint32_t>> ClientSession::PrepareUnderItsContext(
    const StatementShape& shape, Command command, Outcome* answered) {
  const auto current = ParseVariablesOf(state_.variables());
  // (A session whose schema was dropped has none to go back to: its statement is prepared
  // without one, which only changes names it does not qualify.)
  const bool schema =
      !shape.schema.empty() && !state_.schema().empty() && shape.schema != state_.schema();
  const std::string there = ParseVariableAssignments(current, shape.variables);
  Bytes before;
  Bytes after;
  int replies = 0;
  if (schema) {
    protocol::AppendFramed(protocol::Encode(protocol::InitDb{shape.schema}), 0, &before);
    protocol::AppendFramed(protocol::Encode(protocol::InitDb{state_.schema()}), 0, &after);
    ++replies;
  }
  if (!there.empty()) {
    protocol::AppendFramed(protocol::Encode(protocol::Query{there}), 0, &before);
    const std::string back = ParseVariableAssignments(shape.variables, current);
    protocol::AppendFramed(protocol::Encode(protocol::Query{back}), 0, &after);
    ++replies;
  }
  CommandRelay exchange(client_, backend_.connection(), buffers_, state_, id_, MaxClientPacket());
  PrepareRelay(exchange, Command::kStmtPrepare, /*reads_previous=*/false);
  PrependStatementCloses(exchange);
  MakeRoomForPrepare(exchange);
  exchange.Prepend(before, replies);
  exchange.PrependPrepare(
      protocol::Frame(protocol::Encode(protocol::StmtPrepare{shape.key->text}), 0));
  exchange.Prepend(after, replies);
  *answered = co_await exchange.SendPrepended();
  if (*answered != Outcome::kOk) co_return std::nullopt;
  std::optional<ErrPacket> error = exchange.first_prepended_err();
  const CommandRelay::PrependedPrepare& result = exchange.prepended_prepares().back();
  if (!error && result.statement) {
    if (stats_) stats_->prepares_sent.fetch_add(1, std::memory_order_relaxed);
    AddToCache(shape.key, *result.statement, 0);
    co_return result.statement;
  }
  if (!error) error = result.error;
  if (exchange.first_prepended_err()) {
    // A switch failed: what the connection's session is now is not known for sure.
    backend_.MarkNotReusable();
    if (result.statement) backend_->state().statements.Drop(*result.statement);
  }
  if (!error) {
    *answered = Outcome::kBackendError;
    co_return std::nullopt;
  }
  // The client's command did not run: the error that stopped it is its answer.
  last_reply_error_ = error->code;
  state_.OnReplyEnd(command, 0, /*error=*/true);
  if (!co_await client_.SendError(*error, 1)) *answered = Outcome::kClientGone;
  co_return std::nullopt;
}

}  // namespace longlink::proxy
