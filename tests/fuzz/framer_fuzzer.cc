// The framer on arbitrary streams fed in arbitrary pieces: every packet it returns, framed
// again, is exactly the bytes it consumed.
// Input: int<1> piece size, int<3> max payload, then the stream.
#include <algorithm>

#include "fuzz_util.h"
#include "protocol/frame.h"

using namespace longlink::protocol;  // NOLINT(google-build-using-namespace)
using longlink::protocol::fuzz::Check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  longlink::protocol::fuzz::Input input(data, size);
  const std::size_t piece = std::size_t{input.TakeU8()} + 1;
  ByteView limit = input.Take(3);
  std::size_t max_payload = 0;
  for (std::size_t i = 0; i < limit.size(); ++i) max_payload |= std::size_t{limit[i]} << (8 * i);
  const ByteView stream = input.Rest();

  PacketFramer framer(max_payload);
  std::size_t consumed = 0;
  for (std::size_t offset = 0; offset < stream.size(); offset += piece) {
    const std::size_t count = std::min(piece, stream.size() - offset);
    framer.Feed(stream.subspan(offset, count));
    while (true) {
      auto next = framer.Next();
      if (!next.ok()) {
        Check(framer.fault() != FramingFault::kNone, "fault set on error");
        return 0;
      }
      if (!next->has_value()) break;
      const Packet& packet = **next;
      Check(packet.payload.size() <= max_payload, "payload within the limit");
      const Bytes framed = Frame(packet.payload, packet.sequence_id);
      Check(consumed + framed.size() <= stream.size(), "consumed within the stream");
      Check(std::equal(framed.begin(), framed.end(),
                       stream.begin() + static_cast<std::ptrdiff_t>(consumed)),
            "re-framed packet equals the consumed bytes");
      consumed += framed.size();
    }
  }
  Check(consumed + framer.buffered() == stream.size(), "every byte accounted for");

  // PeekChunk walks the same stream without copying.
  ByteView rest = stream;
  while (auto chunk = PeekChunk(rest)) {
    Check(chunk->size() <= rest.size(), "chunk within the buffer");
    rest = rest.subspan(chunk->size());
  }
  return 0;
}
