// Shared helpers for the libFuzzer targets: splitting the input and checking that a decoded
// message survives Encode/Decode unchanged.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "protocol/constants.h"
#include "protocol/wire.h"

namespace longlink::protocol::fuzz {

// Consumes the input front to back.
class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size) : rest_(data, size) {}

  std::uint64_t TakeU64() {
    std::uint64_t value = 0;
    const std::size_t count = rest_.size() < 8 ? rest_.size() : 8;
    for (std::size_t i = 0; i < count; ++i) value |= std::uint64_t{rest_[i]} << (8 * i);
    rest_ = rest_.subspan(count);
    return value;
  }
  std::uint8_t TakeU8() {
    if (rest_.empty()) return 0;
    const std::uint8_t value = rest_[0];
    rest_ = rest_.subspan(1);
    return value;
  }
  ByteView Take(std::size_t count) {
    if (count > rest_.size()) count = rest_.size();
    ByteView part = rest_.subspan(0, count);
    rest_ = rest_.subspan(count);
    return part;
  }
  ByteView Rest() const { return rest_; }
  bool empty() const { return rest_.empty(); }

 private:
  ByteView rest_;
};

// Aborts (a fuzzer finding) unless `condition` holds.
inline void Check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "invariant failed: %s\n", what);
    std::abort();
  }
}

// If `payload` decodes, its encoding decodes to the same value.
template <typename Message, typename DecodeFn, typename EncodeFn>
void CheckRoundTrip(ByteView payload, DecodeFn decode, EncodeFn encode, const char* name) {
  auto decoded = decode(payload);
  if (!decoded.ok()) {
    Check(!decoded.error().message.empty(), name);
    return;
  }
  const Bytes encoded = encode(*decoded);
  auto again = decode(encoded);
  Check(again.ok(), name);
  Check(*again == *decoded, name);
}

}  // namespace longlink::protocol::fuzz
