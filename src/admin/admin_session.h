// One admin console connection: greeting, login (AdminConsole's rules), then commands until
// COM_QUIT: COM_QUERY (ParseAdminCommand), COM_PING, COM_INIT_DB (accepted, nothing to
// change); any other command gets the server's 1047 "Unknown command". An unknown statement
// gets 1064 with a pointer to SHOW HELP. Bad packets end the connection as the server ends
// one; nothing a client sends reaches a log unescaped.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "admin/admin_command.h"
#include "admin/admin_console.h"
#include "admin/result_table.h"
#include "net/io_buffer.h"
#include "net/socket.h"
#include "proxy/client_channel.h"

namespace longlink::admin {

class AdminSession {
 public:
  // Query texts longer than this are refused (no admin command is near it).
  static constexpr std::size_t kMaxQuery = 64 * 1024;

  AdminSession(AdminConsole& console, net::Socket socket, net::BufferPool& buffers,
               std::uint64_t id);
  // Runs the session to its end; never throws. `self` owns it.
  net::Awaitable<void> Run(std::unique_ptr<AdminSession> self);

 private:
  // Greets and authenticates; false if the client was refused or left.
  net::Awaitable<bool> LogIn();
  // True if the Unix-socket peer is root or the proxy's own user and logs in as that user.
  bool PeerIsOsUser(const std::string& user);
  // Serves one command; false when the session ends.
  net::Awaitable<bool> ServeCommand();
  net::Awaitable<bool> Answer(const AdminCommand& command, const std::string& text);
  net::Awaitable<bool> SendTable(const ResultTable& table);
  // The answer to a client's SELECT of variables and functions (kSelect).
  ResultTable SelectTable(const AdminCommand& command) const;

  AdminConsole& console_;
  proxy::ProxyContext& context_;
  proxy::ClientChannel client_;
  const std::uint64_t id_;
  bool unix_socket_ = false;
  std::string peer_ = {};  // For logs and errors: "localhost" or the peer's address.
  std::string user_ = {};
  std::string schema_ = {};
};

}  // namespace longlink::admin
