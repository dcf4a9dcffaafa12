// The errors the proxy makes itself (as opposed to relaying the server's). Every one goes to
// the client through ClientChannel::SendError; where the server has an error for the same
// situation, the proxy uses the server's code, SQLSTATE and text (protocol/constants.h), and
// adds "longlink: ..." only where the text is the proxy's own.
#pragma once

#include <string>

#include "protocol/packets.h"

namespace longlink::proxy {

// A failure of the proxy's own: the backend is unreachable or broke the protocol.
inline protocol::ErrPacket BackendUnavailable(const std::string& why) {
  return protocol::ErrPacket{.code = 1105, .sql_state = "08S01", .message = "longlink: " + why};
}

}  // namespace longlink::proxy
