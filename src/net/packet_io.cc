#include "net/packet_io.h"

#include <array>
#include <asio/buffer.hpp>
#include <asio/write.hpp>
#include <cstring>
#include <type_traits>

namespace longlink::net {

using protocol::kMaxChunkPayload;
using protocol::kPacketHeaderSize;

namespace {

template <typename Stream>
Awaitable<PacketRead> ReadPacketFrom(Stream& stream, IoBuffer& buffer, std::size_t max_payload) {
  PacketRead result;
  bool first = true;
  std::uint8_t next_sequence = 0;
  for (;;) {
    auto chunk = protocol::PeekChunk(buffer.data());
    if (!chunk) {
      auto header = protocol::DecodePacketHeader(buffer.data());
      if (header) {
        if (result.packet.payload.size() + header->payload_length > max_payload) {
          result.failure = ReadFailure::kTooLarge;
          result.error = "packet larger than " + std::to_string(max_payload) + " bytes";
          co_return result;
        }
        buffer.Reserve(kPacketHeaderSize + header->payload_length);
      }
      auto room = buffer.Room();
      auto [error, count] =
          co_await stream.async_read_some(asio::buffer(room.data(), room.size()), kNoThrow);
      if (error || count == 0) {
        result.failure = ReadFailure::kClosed;
        result.error = ErrorText(error ? error : asio::error::eof);
        co_return result;
      }
      buffer.Commit(count);
      continue;
    }
    if (first) {
      result.packet.sequence_id = chunk->header.sequence_id;
      first = false;
    } else if (chunk->header.sequence_id != next_sequence) {
      result.failure = ReadFailure::kMalformed;
      result.error = "packets out of order";
      co_return result;
    }
    next_sequence = static_cast<std::uint8_t>(chunk->header.sequence_id + 1);
    result.packet.last_sequence_id = chunk->header.sequence_id;
    if (result.packet.payload.size() + chunk->payload.size() > max_payload) {
      result.failure = ReadFailure::kTooLarge;
      result.error = "packet larger than " + std::to_string(max_payload) + " bytes";
      co_return result;
    }
    result.packet.payload.insert(result.packet.payload.end(), chunk->payload.begin(),
                                 chunk->payload.end());
    const bool continues = chunk->continues();
    buffer.Consume(chunk->size());
    if (!continues) co_return result;
  }
}

template <typename Stream>
Awaitable<Result<std::uint8_t>> WritePacketTo(Stream& stream, protocol::ByteView payload,
                                              std::uint8_t sequence_id) {
  protocol::Bytes wire;
  wire.reserve(protocol::FramedSize(payload.size()));
  const std::uint8_t next = protocol::AppendFramed(payload, sequence_id, &wire);
  std::error_code error;
  if constexpr (std::is_same_v<Stream, ByteStream>) {
    const std::array<asio::const_buffer, 1> pieces = {asio::buffer(wire)};
    auto write = WriteAll(stream, pieces);
    auto [failed, count] = co_await std::move(write);
    error = failed;
  } else {
    auto [failed, count] = co_await asio::async_write(stream, asio::buffer(wire), kNoThrow);
    error = failed;
  }
  if (error) co_return Error{ErrorText(error)};
  co_return next;
}

}  // namespace

Awaitable<PacketRead> ReadPacket(Socket& socket, IoBuffer& buffer, std::size_t max_payload) {
  return ReadPacketFrom(socket, buffer, max_payload);
}

Awaitable<PacketRead> ReadPacket(ByteStream& stream, IoBuffer& buffer, std::size_t max_payload) {
  return ReadPacketFrom(stream, buffer, max_payload);
}

Awaitable<Result<std::uint8_t>> WritePacket(Socket& socket, protocol::ByteView payload,
                                            std::uint8_t sequence_id) {
  return WritePacketTo(socket, payload, sequence_id);
}

Awaitable<Result<std::uint8_t>> WritePacket(ByteStream& stream, protocol::ByteView payload,
                                            std::uint8_t sequence_id) {
  return WritePacketTo(stream, payload, sequence_id);
}

}  // namespace longlink::net
