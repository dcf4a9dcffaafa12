#include "proxy/client_statements.h"

#include <atomic>

#include "pool/session_variables.h"
#include "protocol/command.h"
#include "protocol/stmt_execute.h"

namespace longlink::proxy {

std::size_t StatementShape::bytes() const {
  std::size_t total = sizeof(StatementShape) + key->text.size() + key->context.size();
  for (const auto& packet : reply) total += packet.size() + sizeof(packet);
  for (const auto& name : column_names) total += name.size() + sizeof(name);
  return total;
}

std::vector<std::string> PreparedColumnNames(const std::vector<protocol::Bytes>& reply,
                                             std::uint16_t parameters, std::uint16_t columns,
                                             bool deprecate_eof) {
  const std::size_t first =
      1 + parameters + (parameters > 0 && !deprecate_eof ? std::size_t{1} : std::size_t{0});
  std::vector<std::string> names;
  if (reply.size() < first + columns) return names;
  for (std::size_t i = first; i < first + columns; ++i) {
    auto identity = protocol::ColumnIdentity(reply[i]);
    if (!identity) return {};
    names.push_back(std::move(*identity));
  }
  return names;
}

std::array<std::optional<std::string>, kParseVariables.size()> ParseVariablesOf(
    const pool::SessionVariables& session) {
  std::array<std::optional<std::string>, kParseVariables.size()> values;
  for (std::size_t i = 0; i < kParseVariables.size(); ++i) {
    if (const std::string* value = session.Find(kParseVariables[i])) values[i] = *value;
  }
  return values;
}

std::string StatementContext(const pool::PoolKey& pool, const std::string& schema,
                             const pool::SessionVariables& session) {
  std::string context = pool.ToString();
  context += '\0';
  context += schema;
  for (std::string_view name : kParseVariables) {
    context += '\0';
    if (const std::string* value = session.Find(name)) {
      context += '=';
      context += *value;
    }
  }
  return context;
}

std::string ParseVariableAssignments(
    const std::array<std::optional<std::string>, kParseVariables.size()>& from,
    const std::array<std::optional<std::string>, kParseVariables.size()>& to) {
  std::string sql;
  for (std::size_t i = 0; i < kParseVariables.size(); ++i) {
    if (from[i] == to[i]) continue;
    sql += sql.empty() ? "SET SESSION " : ", ";
    sql += kParseVariables[i];
    sql += " = ";
    sql += to[i] ? pool::SqlValue(kParseVariables[i], *to[i]) : std::string("DEFAULT");
  }
  return sql;
}

std::uint32_t ClientStatements::Add(std::shared_ptr<const StatementShape> shape) {
  const std::uint32_t id = next_id_;
  do {  // After 2^32 statements: the next id no statement of this session has.
    ++next_id_;
    if (next_id_ == 0 || next_id_ == protocol::kLastPreparedStatementId) next_id_ = 1;
  } while (statements_.contains(next_id_));
  const std::uint16_t columns = shape->columns;
  statements_[id] =
      ClientStatement{.shape = std::move(shape), .owner = NewStatementOwner(), .columns = columns};
  last_ = id;
  return id;
}

std::uint32_t ClientStatements::Resolve(std::uint32_t id) const {
  return id == protocol::kLastPreparedStatementId ? last_ : id;
}

ClientStatement* ClientStatements::Find(std::uint32_t id) {
  auto it = statements_.find(Resolve(id));
  return it == statements_.end() ? nullptr : &it->second;
}

void ClientStatements::SetLongData(ClientStatement& statement, bool on) {
  if (statement.long_data == on) return;
  statement.long_data = on;
  if (on) {
    ++long_data_;
  } else {
    --long_data_;
  }
}

void ClientStatements::SetCursor(ClientStatement& statement, bool on) {
  if (statement.cursor == on) return;
  statement.cursor = on;
  if (on) {
    ++cursors_;
  } else {
    --cursors_;
  }
}

void ClientStatements::Erase(std::uint32_t id) {
  auto it = statements_.find(id);
  if (it == statements_.end()) return;
  SetLongData(it->second, false);
  SetCursor(it->second, false);
  statements_.erase(it);
  if (id == last_) last_ = 0;  // As the server: closing the last prepared forgets it.
}

void ClientStatements::Clear() {
  statements_.clear();
  cursors_ = 0;
  long_data_ = 0;
  last_ = 0;  // Ids go on, as the server's counter does after COM_RESET_CONNECTION.
}

std::uint64_t NewStatementOwner() {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace longlink::proxy
