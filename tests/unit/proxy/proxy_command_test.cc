// MakeProxyConfig (flags, with and without a config file) and ScrubSecretsFromArguments.
#include "server/proxy_command.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

namespace longlink::proxy {
namespace {

using config::SocketAddress;

SocketAddress Tcp(std::string host, std::uint16_t port) {
  return {.kind = SocketAddress::Kind::kTcp, .host = std::move(host), .port = port};
}

// A file in /tmp with `text`, removed at the end of the test.
class TempFile {
 public:
  explicit TempFile(const std::string& text) {
    const int fd = mkstemp(path_);
    EXPECT_GE(fd, 0);
    if (fd < 0) return;
    EXPECT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
    close(fd);
  }
  ~TempFile() { std::remove(path_); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  std::string path() const { return path_; }

 private:
  char path_[64] = "/tmp/longlink-proxy-command-test-XXXXXX";
};

// An environment variable set for the duration of a test.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) { setenv(name, value, 1); }
  ~ScopedEnv() { unsetenv(name_); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
};

ProxyFlags BackendFlags() {
  ProxyFlags flags;
  flags.backend = "127.0.0.1:3306";
  return flags;
}

TEST(MakeProxyConfig, PasswordFromEnvironment) {
  const ScopedEnv secret("LONGLINK_TEST_PW", "s3cret: with spaces");
  const ScopedEnv empty("LONGLINK_TEST_EMPTY_PW", "");
  unsetenv("LONGLINK_TEST_UNSET_PW");

  ProxyFlags flags = BackendFlags();
  flags.user_password_envs = {"app:LONGLINK_TEST_PW", "cron:LONGLINK_TEST_EMPTY_PW"};
  auto config = MakeProxyConfig(flags);
  ASSERT_TRUE(config.ok()) << config.error().message;
  ASSERT_EQ(config->users.size(), 2U);
  EXPECT_EQ(config->users[0],
            (config::UserSettings{.name = "app", .password = "s3cret: with spaces"}));
  EXPECT_EQ(config->users[1], (config::UserSettings{.name = "cron", .password = ""}));

  flags.user_password_envs = {"app:LONGLINK_TEST_UNSET_PW"};
  auto unset = MakeProxyConfig(flags);
  ASSERT_FALSE(unset.ok());
  EXPECT_EQ(unset.error().message,
            "--user-password-env: user 'app': environment variable LONGLINK_TEST_UNSET_PW is "
            "not set");

  flags.user_password_envs = {"LONGLINK_TEST_PW"};
  auto malformed = MakeProxyConfig(flags);
  ASSERT_FALSE(malformed.ok());
  EXPECT_EQ(malformed.error().message,
            "--user-password-env 'LONGLINK_TEST_PW': expected NAME:SECRET");
}

struct PasswordFileRow {
  const char* name;
  std::string contents;
  std::string password;
};

TEST(MakeProxyConfig, PasswordFromFileIsItsFirstLine) {
  const std::vector<PasswordFileRow> rows = {
      {"newline", "s3cret\n", "s3cret"},
      {"CRLF", "s3cret\r\n", "s3cret"},
      {"no line end", "s3cret", "s3cret"},
      {"only the first line", "first\r\nsecond\n", "first"},
      {"spaces and colons kept", " a:b c \n", " a:b c "},
      {"empty file: empty password", "", ""},
      {"empty first line", "\nsecond\n", ""},
  };
  for (const auto& row : rows) {
    const TempFile file(row.contents);
    ProxyFlags flags = BackendFlags();
    flags.user_password_files = {"app:" + file.path()};
    auto config = MakeProxyConfig(flags);
    ASSERT_TRUE(config.ok()) << row.name << ": " << config.error().message;
    ASSERT_EQ(config->users.size(), 1U) << row.name;
    EXPECT_EQ(config->users[0], (config::UserSettings{.name = "app", .password = row.password}))
        << row.name;
  }

  ProxyFlags flags = BackendFlags();
  flags.user_password_files = {"app:/nonexistent/longlink-password"};
  auto missing = MakeProxyConfig(flags);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message,
            "--user-password-file: user 'app': cannot read /nonexistent/longlink-password: No "
            "such file or directory");
}

// BUG (reported, not fixed here): PasswordFromFile opens a directory without error, getline
// fails, and the user gets the empty password; a read error is not detected either. Enable once
// proxy_command.cc checks the read.
TEST(MakeProxyConfig, PasswordFileThatCannotBeReadIsAnError) {
  ProxyFlags flags = BackendFlags();
  flags.user_password_files = {"app:/tmp"};
  auto directory = MakeProxyConfig(flags);
  ASSERT_FALSE(directory.ok()) << "a directory gave password '"
                               << directory->users.at(0).password.value_or("(none)") << "'";
  EXPECT_TRUE(
      directory.error().message.starts_with("--user-password-file: user 'app': cannot read /tmp: "))
      << directory.error().message;
}

TEST(MakeProxyConfig, FlagsAloneGetTheDefaultListenerUnlessTheyNameOne) {
  ProxyFlags flags = BackendFlags();
  flags.users = {"app:secret"};
  auto tcp_default = MakeProxyConfig(flags);
  ASSERT_TRUE(tcp_default.ok()) << tcp_default.error().message;
  EXPECT_EQ(tcp_default->listen.tcp, std::vector<SocketAddress>{Tcp("127.0.0.1", 6033)});
  EXPECT_EQ(tcp_default->listen.unix_socket, "");

  flags.unix_socket = "/run/longlink/mysql.sock";
  auto unix_only = MakeProxyConfig(flags);
  ASSERT_TRUE(unix_only.ok()) << unix_only.error().message;
  EXPECT_TRUE(unix_only->listen.tcp.empty());
  EXPECT_EQ(unix_only->listen.unix_socket, "/run/longlink/mysql.sock");

  ProxyFlags no_backend;
  no_backend.users = {"app:secret"};
  auto missing = MakeProxyConfig(no_backend);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message,
            "backend.address: missing (the server to pool connections to)");
}

TEST(MakeProxyConfig, FlagsAreLaidOverTheConfigFile) {
  // A file without [backend] and without [listen]: the flags supply both.
  const TempFile file("[pool]\nmax_connections = 8\n[[users]]\nname = \"app\"\npassword = \"a\"\n");
  ProxyFlags flags;
  flags.config_file = file.path();
  flags.backend = "db:3307";
  flags.unix_socket = "/run/longlink/mysql.sock";
  flags.user_hashes = {"cron:*6C8989366EAF75BB670AD8EA7A7FC1176A95CEF4"};
  flags.min_idle = 3;
  auto config = MakeProxyConfig(flags);
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->backend.address, Tcp("db", 3307));
  EXPECT_TRUE(config->listen.tcp.empty());
  EXPECT_EQ(config->listen.unix_socket, "/run/longlink/mysql.sock");
  EXPECT_EQ(config->pool.max_connections, 8U);
  EXPECT_EQ(config->pool.min_idle, 3U);
  ASSERT_EQ(config->users.size(), 2U);
  EXPECT_EQ(config->users[0], (config::UserSettings{.name = "app", .password = "a"}));
  EXPECT_EQ(config->users[1],
            (config::UserSettings{.name = "cron",
                                  .password_hash = "*6C8989366EAF75BB670AD8EA7A7FC1176A95CEF4"}));

  // A flag's error names the flag, not the file.
  flags.backend = "db";
  auto bad_flag = MakeProxyConfig(flags);
  ASSERT_FALSE(bad_flag.ok());
  EXPECT_EQ(bad_flag.error().message, "--backend: 'db': the port is missing (HOST:PORT)");

  // Without --backend the file's missing [backend] is the error.
  flags.backend.clear();
  auto missing = MakeProxyConfig(flags);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message,
            file.path() + ": backend.address: missing (the server to pool connections to)");
}

TEST(MakeProxyConfig, PoolModeFlag) {
  ProxyFlags flags = BackendFlags();
  flags.users = {"app:secret"};
  auto plain = MakeProxyConfig(flags);
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  EXPECT_EQ(plain->pool.mode, config::PoolMode::kSession);  // The default.
  flags.pool_mode = "transaction";
  auto transaction = MakeProxyConfig(flags);
  ASSERT_TRUE(transaction.ok()) << transaction.error().message;
  EXPECT_EQ(transaction->pool.mode, config::PoolMode::kTransaction);
  flags.pool_mode = "statement";
  auto bad = MakeProxyConfig(flags);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message,
            "--pool-mode: 'statement' is not a pool mode: use session or transaction");
}

struct ScrubRow {
  const char* name;
  std::vector<std::string> argv;
  std::vector<std::string> scrubbed;
};

TEST(ScrubSecretsFromArguments, OverwritesOnlyTheSecrets) {
  const std::vector<ScrubRow> rows = {
      {"--user VALUE",
       {"longlink", "proxy", "--user", "app:secret"},
       {"longlink", "proxy", "--user", "app:xxxxxx"}},
      {"--user=VALUE",
       {"longlink", "proxy", "--user=app:secret"},
       {"longlink", "proxy", "--user=app:xxxxxx"}},
      {"--user-hash VALUE",
       {"longlink", "proxy", "--user-hash", "app:*ABC"},
       {"longlink", "proxy", "--user-hash", "app:xxxx"}},
      {"--user-hash=VALUE",
       {"longlink", "proxy", "--user-hash=app:*ABC"},
       {"longlink", "proxy", "--user-hash=app:xxxx"}},
      {"colons in the password",
       {"longlink", "proxy", "--user", "app:a:b"},
       {"longlink", "proxy", "--user", "app:xxx"}},
      {"empty password",
       {"longlink", "proxy", "--user", "app:"},
       {"longlink", "proxy", "--user", "app:"}},
      {"several users",
       {"longlink", "proxy", "--user", "a:1", "--backend", "db:3306", "--user=b:22", "--user-hash",
        "c:*333"},
       {"longlink", "proxy", "--user", "a:x", "--backend", "db:3306", "--user=b:xx", "--user-hash",
        "c:xxxx"}},
      {"no colon: nothing to scrub",
       {"longlink", "proxy", "--user", "app"},
       {"longlink", "proxy", "--user", "app"}},
      {"--user last", {"longlink", "proxy", "--user"}, {"longlink", "proxy", "--user"}},
      {"other flags with colons untouched",
       {"longlink", "proxy", "--backend", "db:3306", "--listen", "0.0.0.0:6033",
        "--user-password-env", "app:PW_VAR", "--user-password-file", "cron:/run/pw",
        "--listen=[::1]:6034"},
       {"longlink", "proxy", "--backend", "db:3306", "--listen", "0.0.0.0:6033",
        "--user-password-env", "app:PW_VAR", "--user-password-file", "cron:/run/pw",
        "--listen=[::1]:6034"}},
      {"a longer flag name is not --user",
       {"longlink", "proxy", "--users=app:secret"},
       {"longlink", "proxy", "--users=app:secret"}},
      {"argv[0] is the program, not a flag", {"--user", "app:secret"}, {"--user", "app:secret"}},
  };
  for (const auto& row : rows) {
    std::vector<std::string> storage = row.argv;
    std::vector<char*> argv;
    for (auto& arg : storage) argv.push_back(arg.data());
    argv.push_back(nullptr);
    ScrubSecretsFromArguments(static_cast<int>(storage.size()), argv.data());
    std::vector<std::string> got;
    for (std::size_t i = 0; i < storage.size(); ++i) got.emplace_back(argv[i]);
    EXPECT_EQ(got, row.scrubbed) << row.name;
  }
}

}  // namespace
}  // namespace longlink::proxy
