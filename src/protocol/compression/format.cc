#include "protocol/compression/format.h"

#include <cassert>

namespace longlink::protocol::compression {

void EncodeFrameHeader(const FrameHeader& header, Bytes* out) {
  assert(header.payload_length <= kMaxFrameLength);
  assert(header.uncompressed_length <= kMaxFrameLength);
  Writer writer(out);
  writer.WriteU24(header.payload_length);
  writer.WriteU8(header.sequence_id);
  writer.WriteU24(header.uncompressed_length);
}

std::optional<FrameHeader> DecodeFrameHeader(ByteView bytes) {
  Reader reader(bytes);
  auto payload_length = reader.ReadU24();
  auto sequence_id = reader.ReadU8();
  auto uncompressed_length = reader.ReadU24();
  if (!payload_length || !sequence_id || !uncompressed_length) return std::nullopt;
  return FrameHeader{.payload_length = *payload_length,
                     .sequence_id = *sequence_id,
                     .uncompressed_length = *uncompressed_length};
}

}  // namespace longlink::protocol::compression
