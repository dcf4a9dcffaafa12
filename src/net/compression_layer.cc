#include "net/compression_layer.h"

#include <algorithm>
#include <cstring>

#include "protocol/compression/format.h"

namespace longlink::net {

namespace compression = protocol::compression;

namespace {

// Buffers above this are freed when nothing is pending in them.
constexpr std::size_t kKeptCapacity = 64 * 1024;

void ShrinkIfLarge(protocol::Bytes& bytes) {
  if (bytes.capacity() > kKeptCapacity) protocol::Bytes().swap(bytes);
}

}  // namespace

CompressionLayer::CompressionLayer(Role role) : role_(role) {
  options_.min_compress_length = role == Role::kFacingClient
                                     ? compression::kServerMinCompressLength
                                     : compression::kLibmariadbMinCompressLength;
}

void CompressionLayer::Received(std::size_t count) {
  // Only once the current frame is all taken (TakeDecoded returned 0): Feed moves the
  // decoder's buffers under current_.
  decoder_.Feed(protocol::ByteView(received_, std::min(count, sizeof received_)));
}

Result<std::size_t> CompressionLayer::TakeDecoded(std::span<std::uint8_t> out) {
  while (current_pos_ == current_.size()) {
    current_ = {};
    current_pos_ = 0;
    auto frame = decoder_.Next();
    if (!frame.ok()) return Error{"compressed protocol: " + frame.error().message};
    if (!frame->has_value()) return std::size_t{0};
    sequence_.FollowReceived((*frame)->sequence_id);
    current_ = (*frame)->data;
  }
  const std::size_t count = std::min(out.size(), current_.size() - current_pos_);
  std::memcpy(out.data(), current_.data() + current_pos_, count);
  current_pos_ += count;
  return count;
}

Result<std::size_t> CompressionLayer::DecodeFirstFrame(protocol::ByteView bytes,
                                                       std::span<std::uint8_t> out) {
  const auto header = compression::DecodeFrameHeader(bytes);
  if (!header || bytes.size() < compression::kFrameHeaderSize + header->payload_length) {
    return std::size_t{0};
  }
  compression::CompressedDecoder decoder;
  decoder.Feed(bytes.first(compression::kFrameHeaderSize + header->payload_length));
  auto frame = decoder.Next();
  if (!frame.ok()) return Error{"compressed protocol: " + frame.error().message};
  if (!frame->has_value()) return std::size_t{0};
  const std::size_t count = std::min(out.size(), (*frame)->data.size());
  std::memcpy(out.data(), (*frame)->data.data(), count);
  return count;
}

Status CompressionLayer::Encode(protocol::ByteView data) {
  outgoing_.clear();
  return compression::AppendCompressed(data, &sequence_, &outgoing_, options_);
}

void CompressionLayer::Trim() {
  gathered_.clear();
  ShrinkIfLarge(gathered_);
  outgoing_.clear();
  ShrinkIfLarge(outgoing_);
}

}  // namespace longlink::net
