// Where a libmariadb bench client (short_sessions, query_latency, idle_clients, txn_clients)
// connects, and its login there.
//
// The server is given on the command line as `--tcp HOST:PORT` or `--socket PATH`. ParseTarget
// reads that pair of arguments: for --tcp, HOST is what stands before the last `:` and PORT the
// number after it (read as atoi reads it, so 0, libmariadb's default port, if it is not a
// number); nullopt for another option or a --tcp address without a `:`, and the caller prints
// its own usage.
//
// LogIn connects a handle from mysql_init, with whatever options the caller has set on it, to
// the target as user app, password app-secret, database app (the account bench/lib.sh makes);
// false if that failed, mysql_error(mysql) telling why. The handle stays the caller's to close
// either way.
#pragma once

#include <mysql.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace bench {

struct Target {
  std::string host;    // Empty with a socket.
  unsigned port = 0;   // 0: libmariadb's default.
  std::string socket;  // Empty over TCP.
};

inline std::optional<Target> ParseTarget(std::string_view option, std::string_view where) {
  Target target;
  if (option == "--tcp") {
    const auto colon = where.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    target.host = where.substr(0, colon);
    target.port = static_cast<unsigned>(std::atoi(std::string(where.substr(colon + 1)).c_str()));
  } else if (option == "--socket") {
    target.socket = where;
  } else {
    return std::nullopt;
  }
  return target;
}

inline bool LogIn(MYSQL* mysql, const Target& target) {
  return mysql_real_connect(mysql, target.host.empty() ? nullptr : target.host.c_str(), "app",
                            "app-secret", "app", target.port,
                            target.socket.empty() ? nullptr : target.socket.c_str(), 0) != nullptr;
}

}  // namespace bench
