#include "diag/ip_address.h"

#include <arpa/inet.h>

#include <cstring>
#include <string>

namespace longlink::diag {
Result<IpAddress> IpAddress::Parse(std::string_view text) {
  std::string s(text);
  std::uint8_t buf[16];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1) return FromV4(buf);
  if (inet_pton(AF_INET6, s.c_str(), buf) == 1) return FromV6(buf);
  return Error{"'" + s + "' is not an IPv4 or IPv6 address"};
}

bool IpAddress::IsLoopback() const {
  if (is_v4()) return bytes_[0] == 127;
  static constexpr std::uint8_t kV6Loopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return std::memcmp(bytes_.data(), kV6Loopback, 16) == 0;
}

bool IpAddress::IsUnspecified() const {
  std::size_t n = is_v4() ? 4 : 16;
  for (std::size_t i = 0; i < n; ++i) {
    if (bytes_[i] != 0) return false;
  }
  return true;
}

bool IpAddress::InPrefix(const IpAddress& network, unsigned prefix_len) const {
  if (family_ != network.family_) return false;
  unsigned max_bits = is_v4() ? 32 : 128;
  if (prefix_len > max_bits) prefix_len = max_bits;
  unsigned full = prefix_len / 8;
  if (std::memcmp(bytes_.data(), network.bytes_.data(), full) != 0) return false;
  unsigned rest = prefix_len % 8;
  if (rest == 0) return true;
  auto mask = static_cast<std::uint8_t>(0xFF << (8 - rest));
  return (bytes_[full] & mask) == (network.bytes_[full] & mask);
}

std::string IpAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(is_v4() ? AF_INET : AF_INET6, bytes_.data(), buf, sizeof buf);
  return buf;
}

std::string Endpoint::ToString() const {
  if (address.is_v4()) return address.ToString() + ":" + std::to_string(port);
  return "[" + address.ToString() + "]:" + std::to_string(port);
}

std::size_t IpAddressHash::operator()(const IpAddress& a) const {
  // FNV-1a over the meaningful bytes; addresses are few per group, so this is plenty.
  std::uint64_t h = 1469598103934665603ULL ^ static_cast<std::uint64_t>(a.family());
  std::size_t n = a.is_v4() ? 4 : 16;
  for (std::size_t i = 0; i < n; ++i) {
    h ^= a.bytes()[i];
    h *= 1099511628211ULL;
  }
  return static_cast<std::size_t>(h);
}

}  // namespace longlink::diag
