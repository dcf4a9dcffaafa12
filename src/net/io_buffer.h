// Byte buffers for sockets: IoBuffer holds bytes received but not yet consumed; BufferPool
// lends them out per worker thread, so an idle connection holds no buffer at all (PgBouncer's
// trick: buffers are borrowed only while bytes are in flight).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace longlink::net {

// A contiguous receive buffer: bytes [begin, end) are unconsumed data; [end, capacity) is room
// for the next read.
class IoBuffer {
 public:
  explicit IoBuffer(std::size_t capacity) : data_(capacity) {}

  std::span<const std::uint8_t> data() const { return {data_.data() + begin_, end_ - begin_}; }
  // The same bytes, to change in place (a packet's sequence id).
  std::span<std::uint8_t> mutable_data() { return {data_.data() + begin_, end_ - begin_}; }
  std::size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_; }
  std::size_t capacity() const { return data_.size(); }

  // Room after the data, for a read. Moves the data to the front first if that makes room.
  std::span<std::uint8_t> Room();
  // Marks `count` bytes of Room() as filled.
  void Commit(std::size_t count) { end_ += count; }
  // Drops `count` bytes from the front. REQUIRES: count <= size().
  void Consume(std::size_t count);
  // Makes room for at least `total` bytes of data (data plus room) in one piece.
  void Reserve(std::size_t total);
  void Clear() { begin_ = end_ = 0; }

 private:
  std::vector<std::uint8_t> data_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

// A per-thread free list of buffers. Not thread-safe: one per worker.
class BufferPool {
 public:
  // Buffers start this size; larger ones (grown for big packets) are freed on return.
  static constexpr std::size_t kBufferSize = 16 * 1024;
  static constexpr std::size_t kMaxKept = 64;

  std::unique_ptr<IoBuffer> Take();
  // REQUIRES: buffer came from Take() of this pool (or is null).
  void Give(std::unique_ptr<IoBuffer> buffer);

 private:
  std::vector<std::unique_ptr<IoBuffer>> free_;
};

}  // namespace longlink::net
