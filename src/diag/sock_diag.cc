#include "diag/sock_diag.h"

#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>

namespace longlink::diag {
namespace {

std::string Errno(const char* what, int err) { return std::string(what) + ": " + strerror(err); }

// Owns a file descriptor for the length of one dump.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

SocketRecord FromDiagMsg(const inet_diag_msg& m) {
  SocketRecord r;
  const auto* src = reinterpret_cast<const std::uint8_t*>(m.id.idiag_src);
  const auto* dst = reinterpret_cast<const std::uint8_t*>(m.id.idiag_dst);
  if (m.idiag_family == AF_INET) {
    r.local.address = IpAddress::FromV4(src);
    r.remote.address = IpAddress::FromV4(dst);
  } else {
    r.local.address = IpAddress::FromV6(src);
    r.remote.address = IpAddress::FromV6(dst);
  }
  r.local.port = ntohs(m.id.idiag_sport);
  r.remote.port = ntohs(m.id.idiag_dport);
  r.state = static_cast<TcpState>(m.idiag_state);
  r.timer = static_cast<SocketTimer>(m.idiag_timer);
  r.expires_ms = m.idiag_expires;
  r.uid = m.idiag_uid;
  r.inode = m.idiag_inode;
  return r;
}

}  // namespace

Status DecodeInetDiagReplies(std::span<const std::uint8_t> buffer, StateMask states,
                             SocketSink* sink, bool* done) {
  std::size_t offset = 0;
  while (offset + sizeof(nlmsghdr) <= buffer.size()) {
    nlmsghdr h;
    std::memcpy(&h, buffer.data() + offset, sizeof h);
    if (h.nlmsg_len < sizeof(nlmsghdr) || offset + h.nlmsg_len > buffer.size()) {
      return Error{"netlink: truncated message in dump reply"};
    }
    const std::uint8_t* payload = buffer.data() + offset + NLMSG_HDRLEN;
    std::size_t payload_len = h.nlmsg_len - NLMSG_HDRLEN;
    if (h.nlmsg_type == NLMSG_DONE) {
      *done = true;
      return {};
    }
    if (h.nlmsg_type == NLMSG_ERROR) {
      nlmsgerr e{};
      if (payload_len >= sizeof e) std::memcpy(&e, payload, sizeof e);
      return Error{Errno("netlink: inet_diag dump", e.error ? -e.error : EPROTO)};
    }
    const bool socket_message =
        h.nlmsg_type == SOCK_DIAG_BY_FAMILY || h.nlmsg_type == TCPDIAG_GETSOCK;
    if (socket_message && payload_len >= sizeof(inet_diag_msg)) {
      inet_diag_msg m;
      std::memcpy(&m, payload, sizeof m);
      auto state = TcpStateFromKernel(m.idiag_state);
      if (state && (states & StateBit(*state))) sink->Add(FromDiagMsg(m));
    }
    offset += NLMSG_ALIGN(h.nlmsg_len);
  }
  return {};
}

Status DumpTcpSockets(int family, StateMask states, SocketSink* sink) {
  Fd fd(socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  if (fd.get() < 0) return Error{Errno("netlink socket", errno)};

  // Both requests ask for the same thing; only the older one can name both families, because
  // the kernel answers it with sdiag_family = AF_UNSPEC (inet_diag_dump_compat).
  struct {
    nlmsghdr header;
    inet_diag_req_v2 request;
  } by_family{};
  struct {
    nlmsghdr header;
    inet_diag_req request;
  } both_families{};
  nlmsghdr* header = nullptr;
  if (family == AF_UNSPEC) {
    header = &both_families.header;
    header->nlmsg_len = sizeof both_families;
    header->nlmsg_type = TCPDIAG_GETSOCK;
    both_families.request.idiag_family = AF_INET;  // ignored by the kernel
    both_families.request.idiag_states = states;
  } else {
    header = &by_family.header;
    header->nlmsg_len = sizeof by_family;
    header->nlmsg_type = SOCK_DIAG_BY_FAMILY;
    by_family.request.sdiag_family = static_cast<std::uint8_t>(family);
    by_family.request.sdiag_protocol = IPPROTO_TCP;
    by_family.request.idiag_states = states;
  }
  header->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  header->nlmsg_seq = 1;

  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(fd.get(), header, header->nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel),
             sizeof kernel) < 0) {
    return Error{Errno("netlink sendto", errno)};
  }

  // The kernel fills at most ~32 KiB per read of a dump; a larger buffer costs nothing.
  alignas(nlmsghdr) static std::uint8_t buffer[64 * 1024];
  bool done = false;
  while (!done) {
    ssize_t n = recv(fd.get(), buffer, sizeof buffer, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error{Errno("netlink recv", errno)};
    }
    if (n == 0) return Error{"netlink recv: unexpected end of dump"};
    auto status = DecodeInetDiagReplies({buffer, static_cast<std::size_t>(n)}, states, sink, &done);
    if (!status) return status;
  }
  return {};
}

}  // namespace longlink::diag
