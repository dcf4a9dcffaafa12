#include "proxy/prepared_kill.h"

#include <gtest/gtest.h>

#include <cstring>

namespace longlink::proxy {
namespace {

using protocol::Bytes;

// A COM_STMT_EXECUTE payload for statement 7 with `count` parameters: null bitmap `nulls`,
// bound types `types` (none: not re-bound), then `values`.
Bytes Execute(std::uint16_t count, std::uint8_t nulls, const std::vector<std::uint16_t>& types,
              const Bytes& values) {
  Bytes out = {0x17, 7, 0, 0, 0, 0, 1, 0, 0, 0};
  if (count == 0) return out;
  out.push_back(nulls);
  out.push_back(types.empty() ? 0 : 1);
  for (std::uint16_t type : types) {
    out.push_back(static_cast<std::uint8_t>(type & 0xff));
    out.push_back(static_cast<std::uint8_t>(type >> 8));
  }
  out.insert(out.end(), values.begin(), values.end());
  return out;
}

TEST(PreparedKillTest, StatementId) {
  const Bytes payload = {0x17, 0x2a, 0x01, 0, 0, 0};
  EXPECT_EQ(StatementIdOf(payload), 0x12au);
  EXPECT_EQ(StatementIdOf(Bytes{0x19, 1, 2}), std::nullopt);
}

TEST(PreparedKillTest, ParametersAsLiterals) {
  struct Row {
    const char* name;
    std::uint16_t type;
    Bytes value;
    std::optional<std::string> literal;
  };
  const Row rows[] = {
      {"tiny", 0x01, {0xff}, "-1"},
      {"unsigned tiny", 0x8001, {0xff}, "255"},
      {"short", 0x02, {0x34, 0x12}, "4660"},
      {"long", 0x03, {0xfe, 0xff, 0xff, 0xff}, "-2"},
      {"unsigned long", 0x8003, {0xfe, 0xff, 0xff, 0xff}, "4294967294"},
      {"longlong", 0x08, {12, 0, 0, 0, 0, 0, 0, 0}, "12"},
      {"unsigned longlong", 0x8008, Bytes(8, 0xff), "18446744073709551615"},
      {"double", 0x05, {0, 0, 0, 0, 0, 0, 0xf8, 0x3f}, "1.5"},
      {"string", 0xfe, {3, '1', '2', '3'}, "'123'"},
      {"string with quotes", 0xfd, {4, 'a', '\'', '\\', 'b'}, "'a\\'\\\\b'"},
      {"decimal", 0xf6, {4, '1', '2', '.', '5'}, "'12.5'"},
      {"date (not rendered)", 0x0a, {4, 0xe8, 0x07, 1, 1}, std::nullopt},
      {"cut short", 0x03, {1, 2}, std::nullopt},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    std::vector<std::uint16_t> types;
    auto literals = ExecuteParametersAsLiterals(Execute(1, 0, {row.type}, row.value), 1, &types);
    if (!row.literal) {
      EXPECT_EQ(literals, std::nullopt);
      continue;
    }
    ASSERT_TRUE(literals.has_value());
    EXPECT_EQ(*literals, std::vector<std::string>{*row.literal});
  }
}

TEST(PreparedKillTest, NullsAndTypesFromAnEarlierExecute) {
  std::vector<std::uint16_t> types;
  auto first = ExecuteParametersAsLiterals(Execute(2, 0b10, {0x08, 0x08}, Bytes(8, 0)), 2, &types);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(*first, (std::vector<std::string>{"0", "NULL"}));
  // Not re-bound: the types of the first execute apply.
  Bytes five = {5, 0, 0, 0, 0, 0, 0, 0};
  five.insert(five.end(), {6, 0, 0, 0, 0, 0, 0, 0});
  auto second = ExecuteParametersAsLiterals(Execute(2, 0, {}, five), 2, &types);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(*second, (std::vector<std::string>{"5", "6"}));
  // Never bound: nothing to go by.
  std::vector<std::uint16_t> none;
  EXPECT_EQ(ExecuteParametersAsLiterals(Execute(1, 0, {}, five), 1, &none), std::nullopt);
  EXPECT_EQ(ExecuteParametersAsLiterals(Execute(0, 0, {}, {}), 0, &none),
            std::vector<std::string>{});
}

TEST(PreparedKillTest, BindPlaceholders) {
  EXPECT_EQ(BindPlaceholders("?", {"12"}), "(12)");
  EXPECT_EQ(BindPlaceholders("? + ?", {"1", "'2'"}), "(1) + ('2')");
  EXPECT_EQ(BindPlaceholders("CONCAT('?', ?)", {"3"}), "CONCAT('?', (3))");
  EXPECT_EQ(BindPlaceholders("'it''s' + ?", {"1"}), "'it''s' + (1)");
  EXPECT_EQ(BindPlaceholders("?", {}), std::nullopt);
  EXPECT_EQ(BindPlaceholders("12", {"1"}), std::nullopt);
}

TEST(PreparedKillTest, SqlPrepareStatements) {
  using Kind = SqlPrepareStatement::Kind;
  struct Row {
    const char* text;
    std::optional<SqlPrepareStatement> expected;
  };
  const Row rows[] = {
      {"PREPARE s FROM 'KILL QUERY ?'",
       SqlPrepareStatement{.kind = Kind::kPrepare, .name = "s", .text = "KILL QUERY ?"}},
      {"prepare `My S` from \"KILL 'it''s' \\\" x\";",
       SqlPrepareStatement{.kind = Kind::kPrepare, .name = "my s", .text = "KILL 'it''s' \" x"}},
      {"PREPARE s FROM 'it''s'",
       SqlPrepareStatement{.kind = Kind::kPrepare, .name = "s", .text = "it's"}},
      {"PREPARE s FROM @text", SqlPrepareStatement{.kind = Kind::kPrepare, .name = "s"}},
      {"EXECUTE S", SqlPrepareStatement{.kind = Kind::kExecute, .name = "s"}},
      {"EXECUTE s USING @a, @`b c` ;",
       SqlPrepareStatement{
           .kind = Kind::kExecute, .name = "s", .using_variables = {"@a", "@`b c`"}}},
      {"DEALLOCATE PREPARE s", SqlPrepareStatement{.kind = Kind::kDeallocate, .name = "s"}},
      {"DROP PREPARE /* c */ s", SqlPrepareStatement{.kind = Kind::kDeallocate, .name = "s"}},
      {"EXECUTE s USING 5", std::nullopt},
      {"EXECUTE s USING @@global.x", std::nullopt},
      {"PREPARE s FROM 'x'; SELECT 1", std::nullopt},
      {"PREPARE s 'x'", std::nullopt},
      {"SELECT 1", std::nullopt},
      {"DEALLOCATE s", std::nullopt},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.text);
    const auto parsed = ParseSqlPrepareStatement(row.text);
    ASSERT_EQ(parsed.has_value(), row.expected.has_value());
    if (!parsed) continue;
    EXPECT_EQ(parsed->kind, row.expected->kind);
    EXPECT_EQ(parsed->name, row.expected->name);
    EXPECT_EQ(parsed->text, row.expected->text);
    EXPECT_EQ(parsed->using_variables, row.expected->using_variables);
  }
}

}  // namespace
}  // namespace longlink::proxy
