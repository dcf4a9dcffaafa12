// Encoder for the compressed protocol: turns a run of the ordinary packet stream (whole packets
// with their 4-byte headers, or any part of the stream) into frames, as the peers' net_flush
// does with their write buffer. See format.h for the frame layout and sequence.h for the ids.
#pragma once

#include <cstddef>

#include "common/result.h"
#include "protocol/compression/deflate.h"
#include "protocol/compression/format.h"
#include "protocol/compression/sequence.h"
#include "protocol/wire.h"

namespace longlink::protocol::compression {

struct EncoderOptions {
  // Frames of fewer uncompressed bytes are stored: kServerMinCompressLength as the MariaDB
  // server does, kLibmariadbMinCompressLength as libmariadb does. Any value is valid.
  std::size_t min_compress_length = kServerMinCompressLength;
  // zlib level, 0-9 or kDefaultZlibLevel.
  int level = kDefaultZlibLevel;
  // The most uncompressed bytes per frame. REQUIRES: 1 <= max_frame_data <= kMaxFrameLength.
  std::size_t max_frame_data = kMaxFrameLength;
};

// Appends `data` to `out` as frames of at most options.max_frame_data uncompressed bytes each
// (so 16 MiB packets span frames), each compressed unless it is shorter than
// min_compress_length or would not shrink, in which case it is stored. Frame ids come from
// `sequence` (TakeForSend). Empty `data` appends nothing: the peers never send an empty frame.
// Errors only when zlib fails; `out` and `sequence` may then hold some of the frames.
Status AppendCompressed(ByteView data, CompressedSequence* sequence, Bytes* out,
                        const EncoderOptions& options = {});

}  // namespace longlink::protocol::compression
