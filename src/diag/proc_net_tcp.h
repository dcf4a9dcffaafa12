// Lists TCP sockets from /proc/net/tcp and /proc/net/tcp6: the fallback when netlink
// sock_diag is unavailable. Slower (about 150 bytes of kernel-generated text per socket) but
// carries the same fields: state, 4-tuple, timer, uid, inode.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"
#include "diag/socket_sink.h"
#include "diag/tcp_state.h"

namespace longlink::diag {

// Parses the text of /proc/net/tcp (family AF_INET) or /proc/net/tcp6 (AF_INET6), delivering
// sockets whose state is in `states` to *sink in file order. The header line and malformed
// lines are skipped; the number of malformed lines is added to *malformed (may be null).
void ParseProcNetTcp(std::string_view text, int family, StateMask states, SocketSink* sink,
                     std::size_t* malformed);

// Reads a whole file in large chunks (one pass, so the kernel's seq_file does not repeat lines
// between small reads). Errors name the path.
Result<std::string> ReadWholeFile(const std::string& path);

}  // namespace longlink::diag
