#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/proxy_config.h"
#include "diag/analysis.h"
#include "diag/report.h"

namespace longlink::config {
namespace {

constexpr char kMinimal[] = R"(
[backend]
address = "127.0.0.1:3306"
[[users]]
name = "app"
password = "secret"
)";

TEST(ConfigTest, MinimalFileGetsDefaults) {
  auto config = ParseProxyConfig(kMinimal, "min.toml");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->backend.address.ToString(), "127.0.0.1:3306");
  ASSERT_EQ(config->listen.tcp.size(), 1U);
  EXPECT_EQ(config->listen.tcp[0].ToString(), "127.0.0.1:6033");
  EXPECT_EQ(config->pool, PoolSettings{});
  EXPECT_EQ(config->proxy, ProxySettings{});
  ASSERT_EQ(config->users.size(), 1U);
  EXPECT_EQ(config->users[0].password, "secret");
}

TEST(ConfigTest, FullFile) {
  auto config = ParseProxyConfig(R"(
[proxy]
workers = 4
max_client_connections = 500
handshake_timeout = "2s"
log_level = "debug"
server_version = "5.5.5-10.11.6-MariaDB"
max_allowed_packet = "64MiB"
[listen]
tcp = ["0.0.0.0:6033", "[::1]:6034"]
unix_socket = "/run/longlink/mysql.sock"
unix_socket_mode = "0666"
backlog = 128
[backend]
address = "/run/mysqld/mysqld.sock"
connect_timeout = "500ms"
[pool]
max_connections = 8
min_idle = 2
queue_timeout = 3
[[users]]
name = "app"
password_hash = "*6C8989366EAF75BB670AD8EA7A7FC1176A95CEF4"
[[users]]
name = "cron"
password = ""
)",
                                 "full.toml");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->proxy.workers, 4U);
  EXPECT_EQ(config->proxy.max_client_connections, 500U);
  EXPECT_EQ(config->proxy.handshake_timeout, Milliseconds(2000));
  EXPECT_EQ(config->proxy.max_allowed_packet, 64ULL << 20);
  EXPECT_EQ(config->listen.tcp[1].host, "::1");
  EXPECT_EQ(config->listen.tcp[1].ToString(), "[::1]:6034");
  EXPECT_EQ(config->listen.unix_socket_mode, 0666U);
  EXPECT_EQ(config->backend.address.kind, SocketAddress::Kind::kUnix);
  EXPECT_EQ(config->backend.connect_timeout, Milliseconds(500));
  EXPECT_EQ(config->pool.queue_timeout, Milliseconds(3000));
  EXPECT_EQ(config->users[1].password, "");
}

struct FailureRow {
  const char* name;
  std::string text;
  std::string error;
};

TEST(ConfigTest, ErrorsNameTheKeyAndLine) {
  const std::string users = "[[users]]\nname = \"app\"\npassword = \"x\"\n";
  const std::string backend = "[backend]\naddress = \"127.0.0.1:3306\"\n";
  const std::vector<FailureRow> rows = {
      {"unknown key", backend + "[pool]\nmax_conections = 3\n" + users,
       "t.toml:4: pool.max_conections: unknown key"},
      {"unknown table", backend + "[pools]\n" + users, "t.toml:3: pools: unknown key"},
      {"wrong type", backend + "[pool]\nmax_connections = \"3\"\n" + users,
       "t.toml:4: pool.max_connections: expected an integer"},
      {"zero", backend + "[pool]\nmax_connections = 0\n" + users,
       "t.toml:4: pool.max_connections: must be from 1 to 100000, got 0"},
      {"bad duration", backend + "[pool]\nqueue_timeout = \"5 parsecs\"\n" + users,
       "t.toml:4: pool.queue_timeout: '5 parsecs' is not a duration (examples: 500ms, 5s, 2m, "
       "1h)"},
      {"bad size", "[proxy]\nmax_allowed_packet = \"lots\"\n" + backend + users,
       "t.toml:2: proxy.max_allowed_packet: 'lots' is not a size (examples: 1024, \"64KiB\", "
       "\"16MiB\")"},
      {"bare ipv6", "[backend]\naddress = \"::1:3306\"\n" + users,
       "t.toml:2: backend.address: '::1:3306': write an IPv6 address in brackets: [::1]:3306"},
      {"bad port", "[backend]\naddress = \"db:0\"\n" + users,
       "t.toml:2: backend.address: 'db:0': the port must be a number from 1 to 65535"},
      {"missing backend", users, "backend.address: missing (the server to pool connections to)"},
      {"bad hash", backend + "[[users]]\nname = \"app\"\npassword_hash = \"6C89\"\n", ""},
      {"both secrets",
       backend + "[[users]]\nname = \"app\"\npassword = \"a\"\npassword_hash = \"\"\n",
       "t.toml:3: users.password: user 'app' has both password and password_hash; keep one"},
      {"no secret", backend + "[[users]]\nname = \"app\"\n",
       "t.toml:3: users.password: user 'app' needs password or password_hash"},
      {"duplicate user", backend + users + users, "t.toml: users.name: user 'app' is listed twice"},
      {"no users", backend, "t.toml: users: no [[users]] entry: list the users clients log in as"},
      {"min_idle above max", backend + "[pool]\nmax_connections = 2\nmin_idle = 3\n" + users,
       "t.toml: pool.min_idle: 3 is more than pool.max_connections (2)"},
      {"relative socket", "[listen]\nunix_socket = \"x.sock\"\n" + backend + users,
       "t.toml: listen.unix_socket: 'x.sock' must be an absolute path"},
      {"log level", "[proxy]\nlog_level = \"loud\"\n" + backend + users,
       "t.toml:2: proxy.log_level: 'loud' is not one of error, warning, info, debug"},
      {"not toml", "[backend\n", ""},
  };
  for (const auto& row : rows) {
    auto config = ParseProxyConfig(row.text, "t.toml");
    ASSERT_FALSE(config.ok()) << row.name;
    if (!row.error.empty()) {
      EXPECT_EQ(config.error().message, row.error) << row.name;
    } else {
      EXPECT_TRUE(config.error().message.starts_with("t.toml:")) << config.error().message;
    }
  }
}

TEST(ConfigTest, SocketAddresses) {
  EXPECT_EQ(ParseSocketAddress("localhost:3306")->host, "localhost");
  EXPECT_EQ(ParseSocketAddress("[fe80::1]:6033")->port, 6033);
  EXPECT_EQ(ParseSocketAddress("/tmp/x.sock")->kind, SocketAddress::Kind::kUnix);
  for (const char* bad : {"", "db", "db:", ":3306", "db:70000", "db:x", "[::1]", "fe80::1:5"}) {
    EXPECT_FALSE(ParseSocketAddress(bad).ok()) << bad;
  }
}

TEST(ConfigTest, AcceptsTheSnippetThatDiagnosePrints) {
  diag::DestinationGroup group;
  group.service.address = *diag::IpAddress::Parse("10.0.0.5");
  group.service.port = 3306;
  const std::string snippet = diag::ProxyConfigSnippet(group);
  auto config = ParseProxyConfig(snippet, "snippet.toml");
  ASSERT_TRUE(config.ok()) << config.error().message << "\n" << snippet;
  EXPECT_EQ(config->backend.address.ToString(), "10.0.0.5:3306");
  EXPECT_EQ(config->listen.unix_socket, "/run/longlink/mysql.sock");
  EXPECT_EQ(config->users[0].name, "app");
}

}  // namespace
}  // namespace longlink::config
