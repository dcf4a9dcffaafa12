#include "protocol/compression/decoder.h"

#include <cassert>
#include <utility>

#include "protocol/compression/deflate.h"

namespace longlink::protocol::compression {

CompressedDecoder::CompressedDecoder(std::size_t max_frame_length)
    : max_frame_length_(max_frame_length) {
  assert(max_frame_length <= kMaxFrameLength);
}

void CompressedDecoder::Feed(ByteView bytes) {
  if (fault_ != DecodeFault::kNone) return;
  Compact();
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
}

void CompressedDecoder::Compact() {
  if (read_pos_ == buffer_.size()) {
    if (buffer_.capacity() > kIdleCapacity) {
      Bytes().swap(buffer_);
    } else {
      buffer_.clear();
    }
    if (inflated_.capacity() > kIdleCapacity) {
      Bytes().swap(inflated_);
    } else {
      inflated_.clear();
    }
    read_pos_ = 0;
  } else if (read_pos_ > buffer_.size() / 2) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(read_pos_));
    read_pos_ = 0;
  }
}

Error CompressedDecoder::Fail(DecodeFault fault, std::string message) {
  fault_ = fault;
  error_ = Error{std::move(message)};
  Bytes().swap(buffer_);
  Bytes().swap(inflated_);
  read_pos_ = 0;
  return error_;
}

Result<std::optional<DecodedFrame>> CompressedDecoder::Next() {
  if (fault_ != DecodeFault::kNone) return error_;
  Compact();

  const ByteView pending = ByteView(buffer_).subspan(read_pos_);
  const auto header = DecodeFrameHeader(pending);
  if (!header) return std::optional<DecodedFrame>();
  if (header->payload_length > max_frame_length_ ||
      header->uncompressed_length > max_frame_length_) {
    const bool payload = header->payload_length > max_frame_length_;
    return Fail(DecodeFault::kFrameTooLarge,
                std::string("compressed frame too large: ") +
                    (payload ? "payload length " : "uncompressed length ") +
                    std::to_string(payload ? header->payload_length : header->uncompressed_length) +
                    " exceeds the limit of " + std::to_string(max_frame_length_) + " bytes");
  }
  if (pending.size() - kFrameHeaderSize < header->payload_length) {
    return std::optional<DecodedFrame>();
  }
  const ByteView payload = pending.subspan(kFrameHeaderSize, header->payload_length);

  DecodedFrame frame;
  frame.sequence_id = header->sequence_id;
  frame.compressed = !header->stored();
  if (header->stored()) {
    frame.data = payload;
  } else {
    inflated_.clear();
    Status inflated = InflateExactly(payload, header->uncompressed_length, &inflated_);
    if (!inflated.ok()) return Fail(DecodeFault::kCorrupt, inflated.error().message);
    frame.data = inflated_;
  }
  read_pos_ += kFrameHeaderSize + header->payload_length;
  return std::optional<DecodedFrame>(frame);
}

}  // namespace longlink::protocol::compression
