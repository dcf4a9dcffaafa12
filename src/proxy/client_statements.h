// A client session's protocol prepared statements in transaction pooling (docs/PROXY.md,
// "Prepared statements in transaction pooling"). The proxy owns the ids the client sees
// (from 1, per session, as a fresh server connection numbers them) and keeps what it needs to
// prepare the statement again on whichever backend connection the client gets next
// (StatementShape: the text, under which schema and parse-relevant variables, the parameter
// count, the PREPARE reply), plus the client's own per-statement state: the parameter types
// it bound last (a re-execute omits them, and the server statement may be shared), long data
// sent for the next execute, an open cursor. The last two hold the connection (holds()).
//
// Bounded: at most `limit` statements per client (proxy.max_client_prepared_statements);
// identical statements share one shape. Single-threaded, on the session's worker.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "pool/pool_key.h"
#include "pool/session_variables.h"
#include "pool/statement_cache.h"
#include "protocol/wire.h"
#include "proxy/pin_reason.h"
#include "proxy/statement_scan.h"

namespace longlink::proxy {

// The session variables that decide how a statement is parsed, or what its metadata says:
// a statement is the same statement only if these (and the schema) are the same.
inline constexpr std::array<std::string_view, 6> kParseVariables = {"sql_mode",
                                                                    "old_mode",
                                                                    "character_set_client",
                                                                    "character_set_connection",
                                                                    "collation_connection",
                                                                    "character_set_results"};

// What is needed to prepare a statement anywhere, shared by every client that prepares it.
// Immutable once made.
struct StatementShape {
  pool::StatementKey key = {};  // Text, and the pool, schema and variables it means them under.
  std::string schema = {};
  // kParseVariables' values in the session that prepared it (nullopt: not set by it).
  std::array<std::optional<std::string>, kParseVariables.size()> variables = {};
  std::uint16_t parameters = 0;
  std::uint16_t columns = 0;
  // The server's PREPARE reply (payloads; the PREPARE_OK's id is the server's), to answer a
  // prepare of the same statement by another client without the server; empty if it must not
  // be (it had warnings, or is too large to keep).
  std::vector<protocol::Bytes> reply = {};
  // ColumnIdentity of each column the PREPARE reply describes: an execute whose result names
  // other columns shows the statement changed under it (DDL the proxy did not see).
  std::vector<std::string> column_names = {};
  // StatementShapes::epoch() when prepared: DDL through the proxy since makes it stale.
  std::uint64_t epoch = 0;
  // ScanStatement of the text (whatever its size), applied at each execute (the execute is
  // what runs it).
  std::optional<StatementScan> scan = {};
  std::size_t bytes() const;  // Memory held, roughly.
};

// ColumnIdentity of the column definitions in a PREPARE reply of `parameters` parameters
// and `columns` columns (`deprecate_eof`: no EOF after each block); empty if it does not
// describe them all.
std::vector<std::string> PreparedColumnNames(const std::vector<protocol::Bytes>& reply,
                                             std::uint16_t parameters, std::uint16_t columns,
                                             bool deprecate_eof);

// The context part of a statement's key: `pool`, `schema`, and kParseVariables of `session`.
std::string StatementContext(const pool::PoolKey& pool, const std::string& schema,
                             const pool::SessionVariables& session);

// The assignments that take a session with `from`'s parse variables to `to`'s (NULL-safe:
// unset becomes DEFAULT); "" if they match.
std::string ParseVariableAssignments(
    const std::array<std::optional<std::string>, kParseVariables.size()>& from,
    const std::array<std::optional<std::string>, kParseVariables.size()>& to);
// kParseVariables' values in `session` (nullopt: unset).
std::array<std::optional<std::string>, kParseVariables.size()> ParseVariablesOf(
    const pool::SessionVariables& session);

struct ClientStatement {
  std::shared_ptr<const StatementShape> shape = {};
  // Marks server statements this client statement needs to itself (StatementCache owner);
  // unique in the process.
  std::uint64_t owner = 0;
  protocol::Bytes types = {};  // The types of its last execute that bound them.
  // The columns the client last saw it return (the PREPARE reply's, then each result's).
  std::uint16_t columns = 0;
  // Set through ClientStatements::SetLongData / SetCursor (they count them).
  bool long_data = false;  // Long data sent since its last execute or reset.
  bool cursor = false;     // Its cursor is open.
  // Long data for a parameter it does not have: the server statement keeps an error until
  // reset, so it is closed after the execute.
  bool bad_long_data = false;
};

class ClientStatements {
 public:
  explicit ClientStatements(std::uint32_t limit) : limit_(limit) {}

  bool full() const { return statements_.size() >= limit_; }
  std::uint32_t limit() const { return limit_; }
  // The id the next statement gets.
  std::uint32_t next_id() const { return next_id_; }
  // A new statement of `shape`, with id next_id(); it becomes the last prepared.
  // REQUIRES: !full().
  std::uint32_t Add(std::shared_ptr<const StatementShape> shape);
  // A prepare failed: "the last prepared" names none (as on the server).
  void PrepareFailed() { last_ = 0; }
  // The statement `id` names (kLastPreparedStatementId: the last prepared), or null.
  ClientStatement* Find(std::uint32_t id);
  // The id `id` resolves to (the last prepared for kLastPreparedStatementId; 0 if none).
  std::uint32_t Resolve(std::uint32_t id) const;
  // Closes `id` (already resolved); no-op if unknown.
  void Erase(std::uint32_t id);
  void Clear();
  std::size_t size() const { return statements_.size(); }
  void SetLongData(ClientStatement& statement, bool on);
  void SetCursor(ClientStatement& statement, bool on);
  // A statement holds its connection: kCursor or kLongData; kNone if none does.
  PinReason hold() const {
    return cursors_ > 0 ? PinReason::kCursor
                        : (long_data_ > 0 ? PinReason::kLongData : PinReason::kNone);
  }
  // Every statement, for the session to release what they own on a connection.
  template <typename F>
  void ForEach(F f) {
    for (auto& [id, statement] : statements_) f(id, statement);
  }

 private:
  std::uint32_t limit_;
  std::uint32_t next_id_ = 1;
  std::uint32_t last_ = 0;
  std::uint32_t cursors_ = 0;
  std::uint32_t long_data_ = 0;
  std::unordered_map<std::uint32_t, ClientStatement> statements_;
};

// A token no other client statement has (StatementCache owners).
std::uint64_t NewStatementOwner();

}  // namespace longlink::proxy
