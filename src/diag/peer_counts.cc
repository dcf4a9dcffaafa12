#include "diag/peer_counts.h"

#include <cstring>
#include <utility>

namespace longlink::diag {
namespace {

constexpr std::size_t kInitialSlots = 64;

}  // namespace

PeerCounts::PeerCounts() : slots_(kInitialSlots) {}

std::size_t PeerCounts::Hash(std::uint32_t group, const IpAddress& peer) {
  std::uint64_t words[2];
  std::memcpy(words, peer.bytes().data(), sizeof words);
  std::uint64_t h = words[0] * 0x9e3779b97f4a7c15ULL ^ words[1] ^
                    (std::uint64_t{group} << 8 | static_cast<std::uint64_t>(peer.family()));
  h ^= h >> 33;  // the murmur3 finalizer: every input bit reaches the low bits used as index
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return static_cast<std::size_t>(h);
}

std::uint64_t& PeerCounts::At(std::uint32_t group, const IpAddress& peer) {
  std::size_t mask = slots_.size() - 1;
  for (std::size_t i = Hash(group, peer) & mask;; i = (i + 1) & mask) {
    Slot& slot = slots_[i];
    if (!slot.used) {
      if (2 * (size_ + 1) > slots_.size()) {
        Grow();
        return At(group, peer);
      }
      slot.used = true;
      slot.entry = {group, peer, 0};
      ++size_;
      return slot.entry.count;
    }
    if (slot.entry.group == group && slot.entry.peer == peer) return slot.entry.count;
  }
}

void PeerCounts::Grow() {
  std::vector<Slot> old(slots_.size() * 2);
  std::swap(old, slots_);
  const std::size_t mask = slots_.size() - 1;
  for (const auto& slot : old) {
    if (!slot.used) continue;
    std::size_t i = Hash(slot.entry.group, slot.entry.peer) & mask;
    while (slots_[i].used) i = (i + 1) & mask;
    slots_[i] = slot;
  }
}

void PeerCounts::Clear() {
  slots_.assign(kInitialSlots, Slot{});
  size_ = 0;
}

}  // namespace longlink::diag
