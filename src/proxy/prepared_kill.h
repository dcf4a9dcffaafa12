// A prepared KILL: with COM_STMT_PREPARE ("KILL ?", "KILL QUERY 12", "KILL CONNECTION_ID()"),
// or with SQL (PREPARE s FROM 'KILL QUERY ?'; EXECUTE s USING @id). The proxy lets the server
// prepare it (so that the server's answer, its statement id and its errors are the client's),
// remembers it by statement id or name, and resolves each execute the way it resolves a KILL
// in a query (ClientSession::HandleKill): the parameters are bound into the statement's target
// (as SQL literals, or the user variables of EXECUTE ... USING), which the proxy then evaluates
// as the server would.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "protocol/wire.h"
#include "proxy/kill_statement.h"

namespace longlink::proxy {

struct PreparedKill {
  KillStatement kill = {};
  std::uint16_t parameters = 0;
  // The parameter types (type byte, unsigned flag << 8) from the last execute that sent them.
  std::vector<std::uint16_t> types = {};
};

using PreparedKills = std::unordered_map<std::uint32_t, PreparedKill>;
// KILLs prepared with SQL PREPARE, by statement name (lowercase).
using SqlPreparedKills = std::unordered_map<std::string, KillStatement>;

// What SQL PREPARE, EXECUTE and DEALLOCATE PREPARE / DROP PREPARE statements name.
struct SqlPrepareStatement {
  enum class Kind { kPrepare, kExecute, kDeallocate };
  Kind kind = Kind::kPrepare;
  std::string name = {};  // Lowercase (the server compares statement names without case).
  // kPrepare from a string literal: its text (unescaped); nullopt for PREPARE ... FROM @var.
  std::optional<std::string> text = {};
  std::vector<std::string> using_variables = {};  // kExecute: "@a", "@b".
};

// Parses `text` as one of those statements; nullopt for anything else (or more than one).
std::optional<SqlPrepareStatement> ParseSqlPrepareStatement(std::string_view text);

// The statement id of a COM_STMT_EXECUTE or COM_STMT_CLOSE payload (command byte first), or
// nullopt if it is too short.
std::optional<std::uint32_t> StatementIdOf(protocol::ByteView payload);

// The parameters of COM_STMT_EXECUTE `payload` (command byte first) for a statement with
// `count` parameters, as SQL literals: NULL, integers, doubles, strings quoted and escaped.
// `*types` holds the types an earlier execute bound and is updated if this one binds new ones.
// nullopt if the payload is malformed, a type is unknown or not rendered here (dates and
// times), or a value was sent with COM_STMT_SEND_LONG_DATA.
std::optional<std::vector<std::string>> ExecuteParametersAsLiterals(
    protocol::ByteView payload, std::uint16_t count, std::vector<std::uint16_t>* types);

// `expression` with each '?' outside quotes and comments replaced by the next literal (in
// parentheses); nullopt if the counts differ.
std::optional<std::string> BindPlaceholders(std::string_view expression,
                                            const std::vector<std::string>& literals);

}  // namespace longlink::proxy
