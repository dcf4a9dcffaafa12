#include "diag/socket_owners.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

namespace longlink::diag {
namespace {

TEST(SocketOwnersTest, FindsThisProcessBySocketInode) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  struct stat st;
  ASSERT_EQ(fstat(fds[0], &st), 0);
  SocketOwners owners = FindSocketOwners({st.st_ino, 999999999999ULL});
  const ProcessInfo* p = owners.Find(st.st_ino);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->pid, getpid());
  EXPECT_EQ(p->uid, getuid());
  EXPECT_FALSE(p->command.empty());
  EXPECT_NE(p->cmdline.find("diag_test"), std::string::npos) << p->cmdline;
  EXPECT_EQ(owners.Find(999999999999ULL), nullptr);
  close(fds[0]);
  close(fds[1]);
}

TEST(SocketOwnersTest, NothingToFindWalksNothing) {
  SocketOwners owners = FindSocketOwners({});
  EXPECT_TRUE(owners.processes.empty());
  EXPECT_EQ(owners.unreadable_processes, 0u);
}

TEST(SocketOwnersTest, MissingProcRootIsEmptyNotACrash) {
  SocketOwners owners = FindSocketOwners({1}, "/nonexistent-proc");
  EXPECT_TRUE(owners.owner_of.empty());
}

}  // namespace
}  // namespace longlink::diag
