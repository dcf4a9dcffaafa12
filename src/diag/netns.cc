#include "diag/netns.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cstring>

namespace longlink::diag {

Status EnterNetworkNamespace(const std::string& name_or_path) {
  const bool is_path = name_or_path.find('/') != std::string::npos;
  if (!is_path && (name_or_path.empty() || name_or_path == "." || name_or_path == "..")) {
    return Error{"--netns '" + name_or_path + "': not a namespace name"};
  }
  std::string path = is_path ? name_or_path : "/run/netns/" + name_or_path;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) {
      return Error{"--netns '" + name_or_path + "': no such network namespace (" + path +
                   " does not exist; see `ip netns list`)"};
    }
    return Error{"--netns '" + name_or_path + "': cannot open " + path + ": " + strerror(err)};
  }
  int rc = setns(fd, CLONE_NEWNET);
  int err = errno;
  close(fd);
  if (rc != 0) {
    if (err == EPERM) {
      return Error{"--netns '" + name_or_path +
                   "': entering a network namespace needs CAP_SYS_ADMIN (run as root)"};
    }
    return Error{"--netns '" + name_or_path + "': " + path + " is not a network namespace (" +
                 strerror(err) + ")"};
  }
  return {};
}

}  // namespace longlink::diag
