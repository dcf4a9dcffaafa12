// longlink: flags and subcommands, nothing else. Each subcommand's work lives in its area.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <clocale>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "diag/diagnose_command.h"
#include "server/proxy_command.h"
#include "version.h"

namespace {

constexpr int kUsageError = 2;

int UsageError(const std::string& command, const std::string& message) {
  std::fprintf(stderr, "longlink %s: %s (see 'longlink %s --help')\n", command.c_str(),
               message.c_str(), command.c_str());
  return kUsageError;
}

bool Utf8Locale() {
  std::setlocale(LC_CTYPE, "");
  const char* codeset = std::setlocale(LC_CTYPE, nullptr);
  for (const char* var : {"LC_ALL", "LC_CTYPE", "LANG"}) {
    const char* v = std::getenv(var);
    if (v && *v)
      return std::strstr(v, "UTF-8") || std::strstr(v, "utf8") || std::strstr(v, "utf-8");
  }
  return codeset && std::strstr(codeset, "UTF-8");
}

struct DiagnoseFlags {
  bool json = false;
  bool prometheus = false;
  double watch = 0;
  bool watch_given = false;
  int count = 0;
  int window = 10;
  std::vector<int> ports;
  std::vector<std::string> destinations;
  std::vector<std::string> states;
  std::string netns;
  std::string source = "auto";
  std::size_t top = 10;
  std::string proxy_admin;
  bool no_color = false;
};

void AddDiagnoseFlags(CLI::App* cmd, DiagnoseFlags* f) {
  auto* json = cmd->add_flag("--json", f->json, "JSON output (schema: docs/DIAGNOSE.md)");
  cmd->add_flag("--prometheus", f->prometheus,
                "Prometheus text exposition, for node_exporter's textfile collector")
      ->excludes(json);
  cmd->add_option("--watch", f->watch, "Repeat every SECONDS (default 2) and show rates")
      ->expected(0, 1)
      ->default_str("2")
      ->option_text("[SECONDS]");
  cmd->add_option("--count", f->count, "With --watch: stop after N samples")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--window", f->window, "Window of the recent close-rate estimate, in seconds")
      ->check(CLI::Range(1, 60))
      ->capture_default_str();
  cmd->add_option("--port", f->ports, "Only sockets with this local or remote port (repeatable)")
      ->check(CLI::Range(1, 65535))
      ->option_text("PORT");
  cmd->add_option("--dst", f->destinations,
                  "Only this service endpoint: ADDR[/PREFIX][:PORT] (repeatable)")
      ->option_text("ADDR[:PORT]");
  cmd->add_option(
         "--state", f->states,
         "Only sockets in this state: time-wait, close-wait, established, ... (repeatable)")
      ->option_text("STATE");
  cmd->add_option("--netns", f->netns, "Inspect another network namespace: NAME or PATH");
  cmd->add_option("--source", f->source, "Where to list sockets from")
      ->check(CLI::IsMember({"auto", "netlink", "proc"}))
      ->capture_default_str();
  cmd->add_option("--top", f->top, "Rows per table and labelled Prometheus series")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--proxy-admin", f->proxy_admin,
                  "Read this longlink proxy admin socket (default: find running proxies and "
                  "their [admin] unix_socket)")
      ->option_text("PATH");
  cmd->add_flag("--no-color", f->no_color, "No colour (also when NO_COLOR is set)");
}

// Turns parsed flags into options; a bad value is a usage error naming it.
longlink::Result<longlink::diag::DiagnoseOptions> MakeDiagnoseOptions(const DiagnoseFlags& f) {
  using namespace longlink::diag;
  DiagnoseOptions o;
  o.format = f.json         ? OutputFormat::kJson
             : f.prometheus ? OutputFormat::kPrometheus
                            : OutputFormat::kText;
  if (f.watch_given) {
    if (!(f.watch > 0) || f.watch > 86400)
      return longlink::Error{"--watch: the interval must be between 0 and 86400 seconds"};
    if (f.prometheus)
      return longlink::Error{
          "--prometheus cannot be combined with --watch; run it from a timer "
          "that writes the textfile collector's file"};
    o.watch_seconds = f.watch;
  } else if (f.count > 0) {
    return longlink::Error{"--count needs --watch"};
  }
  if (f.count > 0) o.count = f.count;
  o.window_seconds = f.window;
  for (int p : f.ports) o.filter.ports.push_back(static_cast<std::uint16_t>(p));
  for (const auto& d : f.destinations) {
    auto parsed = ParseAddressFilter(d);
    if (!parsed) return longlink::Error{"--dst " + parsed.error().message};
    o.filter.services.push_back(*parsed);
  }
  if (!f.states.empty()) {
    o.filter.states = 0;
    for (const auto& s : f.states) {
      auto state = ParseTcpState(s);
      if (!state)
        return longlink::Error{"--state '" + s +
                               "': not a TCP state (time-wait, close-wait, established, "
                               "syn-sent, syn-recv, fin-wait-1, fin-wait-2, last-ack, closing, "
                               "listen, close)"};
      o.filter.states |= StateBit(*state);
    }
  }
  if (!f.netns.empty()) o.netns = f.netns;
  o.source = f.source == "netlink" ? SocketSource::kNetlink
             : f.source == "proc"  ? SocketSource::kProc
                                   : SocketSource::kAuto;
  o.top = f.top;
  if (!f.proxy_admin.empty()) o.proxy_admin = f.proxy_admin;
  const char* no_color = std::getenv("NO_COLOR");
  o.color = !f.no_color && !(no_color && *no_color) && isatty(STDOUT_FILENO);
  // Only the text report draws; loading the locale costs JSON and Prometheus runs for nothing.
  o.unicode = o.format == OutputFormat::kText && Utf8Locale();
  return o;
}

void AddProxyFlags(CLI::App* cmd, longlink::proxy::ProxyFlags* f) {
  cmd->add_option("--config", f->config_file, "Configuration file (TOML; docs/CONFIG.md)")
      ->option_text("FILE");
  cmd->add_option("--check-config", f->check_config_file,
                  "Validate a configuration file, print a summary and exit")
      ->option_text("FILE");
  cmd->add_option("--backend", f->backend, "The server: HOST:PORT or /path/to/mysqld.sock")
      ->option_text("ADDR");
  cmd->add_option("--listen", f->listen, "Listen on HOST:PORT or a socket path (repeatable)")
      ->option_text("ADDR");
  cmd->add_option("--unix-socket", f->unix_socket, "Listen on this Unix socket path")
      ->option_text("PATH");
  cmd->add_option("--user", f->users,
                  "A user and its plaintext password (repeatable; the password is overwritten "
                  "in the process's arguments, but visible until then: prefer "
                  "--user-password-env or --user-password-file)")
      ->option_text("NAME:PASSWORD")
      ->expected(1);  // One value per --user: a second would escape ScrubSecretsFromArguments.
  cmd->add_option("--user-password-env", f->user_password_envs,
                  "A user whose password is in environment variable VAR (repeatable)")
      ->option_text("NAME:VAR")
      ->expected(1);
  cmd->add_option("--user-password-file", f->user_password_files,
                  "A user whose password is the first line of FILE (repeatable)")
      ->option_text("NAME:FILE")
      ->expected(1);
  cmd->add_option("--user-hash", f->user_hashes,
                  "A user and its mysql_native_password hash, *HEX (repeatable)")
      ->option_text("NAME:*HEX")
      ->expected(1);
  cmd->add_option("--pool-size", f->pool_size, "Backend connections per pool (max_connections)")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--max-backend-connections", f->max_backend_connections,
                  "Backend connections of all pools together (backend.max_connections)")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--min-idle", f->min_idle, "Idle backend connections kept open per pool");
  cmd->add_option("--workers", f->workers, "Worker threads (default: one per core)")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--max-clients", f->max_clients, "Client connections accepted at most")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--pool-mode", f->pool_mode,
                  "session: a client keeps its backend connection until it leaves; transaction: "
                  "only while a transaction runs (pool.mode)")
      ->check(CLI::IsMember({"session", "transaction"}));
  cmd->add_option("--queue-timeout", f->queue_timeout,
                  "How long a client waits for a backend connection (e.g. 5s)")
      ->option_text("DURATION");
  cmd->add_option("--handshake-timeout", f->handshake_timeout,
                  "Clients must log in within this time (e.g. 10s)")
      ->option_text("DURATION");
  cmd->add_option("--log-level", f->log_level, "error, warning, info or debug")
      ->check(CLI::IsMember({"error", "warning", "info", "debug"}));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"longlink: find and cure TCP connection churn to databases"};
  app.require_subcommand(1);
  app.set_version_flag("--version", longlink::kVersion, "Print the version");

  auto* version = app.add_subcommand("version", "Print the version");

  DiagnoseFlags flags;
  auto* diagnose = app.add_subcommand(
      "diagnose",
      "Explain this host's TCP sockets: states, churn per destination, CLOSE_WAIT leaks, "
      "ephemeral ports and kernel settings");
  AddDiagnoseFlags(diagnose, &flags);

  longlink::proxy::ProxyFlags proxy_flags;
  auto* proxy = app.add_subcommand(
      "proxy",
      "Run the MySQL/MariaDB pooling proxy: clients connect to it, it keeps a few long-lived "
      "backend connections");
  AddProxyFlags(proxy, &proxy_flags);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion&) {
    std::printf("longlink %s\n", longlink::kVersion);
    return 0;
  } catch (const CLI::ParseError& e) {
    std::string where = diagnose->parsed() ? "diagnose" : proxy->parsed() ? "proxy" : "";
    std::fprintf(stderr, "longlink%s%s: %s (see 'longlink %s--help')\n", where.empty() ? "" : " ",
                 where.c_str(), e.what(), where.empty() ? "" : (where + " ").c_str());
    return kUsageError;
  }

  if (version->parsed()) {
    std::printf("longlink %s\n", longlink::kVersion);
    return 0;
  }
  if (diagnose->parsed()) {
    flags.watch_given = diagnose->count("--watch") > 0;
    auto options = MakeDiagnoseOptions(flags);
    if (!options) return UsageError("diagnose", options.error().message);
    return longlink::diag::RunDiagnose(*options, stdout);
  }
  if (proxy->parsed()) {
    longlink::proxy::ScrubSecretsFromArguments(argc, argv);
    return longlink::proxy::RunProxyCommand(proxy_flags);
  }
  return kUsageError;
}
