// A connected byte stream to a peer (a TCP or Unix stream socket), owned: closed when it is
// destroyed, plain or TLS. The type the pools, backend connections and client sessions hold
// instead of sockets and file descriptors.
//
// A stream is in one of three states:
//   closed    (default-constructed, moved from, or after Close; a stream closed while
//             attached stays bound to its loop: reads and writes then fail with
//             bad_descriptor, as a closed socket's do)
//   attached  bound to one event loop (an executor): reads, writes, Deadline, Cancel
//   detached  bound to none, still connected, so that any worker's loop can Attach it
// A pool keeps an idle connection attached to the loop that last used it (Rebind moves it to
// another): the same loop takes it back without a system call.
// Shutdown, Close, PeerClosedOrSpoke, Peek, SendNow and the watcher registration work in both
// open states.
//
// TLS: a plain stream becomes a TLS stream with HandshakeAsServer or HandshakeAsClient; from
// then on reads and writes go through the TLS session (net::TlsSession), which travels with
// the stream across Detach/Attach (it is bound to the descriptor, not to the loop). A plain
// stream pays nothing for this: its reads and writes are the socket's. PeerClosedOrSpoke and
// Peek look at what the TLS layer has buffered as well as at the socket.
//
// Compression: after StartCompression (both peers agreed on CLIENT_COMPRESS and the login
// ended), reads return the packet stream decoded from the peer's frames and writes send frames
// (net::CompressionLayer), over TLS if the stream is TLS. It travels with the stream too.
//
// Not thread-safe: one owner at a time (an attached stream is used on its loop only). Not to
// be moved while an operation is pending.
#pragma once

#include <sys/socket.h>

#include <asio/any_io_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/buffer.hpp>
#include <asio/compose.hpp>
#include <asio/post.hpp>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>

#include "common/result.h"
#include "net/compression_layer.h"
#include "net/socket.h"
#include "net/tls_context.h"
#include "net/tls_session.h"

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

  bool is_open() const { return (socket_ && socket_->is_open()) || fd_ >= 0; }
  // Bound to a loop (open, or closed while attached).
  bool attached() const { return socket_.has_value(); }

  // Unbinds the stream from its event loop; it stays connected and open. REQUIRES: attached,
  // and no operation pending (pending ones would be cancelled). False if the loop would not
  // let go (the stream is then closed).
  bool Detach();
  // Binds a detached stream to `executor`'s loop. REQUIRES: detached. False if that fails (the
  // stream stays detached and open).
  bool Attach(asio::any_io_executor executor);
  // Binds an open stream to `executor`'s loop: nothing to do if it is attached there already
  // (no system call: the loop's registration and the non-blocking mode stay), else it is
  // detached from its loop, if any, and attached. REQUIRES: no operation pending. False if that
  // fails (the stream is then closed).
  bool Rebind(asio::any_io_executor executor);
  // True if the stream is attached to `executor`'s loop (its execution context).
  bool AttachedTo(const asio::any_io_executor& executor) const;

  // Starts TLS as the server (a client connecting to the proxy) or as the client (the proxy
  // connecting to a backend: `host` is what the certificate must name, a DNS name or an IP
  // literal, and the server name sent; `session_key` files the session for resumption, ""
  // meaning `host`). The error says why, for an operator ("the server's certificate failed
  // verification: certificate has expired"); the stream is then unusable: close it.
  // Cancel (a Deadline) ends a handshake as "timed out".
  // REQUIRES: attached, plain, no operation pending, and no byte of the peer's handshake
  // read yet (read an SSLRequest by its exact length). `context` of the matching role.
  Awaitable<Status> HandshakeAsServer(TlsContextPtr context);
  Awaitable<Status> HandshakeAsClient(TlsContextPtr context, std::string host,
                                      std::string session_key = {});
  // The TLS session (version, cipher, resumption), or null for a plain stream.
  const TlsSession* tls() const { return tls_.get(); }

  // From now on reads and writes carry the compressed protocol. REQUIRES: open, no operation
  // pending, nothing of the peer's frames read yet.
  void StartCompression(CompressionLayer::Role role) {
    compression_ = std::make_unique<CompressionLayer>(role);
  }
  bool compressed() const { return compression_ != nullptr; }
  // Whether the socket is a Unix socket (its family, read once when the stream was made).
  bool unix_socket() const { return family_ == AF_UNIX; }
  // Before a new command to a server: frame ids start again at 0. A no-op on a plain stream.
  void StartCommand() {
    if (compression_) compression_->StartCommand();
  }
  // Frees the compression layer's large buffers (between commands).
  void TrimBuffers() {
    if (compression_) compression_->Trim();
  }

  // Asio's AsyncReadStream and AsyncWriteStream, for asio::async_read/async_write and
  // co_await with net::kNoThrow. TLS: a read ends with asio::error::eof at the peer's
  // close_notify (or an EOF), and with a TlsCategory() error for a protocol failure; after a
  // write fails or is cancelled the stream must be closed. REQUIRES: attached.
  executor_type get_executor() { return socket_->get_executor(); }
  template <typename MutableBufferSequence, typename ReadToken>
  auto async_read_some(const MutableBufferSequence& buffers, ReadToken&& token) {
    return asio::async_initiate<ReadToken, void(std::error_code, std::size_t)>(
        [this](auto handler, const MutableBufferSequence& sequence) {
          if (compression_ != nullptr) {
            asio::async_compose<decltype(handler), void(std::error_code, std::size_t)>(
                CompressedRead{*this, FirstBuffer<asio::mutable_buffer>(sequence)}, handler,
                *socket_);
            return;
          }
          if (tls_ == nullptr) {
            socket_->async_read_some(sequence, std::move(handler));
            return;
          }
          asio::async_compose<decltype(handler), void(std::error_code, std::size_t)>(
              TlsIo<asio::mutable_buffer>{*this, FirstBuffer<asio::mutable_buffer>(sequence)},
              handler, *socket_);
        },
        token, buffers);
  }
  template <typename ConstBufferSequence, typename WriteToken>
  auto async_write_some(const ConstBufferSequence& buffers, WriteToken&& token) {
    return asio::async_initiate<WriteToken, void(std::error_code, std::size_t)>(
        [this](auto handler, const ConstBufferSequence& sequence) {
          if (compression_ != nullptr) {
            const std::size_t total = asio::buffer_size(sequence);
            Status encoded = EncodeForCompression(sequence);
            asio::async_compose<decltype(handler), void(std::error_code, std::size_t)>(
                CompressedWrite{*this, total, encoded.ok()}, handler, *socket_);
            return;
          }
          if (tls_ == nullptr) {
            socket_->async_write_some(sequence, std::move(handler));
            return;
          }
          asio::async_compose<decltype(handler), void(std::error_code, std::size_t)>(
              TlsIo<asio::const_buffer>{*this, FirstBuffer<asio::const_buffer>(sequence)}, handler,
              *socket_);
        },
        token, buffers);
  }
  // Writes what the socket takes of `buffers` now, without waiting and without the event
  // loop: one sendmsg with MSG_DONTWAIT on a plain stream (0 for a TLS or compressed one, which
  // frame what they write, or with more than kMaxTryBuffers pieces). `*error` if the socket
  // failed (the stream is then broken); would-block is not an error (fewer bytes).
  // REQUIRES: attached, no write pending.
  std::size_t TryWrite(std::span<const asio::const_buffer> buffers, std::error_code* error);
  static constexpr std::size_t kMaxTryBuffers = 16;

  // The socket underneath, for a Deadline, socket options and endpoints (TLS: the TCP socket
  // under the TLS layer). REQUIRES: attached.
  Socket& lowest_layer() { return *socket_; }

  // Pending operations end with asio::error::operation_aborted. No-op unless attached.
  void Cancel();
  // Ends both directions: the peer sees the end (TLS: a close_notify first, if the socket
  // takes it at once), and pending reads here see it too.
  void Shutdown();
  void Close();

  // True if the stream has something to read or the peer closed it (a poll, no wait). For a
  // connection between commands, that means the server closed it or sent something
  // unsolicited. False for a closed stream. TLS: true for decrypted bytes buffered, a
  // close_notify, an alert or an error; a readable socket that held only a record that is not
  // data (a TLS 1.3 ticket or key update) is processed (as by Peek) and gives false.
  bool PeerClosedOrSpoke() const;
  // Copies up to out.size() bytes waiting to be read into `out` without consuming them or
  // waiting: the count (0: the peer closed), or 0 with `error` set (would_block: nothing to
  // read). TLS: the decrypted bytes of at most the one record the TLS layer buffered (reading
  // it from the socket if needed, so the socket may stop showing readable while the stream
  // still has it); 0 for a close_notify or an EOF; a TlsCategory() error for an alert, and
  // connection_reset for a reset as on a plain stream. REQUIRES (TLS, both): no read pending
  // (a record taken into the session would not wake it).
  std::size_t Peek(std::span<std::uint8_t> out, std::error_code& error) const;
  // Sends what the socket takes at once, without waiting or reporting errors: last words
  // before Close (COM_QUIT). TLS: the bytes as one record, then a close_notify.
  void SendNow(std::span<const std::uint8_t> bytes);

  // For readiness watchers (pool::IdleWatcher): the descriptor to poll for readability;
  // -1 when closed. The stream still owns it. TLS: the socket does not show what the TLS
  // layer has already buffered: ask PeerClosedOrSpoke before waiting for readability.
  int native_handle() const;

 private:
  // Reads or writes bytes below the compression layer: through TLS, or the socket's.
  template <typename Handler>
  void RawReadSome(asio::mutable_buffer buffer, Handler&& handler) {
    if (tls_ == nullptr) {
      socket_->async_read_some(buffer, std::forward<Handler>(handler));
      return;
    }
    asio::async_compose<std::decay_t<Handler>, void(std::error_code, std::size_t)>(
        TlsIo<asio::mutable_buffer>{*this, buffer}, handler, *socket_);
  }
  template <typename Handler>
  void RawWriteSome(asio::const_buffer buffer, Handler&& handler) {
    if (tls_ == nullptr) {
      socket_->async_write_some(buffer, std::forward<Handler>(handler));
      return;
    }
    asio::async_compose<std::decay_t<Handler>, void(std::error_code, std::size_t)>(
        TlsIo<asio::const_buffer>{*this, buffer}, handler, *socket_);
  }
  template <typename ConstBufferSequence>
  Status EncodeForCompression(const ConstBufferSequence& sequence) {
    auto it = asio::buffer_sequence_begin(sequence);
    const auto end = asio::buffer_sequence_end(sequence);
    if (it != end && std::next(it) == end) {
      const asio::const_buffer only(*it);
      return compression_->Encode(
          protocol::ByteView(static_cast<const std::uint8_t*>(only.data()), only.size()));
    }
    compression_->ClearGathered();
    for (; it != end; ++it) {
      const asio::const_buffer piece(*it);
      compression_->AddPiece(
          protocol::ByteView(static_cast<const std::uint8_t*>(piece.data()), piece.size()));
    }
    return compression_->Encode(compression_->gathered());
  }
  // Completes a composed operation: never inside the initiating call (posted then).
  template <typename Op, typename Self>
  static void Finish(Op& op, Self& self, std::error_code error, std::size_t bytes) {
    if (op.state == Op::State::kStarting) {
      op.state = Op::State::kPosted;
      op.result = error;
      op.bytes = bytes;
      asio::post(std::move(self));
      return;
    }
    self.complete(error, bytes);
  }
  // One read of decoded bytes: frames already received, or a read below the layer first.
  struct CompressedRead {
    CompressedRead(ByteStream& io_stream, asio::mutable_buffer io_buffer)
        : stream(io_stream), buffer(io_buffer) {}
    ByteStream& stream;
    asio::mutable_buffer buffer;
    enum class State { kStarting, kReceiving, kPosted } state = State::kStarting;
    std::error_code result;
    std::size_t bytes = 0;

    template <typename Self>
    void operator()(Self& self, std::error_code error = {}, std::size_t received = 0) {
      if (state == State::kPosted) {
        self.complete(result, bytes);
        return;
      }
      if (state == State::kReceiving) {
        if (error) {
          self.complete(error, 0);
          return;
        }
        if (received == 0) {
          self.complete(asio::error::eof, 0);
          return;
        }
        stream.compression_->Received(received);
      }
      auto taken = stream.compression_->TakeDecoded(
          std::span(static_cast<std::uint8_t*>(buffer.data()), buffer.size()));
      if (!taken.ok()) {
        Finish(*this, self, std::make_error_code(std::errc::bad_message), 0);
      } else if (*taken > 0 || buffer.size() == 0) {
        Finish(*this, self, {}, *taken);
      } else {
        const auto room = stream.compression_->ReceiveRoom();
        if (state == State::kStarting) state = State::kReceiving;
        stream.RawReadSome(asio::buffer(room.data(), room.size()), std::move(self));
      }
    }
  };
  // One write: the bytes were encoded into frames at initiation; sends them all.
  struct CompressedWrite {
    CompressedWrite(ByteStream& io_stream, std::size_t io_total, bool io_encoded)
        : stream(io_stream), total(io_total), encoded(io_encoded) {}
    ByteStream& stream;
    std::size_t total;
    bool encoded;
    std::size_t written = 0;
    enum class State { kStarting, kSending, kPosted } state = State::kStarting;
    std::error_code result;
    std::size_t bytes = 0;

    template <typename Self>
    void operator()(Self& self, std::error_code error = {}, std::size_t sent = 0) {
      if (state == State::kPosted) {
        self.complete(result, bytes);
        return;
      }
      if (!encoded) {
        Finish(*this, self, std::make_error_code(std::errc::not_enough_memory), 0);
        return;
      }
      if (state == State::kSending) {
        if (error) {
          self.complete(error, 0);
          return;
        }
        written += sent;
      }
      const protocol::Bytes& out = stream.compression_->outgoing();
      if (written < out.size()) {
        state = State::kSending;
        stream.RawWriteSome(asio::buffer(out.data() + written, out.size() - written),
                            std::move(self));
        return;
      }
      Finish(*this, self, {}, total);
    }
  };
  // One read or write through TLS: steps of the session, waiting for the socket's readiness
  // between them. Uses only the first non-empty buffer of a sequence, as a socket may.
  template <typename Buffer>
  struct TlsIo {
    TlsIo(ByteStream& io_stream, Buffer io_buffer) : stream(io_stream), buffer(io_buffer) {}
    ByteStream& stream;
    Buffer buffer;
    enum class State { kStarting, kWaiting, kPosted } state = State::kStarting;
    std::error_code result;
    std::size_t bytes = 0;

    template <typename Self>
    void operator()(Self& self, std::error_code error = {}) {
      if (state == State::kPosted) {
        error = result;
      } else if (!error) {
        const TlsStep step = stream.Step(buffer);
        if (step.wait != TlsStep::Wait::kNone) {
          state = State::kWaiting;
          stream.socket_->async_wait(
              step.wait == TlsStep::Wait::kRead ? Socket::wait_read : Socket::wait_write,
              std::move(self));
          return;
        }
        error = step.error;
        bytes = step.bytes;
      }
      if (state == State::kStarting) {  // Never complete inside the initiating call.
        state = State::kPosted;
        result = error;
        asio::post(std::move(self));
        return;
      }
      self.complete(error, bytes);
    }
  };
  template <typename Buffer, typename Sequence>
  static Buffer FirstBuffer(const Sequence& sequence) {
    for (auto it = asio::buffer_sequence_begin(sequence); it != asio::buffer_sequence_end(sequence);
         ++it) {
      Buffer buffer(*it);
      if (buffer.size() != 0) return buffer;
    }
    return Buffer();
  }
  // Peek below the compression layer.
  std::size_t RawPeek(std::span<std::uint8_t> out, std::error_code& error) const;
  TlsStep Step(asio::mutable_buffer buffer);
  TlsStep Step(asio::const_buffer buffer);
  // Drives `session`'s handshake to its end; installs it first.
  Awaitable<Status> Handshake(Result<std::unique_ptr<TlsSession>> session);

  std::optional<Socket> socket_;                   // Attached.
  std::unique_ptr<TlsSession> tls_;                // TLS streams, attached or detached.
  std::unique_ptr<CompressionLayer> compression_;  // Compressed streams.
  int fd_ = -1;                                    // Detached: owned.
  int family_ = 0;                                 // The socket's protocol, to attach it again.
  int protocol_ = 0;
};

// Writes all of `buffers`: what the socket takes at once directly (ByteStream::TryWrite), the
// rest with asio::async_write. A write that completes at once then costs one system call and
// no trip through the event loop (an async write that completes at once still queues its
// completion, and the loop polls epoll before it runs it). The error (if any) and the bytes
// written.
Awaitable<std::tuple<std::error_code, std::size_t>> WriteAll(
    ByteStream& stream, std::span<const asio::const_buffer> buffers);

}  // namespace longlink::net
