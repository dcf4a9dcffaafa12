// A stand-in for MariaDB 10.11 for the session fuzzer (session_fuzzer.cc), never for tests: it
// accepts on a Unix socket on the caller's event loop and answers every connection the way
// mariadbd answers the commands the proxy relays, so that a fuzzed client session reaches
// login, commands, relay and close without a real server:
//
//   greeting (MariaDB 10.11's capabilities, mysql_native_password, 20-byte scramble); any
//   login gets OK; COM_QUERY by its first word: SELECT/SHOW/WITH/CALL/DESC/EXPLAIN a text
//   result set (SELECT @@max_allowed_packet, @@wait_timeout the proxy's numbers), SET/USE/
//   BEGIN/COMMIT/ROLLBACK/DML an OK with session tracking as negotiated, LOAD DATA LOCAL the
//   file request and an OK after the client's data, a multi-statement (with
//   MULTI_STATEMENTS) one result per statement, anything else ERR 1064; COM_INIT_DB,
//   COM_PING, COM_RESET_CONNECTION, COM_CHANGE_USER, COM_STMT_RESET OK; COM_SET_OPTION EOF;
//   COM_STATISTICS its string; COM_FIELD_LIST column definitions; COM_STMT_PREPARE a
//   PREPARE_OK with parameter and column definitions; COM_STMT_EXECUTE a binary result set or
//   OK (ERR 1243 for an unknown statement); COM_STMT_CLOSE and COM_STMT_SEND_LONG_DATA
//   nothing; COM_QUIT closes; any other command ERR 1047.
//
// Every command is answered (as mariadbd does), so a session that does not end once its client
// has gone is the proxy's hang, not the script's.
#pragma once

#include <asio/io_context.hpp>
#include <cstdint>
#include <string>

#include "net/socket.h"

namespace longlink::fuzz {

class ScriptedBackend {
 public:
  // Listens on `path` (an existing file there is replaced). REQUIRES: `io` outlives this.
  ScriptedBackend(asio::io_context& io, std::string path);
  ~ScriptedBackend();
  ScriptedBackend(const ScriptedBackend&) = delete;
  ScriptedBackend& operator=(const ScriptedBackend&) = delete;

  // Starts accepting on the io_context; connections are served until the loop stops.
  void Start();
  // Connections accepted so far.
  std::uint32_t connections() const { return connections_; }

 private:
  net::Awaitable<void> AcceptLoop();

  asio::io_context& io_;
  std::string path_;
  net::Acceptor acceptor_;
  std::uint32_t connections_ = 0;
};

}  // namespace longlink::fuzz
