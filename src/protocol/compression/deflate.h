// zlib as the compressed protocol uses it: each compressed frame's payload is one complete zlib
// stream (RFC 1950: a 2-byte header, deflate data, an Adler-32 check), as zlib's compress() makes
// and uncompress() reads. Frames share no dictionary or state. The only file that sees <zlib.h>.
//
// Each call sets up and tears down zlib's state (about 256 KiB to compress at the default
// memory level, about 40 KiB to inflate), so an idle connection holds none.
#pragma once

#include <string_view>

#include "common/result.h"
#include "protocol/wire.h"

namespace longlink::protocol::compression {

// zlib's default level (6), which both MariaDB and libmariadb use.
inline constexpr int kDefaultZlibLevel = -1;

// Compresses `data` into one zlib stream at `level` (0-9, or kDefaultZlibLevel) and appends it
// to `out` if it is shorter than `data`: returns true. Otherwise (it would not be shorter, or
// `data` is empty) appends nothing and returns false: the peers then store the frame. Errors
// only when zlib fails (out of memory, a bad level); `out` is then as it was.
// REQUIRES: data.size() <= 0xFFFFFFFF.
Result<bool> DeflateIfSmaller(ByteView data, int level, Bytes* out);

// Inflates `compressed`, which must be exactly one zlib stream of exactly `expected_size`
// bytes, and appends those bytes to `out`. Never produces or allocates more than expected_size
// bytes of output. Errors, with `out` as it was: corrupt data (a bad header, bad deflate data,
// a bad check), a stream that ends early or yields fewer bytes, a stream that would yield more,
// bytes after the end of the stream.
// REQUIRES: 0 < expected_size <= 0xFFFFFFFF; compressed.size() <= 0xFFFFFFFF.
Status InflateExactly(ByteView compressed, std::size_t expected_size, Bytes* out);

// The zlib library's version ("1.2.13").
std::string_view ZlibVersion();

}  // namespace longlink::protocol::compression
