#include "protocol/compression/sequence.h"

#include <string>

namespace longlink::protocol::compression {

Status CompressedSequence::CheckReceived(std::uint8_t id) {
  if (id != next_) {
    return Error{"compressed packets out of order: frame has sequence id " + std::to_string(id) +
                 ", expected " + std::to_string(next_)};
  }
  ++next_;
  return {};
}

}  // namespace longlink::protocol::compression
