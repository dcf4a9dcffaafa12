// What a SET statement assigns to one session variable, read from its text before it runs:
// the proxy follows a few of the client's own variables (wait_timeout) without asking the
// server when the value is plain (a number, DEFAULT), and asks the server otherwise.
// Case-insensitive, ASCII only (sql_words.h); safe from any thread.
#pragma once

#include <cstdint>
#include <string_view>

namespace longlink::proxy {

// What a SET statement assigns to one session variable.
struct SessionAssignment {
  enum class Kind {
    kNone,     // The statement does not assign the variable at session scope.
    kNumber,   // A plain integer (number).
    kDefault,  // DEFAULT: the global value.
    kOther,    // An expression, ON/OFF, a string: ask the server.
  };
  Kind kind = Kind::kNone;
  std::int64_t number = 0;
  std::string_view value = {};  // The value's text, for kOther (trimmed): a view of `text`.
  bool operator==(const SessionAssignment&) const = default;
};

// The last assignment of session variable `name` (lowercase, e.g. "wait_timeout") in the SET
// statement `text`: `SET [SESSION|LOCAL] name = v`, `@@name`, `@@session.name`,
// `@@local.name`, one of several assignments separated by commas. GLOBAL and PERSIST
// assignments are not session ones. kNone if `text` is not a SET statement.
SessionAssignment FindSessionAssignment(std::string_view text, std::string_view name);

}  // namespace longlink::proxy
