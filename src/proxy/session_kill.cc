// KILL through the proxy (ClientSession::HandleKill): docs/PROXY.md, "Connection ids and KILL".
#include <charconv>

#include "common/log.h"
#include "common/log_text.h"
#include "proxy/client_session.h"
#include "proxy/proxy_errors.h"

namespace longlink::proxy {

using protocol::ErrPacket;
using protocol::MakeErrPacket;
namespace server_error = protocol::server_error;

namespace {

ErrPacket UnknownThread(std::uint64_t number) {
  return MakeErrPacket(server_error::kNoSuchThread, "Unknown thread id: " + std::to_string(number));
}

ErrPacket NotOwner(std::uint64_t number) {
  return MakeErrPacket(server_error::kKillDenied,
                       "You are not owner of thread " + std::to_string(number));
}

}  // namespace

net::Awaitable<Outcome> ClientSession::RefuseKill(std::string text) {
  Log(LogLevel::kInfo, id_, "refused {}: a KILL inside a multi-statement query or a comment",
      LogQuoted(text));
  const ErrPacket error_packet =
      MakeErrPacket(server_error::kKillDenied,
                    "longlink: a KILL is not relayed inside a multi-statement query or an "
                    "executable comment (a thread id there would reach the server unresolved); "
                    "send it as a statement of its own");
  if (!co_await client_.SendError(error_packet, 1)) co_return Outcome::kClientGone;
  co_return Outcome::kOk;
}

net::Awaitable<std::optional<Outcome>> ClientSession::HandleKill(KillStatement kill,
                                                                 std::string text,
                                                                 std::size_t size) {
  auto resolve = ResolveKill(std::move(kill), std::move(text));
  const std::optional<Outcome> handled = co_await std::move(resolve);
  if (handled && client_.has_input()) client_.in().Consume(size);
  co_return handled;
}

net::Awaitable<std::optional<Outcome>> ClientSession::ResolveKill(KillStatement kill,
                                                                  std::string text) {
  Log(LogLevel::kInfo, id_, "{} from the client", LogQuoted(text));
  if (!backend_.held()) {
    bool fatal = false;
    if (auto refused = co_await Reattach(/*reads_previous=*/false, &fatal)) {
      co_await client_.SendError(*refused, 1);
      co_return fatal ? Outcome::kClientError : Outcome::kOk;
    }
  }
  std::uint64_t number = kill.id;
  if (kill.target == KillStatement::Target::kExpression) {
    // The server evaluates the target as an integer (Item::val_int): so does the proxy, on
    // the session's own backend, to see what the number names. If that fails, the KILL goes
    // to the server as written and fails there the same way.
    std::optional<ErrPacket> refused;
    const std::string select = "SELECT CAST((" + kill.expression + "\n) AS SIGNED)";
    auto evaluate = backend_->QueryRow(select, &refused);
    auto row = co_await std::move(evaluate);
    if (!row.ok()) {
      Log(LogLevel::kWarning, id_, "backend connection lost evaluating a KILL: {}",
          row.error().message);
      const ErrPacket error_packet = MakeErrPacket(
          server_error::kConnectionKilled,
          "Connection was killed: longlink lost the backend connection evaluating the KILL");
      co_await client_.SendError(error_packet, 1);
      co_return Outcome::kBackendGone;
    }
    if (refused) co_return std::nullopt;
    std::int64_t value = 0;
    if (row->size() == 1 && (*row)[0]) {
      const std::string& digits = *(*row)[0];
      std::from_chars(digits.data(), digits.data() + digits.size(), value);
    }
    number = static_cast<std::uint64_t>(value);
  }
  co_return co_await KillNumber(kill, number);
}

net::Awaitable<std::optional<Outcome>> ClientSession::KillNumber(const KillStatement& kill,
                                                                 std::uint64_t number) {
  const bool own_thread = backend_.held() && number == backend_.thread_id();
  if (own_thread && transaction_pooling() && !revealed_thread_) {
    // Transaction pooling: the connection this session took for this command; the client
    // learnt the number when another session held it, and that holder's connection has, for
    // this client, ended (docs/PROXY.md, "Transaction pooling").
    if (!co_await client_.SendError(UnknownThread(number), 1)) co_return Outcome::kClientGone;
    co_return Outcome::kOk;
  }
  if (number == id_ || own_thread) {
    // The session kills itself, as on the server.
    if (kill.query_only) {
      const ErrPacket error_packet =
          MakeErrPacket(server_error::kQueryInterrupted, "Query execution was interrupted");
      if (!co_await client_.SendError(error_packet, 1)) co_return Outcome::kClientGone;
      co_return Outcome::kOk;
    }
    const ErrPacket error_packet =
        MakeErrPacket(server_error::kConnectionKilled, "Connection was killed");
    co_await client_.SendError(error_packet, 1);
    co_return Outcome::kClientError;
  }
  if (number >= ProxyContext::kFirstSessionId) {  // A greeting's id.
    auto find = WorkerSessions::Find(context_.workers(), number);
    const auto found = co_await std::move(find);
    if (found) co_return co_await KillSession(kill, number, number, found->first, found->second);
  }
  if (number > 0xFFFFFFFFULL) {  // Not a thread id of the proxy's (nor a session's).
    co_return std::nullopt;
  }
  const auto thread = static_cast<std::uint32_t>(number);
  const std::optional<pool::ConnectionInfo> connection = context_.pools().FindByThread(thread);
  if (!connection) co_return std::nullopt;  // Not the proxy's: the server decides.
  if (connection->state == pool::ConnectionState::kActive && connection->session) {
    auto find = WorkerSessions::Find(context_.workers(), *connection->session);
    const auto found = co_await std::move(find);
    // The session holds that thread now; the number names it only if the killer could have
    // learnt it from this session (it told its thread id, or the killer read the process
    // list since the session got the connection). Otherwise it is a number from an earlier
    // holder, which on the server would name a connection that has ended.
    if (found && found->second.backend_thread == thread &&
        (found->second.revealed_thread || processlist_seen_at_ >= found->second.leased_at)) {
      co_return co_await KillSession(kill, number, *connection->session, found->first,
                                     found->second);
    }
    Log(LogLevel::kInfo, id_,
        "KILL {}: that backend connection serves session {} now, which it did not when this "
        "client could have learnt the id: answered as a connection that has ended",
        number, *connection->session);
    if (!co_await client_.SendError(UnknownThread(number), 1)) co_return Outcome::kClientGone;
    co_return Outcome::kOk;
  }
  // One of the pool's connections, serving no client (idle, or being checked). The number
  // names it only if the killer read the process list since it went idle; before, it was an
  // earlier client's, which on the server would be a connection that has ended.
  if (processlist_seen_at_ < connection->last_used_at) {
    if (!co_await client_.SendError(UnknownThread(number), 1)) co_return Outcome::kClientGone;
    co_return Outcome::kOk;
  }
  if (connection->key.user != user_) {
    if (!co_await client_.SendError(NotOwner(number), 1)) co_return Outcome::kClientGone;
    co_return Outcome::kOk;
  }
  if (!kill.query_only && context_.pools().CloseIdleByThread(thread)) {
    Log(LogLevel::kInfo, id_, "closed idle pooled backend connection {} (KILL)", number);
  }
  if (!co_await client_.SendOk(backend_->state().status_flags, 1)) co_return Outcome::kClientGone;
  co_return Outcome::kOk;
}

net::Awaitable<Outcome> ClientSession::KillSession(const KillStatement& kill, std::uint64_t number,
                                                   std::uint64_t target_id, WorkerSessions* worker,
                                                   SessionView view) {
  if (view.user != user_) {
    if (!co_await client_.SendError(NotOwner(number), 1)) co_return Outcome::kClientGone;
    co_return Outcome::kOk;
  }
  if (view.busy && view.backend_thread != 0) {
    if (auto refused = co_await KillRunningQuery(kill, target_id, view)) {
      if (!co_await client_.SendError(*refused, 1)) co_return Outcome::kClientGone;
      co_return backend_.held() ? Outcome::kOk : Outcome::kBackendGone;
    }
  }
  if (!kill.query_only) co_await worker->Terminate(target_id, id_);
  const std::uint16_t status =
      backend_.held() ? backend_->state().status_flags : protocol::status::kAutocommit;
  if (!co_await client_.SendOk(status, 1)) co_return Outcome::kClientGone;
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
    backend_.Discard();
    co_return MakeErrPacket(server_error::kConnectionKilled,
                            "Connection was killed: longlink lost the backend connection while "
                            "running the KILL");
  }
  if (refused && refused->code != server_error::kNoSuchQuery.code) co_return refused;
  Log(LogLevel::kInfo, id_, "killed session {}'s statement (query id {} on backend connection {})",
      target_id, query_id, target.backend_thread);
  co_return std::nullopt;
}

net::Awaitable<std::optional<Outcome>> ClientSession::HandlePreparedKill(protocol::Command command,
                                                                         std::uint32_t length) {
  // Queries up to this size are read whole to resolve them.
  constexpr std::size_t kReadLimit = 16 * 1024 - protocol::kPacketHeaderSize;
  if (length < 5 || length > kReadLimit) co_return std::nullopt;
  const std::size_t size = protocol::kPacketHeaderSize + length;
  if (!co_await client_.Fill(size)) co_return Outcome::kClientGone;
  const protocol::ByteView payload =
      client_.in().data().subspan(protocol::kPacketHeaderSize, length);
  const std::optional<std::uint32_t> statement = StatementIdOf(payload);
  const auto it = statement ? prepared_kills_->find(*statement) : prepared_kills_->end();
  if (it == prepared_kills_->end()) co_return std::nullopt;
  if (command == protocol::Command::kStmtClose) {
    prepared_kills_->erase(it);
    co_return std::nullopt;  // The server closes its statement too.
  }
  PreparedKill& prepared = it->second;
  KillStatement kill = prepared.kill;
  auto literals = ExecuteParametersAsLiterals(payload, prepared.parameters, &prepared.types);
  if (!literals) co_return std::nullopt;  // Malformed, or a value not rendered: the server's.
  if (kill.target == KillStatement::Target::kExpression) {
    auto bound = BindPlaceholders(kill.expression, *literals);
    if (!bound) co_return std::nullopt;
    kill.expression = std::move(*bound);
  }
  const std::string text =
      "prepared KILL (statement " + std::to_string(*statement) + "): " +
      (kill.target == KillStatement::Target::kExpression ? kill.expression
                                                         : std::to_string(kill.id));
  auto handle = HandleKill(std::move(kill), text, size);
  co_return co_await std::move(handle);
}

net::Awaitable<std::optional<Outcome>> ClientSession::HandleSqlPrepare(CommandEffects* effects,
                                                                       std::string text,
                                                                       std::size_t size) {
  const SqlPrepareStatement& statement = *effects->sql_prepare;
  if (statement.kind == SqlPrepareStatement::Kind::kPrepare && statement.text) {
    std::optional<KillStatement> kill = ParseKillStatement(*statement.text);
    if (kill && kill->NamesThread()) effects->sql_prepared_kill = std::move(kill);
    co_return std::nullopt;
  }
  if (statement.kind != SqlPrepareStatement::Kind::kExecute || !sql_prepared_kills_) {
    co_return std::nullopt;
  }
  const auto it = sql_prepared_kills_->find(statement.name);
  if (it == sql_prepared_kills_->end()) co_return std::nullopt;
  KillStatement kill = it->second;
  if (kill.target == KillStatement::Target::kExpression) {
    auto bound = BindPlaceholders(kill.expression, statement.using_variables);
    if (!bound) co_return std::nullopt;  // The server refuses the count.
    kill.expression = std::move(*bound);
  } else if (!statement.using_variables.empty()) {
    co_return std::nullopt;  // The server refuses the count; nothing to resolve.
  }
  auto handle = HandleKill(std::move(kill), std::move(text), size);
  co_return co_await std::move(handle);
}

}  // namespace longlink::proxy
