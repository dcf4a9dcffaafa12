// What a backend connection keeps of the server's greeting: the version, interned so that all
// connections share one copy, and the scramble, inline.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "pool/backend_connection.h"
#include "protocol/handshake.h"

namespace longlink::pool {
namespace {

TEST(InternServerVersion, EqualVersionsShareOneCopyThatOutlivesTheArgument) {
  std::string first = "5.5.5-10.11.19-MariaDB-0+deb12u1";
  const std::string_view a = InternServerVersion(first);
  first.assign(first.size(), 'x');  // The argument may change or go away.
  const std::string_view b = InternServerVersion(std::string("5.5.5-10.11.19-MariaDB-0+deb12u1"));
  EXPECT_EQ(a, "5.5.5-10.11.19-MariaDB-0+deb12u1");
  EXPECT_EQ(a.data(), b.data());
  const std::string_view other = InternServerVersion("8.0.36");
  EXPECT_EQ(other, "8.0.36");
  EXPECT_NE(other.data(), a.data());
}

TEST(IdentityOf, CopiesTheGreetingsIdentity) {
  protocol::HandshakeV10 greeting;
  greeting.server_version = "5.5.5-10.11.6-MariaDB";
  greeting.capabilities = 0x1234'5678'9abcULL;
  greeting.character_set = 45;
  greeting.status_flags = 2;
  const ServerIdentity identity = IdentityOf(greeting);
  greeting.server_version.clear();
  EXPECT_EQ(identity.version, "5.5.5-10.11.6-MariaDB");
  EXPECT_EQ(identity.capabilities, 0x1234'5678'9abcULL);
  EXPECT_EQ(identity.collation, 45);
  EXPECT_EQ(identity.status_flags, 2);
}

TEST(ServerScramble, KeepsAtMostTwentyBytes) {
  struct Row {
    std::string data;
    std::string expected;
  };
  const Row rows[] = {
      {"", ""},
      {"short", "short"},
      {"01234567890123456789", "01234567890123456789"},
      {"01234567890123456789-and-more", "01234567890123456789"},
      {std::string("with\0nul-bytes-inside", 21), std::string("with\0nul-bytes-insid", 20)},
  };
  for (const Row& row : rows) {
    EXPECT_EQ(ServerScramble(row.data).view(), row.expected) << row.data;
  }
  EXPECT_EQ(ServerScramble().view(), "");
}

}  // namespace
}  // namespace longlink::pool

TEST(FreshSessionStatement, RestoresWhatTheHandshakeFlagsSet) {
  namespace cap = longlink::protocol::capability;
  struct Row {
    longlink::protocol::Capabilities capabilities;
    std::string statement;
  };
  const std::string track = "SET SESSION session_track_state_change=ON";
  const std::string ignore_space =
      ", sql_mode = CONCAT_WS(',', NULLIF(@@sql_mode, ''), 'IGNORE_SPACE')";
  const std::string interactive = ", wait_timeout = @@global.interactive_timeout";
  const Row rows[] = {
      {0, track},
      {cap::kFoundRows | cap::kMultiStatements, track},
      {cap::kIgnoreSpace, track + ignore_space},
      {cap::kInteractive, track + interactive},
      {cap::kIgnoreSpace | cap::kInteractive, track + ignore_space + interactive},
  };
  for (const Row& row : rows) {
    longlink::pool::PoolKey key{.user = "app", .capabilities = row.capabilities, .collation = 45};
    EXPECT_EQ(longlink::pool::FreshSessionStatement(key), row.statement) << row.capabilities;
  }
}
