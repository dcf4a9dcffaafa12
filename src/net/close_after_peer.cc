#include "net/close_after_peer.h"

#include <array>
#include <asio/buffer.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <cstdint>
#include <utility>

#include "net/socket.h"

namespace longlink::net {
namespace {

Awaitable<void> WaitForPeerClose(ByteStream stream, std::chrono::milliseconds timeout) {
  {
    // The raw socket, under any TLS or compression: nothing read here is wanted, only the end.
    Socket& socket = stream.lowest_layer();
    Deadline deadline(socket, timeout);
    std::array<std::uint8_t, 256> sink;
    for (;;) {
      auto [error, n] = co_await socket.async_read_some(asio::buffer(sink), kNoThrow);
      if (error) break;  // The peer's end (eof), a reset, or the deadline.
    }
  }
  stream.Close();
}

}  // namespace

void CloseAfterPeer(ByteStream stream, asio::any_io_executor executor,
                    std::chrono::milliseconds timeout) {
  if (!stream.is_open()) return;
  if (!executor) {
    stream.Close();
    return;
  }
  // Bound here, not in the coroutine: until it runs, the stream must not be another loop's
  // (the loops may stop and be destroyed before it does).
  if (!stream.Rebind(executor)) return;  // Closed.
  asio::co_spawn(executor, WaitForPeerClose(std::move(stream), timeout), asio::detached);
}

}  // namespace longlink::net
