// Finds which processes hold given socket inodes, as `ss -p` does: walk /proc/PID/fd and match
// "socket:[INODE]" links. Time-wait mini-sockets have inode 0 and can never be attributed.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace longlink::diag {

struct ProcessInfo {
  int pid = 0;
  std::uint32_t uid = 0;
  std::string command;  // /proc/PID/comm
  std::string cmdline;  // /proc/PID/cmdline, NULs as spaces, cut at 200 characters
};

struct SocketOwners {
  std::vector<ProcessInfo> processes;
  // inode -> index into processes. A socket shared by several processes (after fork) is
  // attributed to the first one found, which is the lowest pid.
  std::unordered_map<std::uint64_t, std::size_t> owner_of;
  // Processes whose fd table could not be read (EACCES without root). When some inodes are
  // left unattributed and this is non-zero, the attribution is partial.
  std::size_t unreadable_processes = 0;

  const ProcessInfo* Find(std::uint64_t inode) const;
};

// Attributes `inodes` to processes by walking proc_root (normally "/proc"). Stops early once
// every inode is found. Costs one readlink per open file descriptor on the host, so callers
// only ask when they have something to attribute.
SocketOwners FindSocketOwners(const std::unordered_set<std::uint64_t>& inodes,
                              const std::string& proc_root = "/proc");

}  // namespace longlink::diag
