// The floor for `longlink diagnose`'s benchmark: the least work that lists every TCP socket.
// One NETLINK_SOCK_DIAG dump per family (IPv4, IPv6), all states, no extensions, counting sockets
// per state. No grouping, no /proc, no output beyond one line.
// With --one-walk: one TCPDIAG_GETSOCK dump instead, which the kernel answers for both families
// in a single walk of its socket hash, as `longlink diagnose` asks (bench/diagnose.sh reports
// both floors).
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

namespace {

// Sends `request` as a dump request of netlink message type `type`.
template <typename Request>
bool SendDump(int fd, unsigned short type, const Request& request) {
  struct {
    nlmsghdr header;
    Request request;
  } message{{}, request};
  message.header.nlmsg_len = sizeof message;
  message.header.nlmsg_type = type;
  message.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  return send(fd, &message, sizeof message, 0) >= 0;
}

// Sends one dump request of `family`; AF_UNSPEC sends TCPDIAG_GETSOCK, which the kernel
// answers for both families in one walk. Both ask for states 1..11, as longlink does.
bool SendRequest(int fd, int family) {
  if (family == AF_UNSPEC) {
    inet_diag_req request{};
    request.idiag_family = AF_INET;  // ignored: the kernel dumps both families
    request.idiag_states = 0xFFE;
    return SendDump(fd, TCPDIAG_GETSOCK, request);
  }
  inet_diag_req_v2 request{};
  request.sdiag_family = static_cast<unsigned char>(family);
  request.sdiag_protocol = IPPROTO_TCP;
  request.idiag_states = 0xFFE;
  return SendDump(fd, SOCK_DIAG_BY_FAMILY, request);
}

bool Dump(int family, unsigned long counts[16]) {
  int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) return false;
  if (!SendRequest(fd, family)) {
    close(fd);
    return false;
  }
  alignas(nlmsghdr) static unsigned char buffer[64 * 1024];
  for (;;) {
    ssize_t n = recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    for (auto* h = reinterpret_cast<nlmsghdr*>(buffer); NLMSG_OK(h, static_cast<unsigned>(n));
         h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
        close(fd);
        return h->nlmsg_type == NLMSG_DONE;
      }
      auto* m = static_cast<inet_diag_msg*>(NLMSG_DATA(h));
      ++counts[m->idiag_state & 15];
    }
  }
  close(fd);
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  unsigned long counts[16] = {};
  if (argc > 1 && std::strcmp(argv[1], "--one-walk") == 0) {
    if (!Dump(AF_UNSPEC, counts)) {
      std::perror("netlink_floor: one-walk dump");
      return 1;
    }
    std::printf("TIME_WAIT %lu\n", counts[6]);
    return 0;
  }
  if (!Dump(AF_INET, counts)) {
    std::perror("netlink_floor: IPv4 dump");
    return 1;
  }
  Dump(AF_INET6, counts);
  std::printf("TIME_WAIT %lu\n", counts[6]);
  return 0;
}
