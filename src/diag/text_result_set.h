// A COM_QUERY's answer as diagnose's admin client reads it: one text result set whose values
// are all strings (the admin console never sends NULL; a NULL reads as an empty string), or an
// OK without rows, or an ERR. TextResultSetReader takes the server's packets one at a time, so
// it is tested on byte strings and the client feeds it from the socket.
//
// Layout (protocol/response.h): column count, column definitions, [EOF], text rows, then EOF
// or an OK with a 0xFE header under DEPRECATE_EOF. A second result (MORE_RESULTS_EXIST) is
// refused: the admin console's commands each return one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "protocol/constants.h"
#include "protocol/packets.h"
#include "protocol/response.h"
#include "protocol/wire.h"

namespace longlink::diag {

struct TextResultSet {
  std::vector<std::string> columns;            // Column names, in order; empty for an OK.
  std::vector<std::vector<std::string>> rows;  // Each row has columns.size() values.

  // The index of the column called `name` (exact match), or nullopt.
  std::optional<std::size_t> ColumnIndex(std::string_view name) const;
};

// Reads one response to COM_QUERY. Feed every server packet's payload until complete().
class TextResultSetReader {
 public:
  // caps: the capabilities negotiated on the connection. max_rows: more rows are an error
  // (the reader stays bounded whatever the server sends).
  TextResultSetReader(protocol::Capabilities caps, std::size_t max_rows);

  // Takes the next packet. An error leaves the reader failed; so does an ERR from the server,
  // which error() then holds (and the returned Error quotes it).
  Status Add(protocol::ByteView payload);

  bool complete() const { return tracker_.complete(); }
  // The ERR that answered the query, if one did.
  const std::optional<protocol::ErrPacket>& error() const { return tracker_.error(); }
  // REQUIRES: complete() and no error().
  TextResultSet Take() { return std::move(result_); }

 private:
  protocol::ResponseTracker tracker_;
  std::size_t max_rows_;
  bool failed_ = false;
  TextResultSet result_;
};

}  // namespace longlink::diag
