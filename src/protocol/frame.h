// Packet framing: the 4-byte header (int<3> payload length, int<1> sequence id), the split of a
// payload of 0xFFFFFF bytes or more into 0xFFFFFF-byte chunks with consecutive sequence ids, and
// an incremental framer that joins chunks back into logical packets.
//
// A logical packet whose payload is an exact multiple of 0xFFFFFF bytes (including 0 bytes only
// for the empty packet itself) ends with an empty chunk; the encoder writes it and the framer
// expects it. Sequence ids wrap from 255 to 0.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "common/result.h"
#include "protocol/wire.h"

namespace longlink::protocol {

inline constexpr std::size_t kPacketHeaderSize = 4;
// The largest payload one chunk can carry; a chunk this long means "more chunks follow".
inline constexpr std::size_t kMaxChunkPayload = 0xffffff;

struct PacketHeader {
  std::uint32_t payload_length = 0;  // < 2^24.
  std::uint8_t sequence_id = 0;
  friend bool operator==(const PacketHeader&, const PacketHeader&) = default;
};

// Appends the 4 header bytes. REQUIRES: header.payload_length <= kMaxChunkPayload.
void EncodePacketHeader(const PacketHeader& header, Bytes* out);
// Decodes the first 4 bytes of `bytes`; nullopt if fewer than 4.
std::optional<PacketHeader> DecodePacketHeader(ByteView bytes);

// Number of chunks a payload of `payload_size` bytes needs: payload_size / 0xFFFFFF + 1.
std::size_t ChunkCount(std::size_t payload_size);
// Total bytes on the wire for a payload: its chunks plus one header per chunk.
std::size_t FramedSize(std::size_t payload_size);

// Appends `payload` framed as chunks with sequence ids first_sequence_id, +1, ... (mod 256).
// Returns the sequence id that the next packet in this exchange should use.
std::uint8_t AppendFramed(ByteView payload, std::uint8_t first_sequence_id, Bytes* out);
// The same, into a new buffer.
Bytes Frame(ByteView payload, std::uint8_t first_sequence_id);

// One chunk as it sits in a receive buffer, for relays that forward chunks as they arrive
// instead of joining them (rows of 16 MiB and more). Views into the caller's buffer.
struct ChunkView {
  PacketHeader header;
  ByteView payload;  // header.payload_length bytes.
  // Bytes the chunk occupies: header and payload.
  std::size_t size() const { return kPacketHeaderSize + payload.size(); }
  // A full chunk: the logical packet continues in the next chunk (possibly empty).
  bool continues() const { return header.payload_length == kMaxChunkPayload; }
};
// The complete chunk at the start of `bytes`, or nullopt if its header or payload is not all
// there yet. REQUIRES: `bytes` outlives the returned views.
std::optional<ChunkView> PeekChunk(ByteView bytes);

// One logical packet: the joined payload and the sequence ids of its first and last chunk.
struct Packet {
  Bytes payload = {};
  std::uint8_t sequence_id = 0;       // Of the first chunk.
  std::uint8_t last_sequence_id = 0;  // Of the last chunk; the next packet uses this + 1.
  friend bool operator==(const Packet&, const Packet&) = default;
};

// Why a framer stopped. A stopped framer stays stopped: the stream is no longer in sync.
enum class FramingFault {
  kNone,
  kPacketTooLarge,  // The payload would exceed the limit: answer ER_NET_PACKET_TOO_LARGE (1153).
  kOutOfOrder,      // A continuation chunk had the wrong sequence id: ER_NET_PACKETS_OUT_OF_ORDER.
};

// Incremental framer: feed it bytes as they arrive, take complete logical packets out.
// It checks that the chunks of one logical packet have consecutive sequence ids; the first
// chunk's id is the caller's to check (it restarts at 0 with every command).
// Bytes are buffered until a whole logical packet is present (at most max_payload plus headers).
// When every buffered byte has been returned, a buffer larger than kIdleCapacity is freed, so an
// idle connection keeps almost no memory.
class PacketFramer {
 public:
  // max_payload: the largest logical payload accepted (max_allowed_packet).
  explicit PacketFramer(std::size_t max_payload);

  // Buffer capacity kept across packets; more is released once the buffer drains.
  static constexpr std::size_t kIdleCapacity = 16 * 1024;

  PacketFramer(const PacketFramer&) = delete;
  PacketFramer& operator=(const PacketFramer&) = delete;
  PacketFramer(PacketFramer&&) = default;
  PacketFramer& operator=(PacketFramer&&) = default;

  // Appends received bytes. Bytes fed after a fault are ignored.
  void Feed(ByteView bytes);

  // The next complete logical packet; nullopt if more bytes are needed; an error (and fault()
  // says which) if the stream is broken. A packet that is too large is reported as soon as its
  // headers show it, without waiting for its payload.
  Result<std::optional<Packet>> Next();

  FramingFault fault() const { return fault_; }
  std::size_t max_payload() const { return max_payload_; }
  // Bytes received but not yet returned in a packet.
  std::size_t buffered() const { return buffer_.size() - read_pos_; }
  // Bytes of memory held by the buffer.
  std::size_t capacity() const { return buffer_.capacity(); }

 private:
  Error Fail(FramingFault fault, std::string message);

  std::size_t max_payload_;
  Bytes buffer_;
  std::size_t read_pos_ = 0;
  FramingFault fault_ = FramingFault::kNone;
  Error error_;
};

}  // namespace longlink::protocol
