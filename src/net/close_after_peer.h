// Closing a connection so that its TIME_WAIT is the peer's. TCP keeps a TIME_WAIT socket (60 s,
// one local port) on the side that closes first. When the proxy ends a backend connection (a
// pooled one it retires: max_idle_time, max_lifetime, room for another pool), it sends COM_QUIT;
// the server then closes its end at once, as it does for any client that quits. Closing only
// after that puts the TIME_WAIT on the database host, where the server's listening port keeps
// it from costing a port, and leaves none on the application's host.
#pragma once

#include <asio/any_io_executor.hpp>
#include <chrono>

#include "net/byte_stream.h"

namespace longlink::net {

// Closes `stream` (open, no operation pending; its last words already sent) once its peer has
// closed its end, or after `timeout` if the peer does not. Bytes that still arrive are dropped.
// The wait runs on `executor`'s loop (a stream attached elsewhere, or detached, is bound there
// first: ByteStream::Rebind); without an executor, or if that fails, the stream is closed at
// once. Never blocks the caller.
void CloseAfterPeer(ByteStream stream, asio::any_io_executor executor,
                    std::chrono::milliseconds timeout);

}  // namespace longlink::net
