// A connected byte stream to a peer (a TCP or Unix stream socket), owned: closed when it is
// destroyed. The type the pools and backend connections hold instead of sockets and file
// descriptors, so that a TLS stream can take its place behind the same operations later.
//
// A stream is in one of three states:
//   closed    (default-constructed, moved from, or after Close)
//   attached  bound to one event loop (an executor): reads, writes, Deadline, Cancel
//   detached  bound to none, still connected: what a pool keeps for an idle connection, so
//             that any worker's loop can Attach it
// Shutdown, Close, PeerClosedOrSpoke, Peek, SendNow and the watcher registration work in both
// open states. For TLS, the session state would travel with the stream across Detach/Attach,
// and PeerClosedOrSpoke/Peek would also look at what the TLS layer has buffered.
//
// Not thread-safe: one owner at a time (an attached stream is used on its loop only).
#pragma once

#include <asio/any_io_executor.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <system_error>
#include <utility>

#include "net/socket.h"

namespace longlink::net {

class ByteStream {
 public:
  using executor_type = asio::any_io_executor;

  // Closed.
  ByteStream() = default;
  // Takes a connected socket, attached to the socket's loop. A closed socket gives a closed
  // stream.
  explicit ByteStream(Socket socket);
  ~ByteStream();
  ByteStream(ByteStream&& other) noexcept;
  ByteStream& operator=(ByteStream&& other) noexcept;
  ByteStream(const ByteStream&) = delete;
  ByteStream& operator=(const ByteStream&) = delete;

  bool is_open() const { return attached() || fd_ >= 0; }
  bool attached() const { return socket_.has_value(); }

  // Unbinds the stream from its event loop; it stays connected and open. REQUIRES: attached,
  // and no operation pending (pending ones would be cancelled). False if the loop would not
  // let go (the stream is then closed).
  bool Detach();
  // Binds a detached stream to `executor`'s loop. REQUIRES: detached. False if that fails (the
  // stream stays detached and open).
  bool Attach(asio::any_io_executor executor);

  // Asio's AsyncReadStream and AsyncWriteStream, for asio::async_read/async_write and
  // co_await with net::kNoThrow. REQUIRES: attached.
  executor_type get_executor() { return socket_->get_executor(); }
  template <typename MutableBufferSequence, typename ReadToken>
  auto async_read_some(const MutableBufferSequence& buffers, ReadToken&& token) {
    return socket_->async_read_some(buffers, std::forward<ReadToken>(token));
  }
  template <typename ConstBufferSequence, typename WriteToken>
  auto async_write_some(const ConstBufferSequence& buffers, WriteToken&& token) {
    return socket_->async_write_some(buffers, std::forward<WriteToken>(token));
  }
  // The socket underneath, for a Deadline, socket options and endpoints (TLS: the TCP socket
  // under the TLS layer). REQUIRES: attached.
  Socket& lowest_layer() { return *socket_; }

  // Pending operations end with asio::error::operation_aborted. No-op unless attached.
  void Cancel();
  // Ends both directions: the peer sees the end, and pending reads here see it too.
  void Shutdown();
  void Close();

  // True if the stream has something to read or the peer closed it (a poll, no wait). For a
  // connection between commands, that means the server closed it or sent something
  // unsolicited. False for a closed stream.
  bool PeerClosedOrSpoke() const;
  // Copies up to out.size() bytes waiting to be read into `out` without consuming them or
  // waiting: the count (0: the peer closed), or 0 with `error` set (would_block: nothing to
  // read).
  std::size_t Peek(std::span<std::uint8_t> out, std::error_code& error) const;
  // Sends what the socket takes at once, without waiting or reporting errors: last words
  // before Close (COM_QUIT).
  void SendNow(std::span<const std::uint8_t> bytes);

  // For readiness watchers (pool::IdleWatcher): the descriptor to poll for readability;
  // -1 when closed. The stream still owns it.
  int native_handle() const;

 private:
  std::optional<Socket> socket_;  // Attached.
  int fd_ = -1;                   // Detached: owned.
  int family_ = 0;                // The socket's protocol, to attach it again.
  int protocol_ = 0;
};

}  // namespace longlink::net
