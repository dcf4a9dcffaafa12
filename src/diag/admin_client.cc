#include "diag/admin_client.h"

#include <errno.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "protocol/command.h"

namespace longlink::diag {
namespace {

namespace cap = protocol::capability;
using protocol::ByteView;
using protocol::header::kAuthMoreData;
using protocol::header::kEof;
using protocol::header::kErr;
using protocol::header::kOk;

// Login packets come before any large reply; the greeting is well under this.
constexpr int kMaxLoginRounds = 4;

std::string ErrnoText(int error) { return std::strerror(error); }

}  // namespace

protocol::HandshakeResponse41 MakeAdminLogin(const protocol::HandshakeV10& greeting,
                                             std::string user) {
  protocol::HandshakeResponse41 login;
  login.capabilities =
      (kAdminClientCapabilities & greeting.capabilities & ~cap::kMariadbExtendedMask) |
      cap::kProtocol41 | cap::kClientMysql;
  login.max_packet_size = 1 << 24;
  login.character_set = protocol::collation::kUtf8mb4GeneralCi;
  login.username = std::move(user);
  login.auth_response = {};
  login.auth_plugin_name = std::string(protocol::auth_plugin::kNativePassword);
  return login;
}

Result<LoginReply> ReadLoginReply(ByteView payload, protocol::Capabilities caps) {
  if (payload.empty()) return Error{"login reply: empty packet"};
  switch (payload[0]) {
    case kOk: {
      auto ok = protocol::Decode<protocol::OkPacket>(payload, caps);
      if (!ok) return ok.error();
      return LoginReply{.kind = LoginReply::Kind::kOk};
    }
    case kErr: {
      auto err = protocol::Decode<protocol::ErrPacket>(payload, caps);
      if (!err) return err.error();
      return LoginReply{.kind = LoginReply::Kind::kRefused, .error = std::move(*err)};
    }
    case kEof: {
      auto request = protocol::Decode<protocol::AuthSwitchRequest>(payload);
      if (!request) return request.error();
      if (request->IsOldPasswordSwitch())
        return Error{"login reply: the server asks for the pre-4.1 password scramble"};
      return LoginReply{.kind = LoginReply::Kind::kAuthSwitch};
    }
    case kAuthMoreData:
      return LoginReply{.kind = LoginReply::Kind::kMoreData};
    default:
      return Error{fmt::format("login reply: unexpected packet 0x{:02x}", payload[0])};
  }
}

std::string EffectiveUserName() {
  const uid_t uid = geteuid();
  long size = sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buffer(size > 0 ? static_cast<std::size_t>(size) : 16384);
  passwd entry;
  passwd* found = nullptr;
  if (getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) == 0 && found)
    return found->pw_name;
  return std::to_string(uid);
}

AdminClient::AdminClient(AdminClientOptions options)
    : options_(options), framer_(options.max_packet) {}

AdminClient::~AdminClient() { Close(); }

void AdminClient::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

Status AdminClient::Fail(AdminFault fault, std::string message) {
  fault_ = fault;
  Close();
  return Error{std::move(message)};
}

Status AdminClient::WaitFor(short events, std::string_view what) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline_ - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return Fail(fault_ == AdminFault::kNone && what == "connect" ? AdminFault::kUnreachable
                                                                   : AdminFault::kProtocol,
                  fmt::format("{}: no answer within {} ms", what, options_.timeout.count()));
    }
    pollfd p{.fd = fd_, .events = events, .revents = 0};
    int n = poll(&p, 1, static_cast<int>(left.count()));
    if (n > 0) return {};
    if (n < 0 && errno != EINTR) return Fail(AdminFault::kProtocol, "poll: " + ErrnoText(errno));
  }
}

Status AdminClient::Send(ByteView payload, std::uint8_t sequence_id) {
  protocol::Bytes wire = protocol::Frame(payload, sequence_id);
  std::size_t sent = 0;
  while (sent < wire.size()) {
    if (auto s = WaitFor(POLLOUT, "send"); !s) return s;
    ssize_t n = send(fd_, wire.data() + sent, wire.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return Fail(AdminFault::kProtocol, "send: " + ErrnoText(errno));
    }
    sent += static_cast<std::size_t>(n);
  }
  next_sequence_ = static_cast<std::uint8_t>(sequence_id + protocol::ChunkCount(payload.size()));
  return {};
}

Result<protocol::Packet> AdminClient::Receive(std::string_view what) {
  std::uint8_t buffer[16384];
  for (;;) {
    auto next = framer_.Next();
    if (!next) {
      return Fail(AdminFault::kProtocol, fmt::format("{}: {}", what, next.error().message)).error();
    }
    if (*next) {
      protocol::Packet packet = std::move(**next);
      if (packet.sequence_id != next_sequence_) {
        return Fail(AdminFault::kProtocol,
                    fmt::format("{}: packet out of order (sequence {}, expected {})", what,
                                packet.sequence_id, next_sequence_))
            .error();
      }
      next_sequence_ = static_cast<std::uint8_t>(packet.last_sequence_id + 1);
      return packet;
    }
    if (auto s = WaitFor(POLLIN, what); !s) return s.error();
    ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
    if (n == 0)
      return Fail(AdminFault::kProtocol, fmt::format("{}: connection closed", what)).error();
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return Fail(AdminFault::kProtocol, fmt::format("{}: {}", what, ErrnoText(errno))).error();
    }
    framer_.Feed(ByteView(buffer, static_cast<std::size_t>(n)));
  }
}

Status AdminClient::Connect(const std::string& path, const std::string& user) {
  deadline_ = std::chrono::steady_clock::now() + options_.timeout;
  fault_ = AdminFault::kNone;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof address.sun_path)
    return Fail(AdminFault::kUnreachable, fmt::format("{}: not a usable socket path", path));
  std::memcpy(address.sun_path, path.data(), path.size());
  fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd_ < 0) return Fail(AdminFault::kUnreachable, "socket: " + ErrnoText(errno));
  if (connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    if (errno != EINPROGRESS && errno != EAGAIN) {
      return Fail(AdminFault::kUnreachable, fmt::format("connect {}: {}", path, ErrnoText(errno)));
    }
    if (auto s = WaitFor(POLLOUT, "connect"); !s) return s;
    int error = 0;
    socklen_t length = sizeof error;
    getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &length);
    if (error != 0) {
      return Fail(AdminFault::kUnreachable, fmt::format("connect {}: {}", path, ErrnoText(error)));
    }
  }

  next_sequence_ = 0;
  auto greeting_packet = Receive("greeting");
  if (!greeting_packet) return greeting_packet.error();
  if (!greeting_packet->payload.empty() && greeting_packet->payload[0] == kErr) {
    auto err = protocol::Decode<protocol::ErrPacket>(greeting_packet->payload, 0);
    return Fail(AdminFault::kRefused,
                err ? fmt::format("refused before login: error {}: {}", err->code, err->message)
                    : "refused before login");
  }
  auto greeting = protocol::Decode<protocol::HandshakeV10>(greeting_packet->payload);
  if (!greeting) return Fail(AdminFault::kProtocol, greeting.error().message);
  if (!(greeting->capabilities & cap::kProtocol41))
    return Fail(AdminFault::kProtocol, "greeting: the server does not speak protocol 4.1");
  server_version_ = std::string(protocol::StripMariadbVersionPrefix(greeting->server_version));

  const protocol::HandshakeResponse41 login = MakeAdminLogin(*greeting, user);
  caps_ = login.capabilities;
  if (auto s = Send(protocol::Encode(login), next_sequence_); !s) return s;
  for (int round = 0; round < kMaxLoginRounds; ++round) {
    auto packet = Receive("login");
    if (!packet) return packet.error();
    auto reply = ReadLoginReply(packet->payload, caps_);
    if (!reply) return Fail(AdminFault::kProtocol, reply.error().message);
    switch (reply->kind) {
      case LoginReply::Kind::kOk:
        return {};
      case LoginReply::Kind::kRefused:
        return Fail(AdminFault::kRefused, fmt::format("login as {} refused: error {}: {}", user,
                                                      reply->error.code, reply->error.message));
      case LoginReply::Kind::kAuthSwitch:
        // Whatever the plugin, the answer for an empty password is empty.
        if (auto s = Send({}, next_sequence_); !s) return s;
        break;
      case LoginReply::Kind::kMoreData:
        break;  // E.g. caching_sha2's "fast auth succeeded": the OK follows.
    }
  }
  return Fail(AdminFault::kProtocol, "login: too many authentication rounds");
}

Result<TextResultSet> AdminClient::Query(std::string_view sql) {
  if (fd_ < 0) return Error{"query: not connected"};
  if (auto s = Send(protocol::Encode(protocol::Query{.query = std::string(sql)}), 0); !s)
    return s.error();
  TextResultSetReader reader(caps_, options_.max_rows);
  while (!reader.complete()) {
    auto packet = Receive(sql);
    if (!packet) return packet.error();
    if (auto s = reader.Add(packet->payload); !s) {
      if (reader.error()) {
        // The session is still in sync after an ERR: keep it for the next query.
        fault_ = AdminFault::kProtocol;
        return Error{fmt::format("{}: {}", sql, s.error().message)};
      }
      return Fail(AdminFault::kProtocol, fmt::format("{}: {}", sql, s.error().message)).error();
    }
  }
  return reader.Take();
}

void AdminClient::Quit() {
  if (fd_ < 0) return;
  protocol::Bytes quit = protocol::EncodeCommand(protocol::Command::kQuit);
  protocol::Bytes wire = protocol::Frame(quit, 0);
  (void)send(fd_, wire.data(), wire.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  Close();
}

}  // namespace longlink::diag
