// IpAddress and Endpoint: small value types for socket addresses, hashable, printable, with
// IPv4-mapped IPv6 addresses (::ffff:a.b.c.d, as dual-stack sockets report them) folded to IPv4
// so that one peer is one group whatever the socket family.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "common/result.h"

namespace longlink::diag {

class IpAddress {
 public:
  enum class Family : std::uint8_t { kV4 = 4, kV6 = 6 };

  IpAddress() = default;  // 0.0.0.0

  // From network-order bytes. FromV6 folds IPv4-mapped addresses to IPv4. Inline: the socket
  // sources call them twice per socket.
  static IpAddress FromV4(const std::uint8_t bytes[4]) {
    IpAddress a;
    a.family_ = Family::kV4;
    std::memcpy(a.bytes_.data(), bytes, 4);
    return a;
  }
  static IpAddress FromV6(const std::uint8_t bytes[16]) {
    static constexpr std::uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(bytes, kMappedPrefix, sizeof kMappedPrefix) == 0) return FromV4(bytes + 12);
    IpAddress a;
    a.family_ = Family::kV6;
    std::memcpy(a.bytes_.data(), bytes, 16);
    return a;
  }

  // Parses numeric IPv4 or IPv6 text ("10.0.0.5", "::1", "fe80::1"); no names, no brackets.
  static Result<IpAddress> Parse(std::string_view text);

  Family family() const { return family_; }
  bool is_v4() const { return family_ == Family::kV4; }
  // 4 meaningful bytes for IPv4, 16 for IPv6, network order.
  const std::array<std::uint8_t, 16>& bytes() const { return bytes_; }

  bool IsLoopback() const;     // 127.0.0.0/8 or ::1
  bool IsUnspecified() const;  // 0.0.0.0 or ::

  // True when the first prefix_len bits equal those of network (same family).
  bool InPrefix(const IpAddress& network, unsigned prefix_len) const;

  std::string ToString() const;  // "10.0.0.5", "2001:db8::1"

  friend auto operator<=>(const IpAddress&, const IpAddress&) = default;
  // Equality compares all 16 bytes at once (the census compares addresses for every socket);
  // bytes past an IPv4 address are always zero, so this agrees with <=>.
  friend bool operator==(const IpAddress& a, const IpAddress& b) {
    return a.family_ == b.family_ && std::memcmp(a.bytes_.data(), b.bytes_.data(), 16) == 0;
  }

 private:
  Family family_ = Family::kV4;
  std::array<std::uint8_t, 16> bytes_{};
};

struct Endpoint {
  IpAddress address;
  std::uint16_t port = 0;

  std::string ToString() const;  // "10.0.0.5:3306", "[::1]:3306"
  friend auto operator<=>(const Endpoint&, const Endpoint&) = default;
};

struct IpAddressHash {
  std::size_t operator()(const IpAddress& a) const;
};

}  // namespace longlink::diag
