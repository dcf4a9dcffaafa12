#include "server/proxy_command.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <tuple>

#include "common/log.h"
#include "server/proxy_server.h"

namespace longlink::proxy {

namespace {

// A duration flag, with the file's syntax and limits ("500ms", "5s", "2m"; bare = seconds).
Result<config::Milliseconds> ParseFlagDuration(const std::string& flag, const std::string& text) {
  auto duration = config::ParseDuration(text);
  if (!duration.ok()) return Error{flag + ": " + duration.error().message};
  if (duration->count() <= 0) return Error{flag + " '" + text + "': must be greater than zero"};
  return *duration;
}

Result<std::pair<std::string, std::string>> SplitUser(const std::string& flag,
                                                      const std::string& text) {
  const auto colon = text.find(':');
  if (colon == std::string::npos || colon == 0) {
    return Error{flag + " '" + text + "': expected NAME:SECRET"};
  }
  return std::make_pair(text.substr(0, colon), text.substr(colon + 1));
}

// The password in environment variable `variable`, for --user-password-env.
Result<std::string> PasswordFromEnvironment(const std::string& user, const std::string& variable) {
  const char* value = std::getenv(variable.c_str());
  if (value == nullptr) {
    return Error{"--user-password-env: user '" + user + "': environment variable " + variable +
                 " is not set"};
  }
  return std::string(value);
}

// The password in file `path` (its first line, without the line end), for
// --user-password-file. The file is read whole (at most kMaxPasswordFile bytes).
Result<std::string> PasswordFromFile(const std::string& user, const std::string& path) {
  constexpr std::size_t kMaxPasswordFile = 64 * 1024;
  auto fail = [&](int error) {
    return Error{"--user-password-file: user '" + user + "': cannot read " + path + ": " +
                 std::strerror(error)};
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(errno);
  std::string text;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      ::close(fd);
      return fail(error);
    }
    if (n == 0 || text.size() >= kMaxPasswordFile) break;
    text.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  std::string password = text.substr(0, text.find('\n'));
  if (!password.empty() && password.back() == '\r') password.pop_back();
  return password;
}

// Lays the flags over `config` (a file's, or the defaults).
Status ApplyFlags(const ProxyFlags& flags, config::ProxyConfig& config) {
  if (!flags.backend.empty()) {
    auto address = config::ParseSocketAddress(flags.backend);
    if (!address.ok()) return Error{"--backend: " + address.error().message};
    config.backend.address = *address;
  }
  if (!flags.listen.empty()) {
    config.listen.tcp.clear();
    for (const auto& text : flags.listen) {
      auto address = config::ParseSocketAddress(text);
      if (!address.ok()) return Error{"--listen: " + address.error().message};
      if (address->kind == config::SocketAddress::Kind::kUnix) {
        config.listen.unix_socket = address->path;
      } else {
        config.listen.tcp.push_back(*address);
      }
    }
  }
  if (!flags.unix_socket.empty()) config.listen.unix_socket = flags.unix_socket;
  // Where each user flag's password comes from: the flag itself, a variable or a file.
  using PasswordSource = Result<std::string> (*)(const std::string& user, const std::string& arg);
  const PasswordSource as_given = [](const std::string&, const std::string& password) {
    return Result<std::string>(password);
  };
  const std::tuple<const char*, const std::vector<std::string>*, PasswordSource> sources[] = {
      {"--user", &flags.users, as_given},
      {"--user-password-env", &flags.user_password_envs, PasswordFromEnvironment},
      {"--user-password-file", &flags.user_password_files, PasswordFromFile}};
  for (const auto& [flag, values, source] : sources) {
    for (const auto& text : *values) {
      auto user = SplitUser(flag, text);
      if (!user.ok()) return user.error();
      auto password = source(user->first, user->second);
      if (!password.ok()) return password.error();
      config.users.push_back({.name = user->first, .password = std::move(*password)});
    }
  }
  for (const auto& text : flags.user_hashes) {
    auto user = SplitUser("--user-hash", text);
    if (!user.ok()) return user.error();
    config.users.push_back({.name = user->first, .password_hash = user->second});
  }
  if (flags.pool_size) config.pool.max_connections = *flags.pool_size;
  if (flags.max_backend_connections) {
    config.backend.max_connections = *flags.max_backend_connections;
  }
  if (flags.min_idle) config.pool.min_idle = *flags.min_idle;
  if (flags.workers) config.proxy.workers = *flags.workers;
  if (flags.max_clients) config.proxy.max_client_connections = *flags.max_clients;
  if (!flags.pool_mode.empty()) {
    const std::optional<config::PoolMode> mode = config::ParsePoolMode(flags.pool_mode);
    if (!mode) {
      return Error{"--pool-mode: '" + flags.pool_mode +
                   "' is not a pool mode: use session or transaction"};
    }
    config.pool.mode = *mode;
  }
  if (!flags.queue_timeout.empty()) {
    auto duration = ParseFlagDuration("--queue-timeout", flags.queue_timeout);
    if (!duration.ok()) return duration.error();
    config.pool.queue_timeout = *duration;
  }
  if (!flags.handshake_timeout.empty()) {
    auto duration = ParseFlagDuration("--handshake-timeout", flags.handshake_timeout);
    if (!duration.ok()) return duration.error();
    config.proxy.handshake_timeout = *duration;
  }
  if (!flags.log_level.empty()) config.proxy.log_level = flags.log_level;
  return Status();
}

// Users given by flags, which never come from the file.
std::size_t FlagUsers(const ProxyFlags& flags) {
  return flags.users.size() + flags.user_password_envs.size() + flags.user_password_files.size() +
         flags.user_hashes.size();
}

// A warning if `path` can be read by every local user and its own [[users]] hold secrets.
void WarnIfSecretsReadable(const std::string& path, const config::ProxyConfig& config,
                           std::size_t flag_users) {
  if (config.users.size() <= flag_users) return;  // The file lists no user.
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0 || (info.st_mode & S_IROTH) == 0) return;
  Log(LogLevel::kWarning, 0,
      "{} holds passwords and is readable by every local user (mode {:04o}): chmod o-r {}", path,
      info.st_mode & 07777, path);
}

}  // namespace

Result<config::ProxyConfig> MakeProxyConfig(const ProxyFlags& flags) {
  const config::ConfigOverlay overlay = [&flags](config::ProxyConfig& config) {
    return ApplyFlags(flags, config);
  };
  if (!flags.config_file.empty()) return config::LoadProxyConfig(flags.config_file, overlay);
  config::ProxyConfig config;
  if (auto applied = overlay(config); !applied.ok()) return applied.error();
  config::ApplyDefaults(config);
  auto valid = config::ValidateProxyConfig(config);
  if (!valid.ok()) return valid.error();
  return config;
}

void ScrubSecretsFromArguments(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    char* value = nullptr;
    for (const char* flag : {"--user", "--user-hash"}) {
      const std::size_t length = std::strlen(flag);
      if (std::strcmp(argv[i], flag) == 0 && i + 1 < argc) {
        value = argv[i + 1];
      } else if (std::strncmp(argv[i], flag, length) == 0 && argv[i][length] == '=') {
        value = argv[i] + length + 1;
      }
    }
    if (value == nullptr) continue;
    char* secret = std::strchr(value, ':');
    if (secret == nullptr) continue;
    for (++secret; *secret != '\0'; ++secret) *secret = 'x';
  }
}

int RunProxyCommand(const ProxyFlags& flags) {
  if (!flags.check_config_file.empty()) {
    ProxyFlags check = flags;
    check.config_file = flags.check_config_file;
    auto config = MakeProxyConfig(check);
    if (!config.ok()) {
      std::fprintf(stderr, "%s\n", config.error().message.c_str());
      return 1;
    }
    std::string listeners;
    for (const auto& address : config->listen.tcp) {
      listeners += (listeners.empty() ? "" : ", ") + address.ToString();
    }
    if (!config->listen.unix_socket.empty()) {
      listeners += (listeners.empty() ? "" : ", ") + config->listen.unix_socket;
    }
    std::printf("%s: OK (backend %s; listening on %s; %zu user%s; pool max_connections=%u)\n",
                flags.check_config_file.c_str(), config->backend.address.ToString().c_str(),
                listeners.c_str(), config->users.size(), config->users.size() == 1 ? "" : "s",
                config->pool.max_connections);
    return 0;
  }
  auto config = MakeProxyConfig(flags);
  if (!config.ok()) {
    std::fprintf(stderr, "longlink proxy: %s\n", config.error().message.c_str());
    return 1;
  }
  if (!flags.config_file.empty())
    WarnIfSecretsReadable(flags.config_file, *config, FlagUsers(flags));
  return RunProxy(*config);
}

}  // namespace longlink::proxy
