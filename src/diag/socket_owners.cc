#include "diag/socket_owners.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <string_view>

namespace longlink::diag {
namespace {

bool ParseInt(std::string_view text, auto* value) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return ec == std::errc() && ptr == text.data() + text.size();
}

std::string ReadSmallFile(int dir_fd, const char* name) {
  int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  char buf[4096];
  ssize_t n = read(fd, buf, sizeof buf);
  close(fd);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

ProcessInfo DescribeProcess(int pid_dir_fd, int pid) {
  ProcessInfo info;
  info.pid = pid;
  struct stat st;
  if (fstat(pid_dir_fd, &st) == 0) info.uid = st.st_uid;
  info.command = ReadSmallFile(pid_dir_fd, "comm");
  while (!info.command.empty() && info.command.back() == '\n') info.command.pop_back();
  info.cmdline = ReadSmallFile(pid_dir_fd, "cmdline");
  while (!info.cmdline.empty() && info.cmdline.back() == '\0') info.cmdline.pop_back();
  std::replace(info.cmdline.begin(), info.cmdline.end(), '\0', ' ');
  if (info.cmdline.size() > 200) info.cmdline.resize(200);
  if (info.cmdline.empty()) info.cmdline = "[" + info.command + "]";
  return info;
}

}  // namespace

const ProcessInfo* SocketOwners::Find(std::uint64_t inode) const {
  auto it = owner_of.find(inode);
  return it == owner_of.end() ? nullptr : &processes[it->second];
}

SocketOwners FindSocketOwners(const std::unordered_set<std::uint64_t>& inodes,
                              const std::string& proc_root) {
  SocketOwners owners;
  if (inodes.empty()) return owners;
  DIR* proc = opendir(proc_root.c_str());
  if (proc == nullptr) return owners;

  constexpr std::string_view kPrefix = "socket:[";
  char link[64];
  while (dirent* entry = readdir(proc)) {
    int pid;
    if (!ParseInt(std::string_view(entry->d_name), &pid)) continue;
    int pid_fd = openat(dirfd(proc), entry->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (pid_fd < 0) continue;  // exited meanwhile
    int fd_dir = openat(pid_fd, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd_dir < 0) {
      if (errno == EACCES || errno == EPERM) ++owners.unreadable_processes;
      close(pid_fd);
      continue;
    }
    DIR* fds = fdopendir(fd_dir);
    if (fds == nullptr) {
      close(fd_dir);
      close(pid_fd);
      continue;
    }
    std::size_t process_index = SIZE_MAX;
    while (dirent* fd_entry = readdir(fds)) {
      if (fd_entry->d_name[0] == '.') continue;
      ssize_t n = readlinkat(dirfd(fds), fd_entry->d_name, link, sizeof link - 1);
      if (n <= static_cast<ssize_t>(kPrefix.size())) continue;
      std::string_view target(link, static_cast<std::size_t>(n));
      if (!target.starts_with(kPrefix) || target.back() != ']') continue;
      std::uint64_t inode;
      if (!ParseInt(target.substr(kPrefix.size(), target.size() - kPrefix.size() - 1), &inode))
        continue;
      if (!inodes.contains(inode) || owners.owner_of.contains(inode)) continue;
      if (process_index == SIZE_MAX) {
        process_index = owners.processes.size();
        owners.processes.push_back(DescribeProcess(pid_fd, pid));
      }
      owners.owner_of.emplace(inode, process_index);
    }
    closedir(fds);
    close(pid_fd);
    if (owners.owner_of.size() == inodes.size()) break;
  }
  closedir(proc);
  return owners;
}

}  // namespace longlink::diag
