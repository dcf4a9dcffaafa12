#include "protocol/stmt_execute.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace longlink::protocol {
namespace {

// A COM_STMT_EXECUTE payload: command, id, flags, iteration count, then `rest`.
Bytes Execute(std::uint32_t id, std::uint8_t flags, const Bytes& rest) {
  Bytes out = {0x17,
               static_cast<std::uint8_t>(id),
               static_cast<std::uint8_t>(id >> 8),
               static_cast<std::uint8_t>(id >> 16),
               static_cast<std::uint8_t>(id >> 24),
               flags,
               1,
               0,
               0,
               0};
  for (const std::uint8_t byte : rest) out.push_back(byte);
  return out;
}

struct LayoutRow {
  const char* name;
  Bytes payload;
  std::uint16_t parameters;
  bool ok;
  ExecuteLayout want;
};

TEST(StmtExecuteTest, Layouts) {
  // One BIGINT parameter bound: bitmap 0x00, flag 1, type 0x08 0x00, value 8 bytes.
  const Bytes bound = {0x00, 0x01, 0x08, 0x00, 5, 0, 0, 0, 0, 0, 0, 0};
  const Bytes unbound = {0x00, 0x00, 5, 0, 0, 0, 0, 0, 0, 0};
  // Nine parameters: a two-byte bitmap.
  Bytes nine = {0xff, 0x01, 0x00};
  const std::vector<LayoutRow> rows = {
      {"no parameters", Execute(7, 0, {}), 0, true, {.bound_flag = 0, .values = 10}},
      {"bound types",
       Execute(7, 0, bound),
       1,
       true,
       {.bound_flag = 11, .types_bound = true, .values = 14}},
      {"types omitted",
       Execute(7, 0, unbound),
       1,
       true,
       {.bound_flag = 11, .types_bound = false, .values = 12}},
      {"all NULL, nine parameters",
       Execute(7, 0, nine),
       9,
       true,
       {.bound_flag = 12, .types_bound = false, .values = 13}},
      {"shorter than the fixed part", Bytes{0x17, 7, 0, 0}, 0, false, {}},
      {"no flag", Execute(7, 0, {0x00}), 1, false, {}},
      {"types cut short", Execute(7, 0, {0x00, 0x01, 0x08}), 1, false, {}},
  };
  for (const LayoutRow& row : rows) {
    SCOPED_TRACE(row.name);
    auto layout = ParseExecuteLayout(row.payload, row.parameters);
    ASSERT_EQ(layout.ok(), row.ok);
    if (!row.ok) continue;
    EXPECT_EQ(layout->bound_flag, row.want.bound_flag);
    EXPECT_EQ(layout->types_bound, row.want.types_bound);
    EXPECT_EQ(layout->values, row.want.values);
  }
}

TEST(StmtExecuteTest, TypesAreInsertedAfterTheFlagAndTheIdReplaced) {
  const Bytes unbound = Execute(3, 1, {0x00, 0x00, 5, 0, 0, 0, 0, 0, 0, 0});
  auto layout = ParseExecuteLayout(unbound, 1);
  ASSERT_TRUE(layout.ok());
  EXPECT_FALSE(ExecuteTypes(unbound, *layout, 1).has_value());
  const Bytes types = {0x08, 0x80};  // BIGINT UNSIGNED.
  const Bytes rewritten = WithTypes(unbound, *layout, types, 0xffffffff);
  EXPECT_EQ(rewritten, Execute(0xffffffff, 1, {0x00, 0x01, 0x08, 0x80, 5, 0, 0, 0, 0, 0, 0, 0}));
  // Round trip: the rewritten execute binds those types.
  auto again = ParseExecuteLayout(rewritten, 1);
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE(again->types_bound);
  auto bound = ExecuteTypes(rewritten, *again, 1);
  ASSERT_TRUE(bound.has_value());
  EXPECT_EQ(Bytes(bound->begin(), bound->end()), types);
  EXPECT_EQ(again->values, rewritten.size() - 8);
}

TEST(StmtExecuteTest, StatementIdOfEveryStatementCommand) {
  for (const std::uint8_t command : Bytes{0x17, 0x18, 0x19, 0x1a, 0x1c}) {
    SCOPED_TRACE(static_cast<int>(command));
    Bytes payload = {command, 1, 0, 0, 0, 9, 9};
    SetStatementId(payload, 0x01020304);
    EXPECT_EQ(payload, (Bytes{command, 4, 3, 2, 1, 9, 9}));
  }
}

}  // namespace
}  // namespace longlink::protocol
