#include "protocol/handshake.h"

#include <algorithm>
#include <cassert>

namespace longlink::protocol {
namespace {

constexpr std::size_t kScramblePart1Size = 8;
constexpr std::size_t kScramblePart2MinSize = 13;  // Including its terminating NUL.
constexpr std::size_t kMinScrambleSize = 20;       // MariaDB pads shorter plugin data to 20.
constexpr std::size_t kGreetingReservedZeros = 6;  // Then int<4> MariaDB extended caps.
constexpr std::size_t kResponseFillerZeros = 19;   // Then int<4> MariaDB extended caps.

bool HasMariadbExtendedCaps(Capabilities caps) { return (caps & capability::kClientMysql) == 0; }

std::uint32_t LowCaps(Capabilities caps) { return static_cast<std::uint32_t>(caps); }
std::uint32_t ExtendedCaps(Capabilities caps) {
  return HasMariadbExtendedCaps(caps) ? static_cast<std::uint32_t>(caps >> 32) : 0;
}

// lenenc total length, then lenenc key / lenenc value pairs.
void WriteAttributes(const ConnectAttributes& attributes, Writer* writer) {
  Bytes inner;
  Writer inner_writer(&inner);
  for (const auto& [key, value] : attributes) {
    inner_writer.WriteLenencString(key);
    inner_writer.WriteLenencString(value);
  }
  writer->WriteLenencInt(inner.size());
  writer->WriteBytes(inner);
}

Result<ConnectAttributes> ReadAttributes(Reader* reader, std::string_view message) {
  auto block = reader->ReadLenencString();
  if (!block) return Truncated(message, "connection attributes");
  Reader inner(*block);
  ConnectAttributes attributes;
  while (!inner.empty()) {
    auto key = inner.ReadLenencString();
    if (!key) return Truncated(message, "connection attribute name");
    auto value = inner.ReadLenencString();
    if (!value) return Truncated(message, "connection attribute value");
    attributes.emplace_back(std::string(*key), std::string(*value));
  }
  return attributes;
}

// The 32-byte prefix shared by SSLRequest and HandshakeResponse41.
struct ClientPrefix {
  Capabilities capabilities;
  std::uint32_t max_packet_size;
  std::uint8_t character_set;
};

void WriteClientPrefix(const ClientPrefix& prefix, Writer* writer) {
  writer->WriteU32(LowCaps(prefix.capabilities));
  writer->WriteU32(prefix.max_packet_size);
  writer->WriteU8(prefix.character_set);
  writer->WriteZeros(kResponseFillerZeros);
  writer->WriteU32(ExtendedCaps(prefix.capabilities));
}

Result<ClientPrefix> ReadClientPrefix(Reader* reader, std::string_view message) {
  auto caps = reader->ReadU32();
  if (!caps) return Truncated(message, "capability flags");
  auto max_packet = reader->ReadU32();
  if (!max_packet) return Truncated(message, "max packet size");
  auto character_set = reader->ReadU8();
  if (!character_set) return Truncated(message, "character set");
  if (!reader->Skip(kResponseFillerZeros)) return Truncated(message, "filler");
  auto extended = reader->ReadU32();
  if (!extended) return Truncated(message, "MariaDB extended capabilities");
  Capabilities all = *caps;
  if (HasMariadbExtendedCaps(all)) all |= static_cast<Capabilities>(*extended) << 32;
  return ClientPrefix{all, *max_packet, *character_set};
}

}  // namespace

std::string_view StripMariadbVersionPrefix(std::string_view server_version) {
  if (server_version.starts_with(kMariadbVersionPrefix)) {
    server_version.remove_prefix(kMariadbVersionPrefix.size());
  }
  return server_version;
}

bool IsMariadbVersion(std::string_view server_version) {
  return server_version.find("MariaDB") != std::string_view::npos;
}

// ---- HandshakeV10 ----

template <>
Result<HandshakeV10> Decode<HandshakeV10>(ByteView payload) {
  constexpr std::string_view kMessage = "handshake v10";
  Reader reader(payload);
  auto version_byte = reader.ReadU8();
  if (!version_byte) return Truncated(kMessage, "protocol version");
  if (*version_byte != header::kHandshakeV10) {
    return Malformed(kMessage, "protocol version " + std::to_string(*version_byte) + ", not 10");
  }
  auto server_version = reader.ReadNulString();
  if (!server_version) return Truncated(kMessage, "server version");
  auto connection_id = reader.ReadU32();
  if (!connection_id) return Truncated(kMessage, "connection id");
  auto part1 = reader.ReadString(kScramblePart1Size);
  if (!part1) return Truncated(kMessage, "auth plugin data part 1");
  if (!reader.Skip(1)) return Truncated(kMessage, "filler");
  auto caps_low = reader.ReadU16();
  if (!caps_low) return Truncated(kMessage, "capability flags (low)");
  auto character_set = reader.ReadU8();
  if (!character_set) return Truncated(kMessage, "character set");
  auto status_flags = reader.ReadU16();
  if (!status_flags) return Truncated(kMessage, "status flags");
  auto caps_high = reader.ReadU16();
  if (!caps_high) return Truncated(kMessage, "capability flags (high)");
  auto auth_data_length = reader.ReadU8();
  if (!auth_data_length) return Truncated(kMessage, "auth plugin data length");
  if (!reader.Skip(kGreetingReservedZeros)) return Truncated(kMessage, "reserved bytes");
  auto extended = reader.ReadU32();
  if (!extended) return Truncated(kMessage, "MariaDB extended capabilities");

  Capabilities caps =
      static_cast<Capabilities>(*caps_low) | (static_cast<Capabilities>(*caps_high) << 16);
  if (HasMariadbExtendedCaps(caps)) caps |= static_cast<Capabilities>(*extended) << 32;

  std::string auth_plugin_data(*part1);
  if (caps & capability::kSecureConnection) {
    // The length byte counts only with PLUGIN_AUTH (servers without it send 0).
    const std::size_t announced = (caps & capability::kPluginAuth) ? *auth_data_length : 0;
    const std::size_t part2_size = std::max<std::size_t>(
        kScramblePart2MinSize, announced > kScramblePart1Size ? announced - kScramblePart1Size : 0);
    auto part2 = reader.ReadString(part2_size);
    if (!part2) return Truncated(kMessage, "auth plugin data part 2");
    // The last byte of part 2 terminates the data (a NUL from every real server).
    auth_plugin_data += part2->substr(0, part2->size() - 1);
  }

  std::string plugin_name;
  if (caps & capability::kPluginAuth) {
    // MySQL 5.5.7-5.5.9 sent the name without its NUL; take the rest of the packet then.
    auto name = reader.ReadNulString();
    plugin_name = name ? std::string(*name) : std::string(reader.ReadRest());
  }

  return HandshakeV10{
      .server_version = std::string(*server_version),
      .connection_id = *connection_id,
      .auth_plugin_data = std::move(auth_plugin_data),
      .capabilities = caps,
      .character_set = *character_set,
      .status_flags = *status_flags,
      .auth_plugin_name = std::move(plugin_name),
  };
}

Bytes Encode(const HandshakeV10& message) {
  std::string data = message.auth_plugin_data;
  const bool secure = (message.capabilities & capability::kSecureConnection) != 0;
  assert(data.size() <= 254);
  if (secure && data.size() < kMinScrambleSize) data.resize(kMinScrambleSize, '\0');
  if (data.size() < kScramblePart1Size) data.resize(kScramblePart1Size, '\0');

  Bytes out;
  Writer writer(&out);
  writer.WriteU8(header::kHandshakeV10);
  writer.WriteNulString(message.server_version);
  writer.WriteU32(message.connection_id);
  writer.WriteString(std::string_view(data).substr(0, kScramblePart1Size));
  writer.WriteU8(0);
  writer.WriteU16(static_cast<std::uint16_t>(message.capabilities));
  writer.WriteU8(message.character_set);
  writer.WriteU16(message.status_flags);
  writer.WriteU16(static_cast<std::uint16_t>(message.capabilities >> 16));
  const bool plugin_auth = (message.capabilities & capability::kPluginAuth) != 0;
  writer.WriteU8(plugin_auth ? static_cast<std::uint8_t>(data.size() + 1) : 0);
  writer.WriteZeros(kGreetingReservedZeros);
  writer.WriteU32(ExtendedCaps(message.capabilities));
  if (secure) {
    std::string_view part2 = std::string_view(data).substr(kScramblePart1Size);
    writer.WriteString(part2);
    writer.WriteU8(0);
    if (part2.size() + 1 < kScramblePart2MinSize) {
      writer.WriteZeros(kScramblePart2MinSize - part2.size() - 1);
    }
  }
  if (plugin_auth) writer.WriteNulString(message.auth_plugin_name);
  return out;
}

// ---- SslRequest ----

bool IsSslRequest(ByteView payload) {
  if (payload.size() != kSslRequestSize) return false;
  Reader reader(payload);
  auto caps = reader.ReadU32();
  return caps && (*caps & capability::kSsl) != 0;
}

template <>
Result<SslRequest> Decode<SslRequest>(ByteView payload) {
  constexpr std::string_view kMessage = "SSL request";
  Reader reader(payload);
  auto prefix = ReadClientPrefix(&reader, kMessage);
  if (!prefix) return prefix.error();
  if (!reader.empty()) {
    return Malformed(kMessage, std::to_string(payload.size()) + " bytes, expected 32");
  }
  return SslRequest{.capabilities = prefix->capabilities,
                    .max_packet_size = prefix->max_packet_size,
                    .character_set = prefix->character_set};
}

Bytes Encode(const SslRequest& message) {
  Bytes out;
  Writer writer(&out);
  WriteClientPrefix({message.capabilities, message.max_packet_size, message.character_set},
                    &writer);
  return out;
}

// ---- HandshakeResponse41 ----

template <>
Result<HandshakeResponse41> Decode<HandshakeResponse41>(ByteView payload) {
  constexpr std::string_view kMessage = "handshake response";
  Reader reader(payload);
  auto prefix = ReadClientPrefix(&reader, kMessage);
  if (!prefix) return prefix.error();
  const Capabilities caps = prefix->capabilities;

  auto username = reader.ReadNulString();
  if (!username) return Truncated(kMessage, "user name");

  std::optional<std::string_view> auth_response;
  if (caps & capability::kPluginAuthLenencClientData) {
    auth_response = reader.ReadLenencString();
  } else if (caps & capability::kSecureConnection) {
    auto length = reader.ReadU8();
    if (length) auth_response = reader.ReadString(*length);
  } else {
    auth_response = reader.ReadNulString();
  }
  if (!auth_response) return Truncated(kMessage, "auth response");

  std::string database;
  if ((caps & capability::kConnectWithDb) && !reader.empty()) {
    auto db = reader.ReadNulString();
    if (!db) return Truncated(kMessage, "database");
    database = *db;
  }
  std::string plugin_name;
  if ((caps & capability::kPluginAuth) && !reader.empty()) {
    auto name = reader.ReadNulString();
    if (!name) return Truncated(kMessage, "auth plugin name");
    plugin_name = *name;
  }
  ConnectAttributes attributes;
  if ((caps & capability::kConnectAttrs) && !reader.empty()) {
    auto parsed = ReadAttributes(&reader, kMessage);
    if (!parsed) return parsed.error();
    attributes = std::move(*parsed);
  }
  // Bytes after the last field (MySQL 8 appends a zstd level) are ignored.

  return HandshakeResponse41{
      .capabilities = caps,
      .max_packet_size = prefix->max_packet_size,
      .character_set = prefix->character_set,
      .username = std::string(*username),
      .auth_response = std::string(*auth_response),
      .database = std::move(database),
      .auth_plugin_name = std::move(plugin_name),
      .attributes = std::move(attributes),
  };
}

Bytes Encode(const HandshakeResponse41& message) {
  const Capabilities caps = message.capabilities;
  Bytes out;
  Writer writer(&out);
  WriteClientPrefix({caps, message.max_packet_size, message.character_set}, &writer);
  writer.WriteNulString(message.username);
  if (caps & capability::kPluginAuthLenencClientData) {
    writer.WriteLenencString(message.auth_response);
  } else if (caps & capability::kSecureConnection) {
    assert(message.auth_response.size() <= 255);
    writer.WriteU8(static_cast<std::uint8_t>(message.auth_response.size()));
    writer.WriteString(message.auth_response);
  } else {
    writer.WriteNulString(message.auth_response);
  }
  if (caps & capability::kConnectWithDb) writer.WriteNulString(message.database);
  if (caps & capability::kPluginAuth) writer.WriteNulString(message.auth_plugin_name);
  if (caps & capability::kConnectAttrs) WriteAttributes(message.attributes, &writer);
  return out;
}

// ---- AuthSwitchRequest ----

std::string_view ScrambleOf(const AuthSwitchRequest& request) {
  std::string_view data = request.plugin_data;
  if (data.ends_with('\0')) data.remove_suffix(1);
  return data;
}

template <>
Result<AuthSwitchRequest> Decode<AuthSwitchRequest>(ByteView payload) {
  constexpr std::string_view kMessage = "auth switch request";
  Reader reader(payload);
  auto first = reader.ReadU8();
  if (!first) return Truncated(kMessage, "header");
  if (*first != header::kEof) return Malformed(kMessage, "header is not 0xFE");
  if (reader.empty()) return AuthSwitchRequest{};
  auto name = reader.ReadNulString();
  if (!name) return Truncated(kMessage, "plugin name");
  if (name->empty()) return Malformed(kMessage, "empty plugin name");
  return AuthSwitchRequest{.plugin_name = std::string(*name),
                           .plugin_data = std::string(reader.ReadRest())};
}

Bytes Encode(const AuthSwitchRequest& message) {
  Bytes out;
  Writer writer(&out);
  writer.WriteU8(header::kEof);
  if (message.IsOldPasswordSwitch()) return out;
  writer.WriteNulString(message.plugin_name);
  writer.WriteString(message.plugin_data);
  return out;
}

// ---- AuthMoreData ----

template <>
Result<AuthMoreData> Decode<AuthMoreData>(ByteView payload) {
  constexpr std::string_view kMessage = "auth more data";
  Reader reader(payload);
  auto first = reader.ReadU8();
  if (!first) return Truncated(kMessage, "header");
  if (*first != header::kAuthMoreData) return Malformed(kMessage, "header is not 0x01");
  return AuthMoreData{.data = std::string(reader.ReadRest())};
}

Bytes Encode(const AuthMoreData& message) {
  Bytes out;
  Writer writer(&out);
  writer.WriteU8(header::kAuthMoreData);
  writer.WriteString(message.data);
  return out;
}

// ---- ChangeUser ----

template <>
Result<ChangeUser> Decode<ChangeUser>(ByteView payload, Capabilities caps) {
  constexpr std::string_view kMessage = "COM_CHANGE_USER";
  Reader reader(payload);
  auto command = reader.ReadU8();
  if (!command) return Truncated(kMessage, "command");
  if (*command != static_cast<std::uint8_t>(Command::kChangeUser)) {
    return Malformed(kMessage, "command byte is not 0x11");
  }
  auto username = reader.ReadNulString();
  if (!username) return Truncated(kMessage, "user name");
  std::optional<std::string_view> auth_response;
  if (caps & capability::kSecureConnection) {
    auto length = reader.ReadU8();
    if (length) auth_response = reader.ReadString(*length);
  } else {
    auth_response = reader.ReadNulString();
  }
  if (!auth_response) return Truncated(kMessage, "auth response");
  auto database = reader.ReadNulString();
  if (!database) return Truncated(kMessage, "database");

  ChangeUser message;
  message.username = *username;
  message.auth_response = *auth_response;
  message.database = *database;
  if (reader.remaining() < 2) return message;  // Old clients stop after the schema.
  message.character_set = *reader.ReadU16();
  if ((caps & capability::kPluginAuth) && !reader.empty()) {
    auto name = reader.ReadNulString();
    if (!name) return Truncated(kMessage, "auth plugin name");
    message.auth_plugin_name = *name;
  }
  if ((caps & capability::kConnectAttrs) && !reader.empty()) {
    auto attributes = ReadAttributes(&reader, kMessage);
    if (!attributes) return attributes.error();
    message.attributes = std::move(*attributes);
  }
  return message;
}

Bytes Encode(const ChangeUser& message, Capabilities caps) {
  Bytes out;
  Writer writer(&out);
  writer.WriteU8(static_cast<std::uint8_t>(Command::kChangeUser));
  writer.WriteNulString(message.username);
  if (caps & capability::kSecureConnection) {
    assert(message.auth_response.size() <= 255);
    writer.WriteU8(static_cast<std::uint8_t>(message.auth_response.size()));
    writer.WriteString(message.auth_response);
  } else {
    writer.WriteNulString(message.auth_response);
  }
  writer.WriteNulString(message.database);
  writer.WriteU16(message.character_set);
  if (caps & capability::kPluginAuth) writer.WriteNulString(message.auth_plugin_name);
  if (caps & capability::kConnectAttrs) WriteAttributes(message.attributes, &writer);
  return out;
}

}  // namespace longlink::protocol
