#include "net/byte_stream.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <asio/error.hpp>
#include <asio/query.hpp>
#include <asio/write.hpp>
#include <cerrno>
#include <vector>

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
    : tls_(std::move(other.tls_)),
      compression_(std::move(other.compression_)),
      fd_(std::exchange(other.fd_, -1)),
      family_(other.family_),
      protocol_(other.protocol_) {
  if (other.socket_) {
    socket_.emplace(std::move(*other.socket_));
    other.socket_.reset();
  }
}

ByteStream& ByteStream::operator=(ByteStream&& other) noexcept {
  if (this != &other) {
    Close();
    tls_ = std::move(other.tls_);
    compression_ = std::move(other.compression_);
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
  if (!socket_ || !socket_->is_open()) return false;
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
  if (tls_) {  // OpenSSL reads the descriptor itself: it must not block.
    const int flags = ::fcntl(fd_, F_GETFL);
    if (flags >= 0 && (flags & O_NONBLOCK) == 0) ::fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
  }
  fd_ = -1;
  socket_.emplace(std::move(socket));
  return true;
}

bool ByteStream::Rebind(asio::any_io_executor executor) {
  if (AttachedTo(executor)) return socket_->is_open();
  if (attached() && !Detach()) return false;  // Closed by Detach.
  if (Attach(std::move(executor))) return true;
  Close();
  return false;
}

bool ByteStream::AttachedTo(const asio::any_io_executor& executor) const {
  if (!socket_ || !executor) return false;
  // Asio's get_executor() is not const; it only copies the executor.
  auto own = const_cast<Socket&>(*socket_).get_executor();
  return &asio::query(own, asio::execution::context) ==
         &asio::query(executor, asio::execution::context);
}

Awaitable<Status> ByteStream::HandshakeAsServer(TlsContextPtr context) {
  if (!socket_ || tls_) co_return Error{"TLS handshake: not a plain attached stream"};
  if (!context || context->role() != TlsContext::Role::kServer) {
    co_return Error{"TLS handshake: not a server context"};
  }
  std::error_code error;
  socket_->non_blocking(true, error);
  auto session = TlsSession::ForServer(std::move(context), socket_->native_handle());
  auto handshake = Handshake(std::move(session));
  co_return co_await std::move(handshake);
}

Awaitable<Status> ByteStream::HandshakeAsClient(TlsContextPtr context, std::string host,
                                                std::string session_key) {
  if (!socket_ || tls_) co_return Error{"TLS handshake: not a plain attached stream"};
  if (!context || context->role() != TlsContext::Role::kClient) {
    co_return Error{"TLS handshake: not a client context"};
  }
  std::error_code error;
  socket_->non_blocking(true, error);
  auto session = TlsSession::ForClient(std::move(context), socket_->native_handle(),
                                       std::move(host), std::move(session_key));
  auto handshake = Handshake(std::move(session));
  co_return co_await std::move(handshake);
}

Awaitable<Status> ByteStream::Handshake(Result<std::unique_ptr<TlsSession>> session) {
  if (!session.ok()) co_return session.error();
  tls_ = std::move(*session);
  for (;;) {
    const TlsStep step = tls_->Handshake();
    if (step.wait == TlsStep::Wait::kNone) {
      if (!step.error) co_return Status();
      co_return Error{"TLS handshake failed: " + tls_->HandshakeFailure(step.error)};
    }
    auto wait = socket_->async_wait(
        step.wait == TlsStep::Wait::kRead ? Socket::wait_read : Socket::wait_write, kNoThrow);
    auto [error] = co_await std::move(wait);
    if (error) co_return Error{"TLS handshake failed: " + tls_->HandshakeFailure(error)};
  }
}

TlsStep ByteStream::Step(asio::mutable_buffer buffer) {
  if (buffer.size() == 0) return TlsStep{};
  return tls_->Read(std::span(static_cast<std::uint8_t*>(buffer.data()), buffer.size()));
}

TlsStep ByteStream::Step(asio::const_buffer buffer) {
  if (buffer.size() == 0) return TlsStep{};
  return tls_->Write(std::span(static_cast<const std::uint8_t*>(buffer.data()), buffer.size()));
}

void ByteStream::Cancel() {
  std::error_code ignored;
  if (socket_) socket_->cancel(ignored);
}

void ByteStream::Shutdown() {
  if (tls_) tls_->CloseNotify();
  if (socket_) {
    std::error_code ignored;
    socket_->shutdown(Socket::shutdown_both, ignored);
  } else if (fd_ >= 0) {
    ::shutdown(fd_, SHUT_RDWR);
  }
}

void ByteStream::Close() {
  // The socket first: a pending operation is aborted before the buffers it points into (the
  // TLS session's, the compression layer's) go. The socket object stays, closed, so that a
  // read or write still to come fails rather than finds no socket.
  if (socket_) {
    std::error_code ignored;
    socket_->close(ignored);
  }
  if (fd_ >= 0) ::close(std::exchange(fd_, -1));
  tls_.reset();  // OpenSSL never closed the descriptor itself.
  compression_.reset();
}

int ByteStream::native_handle() const {
  if (socket_) return const_cast<Socket&>(*socket_).native_handle();
  return fd_;
}

bool ByteStream::PeerClosedOrSpoke() const {
  const int fd = native_handle();
  if (fd < 0) return false;
  if (compression_ && compression_->has_buffered()) return true;
  if (tls_ && tls_->pending() > 0) return true;
  pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
  if (::poll(&p, 1, 0) == 0) return false;
  if (!tls_) return true;
  std::uint8_t byte = 0;
  std::error_code error;
  Peek(std::span(&byte, 1), error);
  return error != std::errc::operation_would_block;
}

std::size_t ByteStream::Peek(std::span<std::uint8_t> out, std::error_code& error) const {
  if (compression_) {
    // The first frame waiting, decoded: an unsolicited ERR is small, and arrives alone.
    std::uint8_t raw[4096];
    const std::size_t n = RawPeek(raw, error);
    if (error || n == 0) return 0;
    auto decoded = CompressionLayer::DecodeFirstFrame(protocol::ByteView(raw, n), out);
    if (!decoded.ok()) {
      error = std::make_error_code(std::errc::bad_message);
      return 0;
    }
    if (*decoded == 0) error = std::make_error_code(std::errc::operation_would_block);
    return *decoded;
  }
  return RawPeek(out, error);
}

std::size_t ByteStream::RawPeek(std::span<std::uint8_t> out, std::error_code& error) const {
  error.clear();
  const int fd = native_handle();
  if (fd < 0) {
    error = std::make_error_code(std::errc::bad_file_descriptor);
    return 0;
  }
  if (tls_) {
    std::uint8_t byte = 0;
    const TlsStep step = tls_->Peek(out.empty() ? std::span(&byte, 1) : out);
    if (step.wait != TlsStep::Wait::kNone) {
      error = std::make_error_code(std::errc::operation_would_block);
    } else if (step.error && step.error != asio::error::eof) {
      error = step.error;
    }
    return std::min(step.bytes, out.size());
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
  if (compression_ && !bytes.empty()) {
    compression_->StartCommand();  // Last words are a command of their own (COM_QUIT).
    if (!compression_->Encode(protocol::ByteView(bytes.data(), bytes.size())).ok()) return;
    bytes = compression_->outgoing();
  }
  if (tls_) {
    if (tls_->handshake_done() && !bytes.empty()) tls_->Write(bytes);
    tls_->CloseNotify();
    return;
  }
  [[maybe_unused]] const ssize_t sent =
      ::send(fd, bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
}

std::size_t ByteStream::TryWrite(std::span<const asio::const_buffer> buffers,
                                 std::error_code* error) {
  *error = {};
  if (tls_ || compression_ || !socket_ || buffers.size() > kMaxTryBuffers) return 0;
  std::array<iovec, kMaxTryBuffers> pieces{};
  std::size_t count = 0;
  for (const asio::const_buffer& buffer : buffers) {
    if (buffer.size() == 0) continue;
    pieces[count].iov_base = const_cast<void*>(buffer.data());
    pieces[count].iov_len = buffer.size();
    ++count;
  }
  if (count == 0) return 0;
  msghdr message{};
  message.msg_iov = pieces.data();
  message.msg_iovlen = count;
  for (;;) {
    const ssize_t sent = ::sendmsg(socket_->native_handle(), &message, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (sent >= 0) return static_cast<std::size_t>(sent);
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      *error = std::error_code(errno, std::system_category());
    return 0;
  }
}

Awaitable<std::tuple<std::error_code, std::size_t>> WriteAll(
    ByteStream& stream, std::span<const asio::const_buffer> buffers) {
  std::error_code error;
  const std::size_t total = asio::buffer_size(buffers);
  const std::size_t now = stream.TryWrite(buffers, &error);
  if (error || now == total) co_return std::tuple{error, now};
  // The rest, from where the socket stopped.
  std::vector<asio::const_buffer> rest;
  std::size_t skip = now;
  for (const asio::const_buffer& buffer : buffers) {
    if (skip >= buffer.size()) {
      skip -= buffer.size();
      continue;
    }
    rest.push_back(buffer + skip);
    skip = 0;
  }
  auto [later_error, later] = co_await asio::async_write(stream, rest, kNoThrow);
  co_return std::tuple{later_error, now + later};
}

}  // namespace longlink::net
