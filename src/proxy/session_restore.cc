#include "proxy/session_restore.h"

#include <functional>

#include "protocol/command.h"
#include "protocol/frame.h"

namespace longlink::proxy {

namespace {

void AppendCommand(RestorePlan* plan, const protocol::Bytes& payload) {
  const protocol::Bytes framed = protocol::Frame(payload, 0);
  plan->commands.insert(plan->commands.end(), framed.begin(), framed.end());
  ++plan->replies;
}

}  // namespace

RestorePlan PlanRestore(const pool::BackendConnection& connection, const SessionState& session,
                        pool::Clock::time_point session_started) {
  RestorePlan plan;
  const pool::BackendState& state = connection.state();
  if (session.schema().empty() && !state.schema.empty()) {
    plan.needs_schema_clear = true;
    return plan;
  }
  std::optional<std::string> assignments =
      pool::AssignmentsFor(state.variables, session.variables());
  std::uint64_t last_insert_id = state.last_insert_id;
  if (!assignments || state.reset_at < session_started) {
    plan.reset = true;
    plan.commands = connection.ResetRequest();
    plan.replies = pool::BackendConnection::kResetReplies;
    assignments = pool::AssignmentsFor(pool::SessionVariables(), session.variables());
    last_insert_id = 0;
  }
  if (session.last_insert_id_known() && session.last_insert_id() != last_insert_id) {
    *assignments += assignments->empty() ? "SET SESSION " : ", ";
    *assignments += "last_insert_id=" + std::to_string(session.last_insert_id());
  }
  if (!assignments->empty()) {
    AppendCommand(&plan, protocol::Encode(protocol::Query{*assignments}));
    plan.assignments = std::move(*assignments);
  }
  if (session.schema() != state.schema) {
    AppendCommand(&plan, protocol::Encode(protocol::InitDb{session.schema()}));
    plan.init_db = true;
  }
  return plan;
}

void MarkRestored(pool::BackendState* connection, const SessionState& session, bool reset) {
  if (reset) {
    connection->reset_at = pool::Clock::now();
    connection->statements.Clear();  // The reset closed them.
  }
  connection->variables = session.variables();
  connection->schema = session.schema();
  if (session.last_insert_id_known()) connection->last_insert_id = session.last_insert_id();
}

std::uint64_t StateFingerprint(const std::string& schema, const pool::SessionVariables& variables) {
  std::uint64_t hash = variables.Fingerprint();
  hash ^= std::hash<std::string>()(schema) + 0x9e3779b97f4a7c15ULL + (hash << 6) + (hash >> 2);
  return hash == 0 ? 1 : hash;
}

}  // namespace longlink::proxy
