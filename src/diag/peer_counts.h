// PeerCounts: a counter per (destination group, peer address), the census's one lookup per
// socket. An open-addressing table with linear probing in one flat array: a socket's lookup is
// a hash and, almost always, one slot compared, where std::unordered_map chased a node.
#pragma once

#include <cstdint>
#include <vector>

#include "diag/ip_address.h"

namespace longlink::diag {

class PeerCounts {
 public:
  struct Entry {
    std::uint32_t group = 0;
    IpAddress peer;
    std::uint64_t count = 0;
  };

  PeerCounts();

  // The counter of (group, peer), created at 0. The reference is valid until the next call
  // that creates an entry (the table may grow) or Clear().
  std::uint64_t& At(std::uint32_t group, const IpAddress& peer);

  std::size_t size() const { return size_; }
  void Clear();

  // Calls fn(const Entry&) for every entry, in no particular order.
  template <typename Fn>
  void ForEach(Fn fn) const {
    for (const auto& slot : slots_) {
      if (slot.used) fn(slot.entry);
    }
  }

 private:
  struct Slot {
    Entry entry;
    bool used = false;
  };

  static std::size_t Hash(std::uint32_t group, const IpAddress& peer);
  void Grow();

  std::vector<Slot> slots_;  // size a power of two, at most half full
  std::size_t size_ = 0;
};

}  // namespace longlink::diag
