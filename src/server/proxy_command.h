// `longlink proxy`: from command-line flags (and an optional config file) to a running proxy.
// The flags are the short form of the config file for the one-backend case (docs/CONFIG.md);
// given together with --config, flags override the file.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "config/proxy_config.h"

namespace longlink::proxy {

struct ProxyFlags {
  std::string config_file;
  std::string check_config_file;
  std::string backend;
  std::vector<std::string> listen;
  std::string unix_socket;
  std::vector<std::string> users;                // NAME:PASSWORD
  std::vector<std::string> user_password_envs;   // NAME:VARIABLE
  std::vector<std::string> user_password_files;  // NAME:PATH
  std::vector<std::string> user_hashes;          // NAME:*HEX
  std::optional<std::uint32_t> pool_size;
  std::optional<std::uint32_t> max_backend_connections;
  std::optional<std::uint32_t> min_idle;
  std::optional<unsigned> workers;
  std::optional<std::uint32_t> max_clients;
  std::string queue_timeout;
  std::string pool_mode;
  std::string handshake_timeout;
  std::string log_level;
};

// The configuration the flags describe, laid over the --config file if one is given (the flags
// may supply what the file lacks). Errors name the flag, or the file and line.
Result<config::ProxyConfig> MakeProxyConfig(const ProxyFlags& flags);

// Overwrites the secret part of every --user NAME:PASSWORD and --user-hash NAME:*HEX in argv
// with 'x', so that /proc/PID/cmdline (readable by every local user) no longer shows it. Call
// after the flags are parsed. The secret was visible until then: prefer --user-password-env or
// --user-password-file.
void ScrubSecretsFromArguments(int argc, char** argv);

// Runs the subcommand: --check-config prints "FILE: OK ..." (exit 0) or the error (exit 1);
// otherwise runs the proxy until a signal. Configuration errors exit 1 with one line.
int RunProxyCommand(const ProxyFlags& flags);

}  // namespace longlink::proxy
