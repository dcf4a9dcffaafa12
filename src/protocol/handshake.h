// Connection-phase messages: the server greeting (HandshakeV10), the client's SSLRequest and
// HandshakeResponse41, the auth exchange (AuthSwitchRequest, AuthMoreData), and the
// COM_CHANGE_USER payload, which re-runs authentication on an open connection.
//
// All payloads exclude the 4-byte packet header. Every Decode<T> returns a whole value or an
// error naming the field where the bytes ran out; Encode(msg) writes the bytes Decode<T> reads.
//
// MariaDB specifics handled here:
// - A MariaDB server clears capability bit 0 (CLIENT_MYSQL) and puts its extended capabilities
//   (bits 32..63) in the last 4 of the greeting's 10 reserved bytes. A MariaDB-aware client
//   that sees bit 0 clear puts its own extended capabilities in bytes 28..31 of the 32-byte
//   SSLRequest / HandshakeResponse41 prefix. Both directions are decoded and encoded here.
// - MariaDB 10.x/11.x versions are announced as "5.5.5-10.11.6-MariaDB..." for old replication
//   clients; libmariadb strips the prefix and reads extended capabilities only if the version
//   contains "MariaDB" (see IsMariadbVersion).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "protocol/constants.h"
#include "protocol/wire.h"

namespace longlink::protocol {

// Connection attributes (key, value), in the order the client sent them.
using ConnectAttributes = std::vector<std::pair<std::string, std::string>>;

// The server's first packet.
//   int<1> 10, string<NUL> version, int<4> connection id, 8 bytes scramble part 1, 0x00,
//   int<2> caps low, int<1> collation, int<2> status, int<2> caps high,
//   int<1> auth data length (0 without PLUGIN_AUTH), 6 zero bytes, int<4> MariaDB extended caps
//   (zero unless CLIENT_MYSQL is clear), scramble part 2 (with SECURE_CONNECTION: 13 bytes, or
//   max(13, length - 8) with PLUGIN_AUTH; the last one a NUL), string<NUL> plugin name (if
//   PLUGIN_AUTH).
struct HandshakeV10 {
  std::string server_version = {};
  std::uint32_t connection_id = 0;
  // The auth plugin data without the byte (a NUL) that ends part 2: 20 bytes from real servers
  // (8 without SECURE_CONNECTION). Encode pads shorter data with zeros to that size, as MariaDB
  // does. REQUIRES (encode): at most 254 bytes.
  std::string auth_plugin_data = {};
  // All 64 bits. Bits 32..63 are encoded only when kClientMysql is clear.
  Capabilities capabilities = 0;
  std::uint8_t character_set = 0;  // A collation id.
  std::uint16_t status_flags = 0;
  std::string auth_plugin_name = {};  // Encoded only with PLUGIN_AUTH.
  friend bool operator==(const HandshakeV10&, const HandshakeV10&) = default;
};

// The prefix "5.5.5-" that MariaDB adds to its version for old replication clients.
inline constexpr std::string_view kMariadbVersionPrefix = "5.5.5-";
// The version without a leading "5.5.5-", as clients display it.
std::string_view StripMariadbVersionPrefix(std::string_view server_version);
// True if libmariadb would treat the server as MariaDB (the version contains "MariaDB"), and
// so read the greeting's extended capabilities.
bool IsMariadbVersion(std::string_view server_version);

// The 32-byte packet a client sends instead of HandshakeResponse41 to start TLS.
//   int<4> caps, int<4> max packet, int<1> collation, 19 zero bytes,
//   int<4> MariaDB extended caps (zero unless kClientMysql is clear).
struct SslRequest {
  Capabilities capabilities = 0;  // Must include kSsl.
  std::uint32_t max_packet_size = 0;
  std::uint8_t character_set = 0;
  friend bool operator==(const SslRequest&, const SslRequest&) = default;
};
inline constexpr std::size_t kSslRequestSize = 32;
// True if a client's handshake payload is an SSLRequest rather than a HandshakeResponse41.
bool IsSslRequest(ByteView payload);

// The client's login.
//   The 32-byte prefix of SslRequest, then string<NUL> user, auth response (lenenc with
//   PLUGIN_AUTH_LENENC_CLIENT_DATA; else int<1> length with SECURE_CONNECTION; else NUL-ended),
//   string<NUL> schema (if CONNECT_WITH_DB), string<NUL> plugin (if PLUGIN_AUTH),
//   lenenc length + lenenc key/value pairs (if CONNECT_ATTRS).
// The capabilities inside the packet decide its layout, so Encode/Decode take no caps argument.
// Decode is as lenient as MariaDB's server: with CONNECT_WITH_DB or PLUGIN_AUTH set, a packet
// that ends before that field decodes with the field empty.
struct HandshakeResponse41 {
  Capabilities capabilities = 0;  // All 64 bits; see SslRequest for where bits 32..63 go.
  std::uint32_t max_packet_size = 0;
  std::uint8_t character_set = 0;
  std::string username = {};
  // REQUIRES (encode): without PLUGIN_AUTH_LENENC_CLIENT_DATA at most 255 bytes; without
  // SECURE_CONNECTION either, no NUL byte.
  std::string auth_response = {};
  std::string database = {};          // Encoded only with CONNECT_WITH_DB.
  std::string auth_plugin_name = {};  // Encoded only with PLUGIN_AUTH.
  ConnectAttributes attributes = {};  // Encoded only with CONNECT_ATTRS.
  friend bool operator==(const HandshakeResponse41&, const HandshakeResponse41&) = default;
};

// Server asks the client to restart authentication with another plugin:
//   0xFE, string<NUL> plugin, plugin data (rest of packet).
// A lone 0xFE is the pre-4.1 "use the old password scramble" request: plugin_name and
// plugin_data empty (IsOldPasswordSwitch).
struct AuthSwitchRequest {
  std::string plugin_name = {};
  // Opaque plugin data as sent. For mysql_native_password: the 20-byte scramble and a NUL.
  std::string plugin_data = {};
  bool IsOldPasswordSwitch() const { return plugin_name.empty(); }
  friend bool operator==(const AuthSwitchRequest&, const AuthSwitchRequest&) = default;
};
// plugin_data without one trailing NUL: the scramble for native/caching_sha2 switches.
std::string_view ScrambleOf(const AuthSwitchRequest& request);

// A plugin round trip (server to client): 0x01, data (rest of packet). MySQL always sends this
// prefix; MariaDB sends plugin data raw unless it starts with 0x01, 0xFE or 0xFF, and prefixes
// 0x01 only then. libmariadb strips one leading 0x01 either way.
struct AuthMoreData {
  std::string data = {};
  friend bool operator==(const AuthMoreData&, const AuthMoreData&) = default;
};

// COM_CHANGE_USER, including the command byte 0x11.
//   0x11, string<NUL> user, auth response (int<1> length with SECURE_CONNECTION, else
//   NUL-ended), string<NUL> schema, int<2> collation, string<NUL> plugin (if PLUGIN_AUTH),
//   attributes (if CONNECT_ATTRS).
// `caps` are the capabilities negotiated at connect (the client's, as the server saw them).
// Decode accepts a packet that ends after the schema (collation 0, the rest empty), as the
// server does.
struct ChangeUser {
  std::string username = {};
  std::string auth_response = {};  // REQUIRES (encode): at most 255 bytes.
  std::string database = {};
  std::uint16_t character_set = 0;
  std::string auth_plugin_name = {};  // Encoded only with PLUGIN_AUTH.
  ConnectAttributes attributes = {};  // Encoded only with CONNECT_ATTRS.
  friend bool operator==(const ChangeUser&, const ChangeUser&) = default;
};

template <>
Result<HandshakeV10> Decode<HandshakeV10>(ByteView payload);
template <>
Result<SslRequest> Decode<SslRequest>(ByteView payload);
template <>
Result<HandshakeResponse41> Decode<HandshakeResponse41>(ByteView payload);
template <>
Result<AuthSwitchRequest> Decode<AuthSwitchRequest>(ByteView payload);
template <>
Result<AuthMoreData> Decode<AuthMoreData>(ByteView payload);
template <>
Result<ChangeUser> Decode<ChangeUser>(ByteView payload, Capabilities caps);

Bytes Encode(const HandshakeV10& message);
Bytes Encode(const SslRequest& message);
Bytes Encode(const HandshakeResponse41& message);
Bytes Encode(const AuthSwitchRequest& message);
Bytes Encode(const AuthMoreData& message);
Bytes Encode(const ChangeUser& message, Capabilities caps);

}  // namespace longlink::protocol
