// The response tracker on arbitrary packet sequences under every shape.
// Input: int<1> shape, int<8> capabilities, then packets as int<1> length + bytes.
#include <iterator>

#include "fuzz_util.h"
#include "protocol/response.h"

using namespace longlink::protocol;  // NOLINT(google-build-using-namespace)
using longlink::protocol::fuzz::Check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  longlink::protocol::fuzz::Input input(data, size);
  constexpr ResponseShape kShapes[] = {
      ResponseShape::kNone,           ResponseShape::kOkOrErr,     ResponseShape::kEofOrErr,
      ResponseShape::kStatistics,     ResponseShape::kQuery,       ResponseShape::kFieldList,
      ResponseShape::kStmtPrepare,    ResponseShape::kStmtExecute, ResponseShape::kStmtFetch,
      ResponseShape::kAuthentication,
  };
  const ResponseShape shape = kShapes[input.TakeU8() % std::size(kShapes)];
  const Capabilities caps = input.TakeU64();
  ResponseTracker tracker(shape, caps);
  while (!input.empty() && !tracker.complete() && !tracker.failed()) {
    const ByteView packet = input.Take(input.TakeU8());
    auto kind = tracker.OnServerPacket(packet);
    Check(kind.ok() != tracker.failed(), "an error fails the tracker");
    if (tracker.ended_with_error()) Check(tracker.complete(), "ERR completes");
  }
  if (tracker.complete() || tracker.failed()) {
    Check(!tracker.OnServerPacket(ByteView()).ok(), "nothing after the end");
  }
  return 0;
}
