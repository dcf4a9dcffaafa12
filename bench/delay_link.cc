// A network link in user space, for the two-host benchmark (bench/two_host.sh): the kernel
// here has no netem, so "the database is on another host" is modelled by this forwarder between
// the application's side (clients, the proxy) and the server.
//
// Usage: delay_link (--listen HOST:PORT | --listen-unix PATH)... --to HOST:PORT --rtt-us N
//
// What it models:
//  - Latency: every chunk read from either side reaches the other side N/2 µs (the one-way
//    delay) after it reached the link, in order, per direction. On TCP "reached" is the
//    kernel's receive time (SO_TIMESTAMPNS), so that the link's own wake-up does not lengthen
//    the delay; on a Unix socket, the time of the read. End of file travels the same way: the
//    other side is shut down for writing N/2 µs after the end was read, behind the data.
//  - The TCP handshake: a real client's connect() takes 1 RTT and the server's greeting reaches
//    it 2 RTT after connect() began (SYN, SYN-ACK, ACK + accept, greeting). Here the client's
//    connect to the link completes at once; the link opens its upstream connection 1.5 RTT
//    after accepting, so the server's first bytes reach the client 2 RTT after its connect().
//    What the client sends before that waits in the queue.
// Timers: one timerfd (CLOCK_MONOTONIC, absolute) for the earliest due time. A timer wakes the
// process late (on this VM 60-70 µs for an idle CPU, whatever the timer slack, and more on a
// loaded machine), so it is set early by the average lateness of the recent wake-ups: due
// times are met on average, not each one exactly.
// What it does not model: bandwidth, loss, reordering, jitter, window limits; nor a network's
// independence from the hosts' CPUs: the link is a process on the same cores, and each chunk
// costs it two wake-ups (its arrival, its due time). TIME_WAIT is left by the real kernel on
// whichever side of each real socket closes first: a client closing first keeps its TIME_WAIT
// here as on its own host; between the link and the server, whichever of the two closes first
// keeps one (the link's upstream sockets are the model's own: a real server host has one
// socket per connection, not two).
//
// With N = 0 it is the do-nothing forwarder (the floor for one more hop): bytes read are
// written at once (queued only when the writer is full), the upstream connection opened at
// once; no timer, no clock.
//
// One thread, epoll, edge-triggered, one registration per socket for the connection's life;
// TCP_NODELAY on every TCP socket. A direction holding more than 4 MiB stops reading its source
// until it drains. An error on one side closes both, once the queued data towards the healthy
// side went out (it is shut down, then closed). Several listeners may share one process (a
// Unix socket and a TCP port for the same floor). A stale Unix socket path is unlinked at
// start and at exit. SIGTERM and SIGINT end it cleanly (exit status 0). Out of descriptors, a
// new client is accepted and closed at once (it sees the end of file). It prints nothing but
// errors, on stderr.
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

constexpr std::size_t kMaxQueued = 4 << 20;  // Per direction; above it, stop reading its source.
constexpr std::size_t kReadSize = 64 << 10;
constexpr int kMaxAcceptsPerEvent = 64;

int64_t NowNs() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
}

void Complain(const char* what) {
  std::fprintf(stderr, "delay_link: %s: %s\n", what, strerror(errno));
}

enum class Kind { kListener, kSide, kTimer, kSignal };

// What an epoll registration points at.
struct Handle {
  explicit Handle(Kind k) : kind(k) {}
  Kind kind;
};

struct Listener : Handle {
  Listener() : Handle(Kind::kListener) {}
  int fd = -1;
  bool tcp = false;
  std::string unix_path;  // Unlinked at exit.
};

struct Connection;

// One socket of a connection: 0 the accepted client, 1 the upstream connection to --to.
struct Side : Handle {
  Side() : Handle(Kind::kSide) {}
  Connection* connection = nullptr;
  int index = 0;
  int fd = -1;
  bool connected = false;  // The upstream side until its connect completed; the client always.
  bool tcp = false;
};

struct Chunk {
  int64_t due_ns = 0;  // When it may be written; 0: at once.
  std::string data;    // Empty: the end of file.
  std::size_t written = 0;
};

// Bytes from one side to the other: directions[i] goes from sides[i] to sides[1 - i].
struct Direction {
  std::deque<Chunk> queue;
  std::size_t queued = 0;  // Bytes in queue not yet written.
  bool read_end = false;   // The source's end of file was read (or its side failed).
  bool finished = false;   // The destination was shut down for writing (or is gone).
  bool throttled = false;  // Over kMaxQueued: the source is not read until it drains.
};

struct Connection {
  uint64_t id = 0;
  Side sides[2];
  Direction directions[2];
  bool closed = false;
};

// A connection id and when its timer is due (a connect, or a direction's next chunk).
struct Due {
  int64_t due_ns;
  uint64_t id;
  int direction;  // -1: open the upstream connection.
  bool operator>(const Due& other) const { return due_ns > other.due_ns; }
};

struct Address {
  sockaddr_storage storage{};
  socklen_t length = 0;
};

class Link {
 public:
  Link(Address upstream, int64_t rtt_us)
      : upstream_(upstream), half_rtt_ns_(rtt_us * 500), connect_delay_ns_(rtt_us * 1500) {}

  bool Start(const std::vector<std::unique_ptr<Listener>>& listeners);
  int Run();

 private:
  void Accept(Listener& listener);
  void OpenUpstream(Connection& connection);
  void OnSide(Side& side, uint32_t events);
  void ReadFrom(Side& side, bool to_the_end);
  void Flush(Connection& connection, int direction);
  void Fail(Connection& connection, int index);
  void MaybeClose(Connection& connection);
  void Close(Connection& connection);
  ssize_t Receive(Side& side, int64_t& arrived_ns);
  void Queue(Connection& connection, int index, int64_t arrived_ns, std::string data);
  void Schedule(int64_t due_ns, uint64_t id, int direction);
  void OnTimer();
  void ArmTimer();
  Connection* Find(uint64_t id) {
    auto it = connections_.find(id);
    return it == connections_.end() ? nullptr : it->second.get();
  }

  Address upstream_;
  int64_t half_rtt_ns_;
  int64_t connect_delay_ns_;
  int epoll_ = -1;
  int spare_fd_ = -1;  // Closed to accept and drop a client when out of descriptors.
  Handle timer_{Kind::kTimer};
  int timer_fd_ = -1;
  int64_t armed_ns_ = 0;      // The due time the timer is armed for; 0: not armed.
  int64_t armed_at_ns_ = 0;   // When it was set to expire (armed_ns_ - lead_ns_).
  bool armed_ahead_ = false;  // armed_at_ns_ was still ahead when set: its lateness is a sample.
  // How late timer wake-ups come (an average), and so how early the timer is set (see the
  // header comment).
  int64_t lead_ns_ = 0;
  // How long after bytes reach the link it reads them (an average of what the kernel's receive
  // times say): the time of an accept or an end of file, which have no receive time, less this.
  int64_t wake_lag_ns_ = 0;
  Handle signal_{Kind::kSignal};
  int signal_fd_ = -1;
  bool stopping_ = false;
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, std::unique_ptr<Connection>> connections_;
  std::vector<std::unique_ptr<Connection>> graveyard_;  // Freed after each epoll batch.
  // Earliest first: chunks are due by when they reached the link, which the reads of
  // different connections do not follow exactly.
  std::priority_queue<Due, std::vector<Due>, std::greater<>> chunk_timers_;
  // In due order but for the slow drift of wake_lag_ns_ (a connect a few µs late at worst).
  std::deque<Due> connect_timers_;
  char buffer_[kReadSize];
};

bool Register(int epoll, int fd, uint32_t events, Handle* handle) {
  epoll_event event{};
  event.events = events;
  event.data.ptr = handle;
  return epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) == 0;
}

// TCP_NODELAY; with a delay, also the kernel's receive time of what is read (SO_TIMESTAMPNS).
void TcpOptions(int fd, bool stamps) {
  const int on = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  if (stamps) setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
}

bool Link::Start(const std::vector<std::unique_ptr<Listener>>& listeners) {
  epoll_ = epoll_create1(EPOLL_CLOEXEC);
  timer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigprocmask(SIG_BLOCK, &signals, nullptr);
  signal_fd_ = signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC);
  spare_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (epoll_ < 0 || timer_fd_ < 0 || signal_fd_ < 0 || spare_fd_ < 0) {
    Complain("setup");
    return false;
  }
  bool ok = Register(epoll_, timer_fd_, EPOLLIN, &timer_) &&
            Register(epoll_, signal_fd_, EPOLLIN, &signal_);
  for (const auto& listener : listeners) {
    ok = ok && Register(epoll_, listener->fd, EPOLLIN, listener.get());
  }
  if (!ok) Complain("epoll_ctl");
  return ok;
}

int Link::Run() {
  epoll_event events[256];
  while (!stopping_) {
    const int n = epoll_wait(epoll_, events, 256, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      Complain("epoll_wait");
      return 1;
    }
    for (int i = 0; i < n; ++i) {
      auto* handle = static_cast<Handle*>(events[i].data.ptr);
      switch (handle->kind) {
        case Kind::kListener:
          Accept(*static_cast<Listener*>(handle));
          break;
        case Kind::kSide:
          OnSide(*static_cast<Side*>(handle), events[i].events);
          break;
        case Kind::kTimer:
          OnTimer();
          break;
        case Kind::kSignal:
          stopping_ = true;
          break;
      }
    }
    graveyard_.clear();
    ArmTimer();
  }
  return 0;
}

void Link::Accept(Listener& listener) {
  for (int i = 0; i < kMaxAcceptsPerEvent; ++i) {
    const int fd = accept4(listener.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) return;
      if (errno == EMFILE || errno == ENFILE) {
        // Out of descriptors: take the client off the queue and drop it, so that the listener
        // does not stay readable (and spin) while every client waits.
        Complain("accept");
        close(spare_fd_);
        const int dropped = accept(listener.fd, nullptr, nullptr);
        if (dropped >= 0) close(dropped);
        spare_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
        return;
      }
      Complain("accept");
      return;
    }
    auto owned = std::make_unique<Connection>();
    Connection& connection = *owned;
    connection.id = next_id_++;
    for (int s = 0; s < 2; ++s) {
      connection.sides[s].connection = &connection;
      connection.sides[s].index = s;
    }
    Side& client = connection.sides[0];
    client.fd = fd;
    client.connected = true;
    client.tcp = listener.tcp;
    if (client.tcp) TcpOptions(fd, half_rtt_ns_ != 0);
    if (!Register(epoll_, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, &client)) {
      Complain("epoll_ctl");
      close(fd);
      continue;
    }
    connections_.emplace(connection.id, std::move(owned));
    if (connect_delay_ns_ == 0) {
      OpenUpstream(connection);
    } else {
      connect_timers_.push_back({NowNs() - wake_lag_ns_ + connect_delay_ns_, connection.id, -1});
    }
  }
}

void Link::OpenUpstream(Connection& connection) {
  Side& side = connection.sides[1];
  const int fd = socket(upstream_.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    Complain("socket");
    Fail(connection, 1);
    return;
  }
  side.fd = fd;
  side.tcp = true;
  TcpOptions(fd, half_rtt_ns_ != 0);
  const int result =
      connect(fd, reinterpret_cast<const sockaddr*>(&upstream_.storage), upstream_.length);
  if (result < 0 && errno != EINPROGRESS) {
    Complain("connect");
    Fail(connection, 1);
    return;
  }
  if (!Register(epoll_, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, &side)) {
    Complain("epoll_ctl");
    Fail(connection, 1);
    return;
  }
  if (result == 0) {
    side.connected = true;
    Flush(connection, 0);
  }
}

void Link::OnSide(Side& side, uint32_t events) {
  Connection& connection = *side.connection;
  if (connection.closed || side.fd < 0) return;
  if (!side.connected) {
    if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) return;
    int error = 0;
    socklen_t length = sizeof error;
    getsockopt(side.fd, SOL_SOCKET, SO_ERROR, &error, &length);
    if (error != 0) {
      errno = error;
      Complain("connect");
      Fail(connection, side.index);
      return;
    }
    side.connected = true;
  }
  if ((events & EPOLLOUT) && !(events & EPOLLERR)) {
    Flush(connection, 1 - side.index);
    if (connection.closed || side.fd < 0) return;
  }
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
    ReadFrom(side, (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0);
  }
  // A reset: what it still had to read went on (the read above ends at the error and fails it).
  if ((events & EPOLLERR) && !connection.closed && side.fd >= 0) Fail(connection, side.index);
}

// Reads what side has (edge-triggered: until a short read, the end, or the direction's limit;
// to_the_end: past short reads, until EAGAIN, when the end or an error may wait behind the
// data, which raise no edge of their own once reported) and queues it, or with no delay
// writes it at once.
void Link::ReadFrom(Side& side, bool to_the_end) {
  Connection& connection = *side.connection;
  Direction& direction = connection.directions[side.index];
  Side& to = connection.sides[1 - side.index];
  while (!direction.read_end && !direction.throttled) {
    int64_t arrived = 0;
    const ssize_t n = Receive(side, arrived);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) Fail(connection, side.index);
      return;
    }
    if (n == 0) {
      direction.read_end = true;
      if (half_rtt_ns_ == 0 && direction.queue.empty() && to.connected) {
        shutdown(to.fd, SHUT_WR);
        direction.finished = true;
        MaybeClose(connection);
      } else {
        Queue(connection, side.index, arrived, {});
      }
      return;
    }
    const auto size = static_cast<std::size_t>(n);
    std::size_t sent = 0;
    if (half_rtt_ns_ == 0 && direction.queue.empty() && to.connected) {
      const ssize_t w = send(to.fd, buffer_, size, MSG_NOSIGNAL);
      if (w < 0 && errno != EAGAIN && errno != EINTR) {
        Fail(connection, to.index);
        return;
      }
      if (w > 0) sent = static_cast<std::size_t>(w);
    }
    if (sent < size) {
      Queue(connection, side.index, arrived, std::string(buffer_ + sent, size - sent));
      if (direction.queued > kMaxQueued) direction.throttled = true;
    }
    if (size < kReadSize && !to_the_end) return;  // Drained: the next bytes raise an edge.
  }
}

// recv() into buffer_; with a delay, also when the bytes reached the link (arrived_ns, on the
// monotonic clock): the kernel's receive time on TCP, so that the link's own wake-up does not
// lengthen the delay; the time of the read less the usual wake-up lag otherwise.
ssize_t Link::Receive(Side& side, int64_t& arrived_ns) {
  if (half_rtt_ns_ == 0) return recv(side.fd, buffer_, kReadSize, 0);
  iovec io{buffer_, kReadSize};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timespec))];
  msghdr message{};
  message.msg_iov = &io;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  const ssize_t n = recvmsg(side.fd, &message, 0);
  if (n < 0) return n;
  const int64_t now = NowNs();
  arrived_ns = now - wake_lag_ns_;
  for (cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr; c = CMSG_NXTHDR(&message, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPNS) continue;
    timespec stamp;
    std::memcpy(&stamp, CMSG_DATA(c), sizeof stamp);
    timespec real;
    clock_gettime(CLOCK_REALTIME, &real);
    const int64_t lag =
        (int64_t{real.tv_sec} - stamp.tv_sec) * 1'000'000'000 + (real.tv_nsec - stamp.tv_nsec);
    if (lag >= 0 && lag < 1'000'000'000) {  // Not across a step of the real-time clock.
      arrived_ns = now - lag;
      wake_lag_ns_ += (std::min(lag, half_rtt_ns_) - wake_lag_ns_) / 16;
    }
  }
  return n;
}

// Queues data (empty: the end) from sides[index] that reached the link at arrived_ns, due half
// a round trip later (at once with no delay).
void Link::Queue(Connection& connection, int index, int64_t arrived_ns, std::string data) {
  Direction& direction = connection.directions[index];
  int64_t due = 0;
  if (half_rtt_ns_ != 0) {
    due = arrived_ns + half_rtt_ns_;
    if (!direction.queue.empty()) due = std::max(due, direction.queue.back().due_ns);
    Schedule(due, connection.id, index);
  }
  direction.queued += data.size();
  direction.queue.push_back({due, std::move(data), 0});
}

// Writes what is due of directions[index] to its destination; at the end, shuts it down.
void Link::Flush(Connection& connection, int index) {
  Direction& direction = connection.directions[index];
  Side& from = connection.sides[index];
  Side& to = connection.sides[1 - index];
  if (direction.finished || !to.connected || direction.queue.empty()) return;
  const int64_t now = half_rtt_ns_ == 0 ? 0 : NowNs();
  while (!direction.queue.empty()) {
    Chunk& chunk = direction.queue.front();
    if (chunk.due_ns - lead_ns_ > now) break;
    if (chunk.data.empty()) {
      direction.queue.pop_front();
      shutdown(to.fd, SHUT_WR);
      direction.finished = true;
      MaybeClose(connection);
      return;
    }
    const ssize_t w = send(to.fd, chunk.data.data() + chunk.written,
                           chunk.data.size() - chunk.written, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) Fail(connection, to.index);
      return;  // EPOLLOUT comes when there is room.
    }
    const auto written = static_cast<std::size_t>(w);
    chunk.written += written;
    direction.queued -= written;
    if (chunk.written < chunk.data.size()) return;  // Full: EPOLLOUT comes when there is room.
    direction.queue.pop_front();
  }
  if (direction.throttled && direction.queued <= kMaxQueued / 2) {
    direction.throttled = false;
    if (from.fd >= 0) ReadFrom(from, true);  // Edge-triggered: what came meanwhile raised none.
  }
}

// Side `index` failed (an error, a reset, a refused connect): nothing more goes to it, and what
// it sent before still goes to the other side, followed by the end; then both close.
void Link::Fail(Connection& connection, int index) {
  if (connection.closed) return;
  Side& side = connection.sides[index];
  Direction& to_side = connection.directions[1 - index];
  Direction& from_side = connection.directions[index];
  if (side.fd >= 0) {
    close(side.fd);
    side.fd = -1;
  }
  side.connected = false;
  to_side.queue.clear();
  to_side.queued = 0;
  to_side.finished = true;
  to_side.throttled = true;  // Stop reading the other side: its bytes have nowhere to go.
  if (connection.sides[1 - index].fd < 0 || !connection.sides[1 - index].connected) {
    Close(connection);
    return;
  }
  if (!from_side.read_end) {
    from_side.read_end = true;
    Queue(connection, index, half_rtt_ns_ == 0 ? 0 : NowNs() - wake_lag_ns_, {});
  }
  Flush(connection, index);
  MaybeClose(connection);
}

void Link::MaybeClose(Connection& connection) {
  if (!connection.closed && connection.directions[0].finished &&
      connection.directions[1].finished) {
    Close(connection);
  }
}

void Link::Close(Connection& connection) {
  if (connection.closed) return;
  connection.closed = true;
  for (Side& side : connection.sides) {
    if (side.fd >= 0) close(side.fd);
    side.fd = -1;
  }
  auto it = connections_.find(connection.id);
  graveyard_.push_back(std::move(it->second));  // Events of this batch may still point at it.
  connections_.erase(it);
}

void Link::Schedule(int64_t due_ns, uint64_t id, int direction) {
  chunk_timers_.push({due_ns, id, direction});
}

void Link::OnTimer() {
  uint64_t expirations;
  if (read(timer_fd_, &expirations, sizeof expirations) < 0 && errno != EAGAIN) {
    Complain("timerfd");
  }
  const int64_t now = NowNs();
  if (armed_ahead_) {
    // An average over the last 16 or so wake-ups, each counted up to half the delay (a
    // stall of the whole machine says nothing about the next wake-up).
    const int64_t late = std::clamp<int64_t>(now - armed_at_ns_, 0, half_rtt_ns_ / 2);
    lead_ns_ += (late - lead_ns_) / 16;
  }
  armed_ns_ = 0;
  armed_ahead_ = false;
  while (!connect_timers_.empty() && connect_timers_.front().due_ns - lead_ns_ <= now) {
    const uint64_t id = connect_timers_.front().id;
    connect_timers_.pop_front();
    if (Connection* connection = Find(id); connection != nullptr) OpenUpstream(*connection);
  }
  while (!chunk_timers_.empty() && chunk_timers_.top().due_ns - lead_ns_ <= now) {
    const Due due = chunk_timers_.top();
    chunk_timers_.pop();
    if (Connection* connection = Find(due.id); connection != nullptr) {
      Flush(*connection, due.direction);
    }
  }
}

void Link::ArmTimer() {
  int64_t next = 0;
  if (!chunk_timers_.empty()) next = chunk_timers_.top().due_ns;
  if (!connect_timers_.empty() && (next == 0 || connect_timers_.front().due_ns < next)) {
    next = connect_timers_.front().due_ns;
  }
  if (next == 0 || (armed_ns_ != 0 && armed_ns_ <= next)) return;
  const int64_t at = next - lead_ns_;
  itimerspec when{};
  when.it_value.tv_sec = at / 1'000'000'000;
  when.it_value.tv_nsec = at % 1'000'000'000;
  if (timerfd_settime(timer_fd_, TFD_TIMER_ABSTIME, &when, nullptr) < 0) {
    Complain("timerfd_settime");
    return;
  }
  armed_ns_ = next;
  armed_at_ns_ = at;
  armed_ahead_ = at > NowNs() + 10'000;
}

// HOST:PORT (a numeric or named host; [v6] brackets allowed) as an address.
bool Resolve(const std::string& where, Address& address) {
  const auto colon = where.rfind(':');
  if (colon == std::string::npos) return false;
  std::string host = where.substr(0, colon);
  const std::string port = where.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0 || found == nullptr) {
    return false;
  }
  std::memcpy(&address.storage, found->ai_addr, found->ai_addrlen);
  address.length = found->ai_addrlen;
  freeaddrinfo(found);
  return true;
}

std::unique_ptr<Listener> ListenTcp(const std::string& where) {
  Address address;
  if (!Resolve(where, address)) {
    std::fprintf(stderr, "delay_link: cannot resolve %s\n", where.c_str());
    return nullptr;
  }
  auto listener = std::make_unique<Listener>();
  listener->tcp = true;
  listener->fd = socket(address.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int on = 1;
  if (listener->fd < 0 || setsockopt(listener->fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) < 0 ||
      bind(listener->fd, reinterpret_cast<const sockaddr*>(&address.storage), address.length) < 0 ||
      listen(listener->fd, SOMAXCONN) < 0) {
    Complain(where.c_str());
    return nullptr;
  }
  return listener;
}

std::unique_ptr<Listener> ListenUnix(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof address.sun_path) {
    std::fprintf(stderr, "delay_link: socket path too long: %s\n", path.c_str());
    return nullptr;
  }
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  unlink(path.c_str());  // A stale socket from an earlier run.
  auto listener = std::make_unique<Listener>();
  listener->unix_path = path;
  listener->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listener->fd < 0 ||
      bind(listener->fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) < 0 ||
      listen(listener->fd, SOMAXCONN) < 0) {
    Complain(path.c_str());
    return nullptr;
  }
  return listener;
}

int Usage(const char* program) {
  std::fprintf(stderr,
               "usage: %s (--listen HOST:PORT | --listen-unix PATH)... --to HOST:PORT "
               "--rtt-us N\n",
               program);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::unique_ptr<Listener>> listeners;
  std::string to;
  long long rtt_us = -1;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) return Usage(argv[0]);
    const std::string value = argv[++i];
    if (flag == "--listen" || flag == "--listen-unix") {
      auto listener = flag == "--listen" ? ListenTcp(value) : ListenUnix(value);
      if (listener == nullptr) return 1;
      listeners.push_back(std::move(listener));
    } else if (flag == "--to") {
      to = value;
    } else if (flag == "--rtt-us") {
      char* end = nullptr;
      rtt_us = std::strtoll(value.c_str(), &end, 10);
      if (end == value.c_str() || *end != '\0' || rtt_us < 0) return Usage(argv[0]);
    } else {
      return Usage(argv[0]);
    }
  }
  if (listeners.empty() || to.empty() || rtt_us < 0) return Usage(argv[0]);
  Address upstream;
  if (!Resolve(to, upstream)) {
    std::fprintf(stderr, "delay_link: cannot resolve %s\n", to.c_str());
    return 1;
  }
  // Sub-millisecond timers: the default 50 µs slack would add to every delay.
  prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  auto link = std::make_unique<Link>(upstream, rtt_us);
  int status = link->Start(listeners) ? link->Run() : 1;
  for (const auto& listener : listeners) {
    if (!listener->unix_path.empty()) unlink(listener->unix_path.c_str());
  }
  return status;
}
