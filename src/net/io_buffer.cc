#include "net/io_buffer.h"

#include <cassert>
#include <cstring>

namespace longlink::net {

std::span<std::uint8_t> IoBuffer::Room() {
  if (begin_ > 0 && (end_ == data_.size() || begin_ >= data_.size() / 2)) {
    std::memmove(data_.data(), data_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  return {data_.data() + end_, data_.size() - end_};
}

void IoBuffer::Consume(std::size_t count) {
  assert(count <= size());
  begin_ += count;
  if (begin_ == end_) begin_ = end_ = 0;
}

void IoBuffer::Reserve(std::size_t total) {
  if (data_.size() - begin_ >= total) return;
  if (data_.size() >= total) {
    std::memmove(data_.data(), data_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
    return;
  }
  std::vector<std::uint8_t> bigger(total);
  std::memcpy(bigger.data(), data_.data() + begin_, end_ - begin_);
  end_ -= begin_;
  begin_ = 0;
  data_.swap(bigger);
}

std::unique_ptr<IoBuffer> BufferPool::Take() {
  if (free_.empty()) return std::make_unique<IoBuffer>(kBufferSize);
  auto buffer = std::move(free_.back());
  free_.pop_back();
  return buffer;
}

void BufferPool::Give(std::unique_ptr<IoBuffer> buffer) {
  if (!buffer) return;
  if (buffer->capacity() != kBufferSize || free_.size() >= kMaxKept) return;  // Freed.
  buffer->Clear();
  free_.push_back(std::move(buffer));
}

}  // namespace longlink::net
