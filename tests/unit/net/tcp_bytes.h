// Bytes a TCP socket has received (TCP_INFO's tcpi_bytes_received): what crossed the
// connection, for tests that check what a layer put on the wire. Its own file because
// <linux/tcp.h> clashes with <netinet/tcp.h>, which Asio includes.
#pragma once

#include <cstdint>

namespace longlink::net::testing {

// The payload bytes `fd` (a connected TCP socket) has received so far; 0 if the kernel does
// not say.
std::uint64_t TcpBytesReceived(int fd);

}  // namespace longlink::net::testing
