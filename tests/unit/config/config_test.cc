#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "config/proxy_config.h"
#include "diag/analysis.h"
#include "diag/report.h"

namespace longlink::config {
namespace {

constexpr char kBackend[] = "[backend]\naddress = \"127.0.0.1:3306\"\n";
constexpr char kUser[] = "[[users]]\nname = \"app\"\npassword = \"secret\"\n";

SocketAddress Tcp(std::string host, std::uint16_t port) {
  return {.kind = SocketAddress::Kind::kTcp, .host = std::move(host), .port = port};
}

SocketAddress Unix(std::string path) {
  return {.kind = SocketAddress::Kind::kUnix, .path = std::move(path)};
}

// What kBackend + kUser parse to: every default spelled out, so a changed default shows here.
ProxyConfig MinimalConfig() {
  ProxyConfig c;
  c.proxy.workers = 0;
  c.proxy.max_client_connections = 10000;
  c.proxy.handshake_timeout = Milliseconds(10000);
  c.proxy.net_read_timeout = Milliseconds(30000);
  c.proxy.log_level = "info";
  c.proxy.server_version = "";
  c.proxy.max_allowed_packet = 0;
  c.listen.tcp = {Tcp("127.0.0.1", 6033)};
  c.listen.unix_socket = "";
  c.listen.unix_socket_mode = 0660;
  c.listen.backlog = 1024;
  c.backend.address = Tcp("127.0.0.1", 3306);
  c.backend.max_connections = 100;
  c.backend.connect_timeout = Milliseconds(5000);
  c.pool.max_connections = 20;
  c.pool.max_user_connections = 0;
  c.pool.min_idle = 1;
  c.pool.queue_timeout = Milliseconds(5000);
  c.users = {{.name = "app", .password = "secret"}};
  return c;
}

TEST(ConfigTest, MinimalFileGetsEveryDefault) {
  auto config = ParseProxyConfig(std::string(kBackend) + kUser, "min.toml");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(*config, MinimalConfig());
  EXPECT_TRUE(ValidateProxyConfig(*config).ok());
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
  ProxyConfig expected;
  expected.proxy = {.workers = 4,
                    .max_client_connections = 500,
                    .handshake_timeout = Milliseconds(2000),
                    .log_level = "debug",
                    .server_version = "5.5.5-10.11.6-MariaDB",
                    .max_allowed_packet = 64ULL << 20};
  expected.listen = {.tcp = {Tcp("0.0.0.0", 6033), Tcp("::1", 6034)},
                     .unix_socket = "/run/longlink/mysql.sock",
                     .unix_socket_mode = 0666,
                     .backlog = 128};
  expected.backend = {.address = Unix("/run/mysqld/mysqld.sock"),
                      .connect_timeout = Milliseconds(500)};
  expected.pool = {.max_connections = 8, .min_idle = 2, .queue_timeout = Milliseconds(3000)};
  expected.users = {{.name = "app", .password_hash = "*6C8989366EAF75BB670AD8EA7A7FC1176A95CEF4"},
                    {.name = "cron", .password = ""}};
  EXPECT_EQ(*config, expected);
}

// A valid file: kBackend + kUser + `extra`, and what it changes in MinimalConfig().
struct ValidRow {
  const char* name;
  std::string extra;
  std::function<void(ProxyConfig*)> change;
};

TEST(ConfigTest, ValidFiles) {
  const std::vector<ValidRow> rows = {
      {"duration ms", "[pool]\nqueue_timeout = \"500ms\"\n",
       [](ProxyConfig* c) { c->pool.queue_timeout = Milliseconds(500); }},
      {"duration s", "[pool]\nqueue_timeout = \"5s\"\n", [](ProxyConfig*) {}},
      {"admin console and metrics",
       "[admin]\nunix_socket = \"/run/admin.sock\"\ntcp = [\"127.0.0.1:6080\"]\n"
       "users = [{ name = \"ops\", password = \"o\" }, { name = \"ro\", password_hash = "
       "\"*6C8989366EAF75BB670AD8EA7A7FC1176A95CEF4\" }]\nunix_socket_auth = false\n"
       "max_query_digests = 0\nunix_socket_mode = \"0660\"\n"
       "[metrics]\nlisten = \"127.0.0.1:9187\"\n",
       [](ProxyConfig* c) {
         c->admin.unix_socket = "/run/admin.sock";
         c->admin.tcp = {Tcp("127.0.0.1", 6080)};
         c->admin.users = {
             {.name = "ops", .password = "o"},
             {.name = "ro", .password_hash = "*6C8989366EAF75BB670AD8EA7A7FC1176A95CEF4"}};
         c->admin.unix_socket_auth = false;
         c->admin.max_query_digests = 0;
         c->admin.unix_socket_mode = 0660;
         c->metrics.listen = Tcp("127.0.0.1", 9187);
       }},
      {"admin console by peer credentials alone", "[admin]\nunix_socket = \"/run/admin.sock\"\n",
       [](ProxyConfig* c) { c->admin.unix_socket = "/run/admin.sock"; }},
      {"transaction pooling", "[pool]\nmode = \"transaction\"\n",
       [](ProxyConfig* c) { c->pool.mode = PoolMode::kTransaction; }},
      {"session pooling", "[pool]\nmode = \"session\"\n", [](ProxyConfig*) {}},
      {"a user's pool mode",
       "[[users]]\nname = \"cron\"\npassword = \"c\"\npool_mode = \"transaction\"\n",
       [](ProxyConfig* c) {
         c->users.push_back({.name = "cron", .password = "c", .pool_mode = PoolMode::kTransaction});
       }},
      {"duration m", "[proxy]\nhandshake_timeout = \"2m\"\n",
       [](ProxyConfig* c) { c->proxy.handshake_timeout = Milliseconds(120000); }},
      {"duration h", "[backend]\nconnect_timeout = \"1h\"\naddress = \"db:3306\"\n",
       [](ProxyConfig* c) {
         c->backend = {.address = Tcp("db", 3306), .connect_timeout = Milliseconds(3600000)};
       }},
      {"pool timers",
       "[pool]\nkeepalive_interval = \"1s\"\ncheck_delay = \"250ms\"\nmax_idle_time = \"2m\"\n"
       "max_lifetime = \"2h\"\n",
       [](ProxyConfig* c) {
         c->pool.keepalive_interval = Milliseconds(1000);
         c->pool.check_delay = Milliseconds(250);
         c->pool.max_idle_time = Milliseconds(120000);
         c->pool.max_lifetime = Milliseconds(7200000);
       }},
      {"prepared statement limits",
       "[pool]\nmax_prepared_statements = 16\n[proxy]\nmax_client_prepared_statements = 9\n",
       [](ProxyConfig* c) {
         c->pool.max_prepared_statements = 16;
         c->proxy.max_client_prepared_statements = 9;
       }},
      {"backend retry", "[backend]\naddress = \"127.0.0.1:3306\"\nretry_timeout = \"30s\"\n",
       [](ProxyConfig* c) { c->backend.retry_timeout = Milliseconds(30000); }},
      {"duration integer seconds", "[pool]\nqueue_timeout = 7\n",
       [](ProxyConfig* c) { c->pool.queue_timeout = Milliseconds(7000); }},
      {"duration string seconds", "[pool]\nqueue_timeout = \"3\"\n",
       [](ProxyConfig* c) { c->pool.queue_timeout = Milliseconds(3000); }},
      {"size MiB", "[proxy]\nmax_allowed_packet = \"16MiB\"\n",
       [](ProxyConfig* c) { c->proxy.max_allowed_packet = 16ULL << 20; }},
      {"size KiB", "[proxy]\nmax_allowed_packet = \"1024KiB\"\n",
       [](ProxyConfig* c) { c->proxy.max_allowed_packet = 1ULL << 20; }},
      {"size GiB", "[proxy]\nmax_allowed_packet = \"1GiB\"\n",
       [](ProxyConfig* c) { c->proxy.max_allowed_packet = 1ULL << 30; }},
      {"size M", "[proxy]\nmax_allowed_packet = \"16M\"\n",
       [](ProxyConfig* c) { c->proxy.max_allowed_packet = 16ULL << 20; }},
      {"size bytes", "[proxy]\nmax_allowed_packet = 65536\n",
       [](ProxyConfig* c) { c->proxy.max_allowed_packet = 65536; }},
      {"size zero", "[proxy]\nmax_allowed_packet = 0\n", [](ProxyConfig*) {}},
      {"mode octal string", "[listen]\nunix_socket = \"/tmp/l.sock\"\nunix_socket_mode = \"600\"\n",
       [](ProxyConfig* c) {
         c->listen.tcp.clear();
         c->listen.unix_socket = "/tmp/l.sock";
         c->listen.unix_socket_mode = 0600;
       }},
      {"mode integer", "[listen]\nunix_socket_mode = 432\n", [](ProxyConfig*) {}},
      {"mode toml octal", "[listen]\nunix_socket_mode = 0o640\n",
       [](ProxyConfig* c) { c->listen.unix_socket_mode = 0640; }},
      {"tcp as one string", "[listen]\ntcp = \"0.0.0.0:3306\"\n",
       [](ProxyConfig* c) { c->listen.tcp = {Tcp("0.0.0.0", 3306)}; }},
      {"tcp and unix", "[listen]\ntcp = [\"[::]:6033\"]\nunix_socket = \"/tmp/l.sock\"\n",
       [](ProxyConfig* c) {
         c->listen.tcp = {Tcp("::", 6033)};
         c->listen.unix_socket = "/tmp/l.sock";
       }},
      {"empty tcp gets the default", "[listen]\ntcp = []\n", [](ProxyConfig*) {}},
      {"hash in lower case and the empty hash",
       "[[users]]\nname = \"b\"\npassword_hash = \"*6c8989366eaf75bb670ad8ea7a7fc1176a95cef4\"\n"
       "[[users]]\nname = \"c\"\npassword_hash = \"\"\n",
       [](ProxyConfig* c) {
         c->users.push_back(
             {.name = "b", .password_hash = "*6c8989366eaf75bb670ad8ea7a7fc1176a95cef4"});
         c->users.push_back({.name = "c", .password_hash = ""});
       }},
      {"dotted keys",
       "pool.min_idle = 0\nproxy.workers = 2\n[backend]\naddress = \"127.0.0.1:3306\"\n",
       [](ProxyConfig* c) {
         c->pool.min_idle = 0;
         c->proxy.workers = 2;
       }},
      {"backend max_connections lowest",
       "[backend]\naddress = \"127.0.0.1:3306\"\nmax_connections = 1\n",
       [](ProxyConfig* c) { c->backend.max_connections = 1; }},
      {"backend max_connections highest",
       "[backend]\naddress = \"127.0.0.1:3306\"\nmax_connections = 100000\n",
       [](ProxyConfig* c) { c->backend.max_connections = 100000; }},
      {"pool max_user_connections", "[pool]\nmax_user_connections = 50\n",
       [](ProxyConfig* c) { c->pool.max_user_connections = 50; }},
      {"max_user_connections 0 is max_connections", "[pool]\nmax_user_connections = 0\n",
       [](ProxyConfig*) {}},
      {"min_idle equal to max_user_connections", "[pool]\nmax_user_connections = 3\nmin_idle = 3\n",
       [](ProxyConfig* c) {
         c->pool.max_user_connections = 3;
         c->pool.min_idle = 3;
       }},
      {"net_read_timeout", "[proxy]\nnet_read_timeout = \"2m\"\n",
       [](ProxyConfig* c) { c->proxy.net_read_timeout = Milliseconds(120000); }},
      {"net_read_timeout integer seconds", "[proxy]\nnet_read_timeout = 5\n",
       [](ProxyConfig* c) { c->proxy.net_read_timeout = Milliseconds(5000); }},
      {"accounts from the server",
       "[auth]\nuser = \"longlink_lookup\"\npassword = \"s3cret\"\ncache_ttl = \"250ms\"\n",
       [](ProxyConfig* c) {
         c->auth = {
             .user = "longlink_lookup", .password = "s3cret", .cache_ttl = Milliseconds(250)};
       }},
      {"lookups read at every login", "[auth]\nuser = \"lookup\"\ncache_ttl = 0\n",
       [](ProxyConfig* c) { c->auth = {.user = "lookup", .cache_ttl = Milliseconds(0)}; }},
      {"tls toward clients",
       "[client_tls]\ncert = \"/etc/l/c.pem\"\nkey = \"/etc/l/k.pem\"\nca = \"/etc/l/ca.pem\"\n"
       "min_version = \"tls1.3\"\nciphersuites = \"TLS_AES_128_GCM_SHA256\"\n"
       "[listen]\nrequire_tls = true\n",
       [](ProxyConfig* c) {
         c->client_tls = {.cert = "/etc/l/c.pem",
                          .key = "/etc/l/k.pem",
                          .ca = "/etc/l/ca.pem",
                          .min_version = TlsVersion::kTls1_3,
                          .ciphersuites = "TLS_AES_128_GCM_SHA256"};
         c->listen.require_tls = true;
       }},
      {"tls to the backend: the table turns it on", "[backend_tls]\nca = \"/etc/l/ca.pem\"\n",
       [](ProxyConfig* c) { c->backend_tls = {.enabled = true, .ca = "/etc/l/ca.pem"}; }},
      {"tls to the backend: every key",
       "[backend_tls]\nenabled = true\nca_dir = \"/etc/ssl/certs\"\nverify = false\n"
       "server_name = \"db.example\"\ncert = \"c.pem\"\nkey = \"k.pem\"\n"
       "min_version = \"TLSv1.2\"\nmax_version = \"1.3\"\nciphers = \"HIGH\"\n"
       "session_resumption = false\n",
       [](ProxyConfig* c) {
         c->backend_tls = {.enabled = true,
                           .ca_dir = "/etc/ssl/certs",
                           .verify = false,
                           .server_name = "db.example",
                           .cert = "c.pem",
                           .key = "k.pem",
                           .max_version = TlsVersion::kTls1_3,
                           .ciphers = "HIGH",
                           .session_resumption = false};
       }},
      {"tls to the backend turned off", "[backend_tls]\nenabled = false\nca = \"x.pem\"\n",
       [](ProxyConfig* c) { c->backend_tls = {.enabled = false, .ca = "x.pem"}; }},
      {"compression: clients not offered it, the backend link compressed",
       "[proxy]\ncompression = false\n[backend]\naddress = \"127.0.0.1:3306\"\ncompression = "
       "true\n",
       [](ProxyConfig* c) {
         c->proxy.compression = false;
         c->backend.compression = true;
       }},
      {"tls: cert and key only", "[client_tls]\ncert = \"c\"\nkey = \"k\"\n",
       [](ProxyConfig* c) { c->client_tls = {.cert = "c", .key = "k"}; }},
      {"comments and quoting", "# a comment\n[proxy] # trailing\nserver_version = '8.0.36'\n",
       [](ProxyConfig* c) { c->proxy.server_version = "8.0.36"; }},
  };
  for (const auto& row : rows) {
    // [[users]] last: keys after it would belong to the user.
    auto config = ParseProxyConfig(kBackend + row.extra + kUser, "ok.toml");
    if (row.extra.find("[backend]") != std::string::npos) {
      config = ParseProxyConfig(row.extra + kUser, "ok.toml");
    }
    if (row.extra.starts_with("[[users]]")) {
      config = ParseProxyConfig(kBackend + std::string(kUser) + row.extra, "ok.toml");
    }
    ASSERT_TRUE(config.ok()) << row.name << ": " << config.error().message;
    ProxyConfig expected = MinimalConfig();
    row.change(&expected);
    EXPECT_EQ(*config, expected) << row.name;
  }
}

struct FailureRow {
  const char* name;
  std::string text;
  std::string error;
};

TEST(ConfigTest, ErrorsNameTheSourceLineAndKey) {
  const std::string users = kUser;
  const std::string backend = kBackend;
  const std::vector<FailureRow> rows = {
      {"syntax: table header", "[backend\n", "t.toml:1: Error while parsing table header"},
      {"syntax: table twice", backend + "[backend]\n" + users,
       "t.toml:3: Error while parsing table header: cannot redefine existing table 'backend'"},
      {"unknown key", backend + "[pool]\nmax_conections = 3\n" + users,
       "t.toml:4: pool.max_conections: unknown key; expected one of mode, max_connections, "
       "max_user_connections, min_idle, queue_timeout, keepalive_interval, check_delay, "
       "max_idle_time, max_lifetime, max_prepared_statements"},
      {"admin: unknown key", backend + "[admin]\nsocket = \"/run/a.sock\"\n" + users,
       "t.toml:4: admin.socket: unknown key; expected one of unix_socket, unix_socket_mode, tcp, "
       "users, unix_socket_auth, max_query_digests"},
      {"admin: a user without a name",
       backend + "[admin]\nunix_socket = \"/run/a.sock\"\nusers = [{ password = \"x\" }]\n" + users,
       "t.toml:5: admin.users[0].name: missing"},
      {"admin: a user listed twice",
       backend +
           "[admin]\nunix_socket = \"/run/a.sock\"\nusers = [{ name = \"o\", password = "
           "\"x\" }, { name = \"o\", password = \"y\" }]\n" +
           users,
       "t.toml:5: admin.users.name: admin user 'o' is listed twice"},
      {"admin: a relative socket path", backend + "[admin]\nunix_socket = \"admin.sock\"\n" + users,
       "t.toml:4: admin.unix_socket: 'admin.sock' must be an absolute path"},
      {"admin: TCP without users", backend + "[admin]\ntcp = \"127.0.0.1:6080\"\n" + users,
       "t.toml:4: admin.tcp: a TCP admin listener needs admin.users (peer credentials exist only "
       "on the Unix socket)"},
      {"admin: nobody can log in",
       backend + "[admin]\nunix_socket = \"/run/a.sock\"\nunix_socket_auth = false\n" + users,
       "t.toml:3: admin.users: nobody can log in to the admin console: add users or set "
       "unix_socket_auth = true"},
      {"admin: a bad hash",
       backend +
           "[admin]\nunix_socket = \"/run/a.sock\"\nusers = [{ name = \"o\", password_hash = "
           "\"*12\" }]\n" +
           users,
       "t.toml:5: admin.users.password_hash: admin user 'o': mysql_native_password hash: must be "
       "'*' and 40 hex digits, got 3 characters"},
      {"metrics: a socket path", backend + "[metrics]\nlisten = \"/run/m.sock\"\n" + users,
       "t.toml:4: metrics.listen: must be HOST:PORT (Prometheus scrapes over TCP)"},
      {"no prepared statements per connection",
       backend + "[pool]\nmax_prepared_statements = 0\n" + users,
       "t.toml:4: pool.max_prepared_statements: must be from 1 to 1048576, got 0"},
      {"unknown proxy key", "[proxy]\nread_timeout = \"5s\"\n" + backend + users,
       "t.toml:2: proxy.read_timeout: unknown key; expected one of workers, "
       "max_client_connections, handshake_timeout, net_read_timeout, log_level, "
       "server_version, max_allowed_packet, compression, max_client_prepared_statements"},
      {"unknown backend key", backend + "max_conections = 5\n" + users,
       "t.toml:3: backend.max_conections: unknown key; expected one of address, "
       "max_connections, connect_timeout, retry_timeout, compression"},
      {"unknown table", backend + "[pools]\n" + users,
       "t.toml:3: pools: unknown table; expected one of proxy, listen, backend, pool, auth, "
       "client_tls, backend_tls, users, admin, metrics"},
      {"unknown top-level key", "verbose = true\n" + backend + users,
       "t.toml:1: verbose: unknown key; expected one of proxy, listen, backend, pool, auth, "
       "client_tls, backend_tls, users, admin, metrics"},
      {"earliest unknown key", backend + "[pool]\nzz = 1\naa = 2\n" + users,
       "t.toml:4: pool.zz: unknown key; expected one of mode, max_connections, "
       "max_user_connections, min_idle, queue_timeout, keepalive_interval, check_delay, "
       "max_idle_time, max_lifetime, max_prepared_statements"},
      {"unknown user key", backend + users + "passwd = \"x\"\n",
       "t.toml:6: users.passwd: unknown key; expected one of name, password, password_hash, "
       "require_tls, pool_mode"},
      {"wrong type integer", backend + "[pool]\nmax_connections = \"3\"\n" + users,
       "t.toml:4: pool.max_connections: expected an integer, got a string"},
      {"wrong type string", "[proxy]\nlog_level = 3\n" + backend + users,
       "t.toml:2: proxy.log_level: expected a string, got an integer"},
      {"wrong type table", "proxy = 1\n" + backend + users,
       "t.toml:1: proxy: expected a table [proxy], got an integer"},
      {"users not tables", backend + "[users]\nname = \"app\"\n",
       "t.toml:3: users: expected [[users]] tables, got a table"},
      {"tcp not an array", "[listen]\ntcp = 6033\n" + backend + users,
       "t.toml:2: listen.tcp: expected an array of \"HOST:PORT\" strings, got an integer"},
      {"tcp element", "[listen]\ntcp = [\"127.0.0.1:1\", 2]\n" + backend + users,
       "t.toml:2: listen.tcp: expected a string such as \"127.0.0.1:3306\", got an integer"},
      {"zero connections", backend + "[pool]\nmax_connections = 0\n" + users,
       "t.toml:4: pool.max_connections: must be from 1 to 100000, got 0"},
      {"bad duration", backend + "[pool]\nqueue_timeout = \"5 parsecs\"\n" + users,
       "t.toml:4: pool.queue_timeout: '5 parsecs' is not a duration (examples: 500ms, 5s, 2m, "
       "1h)"},
      {"duration float", backend + "[pool]\nqueue_timeout = 1.5\n" + users,
       "t.toml:4: pool.queue_timeout: expected a duration (\"500ms\", \"5s\", \"2m\", \"1h\") "
       "or seconds, got a float"},
      {"zero duration", "[proxy]\nhandshake_timeout = \"0s\"\n" + backend + users,
       "t.toml:2: proxy.handshake_timeout: must be greater than zero"},
      {"negative duration", backend + "connect_timeout = -5\n" + users,
       "t.toml:3: backend.connect_timeout: must be greater than zero"},
      {"huge duration", backend + "[pool]\nqueue_timeout = \"9999999999999999h\"\n" + users,
       "t.toml:4: pool.queue_timeout: '9999999999999999h' is too long"},
      {"bad size", "[proxy]\nmax_allowed_packet = \"lots\"\n" + backend + users,
       "t.toml:2: proxy.max_allowed_packet: 'lots' is not a size (examples: 1024, \"64KiB\", "
       "\"16MiB\")"},
      {"decimal size unit", "[proxy]\nmax_allowed_packet = \"16MB\"\n" + backend + users,
       "t.toml:2: proxy.max_allowed_packet: '16MB' is not a size (examples: 1024, \"64KiB\", "
       "\"16MiB\")"},
      {"size too large", "[proxy]\nmax_allowed_packet = \"2GiB\"\n" + backend + users,
       "t.toml:2: proxy.max_allowed_packet: must be at most 1GiB, got 2147483648"},
      {"negative size", "[proxy]\nmax_allowed_packet = -1\n" + backend + users,
       "t.toml:2: proxy.max_allowed_packet: must not be negative, got -1"},
      {"decimal mode", "[listen]\nunix_socket_mode = 660\n" + backend + users,
       "t.toml:2: listen.unix_socket_mode: 01224 is not a file mode (at most 0777); write octal "
       "as a string: \"0660\""},
      {"bad mode", "[listen]\nunix_socket_mode = \"rw\"\n" + backend + users,
       "t.toml:2: listen.unix_socket_mode: 'rw' is not an octal mode like \"0660\""},
      {"bare ipv6", "[backend]\naddress = \"::1:3306\"\n" + users,
       "t.toml:2: backend.address: '::1:3306': write an IPv6 address in brackets: [::1]:3306"},
      {"bad port", "[backend]\naddress = \"db:0\"\n" + users,
       "t.toml:2: backend.address: 'db:0': the port must be a number from 1 to 65535"},
      {"relative socket path", "[backend]\naddress = \"mysqld.sock\"\n" + users,
       "t.toml:2: backend.address: 'mysqld.sock': a Unix socket path must be absolute (start "
       "with '/')"},
      {"missing backend", users,
       "t.toml: backend.address: missing (the server to pool "
       "connections to)"},
      {"backend without address", "[backend]\nconnect_timeout = \"1s\"\n" + users,
       "t.toml:1: backend.address: missing (the server to pool connections to)"},
      {"path in listen.tcp", "[listen]\ntcp = [\"/tmp/a.sock\"]\n" + backend + users,
       "t.toml:2: listen.tcp: '/tmp/a.sock' is a path: use listen.unix_socket"},
      {"duplicate listener", "[listen]\ntcp = [\"0.0.0.0:1\", \"0.0.0.0:1\"]\n" + backend + users,
       "t.toml:2: listen.tcp: '0.0.0.0:1' is listed twice"},
      {"relative unix socket", "[listen]\nunix_socket = \"x.sock\"\n" + backend + users,
       "t.toml:2: listen.unix_socket: 'x.sock' must be an absolute path"},
      {"log level", "[proxy]\nlog_level = \"loud\"\n" + backend + users,
       "t.toml:2: proxy.log_level: 'loud' is not one of error, warning, info, debug"},
      {"user pool mode", backend + "[[users]]\nname = \"a\"\npassword = \"\"\npool_mode = \"x\"\n",
       "t.toml:6: users.pool_mode: 'x' is not a pool mode: use \"session\" or \"transaction\""},
      {"pool mode", "[pool]\nmode = \"statement\"\n" + backend + users,
       "t.toml:2: pool.mode: 'statement' is not a pool mode: use \"session\" or \"transaction\""},
      {"too many workers", "[proxy]\nworkers = 2000\n" + backend + users,
       "t.toml:2: proxy.workers: must be from 0 to 1024, got 2000"},
      {"bad hash", backend + "[[users]]\nname = \"app\"\npassword_hash = \"6C89\"\n",
       "t.toml:5: users.password_hash: user 'app': mysql_native_password hash: must start with "
       "'*' (the form PASSWORD() and mysql.user use)"},
      {"short hash", backend + "[[users]]\nname = \"app\"\npassword_hash = \"*6C89\"\n",
       "t.toml:5: users.password_hash: user 'app': mysql_native_password hash: must be '*' and "
       "40 hex digits, got 5 characters"},
      {"both secrets",
       backend + "[[users]]\nname = \"app\"\npassword = \"a\"\npassword_hash = \"\"\n",
       "t.toml:3: users.password: user 'app' has both password and password_hash; keep one"},
      {"no secret", backend + "[[users]]\nname = \"app\"\n",
       "t.toml:3: users.password: user 'app' needs password or password_hash"},
      {"no name", backend + "[[users]]\npassword = \"x\"\n", "t.toml:3: users.name: missing"},
      {"empty name", backend + "[[users]]\nname = \"\"\npassword = \"x\"\n",
       "t.toml:4: users.name: must not be empty"},
      {"duplicate user", backend + users + users,
       "t.toml:7: users.name: user 'app' is listed twice"},
      {"no users", backend,
       "t.toml: users: no [[users]] entry and no [auth] user: list the users clients log in "
       "as, or name an account to read them from the server with"},
      {"unknown auth key", backend + "[auth]\nuser = \"lookup\"\npasswd = \"x\"\n" + users,
       "t.toml:5: auth.passwd: unknown key; expected one of user, password, cache_ttl"},
      {"negative cache_ttl", backend + "[auth]\nuser = \"lookup\"\ncache_ttl = -1\n" + users,
       "t.toml:5: auth.cache_ttl: must not be negative"},
      {"min_idle above max", backend + "[pool]\nmax_connections = 2\nmin_idle = 3\n" + users,
       "t.toml:5: pool.min_idle: 3 is more than pool.max_connections (2)"},
      {"zero backend connections", backend + "max_connections = 0\n" + users,
       "t.toml:3: backend.max_connections: must be from 1 to 100000, got 0"},
      {"too many backend connections", backend + "max_connections = 100001\n" + users,
       "t.toml:3: backend.max_connections: must be from 1 to 100000, got 100001"},
      {"backend max_connections not an integer", backend + "max_connections = \"5\"\n" + users,
       "t.toml:3: backend.max_connections: expected an integer, got a string"},
      {"min_idle above backend max_connections",
       backend + "max_connections = 2\n[pool]\nmin_idle = 3\n" + users,
       "t.toml:5: pool.min_idle: 3 is more than backend.max_connections (2)"},
      {"min_idle above max_user_connections",
       backend + "[pool]\nmax_user_connections = 2\nmin_idle = 3\n" + users,
       "t.toml:5: pool.min_idle: 3 is more than pool.max_user_connections (2)"},
      {"negative max_user_connections", backend + "[pool]\nmax_user_connections = -1\n" + users,
       "t.toml:4: pool.max_user_connections: must be from 0 to 100000, got -1"},
      {"client cert without key", backend + "[client_tls]\ncert = \"c.pem\"\n" + users,
       "t.toml:3: client_tls.key: missing: cert is set, name its private key too"},
      {"client ca without cert", backend + "[client_tls]\nca = \"ca.pem\"\n" + users,
       "t.toml:3: client_tls.cert: missing: TLS toward clients needs a certificate and its key"},
      {"backend key without cert", backend + "[backend_tls]\nkey = \"k.pem\"\n" + users,
       "t.toml:3: backend_tls.cert: missing: key is set, name its certificate too"},
      {"bad tls version", backend + "[backend_tls]\nmin_version = \"SSLv3\"\n" + users,
       "t.toml:4: backend_tls.min_version: 'SSLv3' is not a TLS version (TLSv1.2 or TLSv1.3; "
       "TLSv1, TLSv1.1)"},
      {"versions out of order",
       backend + "[backend_tls]\nmin_version = \"1.3\"\nmax_version = \"1.2\"\n" + users,
       "t.toml:5: backend_tls.max_version: TLSv1.2 is lower than min_version (TLSv1.3)"},
      {"verify is a boolean", backend + "[backend_tls]\nverify = \"yes\"\n" + users,
       "t.toml:4: backend_tls.verify: expected true or false, got a string"},
      {"unknown tls key", backend + "[client_tls]\ncertificate = \"c\"\n" + users,
       "t.toml:4: client_tls.certificate: unknown key; expected one of cert, key, ca, "
       "min_version, max_version, ciphers, ciphersuites"},
      {"require_tls without tls", backend + "[listen]\nrequire_tls = true\n" + users,
       "t.toml:4: listen.require_tls: TCP clients cannot use TLS without [client_tls] cert and "
       "key"},
      {"a user that cannot log in",
       "[listen]\ntcp = \"127.0.0.1:6033\"\n" + backend +
           "[[users]]\nname = \"app\"\npassword = \"x\"\nrequire_tls = true\n",
       "t.toml:8: users.require_tls: user 'app' cannot log in: require_tls needs [client_tls] "
       "cert and key"},
      {"zero net_read_timeout", "[proxy]\nnet_read_timeout = \"0s\"\n" + backend + users,
       "t.toml:2: proxy.net_read_timeout: must be greater than zero"},
      {"bad net_read_timeout", "[proxy]\nnet_read_timeout = \"soon\"\n" + backend + users,
       "t.toml:2: proxy.net_read_timeout: 'soon' is not a duration (examples: 500ms, 5s, 2m, "
       "1h)"},
  };
  for (const auto& row : rows) {
    auto config = ParseProxyConfig(row.text, "t.toml");
    ASSERT_FALSE(config.ok()) << row.name;
    if (std::string_view(row.name).starts_with("syntax")) {
      // toml++ words syntax errors itself; the prefix is ours.
      EXPECT_TRUE(config.error().message.starts_with(row.error)) << config.error().message;
    } else {
      EXPECT_EQ(config.error().message, row.error) << row.name;
    }
  }
}

// Configs built by flags: the same rules, without source and line.
struct InvalidRow {
  const char* name;
  std::function<void(ProxyConfig*)> change;
  std::string error;
};

TEST(ConfigTest, ValidateChecksConfigsFromFlags) {
  const std::vector<InvalidRow> rows = {
      {"no backend", [](ProxyConfig* c) { c->backend.address = {}; },
       "backend.address: missing (the server to pool connections to)"},
      {"relative backend path", [](ProxyConfig* c) { c->backend.address = Unix("db.sock"); },
       "backend.address: 'db.sock' must be an absolute path"},
      {"no listener", [](ProxyConfig* c) { c->listen.tcp.clear(); },
       "listen: no listener: set listen.tcp or listen.unix_socket"},
      {"long socket path",
       [](ProxyConfig* c) { c->listen.unix_socket = "/" + std::string(107, 'x'); },
       "listen.unix_socket: '/" + std::string(107, 'x') + "' is longer than 107 bytes"},
      {"no users", [](ProxyConfig* c) { c->users.clear(); },
       "users: no [[users]] entry and no [auth] user: list the users clients log in as, or "
       "name an account to read them from the server with"},
      {"empty name", [](ProxyConfig* c) { c->users[0].name = ""; },
       "users.name: must not be empty"},
      {"duplicate", [](ProxyConfig* c) { c->users.push_back({.name = "app", .password = "y"}); },
       "users.name: user 'app' is listed twice"},
      {"bad hash", [](ProxyConfig* c) { c->users = {{.name = "h", .password_hash = "*xyz"}}; },
       "users.password_hash: user 'h': mysql_native_password hash: must be '*' and 40 hex "
       "digits, got 4 characters"},
      {"non-hex hash",
       [](ProxyConfig* c) {
         c->users = {{.name = "h", .password_hash = "*G000000000000000000000000000000000000000"}};
       },
       "users.password_hash: user 'h': mysql_native_password hash: 'G' at position 1 is not a "
       "hex digit"},
      {"pool size zero", [](ProxyConfig* c) { c->pool.max_connections = 0; },
       "pool.max_connections: must be at least 1, got 0"},
      {"min_idle", [](ProxyConfig* c) { c->pool.min_idle = 21; },
       "pool.min_idle: 21 is more than pool.max_connections (20)"},
      {"queue timeout", [](ProxyConfig* c) { c->pool.queue_timeout = Milliseconds(0); },
       "pool.queue_timeout: must be greater than zero"},
      {"keepalive", [](ProxyConfig* c) { c->pool.keepalive_interval = Milliseconds(0); },
       "pool.keepalive_interval: must be greater than zero"},
      {"max lifetime", [](ProxyConfig* c) { c->pool.max_lifetime = Milliseconds(0); },
       "pool.max_lifetime: must be greater than zero"},
      {"retry timeout", [](ProxyConfig* c) { c->backend.retry_timeout = Milliseconds(0); },
       "backend.retry_timeout: must be greater than zero"},
      {"workers", [](ProxyConfig* c) { c->proxy.workers = 1025; },
       "proxy.workers: must be from 0 to 1024, got 1025"},
      {"max clients", [](ProxyConfig* c) { c->proxy.max_client_connections = 0; },
       "proxy.max_client_connections: must be at least 1, got 0"},
      {"log level", [](ProxyConfig* c) { c->proxy.log_level = "trace"; },
       "proxy.log_level: 'trace' is not one of error, warning, info, debug"},
      {"backend connections zero", [](ProxyConfig* c) { c->backend.max_connections = 0; },
       "backend.max_connections: must be at least 1, got 0"},
      {"min_idle above backend connections",
       [](ProxyConfig* c) {
         c->backend.max_connections = 4;
         c->pool.min_idle = 5;
       },
       "pool.min_idle: 5 is more than backend.max_connections (4)"},
      {"min_idle above user connections",
       [](ProxyConfig* c) {
         c->pool.max_user_connections = 2;
         c->pool.min_idle = 3;
       },
       "pool.min_idle: 3 is more than pool.max_user_connections (2)"},
      {"net read timeout", [](ProxyConfig* c) { c->proxy.net_read_timeout = Milliseconds(0); },
       "proxy.net_read_timeout: must be greater than zero"},
  };
  EXPECT_TRUE(ValidateProxyConfig(MinimalConfig()).ok());
  for (const auto& row : rows) {
    ProxyConfig config = MinimalConfig();
    row.change(&config);
    auto status = ValidateProxyConfig(config);
    ASSERT_FALSE(status.ok()) << row.name;
    EXPECT_EQ(status.error().message, row.error) << row.name;
  }
}

// A file and an overlay (the command line's flags) laid over it before validation.
struct OverlayRow {
  const char* name;
  std::string text;
  ConfigOverlay overlay;
  std::function<void(ProxyConfig*)> change;  // To MinimalConfig().
};

TEST(ConfigTest, AnAuthUserStandsInForTheUserList) {
  ProxyConfig config = MinimalConfig();
  config.users.clear();
  config.auth.user = "longlink_lookup";
  EXPECT_TRUE(ValidateProxyConfig(config).ok());
  auto parsed = ParseProxyConfig(kBackend + std::string("[auth]\nuser = \"lookup\"\n"), "t.toml");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_TRUE(parsed->users.empty());
  EXPECT_EQ(parsed->auth.cache_ttl, Milliseconds(1000));
}

TEST(ConfigTest, OverlayIsLaidOverTheFileBeforeDefaultsAndValidation) {
  const std::string users = kUser;
  const std::string backend = kBackend;
  const std::vector<OverlayRow> rows = {
      {"no overlay", backend + users, {}, [](ProxyConfig*) {}},
      {"overlay supplies the missing backend", users,
       [](ProxyConfig& c) {
         c.backend.address = Tcp("db", 3307);
         return Status();
       },
       [](ProxyConfig* c) { c->backend.address = Tcp("db", 3307); }},
      {"overlay supplies the missing users", backend,
       [](ProxyConfig& c) {
         c.users.push_back({.name = "app", .password = "secret"});
         return Status();
       },
       [](ProxyConfig*) {}},
      {"overlay wins over the file", backend + "[pool]\nmax_connections = 8\n" + users,
       [](ProxyConfig& c) {
         c.pool.max_connections = 4;
         return Status();
       },
       [](ProxyConfig* c) { c->pool.max_connections = 4; }},
      {"overlay sees the file's values", backend + "[pool]\nmax_connections = 8\n" + users,
       [](ProxyConfig& c) {
         c.pool.min_idle = c.pool.max_connections;
         return Status();
       },
       [](ProxyConfig* c) {
         c->pool.max_connections = 8;
         c->pool.min_idle = 8;
       }},
      {"overlay with only a unix socket: no TCP listener", backend + users,
       [](ProxyConfig& c) {
         c.listen.unix_socket = "/run/longlink/mysql.sock";
         return Status();
       },
       [](ProxyConfig* c) {
         c->listen.tcp.clear();
         c->listen.unix_socket = "/run/longlink/mysql.sock";
       }},
      {"overlay TCP listener replaces the default", backend + users,
       [](ProxyConfig& c) {
         c.listen.tcp = {Tcp("0.0.0.0", 3306)};
         return Status();
       },
       [](ProxyConfig* c) { c->listen.tcp = {Tcp("0.0.0.0", 3306)}; }},
      {"file listener kept under an overlay",
       "[listen]\ntcp = [\"0.0.0.0:7000\"]\n" + backend + users,
       [](ProxyConfig&) { return Status(); },
       [](ProxyConfig* c) { c->listen.tcp = {Tcp("0.0.0.0", 7000)}; }},
  };
  for (const auto& row : rows) {
    auto config = ParseProxyConfig(row.text, "t.toml", row.overlay);
    ASSERT_TRUE(config.ok()) << row.name << ": " << config.error().message;
    ProxyConfig expected = MinimalConfig();
    row.change(&expected);
    EXPECT_EQ(*config, expected) << row.name;
  }
}

TEST(ConfigTest, OverlayErrorsAndWhatTheOverlayBreaks) {
  const std::string users = kUser;
  const std::string backend = kBackend;
  // The overlay's error is returned as it is: it names the flag, not the file.
  auto failed = ParseProxyConfig(users, "t.toml", [](ProxyConfig&) -> Status {
    return Error{"--backend: 'db': the port is missing (HOST:PORT)"};
  });
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().message, "--backend: 'db': the port is missing (HOST:PORT)");

  // A file error comes first: the overlay is not even run.
  bool ran = false;
  auto bad_file = ParseProxyConfig(backend + "[pool]\nmax_conections = 3\n" + users, "t.toml",
                                   [&ran](ProxyConfig&) {
                                     ran = true;
                                     return Status();
                                   });
  ASSERT_FALSE(bad_file.ok());
  EXPECT_TRUE(bad_file.error().message.starts_with("t.toml:4: pool.max_conections: unknown key"))
      << bad_file.error().message;
  EXPECT_FALSE(ran);

  // What the overlay sets is validated too.
  auto invalid = ParseProxyConfig(backend + users, "t.toml", [](ProxyConfig& c) {
    c.backend.max_connections = 0;
    return Status();
  });
  ASSERT_FALSE(invalid.ok());
  EXPECT_TRUE(
      invalid.error().message.ends_with("backend.max_connections: must be at least 1, got 0"))
      << invalid.error().message;

  // Without [backend] and without an overlay, the address is still missing.
  auto missing = ParseProxyConfig(users, "t.toml", [](ProxyConfig&) { return Status(); });
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message,
            "t.toml: backend.address: missing (the server to pool connections to)");
}

TEST(ConfigTest, ApplyDefaultsAddsTheTcpListenerOnlyWithoutAnyListener) {
  struct Row {
    const char* name;
    ListenSettings listen;
    std::vector<SocketAddress> tcp;  // After ApplyDefaults.
  };
  const std::vector<Row> rows = {
      {"no listener", {}, {Tcp("127.0.0.1", 6033)}},
      {"unix socket only", {.unix_socket = "/tmp/l.sock"}, {}},
      {"tcp given", {.tcp = {Tcp("::", 3306)}}, {Tcp("::", 3306)}},
      {"both given", {.tcp = {Tcp("::", 3306)}, .unix_socket = "/tmp/l.sock"}, {Tcp("::", 3306)}},
  };
  for (const auto& row : rows) {
    ProxyConfig config;
    config.listen = row.listen;
    ApplyDefaults(config);
    EXPECT_EQ(config.listen.tcp, row.tcp) << row.name;
    EXPECT_EQ(config.listen.unix_socket, row.listen.unix_socket) << row.name;
    // Applying them again changes nothing.
    const ProxyConfig once = config;
    ApplyDefaults(config);
    EXPECT_EQ(config, once) << row.name;
  }
}

TEST(ConfigTest, SocketAddresses) {
  const std::vector<std::pair<std::string, SocketAddress>> good = {
      {"1.2.3.4:5", Tcp("1.2.3.4", 5)},
      {"[::1]:6033", Tcp("::1", 6033)},
      {"localhost:3306", Tcp("localhost", 3306)},
      {"db-1.example.com:65535", Tcp("db-1.example.com", 65535)},
      {"/run/mysqld/mysqld.sock", Unix("/run/mysqld/mysqld.sock")},
  };
  for (const auto& [text, expected] : good) {
    auto address = ParseSocketAddress(text);
    ASSERT_TRUE(address.ok()) << text << ": " << address.error().message;
    EXPECT_EQ(*address, expected) << text;
    EXPECT_EQ(address->ToString(), text);
  }
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"", "empty address"},
      {"db", "'db': the port is missing (HOST:PORT)"},
      {"db:", "'db:': the port is missing"},
      {":3306", "':3306': the host is missing"},
      {"db:0", "'db:0': the port must be a number from 1 to 65535"},
      {"db:65536", "'db:65536': the port must be a number from 1 to 65535"},
      {"db:x", "'db:x': the port must be a number from 1 to 65535"},
      {"[::1]", "'[::1]': the port is missing ([IPv6]:PORT)"},
      {"[::1", "'[::1': missing ']'"},
      {"[1.2.3.4]:5", "'[1.2.3.4]:5': brackets are for IPv6 addresses"},
      {"fe80::1", "'fe80::1': write an IPv6 address in brackets: [fe80:]:1"},
      {"db host:1", "'db host:1': ' ' cannot appear in a host name"},
      {"run/mysqld.sock",
       "'run/mysqld.sock': a Unix socket path must be absolute (start with "
       "'/')"},
  };
  for (const auto& [text, error] : bad) {
    auto address = ParseSocketAddress(text);
    ASSERT_FALSE(address.ok()) << text;
    EXPECT_EQ(address.error().message, error) << text;
  }
}

TEST(ConfigTest, DurationsAndSizes) {
  EXPECT_EQ(*ParseDuration("500ms"), Milliseconds(500));
  EXPECT_EQ(*ParseDuration("5s"), Milliseconds(5000));
  EXPECT_EQ(*ParseDuration("2m"), Milliseconds(120000));
  EXPECT_EQ(*ParseDuration("1h"), Milliseconds(3600000));
  EXPECT_EQ(*ParseDuration("7"), Milliseconds(7000));
  for (const char* bad : {"", "s", "5 s", "5sec", "1.5s", "5S", "1m30s"}) {
    EXPECT_FALSE(ParseDuration(bad).ok()) << bad;
  }
  EXPECT_EQ(*ParseSize("16MiB"), 16ULL << 20);
  EXPECT_EQ(*ParseSize("16M"), 16ULL << 20);
  EXPECT_EQ(*ParseSize("1024KiB"), 1ULL << 20);
  EXPECT_EQ(*ParseSize("64k"), 64ULL << 10);
  EXPECT_EQ(*ParseSize("1GiB"), 1ULL << 30);
  EXPECT_EQ(*ParseSize("100"), 100U);
  for (const char* bad : {"", "MiB", "16MB", "16 MiB", "-1", "1.5G"}) {
    EXPECT_FALSE(ParseSize(bad).ok()) << bad;
  }
  EXPECT_EQ(ParseSize("99999999999G").error().message, "'99999999999G' is too large");
}

TEST(ConfigTest, LoadReadsAFileAndNamesIt) {
  auto missing = LoadProxyConfig("/nonexistent/longlink.toml");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message,
            "cannot read /nonexistent/longlink.toml: No such file or directory");

  char path[] = "/tmp/longlink-config-test-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  const std::string text = std::string(kBackend) + kUser + "[pool]\nmin_idle = 99\n";
  ASSERT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(fd);
  auto config = LoadProxyConfig(path);
  std::remove(path);
  ASSERT_FALSE(config.ok());
  // Lines 1-2 [backend], 3-5 [[users]], 6-7 [pool].
  EXPECT_EQ(config.error().message,
            std::string(path) + ":7: pool.min_idle: 99 is more than pool.max_connections (20)");
}

TEST(ConfigTest, AcceptsTheSnippetThatDiagnosePrints) {
  diag::DestinationGroup group;
  group.service.address = *diag::IpAddress::Parse("10.0.0.5");
  group.service.port = 3306;
  const std::string snippet = diag::ProxyConfigSnippet(group);
  auto config = ParseProxyConfig(snippet, "snippet.toml");
  ASSERT_TRUE(config.ok()) << config.error().message << "\n" << snippet;
  EXPECT_EQ(config->backend.address, Tcp("10.0.0.5", 3306));
  EXPECT_EQ(config->listen.unix_socket, "/run/longlink/mysql.sock");
  EXPECT_EQ(config->listen.tcp, std::vector<SocketAddress>{Tcp("127.0.0.1", 6033)});
  EXPECT_EQ(config->pool.max_connections, 8U);
  EXPECT_EQ(config->pool.min_idle, 2U);
  ASSERT_EQ(config->users.size(), 1U);
  EXPECT_EQ(config->users[0].name, "app");
  EXPECT_EQ(config->users[0].password_hash, "*" + std::string(40, '0'));
}

}  // namespace
}  // namespace longlink::config
