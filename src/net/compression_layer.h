// The compressed protocol (CLIENT_COMPRESS) as a layer of a net::ByteStream: what the stream
// reads is the ordinary packet stream decoded from the peer's frames, and what it writes is
// sent as frames (protocol/compression/: the format, the codec and the sequence ids). The
// layer holds the codec's state and buffers; ByteStream drives the I/O.
//
// Frame sequence ids, as the MariaDB server and libmariadb run them (one counter per
// connection, both directions): every frame received sets the counter to its id + 1 (the
// layer follows the peer, as libmariadb does, rather than refusing a misnumbered frame), every
// frame sent takes the counter's value. StartCommand resets it to 0: the proxy calls it before
// it sends a new command to a server, which checks the ids of the frames it reads. Toward a
// client the counter simply follows the client's frames (a command starts at 0 there).
//
// Memory: one frame's decoded bytes at most, in the decoder (a read copies them out), plus what
// one write encodes; the write side's buffers are freed down to a small size between commands
// (Trim), the decoder frees its own once everything fed has been taken.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "common/result.h"
#include "protocol/compression/decoder.h"
#include "protocol/compression/encoder.h"
#include "protocol/compression/sequence.h"
#include "protocol/wire.h"

namespace longlink::net {

class CompressionLayer {
 public:
  // kFacingClient: the proxy's side of a client connection (frames stored below the server's
  // 50 bytes); kFacingServer: a backend connection (below libmariadb's 150 bytes).
  enum class Role { kFacingClient, kFacingServer };
  explicit CompressionLayer(Role role);

  Role role() const { return role_; }
  void StartCommand() { sequence_.Reset(); }

  // Read side. Room for received (compressed) bytes, and how many arrived in it.
  std::span<std::uint8_t> ReceiveRoom() { return {received_, sizeof received_}; }
  void Received(std::size_t count);
  // Copies decoded bytes into `out`: their count; 0 when no whole frame is here yet (receive
  // more). An error when the peer's frames are broken (the stream is then unusable).
  Result<std::size_t> TakeDecoded(std::span<std::uint8_t> out);
  // Bytes received and not yet taken out (decoded or still compressed).
  bool has_buffered() const { return current_pos_ < current_.size() || decoder_.buffered() > 0; }
  // Decodes the first frame of `bytes` (received bytes looked at without consuming them, for
  // a peek) and copies up to out.size() of its data into `out`: the count; 0 if `bytes` does
  // not hold a whole frame; an error for a broken one. Leaves the layer as it is.
  static Result<std::size_t> DecodeFirstFrame(protocol::ByteView bytes,
                                              std::span<std::uint8_t> out);

  // Write side: `data` (part of the packet stream) as frames, in outgoing(); the previous
  // contents are dropped. An error only when zlib fails.
  Status Encode(protocol::ByteView data);
  const protocol::Bytes& outgoing() const { return outgoing_; }
  // Gathers several pieces before Encode (a scattered write): AddPiece each, then Encode of
  // gathered().
  void ClearGathered() { gathered_.clear(); }
  void AddPiece(protocol::ByteView piece) {
    gathered_.insert(gathered_.end(), piece.begin(), piece.end());
  }
  const protocol::Bytes& gathered() const { return gathered_; }
  // Frees large buffers once nothing is pending in them.
  void Trim();

 private:
  Role role_;
  protocol::compression::CompressedDecoder decoder_;
  protocol::compression::CompressedSequence sequence_;
  protocol::compression::EncoderOptions options_;
  // The last frame's decoded bytes, in the decoder's buffers (valid until its next Feed or
  // Next, which happen only once they are all taken); [current_pos_, end) not taken yet.
  protocol::ByteView current_ = {};
  std::size_t current_pos_ = 0;
  protocol::Bytes gathered_;
  protocol::Bytes outgoing_;
  std::uint8_t received_[16 * 1024];
};

}  // namespace longlink::net
