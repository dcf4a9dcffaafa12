// KILL statements that name a thread or a query by number, as the proxy sees them in a
// COM_QUERY: "KILL 12", "KILL QUERY 12", "KILL HARD CONNECTION 12", "KILL QUERY ID 7;".
// Through a pool such a number does not name what it names on the server: the proxy
// translates the forms that name a session (the id its greeting gave the client), relays
// KILL USER, and refuses the rest (PROXY.md, "Connection ids and KILL").
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace longlink::proxy {

struct KillStatement {
  enum class Target {
    kThread,   // KILL [CONNECTION|QUERY] n: through the proxy, n is a session id.
    kQueryId,  // KILL QUERY ID n.
    kUser,     // KILL [CONNECTION|QUERY] USER name: relayed.
    kOther,    // An expression, a comment inside, anything else: not relayed.
  };
  enum class Strength { kDefault, kHard, kSoft };
  Target target = Target::kOther;
  Strength strength = Strength::kDefault;
  bool query_only = false;  // KILL QUERY: the statement, not the connection.
  std::uint64_t id = 0;     // kThread, kQueryId: the number.

  bool operator==(const KillStatement&) const = default;
};

// What the KILL statement `text` asks (case-insensitive; blanks, one trailing ';'), or
// nullopt if `text` does not start with the word KILL. Allocates nothing for statements that
// do not start with KILL.
std::optional<KillStatement> ParseKillStatement(std::string_view text);

}  // namespace longlink::proxy
