#include "net/byte_stream.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace longlink::net {

ByteStream::ByteStream(Socket socket) {
  if (!socket.is_open()) return;
  std::error_code ignored;
  const auto protocol = socket.local_endpoint(ignored).protocol();
  family_ = protocol.family();
  protocol_ = protocol.protocol();
  socket_.emplace(std::move(socket));
}

ByteStream::~ByteStream() { Close(); }

ByteStream::ByteStream(ByteStream&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), family_(other.family_), protocol_(other.protocol_) {
  if (other.socket_) {
    socket_.emplace(std::move(*other.socket_));
    other.socket_.reset();
  }
}

ByteStream& ByteStream::operator=(ByteStream&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = std::exchange(other.fd_, -1);
    family_ = other.family_;
    protocol_ = other.protocol_;
    if (other.socket_) {
      socket_.emplace(std::move(*other.socket_));
      other.socket_.reset();
    }
  }
  return *this;
}

bool ByteStream::Detach() {
  if (!socket_) return false;
  std::error_code error;
  const int fd = socket_->release(error);
  if (error) {
    Close();
    return false;
  }
  socket_.reset();
  fd_ = fd;
  return true;
}

bool ByteStream::Attach(asio::any_io_executor executor) {
  if (fd_ < 0) return false;
  Socket socket(executor);
  std::error_code error;
  socket.assign(asio::generic::stream_protocol(family_, protocol_), fd_, error);
  if (error) return false;
  fd_ = -1;
  socket_.emplace(std::move(socket));
  return true;
}

void ByteStream::Cancel() {
  std::error_code ignored;
  if (socket_) socket_->cancel(ignored);
}

void ByteStream::Shutdown() {
  if (socket_) {
    std::error_code ignored;
    socket_->shutdown(Socket::shutdown_both, ignored);
  } else if (fd_ >= 0) {
    ::shutdown(fd_, SHUT_RDWR);
  }
}

void ByteStream::Close() {
  if (socket_) {
    std::error_code ignored;
    socket_->close(ignored);
    socket_.reset();
  }
  if (fd_ >= 0) ::close(std::exchange(fd_, -1));
}

int ByteStream::native_handle() const {
  if (socket_) return const_cast<Socket&>(*socket_).native_handle();
  return fd_;
}

bool ByteStream::PeerClosedOrSpoke() const {
  const int fd = native_handle();
  if (fd < 0) return false;
  pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
  return ::poll(&p, 1, 0) != 0;
}

std::size_t ByteStream::Peek(std::span<std::uint8_t> out, std::error_code& error) const {
  error.clear();
  const int fd = native_handle();
  if (fd < 0) {
    error = std::make_error_code(std::errc::bad_file_descriptor);
    return 0;
  }
  const ssize_t n = ::recv(fd, out.data(), out.size(), MSG_PEEK | MSG_DONTWAIT);
  if (n < 0) {
    error = (errno == EAGAIN || errno == EWOULDBLOCK)
                ? std::make_error_code(std::errc::operation_would_block)
                : std::error_code(errno, std::system_category());
    return 0;
  }
  return static_cast<std::size_t>(n);
}

void ByteStream::SendNow(std::span<const std::uint8_t> bytes) {
  const int fd = native_handle();
  if (fd < 0) return;
  [[maybe_unused]] const ssize_t sent =
      ::send(fd, bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
}

}  // namespace longlink::net
