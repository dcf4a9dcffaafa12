// A small synchronous MySQL client, enough for `longlink diagnose` to read a running proxy's
// admin console (docs/ADMIN.md) over its Unix socket: connect, log in by peer credentials
// (the OS user's name and an empty auth response, as MariaDB's unix_socket plugin accepts),
// run text queries, quit. It also logs in to a MariaDB server whose account allows that.
//
// Bounded in every direction: one deadline for the whole session (connect, login, queries),
// packets over max_packet bytes and result sets over max_rows rows are refused, and nothing is
// ever waited for without poll() and the time left.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "diag/text_result_set.h"
#include "protocol/frame.h"
#include "protocol/handshake.h"
#include "protocol/packets.h"

namespace longlink::diag {

// Why the last call of an AdminClient failed.
enum class AdminFault : std::uint8_t {
  kNone,
  kUnreachable,  // No connection: no such socket, refused, not permitted, or timed out.
  kRefused,      // The server answered the login with ERR (the message says why).
  kProtocol,     // The server's bytes made no sense, it closed, or a query failed.
};

struct AdminClientOptions {
  std::chrono::milliseconds timeout{2000};  // For the whole session, from Connect on.
  std::size_t max_packet = 1 << 20;         // Largest logical packet accepted.
  std::size_t max_rows = 10000;             // Largest result set accepted.
};

// The capabilities diagnose asks for: PROTOCOL_41, SECURE_CONNECTION, PLUGIN_AUTH,
// DEPRECATE_EOF and the long-password bit (so that a MariaDB server sends no extended caps).
inline constexpr protocol::Capabilities kAdminClientCapabilities =
    protocol::capability::kClientMysql | protocol::capability::kProtocol41 |
    protocol::capability::kSecureConnection | protocol::capability::kPluginAuth |
    protocol::capability::kDeprecateEof | protocol::capability::kTransactions;

// The login for `greeting`: the capabilities both sides have (PROTOCOL_41 always), `user`, an
// empty auth response and mysql_native_password.
protocol::HandshakeResponse41 MakeAdminLogin(const protocol::HandshakeV10& greeting,
                                             std::string user);

// The server's answer to a login (or to the empty answer to an auth switch).
struct LoginReply {
  enum class Kind : std::uint8_t { kOk, kRefused, kAuthSwitch, kMoreData };
  Kind kind = Kind::kOk;
  protocol::ErrPacket error = {};  // kRefused.
};
// Classifies one login packet; an error for bytes that are none of OK, ERR, 0xFE, 0x01.
Result<LoginReply> ReadLoginReply(protocol::ByteView payload, protocol::Capabilities caps);

// The name of the user this process runs as (getpwuid(geteuid())), or its uid in digits.
std::string EffectiveUserName();

// One session. Not copyable: it owns the socket, closed by the destructor.
class AdminClient {
 public:
  explicit AdminClient(AdminClientOptions options = {});
  ~AdminClient();
  AdminClient(const AdminClient&) = delete;
  AdminClient& operator=(const AdminClient&) = delete;

  // Connects to the Unix socket `path`, reads the greeting and logs in as `user`. The
  // session's deadline starts here. On failure fault() says which kind; the error's message
  // is phrased for the operator ("connect /run/x.sock: No such file or directory",
  // "login refused: error 1045: Access denied ...").
  Status Connect(const std::string& path, const std::string& user);

  // Runs `sql` (COM_QUERY) and reads its one text result set. REQUIRES: Connect succeeded.
  Result<TextResultSet> Query(std::string_view sql);

  // Sends COM_QUIT (best effort) and closes.
  void Quit();

  AdminFault fault() const { return fault_; }
  // From the greeting.
  const std::string& server_version() const { return server_version_; }

 private:
  Status Fail(AdminFault fault, std::string message);
  Status WaitFor(short events, std::string_view what);
  Status Send(protocol::ByteView payload, std::uint8_t sequence_id);
  Result<protocol::Packet> Receive(std::string_view what);
  void Close();

  AdminClientOptions options_;
  int fd_ = -1;
  std::chrono::steady_clock::time_point deadline_;
  protocol::PacketFramer framer_;
  protocol::Capabilities caps_ = 0;
  std::uint8_t next_sequence_ = 0;
  AdminFault fault_ = AdminFault::kNone;
  std::string server_version_;
};

}  // namespace longlink::diag
