#include "proxy/kill_statement.h"

#include <gtest/gtest.h>

#include <optional>

namespace longlink::proxy {
namespace {

using Target = KillStatement::Target;
using Strength = KillStatement::Strength;

KillStatement Kill(Target target, std::uint64_t id, bool query_only = false,
                   Strength strength = Strength::kDefault) {
  return KillStatement{.target = target, .strength = strength, .query_only = query_only, .id = id};
}

KillStatement Expression(const char* text, bool query_only = false) {
  return KillStatement{.target = Target::kExpression, .query_only = query_only, .expression = text};
}

TEST(ParseKillStatementTest, Table) {
  const KillStatement other{};
  const struct {
    const char* text;
    std::optional<KillStatement> expected;
  } rows[] = {
      {"KILL 12", Kill(Target::kThread, 12)},
      {"kill 12;", Kill(Target::kThread, 12)},
      {"  Kill   12 ; ", Kill(Target::kThread, 12)},
      {"KILL CONNECTION 12", Kill(Target::kThread, 12)},
      {"KILL QUERY 12", Kill(Target::kThread, 12, true)},
      {"KILL HARD QUERY 12", Kill(Target::kThread, 12, true, Strength::kHard)},
      {"KILL SOFT CONNECTION 12", Kill(Target::kThread, 12, false, Strength::kSoft)},
      {"KILL SOFT 4294967296", Kill(Target::kThread, 4294967296ULL, false, Strength::kSoft)},
      {"KILL QUERY ID 7", KillStatement{.target = Target::kQueryId, .query_only = true}},
      {"KILL HARD QUERY ID 7;",
       KillStatement{.target = Target::kQueryId, .strength = Strength::kHard, .query_only = true}},
      {"KILL QUERY ID @q", KillStatement{.target = Target::kQueryId, .query_only = true}},
      {"KILL USER app", KillStatement{.target = Target::kUser}},
      {"KILL QUERY USER 'app'@'%'", KillStatement{.target = Target::kUser, .query_only = true}},
      // Anything else after the keywords is an expression the server would evaluate.
      {"KILL 5+7", Expression("5+7")},
      {"KILL 0x10", Expression("0x10")},
      {"KILL -1", Expression("-1")},
      {"KILL (12)", Expression("(12)")},
      {"KILL CONNECTION_ID()", Expression("CONNECTION_ID()")},
      {"KILL QUERY connection_id() ;", Expression("connection_id()", true)},
      {"KILL 12 13", Expression("12 13")},
      {"KILL 12 -- comment", Expression("12 -- comment")},
      {"KILL /* c */ 12", Expression("/* c */ 12")},
      {"KILL CONNECTION ID 7", Expression("ID 7")},
      {"KILL @id", Expression("@id")},
      {"KILL 'abc'", Expression("'abc'")},
      {"KILL 99999999999999999999999", Expression("99999999999999999999999")},
      {"KILL", other},
      {"KILL QUERY", KillStatement{.query_only = true}},
      {"KILL ;", other},
      {"SELECT 1", std::nullopt},
      {"KILLER", std::nullopt},
      {"KILL\xc3\xa9 12", std::nullopt},           // KILLé (UTF-8): an identifier to the server.
      {"\f\vKILL 12", Kill(Target::kThread, 12)},  // Blanks to the server's lexer.
      {"KIL", std::nullopt},
      {"", std::nullopt},
  };
  for (const auto& row : rows) {
    EXPECT_EQ(ParseKillStatement(row.text), row.expected) << row.text;
  }
}

TEST(KillStatementTest, RendersForAThread) {
  EXPECT_EQ(Kill(Target::kThread, 1).Render(12), "KILL CONNECTION 12");
  EXPECT_EQ(Kill(Target::kThread, 1, true, Strength::kHard).Render(12), "KILL HARD QUERY 12");
  EXPECT_EQ(Kill(Target::kThread, 1, false, Strength::kSoft).Render(7), "KILL SOFT CONNECTION 7");
}

}  // namespace
}  // namespace longlink::proxy
