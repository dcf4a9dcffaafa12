#include "proxy/proxy_command.h"

#include <cstdio>

#include "proxy/proxy_server.h"

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

}  // namespace

Result<config::ProxyConfig> MakeProxyConfig(const ProxyFlags& flags) {
  config::ProxyConfig config;
  if (!flags.config_file.empty()) {
    auto loaded = config::LoadProxyConfig(flags.config_file);
    if (!loaded.ok()) return loaded.error();
    config = std::move(*loaded);
  }
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
  if (!flags.unix_socket.empty() && flags.listen.empty() && flags.config_file.empty()) {
    config.listen.tcp.clear();  // Only the socket that was asked for.
  }
  for (const auto& text : flags.users) {
    auto user = SplitUser("--user", text);
    if (!user.ok()) return user.error();
    config.users.push_back({.name = user->first, .password = user->second});
  }
  for (const auto& text : flags.user_hashes) {
    auto user = SplitUser("--user-hash", text);
    if (!user.ok()) return user.error();
    config.users.push_back({.name = user->first, .password_hash = user->second});
  }
  if (flags.pool_size) config.pool.max_connections = *flags.pool_size;
  if (flags.min_idle) config.pool.min_idle = *flags.min_idle;
  if (flags.workers) config.proxy.workers = *flags.workers;
  if (flags.max_clients) config.proxy.max_client_connections = *flags.max_clients;
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
  if (config.listen.tcp.empty() && config.listen.unix_socket.empty()) {
    config.listen.tcp.push_back(
        {.kind = config::SocketAddress::Kind::kTcp, .host = "127.0.0.1", .port = 6033});
  }
  auto valid = config::ValidateProxyConfig(config);
  if (!valid.ok()) return valid.error();
  return config;
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
  return RunProxy(*config);
}

}  // namespace longlink::proxy
