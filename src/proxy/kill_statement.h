// KILL statements as the proxy sees them in a COM_QUERY (or a COM_STMT_PREPARE): "KILL 12",
// "KILL QUERY 12", "KILL HARD CONNECTION 12", "KILL CONNECTION_ID()", "KILL QUERY ID 7;",
// "KILL USER app". Through a pool a thread id does not name what it names on the server: the
// proxy resolves the forms that name a connection (ClientSession::HandleKill; docs/PROXY.md,
// "Connection ids and KILL") and relays those that name a query or a user.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace longlink::proxy {

struct KillStatement {
  enum class Target {
    kThread,      // KILL [CONNECTION|QUERY] n: n is a plain decimal number (id).
    kExpression,  // KILL [CONNECTION|QUERY] <expr>: the server would evaluate `expression`.
    kQueryId,     // KILL QUERY ID <expr>: names one statement; relayed as written.
    kUser,        // KILL [CONNECTION|QUERY] USER name: relayed as written.
    kOther,       // Nothing after the words: not understood, refused.
  };
  enum class Strength { kDefault, kHard, kSoft };
  Target target = Target::kOther;
  Strength strength = Strength::kDefault;
  bool query_only = false;      // KILL QUERY: the statement, not the connection.
  std::uint64_t id = 0;         // kThread: the number.
  std::string expression = {};  // kExpression: the target's text, trimmed, without a final ';'.

  // It names a thread (a number or an expression): the proxy resolves it (HandleKill).
  bool NamesThread() const { return target == Target::kThread || target == Target::kExpression; }
  // The statement for `thread` with this one's strength and scope, e.g. "KILL HARD QUERY 12".
  std::string Render(std::uint64_t thread) const;

  bool operator==(const KillStatement&) const = default;
};

// What the KILL statement `text` asks (case-insensitive; blanks, one trailing ';'), or
// nullopt if `text` does not start with the word KILL. Allocates nothing for statements that
// do not start with KILL.
std::optional<KillStatement> ParseKillStatement(std::string_view text);

}  // namespace longlink::proxy
