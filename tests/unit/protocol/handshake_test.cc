#include "protocol/handshake.h"

#include <gtest/gtest.h>

#include "codec_test_util.h"

namespace longlink::protocol {
namespace {

using testing::CheckCodecRows;
using testing::CheckFailureRows;
using testing::CodecRow;
using testing::Concat;
using testing::FailureRow;
using testing::Hex;
using testing::IgnoringCaps;
using testing::Str;
using testing::ToHex;

namespace cap = capability;

// The capabilities a MariaDB 10.11 server advertises (without SSL): CLIENT_MYSQL clear, the
// 32-bit flags 0x81FFF7FE, and extended PROGRESS, STMT_BULK, EXTENDED_METADATA, CACHE_METADATA.
constexpr Capabilities kMariadbServerCaps =
    0x81fff7feULL | cap::kMariadbProgress | cap::kMariadbStmtBulkOperations |
    cap::kMariadbExtendedMetadata | cap::kMariadbCacheMetadata;

std::string ScrambleText(std::string_view hex) {
  Bytes bytes = Hex(hex);
  return std::string(bytes.begin(), bytes.end());
}

TEST(ProtocolHandshakeTest, HandshakeV10RoundTrips) {
  const std::string_view kNative = "mysql_native_password";
  std::vector<CodecRow<HandshakeV10>> rows;

  // A MySQL 5.7.18 greeting captured from the wire (78 bytes): CLIENT_MYSQL (bit 0) set, so the
  // reserved bytes carry no extended capabilities.
  rows.push_back({
      .name = "MySQL 5.7.18 capture",
      .value = {.server_version = "5.7.18-log",
                .connection_id = 0x00297a12,
                .auth_plugin_data = ScrambleText("33 58 38 18 44 5e 16 48 40 79 11 30 2a 41 61 "
                                                 "55 64 77 6e 0d"),
                .capabilities = 0xc1ffffff,
                .character_set = 0x21,
                .status_flags = status::kAutocommit,
                .auth_plugin_name = std::string(kNative)},
      .bytes = Hex("0a 35 2e 37 2e 31 38 2d 6c 6f 67 00 12 7a 29 00 33 58 38 18 44 5e 16 48 00 "
                   "ff ff 21 02 00 ff c1 15 00 00 00 00 00 00 00 00 00 00 40 79 11 30 2a 41 61 "
                   "55 64 77 6e 0d 00 6d 79 73 71 6c 5f 6e 61 74 69 76 65 5f 70 61 73 73 77 6f "
                   "72 64 00"),
      // From the start of the plugin name on, a prefix is a greeting whose name lacks its NUL
      // (accepted, as MySQL 5.5.7-5.5.9 sent it).
      .shortest_valid = 56,
  });

  // A MySQL 5.0.22 greeting from before plugin auth: auth data length 0, 13 zero bytes, a
  // 13-byte part 2, no plugin name. Bit 0 is clear, so the (zero) extended caps are read.
  rows.push_back({
      .name = "MySQL 5.0.22 capture, no PLUGIN_AUTH",
      .value = {.server_version = "5.0.22-community-nt",
                .connection_id = 1,
                .auth_plugin_data = ScrambleText("7e 37 33 3a 69 25 78 4f 61 7c 69 78 42 7b 6a "
                                                 "21 61 49 29 2d"),
                .capabilities = 0xa22c,
                .character_set = collation::kLatin1SwedishCi,
                .status_flags = status::kAutocommit,
                .auth_plugin_name = ""},
      .bytes = Hex("0a 35 2e 30 2e 32 32 2d 63 6f 6d 6d 75 6e 69 74 79 2d 6e 74 00 01 00 00 00 "
                   "7e 37 33 3a 69 25 78 4f 00 2c a2 08 02 00 00 00 00 00 00 00 00 00 00 00 00 "
                   "00 00 61 7c 69 78 42 7b 6a 21 61 49 29 2d 00"),
  });

  // A MariaDB 10.11 greeting: "5.5.5-" prefix, bit 0 clear, extended caps 0x1D in the last 4
  // reserved bytes (layout from MariaDB's send_server_handshake_packet).
  const std::string maria_version = "5.5.5-10.11.6-MariaDB-0+deb12u1";
  rows.push_back({
      .name = "MariaDB 10.11 with extended capabilities",
      .value = {.server_version = maria_version,
                .connection_id = 42,
                .auth_plugin_data = "abcdefgh!\"#$%&'()*+,",
                .capabilities = kMariadbServerCaps,
                .character_set = collation::kUtf8mb4GeneralCi,
                .status_flags = status::kAutocommit,
                .auth_plugin_name = std::string(kNative)},
      .bytes = Concat({Hex("0a"), Str(maria_version),
                       Hex("00 2a 00 00 00 61 62 63 64 65 66 67 68 00 fe f7 2d 02 00 ff 81 15 "
                           "00 00 00 00 00 00 1d 00 00 00"),
                       Str("!\"#$%&'()*+,"), Hex("00"), Str(kNative), Hex("00")}),
      .shortest_valid = 1 + maria_version.size() + 1 + 4 + 9 + 18 + 13,
  });

  CheckCodecRows<HandshakeV10>(rows, IgnoringCaps(&Decode<HandshakeV10>),
                               IgnoringCaps<HandshakeV10>(&Encode));
}

TEST(ProtocolHandshakeTest, HandshakeV10PadsShortAuthDataLikeMariadb) {
  HandshakeV10 greeting{.server_version = "x",
                        .auth_plugin_data = "12345678",
                        .capabilities = cap::kProtocol41 | cap::kSecureConnection |
                                        cap::kPluginAuth | cap::kClientMysql,
                        .auth_plugin_name = "p"};
  auto decoded = Decode<HandshakeV10>(Encode(greeting));
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(decoded->auth_plugin_data, std::string("12345678") + std::string(12, '\0'));
}

// Found by the fuzzer: the auth data length byte counts only with PLUGIN_AUTH. Without it,
// part 2 is 13 bytes whatever the byte says, so the decoded value encodes back the same way.
TEST(ProtocolHandshakeTest, HandshakeV10LengthByteIgnoredWithoutPluginAuth) {
  const Bytes bytes = Concat({Hex("0a 78 00 01 00 00 00"), Str("12345678"),
                              Hex("00 01 82 08 02 00 00 00 16 00 00 00 00 00 00 00 00 00 00"),
                              Str("abcdefghijkl"), Hex("00"), Str("trailing")});
  auto decoded = Decode<HandshakeV10>(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(decoded->auth_plugin_data, "12345678abcdefghijkl");
  EXPECT_EQ(decoded->auth_plugin_name, "");
  auto again = Decode<HandshakeV10>(Encode(*decoded));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *decoded);
}

TEST(ProtocolHandshakeTest, HandshakeV10Failures) {
  CheckFailureRows<HandshakeV10>(
      {
          {.name = "protocol 9",
           .bytes = Hex("09 35 00 01 00 00 00"),
           .message_fragment = "protocol version 9, not 10"},
          {.name = "empty", .bytes = {}, .message_fragment = "truncated at protocol version"},
          {.name = "version without NUL",
           .bytes = Hex("0a 35 2e 35"),
           .message_fragment = "truncated at server version"},
          {.name = "stops after the low capabilities (pre-4.1 servers)",
           .bytes = Hex("0a 35 00 01 00 00 00 31 32 33 34 35 36 37 38 00 2c a2"),
           .message_fragment = "truncated at character set"},
      },
      IgnoringCaps(&Decode<HandshakeV10>));
}

TEST(ProtocolHandshakeTest, MariadbVersionPrefix) {
  EXPECT_EQ(StripMariadbVersionPrefix("5.5.5-10.11.6-MariaDB-0+deb12u1"),
            "10.11.6-MariaDB-0+deb12u1");
  EXPECT_EQ(StripMariadbVersionPrefix("11.4.2-MariaDB"), "11.4.2-MariaDB");
  EXPECT_EQ(StripMariadbVersionPrefix("5.5.5"), "5.5.5");
  EXPECT_EQ(StripMariadbVersionPrefix("8.0.36"), "8.0.36");
  EXPECT_TRUE(IsMariadbVersion("5.5.5-10.11.6-MariaDB-0+deb12u1"));
  EXPECT_FALSE(IsMariadbVersion("8.0.36"));
  EXPECT_FALSE(IsMariadbVersion("5.5.5-10.11.6-mariadb"));  // libmariadb's strstr is exact.
}

TEST(ProtocolHandshakeTest, SslRequestRoundTrips) {
  const Capabilities client_caps = cap::kLongFlag | cap::kLocalFiles | cap::kProtocol41 |
                                   cap::kSsl | cap::kTransactions | cap::kSecureConnection |
                                   cap::kMultiStatements | cap::kMultiResults | cap::kPluginAuth |
                                   cap::kMariadbProgress;
  CheckCodecRows<SslRequest>(
      {
          {.name = "MariaDB client: extended caps in bytes 28..31",
           .value = {.capabilities = client_caps,
                     .max_packet_size = 0x01000000,
                     .character_set = collation::kUtf8mb4GeneralCi},
           .bytes = Hex("84 aa 0b 00 00 00 00 01 2d 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
                        "00 00 00 00 00 01 00 00 00")},
          {.name = "MySQL client: bit 0 set, no extended caps",
           .value = {.capabilities =
                         cap::kClientMysql | cap::kProtocol41 | cap::kSsl | cap::kSecureConnection,
                     .max_packet_size = 0xffffff,
                     .character_set = collation::kUtf8GeneralCi},
           .bytes = Hex("01 8a 00 00 ff ff ff 00 21 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
                        "00 00 00 00 00 00 00 00 00")},
      },
      IgnoringCaps(&Decode<SslRequest>), IgnoringCaps<SslRequest>(&Encode));

  EXPECT_TRUE(IsSslRequest(Encode(SslRequest{.capabilities = cap::kSsl})));
  EXPECT_FALSE(IsSslRequest(Encode(SslRequest{.capabilities = cap::kProtocol41})));
  EXPECT_FALSE(IsSslRequest(Hex("00 08 00 00")));
  CheckFailureRows<SslRequest>(
      {{.name = "33 bytes", .bytes = Bytes(33, 0), .message_fragment = "33 bytes, expected 32"}},
      IgnoringCaps(&Decode<SslRequest>));
}

TEST(ProtocolHandshakeTest, HandshakeResponse41RoundTrips) {
  const std::string kNative = "mysql_native_password";
  std::vector<CodecRow<HandshakeResponse41>> rows;

  // MySQL's documentation example (84 bytes): user "pam", 20-byte native token, schema "test".
  rows.push_back({
      .name = "MySQL docs example",
      .value = {.capabilities = 0x000fa68d,
                .max_packet_size = 0x01000000,
                .character_set = collation::kLatin1SwedishCi,
                .username = "pam",
                .auth_response = ScrambleText("ab 09 ee f6 bc b1 32 3e 61 14 38 65 c0 99 1d 95 "
                                              "7d 75 d4 47"),
                .database = "test",
                .auth_plugin_name = kNative},
      .bytes = Hex("8d a6 0f 00 00 00 00 01 08 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
                   "00 00 00 00 00 00 00 70 61 6d 00 14 ab 09 ee f6 bc b1 32 3e 61 14 38 65 c0 "
                   "99 1d 95 7d 75 d4 47 74 65 73 74 00 6d 79 73 71 6c 5f 6e 61 74 69 76 65 5f "
                   "70 61 73 73 77 6f 72 64 00"),
      .shortest_valid = 57,  // After the auth response, the rest may be absent.
  });

  // A libmariadb-style response: lenenc auth data, no schema, attributes, extended caps.
  const Capabilities maria_caps = cap::kLongFlag | cap::kLocalFiles | cap::kProtocol41 |
                                  cap::kTransactions | cap::kSecureConnection | cap::kMultiResults |
                                  cap::kPluginAuth | cap::kConnectAttrs |
                                  cap::kPluginAuthLenencClientData | cap::kSessionTrack |
                                  cap::kMariadbProgress | cap::kMariadbStmtBulkOperations;
  rows.push_back({
      .name = "libmariadb with attributes",
      .value = {.capabilities = maria_caps,
                .max_packet_size = 0x40000000,
                .character_set = collation::kUtf8mb4GeneralCi,
                .username = "app",
                .auth_response = "01234567890123456789",
                .database = "",
                .auth_plugin_name = kNative,
                .attributes = {{"_client_name", "libmariadb"}, {"_pid", "4242"}}},
      .bytes = Concat({Hex("84 a2 ba 00 00 00 00 40 2d"), Bytes(19, 0), Hex("05 00 00 00"),
                       Str("app"), Hex("00 14"), Str("01234567890123456789"), Str(kNative),
                       Hex("00 22 0c"), Str("_client_name"), Hex("0a"), Str("libmariadb"),
                       Hex("04"), Str("_pid"), Hex("04"), Str("4242")}),
      .shortest_valid = 32 + 4 + 21,
  });

  // An empty password: a zero-length auth response.
  rows.push_back({
      .name = "empty password, schema, no plugin auth",
      .value = {.capabilities = cap::kClientMysql | cap::kProtocol41 | cap::kSecureConnection |
                                cap::kConnectWithDb,
                .max_packet_size = 0xffffff,
                .character_set = collation::kUtf8GeneralCi,
                .username = "root",
                .auth_response = "",
                .database = "mysql"},
      .bytes = Concat({Hex("09 82 00 00 ff ff ff 00 21"), Bytes(23, 0), Str("root"), Hex("00 00"),
                       Str("mysql"), Hex("00")}),
      .shortest_valid = 32 + 5 + 1,
  });

  // Neither SECURE_CONNECTION nor lenenc data: the auth response is NUL-terminated.
  rows.push_back({
      .name = "NUL-terminated auth response",
      .value = {.capabilities = cap::kClientMysql | cap::kProtocol41,
                .max_packet_size = 1024,
                .character_set = collation::kBinary,
                .username = "u",
                .auth_response = "pw"},
      .bytes = Concat({Hex("01 02 00 00 00 04 00 00 3f"), Bytes(23, 0), Str("u"), Hex("00"),
                       Str("pw"), Hex("00")}),
  });

  CheckCodecRows<HandshakeResponse41>(rows, IgnoringCaps(&Decode<HandshakeResponse41>),
                                      IgnoringCaps<HandshakeResponse41>(&Encode));
}

TEST(ProtocolHandshakeTest, HandshakeResponse41Failures) {
  const Bytes prefix_lenenc =
      Concat({Hex("00 82 20 00 00 00 00 01 21"), Bytes(19, 0), Hex("00 00 00 00")});
  CheckFailureRows<HandshakeResponse41>(
      {
          {.name = "31-byte prefix",
           .bytes = Bytes(31, 0),
           .message_fragment = "truncated at MariaDB extended capabilities"},
          {.name = "user without NUL",
           .bytes = Concat({prefix_lenenc, Str("root")}),
           .message_fragment = "truncated at user name"},
          {.name = "lenenc auth longer than the packet",
           .bytes = Concat({prefix_lenenc, Str("root"), Hex("00 14 01 02")}),
           .message_fragment = "truncated at auth response"},
          {.name = "attributes cut short",
           .bytes = Concat({Hex("00 82 10 00 00 00 00 01 21"), Bytes(19, 0), Hex("00 00 00 00"),
                            Str("u"), Hex("00 00 05 03 61 62")}),
           .message_fragment = "truncated at connection attributes"},
          {.name = "attribute value cut short inside its block",
           .bytes = Concat({Hex("00 82 10 00 00 00 00 01 21"), Bytes(19, 0), Hex("00 00 00 00"),
                            Str("u"), Hex("00 00 03 01 61 05")}),
           .message_fragment = "truncated at connection attribute value"},
      },
      IgnoringCaps(&Decode<HandshakeResponse41>));
}

TEST(ProtocolHandshakeTest, HandshakeResponse41IgnoresExtendedBytesWhenClientMysqlIsSet) {
  // Bit 0 set: bytes 28..31 are filler even if non-zero.
  Bytes bytes = Concat({Hex("01 82 00 00 00 00 00 01 21"), Bytes(19, 0), Hex("ff ff ff ff"),
                        Str("u"), Hex("00 00")});
  auto decoded = Decode<HandshakeResponse41>(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(decoded->capabilities, cap::kClientMysql | cap::kProtocol41 | cap::kSecureConnection);
}

TEST(ProtocolHandshakeTest, AuthSwitchRequestRoundTrips) {
  const std::string scramble = "ABCDEFGHIJKLMNOPQRST";
  CheckCodecRows<AuthSwitchRequest>(
      {
          {.name = "switch to mysql_native_password",
           .value = {.plugin_name = "mysql_native_password",
                     .plugin_data = scramble + std::string(1, '\0')},
           .bytes = Concat(
               {Hex("fe"), Str("mysql_native_password"), Hex("00"), Str(scramble), Hex("00")}),
           .shortest_valid = 1},
          {.name = "ed25519 nonce, 32 raw bytes",
           .value = {.plugin_name = "client_ed25519", .plugin_data = std::string(32, '\x07')},
           .bytes = Concat({Hex("fe"), Str("client_ed25519"), Hex("00"), Bytes(32, 7)}),
           .shortest_valid = 1},
          {.name = "old password switch: a lone 0xFE", .value = {}, .bytes = Hex("fe")},
      },
      IgnoringCaps(&Decode<AuthSwitchRequest>), IgnoringCaps<AuthSwitchRequest>(&Encode));

  AuthSwitchRequest native{.plugin_name = "mysql_native_password",
                           .plugin_data = scramble + std::string(1, '\0')};
  EXPECT_EQ(ScrambleOf(native), scramble);
  EXPECT_TRUE(AuthSwitchRequest{}.IsOldPasswordSwitch());

  CheckFailureRows<AuthSwitchRequest>(
      {
          {.name = "not 0xFE", .bytes = Hex("00 00"), .message_fragment = "header is not 0xFE"},
          {.name = "name without NUL",
           .bytes = Concat({Hex("fe"), Str("mysql")}),
           .message_fragment = "truncated at plugin name"},
          {.name = "empty name", .bytes = Hex("fe 00 01"), .message_fragment = "empty plugin"},
      },
      IgnoringCaps(&Decode<AuthSwitchRequest>));
}

TEST(ProtocolHandshakeTest, AuthMoreDataRoundTrips) {
  CheckCodecRows<AuthMoreData>(
      {
          // caching_sha2_password's fast-auth success and full-auth request.
          {.name = "fast auth success",
           .value = {.data = "\x03"},
           .bytes = Hex("01 03"),
           .shortest_valid = 1},
          {.name = "perform full auth",
           .value = {.data = "\x04"},
           .bytes = Hex("01 04"),
           .shortest_valid = 1},
          {.name = "escaped 0xFE",
           .value = {.data = "\xfe\x01"},
           .bytes = Hex("01 fe 01"),
           .shortest_valid = 1},
          {.name = "empty", .value = {}, .bytes = Hex("01")},
      },
      IgnoringCaps(&Decode<AuthMoreData>), IgnoringCaps<AuthMoreData>(&Encode));
  CheckFailureRows<AuthMoreData>({{.name = "raw MariaDB data is not AuthMoreData",
                                   .bytes = Hex("50 02"),
                                   .message_fragment = "header is not 0x01"}},
                                 IgnoringCaps(&Decode<AuthMoreData>));
}

TEST(ProtocolHandshakeTest, ChangeUserRoundTrips) {
  const Capabilities caps =
      cap::kProtocol41 | cap::kSecureConnection | cap::kPluginAuth | cap::kConnectAttrs;
  const std::string token = "0123456789abcdefghij";
  CheckCodecRows<ChangeUser>(
      {
          {.name = "libmariadb-style",
           .value = {.username = "app",
                     .auth_response = token,
                     .database = "shop",
                     .character_set = collation::kUtf8mb4GeneralCi,
                     .auth_plugin_name = "mysql_native_password",
                     .attributes = {{"_os", "Linux"}}},
           .caps = caps,
           .bytes = Concat({Hex("11"), Str("app"), Hex("00 14"), Str(token), Str("shop"),
                            Hex("00 2d 00"), Str("mysql_native_password"), Hex("00 0a 03"),
                            Str("_os"), Hex("05"), Str("Linux")}),
           .shortest_valid = 1 + 4 + 21 + 5},
          {.name = "empty password, no schema, no attributes negotiated",
           .value = {.username = "root", .character_set = 8, .auth_plugin_name = "x"},
           .caps = cap::kProtocol41 | cap::kSecureConnection | cap::kPluginAuth,
           .bytes = Concat({Hex("11"), Str("root"), Hex("00 00 00 08 00 78 00")}),
           .shortest_valid = 1 + 5 + 1 + 1},
          {.name = "old client: NUL-terminated auth",
           .value = {.username = "u", .auth_response = "pw", .database = "d", .character_set = 33},
           .caps = cap::kProtocol41,
           .bytes = Hex("11 75 00 70 77 00 64 00 21 00"),
           .shortest_valid = 8},
      },
      [](ByteView bytes, Capabilities c) { return Decode<ChangeUser>(bytes, c); },
      [](const ChangeUser& m, Capabilities c) { return Encode(m, c); });

  CheckFailureRows<ChangeUser>(
      {
          {.name = "wrong command",
           .caps = caps,
           .bytes = Hex("03 00"),
           .message_fragment = "command byte is not 0x11"},
          {.name = "auth longer than the packet",
           .caps = caps,
           .bytes = Hex("11 75 00 14 01"),
           .message_fragment = "truncated at auth response"},
          {.name = "no schema terminator",
           .caps = caps,
           .bytes = Hex("11 75 00 00 64 62"),
           .message_fragment = "truncated at database"},
      },
      [](ByteView bytes, Capabilities c) { return Decode<ChangeUser>(bytes, c); });
}

}  // namespace
}  // namespace longlink::protocol
