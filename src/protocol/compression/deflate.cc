#include "protocol/compression/deflate.h"

#include <zlib.h>

#include <cassert>
#include <limits>
#include <string>
#include <utility>

namespace longlink::protocol::compression {

namespace {

std::string ZlibError(const char* what, int code, const z_stream& stream) {
  std::string message = std::string(what) + " failed (zlib error " + std::to_string(code);
  if (stream.msg != nullptr) message += ": " + std::string(stream.msg);
  return message + ")";
}

// Points `stream` at all of `input` and at `room` new bytes at the end of `out`; returns where
// they start. (zlib takes a non-const input pointer; it does not write through it.)
std::size_t Prepare(z_stream& stream, ByteView input, std::size_t room, Bytes* out) {
  const std::size_t start = out->size();
  out->resize(start + room);
  stream.next_in = const_cast<Bytef*>(input.data());
  stream.avail_in = static_cast<uInt>(input.size());
  stream.next_out = out->data() + start;
  stream.avail_out = static_cast<uInt>(room);
  return start;
}

}  // namespace

Result<bool> DeflateIfSmaller(ByteView data, int level, Bytes* out) {
  assert(data.size() <= std::numeric_limits<uInt>::max());
  if (data.empty()) return false;
  z_stream stream{};
  int code = deflateInit(&stream, level);
  if (code != Z_OK) return Error{ZlibError("deflateInit", code, stream)};

  // Room for one byte less than the input: output that does not fit is not worth sending.
  const std::size_t start = Prepare(stream, data, data.size() - 1, out);
  code = deflate(&stream, Z_FINISH);
  const std::size_t produced = stream.total_out;
  Result<bool> result = false;  // Z_OK or Z_BUF_ERROR: the output did not fit.
  if (code == Z_STREAM_END) {
    result = true;
  } else if (code != Z_OK && code != Z_BUF_ERROR) {
    result = Error{ZlibError("deflate", code, stream)};
  }
  deflateEnd(&stream);
  out->resize(result.ok() && *result ? start + produced : start);
  return result;
}

Status InflateExactly(ByteView compressed, std::size_t expected_size, Bytes* out) {
  assert(expected_size > 0 && expected_size <= std::numeric_limits<uInt>::max());
  assert(compressed.size() <= std::numeric_limits<uInt>::max());
  z_stream stream{};
  int code = inflateInit(&stream);
  if (code != Z_OK) return Error{ZlibError("inflateInit", code, stream)};

  const std::size_t start = Prepare(stream, compressed, expected_size, out);
  code = inflate(&stream, Z_FINISH);
  const std::size_t produced = stream.total_out;
  const std::size_t unread = stream.avail_in;
  const std::size_t room_left = stream.avail_out;
  std::string message;
  if (code == Z_STREAM_END) {
    if (produced != expected_size) {
      message = "compressed frame inflates to " + std::to_string(produced) +
                " bytes, but its header says " + std::to_string(expected_size);
    } else if (unread != 0) {
      message = "compressed frame has " + std::to_string(unread) + " bytes after its zlib stream";
    }
  } else if (code == Z_BUF_ERROR && room_left == 0) {
    message = "compressed frame inflates to more than the " + std::to_string(expected_size) +
              " bytes its header says";
  } else if (code == Z_BUF_ERROR) {
    message = "compressed frame's zlib stream is truncated";
  } else if (code == Z_DATA_ERROR || code == Z_NEED_DICT) {
    message = "corrupt zlib data in compressed frame: " +
              std::string(stream.msg != nullptr ? stream.msg : "needs a dictionary");
  } else {
    message = ZlibError("inflate", code, stream);
  }
  inflateEnd(&stream);
  if (!message.empty()) {
    out->resize(start);
    return Error{std::move(message)};
  }
  return {};
}

std::string_view ZlibVersion() { return zlibVersion(); }

}  // namespace longlink::protocol::compression
