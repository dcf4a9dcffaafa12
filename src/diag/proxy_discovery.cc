#include "diag/proxy_discovery.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <climits>

#include "common/log_text.h"
#include "config/proxy_config.h"

namespace longlink::diag {
namespace {

constexpr std::size_t kMaxCmdline = 64 * 1024;
constexpr std::size_t kMaxPrinted = 512;  // Longest path or message kept for the report.

std::string Printable(std::string_view text) {
  return LogSafe(text.substr(0, std::min(text.size(), kMaxPrinted)));
}

std::vector<std::string> ReadArgv(const std::string& path) {
  std::vector<std::string> argv;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return argv;
  std::string data;
  char buf[4096];
  ssize_t n;
  while (data.size() < kMaxCmdline && (n = read(fd, buf, sizeof buf)) > 0)
    data.append(buf, static_cast<std::size_t>(n));
  close(fd);
  std::size_t start = 0;
  while (start < data.size()) {
    std::size_t end = data.find('\0', start);
    if (end == std::string::npos) end = data.size();
    argv.push_back(data.substr(start, end - start));
    start = end + 1;
  }
  return argv;
}

std::string ReadLink(const std::string& path) {
  char buf[PATH_MAX];
  ssize_t n = readlink(path.c_str(), buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

}  // namespace

std::optional<std::string> ProxyConfigArgument(std::span<const std::string> argv) {
  if (argv.size() < 2 || argv[1] != "proxy") return std::nullopt;
  std::string_view program = argv[0];
  if (auto slash = program.rfind('/'); slash != std::string_view::npos)
    program.remove_prefix(slash + 1);
  if (program != "longlink") return std::nullopt;
  constexpr std::string_view kFlag = "--config";
  for (std::size_t i = 2; i < argv.size(); ++i) {
    std::string_view arg = argv[i];
    if (arg == "--") break;
    if (arg == kFlag) return i + 1 < argv.size() ? argv[i + 1] : std::string();
    if (arg.size() > kFlag.size() && arg.starts_with(kFlag) && arg[kFlag.size()] == '=')
      return std::string(arg.substr(kFlag.size() + 1));
  }
  return std::string();
}

std::vector<FoundProxy> FindProxyProcesses(const std::string& proc_root,
                                           const std::string& own_netns) {
  std::vector<FoundProxy> found;
  DIR* dir = opendir(proc_root.c_str());
  if (!dir) return found;
  while (dirent* entry = readdir(dir)) {
    int pid = 0;
    std::string_view name = entry->d_name;
    auto [ptr, ec] = std::from_chars(name.data(), name.data() + name.size(), pid);
    if (ec != std::errc() || ptr != name.data() + name.size() || pid <= 0) continue;
    const std::string base = proc_root + "/" + std::string(name);
    std::vector<std::string> argv = ReadArgv(base + "/cmdline");
    auto config = ProxyConfigArgument(argv);
    if (!config) continue;
    if (!own_netns.empty()) {
      std::string netns = ReadLink(base + "/ns/net");
      if (!netns.empty() && netns != own_netns) continue;
    }
    FoundProxy proxy{.pid = pid};
    if (!config->empty()) {
      if (config->front() == '/') {
        proxy.config_file = *config;
      } else {
        std::string cwd = ReadLink(base + "/cwd");
        proxy.config_file = (cwd.empty() ? base + "/cwd" : cwd) + "/" + *config;
      }
    }
    found.push_back(std::move(proxy));
  }
  closedir(dir);
  std::sort(found.begin(), found.end(),
            [](const FoundProxy& a, const FoundProxy& b) { return a.pid < b.pid; });
  return found;
}

ProxyStatus DescribeFoundProxy(const FoundProxy& found) {
  ProxyStatus status;
  status.pid = found.pid;
  status.config_file = Printable(found.config_file);
  if (found.config_file.empty()) {
    status.reach = ProxyReach::kNoAdminSocket;
    status.error = "it runs without --config, so it has no admin console";
    return status;
  }
  auto config = config::LoadProxyConfig(found.config_file);
  if (!config) {
    status.reach = ProxyReach::kConfigUnreadable;
    status.error = Printable(config.error().message);
    return status;
  }
  for (const auto& listener : config->listen.tcp)
    status.config.tcp.push_back(Printable(listener.ToString()));
  status.config.unix_socket = Printable(config->listen.unix_socket);
  status.config.backend_address = Printable(config->backend.address.ToString());
  status.config.pool_max_connections = config->pool.max_connections;
  if (config->admin.unix_socket.empty()) {
    status.reach = ProxyReach::kNoAdminSocket;
    status.error = "its config has no [admin] unix_socket";
    return status;
  }
  status.admin_socket = config->admin.unix_socket;
  status.reach = ProxyReach::kUnreachable;  // Until the console answers.
  return status;
}

}  // namespace longlink::diag
