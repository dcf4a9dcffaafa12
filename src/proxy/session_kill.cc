// KILL through the proxy (ClientSession::HandleKill): docs/PROXY.md, "Connection ids and KILL".
#include "common/log.h"
#include "common/log_text.h"
#include "proxy/client_session.h"
#include "proxy/proxy_errors.h"

namespace longlink::proxy {

using protocol::ErrPacket;
using protocol::MakeErrPacket;
namespace server_error = protocol::server_error;

net::Awaitable<Outcome> ClientSession::HandleKill(KillStatement kill, std::string text) {
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
    if (!co_await client_.SendError(error_packet, 1)) co_return Outcome::kClientGone;
    co_return Outcome::kOk;
  }
  Log(LogLevel::kInfo, id_, "{} from the client", LogQuoted(text));
  if (kill.id == id_) {  // The session kills itself, as on the server.
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
  auto find = WorkerSessions::Find(context_.workers(), kill.id);
  const auto found = co_await std::move(find);
  if (!found) {
    const ErrPacket error_packet =
        MakeErrPacket(server_error::kNoSuchThread, "Unknown thread id: " + std::to_string(kill.id));
    if (!co_await client_.SendError(error_packet, 1)) co_return Outcome::kClientGone;
    co_return Outcome::kOk;
  }
  if (found->second.user != user_) {
    const ErrPacket error_packet = MakeErrPacket(
        server_error::kKillDenied, "You are not owner of thread " + std::to_string(kill.id));
    if (!co_await client_.SendError(error_packet, 1)) co_return Outcome::kClientGone;
    co_return Outcome::kOk;
  }
  if (found->second.busy && found->second.backend_thread != 0) {
    if (!backend_.held()) {
      bool fatal = false;
      if (auto refused = co_await Reattach(/*reads_previous=*/false, &fatal)) {
        co_await client_.SendError(*refused, 1);
        co_return fatal ? Outcome::kClientError : Outcome::kOk;
      }
    }
    if (auto refused = co_await KillRunningQuery(kill, kill.id, found->second)) {
      if (!co_await client_.SendError(*refused, 1)) co_return Outcome::kClientGone;
      co_return backend_.held() ? Outcome::kOk : Outcome::kBackendGone;
    }
  }
  if (!kill.query_only) co_await found->first->Terminate(kill.id, id_);
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

}  // namespace longlink::proxy
