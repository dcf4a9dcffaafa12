// The client's side of a session: its socket, the bytes read from it and not yet used, and
// the one way the proxy answers a client with a packet of its own (an OK or ERR it made, a
// greeting, an auth request). Commands and results the backend sends are relayed by
// CommandRelay, which reads and writes through this channel too.
//
// Buffers are borrowed from the worker's BufferPool while bytes are in flight; between
// commands the channel holds none (GiveBack). The channel records when it started waiting for
// the rest of a packet (reading_since), so that the worker's sweep can close a client that
// stalls mid-packet (proxy.net_read_timeout).
#pragma once

#include <asio/any_io_executor.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

#include "net/byte_stream.h"
#include "net/io_buffer.h"
#include "net/packet_io.h"
#include "net/socket.h"
#include "pool/backend_connection.h"
#include "protocol/constants.h"
#include "protocol/packets.h"

namespace longlink::proxy {

class ClientChannel {
 public:
  ClientChannel(net::Socket socket, net::BufferPool& buffers);
  ~ClientChannel();
  ClientChannel(const ClientChannel&) = delete;
  ClientChannel& operator=(const ClientChannel&) = delete;

  // The stream to the client (plain, or TLS after StartTls).
  net::ByteStream& stream() { return stream_; }
  // The socket under it: endpoints, options, a Deadline. REQUIRES: not closed.
  net::Socket& socket() { return stream_.lowest_layer(); }
  // The session's event loop (also after the channel is closed).
  const asio::any_io_executor& executor() const { return executor_; }
  // Whether the connection is TLS.
  bool secure() const { return stream_.tls() != nullptr; }
  // The capabilities agreed with the client (zero before its handshake response): they decide
  // how the proxy's own OK and ERR packets are encoded.
  protocol::Capabilities capabilities() const { return capabilities_; }
  void set_capabilities(protocol::Capabilities capabilities) { capabilities_ = capabilities; }

  // Bytes read from the client and not yet used; takes a buffer from the pool if none.
  net::IoBuffer& in();
  bool has_input() const { return in_ && !in_->empty(); }
  // Returns the input buffer to the pool; its contents are dropped.
  void GiveBack();
  // Installs `count` bytes the session's idle read got as the start of the input.
  void Deliver(const std::uint8_t* bytes, std::size_t count);

  // Reads until in() holds `count` bytes. False if the client went away.
  net::Awaitable<bool> Fill(std::size_t count);
  // The same, never reading beyond them: what follows stays in the socket (the TLS
  // handshake after an SSLRequest, which OpenSSL reads from the socket itself).
  net::Awaitable<bool> FillExactly(std::size_t count);
  // Reads one whole packet (chunks joined), waiting as a partial read.
  net::Awaitable<net::PacketRead> ReadPacket(std::size_t max_payload);
  // Reads and drops the rest of the current packet (all its chunks).
  net::Awaitable<bool> DropPacket(std::size_t max_payload);
  // Reads what the socket has into in() (one read), waiting as a partial read. False if the
  // client went away.
  net::Awaitable<bool> ReadSome();

  // Sends one packet the proxy made. False if the client went away.
  net::Awaitable<bool> Send(const protocol::Bytes& payload, std::uint8_t sequence);
  // The one way the proxy answers with an error: encoded for the client's capabilities.
  net::Awaitable<bool> SendError(const protocol::ErrPacket& error, std::uint8_t sequence);
  // An OK of the proxy's own with `status_flags` (never SESSION_STATE_CHANGED: the proxy
  // reports no state change of its own).
  net::Awaitable<bool> SendOk(std::uint16_t status_flags, std::uint8_t sequence);

  // Bytes read from and written to the client since the last TakeTraffic (the pool counters'
  // bytes): reads through this channel and Deliver count themselves; a write to stream() by
  // another part is counted with CountSent.
  struct Traffic {
    std::uint64_t received = 0;
    std::uint64_t sent = 0;
  };
  Traffic TakeTraffic() { return std::exchange(traffic_, Traffic{}); }
  // ERR packets sent with SendError since the channel opened.
  std::uint64_t errors_sent() const { return errors_sent_; }
  void CountSent(std::size_t bytes) { traffic_.sent += bytes; }

  // Since when the channel waits for the rest of a packet; zero while it does not.
  pool::Clock::time_point reading_since() const { return reading_since_; }
  // Ends the connection in both directions: pending reads see the end.
  void Shutdown();
  // Ends the connection abortively (a TCP reset), as MariaDB ends a connection that passed its
  // wait_timeout or idle_transaction_timeout: the client's next command fails with 2006.
  // Pending reads end with operation_aborted.
  void Abort();
  // Cancels the pending read (the session's idle wait ends with operation_aborted).
  void Cancel();
  void Close();

 private:
  // Sets reading_since_ for as long as it lives: one around each wait for a partial packet.
  struct PartialRead {
    explicit PartialRead(ClientChannel& waiting) : channel(waiting) {
      channel.reading_since_ = pool::Clock::now();
    }
    ~PartialRead() { channel.reading_since_ = {}; }
    PartialRead(const PartialRead&) = delete;
    PartialRead& operator=(const PartialRead&) = delete;
    ClientChannel& channel;
  };

  asio::any_io_executor executor_;
  net::ByteStream stream_;
  net::BufferPool& buffers_;
  protocol::Capabilities capabilities_ = 0;
  std::unique_ptr<net::IoBuffer> in_;
  pool::Clock::time_point reading_since_ = {};
  Traffic traffic_ = {};
  std::uint64_t errors_sent_ = 0;
};

}  // namespace longlink::proxy
