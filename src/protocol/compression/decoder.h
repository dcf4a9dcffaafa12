// Incremental decoder for the compressed protocol: feed it the bytes received from the socket,
// take out each frame's uncompressed bytes, which together are the ordinary packet stream (feed
// them to a PacketFramer, or relay them). See format.h for the frame layout.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "common/result.h"
#include "protocol/compression/format.h"
#include "protocol/wire.h"

namespace longlink::protocol::compression {

// One decoded frame.
struct DecodedFrame {
  std::uint8_t sequence_id =
      0;                    // The compressed sequence id, for the caller to check (sequence.h).
  bool compressed = false;  // The payload was a zlib stream (false: stored).
  // The frame's uncompressed bytes: part of the packet stream, not necessarily whole packets.
  // Valid until the next call to Feed or Next.
  ByteView data = {};
};

// Why a decoder stopped. A stopped decoder stays stopped: the stream is no longer in sync.
enum class DecodeFault {
  kNone,
  kFrameTooLarge,  // A header's payload_length or uncompressed_length exceeds the limit.
  // The payload could not be inflated to exactly uncompressed_length bytes: corrupt zlib data, a
  // length that lies, bytes after the stream (or zlib ran out of memory).
  kCorrupt,
};

class CompressedDecoder {
 public:
  // max_frame_length: the largest payload_length and uncompressed_length accepted; a header
  // with a larger one is an error as soon as its 7 bytes are in, before any payload is
  // buffered. REQUIRES: max_frame_length <= kMaxFrameLength (the default: the most a peer may
  // send; a 16 MiB packet arrives in frames of 0xFFFFFF uncompressed bytes).
  explicit CompressedDecoder(std::size_t max_frame_length = kMaxFrameLength);

  // Buffer capacity kept across frames; more is released once every fed byte has been decoded.
  static constexpr std::size_t kIdleCapacity = 16 * 1024;

  CompressedDecoder(const CompressedDecoder&) = delete;
  CompressedDecoder& operator=(const CompressedDecoder&) = delete;
  CompressedDecoder(CompressedDecoder&&) = default;
  CompressedDecoder& operator=(CompressedDecoder&&) = default;

  // Appends received bytes. Bytes fed after a fault are ignored. Memory held is what was fed
  // and not yet decoded, plus one frame's uncompressed bytes: callers that feed one read at a
  // time and call Next until it returns nullopt hold at most one frame and one read.
  void Feed(ByteView bytes);

  // The next whole frame, decoded; nullopt if its header or payload is not all here yet; an
  // error (and fault() says which) if the stream is broken.
  Result<std::optional<DecodedFrame>> Next();

  DecodeFault fault() const { return fault_; }
  std::size_t max_frame_length() const { return max_frame_length_; }
  // Bytes fed but not yet returned in a frame (the current frame's bytes count as returned).
  std::size_t buffered() const { return buffer_.size() - read_pos_; }
  // Bytes of memory held by the buffers.
  std::size_t capacity() const { return buffer_.capacity() + inflated_.capacity(); }

 private:
  // Drops bytes already returned; frees large buffers once everything fed has been returned.
  void Compact();
  Error Fail(DecodeFault fault, std::string message);

  std::size_t max_frame_length_;
  Bytes buffer_;  // Received bytes; [read_pos_, end) not yet decoded.
  std::size_t read_pos_ = 0;
  Bytes inflated_;  // The last compressed frame's uncompressed bytes.
  DecodeFault fault_ = DecodeFault::kNone;
  Error error_;
};

}  // namespace longlink::protocol::compression
