#include "admin/admin_command.h"

#include <gtest/gtest.h>

namespace longlink::admin {
namespace {

TEST(AdminCommandTest, ParsesEveryCommand) {
  struct Case {
    const char* text;
    AdminVerb verb;
    std::optional<std::uint64_t> limit = std::nullopt;
  };
  const Case cases[] = {
      {"SHOW POOLS", AdminVerb::kShowPools},
      {"show pools;", AdminVerb::kShowPools},
      {"  Show\tPools ;  ", AdminVerb::kShowPools},
      {"SHOW CLIENTS", AdminVerb::kShowClients},
      {"SHOW CLIENTS LIMIT 5", AdminVerb::kShowClients, 5},
      {"SHOW SERVERS limit 0", AdminVerb::kShowServers, 0},
      {"SHOW BACKENDS", AdminVerb::kShowBackends},
      {"SHOW STATS", AdminVerb::kShowStats},
      {"SHOW TOTALS", AdminVerb::kShowTotals},
      {"SHOW QUERIES LIMIT 10", AdminVerb::kShowQueries, 10},
      {"SHOW CONFIG", AdminVerb::kShowConfig},
      {"SHOW VERSION", AdminVerb::kShowVersion},
      {"SHOW HELP", AdminVerb::kShowHelp},
      {"help", AdminVerb::kShowHelp},
      {"RESET QUERIES", AdminVerb::kResetQueries},
      {"SET NAMES utf8mb4", AdminVerb::kSet},
      {"set autocommit=1", AdminVerb::kSet},
      {"select @@version_comment limit 1", AdminVerb::kSelect},
      {"SELECT DATABASE(), USER() LIMIT 1", AdminVerb::kSelect},
      // Anything else is unknown, not a near match.
      {"", AdminVerb::kUnknown},
      {"SHOW", AdminVerb::kUnknown},
      {"SHOW POOLS EXTENDED", AdminVerb::kUnknown},
      {"SHOW POOLS LIMIT 5", AdminVerb::kUnknown},
      {"SHOW CLIENTS LIMIT x", AdminVerb::kUnknown},
      {"SHOW CLIENTS LIMIT", AdminVerb::kUnknown},
      {"SHOW DATABASES", AdminVerb::kUnknown},
      {"SELECT * FROM t", AdminVerb::kUnknown},
      {"SELECT @@version_comment LIMIT x", AdminVerb::kUnknown},
      {"SELECT 1", AdminVerb::kUnknown},
      {"DROP TABLE t", AdminVerb::kUnknown},
      {"RESET", AdminVerb::kUnknown},
  };
  for (const Case& c : cases) {
    const AdminCommand command = ParseAdminCommand(c.text);
    EXPECT_EQ(command.verb, c.verb) << "'" << c.text << "'";
    EXPECT_EQ(command.limit, c.limit) << "'" << c.text << "'";
  }
}

TEST(AdminCommandTest, SelectItemsKeepTheirNamesAndOrder) {
  const AdminCommand command =
      ParseAdminCommand("select DATABASE(), USER(), @@max_allowed_packet limit 1");
  ASSERT_EQ(command.verb, AdminVerb::kSelect);
  EXPECT_EQ(command.select_items, (std::vector<SelectItem>{SelectItem::kDatabase, SelectItem::kUser,
                                                           SelectItem::kMaxAllowedPacket}));
  EXPECT_EQ(command.select_names,
            (std::vector<std::string>{"DATABASE()", "USER()", "@@max_allowed_packet"}));
  EXPECT_EQ(ParseAdminCommand("SELECT @@version, NOW()").verb, AdminVerb::kUnknown);
}

}  // namespace
}  // namespace longlink::admin
