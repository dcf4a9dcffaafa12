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
      {"KILL QUERY ID 7", Kill(Target::kQueryId, 7, true)},
      {"KILL HARD QUERY ID 7;", Kill(Target::kQueryId, 7, true, Strength::kHard)},
      {"KILL USER app", KillStatement{.target = Target::kUser}},
      {"KILL QUERY USER 'app'@'%'", KillStatement{.target = Target::kUser, .query_only = true}},
      // Anything the proxy cannot read as one plain number is not relayed.
      {"KILL 5+7", other},
      {"KILL 0x10", other},
      {"KILL -1", other},
      {"KILL (12)", other},
      {"KILL 12abc", other},
      {"KILL 12 13", other},
      {"KILL 12; KILL 13", other},
      {"KILL 12 -- comment", other},
      {"KILL /* c */ 12", other},
      {"KILL", other},
      {"KILL QUERY", other},
      {"KILL CONNECTION ID 7", other},
      {"KILL @id", other},
      {"KILL 99999999999999999999999", other},
      // Not KILL statements.
      {"SELECT 1", std::nullopt},
      {"KILLER", std::nullopt},
      {"KIL", std::nullopt},
      {"", std::nullopt},
  };
  for (const auto& row : rows) {
    EXPECT_EQ(ParseKillStatement(row.text), row.expected) << row.text;
  }
}

}  // namespace
}  // namespace longlink::proxy
