#include "protocol/compression/encoder.h"

#include <algorithm>
#include <cassert>

namespace longlink::protocol::compression {

Status AppendCompressed(ByteView data, CompressedSequence* sequence, Bytes* out,
                        const EncoderOptions& options) {
  assert(options.max_frame_data >= 1 && options.max_frame_data <= kMaxFrameLength);
  for (std::size_t offset = 0; offset < data.size();) {
    const ByteView chunk =
        data.subspan(offset, std::min(options.max_frame_data, data.size() - offset));
    offset += chunk.size();

    // Write the header with the payload stored, then the payload; rewrite both if zlib shrinks it.
    const std::size_t header_at = out->size();
    out->resize(header_at + kFrameHeaderSize);
    FrameHeader header{.payload_length = static_cast<std::uint32_t>(chunk.size()),
                       .sequence_id = sequence->TakeForSend(),
                       .uncompressed_length = 0};
    bool compressed = false;
    if (chunk.size() >= options.min_compress_length) {
      auto deflated = DeflateIfSmaller(chunk, options.level, out);
      if (!deflated.ok()) {
        out->resize(header_at);
        return deflated.error();
      }
      compressed = *deflated;
    }
    if (compressed) {
      header.payload_length =
          static_cast<std::uint32_t>(out->size() - header_at - kFrameHeaderSize);
      header.uncompressed_length = static_cast<std::uint32_t>(chunk.size());
    } else {
      out->insert(out->end(), chunk.begin(), chunk.end());
    }
    Bytes header_bytes;
    EncodeFrameHeader(header, &header_bytes);
    std::copy(header_bytes.begin(), header_bytes.end(),
              out->begin() + static_cast<std::ptrdiff_t>(header_at));
  }
  return {};
}

}  // namespace longlink::protocol::compression
