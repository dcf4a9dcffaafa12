#include "protocol/frame.h"

#include <algorithm>
#include <cassert>
#include <string>
#include <utility>

namespace longlink::protocol {

void EncodePacketHeader(const PacketHeader& header, Bytes* out) {
  assert(header.payload_length <= kMaxChunkPayload);
  Writer writer(out);
  writer.WriteU24(header.payload_length);
  writer.WriteU8(header.sequence_id);
}

std::optional<PacketHeader> DecodePacketHeader(ByteView bytes) {
  Reader reader(bytes);
  auto length = reader.ReadU24();
  auto sequence_id = reader.ReadU8();
  if (!length || !sequence_id) return std::nullopt;
  return PacketHeader{.payload_length = *length, .sequence_id = *sequence_id};
}

std::optional<ChunkView> PeekChunk(ByteView bytes) {
  auto header = DecodePacketHeader(bytes);
  if (!header) return std::nullopt;
  if (bytes.size() - kPacketHeaderSize < header->payload_length) return std::nullopt;
  return ChunkView{.header = *header,
                   .payload = bytes.subspan(kPacketHeaderSize, header->payload_length)};
}

std::size_t ChunkCount(std::size_t payload_size) { return payload_size / kMaxChunkPayload + 1; }

std::size_t FramedSize(std::size_t payload_size) {
  return payload_size + ChunkCount(payload_size) * kPacketHeaderSize;
}

std::uint8_t AppendFramed(ByteView payload, std::uint8_t first_sequence_id, Bytes* out) {
  out->reserve(out->size() + FramedSize(payload.size()));
  std::uint8_t sequence_id = first_sequence_id;
  std::size_t offset = 0;
  while (true) {
    const std::size_t chunk = std::min(payload.size() - offset, kMaxChunkPayload);
    EncodePacketHeader(PacketHeader{.payload_length = static_cast<std::uint32_t>(chunk),
                                    .sequence_id = sequence_id},
                       out);
    out->insert(out->end(), payload.begin() + static_cast<std::ptrdiff_t>(offset),
                payload.begin() + static_cast<std::ptrdiff_t>(offset + chunk));
    offset += chunk;
    sequence_id = static_cast<std::uint8_t>(sequence_id + 1);
    // A full chunk always announces another one, possibly empty.
    if (chunk < kMaxChunkPayload) return sequence_id;
  }
}

Bytes Frame(ByteView payload, std::uint8_t first_sequence_id) {
  Bytes out;
  AppendFramed(payload, first_sequence_id, &out);
  return out;
}

PacketFramer::PacketFramer(std::size_t max_payload) : max_payload_(max_payload) {}

void PacketFramer::Feed(ByteView bytes) {
  if (fault_ != FramingFault::kNone) return;
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
}

Error PacketFramer::Fail(FramingFault fault, std::string message) {
  fault_ = fault;
  error_ = Error{std::move(message)};
  Bytes().swap(buffer_);
  read_pos_ = 0;
  return error_;
}

Result<std::optional<Packet>> PacketFramer::Next() {
  if (fault_ != FramingFault::kNone) return error_;

  // Walk the chunk headers of the packet at read_pos_ without consuming anything until the
  // whole logical packet is buffered.
  std::size_t offset = read_pos_;
  std::size_t total = 0;
  std::uint8_t first_sequence_id = 0;
  std::uint8_t last_sequence_id = 0;
  for (std::size_t index = 0;; ++index) {
    if (buffer_.size() - offset < kPacketHeaderSize) return std::optional<Packet>();
    const PacketHeader header =
        *DecodePacketHeader(ByteView(buffer_).subspan(offset, kPacketHeaderSize));
    if (index == 0) {
      first_sequence_id = header.sequence_id;
    } else if (header.sequence_id != static_cast<std::uint8_t>(last_sequence_id + 1)) {
      return Fail(FramingFault::kOutOfOrder,
                  "packets out of order: continuation chunk has sequence id " +
                      std::to_string(header.sequence_id) + ", expected " +
                      std::to_string(static_cast<std::uint8_t>(last_sequence_id + 1)));
    }
    last_sequence_id = header.sequence_id;
    total += header.payload_length;
    if (total > max_payload_) {
      return Fail(FramingFault::kPacketTooLarge, "packet too large: payload exceeds the limit of " +
                                                     std::to_string(max_payload_) + " bytes");
    }
    offset += kPacketHeaderSize;
    if (buffer_.size() - offset < header.payload_length) return std::optional<Packet>();
    offset += header.payload_length;
    if (header.payload_length < kMaxChunkPayload) break;
  }

  // Join the chunk payloads.
  Packet packet;
  packet.sequence_id = first_sequence_id;
  packet.last_sequence_id = last_sequence_id;
  packet.payload.reserve(total);
  std::size_t pos = read_pos_;
  while (pos < offset) {
    const PacketHeader header =
        *DecodePacketHeader(ByteView(buffer_).subspan(pos, kPacketHeaderSize));
    pos += kPacketHeaderSize;
    packet.payload.insert(
        packet.payload.end(), buffer_.begin() + static_cast<std::ptrdiff_t>(pos),
        buffer_.begin() + static_cast<std::ptrdiff_t>(pos + header.payload_length));
    pos += header.payload_length;
  }
  read_pos_ = offset;

  // Keep the buffer from growing: drop consumed bytes once they are the larger part.
  if (read_pos_ == buffer_.size()) {
    if (buffer_.capacity() > kIdleCapacity) {
      Bytes().swap(buffer_);
    } else {
      buffer_.clear();
    }
    read_pos_ = 0;
  } else if (read_pos_ > buffer_.size() / 2) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(read_pos_));
    read_pos_ = 0;
  }
  return std::optional<Packet>(std::move(packet));
}

}  // namespace longlink::protocol
