// The compressed protocol's frame format (CLIENT_COMPRESS), data first. The prose, with sources,
// is docs/COMPRESSION.md; in short:
//
// When both sides set CLIENT_COMPRESS, everything after the login's final OK (in both directions)
// is carried in frames instead of plain packets. A frame is a 7-byte header and a payload:
//
//   int<3> payload_length        bytes of payload after the header
//   int<1> sequence_id           the compressed sequence id (see sequence.h)
//   int<3> uncompressed_length   0: the payload is stored as is; otherwise the payload is one
//                                zlib stream (RFC 1950) that inflates to exactly this many bytes
//
// The uncompressed bytes of consecutive frames form the ordinary packet stream (4-byte packet
// headers and payloads, split at 16 MiB as usual). Frames do not follow packet boundaries: one
// frame may carry several packets, the end of one and the start of the next, or part of a
// packet; a packet of 16 MiB or more always spans frames, since a frame carries at most
// 0xFFFFFF uncompressed bytes.
//
// MariaDB 10.11 knows zlib only: it neither offers nor accepts MySQL 8's zstd
// (CLIENT_ZSTD_COMPRESSION_ALGORITHM, bit 26, with a zstd level byte at the end of the handshake
// response); its include/mysql_com.h does not define the bit and the server's greeting never
// sets it. So this codec is zlib only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "protocol/wire.h"

namespace longlink::protocol::compression {

// Bytes of a frame header.
inline constexpr std::size_t kFrameHeaderSize = 7;
// The largest payload_length and uncompressed_length a header can carry (int<3>).
inline constexpr std::size_t kMaxFrameLength = 0xffffff;
// The MariaDB server stores frames of fewer uncompressed bytes than this uncompressed
// (mysys/my_compress.c MIN_COMPRESS_LENGTH), and so does this codec's encoder by default.
inline constexpr std::size_t kServerMinCompressLength = 50;
// libmariadb (the mariadb CLI, mysqlclient) stores frames shorter than 150 bytes (its own
// MIN_COMPRESS_LENGTH); a proxy facing a server may do the same.
inline constexpr std::size_t kLibmariadbMinCompressLength = 150;

struct FrameHeader {
  std::uint32_t payload_length = 0;       // <= kMaxFrameLength.
  std::uint8_t sequence_id = 0;           //
  std::uint32_t uncompressed_length = 0;  // <= kMaxFrameLength; 0: stored.
  bool stored() const { return uncompressed_length == 0; }
  friend bool operator==(const FrameHeader&, const FrameHeader&) = default;
};

// Appends the 7 header bytes. REQUIRES: both lengths <= kMaxFrameLength.
void EncodeFrameHeader(const FrameHeader& header, Bytes* out);
// Decodes the first 7 bytes of `bytes`; nullopt if fewer than 7.
std::optional<FrameHeader> DecodeFrameHeader(ByteView bytes);

}  // namespace longlink::protocol::compression
