#include "diag/admin_client.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "protocol/command.h"
#include "protocol/frame.h"

namespace longlink::diag {
namespace {

namespace cap = protocol::capability;
using protocol::Bytes;

protocol::HandshakeV10 Greeting(protocol::Capabilities caps) {
  return {.server_version = "5.5.5-10.11.6-MariaDB",
          .connection_id = 7,
          .auth_plugin_data = std::string(20, 'x'),
          .capabilities = caps,
          .character_set = 45,
          .status_flags = 2,
          .auth_plugin_name = "mysql_native_password"};
}

TEST(AdminClientTest, LoginAsksForWhatBothSidesHaveAndSendsNoPassword) {
  const auto server = cap::kProtocol41 | cap::kSecureConnection | cap::kPluginAuth |
                      cap::kConnectAttrs | cap::kSsl | cap::kMariadbProgress;
  auto login = MakeAdminLogin(Greeting(server), "root");
  EXPECT_EQ(login.username, "root");
  EXPECT_TRUE(login.auth_response.empty());
  EXPECT_EQ(login.auth_plugin_name, "mysql_native_password");
  EXPECT_EQ(login.capabilities,
            cap::kClientMysql | cap::kProtocol41 | cap::kSecureConnection | cap::kPluginAuth);
  // Round trip through the project's codec: what the server decodes.
  auto bytes = protocol::Encode(login);
  auto decoded = protocol::Decode<protocol::HandshakeResponse41>(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(*decoded, login);
}

TEST(AdminClientTest, LoginReplies) {
  const auto caps = kAdminClientCapabilities;
  auto ok = ReadLoginReply(protocol::Encode(protocol::OkPacket{}, caps), caps);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->kind, LoginReply::Kind::kOk);

  auto err = ReadLoginReply(
      protocol::Encode(protocol::AccessDeniedError("bob", "localhost", false), caps), caps);
  ASSERT_TRUE(err.ok());
  EXPECT_EQ(err->kind, LoginReply::Kind::kRefused);
  EXPECT_EQ(err->error.code, 1045);

  auto sw = ReadLoginReply(
      protocol::Encode(protocol::AuthSwitchRequest{.plugin_name = "mysql_native_password",
                                                   .plugin_data = std::string(20, 'a') + '\0'}),
      caps);
  ASSERT_TRUE(sw.ok());
  EXPECT_EQ(sw->kind, LoginReply::Kind::kAuthSwitch);

  Bytes old_switch{0xfe};
  EXPECT_FALSE(ReadLoginReply(old_switch, caps).ok());
  Bytes more{0x01, 0x03};
  EXPECT_EQ(ReadLoginReply(more, caps)->kind, LoginReply::Kind::kMoreData);
  Bytes junk{0x42};
  EXPECT_FALSE(ReadLoginReply(junk, caps).ok());
  EXPECT_FALSE(ReadLoginReply(Bytes{}, caps).ok());
}

TEST(AdminClientTest, EffectiveUserNameIsNotEmpty) { EXPECT_FALSE(EffectiveUserName().empty()); }

// A scripted server on a Unix socket: accepts one client and runs `script` on its fd.
class FakeServer {
 public:
  explicit FakeServer(std::function<void(int)> script) {
    path_ = ::testing::TempDir() + "admin-client-" + std::to_string(getpid()) + "-" +
            std::to_string(counter_++) + ".sock";
    unlink(path_.c_str());
    listener_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path_.c_str(), sizeof a.sun_path - 1);
    EXPECT_EQ(bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(listen(listener_, 4), 0);
    thread_ = std::thread([this, script] {
      int fd = accept(listener_, nullptr, nullptr);
      if (fd >= 0) {
        script(fd);
        close(fd);
      }
    });
  }
  ~FakeServer() {
    thread_.join();
    close(listener_);
    unlink(path_.c_str());
  }
  const std::string& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  std::string path_;
  int listener_ = -1;
  std::thread thread_;
};

void SendPacket(int fd, const Bytes& payload, std::uint8_t sequence) {
  Bytes wire = protocol::Frame(payload, sequence);
  ASSERT_EQ(write(fd, wire.data(), wire.size()), static_cast<ssize_t>(wire.size()));
}

// Reads one packet (small ones only); empty on EOF.
Bytes ReadPacket(int fd, std::uint8_t* sequence = nullptr) {
  std::uint8_t header[4];
  std::size_t got = 0;
  while (got < 4) {
    ssize_t n = read(fd, header + got, 4 - got);
    if (n <= 0) return {};
    got += static_cast<std::size_t>(n);
  }
  std::size_t length = header[0] | header[1] << 8 | header[2] << 16;
  if (sequence) *sequence = header[3];
  Bytes payload(length);
  got = 0;
  while (got < length) {
    ssize_t n = read(fd, payload.data() + got, length - got);
    if (n <= 0) return {};
    got += static_cast<std::size_t>(n);
  }
  return payload;
}

Bytes Column(std::string_view name) {
  Bytes out;
  protocol::Writer w(&out);
  for (std::string_view s : std::initializer_list<std::string_view>{"def", "", "", "", name, name})
    w.WriteLenencString(s);
  w.WriteLenencInt(0x0c);
  w.WriteZeros(12);
  return out;
}

TEST(AdminClientTest, LogsInThroughAnAuthSwitchAndReadsAResultSet) {
  const auto server_caps = cap::kProtocol41 | cap::kSecureConnection | cap::kPluginAuth |
                           cap::kDeprecateEof | cap::kClientMysql;
  protocol::HandshakeResponse41 seen_login;
  Bytes seen_switch_answer{0x99};
  std::string seen_query;
  FakeServer server([&](int fd) {
    SendPacket(fd, protocol::Encode(Greeting(server_caps)), 0);
    std::uint8_t seq = 0;
    auto login = protocol::Decode<protocol::HandshakeResponse41>(ReadPacket(fd, &seq));
    ASSERT_TRUE(login.ok());
    seen_login = *login;
    SendPacket(fd,
               protocol::Encode(protocol::AuthSwitchRequest{.plugin_name = "mysql_native_password",
                                                            .plugin_data = std::string(21, 'a')}),
               2);
    seen_switch_answer = ReadPacket(fd, &seq);
    EXPECT_EQ(seq, 3);
    SendPacket(fd, protocol::Encode(protocol::OkPacket{}, server_caps), 4);
    auto query = ReadPacket(fd, &seq);
    EXPECT_EQ(seq, 0);
    seen_query = std::string(query.begin() + 1, query.end());
    const auto caps = seen_login.capabilities;
    SendPacket(fd, protocol::Encode(protocol::ColumnCount{.count = 1}, caps), 1);
    SendPacket(fd, Column("Value"), 2);
    Bytes row;
    protocol::Writer(&row).WriteLenencString("10.11.6");
    SendPacket(fd, row, 3);
    SendPacket(
        fd, protocol::Encode(protocol::OkPacket{.header = protocol::OkPacket::Header::kEof}, caps),
        4);
    EXPECT_EQ(ReadPacket(fd), protocol::EncodeCommand(protocol::Command::kQuit));
  });

  AdminClient client;
  auto s = client.Connect(server.path(), "diag");
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(client.server_version(), "10.11.6-MariaDB");
  auto result = client.Query("SELECT 1");
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->columns, std::vector<std::string>{"Value"});
  EXPECT_EQ(result->rows, (std::vector<std::vector<std::string>>{{"10.11.6"}}));
  client.Quit();
  EXPECT_EQ(seen_login.username, "diag");
  EXPECT_TRUE(seen_switch_answer.empty());
  EXPECT_EQ(seen_query, "SELECT 1");
}

TEST(AdminClientTest, RefusedLoginSaysWhy) {
  FakeServer server([&](int fd) {
    SendPacket(fd, protocol::Encode(Greeting(cap::kProtocol41 | cap::kSecureConnection)), 0);
    ReadPacket(fd);
    SendPacket(
        fd,
        protocol::Encode(protocol::AccessDeniedError("diag", "localhost", false), cap::kProtocol41),
        2);
  });
  AdminClient client;
  auto s = client.Connect(server.path(), "diag");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(client.fault(), AdminFault::kRefused);
  EXPECT_NE(s.error().message.find("error 1045: Access denied for user 'diag'"), std::string::npos)
      << s.error().message;
}

TEST(AdminClientTest, SilentServerTimesOut) {
  FakeServer server([&](int fd) {
    char c;
    (void)read(fd, &c, 1);  // Until the client gives up and closes.
  });
  AdminClient client({.timeout = std::chrono::milliseconds(200)});
  auto started = std::chrono::steady_clock::now();
  auto s = client.Connect(server.path(), "diag");
  ASSERT_FALSE(s.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
  EXPECT_EQ(client.fault(), AdminFault::kProtocol);
  EXPECT_NE(s.error().message.find("no answer within 200 ms"), std::string::npos);
}

TEST(AdminClientTest, OversizedPacketIsRefused) {
  FakeServer server([&](int fd) {
    Bytes header{0x00, 0x00, 0x20, 0x00};  // 2 MiB announced.
    (void)write(fd, header.data(), header.size());
    char c;
    (void)read(fd, &c, 1);
  });
  AdminClient client;
  auto s = client.Connect(server.path(), "diag");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(client.fault(), AdminFault::kProtocol);
}

TEST(AdminClientTest, MissingSocketIsUnreachable) {
  AdminClient client;
  auto s = client.Connect(::testing::TempDir() + "no-such-admin.sock", "diag");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(client.fault(), AdminFault::kUnreachable);
  EXPECT_NE(s.error().message.find("No such file or directory"), std::string::npos);
}

// Against a real MariaDB: tests/integration/test_diagnose_proxy.py runs this with the Unix
// socket of the server it started, whose root logs in without a password.
TEST(AdminClientMariadbTest, LogsInAsRootAndReadsVariables) {
  const char* socket_path = std::getenv("LONGLINK_TEST_MARIADB_SOCKET");
  if (!socket_path) GTEST_SKIP() << "LONGLINK_TEST_MARIADB_SOCKET is not set";
  AdminClient client;
  auto s = client.Connect(socket_path, "root");
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_NE(client.server_version().find("MariaDB"), std::string::npos);
  auto result = client.Query("SHOW VARIABLES LIKE 'version%'");
  ASSERT_TRUE(result.ok()) << result.error().message;
  ASSERT_EQ(result->columns, (std::vector<std::string>{"Variable_name", "Value"}));
  bool found = false;
  for (const auto& row : result->rows) {
    if (row[0] == "version") {
      found = true;
      EXPECT_NE(client.server_version().find(row[1]), std::string::npos) << row[1];
    }
  }
  EXPECT_TRUE(found);
  auto err = client.Query("SHOW TOTALS");  // Not MariaDB's: an ERR, and the session goes on.
  ASSERT_FALSE(err.ok());
  EXPECT_NE(err.error().message.find("error 1064"), std::string::npos) << err.error().message;
  auto again = client.Query("SELECT 1 AS one, NULL AS nothing");
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->rows, (std::vector<std::vector<std::string>>{{"1", ""}}));
  client.Quit();
}

}  // namespace
}  // namespace longlink::diag
