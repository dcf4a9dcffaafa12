// Whole-packet reads and writes for the conversations the proxy itself holds: logging clients
// in, logging in to backends, resetting and checking pooled connections. (Relaying a client's
// command and its result is streamed chunk by chunk instead: see proxy/relay.h.)
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "net/byte_stream.h"
#include "net/io_buffer.h"
#include "net/socket.h"
#include "protocol/frame.h"
#include "protocol/wire.h"

namespace longlink::net {

enum class ReadFailure {
  kNone,
  kClosed,     // The peer closed or reset the connection, or the read was cancelled.
  kMalformed,  // Chunks out of sequence.
  kTooLarge,   // Longer than max_payload.
};

struct PacketRead {
  ReadFailure failure = ReadFailure::kNone;
  protocol::Packet packet = {};
  std::string error = {};  // Why, when failure != kNone.
  bool ok() const { return failure == ReadFailure::kNone; }
};

// Reads one logical packet (chunks joined), using `buffer` for bytes received beyond it; those
// stay in `buffer` for the next call. Checks that continuation chunks are numbered in sequence;
// the first chunk's sequence id is returned for the caller to check.
Awaitable<PacketRead> ReadPacket(Socket& socket, IoBuffer& buffer, std::size_t max_payload);
// The same from a stream. REQUIRES: attached.
Awaitable<PacketRead> ReadPacket(ByteStream& stream, IoBuffer& buffer, std::size_t max_payload);

// Writes `payload` framed (split at 16 MiB) from `sequence_id`. Returns the next sequence id.
Awaitable<Result<std::uint8_t>> WritePacket(Socket& socket, protocol::ByteView payload,
                                            std::uint8_t sequence_id);
// The same to a stream. REQUIRES: attached.
Awaitable<Result<std::uint8_t>> WritePacket(ByteStream& stream, protocol::ByteView payload,
                                            std::uint8_t sequence_id);

}  // namespace longlink::net
