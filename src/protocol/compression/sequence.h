// The compressed sequence id of one connection: the id in each frame header, which is not the
// id in the packet headers inside the frames.
//
// How the peers run it (MariaDB sql/net_serv.cc, libmariadb ma_net.c; confirmed by recordings
// in tests/unit/protocol/testdata):
// - One counter per connection serves both directions (NET::compress_pkt_nr).
// - Both sides reset it to 0 at the start of every command (net_clear, ma_net_clear), so the
//   client's first frame of a command has id 0.
// - A sender gives each frame the counter's value and advances it by one (mod 256).
// - A receiver, having read a frame with id n, continues at n + 1; so the server's first reply
//   frame to a one-frame command has id 1, and a client that sends more within the same command
//   (LOCAL INFILE data, an auth exchange) continues after the server's last frame.
// - The MariaDB server checks every frame it reads: an id other than the counter's value is
//   ER_NET_PACKETS_OUT_OF_ORDER. libmariadb does not check: it takes the received id as is.
//
// The packet headers inside frames are not checked by either side under compression, and they
// do not follow the plain-protocol rule: libmariadb gives a command packet id 0 (every chunk of
// a 16 MiB command too), and the server numbers its reply packets from the command's frame
// id + 1, re-synchronising with the frame counter at every flush.
#pragma once

#include <cstdint>

#include "common/result.h"

namespace longlink::protocol::compression {

class CompressedSequence {
 public:
  // At the start of every command, on both sides, before the client's first frame.
  void Reset() { next_ = 0; }
  // The id the next frame (sent or received) should carry.
  std::uint8_t next() const { return next_; }

  // The id for a frame about to be sent; advances the counter.
  std::uint8_t TakeForSend() { return next_++; }
  // For a received frame, as the MariaDB server checks: fails (and leaves the counter) unless
  // `id` is next(); otherwise advances past it.
  Status CheckReceived(std::uint8_t id);
  // For a received frame, as libmariadb follows: continues at id + 1 whatever `id` is.
  void FollowReceived(std::uint8_t id) { next_ = static_cast<std::uint8_t>(id + 1); }

 private:
  std::uint8_t next_ = 0;
};

}  // namespace longlink::protocol::compression
